/* The bad-input matrix: each bad input gets a clear error (message and exit
 * code) or the right health verdict, and never a crash, a hang or a lost
 * service.  What test_config.c (parsing, function level), test_kernel.c (one
 * bad value per variable, symlinked, world-writable and foreign run
 * directories, a missing binary) and test_monitor.c (missing and
 * non-executable binaries) cover is not repeated here. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <grp.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "clock.h"
#include "config.h"
#include "health.h"
#include "report.h"
#include "sockpath.h"
#include "testlib.h"
#include "wire.h"

#define WAIT_MS 30000
#define KERNEL	TL_BIN("ron-kernel")
#define MONITOR TL_BIN("ron-monitor")

static const char *const names[3] = {"svc-index", "svc-overlay", "svc-storage"};
static const char *const sock_vars[3] = {"RON_INDEX_SOCK", "RON_OVERLAY_SOCK", "RON_STORAGE_SOCK"};
static const char *const bin_vars[3] = {"RON_SVC_INDEX_BIN", "RON_SVC_OVERLAY_BIN",
					"RON_SVC_STORAGE_BIN"};

static pid_t fake_pid; /* the fake service of the reply tests */

static void bi_teardown(void)
{
	if (fake_pid > 0) {
		kill(-fake_pid, SIGKILL);
		waitpid(fake_pid, NULL, 0);
		fake_pid = 0;
	}
	tl_teardown();
}

TestSuite(badinput, .init = tl_setup, .fini = bi_teardown, .timeout = 120);

/* The environment of a test kernel: this test's directory, svc-sim, short timings. */
static char **bi_env(void)
{
	static char bufs[48][1200];
	static char *env[64];
	int n = 0;
#define ADD(...) (snprintf(bufs[n], sizeof(bufs[n]), __VA_ARGS__), env[n] = bufs[n], n++)
	ADD("RON_RUN_DIR=%s/run", tl_dir());
	for (int i = 0; i < 3; i++) {
		ADD("%s=%s/%s.sock", sock_vars[i], tl_dir(), names[i]);
		ADD("%s=%s/sim/%s", bin_vars[i], RON_BUILD_DIR, names[i]);
	}
	ADD("RON_HEALTH_INTERVAL_MS=300");
	ADD("RON_HEALTH_TIMEOUT_MS=200");
	ADD("RON_STATUS_INTERVAL_MS=500");
	ADD("RON_STOP_TIMEOUT_MS=2000");
	ADD("RON_START_TIMEOUT_MS=5000");
	ADD("RON_BACKOFF_MIN_MS=20");
	ADD("RON_BACKOFF_MAX_MS=100");
	ADD("RON_STABLE_MS=500");
	ADD("RON_RESTART_CAP=2");
	ADD("RON_RESTART_WINDOW_MS=60000");
	static const char *const unset[] = {
	    "RON_LOG_FORMAT",	  "RON_MONITOR_BIN",   "RON_QUARANTINE_MS",  "RON_HEALTH_FAILURES",
	    "NOTIFY_SOCKET",	  "WATCHDOG_USEC",     "WATCHDOG_PID",	     "SIM_MODE",
	    "SIM_CRASH_AFTER_MS", "SIM_EXIT_ON_START", "SIM_START_DELAY_MS", "SIM_IGNORE_SIGTERM",
	    "SIM_GRANDCHILD",	  "SIM_PIDFILE"};
	for (size_t i = 0; i < sizeof(unset) / sizeof(unset[0]); i++)
		ADD("%s=", unset[i]);
#undef ADD
	env[n] = NULL;
	return env;
}

/* Runs PROG (ron-kernel or ron-monitor) to its exit through env(1), which sets the
 * "K=V" entries of vars even when V is empty (tl_spawn would unset them); returns the
 * wait status, with stdout and stderr. */
static int bi_run(const char *prog, const char *const vars[], const char *const args[], char *out,
		  size_t outlen, char *err, size_t errlen)
{
	const char *argv[64] = {"/usr/bin/env"};
	int n = 1;
	for (int i = 0; vars && vars[i]; i++)
		argv[n++] = vars[i];
	argv[n++] = prog;
	for (int i = 0; args && args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return tl_run((char *const *)argv, bi_env(), out, outlen, err, errlen, WAIT_MS);
}

/* A refusal at start: exit 78, one line on stderr naming what, nothing on stdout,
 * no pidfile. */
static void expect_78(const char *prog, const char *const vars[], const char *const args[],
		      const char *what)
{
	char out[4096], err[4096];
	int st = bi_run(prog, vars, args, out, sizeof(out), err, sizeof(err));
	const char *shown = vars && vars[0] ? vars[0] : args && args[0] ? args[0] : "";
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 78, "%s %.300s: status %#x, stderr: %s", prog,
		  shown, st, err);
	cr_assert(strstr(err, what), "%.300s: %s not named: %s", shown, what, err);
	char *nl = strchr(err, '\n');
	cr_assert(nl && nl[1] == '\0', "%.300s: not one line: %s", shown, err);
	cr_assert_str_eq(out, "", "%.300s: stdout: %s", shown, out);
	cr_assert_neq(access(tl_path("run/ron-kernel.pid"), F_OK), 0, "%.300s: pidfile", shown);
}

