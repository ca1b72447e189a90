/* ron-chaos: runs ron-kernel on the simulated services and, for a while, injects
 * random faults (SIGKILL, SIGTERM, SIGSTOP/SIGCONT to services and monitors, SIGKILL
 * to a service's or a monitor's process group, hangs through svc-sim's SIGUSR1,
 * SIGHUP storms at the kernel) on services that each fork a helper, checking the
 * supervisor's invariants all along:
 *   - no monitor dies of SIGHUP or SIGTERM (signals it handles);
 *   - never two live processes of one service (by /proc and by socket peer pid);
 *   - every service answers v1.health again within a bound after each fault,
 *     unless quarantined, which the kernel must then have reported;
 *   - no zombie under the kernel or a running monitor for more than a moment;
 *   - the kernel stays alive, its fd count and RSS do not grow;
 *   - ron-httpd (the kernel runs one, and writes its metrics file) is SIGKILLed
 *     now and then and must be replaced within the bound, never two at once;
 *   - after the final SIGTERM the kernel exits 0 and nothing of its tree is left;
 *   - a pause of the whole tree (SIGSTOP of every process, the kernel first, as
 *     docker pause or Ctrl-Z does; --pause-ms, 0 for none) longer than the silence
 *     limit freezes no monitor and restarts no service.
 * It stops at the first violation, says which, and keeps the run directory.
 * Usage: ron-chaos --build DIR [--seconds N] [--seed N] [--recovery-ms N] [--pause-ms N] */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "health.h"
#include "proc.h"
#include "report.h"

#define NSVC 3
static const char *const svc_names[NSVC] = {"svc-index", "svc-overlay", "svc-storage"};
static const char *const sock_vars[NSVC] = {"RON_INDEX_SOCK", "RON_OVERLAY_SOCK",
					    "RON_STORAGE_SOCK"};
static const char *const bin_vars[NSVC] = {"RON_SVC_INDEX_BIN", "RON_SVC_OVERLAY_BIN",
					   "RON_SVC_STORAGE_BIN"};

/* The kernel's timings in this run, and the bounds derived from them. */
#define HEALTH_INTERVAL_MS 200
#define HEALTH_TIMEOUT_MS  150
#define STOP_TIMEOUT_MS	   1000
#define TICK_MS		   25	/* /proc scan, status.json, invariants */
#define PROBE_TIMEOUT_MS   300	/* our own v1.health checks */
#define PROBE_GAP_MS	   30	/* between two of our checks of one service */
#define ZOMBIE_MS	   1000 /* "a moment" */
#define SAMPLE_MS	   500	/* kernel fd count and RSS */
#define FD_SLACK	   6	/* transient fds (status.json, /proc scans) over the baseline */
#define RSS_SLACK_KB	   4096
#define RSS_END_SLACK_KB   1024
#define SHUTDOWN_MS	   (STOP_TIMEOUT_MS + 2000 + 2000 + 10000)

enum fault {
	F_SVC_KILL,
	F_SVC_TERM,
	F_SVC_STOP,
	F_SVC_HANG,
	F_SVC_GROUP_KILL,
	F_MON_KILL,
	F_MON_TERM,
	F_MON_STOP,
	F_MON_GROUP_KILL,
	F__COUNT
};
static const char *const fault_names[F__COUNT] = {
    "service SIGKILL",	      "service SIGTERM",	 "service SIGSTOP/SIGCONT",
    "service hang (SIGUSR1)", "service group SIGKILL",	 "monitor SIGKILL",
    "monitor SIGTERM",	      "monitor SIGSTOP/SIGCONT", "monitor group SIGKILL"};

enum kind { P_OTHER, P_KERNEL, P_MONITOR, P_SERVICE, P_HTTPD };

struct pinfo {
	pid_t pid, ppid, pgid;
	char state;
	unsigned long long start;
	bool tree;
	enum kind kind;
	int svc; /* for monitors and services, else -1 */
};

/* One service: what the kernel says, what we see, and the fault under way. */
struct target {
	const char *name;
	char sock[128];
	/* status.json */
	char state[32];
	pid_t pid, mpid;
	/* our probe */
	struct health_probe probe;
	bool probing;
	pid_t probe_peer;
	int64_t probe_started_us, next_probe_us;
	bool ok;       /* the last probe passed */
	pid_t ok_peer; /* and this process answered it */
	int64_t ok_us; /* when that probe started */
	/* the fault */
	bool faulted;
	enum fault kind;
	int64_t fault_us, deadline_us, next_fault_us;
	int cont_fd; /* pidfd of a stopped process to SIGCONT at cont_us */
	int64_t cont_us;
	bool quarantined; /* seen quarantined; the bound restarts at the lift */
	bool quarantine_reported;
	int64_t lift_us;
};

struct zombie {
	pid_t pid;
	int64_t since_us;
};

static struct {
	char build[PATH_MAX], run[64], exe_kernel[PATH_MAX], exe_monitor[PATH_MAX],
	    exe_sim[PATH_MAX], exe_httpd[PATH_MAX];
	int seconds, recovery_ms, pause_ms;
	unsigned pauses;
	unsigned seed, seed0;
	pid_t self, kpid;
	int kout; /* the kernel's stdout */
	FILE *klog;
	char kbuf[8192];
	size_t klen;
	char tail[40][512]; /* the last kernel lines, for a failure report */
	int ntail;
	int64_t t0;
	struct target t[NSVC];
	struct pinfo procs[4096];
	int nprocs;
	struct zombie zombies[256];
	int nzombies;
	unsigned faults[F__COUNT], recovered[F__COUNT], quarantines, lifts;
	int64_t worst_us[F__COUNT], worst_lift_us;
	unsigned events_frozen, events_lost, events_adopted, events_orphan, checks_ok;
	unsigned hup_storms;
	int fd_base, fd_max, fd_last;
	long rss_base, rss_max, rss_last;
	bool baseline;			      /* fd_base and rss_base are set */
	int64_t next_sample_us, rss_until_us; /* RSS baseline: the maximum until then */
	int64_t next_tick_us;
	/* ron-httpd: the one we killed until its successor shows, and the tally. */
	pid_t httpd_killed;
	int64_t httpd_kill_us, httpd_next_us, httpd_worst_us;
	unsigned httpd_kills, httpd_replaced;
} c;

