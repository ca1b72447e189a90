/* Start-up clean-up: monitors and services a SIGKILLed kernel left running (as
 * its last status.json records them) are stopped before any new one starts. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "clock.h"
#include "kernel.h"
#include "proc.h"

#define STALE_MAX (SVC_MAX * 2)

/* Signals a verified process; a service is a group leader, so its group gets it too. */
static void stale_signal(struct kernel_stale *p, int fd, int sig)
{
	if (proc_signal_group(fd, p->pid, sig) < 0)
		warn("%s %s pid %d", sig_name(sig), p->what, (int)p->pid);
}

/* Waits until every pidfd has fired or the deadline passed; true if all exited. */
static bool stale_wait(const int *fds, int n, int64_t deadline_us)
{
	for (;;) {
		struct pollfd p[STALE_MAX];
		int np = 0;
		for (int i = 0; i < n; i++)
			if (fds[i] >= 0 && !proc_pidfd_exited(fds[i]))
				p[np++] = (struct pollfd){fds[i], POLLIN, 0};
		if (np == 0)
			return true;
		int64_t now = clock_mono_us();
		if (now >= deadline_us)
			return false;
		if (poll(p, (nfds_t)np, clock_poll_timeout(deadline_us, now)) < 0 &&
		    errno != EINTR) {
			warn("poll the pidfds of left-over processes");
			return false;
		}
	}
}

/* Started under this run directory: its environment names it (the kernel exports
 * RON_RUN_DIR to every monitor and service).  A process of another user, whose
 * environment we cannot read, is not proven ours. */
static bool stale_ours(const struct kernel *k, pid_t pid)
{
	static char env[65536];
	char path[64], want[CFG_STR_MAX + 16];
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	int n = snprintf(want, sizeof(want), "RON_RUN_DIR=%s", k->run_dir) + 1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t len = read(fd, env, sizeof(env));
	close(fd);
	for (ssize_t off = 0; off + n <= len;
	     off += (ssize_t)strnlen(env + off, (size_t)(len - off)) + 1)
		if (memcmp(env + off, want, (size_t)n) == 0)
			return true;
	return false;
}

void kernel_stale_stop(struct kernel *k)
{
	static struct kernel_stale st[STALE_MAX];
	static int fds[STALE_MAX];
	int n = kernel_status_stale(k->run_fd, st, STALE_MAX), live = 0;
	for (int i = 0; i < n; i++) {
		/* pid + start time: a recycled pid belongs to someone else and is left alone. */
		fds[i] = st[i].start ? proc_pidfd_verified(st[i].pid, st[i].start) : -1;
		if (fds[i] >= 0 && !stale_ours(k, st[i].pid)) {
			struct kernel_field f[] = {
			    KF_STR("what", st[i].what), KF_NUM("pid", st[i].pid),
			    KF_STR("reason", "not started under this run directory: left alone")};
			kernel_emit(k, KL_WARN, "stale_unproven", f, 3);
			close(fds[i]);
			fds[i] = -1;
		}
		if (fds[i] < 0)
			continue;
		live++;
		struct kernel_field f[] = {KF_STR("what", st[i].what), KF_NUM("pid", st[i].pid),
					   KF_STR("reason", "left by a previous ron-kernel")};
		kernel_emit(k, KL_WARN, "stale_stopping", f, 3);
		stale_signal(&st[i], fds[i], SIGTERM);
	}
	if (live == 0)
		return;
	int64_t grace = (config_num(&k->cfg, CFG_STOP_TIMEOUT_MS) + 1000) * 1000;
	if (!stale_wait(fds, n, clock_mono_us() + grace)) {
		for (int i = 0; i < n; i++) {
			if (fds[i] < 0 || proc_pidfd_exited(fds[i]))
				continue;
			struct kernel_field f[] = {KF_STR("what", st[i].what),
						   KF_NUM("pid", st[i].pid)};
			kernel_emit(k, KL_WARN, "stale_killed", f, 2);
			stale_signal(&st[i], fds[i], SIGKILL);
		}
		if (!stale_wait(fds, n, clock_mono_us() + 2000000))
			warnx("processes left by a previous ron-kernel survive SIGKILL");
	}
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}
