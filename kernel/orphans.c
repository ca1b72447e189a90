/* Children nobody accounts for: a service whose monitor died before reporting it
 * (or a dead service's stray child) is reparented to us and killed, so the next
 * monitor's fresh spawn can never make a second copy. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel.h"
#include "observe.h"
#include "proc.h"

/* Reads ppid and the state letter from /proc/PID/stat; -1 if it is gone. */
static int stat_ppid(pid_t pid, pid_t *ppid, char *state, char *comm, size_t commlen)
{
	char buf[1024];
	const char *fields = proc_stat_fields(pid, buf, sizeof(buf), comm, commlen);
	int p;
	if (!fields || sscanf(fields, " %c %d", state, &p) != 2)
		return -1;
	*ppid = p;
	return 0;
}

static bool known(const struct kernel *k, pid_t pid)
{
	if (k->obs && k->obs->hpid == pid)
		return true;
	for (int i = 0; i < k->nsvc; i++) {
		const struct kernel_svc *s = &k->svc[i];
		if ((s->mon == KMON_RUNNING && s->mpid == pid) || s->orphan_pid == pid ||
		    (s->pid == pid && kernel_svc_alive(s)))
			return true;
	}
	/* A live service's helper, reparented to us: its monitor's to stop, not ours. */
	return kernel_contain_owner(k, pid) != NULL;
}

/* As PID 1 every orphan of the container comes to us, started by us or not (a
 * docker exec's): only ours are killed, known by their cgroup or by the variable
 * every process we start inherits.  As a subreaper we are given our own only. */
static bool started_by_us(const struct kernel *k, pid_t pid)
{
	if (k->pid != 1)
		return true;
	if (k->containment == KCONT_CGROUP)
		return kernel_contain_inside(k, pid);
	return proc_environ_has(pid, k->mark);
}

int kernel_orphans_kill(struct kernel *k)
{
	DIR *d = opendir("/proc");
	if (!d) {
		fprintf(stderr, "ron-kernel: opendir /proc: %s\n", strerror(errno));
		return -1;
	}
	int killed = 0;
	for (struct dirent *e; (e = readdir(d));) {
		pid_t pid = (pid_t)atoi(e->d_name), ppid;
		char state, comm[64];
		unsigned long long start;
		if (pid <= 0 || stat_ppid(pid, &ppid, &state, comm, sizeof(comm)) < 0)
			continue;
		/* A zombie is already dead; the next SIGCHLD reaps it. */
		if (ppid != k->pid || state == 'Z' || known(k, pid) || !started_by_us(k, pid))
			continue;
		if (proc_start_ticks(pid, &start) < 0)
			continue;
		int fd = proc_pidfd_verified(pid, start);
		if (fd < 0)
			continue;
		struct kernel_field f[] = {KF_NUM("pid", pid), KF_STR("comm", comm),
					   KF_STR("reason", "unaccounted child")};
		kernel_emit(k, KL_WARN, "orphan_killed", f, 3);
		if (proc_signal_group(fd, pid, SIGKILL) < 0)
			fprintf(stderr, "ron-kernel: SIGKILL orphan %d: %s\n", (int)pid,
				strerror(errno));
		close(fd);
		killed++;
	}
	closedir(d);
	return killed;
}
