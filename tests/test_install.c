/* `make install` into a temporary DESTDIR gives a working tree: the installed kernel
 * finds the installed monitor and runs the simulated services; `make uninstall` takes
 * everything away again. */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "clock.h"
#include "testlib.h"

#define MAKE_MS 60000 /* a make that finds everything built takes well under a second */
#define WAIT_MS 20000

TestSuite(install, .init = tl_setup, .fini = tl_teardown, .timeout = 120);

static const char *const names[3] = {"svc-index", "svc-overlay", "svc-storage"};

/* BUILD= for make: the build directory these tests were built in, relative to the
 * source tree when it lies inside it, so make finds its objects and rebuilds nothing. */
static const char *build_arg(void)
{
	static char arg[600];
	const char *src = tl_src_dir();
	size_t n = strlen(src);
	const char *b = RON_BUILD_DIR;
	if (strncmp(b, src, n) == 0 && b[n] == '/')
		b += n + 1;
	snprintf(arg, sizeof(arg), "BUILD=%s", b);
	return arg;
}

static bool is_sanitized(void)
{
	size_t n = strlen(RON_BUILD_DIR);
	return n >= 4 && strcmp(RON_BUILD_DIR + n - 4, "/san") == 0;
}

/* Runs make -C SRC TARGET BUILD=... VARS...; returns its exit status, its output in
 * tl_dir()/make-TARGET.log (and in log, if given). */
static int run_make(const char *target, const char *const vars[], char *log, size_t loglen)
{
	char logpath[600];
	snprintf(logpath, sizeof(logpath), "%s/make-%s.log", tl_dir(), target);
	char *argv[24] = {"/bin/sh",
			  "-c",
			  "log=$1; shift; exec make \"$@\" >\"$log\" 2>&1",
			  "sh",
			  logpath,
			  "--no-print-directory",
			  "-C",
			  (char *)tl_src_dir(),
			  (char *)target,
			  (char *)build_arg()};
	int n = 10;
	if (is_sanitized())
		argv[n++] = "SANITIZE=1";
	for (int i = 0; vars && vars[i]; i++)
		argv[n++] = (char *)vars[i];
	argv[n] = NULL;
	/* Our make's jobserver descriptors are not this make's. */
	char *const env[] = {"MAKEFLAGS=", "MAKELEVEL=", "MFLAGS=", "MAKEOVERRIDES=", NULL};
	pid_t pid = tl_spawn(argv, env, NULL, NULL);
	int st;
	cr_assert(tl_wait_exit(pid, MAKE_MS, &st), "make %s did not finish in %d ms", target,
		  MAKE_MS);
	static char tmp[16384];
	if (!log) {
		log = tmp;
		loglen = sizeof(tmp);
	}
	if (tl_read_file(logpath, log, loglen) < 0)
		log[0] = '\0';
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void make_ok(const char *target, const char *const vars[])
{
	static char log[16384];
	int rc = run_make(target, vars, log, sizeof(log));
	cr_assert_eq(rc, 0, "make %s exited %d:\n%s", target, rc, log);
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static bool executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

/* The ExecStart= line of an installed unit. */
static void exec_start(const char *unit, char *buf, size_t cap)
{
	static char text[16384];
	cr_assert_geq(tl_read_file(unit, text, sizeof(text)), 0, "cannot read %s", unit);
	const char *p = strstr(text, "\nExecStart=");
	cr_assert(p, "%s has no ExecStart=", unit);
	p++;
	snprintf(buf, cap, "%.*s", (int)strcspn(p, "\n"), p);
}

struct kernel_run {
	pid_t pid;
	struct tl_lines r;
};

/* Stops the kernel before a failed assertion, so no service outlives the test:
 * SIGTERM, and SIGKILL to the kernel alone (its monitors then stop their services). */
static void kernel_stop(struct kernel_run *k)
{
	if (k->pid <= 0)
		return;
	kill(k->pid, SIGTERM);
	if (!tl_wait_exit(k->pid, WAIT_MS, NULL)) {
		kill(k->pid, SIGKILL);
		tl_wait_exit(k->pid, WAIT_MS, NULL);
	}
	k->pid = 0;
}

#define KERNEL_ASSERT(k, cond, ...)                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			kernel_stop(k);                                                            \
			cr_assert_fail(__VA_ARGS__);                                               \
		}                                                                                  \
	} while (0)