/* --- every RON_* variable ----------------------------------------------------------------- */

/* The bad values of one setting: empty, not a number, negative, zero where zero is
 * invalid, overflowing, out of range; for strings empty and too long. */
static int bad_values(const struct cfg_setting *s, char vals[][1200], int max)
{
	int n = 0;
#define BAD(...) (n < max ? snprintf(vals[n++], sizeof(vals[0]), __VA_ARGS__) : 0)
	switch (s->type) {
	case CFG_MS:
	case CFG_COUNT:
		BAD("%s", "");
		BAD("%s", "abc");
		BAD("%s", "10ms");
		BAD("-%lld", s->min > 0 ? s->min : 5);
		if (s->min > 0)
			BAD("0");
		BAD("%s", "99999999999999999999");
		BAD("%s", "18446744073709551616");
		BAD("%lld", s->max + 1);
		if (s->min > 1)
			BAD("%lld", s->min - 1);
		break;
	case CFG_ENUM:
		BAD("%s", "");
		BAD("%s", "bogus");
		BAD("%s", "TEXT");
		break;
	case CFG_PATH:
	case CFG_STRING: {
		if (s->min > 0)
			BAD("%s", "");
		char longv[1200];
		memset(longv, 'x', (size_t)s->max + 1);
		longv[0] = '/';
		longv[s->max + 1] = '\0';
		BAD("%s", longv);
		if (s->absolute)
			BAD("%s", "relative/dir");
		break;
	}
	}
#undef BAD
	return n;
}

static void matrix(const char *prog, unsigned scope, const char *const args[])
{
	int tried = 0;
	for (int key = 0; key < CFG__COUNT; key++) {
		const struct cfg_setting *s = &cfg_table[key];
		if (!(s->scope & scope))
			continue;
		char vals[16][1200], kv[1300];
		int n = bad_values(s, vals, 16);
		for (int i = 0; i < n; i++) {
			snprintf(kv, sizeof(kv), "%s=%.1200s", s->env, vals[i]);
			const char *vars[] = {kv, NULL};
			expect_78(prog, vars, args, s->env);
			tried++;
		}
	}
	cr_assert_gt(tried, 60, "only %d cases", tried);
}

Test(badinput, kernel_every_variable_every_bad_value_exits_78)
{
	matrix(KERNEL, CFG_KERNEL, NULL);
}

Test(badinput, monitor_every_variable_every_bad_value_exits_78)
{
	const char *args[] = {"--name", "svc-storage", "--bin", TL_BIN("sim/svc-storage"), NULL};
	matrix(MONITOR, CFG_MONITOR, args);
}

Test(badinput, kernel_out_of_range_pairs_exit_78_naming_both)
{
	const char *const pairs[][3] = {
	    {"RON_HEALTH_TIMEOUT_MS=300", "RON_HEALTH_INTERVAL_MS=300", NULL},
	    {"RON_HEALTH_TIMEOUT_MS=301", "RON_HEALTH_INTERVAL_MS=300", NULL},
	    {"RON_HEALTH_TIMEOUT_MS=600000", "RON_HEALTH_INTERVAL_MS=10", NULL},
	    {"RON_BACKOFF_MIN_MS=101", "RON_BACKOFF_MAX_MS=100", NULL},
	    {"RON_BACKOFF_MIN_MS=3600000", "RON_BACKOFF_MAX_MS=0", NULL},
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		char a[64], b[64];
		snprintf(a, sizeof(a), "%.*s", (int)strcspn(pairs[i][0], "="), pairs[i][0]);
		snprintf(b, sizeof(b), "%.*s", (int)strcspn(pairs[i][1], "="), pairs[i][1]);
		expect_78(KERNEL, pairs[i], NULL, a);
		expect_78(KERNEL, pairs[i], NULL, b);
	}
	/* The flag form wins over the variable and is named as a flag. */
	const char *vars[] = {"RON_HEALTH_TIMEOUT_MS=100", NULL};
	const char *args[] = {"--health-timeout-ms=300", NULL};
	expect_78(KERNEL, vars, args, "--health-timeout-ms=300");
}

/* --- socket paths ------------------------------------------------------------------------- */

/* tl_dir()/aaa...a.sock of exactly len bytes. */
static const char *sock_of_length(size_t len)
{
	static char path[256];
	size_t base = strlen(tl_dir()) + 1, pad = len - base - 5;
	cr_assert_lt(base + 5, len);
	snprintf(path, sizeof(path), "%s/", tl_dir());
	memset(path + base, 'a', pad);
	memcpy(path + base + pad, ".sock", 6);
	cr_assert_eq(strlen(path), len);
	return path;
}

