/* fork+exec of a service with a close-on-exec error pipe, so an exec failure
 * is known at once with its errno instead of surfacing as "exited 127". */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "spawn.h"

/* What failed in the child, sent up the error pipe with its errno. */
enum child_step { STEP_EXEC, STEP_CHDIR, STEP_GROUPS, STEP_GID, STEP_UID };
static const char *const step_names[] = {"", "chdir", "setgroups", "setgid", "setuid"};

/* In the child, between fork and exec: only async-signal-safe calls. */
static void child(const struct spawn_spec *sp, int errfd)
{
	struct sigaction dfl;
	sigset_t none;
	int err[2] = {STEP_EXEC, 0};

	setpgid(0, 0);
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

int spawn_service(const struct spawn_spec *sp, pid_t *pid, int *pidfd, unsigned long long *start,
		  char *why, size_t whylen)
{
	int pfd[2], err[2] = {0, 0};
	const char *bin = sp->bin;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(why, whylen, "spawn failed: %s: pipe: %s", bin, strerror(errno));
		return -1;
	}
	pid_t p = fork();
	if (p < 0) {
		snprintf(why, whylen, "spawn failed: %s: fork: %s", bin, strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (p == 0)
		child(sp, pfd[1]);
	close(pfd[1]);
	setpgid(p, p); /* also here, so the group exists whichever runs first */
	ssize_t n;
	do
		n = read(pfd[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n == (ssize_t)sizeof(err)) {
		waitpid(p, NULL, 0);
		int step = err[0] >= 0 && err[0] <= STEP_UID ? err[0] : STEP_EXEC;
		if (step == STEP_EXEC)
			snprintf(why, whylen, "spawn failed: %s: %s", bin, strerror(err[1]));
		else if (step == STEP_CHDIR)
			snprintf(why, whylen, "spawn failed: %s: chdir %s: %s", bin, sp->cwd,
				 strerror(err[1]));
		else
			snprintf(why, whylen, "spawn failed: %s: %s: %s", bin, step_names[step],
				 strerror(err[1]));
		return -1;
	}
	/* Our unreaped child: its pid cannot be recycled, so this pidfd is it. */
	*pidfd = pidfd_open(p, 0);
	if (*pidfd < 0) {
		snprintf(why, whylen, "spawn failed: %s: pidfd_open %d: %s", bin, (int)p,
			 strerror(errno));
		kill(-p, SIGKILL);
		waitpid(p, NULL, 0);
		return -1;
	}
	if (proc_start_ticks(p, start) < 0)
		*start = 0;
	*pid = p;
	return 0;
}
