/* fork+exec of a service with a close-on-exec error pipe, so an exec failure
 * is known at once with its errno instead of surfacing as "exited 127". */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "clock.h"
#include "proc.h"
#include "spawn.h"

/* What failed in the child, sent up the error pipe with its errno. */
enum child_step { STEP_EXEC, STEP_CHDIR, STEP_GROUPS, STEP_GID, STEP_UID, STEP_CGROUP };
static const char *const step_names[] = {"",	   "chdir",  "setgroups",
					 "setgid", "setuid", "enter its cgroup"};

/* In the child, between fork and exec: only async-signal-safe calls.  in_cgroup: it
 * was created in its cgroup (clone3). */
static void child(const struct spawn_spec *sp, int errfd, bool in_cgroup)
{
	struct sigaction dfl;
	sigset_t none;
	int err[2] = {STEP_EXEC, 0};

	/* A session of its own, so no controlling terminal: nothing the service does
	 * reaches the operator's terminal but through the kernel's relay.  It also
	 * leads a process group of its own, which the monitor signals. */
	setsid();
	/* In its cgroup before it can fork: no process of it is ever outside. */
	err[0] = STEP_CGROUP;
	if (sp->cgroup_fd >= 0 && !in_cgroup && cgroup_enter(sp->cgroup_fd) < 0)
		goto fail;
	err[0] = STEP_EXEC;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	int null = open("/dev/null", O_RDONLY);
	if (null < 0 || dup2(null, 0) < 0)
		goto fail;
	if (null > 0)
		close(null);
	if ((sp->out_fd > 2 && dup2(sp->out_fd, 1) < 0) ||
	    (sp->err_fd > 2 && dup2(sp->err_fd, 2) < 0))
		goto fail;
	/* Nothing of ours past stderr reaches the service. */
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	/* Groups first, then the gid, then the uid: after setuid nothing else may change. */
	if (sp->drop) {
		err[0] = STEP_GROUPS;
		if (setgroups((size_t)sp->ngroups, sp->groups) < 0)
			goto fail;
		err[0] = STEP_GID;
		if (setgid(sp->gid) < 0)
			goto fail;
		err[0] = STEP_UID;
		if (setuid(sp->uid) < 0)
			goto fail;
	}
	err[0] = STEP_CHDIR;
	if (sp->cwd && chdir(sp->cwd) < 0)
		goto fail;
	err[0] = STEP_EXEC;
	execvp(sp->bin, sp->argv);
fail:
	err[1] = errno;
	(void)!write(errfd, err, sizeof(err));
	_exit(127);
}

void spawn_reason(char *why, size_t whylen, const char *bin, const char *what, int err)
{
	char tail[160];
	snprintf(tail, sizeof(tail), "%s%s%s", what ? what : "", what ? ": " : "", strerror(err));
	size_t fixed = strlen("spawn failed: ") + strlen(": ") + strlen(tail);
	size_t blen = strlen(bin);
	/* A long path gives way in its middle: the error text is what a person needs. */
	if (whylen > fixed + 8 && blen > whylen - 1 - fixed) {
		size_t keep = whylen - 1 - fixed - 3, head = keep / 3;
		snprintf(why, whylen, "spawn failed: %.*s...%s: %s", (int)head, bin,
			 bin + blen - (keep - head), tail);
		return;
	}
	snprintf(why, whylen, "spawn failed: %s: %s", bin, tail);
}

/* -2 for our own shortage (retried, never the service's fault), -1 otherwise. */
static int failed(char *why, size_t whylen, const char *bin, const char *what, int err)
{
	spawn_reason(why, whylen, bin, what, err);
	return proc_errno_local(err) ? -2 : -1;
}

/* Set once a child created in its cgroup was killed before it could run: some
 * kernels kill every such child of a cgroup that cgroup.kill was ever written to
 * (the kill sequence is compared with the parent's cgroup's).  fork() from then on. */
static bool clone_into_broken;

/* The child created in its cgroup (CLONE_INTO_CGROUP), with its pidfd: moving a
 * process in by writing cgroup.procs waits on the cgroup lock's RCU grace period,
 * milliseconds that every restart would pay.  0 in the child, the pid in the parent,
 * -1 with errno; ENOSYS, EINVAL, E2BIG and EPERM (an older kernel, a filter) mean
 * fork() instead. */
static pid_t clone_into(int cgroup_fd, int *pidfd)
{
	struct clone_args a;
	memset(&a, 0, sizeof(a));
	a.flags = CLONE_INTO_CGROUP | CLONE_PIDFD;
	a.pidfd = (uint64_t)(uintptr_t)pidfd;
	a.exit_signal = SIGCHLD;
	a.cgroup = (uint64_t)cgroup_fd;
	return (pid_t)syscall(SYS_clone3, &a, sizeof(a));
}