Test(badinput, socket_path_one_byte_too_long_exits_78)
{
	char kv[300];
	snprintf(kv, sizeof(kv), "RON_OVERLAY_SOCK=%s", sock_of_length(SOCKPATH_MAX + 1));
	const char *vars[] = {kv, NULL};
	expect_78(KERNEL, vars, NULL, "RON_OVERLAY_SOCK");
}

/* Waits for a kernel line holding every needle. */
#define EXPECT(r, line, ...)                                                                       \
	cr_assert(tl_expect(r, line, sizeof(line), WAIT_MS, __VA_ARGS__, NULL),                    \
		  "no line with " #__VA_ARGS__ " in kernel output:\n%s", (r)->log)

static pid_t kernel_start(const char *const vars[], struct tl_lines *r)
{
	const char *argv[16] = {"/usr/bin/env"};
	int n = 1, out;
	for (int i = 0; vars && vars[i]; i++)
		argv[n++] = vars[i];
	argv[n++] = KERNEL;
	argv[n] = NULL;
	pid_t pid = tl_spawn((char *const *)argv, bi_env(), &out, NULL);
	tl_lines_init(r, out);
	return pid;
}

static void kernel_stop(pid_t pid, struct tl_lines *r)
{
	int st;
	cr_assert_eq(kill(pid, SIGTERM), 0);
	cr_assert(tl_wait_exit(pid, WAIT_MS, &st), "kernel did not exit:\n%s", r->log);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "kernel exit status %#x", st);
}

Test(badinput, socket_path_of_the_longest_length_works)
{
	static struct tl_lines r;
	char kv[300], line[4096];
	snprintf(kv, sizeof(kv), "RON_STORAGE_SOCK=%s", sock_of_length(SOCKPATH_MAX));
	const char *vars[] = {kv, NULL};
	pid_t k = kernel_start(vars, &r);
	EXPECT(&r, line, "event=all_ready");
	struct health_result hr;
	cr_assert(health_check(sock_of_length(SOCKPATH_MAX), "svc-storage", 1, 2000, &hr), "%s",
		  hr.reason);
	kernel_stop(k, &r);
}

Test(badinput, socket_parent_not_creatable_exits_78)
{
	char kv[600];
	FILE *f = fopen(tl_path("plainfile"), "w");
	cr_assert(f);
	fclose(f);
	snprintf(kv, sizeof(kv), "RON_INDEX_SOCK=%s/sub/svc-index.sock", tl_path("plainfile"));
	const char *vars[] = {kv, NULL};
	expect_78(KERNEL, vars, NULL, "RON_INDEX_SOCK");
	expect_78(KERNEL, vars, NULL, "Not a directory");
}

/* The kernel does not look at the socket path itself: the service refuses a directory
 * there (exit 1, as the real ones do), which is a crash loop like any other, reported
 * and quarantined while the other services stay healthy. */
Test(badinput, directory_at_socket_path_quarantines_that_service_only)
{
	static struct tl_lines r;
	char kv[600], line[4096];
	cr_assert_eq(mkdir(tl_path("sockdir"), 0700), 0);
	snprintf(kv, sizeof(kv), "RON_STORAGE_SOCK=%s", tl_path("sockdir"));
	const char *vars[] = {kv, NULL};
	pid_t k = kernel_start(vars, &r);
	EXPECT(&r, line, "event=exited", "service=svc-storage", "code=1");
	EXPECT(&r, line, "event=quarantined", "service=svc-storage");
	EXPECT(&r, line, "event=status", "svc-index.state=healthy", "svc-overlay.state=healthy",
	       "svc-storage.state=quarantined");
	struct stat st;
	cr_assert_eq(stat(tl_path("sockdir"), &st), 0);
	cr_assert(S_ISDIR(st.st_mode), "the directory was replaced");
	cr_assert(tl_pid_alive(k));
	kernel_stop(k, &r);
}

/* --- run directory ------------------------------------------------------------------------ */

static void run_dir_refused(const char *path, const char *reason)
{
	char kv[700];
	snprintf(kv, sizeof(kv), "RON_RUN_DIR=%s", path);
	const char *vars[] = {kv, NULL};
	expect_78(KERNEL, vars, NULL, reason);
	expect_78(KERNEL, vars, NULL, path);
}

Test(badinput, run_dir_group_writable_refused)
{
	cr_assert_eq(mkdir(tl_path("grp"), 0700), 0);
	cr_assert_eq(chmod(tl_path("grp"), 0770), 0);
	run_dir_refused(tl_path("grp"), "writable by its group");
}

Test(badinput, run_dir_sticky_world_writable_refused)
{
	/* Like /tmp itself: sticky does not make a shared directory ours. */
	cr_assert_eq(mkdir(tl_path("sticky"), 0700), 0);
	cr_assert_eq(chmod(tl_path("sticky"), 01777), 0);
	run_dir_refused(tl_path("sticky"), "writable by others");
}