static unsigned rnd(void)
{
	c.seed = c.seed * 1103515245u + 12345u;
	return (c.seed >> 8) & 0xffffff;
}

static int64_t rnd_ms(int lo, int hi)
{
	return (int64_t)(lo + (int)(rnd() % (unsigned)(hi - lo + 1))) * 1000;
}

static double secs(int64_t us)
{
	return (double)us / 1e6;
}

static void tree_kill(void);

static void __attribute__((noreturn, format(printf, 1, 2))) violation(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fprintf(stderr, "\nron-chaos: VIOLATION after %.1f s: ", secs(clock_mono_us() - c.t0));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nron-chaos: last kernel lines:\n");
	int first = c.ntail > 40 ? c.ntail - 40 : 0;
	for (int i = first; i < c.ntail; i++)
		fprintf(stderr, "  %s\n", c.tail[i % 40]);
	fprintf(stderr, "ron-chaos: processes of the run:\n");
	for (int i = 0; i < c.nprocs; i++) {
		struct pinfo *p = &c.procs[i];
		static const char *const kinds[] = {"other", "kernel", "monitor", "service"};
		if (p->tree)
			fprintf(stderr, "  pid %d ppid %d state %c %s %s\n", (int)p->pid,
				(int)p->ppid, p->state, kinds[p->kind],
				p->svc >= 0 ? svc_names[p->svc] : "");
	}
	fprintf(stderr, "ron-chaos: seed %u; run directory kept: %s (kernel.log, kernel.err)\n",
		c.seed0, c.run);
	if (c.klog)
		fflush(c.klog);
	tree_kill();
	exit(1);
}

/* --- /proc ------------------------------------------------------------------------------- */

static ssize_t read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t off = 0;
	while (off + 1 < len) {
		ssize_t n = read(fd, buf + off, len - 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	return (ssize_t)off;
}

static int stat_read(pid_t pid, struct pinfo *p)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	char *rp = strrchr(buf, ')');
	if (!rp)
		return -1;
	int ppid, pgid;
	if (sscanf(rp + 1, " %c %d %d", &p->state, &ppid, &pgid) != 3)
		return -1;
	p->pid = pid;
	p->ppid = ppid;
	p->pgid = pgid;
	/* Field 22, counted from the field after comm (3). */
	char *q = rp + 1;
	for (int field = 3; field < 22 && q; field++)
		q = strchr(q + 1, ' ');
	p->start = q ? strtoull(q + 1, NULL, 10) : 0;
	return 0;
}

static struct pinfo *proc_find(pid_t pid)
{
	for (int i = 0; i < c.nprocs; i++)
		if (c.procs[i].pid == pid)
			return &c.procs[i];
	return NULL;
}

static bool live(const struct pinfo *p)
{
	return p && p->state != 'Z' && p->state != 'X';
}

/* Which service a process's command line names (monitors retitle themselves). */
static int cmdline_svc(pid_t pid, bool argv0_only)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	ssize_t n = read_file(path, buf, sizeof(buf));
	if (n <= 0)
		return -1;
	if (argv0_only) {
		const char *base = strrchr(buf, '/');
		base = base ? base + 1 : buf;
		for (int i = 0; i < NSVC; i++)
			if (strcmp(base, svc_names[i]) == 0)
				return i;
		return -1;
	}
	for (ssize_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	for (int i = 0; i < NSVC; i++) {
		const char *s = strstr(buf, svc_names[i]);
		size_t l = strlen(svc_names[i]);
		if (s && (s[l] == ' ' || s[l] == '\0'))
			return i;
	}
	return -1;
}

/* Every process, with those below us (we are the subreaper: nothing of the kernel's tree
 * can leave it) classified by executable. */
static void proc_scan(void)
{
	DIR *d = opendir("/proc");
	if (!d) {
		perror("ron-chaos: opendir /proc");
		exit(2);
	}
	c.nprocs = 0;
	for (struct dirent *e;
	     (e = readdir(d)) && c.nprocs < (int)(sizeof(c.procs) / sizeof(c.procs[0]));) {
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid <= 0)
			continue;
		struct pinfo *p = &c.procs[c.nprocs];
		memset(p, 0, sizeof(*p));
		p->svc = -1;
		if (stat_read(pid, p) == 0)
			c.nprocs++;
	}
	closedir(d);
	for (int i = 0; i < c.nprocs; i++) {
		struct pinfo *p = &c.procs[i];
		pid_t up = p->ppid;
		for (int depth = 0; depth < 32 && up > 1 && !p->tree; depth++) {
			if (up == c.self)
				p->tree = true;
			struct pinfo *q = proc_find(up);
			up = q ? q->ppid : 0;
		}
		if (!p->tree || !live(p))
			continue;
		char path[64], exe[PATH_MAX];
		snprintf(path, sizeof(path), "/proc/%d/exe", (int)p->pid);
		ssize_t n = readlink(path, exe, sizeof(exe) - 1);
		if (n <= 0)
			continue;
		exe[n] = '\0';
		/* A binary rebuilt during the run: the running ones are still ours. */
		static const char deleted[] = " (deleted)";
		if ((size_t)n > sizeof(deleted) - 1 &&
		    strcmp(exe + n - (sizeof(deleted) - 1), deleted) == 0)
			exe[n - (sizeof(deleted) - 1)] = '\0';
		if (strcmp(exe, c.exe_kernel) == 0) {
			p->kind = P_KERNEL;
		} else if (strcmp(exe, c.exe_monitor) == 0) {
			p->kind = P_MONITOR;
			p->svc = cmdline_svc(p->pid, false);
		} else if (strcmp(exe, c.exe_sim) == 0) {
			p->kind = P_SERVICE;
			p->svc = cmdline_svc(p->pid, true);
		} else if (strcmp(exe, c.exe_httpd) == 0) {
			p->kind = P_HTTPD;
		}
	}
}

