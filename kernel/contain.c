/* Containment: one cgroup v2 per service below a cgroup of the kernel's own, the
 * kernel and its monitors in a leaf beside them (systemd's rules: processes only in
 * leaves); process groups where cgroup v2 cannot be used. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "clock.h"
#include "kernel.h"

/* The kernel's own leaf: a service name never starts with '_'. */
#define CONTAIN_LEAF "_kernel"
/* Where the run directory records the cgroup it used, for the next kernel. */
#define CONTAIN_RECORD "cgroup"
/* How long SIGKILLed processes get to leave a cgroup. */
#define CONTAIN_EMPTY_MS 3000

/* A name for this run directory's cgroup: two kernels on two run directories never
 * share one, and the next kernel on the same one finds it again. */
static unsigned long fnv1a(const char *s)
{
	unsigned long h = 2166136261u;
	for (; *s; s++)
		h = ((h ^ (unsigned char)*s) * 16777619u) & 0xffffffffu;
	return h;
}

/* Waits until the cgroup open as fd is empty or deadline passed: true if empty. */
static bool wait_empty(int fd, int64_t deadline_us)
{
	int efd = openat(fd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	for (;;) {
		int pop = cgroup_populated(fd);
		int64_t now = clock_mono_us();
		if (pop <= 0 || now >= deadline_us) {
			if (efd >= 0)
				close(efd);
			return pop == 0;
		}
		/* cgroup.events signals a change with POLLPRI; a short tick covers the rest. */
		struct pollfd p = {efd, POLLPRI, 0};
		int64_t until = clock_earliest(deadline_us, now + 100000);
		poll(&p, efd >= 0 ? 1 : 0, clock_poll_timeout(until, now));
	}
}

/* Kills what a killed predecessor left in the cgroups below base, one leaf at a time,
 * and removes the leaves; the findings go to k->cg_found for the start-up lines. */
static void stale_clean(struct kernel *k, const char *base)
{
	int bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0)
		return;
	DIR *d = fdopendir(dup(bfd));
	if (!d) {
		close(bfd);
		return;
	}
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		int fd = openat(bfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		int n = cgroup_pids(fd, NULL, 0);
		if (n > 0 && k->ncg_found < KERNEL_CG_FOUND_MAX) {
			struct kernel_cg_found *f = &k->cg_found[k->ncg_found++];
			snprintf(f->leaf, sizeof(f->leaf), "%.*s", (int)sizeof(f->leaf) - 1,
				 e->d_name);
			f->procs = n;
			if (cgroup_kill(fd) < 0 ||
			    !wait_empty(fd, clock_mono_us() + CONTAIN_EMPTY_MS * 1000))
				f->survived = true;
		}
		close(fd);
		unlinkat(bfd, e->d_name, AT_REMOVEDIR);
	}
	closedir(d);
	close(bfd);
	rmdir(base);
}