Test(badinput, run_dir_a_file_refused)
{
	FILE *f = fopen(tl_path("notadir"), "w");
	cr_assert(f);
	fclose(f);
	run_dir_refused(tl_path("notadir"), "not a directory");
}

Test(badinput, run_dir_parent_not_creatable_refused)
{
	FILE *f = fopen(tl_path("plainfile"), "w");
	cr_assert(f);
	fclose(f);
	char path[600];
	snprintf(path, sizeof(path), "%s/run", tl_path("plainfile"));
	run_dir_refused(path, "Not a directory");
}

Test(badinput, run_dir_symlink_to_a_safe_directory_refused)
{
	/* test_kernel.c links to an existing directory; here the target would pass every
	 * check on its own, and a dangling link is no better. */
	cr_assert_eq(mkdir(tl_path("safe"), 0700), 0);
	cr_assert_eq(symlink(tl_path("safe"), tl_path("to-safe")), 0);
	run_dir_refused(tl_path("to-safe"), "symbolic link");
	cr_assert_eq(symlink(tl_path("nowhere"), tl_path("dangling")), 0);
	run_dir_refused(tl_path("dangling"), "symbolic link");
	cr_assert_neq(access(tl_path("nowhere"), F_OK), 0, "the link was followed");
}

/* --- service binaries --------------------------------------------------------------------- */

Test(badinput, binary_a_directory_is_spawn_failed_others_healthy)
{
	static struct tl_lines r;
	char kv[600], line[4096];
	cr_assert_eq(mkdir(tl_path("bindir"), 0700), 0);
	snprintf(kv, sizeof(kv), "RON_SVC_OVERLAY_BIN=%s", tl_path("bindir"));
	const char *vars[] = {kv, NULL};
	pid_t k = kernel_start(vars, &r);
	EXPECT(&r, line, "event=spawn_failed", "service=svc-overlay");
	cr_assert(strstr(line, "Permission denied") && strstr(line, "bindir"), "%s", line);
	EXPECT(&r, line, "event=quarantined", "service=svc-overlay");
	EXPECT(&r, line, "event=status", "svc-index.state=healthy", "svc-storage.state=healthy",
	       "svc-overlay.state=quarantined");
	cr_assert(tl_pid_alive(k));
	kernel_stop(k, &r);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	cr_assert(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
	cr_assert_eq(chmod(path, mode), 0);
}

/* Decided behaviour: the monitor starts a service with execvp, which runs an executable
 * file without "#!" (ENOEXEC) with /bin/sh, as shells and posix_spawnp do.  So a script
 * without a shebang works ... */
Test(badinput, script_without_shebang_runs_with_sh)
{
	static struct tl_lines r;
	char kv[600], script[1200], line[4096];
	snprintf(script, sizeof(script), "# no shebang: execvp hands this to /bin/sh\nexec %s\n",
		 TL_BIN("sim/svc-storage"));
	write_file(tl_path("storage-script"), script, 0755);
	snprintf(kv, sizeof(kv), "RON_SVC_STORAGE_BIN=%s", tl_path("storage-script"));
	const char *vars[] = {kv, NULL};
	pid_t k = kernel_start(vars, &r);
	EXPECT(&r, line, "event=ready", "service=svc-storage");
	EXPECT(&r, line, "event=status", "svc-storage.state=healthy");
	cr_assert(tl_pid_alive(k));
	kernel_stop(k, &r);
}

/* ... and one that is no script is a service that exits at once (sh: 127, command not
 * found), restarted and quarantined like any crash loop, not a spawn failure. */
Test(badinput, file_without_shebang_that_is_no_script_is_a_crash_loop)
{
	static struct tl_lines r;
	char kv[600], line[4096];
	write_file(tl_path("junk"), "this-is-not-a-program --at all\n", 0755);
	snprintf(kv, sizeof(kv), "RON_SVC_INDEX_BIN=%s", tl_path("junk"));
	const char *vars[] = {kv, NULL};
	pid_t k = kernel_start(vars, &r);
	EXPECT(&r, line, "event=exited", "service=svc-index", "code=127");
	EXPECT(&r, line, "event=quarantined", "service=svc-index");
	cr_assert_null(strstr(r.log, "event=spawn_failed service=svc-index"), "%s", r.log);
	EXPECT(&r, line, "event=status", "svc-overlay.state=healthy", "svc-storage.state=healthy");
	kernel_stop(k, &r);
}

/* --- replies of a fake service ------------------------------------------------------------ */

enum fake_mode {
	FK_TRUNC_HEADER, /* 2 of the 4 length bytes, then close */
	FK_TRUNC_BODY,	 /* the length and 10 body bytes, then close */
	FK_OVERSIZED,	 /* a length of 1 MiB + 1 */
	FK_MAX_FRAME,	 /* a healthy envelope padded to exactly 1 MiB */
	FK_DELAY,	 /* the healthy reply after delay_ms */
	FK_DRIP,	 /* the healthy reply a byte every delay_ms */
	FK_WRONG_CORR,	 /* corr_id + 1 */
	FK_ARITY4,	 /* the envelope without its payload */
	FK_ARITY6,	 /* the envelope with one element more */
	FK_BAD_VARIANT,	 /* the variant named with a C1 control and bytes that are not UTF-8 */
};

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool read_full(int fd, void *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, 5000) <= 0)
			return false;
		ssize_t n = read(fd, (char *)buf + off, len - off);
		if (n <= 0)
			return false;
		off += (size_t)n;
	}
	return true;
}