Test(install, installed_kernel_runs_the_simulated_services)
{
	char root[600], bin[700], path[800], line[4096];
	snprintf(root, sizeof(root), "%s/root", tl_dir());
	snprintf(bin, sizeof(bin), "%s/usr/local/bin", root);
	char destdir[700];
	snprintf(destdir, sizeof(destdir), "DESTDIR=%s", root);
	const char *const vars[] = {destdir, NULL};

	make_ok("install", vars);
	const char *files[] = {"bin/ron-kernel", "bin/ron-monitor"};
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/usr/local/%s", root, files[i]);
		cr_assert(executable(path), "make install left no executable %s", path);
	}
	const char *pages[] = {"ron-kernel.8", "ron-monitor.8"};
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/usr/local/share/man/man8/%s", root, pages[i]);
		cr_assert(exists(path), "make install left no %s", path);
	}
	snprintf(path, sizeof(path), "%s/usr/local/share/ron-kernel/ron-kernel.service", root);
	exec_start(path, line, sizeof(line));
	cr_assert_str_eq(line, "ExecStart=/usr/local/bin/ron-kernel");
	snprintf(path, sizeof(path), "%s/svc-sim", bin);
	cr_assert(!exists(path), "make install installed svc-sim without being asked");

	make_ok("install-sim", vars);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", bin, names[i]);
		cr_assert(executable(path), "make install-sim left no %s", path);
	}

	/* The installed tree alone: services and monitor from it, nothing from the build. */
	char *env[40];
	char bufs[40][1200];
	int n = 0;
#define ADD(...) (snprintf(bufs[n], sizeof(bufs[n]), __VA_ARGS__), env[n] = bufs[n], n++)
	const char *oldpath = getenv("PATH");
	ADD("PATH=%s:%s", bin, oldpath ? oldpath : "/usr/bin:/bin");
	ADD("RON_RUN_DIR=%s/run", tl_dir());
	ADD("RON_INDEX_SOCK=%s/svc-index.sock", tl_dir());
	ADD("RON_OVERLAY_SOCK=%s/svc-overlay.sock", tl_dir());
	ADD("RON_STORAGE_SOCK=%s/svc-storage.sock", tl_dir());
	ADD("RON_HEALTH_INTERVAL_MS=200");
	ADD("RON_HEALTH_TIMEOUT_MS=100");
	ADD("RON_STATUS_INTERVAL_MS=500");
	ADD("RON_STOP_TIMEOUT_MS=2000");
	static const char *const unset[] = {
	    "RON_MONITOR_BIN",	   "RON_SVC_INDEX_BIN",	  "RON_SVC_OVERLAY_BIN",
	    "RON_SVC_STORAGE_BIN", "RON_LOG_FORMAT",	  "RON_START_TIMEOUT_MS",
	    "RON_RESTART_CAP",	   "RON_HEALTH_FAILURES", "NOTIFY_SOCKET",
	    "WATCHDOG_USEC",	   "WATCHDOG_PID",	  "SIM_MODE",
	    "SIM_CRASH_AFTER_MS",  "SIM_EXIT_ON_START",	  "SIM_START_DELAY_MS",
	    "SIM_IGNORE_SIGTERM",  "SIM_GRANDCHILD",	  "SIM_PIDFILE"};
	for (size_t i = 0; i < sizeof(unset) / sizeof(unset[0]); i++)
		ADD("%s=", unset[i]);
#undef ADD
	env[n] = NULL;

	struct kernel_run k = {0};
	char kbin[800], want[900];
	snprintf(kbin, sizeof(kbin), "%s/ron-kernel", bin);
	char *argv[] = {kbin, NULL};
	int out;
	k.pid = tl_spawn(argv, env, &out, NULL);
	tl_lines_init(&k.r, out);

	snprintf(want, sizeof(want), "monitor=%s/ron-monitor", bin);
	KERNEL_ASSERT(&k, tl_expect(&k.r, line, sizeof(line), WAIT_MS, "event=start", NULL),
		      "no start line:\n%s", k.r.log);
	KERNEL_ASSERT(&k, strstr(line, want), "the installed kernel did not pick %s: %s", want,
		      line);

	/* all_ready can come before the last ready line: wait for all four. */
	bool ready[3] = {false, false, false}, all = false;
	int64_t deadline = clock_mono_us() + (int64_t)WAIT_MS * 1000;
	while (!(all && ready[0] && ready[1] && ready[2])) {
		int left = clock_poll_timeout(deadline, clock_mono_us());
		KERNEL_ASSERT(&k, left > 0 && tl_next_line(&k.r, line, sizeof(line), left),
			      "not all three services ready:\n%s", k.r.log);
		all |= strstr(line, "event=all_ready") != NULL;
		for (int i = 0; i < 3; i++) {
			char ev[64];
			snprintf(ev, sizeof(ev), "event=ready service=%s ", names[i]);
			ready[i] |= strstr(line, ev) != NULL;
		}
	}

	kill(k.pid, SIGTERM);
	bool exit_line = tl_expect(&k.r, line, sizeof(line), WAIT_MS, "event=exit code=0", NULL);
	int st;
	bool exited = tl_wait_exit(k.pid, WAIT_MS, &st);
	if (exited)
		k.pid = 0;
	KERNEL_ASSERT(&k, exit_line, "no exit line after SIGTERM:\n%s", k.r.log);
	KERNEL_ASSERT(&k, exited, "the installed kernel did not exit after SIGTERM");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the kernel ended with status 0x%x", st);
}

