/* The operator's terminal is the kernel's alone: ron-kernel run from a shell on a
 * pseudo-terminal (the pty its controlling terminal, as under a login), and a
 * service that tries to reach that terminal past the output capture. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "clock.h"
#include "kconf.h"
#include "testlib.h"

#define WAIT_MS 30000

TestSuite(terminal, .init = tl_setup, .fini = tl_teardown, .timeout = 120);

/* The kernel as a login shell would start it: a session of its own whose controlling
 * terminal is a fresh pty, all three standard descriptors on it.  Returns the master. */
static int kernel_on_pty_with(struct kc *k, pid_t *pid, const char *more_env)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert_geq(m, 0);
	cr_assert_eq(grantpt(m), 0);
	cr_assert_eq(unlockpt(m), 0);
	const char *sname = ptsname(m);
	cr_assert(sname);
	char *extra[] = {"NO_COLOR=", (char *)more_env, NULL}; /* colour on: tests need it */
	char **env = kc_env(extra);
	*pid = fork();
	cr_assert_geq(*pid, 0);
	if (*pid == 0) {
		if (setsid() < 0)
			_exit(97);
		int s = open(sname, O_RDWR); /* a session leader's first tty becomes its own */
		if (s < 0)
			_exit(99);
		dup2(s, 0);
		dup2(s, 1);
		dup2(s, 2);
		char *argv[] = {RON_BUILD_DIR "/ron-kernel", "--config", k->conf, NULL};
		tl_apply_env(env);
		execv(argv[0], argv);
		_exit(98);
	}
	return m;
}

static int kernel_on_pty(struct kc *k, pid_t *pid)
{
	return kernel_on_pty_with(k, pid, NULL);
}

/* What the service wrote to its file, the pty drained meanwhile so the kernel's own
 * lines never fill it. */
struct probe {
	int master;
	char path[700], got[256];
	char log[16384]; /* the kernel's terminal, for a failure message */
	size_t loglen;
};

static bool probe_done(void *arg)
{
	struct probe *p = arg;
	char junk[4096];
	struct pollfd pf = {p->master, POLLIN, 0};
	ssize_t r;
	while (poll(&pf, 1, 0) > 0 && (r = read(p->master, junk, sizeof(junk))) > 0) {
		size_t keep = sizeof(p->log) - 1 - p->loglen;
		keep = (size_t)r < keep ? (size_t)r : keep;
		memcpy(p->log + p->loglen, junk, keep);
		p->loglen += keep;
		p->log[p->loglen] = '\0';
	}
	ssize_t n = tl_read_file(p->path, p->got, sizeof(p->got) - 1);
	p->got[n > 0 ? n : 0] = '\0';
	return strstr(p->got, "done\n") != NULL;
}

/* tl_dir()/NAME, a shell script of body (a printf format, then its arguments). */
static void script_write(char *path, size_t cap, const char *name, const char *body, ...)
    __attribute__((format(printf, 4, 5)));
static void script_write(char *path, size_t cap, const char *name, const char *body, ...)
{
	snprintf(path, cap, "%s/%s", tl_dir(), name);
	FILE *f = fopen(path, "w");
	cr_assert(f, "%s", path);
	fputs("#!/bin/sh\n", f);
	va_list ap;
	va_start(ap, body);
	vfprintf(f, body, ap);
	va_end(ap);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, 0755), 0);
}

static bool painted(void *arg)
{
	struct probe *p = arg;
	probe_done(p);
	return strstr(p->log, "end-of-paint") != NULL;
}

/* Finding 1: services kept the kernel's controlling terminal.  A service (here a
 * shell) tries to open /dev/tty; it must have no terminal to open, and a session of
 * its own. */
Test(terminal, a_service_cannot_open_the_operators_terminal)
{
	struct kc k;
	static struct probe p;
	snprintf(p.path, sizeof(p.path), "%s/probe", tl_dir());
	char script[700];
	script_write(script, sizeof(script), "grab.sh",
		     "if (exec 3<>/dev/tty) 2>/dev/null; then echo tty; else echo no-tty; fi > %s\n"
		     "cut -d' ' -f6 /proc/self/stat >> %s\n"
		     "echo done >> %s\n"
		     "exec sleep 1000\n",
		     p.path, p.path, p.path);
	kc_write(&k, "[service grabber]\nbin = %s\nhealth = none\n", script);
	pid_t kpid;
	p.master = kernel_on_pty(&k, &kpid);
	bool done = tl_wait_for(probe_done, &p, WAIT_MS);
	kill(kpid, SIGTERM);
	int st;
	bool exited = tl_wait_exit(kpid, WAIT_MS, &st);
	if (!exited)
		kill(kpid, SIGKILL);
	close(p.master);
	cr_assert(done, "the service never wrote %s: '%s'; the terminal:\n%s", p.path, p.got,
		  p.log);
	cr_assert(exited, "the kernel did not exit on SIGTERM");
	cr_assert(strncmp(p.got, "no-tty\n", 7) == 0, "the service opened /dev/tty: %s", p.got);
	/* cut's session (field 6 of /proc/self/stat) is the service's: not the kernel's. */
	long sid = strtol(p.got + 7, NULL, 10);
	cr_assert_gt(sid, 0, "%s", p.got);
	cr_assert_neq(sid, (long)kpid, "the service is in the kernel's session");
}