static void write_full(int fd, const void *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(fd, (const char *)buf + off, len - off);
		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

/* In the fake's process: one request, one reply of the mode. */
static void fake_serve(int c, enum fake_mode mode, int delay_ms)
{
	uint8_t hdr[4], body[256];
	uint32_t len;
	char why[WIRE_WHY_MAX];
	struct wire_msg m;
	if (!read_full(c, hdr, 4) || wire_frame_length(hdr, &len, why, sizeof(why)) < 0 ||
	    len > sizeof(body) || !read_full(c, body, len) ||
	    wire_decode(body, len, &m, why, sizeof(why)) < 0)
		return;
	static uint8_t out[(1 << 20) + 4];
	ssize_t n = wire_encode_health_reply(m.service, m.corr_id + (mode == FK_WRONG_CORR), out,
					     sizeof(out));
	if (n < 0)
		return;
	size_t blen = (size_t)n - 4;
	switch (mode) {
	case FK_TRUNC_HEADER: write_full(c, out, 2); return;
	case FK_TRUNC_BODY: write_full(c, out, 14); return;
	case FK_OVERSIZED: {
		uint32_t be = htonl(WIRE_MAX_FRAME + 1);
		write_full(c, &be, 4);
		write_full(c, out + 4, blen);
		break;
	}
	case FK_MAX_FRAME: {
		memset(out + 4 + blen, 0xc0, WIRE_MAX_FRAME - blen);
		uint32_t be = htonl(WIRE_MAX_FRAME);
		memcpy(out, &be, 4);
		write_full(c, out, WIRE_MAX_FRAME + 4);
		break;
	}
	case FK_DELAY:
		sleep_ms(delay_ms);
		write_full(c, out, (size_t)n);
		break;
	case FK_DRIP:
		for (ssize_t i = 0; i < n; i++) {
			write_full(c, out + i, 1);
			sleep_ms(delay_ms);
		}
		break;
	case FK_WRONG_CORR: write_full(c, out, (size_t)n); break;
	case FK_BAD_VARIANT:
		n = wire_encode(m.service, "v1.ok", m.corr_id,
				"\xc2\x9b"
				"31m\xff\x01",
				NULL, out, sizeof(out));
		if (n > 0)
			write_full(c, out, (size_t)n);
		break;
	case FK_ARITY4:
	case FK_ARITY6: {
		/* The payload is the last element: 0x99 and its 9 bytes, 0xcc-escaped. */
		const uint8_t payload[] = {0x99, 0xcc, 0xa8, 'H', 'e', 'a',
					   'l',	 't',  'h',  'O', 'k'};
		if (blen < sizeof(payload) ||
		    memcmp(out + 4 + blen - sizeof(payload), payload, sizeof(payload)) != 0)
			return;
		if (mode == FK_ARITY4) {
			out[4] = 0x94;
			blen -= sizeof(payload);
		} else {
			out[4] = 0x96;
			out[4 + blen++] = 0xc0;
		}
		uint32_t be = htonl((uint32_t)blen);
		memcpy(out, &be, 4);
		write_full(c, out, blen + 4);
		break;
	}
	}
	/* Until the client is done: it decides, not our close. */
	char sink[64];
	struct pollfd p = {c, POLLIN, 0};
	while (poll(&p, 1, 5000) > 0 && read(c, sink, sizeof(sink)) > 0)
		;
}

/* Listens on path before forking, so the first connect cannot race the fake; serves
 * each connection in a process of its own, so a slow reply delays no other. */
static void fake_start(const char *path, enum fake_mode mode, int delay_ms)
{
	struct sockaddr_un sa;
	socklen_t salen;
	char why[200];
	cr_assert_eq(sockpath_addr(&sa, &salen, path, why, sizeof(why)), 0, "%s", why);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(l, 0);
	cr_assert_eq(bind(l, (struct sockaddr *)&sa, salen), 0, "bind %s: %s", path,
		     strerror(errno));
	cr_assert_eq(listen(l, 16), 0);
	fake_pid = fork();
	cr_assert_geq(fake_pid, 0);
	if (fake_pid == 0) {
		setpgid(0, 0);
		signal(SIGPIPE, SIG_IGN);
		signal(SIGCHLD, SIG_IGN); /* reaped by the system */
		for (;;) {
			int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
			if (c < 0)
				continue;
			if (fork() == 0) {
				fake_serve(c, mode, delay_ms);
				_exit(0);
			}
			close(c);
		}
	}
	setpgid(fake_pid, fake_pid);
	close(l);
}

/* One check against the fake; returns the result, with the time it took in *ms. */
static struct health_result fake_check(enum fake_mode mode, int delay_ms, int timeout_ms,
				       int64_t *ms)
{
	const char *path = tl_path("fake.sock");
	fake_start(path, mode, delay_ms);
	struct health_result r;
	int64_t t0 = clock_mono_us();
	health_check(path, "svc-storage", 5, timeout_ms, &r);
	if (ms)
		*ms = (clock_mono_us() - t0) / 1000;
	return r;
}

Test(badinput, reply_truncated_in_the_length)
{
	struct health_result r = fake_check(FK_TRUNC_HEADER, 0, 2000, NULL);
	cr_assert_not(r.ok);
	cr_assert_str_eq(r.reason, "connection closed after 2 of 4 length bytes");
}

Test(badinput, reply_truncated_in_the_body)
{
	struct health_result r = fake_check(FK_TRUNC_BODY, 0, 2000, NULL);
	cr_assert_not(r.ok);
	cr_assert_str_eq(r.reason, "truncated reply: connection closed after 10 of 32 body bytes");
}

Test(badinput, reply_one_byte_over_the_max_frame)
{
	struct health_result r = fake_check(FK_OVERSIZED, 0, 2000, NULL);
	cr_assert_not(r.ok);
	cr_assert_str_eq(r.reason, "reply too large: 1048577 bytes (max 1048576)");
}

Test(badinput, reply_of_exactly_the_max_frame_is_read_whole)
{
	/* Trailing bytes in the frame are ignored, as upstream does: healthy. */
	struct health_result r = fake_check(FK_MAX_FRAME, 0, 10000, NULL);
	cr_assert(r.ok, "%s", r.reason);
}

Test(badinput, reply_slow_but_within_the_timeout)
{
	int64_t ms;
	struct health_result r = fake_check(FK_DELAY, 150, 3000, &ms);
	cr_assert(r.ok, "%s", r.reason);
	cr_assert_geq(ms, 149);
	cr_assert_geq(r.rtt_us, 149000);
}

Test(badinput, reply_dripping_but_within_the_timeout)
{
	int64_t ms;
	struct health_result r = fake_check(FK_DRIP, 3, 3000, &ms);
	cr_assert(r.ok, "%s", r.reason);
	cr_assert_geq(ms, 3 * 35, "a 36-byte reply a byte per 3 ms in %lld ms", (long long)ms);
}

Test(badinput, reply_slower_than_the_timeout)
{
	int64_t ms;
	struct health_result r = fake_check(FK_DELAY, 3000, 200, &ms);
	cr_assert_not(r.ok);
	cr_assert_str_eq(r.reason, "timeout after 200 ms waiting for reply");
	cr_assert_geq(ms, 199);
	cr_assert_lt(ms, 2000, "took %lld ms", (long long)ms);
}

Test(badinput, reply_dripping_past_the_timeout_is_cut_at_the_deadline)
{
	/* Each byte is progress, but the deadline is the deadline. */
	int64_t ms;
	struct health_result r = fake_check(FK_DRIP, 60, 300, &ms);
	cr_assert_not(r.ok);
	cr_assert_str_eq(r.reason, "timeout after 300 ms waiting for reply");
	cr_assert_lt(ms, 2000, "took %lld ms", (long long)ms);
}

Test(badinput, reply_with_the_wrong_corr_id)
{
	struct health_result r = fake_check(FK_WRONG_CORR, 0, 2000, NULL);
	cr_assert_not(r.ok);
	cr_assert_str_eq(r.reason, "corr_id mismatch: sent 5, got 6");
}

Test(badinput, reply_envelope_of_4_elements)
{
	struct health_result r = fake_check(FK_ARITY4, 0, 2000, NULL);
	cr_assert_not(r.ok);
	cr_assert_str_eq(r.reason, "envelope has 4 elements, expected 5");
}

Test(badinput, reply_envelope_of_6_elements)
{
	struct health_result r = fake_check(FK_ARITY6, 0, 2000, NULL);
	cr_assert_not(r.ok);
	cr_assert_str_eq(r.reason, "envelope has 6 elements, expected 5");
}

/* The verdict reaches the monitor's reports: a service that never binds (a shell
 * sleeping) while the fake answers on its socket.  It never becomes ready, is stopped at
 * the start timeout with the fake's fault as the reason, and restarted. */
static void monitor_gets_reason(enum fake_mode mode, int delay_ms, const char *want)
{
	char svc[600], sock[600], envdir[600], line[4096], why[256];
	snprintf(svc, sizeof(svc), "%s", tl_path("sleeper"));
	write_file(svc, "#!/bin/sh\nexec sleep 1000\n", 0755);
	snprintf(sock, sizeof(sock), "%s", tl_path("fake.sock"));
	fake_start(sock, mode, delay_ms);
	snprintf(envdir, sizeof(envdir), "RON_RUN_DIR=%s/run", tl_dir());
	char *argv[] = {MONITOR, "--name", "svc-storage", "--bin", svc, "--sock", sock, NULL};
	char *env[] = {envdir,
		       "RON_HEALTH_INTERVAL_MS=100",
		       "RON_HEALTH_TIMEOUT_MS=80",
		       "RON_START_TIMEOUT_MS=400",
		       "RON_STOP_TIMEOUT_MS=1000",
		       "RON_BACKOFF_MIN_MS=20",
		       "RON_BACKOFF_MAX_MS=100",
		       "RON_RESTART_CAP=100",
		       NULL};
	int out;
	static struct tl_lines r;
	pid_t mon = tl_spawn(argv, env, &out, NULL);
	tl_lines_init(&r, out);
	struct report rep;
	bool unhealthy = false, restarted = false;
	int64_t deadline = clock_mono_us() + (int64_t)WAIT_MS * 1000;
	while (!restarted && tl_next_line(&r, line, sizeof(line),
					  clock_poll_timeout(deadline, clock_mono_us()))) {
		if (line[0] != '{' || report_decode(line, strlen(line), &rep, why, sizeof(why)) < 0)
			continue;
		cr_assert_neq(rep.event, EV_READY, "ready on a bad reply: %s", line);
		if (rep.event == EV_UNHEALTHY) {
			cr_assert(strstr(rep.reason, want), "reason: %s", rep.reason);
			unhealthy = true;
		}
		restarted = unhealthy && rep.event == EV_SPAWNED;
	}
	cr_assert(unhealthy && restarted, "no unhealthy then spawned:\n%s", r.log);
	int st;
	cr_assert_eq(kill(mon, SIGTERM), 0);
	cr_assert(tl_wait_exit(mon, WAIT_MS, &st));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "monitor exit %#x", st);
}

