/* Integration tests of config-file services: the real kernel and monitors running
 * a table from a file (svc-sim under any name, shell services with health = none),
 * start order, a dependency that never becomes ready, user changes, status detail. */
#include <errno.h>
#include <fcntl.h>
#include <json.h>
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

TestSuite(kernel_config, .init = tl_setup, .fini = tl_teardown, .timeout = 120);

Test(kernel_config, twelve_services_of_every_kind_run_and_stop)
{
	struct kc k;
	char all[16384] = "", sec[1024], line[4096];
	/* Three under the seed names (their sockets from the file), seven svc-sim under
	 * names of their own, two processes with no socket at all. */
	static const char *const seeds[] = {"svc-index", "svc-overlay", "svc-storage"};
	for (int i = 0; i < 3; i++) {
		snprintf(sec, sizeof(sec),
			 "[service %s]\nbin = %s/sim/%s\nsocket = %s/s/%s.sock\n\n", seeds[i],
			 RON_BUILD_DIR, seeds[i], tl_dir(), seeds[i]);
		strcat(all, sec);
	}
	for (int i = 0; i < 7; i++) {
		char name[32];
		snprintf(name, sizeof(name), "sim-%d", i);
		sim_section(sec, sizeof(sec), name, i == 3 ? "health_timeout_ms = 150" : NULL);
		strcat(all, sec);
	}
	for (int i = 0; i < 2; i++) {
		snprintf(sec, sizeof(sec),
			 "[service plain-%d]\nbin = /bin/sh\nargs = -c \"exec sleep 1000\"\n"
			 "health = none\n\n",
			 i);
		strcat(all, sec);
	}
	kc_write(&k, "%s", all);
	kc_start(&k, NULL);
	EXPECT(&k, line, "event=start", "services=12");
	EXPECT(&k, line, "event=all_ready");
	EXPECT(&k, line, "event=status", "summary=\"12/12 healthy\"");
	cr_assert(tl_wait_for(kc_all_healthy, NULL, KC_WAIT_MS));
	cr_assert_eq(kc_rows(), 12);
	char state[32];
	pid_t pid;
	cr_assert(kc_row("plain-1", state, sizeof(state), &pid));
	cr_assert_str_eq(state, "healthy");
	cr_assert(tl_pid_alive(pid));
	cr_assert(kc_row("sim-6", state, sizeof(state), &pid));
	cr_assert_str_eq(state, "healthy");
	kc_stop(&k);
	char kv[700];
	snprintf(kv, sizeof(kv), "RON_RUN_DIR=%s/run", tl_dir());
	pid_t left[8];
	cr_assert_eq(tl_procs_with_env(kv, left, 8), 0, "processes left after stop");
}

Test(kernel_config, after_chain_starts_in_order)
{
	struct kc k;
	char a[512], b[512], c[512], line[4096];
	/* Declared in reverse: the order comes from `after`, not from the file. */
	sim_section(c, sizeof(c), "c", "after = b");
	sim_section(b, sizeof(b), "b", "after = a\nenv = SIM_START_DELAY_MS=150");
	sim_section(a, sizeof(a), "a", "env = SIM_START_DELAY_MS=150");
	kc_write(&k, "%s\n%s\n%s", c, b, a);
	kc_start(&k, NULL);
	EXPECT(&k, line, "event=all_ready");
	long a_ready = kc_pos(&k, "event=ready", "service=a "),
	     b_start = kc_pos(&k, "event=monitor_started", "service=b "),
	     b_spawn = kc_pos(&k, "event=spawned", "service=b "),
	     b_ready = kc_pos(&k, "event=ready", "service=b "),
	     c_start = kc_pos(&k, "event=monitor_started", "service=c "),
	     c_spawn = kc_pos(&k, "event=spawned", "service=c ");
	cr_assert(a_ready >= 0 && b_start >= 0 && b_spawn >= 0 && b_ready >= 0 && c_start >= 0 &&
		      c_spawn >= 0,
		  "missing lines:\n%s", k.r.log);
	cr_assert_lt(a_ready, b_start, "b started before a was ready:\n%s", k.r.log);
	cr_assert_lt(b_ready, c_start, "c started before b was ready:\n%s", k.r.log);
	cr_assert_lt(b_spawn, c_spawn);
	cr_assert_null(strstr(k.r.log, "event=waiting"), "%s", k.r.log);
	kc_stop(&k);
}