/* On the operator's terminal only colour passes: a cursor move, an erase, a clipboard
 * write (OSC 52) or a \r from a service arrive as text. */
Test(terminal, only_colour_reaches_the_terminal)
{
	struct kc k;
	static struct probe p;
	snprintf(p.path, sizeof(p.path), "%s/probe", tl_dir());
	char script[700];
	script_write(script, sizeof(script), "paint.sh",
		     "printf '\\033[1;31mred\\033[0m \\033[2Kerase \\033]52;c;SGVsbG8=\\007 "
		     "\\033[5;5H x\\rforged end-of-paint\\n'\n"
		     "echo done > %s\n"
		     "exec sleep 1000\n",
		     p.path);
	kc_write(&k, "[service paint]\nbin = %s\nhealth = none\n", script);
	pid_t kpid;
	p.master = kernel_on_pty(&k, &kpid);
	bool done = tl_wait_for(probe_done, &p, WAIT_MS) && tl_wait_for(painted, &p, WAIT_MS);
	kill(kpid, SIGTERM);
	int st;
	if (!tl_wait_exit(kpid, WAIT_MS, &st))
		kill(kpid, SIGKILL);
	close(p.master);
	cr_assert(done, "no painted line on the terminal:\n%s", p.log);
	const char *l = strstr(p.log, "\033[1;31mred\033[0m");
	cr_assert(l, "the colour did not pass:\n%s", p.log);
	const char *want = "\033[1;31mred\033[0m \\x1b[2Kerase \\x1b]52;c;SGVsbG8=\\x07 "
			   "\\x1b[5;5H x\\x0dforged end-of-paint\r\n";
	cr_assert(strncmp(l, want, strlen(want)) == 0, "the terminal got: %.*s", (int)strlen(want),
		  l);
}

static bool log_has(void *arg)
{
	struct probe *p = arg;
	probe_done(p);
	return strstr(p->log, p->got) != NULL;
}

/* Runs a kernel on a pty with a service a and env (or none), until its terminal shows
 * want; the terminal's text into log. */
static bool terminal_shows(const char *env, const char *want, char *log, size_t cap)
{
	struct kc k;
	static struct probe p;
	memset(&p, 0, sizeof(p));
	snprintf(p.path, sizeof(p.path), "%s/none", tl_dir());
	snprintf(p.got, sizeof(p.got), "%s", want);
	char a[512];
	sim_section(a, sizeof(a), "a", NULL);
	kc_write(&k, "%s", a);
	pid_t kpid;
	p.master = kernel_on_pty_with(&k, &kpid, env);
	bool shown = tl_wait_for(log_has, &p, WAIT_MS);
	kill(kpid, SIGTERM);
	int st;
	if (!tl_wait_exit(kpid, WAIT_MS, &st))
		kill(kpid, SIGKILL);
	close(p.master);
	snprintf(log, cap, "%s", p.log);
	return shown;
}

/* On a terminal the status line is for a person: the summary, then one short group
 * per service; RON_STATUS_LINE=full brings back the key=value line. */
Test(terminal, the_status_line_is_compact_on_a_terminal)
{
	static char log[16384];
	cr_assert(terminal_shows(NULL, "event=status 1/1 healthy | a \033[32mhealthy\033[0m ", log,
				 sizeof(log)),
		  "no compact status line on the terminal:\n%s", log);
	cr_assert_null(strstr(log, "a.state="), "a key=value status line:\n%s", log);
	cr_assert(terminal_shows("RON_STATUS_LINE=full",
				 "a.state=\033[32mhealthy\033[0m a.pid=", log, sizeof(log)),
		  "RON_STATUS_LINE=full gave no key=value status line:\n%s", log);
}