/* Finding: a reply's variant name reached the kernel's lines raw (invalid UTF-8 in
 * its JSON, a C1 control in its text).  The reason names it escaped. */
Test(badinput, reply_variant_of_controls_and_bad_utf8_is_escaped_in_the_reason)
{
	struct health_result r = fake_check(FK_BAD_VARIANT, 0, 2000, NULL);
	cr_assert_not(r.ok);
	cr_assert_str_eq(r.reason, "payload is \\xc2\\x9b31m\\xff\\x01, not HealthOk");
}

Test(badinput, monitor_reports_an_escaped_variant_as_the_reason)
{
	monitor_gets_reason(FK_BAD_VARIANT, 0, "payload is \\xc2\\x9b31m\\xff\\x01");
}

Test(badinput, monitor_reports_wrong_corr_id_as_the_reason)
{
	monitor_gets_reason(FK_WRONG_CORR, 0, "corr_id mismatch: sent ");
}

Test(badinput, monitor_reports_a_slow_reply_as_a_timeout)
{
	monitor_gets_reason(FK_DELAY, 1000, "timeout after 80 ms waiting for reply");
}

/* --- the path walk: every component, never by path again ---------------------------------- */

Test(badinput, run_dir_trailing_slash_on_a_symlink_refused)
{
	char path[700];
	cr_assert_eq(mkdir(tl_path("safe"), 0700), 0);
	cr_assert_eq(symlink(tl_path("safe"), tl_path("to-safe")), 0);
	/* A trailing slash made lstat(2) follow the link, so it passed for a directory. */
	const char *tails[] = {"/", "//", "/."};
	for (int i = 0; i < 3; i++) {
		char kv[800];
		snprintf(path, sizeof(path), "%s%s", tl_path("to-safe"), tails[i]);
		snprintf(kv, sizeof(kv), "RON_RUN_DIR=%s", path);
		const char *vars[] = {kv, NULL};
		expect_78(KERNEL, vars, NULL, "symbolic link");
		expect_78(KERNEL, vars, NULL, tl_path("to-safe"));
	}
}