Test(kernel_config, a_dependency_never_ready_does_not_wedge_the_dependent)
{
	struct kc k;
	char x[512], y[512], line[4096];
	sim_section(x, sizeof(x), "never", "env = SIM_MODE=hang\nstart_timeout_ms = 30000");
	sim_section(y, sizeof(y), "dependent", "after = never\nstart_timeout_ms = 1500");
	kc_write(&k, "%s\n%s", x, y);
	int64_t t0 = clock_mono_us();
	kc_start(&k, NULL);
	EXPECT(&k, line, "event=waiting", "service=dependent", "for=never");
	int64_t waited_ms = (clock_mono_us() - t0) / 1000;
	cr_assert_geq(waited_ms, 1400, "gave up waiting after %lld ms", (long long)waited_ms);
	cr_assert(strstr(line, "not ready within the start timeout"), "%s", line);
	EXPECT(&k, line, "event=ready", "service=dependent");
	cr_assert(kc_pos(&k, "event=ready", "service=never ") < 0, "%s", k.r.log);
	kc_stop(&k);
}

Test(kernel_config, a_quarantined_dependency_releases_the_dependent_at_once)
{
	struct kc k;
	char x[512], y[512], line[4096];
	sim_section(x, sizeof(x), "broken", "env = SIM_EXIT_ON_START=3\nrestart_cap = 1");
	sim_section(y, sizeof(y), "dependent", "after = broken\nstart_timeout_ms = 60000");
	kc_write(&k, "%s\n%s", x, y);
	kc_start(&k, NULL);
	EXPECT(&k, line, "event=quarantined", "service=broken");
	EXPECT(&k, line, "event=waiting", "service=dependent", "for=broken", "quarantined");
	EXPECT(&k, line, "event=ready", "service=dependent");
	kc_stop(&k);
}

/* Reads /proc/PID/environ's entry for name into buf; false if it has none. */
static bool proc_env(pid_t pid, const char *name, char *buf, size_t cap)
{
	char path[64], data[65536];
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	ssize_t n = tl_read_file(path, data, sizeof(data) - 1);
	if (n <= 0)
		return false;
	data[n] = '\0';
	size_t len = strlen(name);
	for (char *p = data; p < data + n; p += strlen(p) + 1)
		if (strncmp(p, name, len) == 0 && p[len] == '=') {
			snprintf(buf, cap, "%s", p + len + 1);
			return true;
		}
	return false;
}

/* A file whose whole content is want. */
struct file_wait {
	char path[700], want[1400], got[1400];
};

static bool file_holds(void *arg)
{
	struct file_wait *w = arg;
	ssize_t n = tl_read_file(w->path, w->got, sizeof(w->got) - 1);
	w->got[n > 0 ? n : 0] = '\0';
	return strcmp(w->got, w->want) == 0;
}

static bool has_own_env(void *arg)
{
	char v[8];
	return proc_env(*(pid_t *)arg, "OWN", v, sizeof(v));
}

static bool healthy_row(void *arg)
{
	char state[32];
	pid_t pid;
	return kc_row(arg, state, sizeof(state), &pid) && strcmp(state, "healthy") == 0;
}