/* Whether the child made by clone_into(), whose error pipe has just closed, died of
 * SIGKILL instead of exec'ing (see clone_into_broken); if so it is reaped.  The pipe
 * closes as an exiting process drops its files, after it is marked exiting
 * (PF_EXITING in /proc/PID/stat) and before it is a zombie: a child so marked is
 * waited for, which takes microseconds. */
static bool killed_at_birth(pid_t p, int cfd)
{
	char buf[1024];
	const char *rest = proc_stat_fields(p, buf, sizeof(buf), NULL, 0);
	unsigned long flags = 0;
	/* After the command: state ppid pgrp session tty_nr tpgid flags. */
	if (!rest || sscanf(rest, " %*c %*d %*d %*d %*d %*d %lu", &flags) != 1 ||
	    !(flags & 0x4 /* PF_EXITING */))
		return false;
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)cfd, &si, WEXITED | WNOWAIT) < 0 || si.si_pid != p ||
	    si.si_code != CLD_KILLED || si.si_status != SIGKILL)
		return false;
	waitpid(p, NULL, 0);
	return true;
}

int spawn_service(const struct spawn_spec *sp, int wait_ms, pid_t *pid, int *pidfd,
		  unsigned long long *start, char *why, size_t whylen)
{
	int pfd[2], err[2] = {0, 0};
	const char *bin = sp->bin;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return failed(why, whylen, bin, "pipe", errno);
	int cfd = -1;
	pid_t p = -1;
	bool cloned = false;
	if (sp->cgroup_fd >= 0 && !clone_into_broken) {
		p = clone_into(sp->cgroup_fd, &cfd);
		cloned = p >= 0;
		if (p < 0 && errno != ENOSYS && errno != EINVAL && errno != E2BIG &&
		    errno != EPERM) {
			int e = errno;
			close(pfd[0]);
			close(pfd[1]);
			return failed(why, whylen, bin, "clone3", e);
		}
	}
	if (!cloned)
		p = fork();
	if (p < 0) {
		int e = errno;
		close(pfd[0]);
		close(pfd[1]);
		return failed(why, whylen, bin, "fork", e);
	}
	if (p == 0)
		child(sp, pfd[1], cloned);
	/* No setpgid(p, p) here to beat the child to it: a group leader cannot setsid().
	 * Until the child's setsid, a signal to its group falls back to its pid. */
	close(pfd[1]);
	/* Until exec or its failure, but no longer than wait_ms: a slow exec must not
	 * stall the monitor.  After that, a failure shows as an exit with code 127. */
	struct pollfd w = {pfd[0], POLLIN, 0};
	int64_t deadline = clock_mono_us() + (int64_t)wait_ms * 1000;
	ssize_t n = 0;
	for (;;) {
		int r = poll(&w, 1, clock_poll_timeout(deadline, clock_mono_us()));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n = read(pfd[0], &err, sizeof(err));
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	close(pfd[0]);
	if (cloned && n == 0 && killed_at_birth(p, cfd)) {
		close(cfd);
		clone_into_broken = true;
		return spawn_service(sp, wait_ms, pid, pidfd, start, why, whylen);
	}
	if (n == (ssize_t)sizeof(err)) {
		if (cfd >= 0)
			close(cfd);
		waitpid(p, NULL, 0);
		int step = err[0] >= 0 && err[0] <= STEP_CGROUP ? err[0] : STEP_EXEC;
		if (step == STEP_EXEC)
			return failed(why, whylen, bin, NULL, err[1]);
		if (step == STEP_CHDIR) {
			char what[300];
			snprintf(what, sizeof(what), "chdir %s", sp->cwd);
			return failed(why, whylen, bin, what, err[1]);
		}
		return failed(why, whylen, bin, step_names[step], err[1]);
	}
	/* Our unreaped child: its pid cannot be recycled, so this pidfd is it. */
	*pidfd = cfd >= 0 ? cfd : pidfd_open(p, 0);
	if (*pidfd < 0) {
		int e = errno;
		char what[48];
		snprintf(what, sizeof(what), "pidfd_open %d", (int)p);
		if (kill(-p, SIGKILL) < 0)
			kill(p, SIGKILL);
		waitpid(p, NULL, 0);
		return failed(why, whylen, bin, what, e);
	}
	if (proc_start_ticks(p, start) < 0)
		*start = 0;
	*pid = p;
	return 0;
}