Test(badinput, run_dir_symlinked_parent_refused)
{
	char kv[800];
	cr_assert_eq(mkdir(tl_path("real"), 0700), 0);
	cr_assert_eq(symlink(tl_path("real"), tl_path("link")), 0);
	snprintf(kv, sizeof(kv), "RON_RUN_DIR=%s/run", tl_path("link"));
	const char *vars[] = {kv, NULL};
	expect_78(KERNEL, vars, NULL, "symbolic link");
	expect_78(KERNEL, vars, NULL, tl_path("link"));
	cr_assert_neq(access(tl_path("real/run"), F_OK), 0, "made a directory behind the link");
	/* The same for a socket's directory. */
	snprintf(kv, sizeof(kv), "RON_INDEX_SOCK=%s/sub/svc-index.sock", tl_path("link"));
	expect_78(KERNEL, vars, NULL, "RON_INDEX_SOCK");
	expect_78(KERNEL, vars, NULL, "symbolic link");
}

Test(badinput, run_dir_dotdot_refused)
{
	char kv[800];
	cr_assert_eq(mkdir(tl_path("a"), 0700), 0);
	snprintf(kv, sizeof(kv), "RON_RUN_DIR=%s/../run", tl_path("a"));
	const char *vars[] = {kv, NULL};
	expect_78(KERNEL, vars, NULL, "\"..\" in the path");
}