static int files_left;
static char first_left[512];

static int count_left(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_F || flag == FTW_SL || flag == FTW_SLN) {
		if (!files_left++)
			snprintf(first_left, sizeof(first_left), "%s", path);
	}
	return 0;
}

Test(install, prefix_uninstall_and_a_foreign_service_name)
{
	char root[600], bin[700], path[800], line[4096], destdir[700];
	snprintf(root, sizeof(root), "%s/root", tl_dir());
	snprintf(bin, sizeof(bin), "%s/opt/ron/bin", root);
	snprintf(destdir, sizeof(destdir), "DESTDIR=%s", root);
	const char *const vars[] = {destdir, "PREFIX=/opt/ron", NULL};

	make_ok("install", vars);
	make_ok("install-sim", vars);
	snprintf(path, sizeof(path), "%s/ron-kernel", bin);
	cr_assert(executable(path), "no %s", path);
	snprintf(path, sizeof(path), "%s/opt/ron/share/man/man8/ron-kernel.8", root);
	cr_assert(exists(path), "no %s", path);
	snprintf(path, sizeof(path), "%s/opt/ron/share/ron-kernel/ron-kernel.service", root);
	exec_start(path, line, sizeof(line));
	cr_assert_str_eq(line, "ExecStart=/opt/ron/bin/ron-kernel");

	make_ok("uninstall", vars);
	files_left = 0;
	cr_assert_eq(nftw(root, count_left, 16, FTW_PHYS), 0);
	cr_assert_eq(files_left, 0, "make uninstall left %d files, such as %s", files_left,
		     first_left);

	/* A real svc-storage in the way: install-sim refuses and leaves it as it was. */
	snprintf(path, sizeof(path), "%s/svc-storage", bin);
	FILE *f = fopen(path, "w");
	cr_assert(f, "create %s: %s", path, strerror(errno));
	fputs("#!/bin/sh\n", f);
	fclose(f);
	static char log[16384];
	int rc = run_make("install-sim", vars, log, sizeof(log));
	cr_assert_neq(rc, 0, "make install-sim replaced a foreign %s:\n%s", path, log);
	cr_assert(strstr(log, "not replacing it"), "install-sim said:\n%s", log);
	struct stat st;
	cr_assert(lstat(path, &st) == 0 && S_ISREG(st.st_mode), "%s was replaced", path);
	make_ok("uninstall", vars);
	cr_assert(lstat(path, &st) == 0 && S_ISREG(st.st_mode), "uninstall removed a foreign %s",
		  path);
}

/* Finding: `make run` put the sockets under build/run whatever RON_RUN_DIR said. */
Test(install, run_demo_puts_the_sockets_in_ron_run_dir)
{
	char script[700], dir[700], env[760], sock[800];
	snprintf(script, sizeof(script), "%s/scripts/run-demo", tl_src_dir());
	snprintf(dir, sizeof(dir), "%s/demo-run", tl_dir());
	snprintf(env, sizeof(env), "RON_RUN_DIR=%s", dir);
	char *argv[] = {script, RON_BUILD_DIR, NULL};
	char *envv[] = {env,
			"RON_INDEX_SOCK=",
			"RON_OVERLAY_SOCK=",
			"RON_STORAGE_SOCK=",
			"RON_HTTP_ADDR=",
			"RON_METRICS_FILE=",
			"RON_CONFIG=",
			NULL};
	int out;
	pid_t pid = tl_spawn(argv, envv, &out, NULL);
	struct tl_lines r;
	tl_lines_init(&r, out);
	char line[4096];
	cr_assert(tl_expect(&r, line, sizeof(line), 30000, "event=all_ready", NULL), "%s", r.log);
	snprintf(sock, sizeof(sock), "%s/svc-index.sock", dir);
	struct stat st;
	cr_assert_eq(stat(sock, &st), 0, "no %s:\n%s", sock, r.log);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(kill(pid, SIGTERM), 0);
	int ws;
	cr_assert(tl_wait_exit(pid, 30000, &ws), "%s", r.log);
}