Test(kernel_config, environment_args_and_working_dir_reach_the_service)
{
	struct kc k;
	char a[512], line[4096], v[700];
	snprintf(a, sizeof(a),
		 "[service svc-a]\nbin = %s/sim/svc-sim\nargs = --name svc-a --sock-env A_SOCKET\n"
		 "socket_env = A_SOCKET\n",
		 RON_BUILD_DIR);
	char dir[600];
	snprintf(dir, sizeof(dir), "%s/work", tl_dir());
	cr_assert_eq(mkdir(dir, 0700), 0);
	kc_write(
	    &k,
	    "%s\n"
	    "[service shell]\n"
	    "bin = /bin/sh\n"
	    "args = -c \"pwd > out; echo \\\"$1\\\" >> out; exec sleep 1000\" sh \"two words\"\n"
	    "health = none\n"
	    "working_dir = %s\n"
	    "env = OWN=1\n"
	    "env = A_SOCKET=mine\n",
	    a, dir);
	kc_start(&k, NULL);
	EXPECT(&k, line, "event=all_ready");
	cr_assert(tl_wait_for(kc_all_healthy, NULL, WAIT_MS));
	char state[32];
	pid_t sh, sa;
	cr_assert(kc_row("shell", state, sizeof(state), &sh));
	cr_assert(kc_row("svc-a", state, sizeof(state), &sa));
	/* A service without a health check is healthy once spawned, which may be before
	 * its exec: its output file, written just before it execs sleep, says it ran. */
	struct file_wait out = {.want = ""};
	snprintf(out.path, sizeof(out.path), "%s/out", dir);
	snprintf(out.want, sizeof(out.want), "%s\ntwo words\n", dir);
	cr_assert(tl_wait_for(file_holds, &out, WAIT_MS), "%s: '%s', not '%s'", out.path, out.got,
		  out.want);
	/* Every socket variable reaches every service, but a service's own env wins. */
	cr_assert(proc_env(sa, "A_SOCKET", v, sizeof(v)));
	char want[700];
	snprintf(want, sizeof(want), "%s/run/svc-a.sock", tl_dir());
	cr_assert_str_eq(v, want);
	/* Its environment is read empty for a moment while it execs sleep. */
	cr_assert(tl_wait_for(has_own_env, &sh, WAIT_MS), "no OWN in the shell's environment");
	cr_assert(proc_env(sh, "A_SOCKET", v, sizeof(v)));
	cr_assert_str_eq(v, "mine");
	cr_assert(proc_env(sh, "OWN", v, sizeof(v)));
	cr_assert_str_eq(v, "1");
	kc_stop(&k);
}