/* A pidfd for a process of the last scan, if it is still that process. */
static int pidfd_of(const struct pinfo *p)
{
	return p ? proc_pidfd_verified(p->pid, p->start) : -1;
}

static int fd_count(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static long rss_kb(pid_t pid)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	const char *s = strstr(buf, "VmRSS:");
	return s ? strtol(s + 6, NULL, 10) : -1;
}

/* Kills whatever of the run is left: our descendants, and anything carrying our run
 * directory in its environment. */
static void tree_kill(void)
{
	char want[128];
	snprintf(want, sizeof(want), "RON_RUN_DIR=%s", c.run);
	for (int round = 0; round < 3; round++) {
		proc_scan();
		for (int i = 0; i < c.nprocs; i++) {
			struct pinfo *p = &c.procs[i];
			bool ours = p->tree;
			if (!ours) {
				char path[64];
				static char env[65536];
				snprintf(path, sizeof(path), "/proc/%d/environ", (int)p->pid);
				ssize_t n = read_file(path, env, sizeof(env));
				for (ssize_t off = 0; off < n && !ours;
				     off += (ssize_t)strlen(env + off) + 1)
					ours = strcmp(env + off, want) == 0;
			}
			if (ours && p->pid != c.self)
				kill(p->pid, SIGKILL);
		}
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
}

/* --- the kernel -------------------------------------------------------------------------- */

static void kernel_start(void)
{
	static char bufs[32][PATH_MAX + 64];
	char *env[33];
	int n = 0;
#define ENV(...) (snprintf(bufs[n], sizeof(bufs[n]), __VA_ARGS__), env[n] = bufs[n], n++)
	ENV("PATH=/usr/local/bin:/usr/bin:/bin");
	ENV("RON_RUN_DIR=%s", c.run);
	ENV("RON_MONITOR_BIN=%s/ron-monitor", c.build);
	for (int i = 0; i < NSVC; i++) {
		ENV("%s=%s", sock_vars[i], c.t[i].sock);
		ENV("%s=%s/sim/%s", bin_vars[i], c.build, svc_names[i]);
	}
	ENV("RON_HEALTH_INTERVAL_MS=%d", HEALTH_INTERVAL_MS);
	ENV("RON_HEALTH_TIMEOUT_MS=%d", HEALTH_TIMEOUT_MS);
	ENV("RON_HEALTH_FAILURES=2");
	ENV("RON_START_TIMEOUT_MS=3000");
	ENV("RON_STOP_TIMEOUT_MS=%d", STOP_TIMEOUT_MS);
	ENV("RON_STATUS_INTERVAL_MS=1000");
	ENV("RON_BACKOFF_MIN_MS=20");
	ENV("RON_BACKOFF_MAX_MS=500");
	ENV("RON_STABLE_MS=500");
	/* Quarantine happens now and then; it must be reported, then we lift it by SIGHUP. */
	ENV("RON_RESTART_CAP=3");
	ENV("RON_RESTART_WINDOW_MS=5000");
	ENV("RON_QUARANTINE_MS=600000");
	ENV("RON_HTTP_ADDR=127.0.0.1:0");
	ENV("RON_METRICS_FILE=%s/metrics.prom", c.run);
	/* Every service forks a helper: none may be left behind, nor outlive its service. */
	ENV("SIM_GRANDCHILD=1");
#undef ENV
	env[n] = NULL;

	int out[2];
	if (pipe2(out, O_CLOEXEC) < 0) {
		perror("ron-chaos: pipe");
		exit(2);
	}
	char errpath[128];
	snprintf(errpath, sizeof(errpath), "%s/kernel.err", c.run);
	int errfd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (errfd < 0) {
		perror("ron-chaos: kernel.err");
		exit(2);
	}
	c.kpid = fork();
	if (c.kpid < 0) {
		perror("ron-chaos: fork");
		exit(2);
	}
	if (c.kpid == 0) {
		setpgid(0, 0);
		dup2(out[1], 1);
		dup2(errfd, 2);
		char *argv[] = {c.exe_kernel, NULL};
		execve(c.exe_kernel, argv, env);
		_exit(127);
	}
	close(out[1]);
	close(errfd);
	c.kout = out[0];
	fcntl(c.kout, F_SETFL, O_NONBLOCK);
}

/* "event=quarantined service=svc-index ..." */
static void kernel_line(char *line)
{
	if (c.klog)
		fprintf(c.klog, "%s\n", line);
	char *slot = c.tail[c.ntail++ % 40];
	size_t n = strnlen(line, sizeof(c.tail[0]) - 1);
	memcpy(slot, line, n);
	slot[n] = '\0';
	const char *ev = strstr(line, " event=");
	if (!ev)
		return;
	ev += 7;
	const char *sv = strstr(line, " service=");
	int svc = -1;
	for (int i = 0; sv && i < NSVC; i++) {
		size_t l = strlen(svc_names[i]);
		if (strncmp(sv + 9, svc_names[i], l) == 0 && (sv[9 + l] == ' ' || !sv[9 + l]))
			svc = i;
	}
#define IS(e) (strncmp(ev, e, strlen(e)) == 0 && (ev[strlen(e)] == ' ' || !ev[strlen(e)]))
	if (IS("quarantined") && svc >= 0)
		c.t[svc].quarantine_reported = true;
	else if (IS("monitor_frozen"))
		c.events_frozen++;
	else if (IS("monitor_lost") &&
		 (strstr(line, " signal=SIGHUP") || strstr(line, " signal=SIGTERM")))
		violation("a monitor died of a signal it handles (the default action ran): %s",
			  line);
	else if (IS("monitor_lost"))
		c.events_lost++;
	else if (IS("adopted"))
		c.events_adopted++;
	else if (IS("orphan_killed"))
		c.events_orphan++;
#undef IS
}

static void kernel_read(void)
{
	for (;;) {
		ssize_t n = read(c.kout, c.kbuf + c.klen, sizeof(c.kbuf) - 1 - c.klen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		c.klen += (size_t)n;
		char *start = c.kbuf, *nl;
		while ((nl = memchr(start, '\n', c.klen - (size_t)(start - c.kbuf)))) {
			*nl = '\0';
			kernel_line(start);
			start = nl + 1;
		}
		c.klen -= (size_t)(start - c.kbuf);
		memmove(c.kbuf, start, c.klen);
		if (c.klen == sizeof(c.kbuf) - 1) /* no line is that long; drop it */
			c.klen = 0;
	}
}

static void kernel_alive(void)
{
	int st;
	pid_t r = waitpid(c.kpid, &st, WNOHANG);
	if (r == c.kpid) {
		c.kpid = -1;
		kernel_read();
		if (WIFSIGNALED(st))
			violation("ron-kernel died by %s", sig_name(WTERMSIG(st)));
		violation("ron-kernel exited with code %d", WEXITSTATUS(st));
	}
}

static void status_read(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/status.json", c.run);
	json_object *o = json_object_from_file(path), *a, *v;
	if (!o)
		return;
	if (json_object_object_get_ex(o, "services", &a) && json_object_is_type(a, json_type_array))
		for (size_t k = 0; k < json_object_array_length(a); k++) {
			json_object *e = json_object_array_get_idx(a, k);
			if (!json_object_object_get_ex(e, "service", &v))
				continue;
			for (int i = 0; i < NSVC; i++) {
				struct target *t = &c.t[i];
				if (strcmp(json_object_get_string(v), t->name) != 0)
					continue;
				if (json_object_object_get_ex(e, "state", &v))
					snprintf(t->state, sizeof(t->state), "%s",
						 json_object_get_string(v));
				if (json_object_object_get_ex(e, "pid", &v))
					t->pid = json_object_get_int(v);
				if (json_object_object_get_ex(e, "mpid", &v))
					t->mpid = json_object_get_int(v);
				break;
			}
		}
	json_object_put(o);
}

/* --- invariants -------------------------------------------------------------------------- */

static const struct pinfo *the_service(int svc, int *count, pid_t *other)
{
	const struct pinfo *found = NULL;
	*count = 0;
	for (int i = 0; i < c.nprocs; i++) {
		const struct pinfo *p = &c.procs[i];
		/* A service leads its process group; a member is a helper it forked. */
		if (p->tree && live(p) && p->kind == P_SERVICE && p->svc == svc &&
		    p->pgid == p->pid) {
			if (found)
				*other = p->pid;
			else
				found = p;
			++*count;
		}
	}
	return found;
}

static void check_unique(void)
{
	for (int i = 0; i < NSVC; i++) {
		int n;
		pid_t other = 0;
		const struct pinfo *p = the_service(i, &n, &other);
		if (n > 1)
			violation("two live processes of %s: pids %d and %d", svc_names[i],
				  (int)p->pid, (int)other);
	}
}

static void check_zombies(int64_t now)
{
	int kept = 0;
	for (int i = 0; i < c.nprocs; i++) {
		const struct pinfo *p = &c.procs[i];
		if (!p->tree || p->state != 'Z')
			continue;
		const struct pinfo *parent = proc_find(p->ppid);
		/* A stopped monitor cannot reap; that is the fault, not the supervisor. */
		if (!parent || parent->state == 'T' || parent->state == 't' ||
		    (parent->kind != P_KERNEL && parent->kind != P_MONITOR))
			continue;
		int64_t since = now;
		for (int z = 0; z < c.nzombies; z++)
			if (c.zombies[z].pid == p->pid)
				since = c.zombies[z].since_us;
		if (now - since > (int64_t)ZOMBIE_MS * 1000)
			violation("zombie pid %d under %s %d for %lld ms", (int)p->pid,
				  parent->kind == P_KERNEL ? "the kernel" : "monitor",
				  (int)parent->pid, (long long)(now - since) / 1000);
		if (kept < (int)(sizeof(c.zombies) / sizeof(c.zombies[0])))
			c.zombies[kept++] = (struct zombie){p->pid, since};
	}
	c.nzombies = kept;
}

/* The fd baseline is taken with everything running (a full set of pipes and pidfds);
 * the RSS baseline is the highest RSS of the first faults, once each path has run. */
static void baseline_fds(void)
{
	c.fd_base = c.fd_max = c.fd_last = fd_count(c.kpid);
	c.rss_base = c.rss_max = c.rss_last = rss_kb(c.kpid);
}

static void check_resources(int64_t now)
{
	if (c.fd_base <= 0 || now < c.next_sample_us)
		return;
	c.next_sample_us = now + SAMPLE_MS * 1000;
	int fds = fd_count(c.kpid);
	long rss = rss_kb(c.kpid);
	if (fds < 0 || rss < 0)
		return;
	c.fd_last = fds;
	c.rss_last = rss;
	if (fds > c.fd_max)
		c.fd_max = fds;
	if (rss > c.rss_max)
		c.rss_max = rss;
	if (fds > c.fd_base + FD_SLACK)
		violation("the kernel holds %d fds, %d at the start", fds, c.fd_base);
	if (!c.baseline) {
		c.rss_base = c.rss_max;
		c.baseline = now >= c.rss_until_us;
		return;
	}
	if (rss > c.rss_base + RSS_SLACK_KB)
		violation("the kernel's RSS is %ld kB, %ld kB at the start", rss, c.rss_base);
}

/* --- our own health checks --------------------------------------------------------------- */

static void probe_start(struct target *t, int64_t now)
{
	t->probing = true;
	t->probe_peer = 0;
	t->probe_started_us = now;
	char wire_name[WIRE_NAME_MAX];
	wire_service_name(t->name, wire_name, sizeof(wire_name));
	bool done =
	    health_probe_start(&t->probe, t->sock, wire_name, (uint64_t)now, PROBE_TIMEOUT_MS, now);
	if (!done) {
		struct ucred cr;
		socklen_t len = sizeof(cr);
		int fd = health_probe_fd(&t->probe);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0)
			t->probe_peer = cr.pid;
	}
}

/* Whoever answered on a service's socket must be that service, of this run; the
 * snapshot may be a tick old, so a doubt is settled by a fresh scan. */
static bool peer_is(pid_t peer, int svc, bool *gone)
{
	const struct pinfo *p = proc_find(peer);
	*gone = !live(p);
	return p && p->tree && p->kind == P_SERVICE && p->svc == svc;
}

static void probe_done(struct target *t, int64_t now)
{
	t->probing = false;
	t->next_probe_us = now + PROBE_GAP_MS * 1000;
	t->ok = t->probe.result.ok;
	if (!t->ok)
		return;
	c.checks_ok++;
	/* A reply read at once (health_probe_start() sends and reads when it can) came
	 * with its sender's pid. */
	t->ok_peer = t->probe_peer ? t->probe_peer : t->probe.result.peer_pid;
	t->ok_us = t->probe_started_us;
	bool gone;
	int svc = (int)(t - c.t);
	if (peer_is(t->ok_peer, svc, &gone))
		return;
	proc_scan();
	if (!peer_is(t->ok_peer, svc, &gone) && !gone)
		violation("%s's socket is served by pid %d, not by the %s of this run", t->name,
			  (int)t->ok_peer, t->name);
}

/* --- faults ------------------------------------------------------------------------------ */

static bool recovered(const struct target *t)
{
	if (!t->ok || t->ok_us < t->fault_us)
		return false;
	if (strcmp(t->state, "healthy") != 0 || t->pid != t->ok_peer)
		return false;
	const struct pinfo *m = proc_find(t->mpid), *s = proc_find(t->pid);
	return live(m) && m->kind == P_MONITOR && m->state != 'T' && live(s) &&
	       s->kind == P_SERVICE && s->state != 'T';
}

static void inject(struct target *t, int64_t now)
{
	enum fault f = (enum fault)(rnd() % F__COUNT);
	bool on_monitor = f >= F_MON_KILL;
	const struct pinfo *p = proc_find(on_monitor ? t->mpid : t->pid);
	int want = on_monitor ? P_MONITOR : P_SERVICE;
	if (!live(p) || !p->tree || (int)p->kind != want || p->svc != (int)(t - c.t)) {
		t->next_fault_us = now + 50000;
		return;
	}
	int fd = pidfd_of(p);
	if (fd < 0) {
		t->next_fault_us = now + 50000;
		return;
	}
	int sig = SIGKILL;
	switch (f) {
	case F_SVC_KILL:
	case F_SVC_GROUP_KILL:
	case F_MON_GROUP_KILL:
	case F_MON_KILL: sig = SIGKILL; break;
	case F_SVC_TERM:
	case F_MON_TERM: sig = SIGTERM; break;
	case F_SVC_STOP:
	case F_MON_STOP: sig = SIGSTOP; break;
	case F_SVC_HANG: sig = SIGUSR1; break;
	case F__COUNT: break;
	}
	/* A group kill (kill -9 -- -PGID): the service with its helpers, or the monitor
	 * alone, as monitors lead groups of their own. */
	bool group = f == F_SVC_GROUP_KILL || f == F_MON_GROUP_KILL;
	if ((group ? proc_signal_group(fd, p->pid, sig) : proc_pidfd_signal(fd, sig)) < 0) {
		close(fd);
		t->next_fault_us = now + 50000;
		return;
	}
	c.faults[f]++;
	t->faulted = true;
	t->kind = f;
	t->fault_us = now;
	t->deadline_us = now + (int64_t)c.recovery_ms * 1000;
	t->quarantined = false;
	t->quarantine_reported = false;
	t->ok = false;
	if (sig == SIGSTOP) {
		/* Short enough to come back by itself, or long enough to be found out. */
		t->cont_fd = fd;
		t->cont_us = now + rnd_ms(100, 2500);
	} else {
		close(fd);
	}
}

/* ron-httpd: SIGKILLed every few seconds; a new one must run within the bound. */
static void httpd_chaos(int64_t now, bool inject_faults)
{
	const struct pinfo *h = NULL;
	for (int i = 0; i < c.nprocs; i++) {
		const struct pinfo *p = &c.procs[i];
		if (!p->tree || !live(p) || p->kind != P_HTTPD)
			continue;
		if (h)
			violation("two ron-httpd at once: %d and %d", (int)h->pid, (int)p->pid);
		h = p;
	}
	if (c.httpd_killed) {
		if (h && h->pid != c.httpd_killed) {
			int64_t took = now - c.httpd_kill_us;
			c.httpd_worst_us = took > c.httpd_worst_us ? took : c.httpd_worst_us;
			c.httpd_replaced++;
			c.httpd_killed = 0;
		} else if (now - c.httpd_kill_us > (int64_t)c.recovery_ms * 1000) {
			violation("ron-httpd %d was killed %.1f s ago and not replaced",
				  (int)c.httpd_killed, secs(now - c.httpd_kill_us));
		}
		return;
	}
	if (!inject_faults || now < c.httpd_next_us || !h)
		return;
	int fd = pidfd_of(h);
	if (fd < 0)
		return;
	if (proc_pidfd_signal(fd, SIGKILL) == 0) {
		c.httpd_killed = h->pid;
		c.httpd_kill_us = now;
		c.httpd_kills++;
	}
	close(fd);
	c.httpd_next_us = now + rnd_ms(1000, 4000);
}

static void fault_progress(struct target *t, int64_t now)
{
	if (t->cont_fd >= 0 && now >= t->cont_us) {
		proc_pidfd_signal(t->cont_fd, SIGCONT); /* ESRCH: killed meanwhile, fine */
		close(t->cont_fd);
		t->cont_fd = -1;
	}
	if (!t->faulted)
		return;
	if (strcmp(t->state, "quarantined") == 0 && !t->quarantined) {
		/* Every report is printed before the table is written: the line is there. */
		kernel_read();
		if (!t->quarantine_reported)
			violation("%s is quarantined in status.json without a quarantined event "
				  "line",
				  t->name);
		t->quarantined = true;
		c.quarantines++;
		if (kill(c.kpid, SIGHUP) == 0)
			c.lifts++;
		t->deadline_us = now + (int64_t)c.recovery_ms * 1000;
		t->lift_us = now;
	}
	if (recovered(t)) {
		int64_t took = now - t->fault_us;
		if (t->quarantined) {
			int64_t after = now - t->lift_us;
			if (after > c.worst_lift_us)
				c.worst_lift_us = after;
		} else if (took > c.worst_us[t->kind]) {
			c.worst_us[t->kind] = took;
		}
		c.recovered[t->kind]++;
		t->faulted = false;
		t->next_fault_us = now + rnd_ms(100, 1200);
		return;
	}
	if (now > t->deadline_us)
		violation("%s did not answer v1.health as a healthy, monitored service within "
			  "%d ms of a %s%s (status.json: %s pid %d mpid %d; our last check: %s)",
			  t->name, c.recovery_ms, fault_names[t->kind],
			  t->quarantined ? " and the lift of its quarantine" : "", t->state,
			  (int)t->pid, (int)t->mpid,
			  t->ok			      ? "ok"
			  : t->probe.result.reason[0] ? t->probe.result.reason
						      : "none");
}

/* --- main loop --------------------------------------------------------------------------- */

static void step(int64_t until_us, bool inject_faults)
{
	for (;;) {
		int64_t now = clock_mono_us();
		if (now >= until_us)
			return;
		struct pollfd pfd[1 + NSVC];
		struct target *who[1 + NSVC];
		int n = 0;
		pfd[n++] = (struct pollfd){c.kout, POLLIN, 0};
		int64_t deadline = c.next_tick_us;
		for (int i = 0; i < NSVC; i++) {
			struct target *t = &c.t[i];
			if (!t->probing)
				continue;
			who[n] = t;
			pfd[n++] = (struct pollfd){health_probe_fd(&t->probe),
						   health_probe_events(&t->probe), 0};
			if (t->probe.deadline_us < deadline)
				deadline = t->probe.deadline_us;
		}
		if (poll(pfd, (nfds_t)n, clock_poll_timeout(deadline, now)) < 0 && errno != EINTR) {
			perror("ron-chaos: poll");
			exit(2);
		}
		now = clock_mono_us();
		if (pfd[0].revents)
			kernel_read();
		for (int i = 1; i < n; i++)
			if (health_probe_advance(&who[i]->probe, pfd[i].revents, now))
				probe_done(who[i], now);
		for (int i = 0; i < NSVC; i++) {
			struct target *t = &c.t[i];
			if (t->probing && now >= t->probe.deadline_us &&
			    health_probe_advance(&t->probe, 0, now))
				probe_done(t, now);
			if (!t->probing && now >= t->next_probe_us) {
				probe_start(t, now);
				if (t->probe.phase == HEALTH_DONE)
					probe_done(t, now);
			}
		}

		if (now < c.next_tick_us)
			continue;
		c.next_tick_us = now + TICK_MS * 1000;
		kernel_alive();
		proc_scan();
		status_read();
		check_unique();
		check_zombies(now);
		check_resources(now);
		/* SIGHUP storms, forwarded to every monitor, a new one included. */
		if (inject_faults && rnd() % 8 == 0) {
			for (int i = 0; i < 10; i++)
				kill(c.kpid, SIGHUP);
			c.hup_storms++;
		}
		for (int i = 0; i < NSVC; i++) {
			struct target *t = &c.t[i];
			fault_progress(t, now);
			if (inject_faults && !t->faulted && t->cont_fd < 0 &&
			    now >= t->next_fault_us)
				inject(t, now);
		}
		httpd_chaos(now, inject_faults);
	}
}

static bool all_recovered(void)
{
	if (c.httpd_killed)
		return false;
	for (int i = 0; i < NSVC; i++) {
		struct target *t = &c.t[i];
		if (t->faulted || t->cont_fd >= 0)
			return false;
		/* And healthy now, which a settled fault was when it settled. */
		if (strcmp(t->state, "healthy") != 0)
			return false;
	}
	return true;
}

static void settle(const char *what, int64_t bound_us)
{
	int64_t deadline = clock_mono_us() + bound_us;
	while (!all_recovered()) {
		if (clock_mono_us() >= deadline)
			violation("services not all healthy %s", what);
		step(clock_mono_us() + TICK_MS * 1000, false);
	}
}

/* The "pause everything" fault: every process of the tree stopped for pause_ms, the
 * kernel first and continued first (the worst order: it wakes to silence), between
 * other faults.  Nobody may be taken for frozen, nothing restarted. */
static void pause_everything(void)
{
	settle("before a pause", (int64_t)c.recovery_ms * 1000);
	pid_t pids[NSVC][2];
	for (int i = 0; i < NSVC; i++) {
		pids[i][0] = c.t[i].pid;
		pids[i][1] = c.t[i].mpid;
	}
	unsigned frozen = c.events_frozen, lost = c.events_lost;
	proc_scan();
	int fds[64], n = 0;
	for (int i = 0; i < c.nprocs && n < 64; i++) {
		const struct pinfo *p = &c.procs[i];
		if (!p->tree || !live(p))
			continue;
		int fd = pidfd_of(p);
		if (fd < 0)
			continue;
		/* The kernel at the front of the list. */
		if (p->kind == P_KERNEL && n > 0) {
			fds[n++] = fds[0];
			fds[0] = fd;
		} else {
			fds[n++] = fd;
		}
	}
	for (int i = 0; i < n; i++)
		proc_pidfd_signal(fds[i], SIGSTOP);
	int64_t until = clock_mono_us() + (int64_t)c.pause_ms * 1000;
	for (int64_t now; (now = clock_mono_us()) < until;) {
		struct pollfd none = {-1, 0, 0};
		poll(&none, 1, clock_poll_timeout(until, now));
	}
	for (int i = 0; i < n; i++) {
		proc_pidfd_signal(fds[i], SIGCONT);
		close(fds[i]);
	}
	c.pauses++;
	/* Long enough for a kernel that took the pause for silence to act on it. */
	step(clock_mono_us() + (int64_t)c.pause_ms * 1000, false);
	settle("after a pause of everything", (int64_t)c.recovery_ms * 1000);
	if (c.events_frozen != frozen || c.events_lost != lost)
		violation("a pause of %d ms of the whole tree was taken for frozen monitors "
			  "(%u monitor_frozen, %u monitor_lost)",
			  c.pause_ms, c.events_frozen - frozen, c.events_lost - lost);
	for (int i = 0; i < NSVC; i++)
		if (c.t[i].pid != pids[i][0] || c.t[i].mpid != pids[i][1])
			violation("%s: service %d monitor %d before a pause, %d and %d after",
				  svc_names[i], (int)pids[i][0], (int)pids[i][1], (int)c.t[i].pid,
				  (int)c.t[i].mpid);
}

static void shutdown_check(void)
{
	int64_t t0 = clock_mono_us();
	if (kill(c.kpid, SIGTERM) < 0)
		violation("SIGTERM to the kernel: %s", strerror(errno));
	int st = 0;
	for (;;) {
		kernel_read();
		pid_t r = waitpid(c.kpid, &st, WNOHANG);
		if (r == c.kpid)
			break;
		if (clock_mono_us() - t0 > (int64_t)SHUTDOWN_MS * 1000)
			violation("ron-kernel still running %d ms after SIGTERM", SHUTDOWN_MS);
		struct pollfd p = {c.kout, POLLIN, 0};
		poll(&p, 1, 20);
	}
	int64_t took = clock_mono_us() - t0;
	pid_t kpid = c.kpid;
	c.kpid = -1;
	kernel_read();
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		violation("ron-kernel exit status %#x after SIGTERM", st);
	/* Nothing of the tree: we are its subreaper, so a survivor is below us; and nothing
	 * anywhere with our run directory in its environment. */
	char want[128];
	snprintf(want, sizeof(want), "RON_RUN_DIR=%s", c.run);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	proc_scan();
	for (int i = 0; i < c.nprocs; i++) {
		const struct pinfo *p = &c.procs[i];
		char path[64];
		static char env[65536];
		snprintf(path, sizeof(path), "/proc/%d/environ", (int)p->pid);
		ssize_t n = p->pid == c.self ? 0 : read_file(path, env, sizeof(env));
		bool ours = p->tree;
		for (ssize_t off = 0; off < n && !ours; off += (ssize_t)strlen(env + off) + 1)
			ours = strcmp(env + off, want) == 0;
		if (ours)
			violation("pid %d (state %c) of the run left after the kernel (%d) exited",
				  (int)p->pid, p->state, (int)kpid);
	}
	printf("ron-chaos: SIGTERM: kernel exited 0 after %lld ms, nothing left\n",
	       (long long)took / 1000);
}

static void report(void)
{
	unsigned total = 0;
	int64_t worst = 0;
	int worst_kind = -1;
	printf("ron-chaos: %d s, seed %u\n", c.seconds, c.seed0);
	printf("  %-28s %7s %9s %12s\n", "fault", "count", "recovered", "worst (ms)");
	for (int f = 0; f < F__COUNT; f++) {
		total += c.faults[f];
		printf("  %-28s %7u %9u %12.1f\n", fault_names[f], c.faults[f], c.recovered[f],
		       (double)c.worst_us[f] / 1000);
		if (c.worst_us[f] > worst) {
			worst = c.worst_us[f];
			worst_kind = f;
		}
	}
	printf("  %-28s %7u\n", "total", total);
	printf("  worst recovery: %.1f ms (%s)\n", (double)worst / 1000,
	       worst_kind >= 0 ? fault_names[worst_kind] : "none");
	printf("  quarantines: %u reported, lifted by SIGHUP %u times; worst recovery after a "
	       "lift %.1f ms\n",
	       c.quarantines, c.lifts, (double)c.worst_lift_us / 1000);
	printf("  kernel events: monitor_lost %u, monitor_frozen %u, adopted %u, orphan_killed "
	       "%u\n",
	       c.events_lost, c.events_frozen, c.events_adopted, c.events_orphan);
	printf("  pauses of the whole tree: %u of %d ms\n", c.pauses, c.pause_ms);
	printf("  ron-httpd: SIGKILLed %u times, replaced %u times, worst %.1f ms\n", c.httpd_kills,
	       c.httpd_replaced, (double)c.httpd_worst_us / 1000);
	printf("  SIGHUP storms (10 each): %u\n", c.hup_storms);
	printf("  our passing health checks: %u\n", c.checks_ok);
	printf("  kernel fds: %d at the start, %d at most, %d at the end; RSS kB: %ld, %ld, "
	       "%ld\n",
	       c.fd_base, c.fd_max, c.fd_last, c.rss_base, c.rss_max, c.rss_last);
}

static void usage(void)
{
	fprintf(stderr, "usage: ron-chaos --build DIR [--seconds N] [--seed N] "
			"[--recovery-ms N] [--pause-ms N]\n");
	exit(64);
}

static void must_realpath(const char *path, char *out)
{
	if (!realpath(path, out)) {
		fprintf(stderr, "ron-chaos: %s: %s\n", path, strerror(errno));
		exit(2);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"build", required_argument, 0, 'b'},    {"seconds", required_argument, 0, 's'},
	    {"seed", required_argument, 0, 'r'},     {"recovery-ms", required_argument, 0, 'R'},
	    {"pause-ms", required_argument, 0, 'P'}, {0, 0, 0, 0}};
	c.seconds = 30;
	c.recovery_ms = 10000;
	/* Twice the kernel's silence limit: 3 health intervals + the timeout. */
	c.pause_ms = 2 * ((REPORT_EVERY_CHECKS + 2) * HEALTH_INTERVAL_MS + HEALTH_TIMEOUT_MS);
	c.seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	const char *build = NULL;
	for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
		switch (o) {
		case 'b': build = optarg; break;
		case 's': c.seconds = atoi(optarg); break;
		case 'r': c.seed = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'R': c.recovery_ms = atoi(optarg); break;
		case 'P': c.pause_ms = atoi(optarg); break;
		default: usage();
		}
	}
	if (!build || c.seconds <= 0 || c.recovery_ms <= 0 || c.pause_ms < 0 || optind != argc)
		usage();
	c.seed0 = c.seed;
	setvbuf(stdout, NULL, _IOLBF, 0);
	must_realpath(build, c.build);
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/ron-kernel", c.build);
	must_realpath(path, c.exe_kernel);
	snprintf(path, sizeof(path), "%s/ron-monitor", c.build);
	must_realpath(path, c.exe_monitor);
	snprintf(path, sizeof(path), "%s/sim/svc-sim", c.build);
	must_realpath(path, c.exe_sim);
	snprintf(path, sizeof(path), "%s/ron-httpd", c.build);
	must_realpath(path, c.exe_httpd);

	/* Short paths: the sockets live in the run directory. */
	snprintf(c.run, sizeof(c.run), "/tmp/ron-chaos.XXXXXX");
	if (!mkdtemp(c.run)) {
		perror("ron-chaos: mkdtemp");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/kernel.log", c.run);
	c.klog = fopen(path, "w");
	c.self = getpid();
	/* Whatever leaves the kernel's tree comes to us, where we can see it. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		perror("ron-chaos: PR_SET_CHILD_SUBREAPER");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < NSVC; i++) {
		struct target *t = &c.t[i];
		t->name = svc_names[i];
		snprintf(t->sock, sizeof(t->sock), "%s/%s.sock", c.run, t->name);
		t->cont_fd = -1;
		t->probe.fd = -1;
	}
	c.t0 = clock_mono_us();
	printf("ron-chaos: %d s of faults, seed %u, run directory %s\n", c.seconds, c.seed, c.run);
	kernel_start();
	settle("at the start", 30 * 1000000LL);
	printf("ron-chaos: all healthy after %.1f s; injecting faults\n",
	       secs(clock_mono_us() - c.t0));
	baseline_fds();
	c.rss_until_us = clock_mono_us() + (int64_t)(c.seconds < 40 ? c.seconds : 40) * 250000;
	int64_t end = clock_mono_us() + (int64_t)c.seconds * 1000000;
	for (int i = 0; i < NSVC; i++)
		c.t[i].next_fault_us = clock_mono_us() + rnd_ms(0, 500);
	int64_t next_note = clock_mono_us() + 60000000;
	/* The first pause a third of the way in, then one every 20 s. */
	int64_t next_pause = c.pause_ms ? clock_mono_us() + (int64_t)c.seconds * 333333 : -1;
	while (clock_mono_us() < end) {
		int64_t until = next_note < end ? next_note : end;
		if (next_pause >= 0 && next_pause < until)
			until = next_pause;
		step(until, true);
		if (next_pause >= 0 && clock_mono_us() >= next_pause && clock_mono_us() < end) {
			pause_everything();
			next_pause = clock_mono_us() + 20000000;
		}
		if (clock_mono_us() >= next_note) {
			unsigned total = 0;
			for (int f = 0; f < F__COUNT; f++)
				total += c.faults[f];
			printf("ron-chaos: %.0f s, %u faults, kernel %d fds, %ld kB\n",
			       secs(clock_mono_us() - c.t0), total, c.fd_last, c.rss_last);
			next_note += 60000000;
		}
	}
	settle("after the last fault", (int64_t)c.recovery_ms * 1000 + 5000000);
	/* Settled, then sampled again: the kernel's fds and RSS are back where they were. */
	c.next_sample_us = 0;
	check_resources(clock_mono_us());
	if (c.fd_last > c.fd_base + 1)
		violation("the kernel holds %d fds after the run, %d at the start", c.fd_last,
			  c.fd_base);
	if (c.rss_last > c.rss_base + RSS_END_SLACK_KB)
		violation("the kernel's RSS is %ld kB after the run, %ld kB at the start",
			  c.rss_last, c.rss_base);
	report();
	shutdown_check();
	if (c.klog)
		fclose(c.klog);
	snprintf(path, sizeof(path), "rm -rf '%s'", c.run);
	if (system(path) != 0)
		fprintf(stderr, "ron-chaos: could not remove %s\n", c.run);
	printf("ron-chaos: PASS\n");
	return 0;
}
