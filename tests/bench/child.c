/* Starting the programs under test: a clean environment (no stray RON_* or SIM_*), a
 * process group of their own, default signals, and exec errors reported with errno. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

/* Our timer slack before child_timerslack_lower(), given back to every child. */
static unsigned long slack_ns;

int child_timerslack_lower(unsigned long ns)
{
	int cur = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	if (cur < 0)
		return -1;
	slack_ns = (unsigned long)cur;
	return prctl(PR_SET_TIMERSLACK, ns, 0, 0, 0);
}

/* What the caller's shell may have set that would change what we measure. */
static bool env_dropped(const char *kv)
{
	static const char *const prefixes[] = {
	    "RON_", "SIM_", "NOTIFY_SOCKET=", "WATCHDOG_", "LISTEN_FDS=", "LISTEN_PID=", "PATH="};
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(kv, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

static int envv_put(struct envv *e, char *kv, char *why, size_t whylen)
{
	size_t klen = strcspn(kv, "=");
	for (int i = 0; i < e->n; i++) {
		if (strncmp(e->v[i], kv, klen + 1) == 0) {
			free(e->v[i]);
			e->v[i] = kv;
			return 0;
		}
	}
	if (e->n == ENVV_MAX) {
		snprintf(why, whylen, "more than %d environment entries", ENVV_MAX);
		free(kv);
		return -1;
	}
	e->v[e->n++] = kv;
	e->v[e->n] = NULL;
	return 0;
}

int envv_add(struct envv *e, char *why, size_t whylen, const char *fmt, ...)
{
	char *kv;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&kv, fmt, ap);
	va_end(ap);
	if (n < 0) {
		snprintf(why, whylen, "environment entry %s: out of memory", fmt);
		return -1;
	}
	return envv_put(e, kv, why, whylen);
}

int envv_init(struct envv *e, char *why, size_t whylen)
{
	e->n = 0;
	e->v[0] = NULL;
	for (char **p = environ; *p; p++) {
		if (env_dropped(*p))
			continue;
		char *kv = strdup(*p);
		if (!kv) {
			snprintf(why, whylen, "copy the environment: out of memory");
			return -1;
		}
		if (envv_put(e, kv, why, whylen) < 0)
			return -1;
	}
	const char *path = getenv("PATH");
	return envv_add(e, why, whylen, "PATH=%s/sim:%s", RON_BUILD_DIR,
			path && *path ? path : "/usr/bin:/bin");
}

void envv_free(struct envv *e)
{
	for (int i = 0; i < e->n; i++)
		free(e->v[i]);
	e->n = 0;
	e->v[0] = NULL;
}

/* Between fork and exec: async-signal-safe calls only. */
static void child_exec(const char *path, char *const argv[], char *const envp[], int out_fd,
		       int err_fd, int deathsig, pid_t parent, int errpipe)
{
	struct sigaction dfl;
	sigset_t none;
	int e;

	if (setpgid(0, 0) < 0 || prctl(PR_SET_PDEATHSIG, deathsig) < 0)
		goto fail;
	/* We may have died before the line above: then nobody would clean up after it. */
	if (getppid() != parent)
		_exit(127);
	/* Our own timer slack is lowered for measuring; theirs stays what it was. */
	if (slack_ns && prctl(PR_SET_TIMERSLACK, slack_ns, 0, 0, 0) < 0)
		goto fail;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &dfl, NULL); /* fails, harmlessly, for SIGKILL, SIGSTOP, ... */
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		goto fail;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
	    dup2(err_fd, STDERR_FILENO) < 0)
		goto fail;
	execve(path, argv, envp);
fail:
	e = errno;
	(void)!write(errpipe, &e, sizeof(e));
	_exit(127);
}

pid_t child_start(const char *path, char *const argv[], char *const envp[], int out_fd, int err_fd,
		  int deathsig, char *why, size_t whylen)
{
	int ep[2];
	if (pipe2(ep, O_CLOEXEC) < 0) {
		snprintf(why, whylen, "pipe for the exec of %s: %s", path, strerror(errno));
		return -1;
	}
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, whylen, "fork for %s: %s", path, strerror(errno));
		close(ep[0]);
		close(ep[1]);
		return -1;
	}
	if (pid == 0)
		child_exec(path, argv, envp, out_fd, err_fd, deathsig, parent, ep[1]);
	close(ep[1]);
	/* Here too, so the group exists before we signal it; EACCES: it has exec'd already. */
	if (setpgid(pid, pid) < 0 && errno != EACCES && errno != ESRCH)
		fprintf(stderr, "ron-bench: setpgid %d (%s): %s\n", (int)pid, path,
			strerror(errno));
	int err = 0;
	ssize_t n;
	do
		n = read(ep[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(ep[0]);
	if (n == (ssize_t)sizeof(err)) {
		if (waitpid(pid, NULL, 0) < 0)
			fprintf(stderr, "ron-bench: waitpid %d: %s\n", (int)pid, strerror(errno));
		snprintf(why, whylen, "exec %s: %s", path, strerror(err));
		return -1;
	}
	if (n < 0) {
		snprintf(why, whylen, "read the exec status of %s: %s", path, strerror(errno));
		if (kill(pid, SIGKILL) < 0 || waitpid(pid, NULL, 0) < 0)
			fprintf(stderr, "ron-bench: SIGKILL and reap %d (%s): %s\n", (int)pid, path,
				strerror(errno));
		return -1;
	}
	return pid;
}