Test(kernel_config, stop_signal_is_used_for_the_graceful_stop)
{
	struct kc k;
	char a[512], line[4096];
	/* It ignores SIGTERM, so only its stop signal can end it before SIGKILL. */
	sim_section(a, sizeof(a), "ignores-term", "env = SIM_IGNORE_SIGTERM=1\nstop_signal = INT");
	kc_write(&k, "%s", a);
	kc_start(&k, NULL);
	EXPECT(&k, line, "event=all_ready");
	cr_assert_eq(kill(k.pid, SIGTERM), 0);
	EXPECT(&k, line, "event=exited", "service=ignores-term");
	cr_assert(strstr(line, "signal=SIGINT"), "%s", line);
	int st;
	cr_assert(tl_wait_exit(k.pid, WAIT_MS, &st));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

Test(kernel_config, status_line_past_the_detail_limit_gives_counts)
{
	struct kc k;
	char all[4096] = "", sec[512], line[4096];
	for (int i = 0; i < 4; i++) {
		char name[16];
		snprintf(name, sizeof(name), "s%d", i);
		sim_section(sec, sizeof(sec), name, NULL);
		strcat(all, sec);
	}
	kc_write(&k, "%s", all);
	char *extra[] = {"RON_STATUS_DETAIL=2", NULL};
	kc_start(&k, extra);
	EXPECT(&k, line, "event=all_ready");
	EXPECT(&k, line, "event=status", "summary=\"4/4 healthy\"");
	cr_assert(strstr(line, "counts=healthy=4") || strstr(line, "counts=\"healthy=4\""), "%s",
		  line);
	cr_assert_null(strstr(line, "s0.state"), "%s", line);
	kc_stop(&k);
}

static bool proc_uid(pid_t pid, unsigned *uid)
{
	char path[64], data[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	ssize_t n = tl_read_file(path, data, sizeof(data) - 1);
	if (n <= 0)
		return false;
	data[n] = '\0';
	const char *p = strstr(data, "\nUid:");
	return p && sscanf(p + 5, "%u", uid) == 1;
}

Test(kernel_config, user_runs_the_service_as_that_user)
{
	if (geteuid() != 0) {
		cr_skip_test("needs root: `user` changes the service's user");
		return;
	}
	struct kc k;
	char a[1024], line[4096];
	/* nobody must pass through the test directory to its socket directory. */
	cr_assert_eq(chmod(tl_dir(), 0711), 0);
	char extra[700];
	snprintf(extra, sizeof(extra), "user = nobody\nsocket = %s/run/nob/svc.sock", tl_dir());
	sim_section(a, sizeof(a), "as-nobody", extra);
	kc_write(&k, "%s", a);
	kc_start(&k, NULL);
	EXPECT(&k, line, "event=all_ready");
	cr_assert(tl_wait_for(kc_all_healthy, NULL, WAIT_MS));
	char state[32];
	pid_t pid;
	cr_assert(kc_row("as-nobody", state, sizeof(state), &pid));
	unsigned uid = 0;
	cr_assert(proc_uid(pid, &uid));
	cr_assert_eq(uid, 65534, "service runs as uid %u", uid);
	struct stat st;
	char dir[700];
	snprintf(dir, sizeof(dir), "%s/run/nob", tl_dir());
	cr_assert_eq(stat(dir, &st), 0);
	cr_assert_eq(st.st_uid, 65534);
	cr_assert_eq(st.st_mode & 0777, 0700);
	kc_stop(&k);
}

Test(kernel_config, a_user_socket_in_the_run_directory_is_refused)
{
	if (geteuid() != 0) {
		cr_skip_test("needs root: `user` changes the service's user");
		return;
	}
	struct kc k;
	char a[1024], out[4096], err[4096];
	sim_section(a, sizeof(a), "as-nobody", "user = nobody");
	kc_write(&k, "%s", a);
	char *argv[] = {RON_BUILD_DIR "/ron-kernel", "--config", k.conf, NULL};
	int st = tl_run(argv, kc_env(NULL), out, sizeof(out), err, sizeof(err), WAIT_MS);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 78, "status %#x: %s", st, err);
	cr_assert(strstr(err, "needs a directory of its own"), "%s", err);
}

Test(kernel_config, a_missing_binary_is_reported_and_the_rest_runs)
{
	struct kc k;
	char a[512], line[4096];
	sim_section(a, sizeof(a), "fine", NULL);
	kc_write(&k, "%s\n[service gone]\nbin = %s/no-such-binary\nhealth = none\n", a, tl_dir());
	kc_start(&k, NULL);
	EXPECT(&k, line, "event=spawn_failed", "service=gone");
	cr_assert(strstr(line, "No such file or directory"), "%s", line);
	cr_assert(tl_wait_for(healthy_row, "fine", WAIT_MS));
	kc_stop(&k);
}

/* Finding: timeout -s INT delivers SIGINT twice within a millisecond (to the process
 * and its group), and the kernel took the second for a person asking again and
 * SIGKILLed everything.  A second stop signal counts from a second on. */
static void stop_twice(int64_t gap_ms, bool want_now)
{
	struct kc k;
	char a[512], line[4096];
	/* It ignores SIGTERM: only its monitor's SIGKILL, after stop_timeout_ms, ends it. */
	sim_section(a, sizeof(a), "slow-stop",
		    "env = SIM_IGNORE_SIGTERM=1\nstop_timeout_ms = 4000");
	kc_write(&k, "%s", a);
	kc_start(&k, NULL);
	EXPECT(&k, line, "event=all_ready");
	cr_assert_eq(kill(k.pid, SIGINT), 0);
	EXPECT(&k, line, "event=shutdown", "signal=SIGINT");
	int64_t again = clock_mono_us() + gap_ms * 1000;
	while (clock_mono_us() < again)
		tl_next_line(&k.r, line, sizeof(line), clock_poll_timeout(again, clock_mono_us()));
	cr_assert_eq(kill(k.pid, SIGINT), 0);
	int st;
	cr_assert(tl_wait_exit(k.pid, WAIT_MS, &st), "%s", k.r.log);
	while (tl_next_line(&k.r, line, sizeof(line), 100))
		;
	cr_assert_eq(strstr(k.r.log, "event=shutdown_now") != NULL, want_now, "%s", k.r.log);
	if (!want_now)
		cr_assert_null(strstr(k.r.log, "event=killed"), "%s", k.r.log);
}

Test(kernel_config, a_stop_signal_delivered_twice_at_once_is_one_request)
{
	stop_twice(0, false);
}

Test(kernel_config, a_stop_signal_a_second_later_stops_waiting)
{
	stop_twice(1100, true);
}