/* The cgroup recorded by the last kernel on this run directory, if any. */
static void record_read(struct kernel *k, char *buf, size_t cap)
{
	buf[0] = '\0';
	int fd = openat(k->run_fd, CONTAIN_RECORD, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	/* Only a cgroup of ours below the hierarchy is ever cleaned. */
	size_t ml = strlen(k->cg_mnt);
	if (strncmp(buf, k->cg_mnt, ml) != 0 || buf[ml] != '/' || strstr(buf, "/..") ||
	    !strstr(buf, "/ron-kernel."))
		buf[0] = '\0';
}

static int record_write(struct kernel *k)
{
	char tmp[] = CONTAIN_RECORD ".tmp";
	int fd =
	    openat(k->run_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	size_t n = strlen(k->cg_base);
	bool ok = write(fd, k->cg_base, n) == (ssize_t)n && write(fd, "\n", 1) == 1;
	if (close(fd) < 0 || !ok)
		return -1;
	return renameat(k->run_fd, tmp, k->run_fd, CONTAIN_RECORD);
}

/* Sets up the cgroups: 0, or -1 with why (the caller falls back or refuses). */
static int cgroup_setup(struct kernel *k, char *why, size_t whylen)
{
	char own[CGROUP_PATH_MAX], w[256];
	if (cgroup_mount(k->cg_mnt, sizeof(k->cg_mnt), w, sizeof(w)) < 0) {
		snprintf(why, whylen, "%s", w);
		return -1;
	}
	if (cgroup_of_pid(getpid(), own, sizeof(own)) < 0) {
		snprintf(why, whylen, "no cgroup v2 entry (0::) in /proc/self/cgroup");
		return -1;
	}
	if (snprintf(k->cg_orig, sizeof(k->cg_orig), "%s%s", k->cg_mnt,
		     strcmp(own, "/") ? own : "") >= (int)sizeof(k->cg_orig)) {
		snprintf(why, whylen, "cgroup path too long: %s", own);
		return -1;
	}
	int n = snprintf(k->cg_base, sizeof(k->cg_base), "%s/ron-kernel.%08lx", k->cg_orig,
			 fnv1a(k->run_dir));
	if (n < 0 || (size_t)n >= sizeof(k->cg_base) - REPORT_NAME_MAX - 2) {
		snprintf(why, whylen, "cgroup path too long below %s", k->cg_orig);
		return -1;
	}
	/* A previous kernel's cgroups, recorded or at the place we would use. */
	char prev[CGROUP_PATH_MAX];
	record_read(k, prev, sizeof(prev));
	if (prev[0] && strcmp(prev, k->cg_base) != 0)
		stale_clean(k, prev);
	stale_clean(k, k->cg_base);
	if (mkdir(k->cg_base, 0755) < 0 && errno != EEXIST) {
		snprintf(why, whylen, "mkdir %s: %s", k->cg_base, strerror(errno));
		return -1;
	}
	k->cg_fd = open(k->cg_base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (k->cg_fd < 0) {
		snprintf(why, whylen, "open %s: %s", k->cg_base, strerror(errno));
		rmdir(k->cg_base);
		return -1;
	}
	int lfd = -1;
	if ((mkdirat(k->cg_fd, CONTAIN_LEAF, 0755) < 0 && errno != EEXIST) ||
	    (lfd = openat(k->cg_fd, CONTAIN_LEAF, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    cgroup_enter(lfd) < 0) {
		snprintf(why, whylen, "move ron-kernel into %s/%s: %s", k->cg_base, CONTAIN_LEAF,
			 strerror(errno));
		if (lfd >= 0)
			close(lfd);
		unlinkat(k->cg_fd, CONTAIN_LEAF, AT_REMOVEDIR);
		close(k->cg_fd);
		k->cg_fd = -1;
		rmdir(k->cg_base);
		return -1;
	}
	close(lfd);
	if (record_write(k) < 0)
		fprintf(stderr, "ron-kernel: record the cgroup in %s/%s: %s\n", k->run_dir,
			CONTAIN_RECORD, strerror(errno));
	return 0;
}

int kernel_contain_init(struct kernel *k, char *why, size_t whylen)
{
	k->cg_fd = -1;
	k->containment = KCONT_PGROUP;
	k->cg_why[0] = '\0';
	long long mode = config_num(&k->cfg, CFG_CONTAINMENT);
	if (mode == CFG_CONTAIN_PGROUP) {
		snprintf(k->cg_why, sizeof(k->cg_why), "RON_CONTAINMENT=pgroup");
		return 0;
	}
	char w[CGROUP_PATH_MAX + 128];
	if (cgroup_setup(k, w, sizeof(w)) == 0) {
		k->containment = KCONT_CGROUP;
		return 0;
	}
	if (mode == CFG_CONTAIN_CGROUP) {
		snprintf(why, whylen, "RON_CONTAINMENT=cgroup: cgroup v2 cannot be used: %s", w);
		return -1;
	}
	snprintf(k->cg_why, sizeof(k->cg_why), "%s", w);
	return 0;
}

void kernel_contain_report(struct kernel *k)
{
	for (int i = 0; i < k->ncg_found; i++) {
		struct kernel_cg_found *f = &k->cg_found[i];
		struct kernel_field fl[] = {
		    KF_STR("cgroup", f->leaf), KF_NUM("procs", f->procs),
		    KF_STR("reason", f->survived
					 ? "left by a previous ron-kernel; survived the kill"
					 : "left by a previous ron-kernel; killed")};
		kernel_emit(k, f->survived ? KL_ERROR : KL_WARN, "stale_cgroup_killed", fl, 3);
	}
	k->ncg_found = 0;
}

/* The service's cgroup, open; -1 in the fallback or if it does not exist. */
static int svc_fd(const struct kernel *k, const struct kernel_svc *s)
{
	if (k->containment != KCONT_CGROUP)
		return -1;
	return openat(k->cg_fd, s->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int kernel_contain_svc_path(struct kernel *k, const struct kernel_svc *s, char *path, size_t cap)
{
	if (k->containment != KCONT_CGROUP)
		return -1;
	if (mkdirat(k->cg_fd, s->name, 0755) < 0 && errno != EEXIST) {
	warn_cgroup:
		fprintf(stderr, "ron-kernel: mkdir %s/%s: %s\n", k->cg_base, s->name,
			strerror(errno));
		return -1;
	}
	if ((size_t)snprintf(path, cap, "%s/%s", k->cg_base, s->name) >= cap) {
		errno = ENAMETOOLONG;
		goto warn_cgroup;
	}
	return 0;
}

void kernel_contain_svc_remove(struct kernel *k, const struct kernel_svc *s)
{
	if (k->containment != KCONT_CGROUP || unlinkat(k->cg_fd, s->name, AT_REMOVEDIR) == 0 ||
	    errno == ENOENT)
		return;
	/* What its processes left behind (a daemon that escaped its group) goes too. */
	int fd = svc_fd(k, s);
	if (fd >= 0 && cgroup_kill(fd) == 0)
		wait_empty(fd, clock_mono_us() + CONTAIN_EMPTY_MS * 1000);
	if (fd >= 0)
		close(fd);
	if (unlinkat(k->cg_fd, s->name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		fprintf(stderr, "ron-kernel: rmdir %s/%s: %s\n", k->cg_base, s->name,
			strerror(errno));
}

int kernel_contain_procs(const struct kernel *k, const struct kernel_svc *s)
{
	int fd = svc_fd(k, s);
	if (fd < 0)
		return -1;
	int n = cgroup_pids(fd, NULL, 0);
	close(fd);
	return n;
}

int kernel_contain_signal(struct kernel *k, const struct kernel_svc *s, int sig)
{
	int fd = svc_fd(k, s);
	if (fd < 0)
		return -1;
	int rc = sig == SIGKILL ? cgroup_kill(fd) : cgroup_signal(fd, sig);
	close(fd);
	return rc;
}

bool kernel_contain_empty(const struct kernel *k)
{
	if (k->containment != KCONT_CGROUP)
		return true;
	for (int i = 0; i < k->nsvc; i++)
		if (kernel_contain_procs(k, &k->svc[i]) > 0)
			return false;
	return true;
}

bool kernel_contain_inside(const struct kernel *k, pid_t pid)
{
	char path[CGROUP_PATH_MAX];
	if (k->containment != KCONT_CGROUP || cgroup_of_pid(pid, path, sizeof(path)) < 0)
		return false;
	size_t bl = strlen(k->cg_base) - strlen(k->cg_mnt);
	const char *rel = k->cg_base + strlen(k->cg_mnt);
	return strncmp(path, rel, bl) == 0 && (path[bl] == '/' || path[bl] == '\0');
}

const struct kernel_svc *kernel_contain_owner(const struct kernel *k, pid_t pid)
{
	if (k->containment == KCONT_CGROUP) {
		char path[CGROUP_PATH_MAX];
		if (cgroup_of_pid(pid, path, sizeof(path)) < 0)
			return NULL;
		size_t bl = strlen(k->cg_base) - strlen(k->cg_mnt);
		const char *rel = k->cg_base + strlen(k->cg_mnt);
		if (strncmp(path, rel, bl) != 0 || path[bl] != '/')
			return NULL;
		for (int i = 0; i < k->nsvc; i++)
			if (strcmp(path + bl + 1, k->svc[i].name) == 0)
				return &k->svc[i];
		return NULL;
	}
	pid_t pg = getpgid(pid);
	for (int i = 0; i < k->nsvc; i++)
		if (k->svc[i].pid > 0 && pg == k->svc[i].pid && kernel_svc_alive(&k->svc[i]))
			return &k->svc[i];
	return NULL;
}

void kernel_contain_count(struct kernel *k, bool all)
{
	bool any = all;
	for (int i = 0; i < k->nsvc && !any; i++)
		any = k->svc[i].procs_stale;
	if (!any)
		return;
	if (k->containment == KCONT_CGROUP) {
		for (int i = 0; i < k->nsvc; i++) {
			struct kernel_svc *s = &k->svc[i];
			if (all || s->procs_stale)
				s->procs = kernel_contain_procs(k, s);
			s->procs_stale = false;
		}
		return;
	}
	/* Process groups: one pass over /proc counts the members of every leader's group. */
	for (int i = 0; i < k->nsvc; i++) {
		k->svc[i].procs = kernel_svc_alive(&k->svc[i]) ? 0 : -1;
		k->svc[i].procs_stale = false;
	}
	DIR *d = opendir("/proc");
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid <= 0)
			continue;
		pid_t pg = getpgid(pid);
		for (int i = 0; pg > 0 && i < k->nsvc; i++)
			if (k->svc[i].procs >= 0 && k->svc[i].pid == pg)
				k->svc[i].procs++;
	}
	closedir(d);
}

void kernel_contain_fini(struct kernel *k)
{
	if (k->containment != KCONT_CGROUP)
		return;
	/* Back where we came from, so that every cgroup of ours can go. */
	int ofd = open(k->cg_orig, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ofd < 0 || cgroup_enter(ofd) < 0) {
		fprintf(stderr, "ron-kernel: move back into %s: %s\n", k->cg_orig, strerror(errno));
		if (ofd >= 0)
			close(ofd);
		return;
	}
	close(ofd);
	for (int i = 0; i < k->nsvc; i++)
		if (unlinkat(k->cg_fd, k->svc[i].name, AT_REMOVEDIR) < 0 && errno != ENOENT)
			fprintf(stderr, "ron-kernel: rmdir %s/%s: %s\n", k->cg_base, k->svc[i].name,
				strerror(errno));
	unlinkat(k->cg_fd, CONTAIN_LEAF, AT_REMOVEDIR);
	close(k->cg_fd);
	k->cg_fd = -1;
	if (rmdir(k->cg_base) == 0)
		unlinkat(k->run_fd, CONTAIN_RECORD, 0);
}