#define NOBODY 65534

/* A directory on the way that another user owns: they could swap what lies below. */
Test(badinput, run_dir_under_another_users_directory_refused)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to make a directory of another user");
	char kv[800];
	cr_assert_eq(mkdir(tl_path("theirs"), 0755), 0);
	cr_assert_eq(chown(tl_path("theirs"), NOBODY, NOBODY), 0);
	snprintf(kv, sizeof(kv), "RON_RUN_DIR=%s/run", tl_path("theirs"));
	const char *vars[] = {kv, NULL};
	expect_78(KERNEL, vars, NULL, "owned by uid 65534, neither root nor us");
}

static pid_t racer;

static void racer_stop(void)
{
	if (racer > 0) {
		kill(racer, SIGKILL);
		waitpid(racer, NULL, 0);
		racer = 0;
	}
}

static void bi_teardown_racer(void)
{
	racer_stop();
	bi_teardown();
}

/* The attack of issue 13: an unprivileged user who owns a parent of the run
 * directory swaps it with a directory of theirs (renameat2 RENAME_EXCHANGE in a
 * loop) holding a status.json that names a victim by pid and start time.  A kernel
 * started as root meanwhile must refuse, and never signal the victim. */
Test(badinput, renameat2_exchange_racer_is_harmless, .fini = bi_teardown_racer)
{
	if (geteuid() != 0)
		cr_skip_test("needs root: the racer runs as another user");
	char att[700], run[800], decoy[800], kv[900], json[2048];
	/* The racer must reach its directory through ours. */
	cr_assert_eq(chmod(tl_dir(), 0711), 0);
	snprintf(att, sizeof(att), "%s", tl_path("att"));
	snprintf(run, sizeof(run), "%s/run", att);
	snprintf(decoy, sizeof(decoy), "%s/decoy", att);
	cr_assert_eq(mkdir(att, 0755), 0);
	cr_assert_eq(mkdir(run, 0700), 0); /* as an administrator made it once */
	cr_assert_eq(mkdir(decoy, 0700), 0);

	char *vargv[] = {"/bin/sleep", "1000", NULL};
	char *venv[] = {"RON_RUN_DIR=", NULL};
	pid_t victim = tl_spawn(vargv, venv, NULL, NULL);
	unsigned long long ticks = 0;
	char path[64], stat[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)victim);
	cr_assert_gt(tl_read_file(path, stat, sizeof(stat)), 0);
	const char *p = strrchr(stat, ')');
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	cr_assert(p && sscanf(p, " %llu", &ticks) == 1);
	char boot[64] = "";
	cr_assert_gt(tl_read_file("/proc/sys/kernel/random/boot_id", boot, sizeof(boot)), 0);
	boot[strcspn(boot, "\n")] = '\0';
	snprintf(json, sizeof(json),
		 "{\"v\":1,\"kernel_pid\":1,\"kernel_start\":1,\"boot_id\":\"%s\",\"state\":"
		 "\"running\",\"services\":[{\"service\":\"svc-index\",\"state\":\"healthy\","
		 "\"pid\":%d,\"start\":%llu,\"mpid\":%d,\"mstart\":%llu}]}\n",
		 boot, (int)victim, ticks, (int)victim, ticks);
	char file[900];
	snprintf(file, sizeof(file), "%s/status.json", decoy);
	FILE *f = fopen(file, "w");
	cr_assert(f);
	fputs(json, f);
	fclose(f);
	cr_assert_eq(chown(decoy, NOBODY, NOBODY), 0);
	cr_assert_eq(chown(file, NOBODY, NOBODY), 0);
	cr_assert_eq(chown(att, NOBODY, NOBODY), 0);

	racer = fork();
	cr_assert_geq(racer, 0);
	if (racer == 0) {
		if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
			_exit(2);
		for (;;)
			if (renameat2(AT_FDCWD, run, AT_FDCWD, decoy, RENAME_EXCHANGE) < 0)
				_exit(3);
	}
	snprintf(kv, sizeof(kv), "RON_RUN_DIR=%s", run);
	const char *vars[] = {kv, NULL};
	for (int i = 0; i < 20; i++) {
		char out[4096], err[4096];
		int st = bi_run(KERNEL, vars, NULL, out, sizeof(out), err, sizeof(err));
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 78, "start %d: status %#x: %s", i, st,
			  err);
		cr_assert(strstr(err, "owned by uid 65534"), "start %d: %s", i, err);
		cr_assert(tl_pid_alive(victim), "the victim was signalled");
	}
	int st;
	cr_assert_eq(waitpid(racer, &st, WNOHANG), 0, "the racer stopped: %#x", st);
	racer_stop();
	cr_assert(tl_pid_alive(victim), "the victim was signalled");
}
