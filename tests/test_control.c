/* Integration tests of the control socket and the ron-kernel commands, through the
 * real socket: every command's success and failure with its exit status, hostile
 * clients (a huge request, a silent one, 100 at once, another user), reload, and
 * colour only on a terminal. */
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "clock.h"
#include "../kernel/kernel.h"
#include "../kernel/observe.h"
#include "kconf.h"
#include "testlib.h"

TestSuite(control, .init = tl_setup, .fini = tl_teardown, .timeout = 120);

/* ron-kernel ARGS... against this test's kernel (its config file names the run dir). */
static void ctl(struct kc *k, struct kc_out *o, char *const args[])
{
	kc_ctl_at(k->conf, o, args);
}

/* Two svc-sim services, a and b, plus what the test adds. */
static void ct_start(struct kc *k, const char *more)
{
	char a[512], b[512], line[4096];
	sim_section(a, sizeof(a), "a", NULL);
	sim_section(b, sizeof(b), "b", NULL);
	kc_write(k, "%s\n%s\n%s", a, b, more ? more : "");
	kc_start(k, NULL);
	EXPECT(k, line, "event=all_ready");
	cr_assert(tl_wait_for(kc_all_healthy, NULL, KC_WAIT_MS), "status.json not all healthy");
}

static const char *state_of(const char *name)
{
	static char state[32];
	pid_t pid;
	cr_assert(kc_row(name, state, sizeof(state), &pid), "%s not in status.json", name);
	return state;
}

Test(control, restart_gives_a_new_healthy_process_and_leaves_the_rest)
{
	struct kc k;
	struct kc_out o;
	ct_start(&k, NULL);
	pid_t a0 = kc_pid("a"), b0 = kc_pid("b");
	ctl(&k, &o, (char *[]){"restart", "a", NULL});
	KC_EXIT_IS(o, 0);
	cr_assert(strstr(o.out, "a: restarted, pid "), "%s", o.out);
	cr_assert(strstr(o.out, "healthy"), "%s", o.out);
	pid_t a1 = kc_pid("a");
	cr_assert_neq(a1, a0);
	cr_assert(tl_pid_alive(a1));
	cr_assert_not(tl_pid_alive(a0));
	cr_assert_eq(kc_pid("b"), b0, "b was touched");
	kc_stop(&k);
}

Test(control, lift_or_start_of_a_healthy_service_says_there_was_nothing_to_do)
{
	struct kc k;
	struct kc_out o;
	ct_start(&k, NULL);
	pid_t a0 = kc_pid("a");
	ctl(&k, &o, (char *[]){"lift", "a", NULL});
	KC_EXIT_IS(o, 0);
	cr_assert_str_eq(o.out, "a: already healthy, nothing to lift\n");
	ctl(&k, &o, (char *[]){"start", "a", NULL});
	KC_EXIT_IS(o, 0);
	cr_assert_str_eq(o.out, "a: already running\n");
	cr_assert_eq(kc_pid("a"), a0, "a was restarted");
	kc_stop(&k);
}

Test(control, stop_keeps_down_check_passes_start_brings_it_back)
{
	struct kc k;
	struct kc_out o;
	char line[4096];
	ct_start(&k, NULL);
	pid_t a0 = kc_pid("a");
	ctl(&k, &o, (char *[]){"stop", "a", NULL});
	KC_EXIT_IS(o, 0);
	cr_assert(strstr(o.out, "a: down"), "%s", o.out);
	cr_assert_not(tl_pid_alive(a0));
	EXPECT(&k, line, "event=down", "service=a");
	KC_WAIT_STATE("a", "down");
	/* Not meant to run, so not a failure. */
	ctl(&k, &o, (char *[]){"--check", NULL});
	KC_EXIT_IS(o, 0);
	ctl(&k, &o, (char *[]){"status", NULL});
	KC_EXIT_IS(o, 0);
	cr_assert(strstr(o.out, "1/1 healthy; a down"), "%s", o.out);
	cr_assert(strstr(o.out, "\na            down "), "service first: %s", o.out);
	/* A kill of its monitor does not bring it back. */
	ctl(&k, &o, (char *[]){"start", "a", NULL});
	KC_EXIT_IS(o, 0);
	cr_assert(strstr(o.out, "a: started, pid "), "%s", o.out);
	KC_WAIT_STATE("a", "healthy");
	kc_stop(&k);
}

Test(control, a_down_service_stays_down_under_a_replaced_monitor)
{
	struct kc k;
	struct kc_out o;
	char line[4096];
	ct_start(&k, NULL);
	ctl(&k, &o, (char *[]){"stop", "a", NULL});
	KC_EXIT_IS(o, 0);
	char state[32];
	pid_t pid;
	cr_assert(kc_row("a", state, sizeof(state), &pid));
	EXPECT(&k, line, "event=down", "service=a", "mpid=");
	const char *m = strstr(line, "mpid=");
	pid_t mpid = (pid_t)atoi(m + 5);
	cr_assert_eq(kill(mpid, SIGKILL), 0);
	EXPECT(&k, line, "event=monitor_started", "service=a");
	EXPECT(&k, line, "event=down", "service=a");
	cr_assert(kc_pos(&k, "event=spawned", "service=a restarts=1") < 0, "%s", k.r.log);
	KC_WAIT_STATE("a", "down");
	kc_stop(&k);
}

static pid_t mkc_pid(const char *name)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/run/status.json", tl_dir());
	json_object *o = json_object_from_file(path), *a, *v;
	pid_t mpid = 0;
	for (size_t i = 0;
	     o && json_object_object_get_ex(o, "services", &a) && i < json_object_array_length(a);
	     i++) {
		json_object *e = json_object_array_get_idx(a, i);
		if (json_object_object_get_ex(e, "service", &v) &&
		    strcmp(json_object_get_string(v), name) == 0 &&
		    json_object_object_get_ex(e, "mpid", &v))
			mpid = json_object_get_int(v);
	}
	json_object_put(o);
	cr_assert_gt(mpid, 0, "no monitor of %s in status.json", name);
	return mpid;
}

/* A stop written to a monitor that is frozen: the kernel replaces the monitor for its
 * silence, and the replacement finishes the stop its predecessor never read. */
Test(control, a_stop_sent_to_a_frozen_monitor_is_carried_out_by_its_replacement)
{
	struct kc k;
	struct kc_out o;
	char line[4096];
	ct_start(&k, NULL);
	pid_t a0 = kc_pid("a");
	cr_assert_eq(kill(mkc_pid("a"), SIGSTOP), 0);
	ctl(&k, &o, (char *[]){"stop", "--timeout=20", "a", NULL});
	KC_EXIT_IS(o, 0);
	cr_assert(strstr(o.out, "a: down"), "%s", o.out);
	cr_assert_not(tl_pid_alive(a0));
	EXPECT(&k, line, "event=monitor_frozen", "service=a");
	KC_WAIT_STATE("a", "down");
	cr_assert(kc_pos(&k, "event=spawned", "service=a restarts=1") < 0, "%s", k.r.log);
	kc_stop(&k);
}

/* A monitor killed while its service ignores SIGTERM: its replacement keeps the
 * SIGKILL deadline and, the stop being wanted, leaves the service down. */
Test(control, a_stop_whose_monitor_is_killed_midway_ends_down)
{
	struct kc k;
	char line[4096], a[512];
	sim_section(a, sizeof(a), "a", "env = SIM_IGNORE_SIGTERM=1");
	kc_write(&k, "%s", a);
	kc_start(&k, NULL);
	EXPECT(&k, line, "event=all_ready");
	cr_assert(tl_wait_for(kc_all_healthy, NULL, KC_WAIT_MS), "status.json not all healthy");
	pid_t a0 = kc_pid("a"), m0 = mkc_pid("a");
	char *argv[] = {
	    RON_BUILD_DIR "/ron-kernel", "--config", k.conf, "stop", "--timeout=20", "a", NULL};
	int fd;
	pid_t client = tl_spawn(argv, kc_env(NULL), &fd, NULL);
	EXPECT(&k, line, "event=stopping", "service=a");
	cr_assert_eq(kill(m0, SIGKILL), 0);
	EXPECT(&k, line, "event=monitor_lost", "service=a");
	static struct tl_lines out;
	tl_lines_init(&out, fd);
	cr_assert(tl_expect(&out, line, sizeof(line), KC_WAIT_MS, "a: ", NULL), "no answer");
	cr_assert(strstr(line, "a: down"), "%s\n%s", line, k.r.log);
	int st;
	cr_assert(tl_wait_exit(client, KC_WAIT_MS, &st));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "stop exited %#x", st);
	cr_assert_not(tl_pid_alive(a0));
	KC_WAIT_STATE("a", "down");
	cr_assert(kc_pos(&k, "event=spawned", "service=a restarts=1") < 0, "%s", k.r.log);
	kc_stop(&k);
}

Test(control, unknown_names_get_a_suggestion_and_exit_64)
{
	struct kc k;
	struct kc_out o;
	char more[1024];
	snprintf(more, sizeof(more),
		 "[service svc-index]\nbin = %s/sim/svc-index\nsocket = %s/ix.sock\n",
		 RON_BUILD_DIR, tl_dir());
	ct_start(&k, more);
	ctl(&k, &o, (char *[]){"restart", "svc-indx", NULL});
	KC_EXIT_IS(o, 64);
	cr_assert(strstr(o.err, "no service named svc-indx; did you mean svc-index?"), "%s", o.err);
	ctl(&k, &o, (char *[]){"stop", "a", "nope", NULL});
	KC_EXIT_IS(o, 64);
	cr_assert_str_eq(state_of("a"), "healthy", "a was stopped although a name was bad");
	ctl(&k, &o, (char *[]){"status", "nope", NULL});
	KC_EXIT_IS(o, 4);
	ctl(&k, &o, (char *[]){"restart", NULL});
	KC_EXIT_IS(o, 64);
	ctl(&k, &o, (char *[]){"signal", "NOSUCH", "a", NULL});
	KC_EXIT_IS(o, 64);
	cr_assert(strstr(o.err, "not a signal"), "%s", o.err);
	kc_stop(&k);
}

Test(control, signal_reaches_the_service_and_not_a_down_one)
{
	struct kc k;
	struct kc_out o;
	char line[4096];
	ct_start(&k, NULL);
	/* svc-sim hangs on SIGUSR1: its checks start failing. */
	ctl(&k, &o, (char *[]){"signal", "USR1", "a", NULL});
	KC_EXIT_IS(o, 0);
	cr_assert(strstr(o.out, "a: signalled"), "%s", o.out);
	EXPECT(&k, line, "event=degraded", "service=a");
	ctl(&k, &o, (char *[]){"stop", "b", NULL});
	KC_EXIT_IS(o, 0);
	ctl(&k, &o, (char *[]){"signal", "HUP", "b", NULL});
	KC_EXIT_IS(o, 1);
	cr_assert(strstr(o.out, "b: not running (down)"), "%s", o.out);
	kc_stop(&k);
}

Test(control, a_restart_that_never_becomes_healthy_says_where_it_stands)
{
	struct kc k;
	struct kc_out o;
	char slow[512];
	sim_section(slow, sizeof(slow), "slow", "env = SIM_START_DELAY_MS=20000");
	char a[512], line[4096];
	sim_section(a, sizeof(a), "a", NULL);
	kc_write(&k, "%s\n%s", a, slow);
	kc_start(&k, NULL);
	EXPECT(&k, line, "event=ready", "service=a");
	ctl(&k, &o, (char *[]){"restart", "--timeout=0.5", "slow", NULL});
	KC_EXIT_IS(o, 1);
	/* One verdict, not "restarted" and "not healthy" at once. */
	cr_assert(strstr(o.out, "slow: not healthy after 0.5 s: starting, pid "), "%s", o.out);
	cr_assert_null(strstr(o.out, "restarted"), "%s", o.out);
	/* --no-wait returns once the kernel has it. */
	ctl(&k, &o, (char *[]){"restart", "--no-wait", "slow", NULL});
	KC_EXIT_IS(o, 0);
	cr_assert(strstr(o.out, "slow: accepted"), "%s", o.out);
	kc_stop(&k);
}

Test(control, lift_ends_a_quarantine_now)
{
	struct kc k;
	struct kc_out o;
	char more[1024], line[4096], flag[600];
	snprintf(flag, sizeof(flag), "%s/flag", tl_dir());
	/* Crashes until the flag exists: quarantined after one restart. */
	snprintf(more, sizeof(more),
		 "[service flaky]\nbin = /bin/sh\n"
		 "args = -c \"test -e %s || exit 3; exec %s/sim/svc-sim --name flaky\"\n"
		 "restart_cap = 1\nquarantine_ms = 600000\n",
		 flag, RON_BUILD_DIR);
	char a[512];
	sim_section(a, sizeof(a), "a", NULL);
	kc_write(&k, "%s\n%s", a, more);
	kc_start(&k, NULL);
	EXPECT(&k, line, "event=quarantined", "service=flaky");
	/* Like systemctl: 3 while a service that should run is not healthy. */
	ctl(&k, &o, (char *[]){"status", NULL});
	KC_EXIT_IS(o, 3);
	cr_assert(strstr(o.out, "quarantined"), "%s", o.out);
	ctl(&k, &o, (char *[]){"status", "a", NULL});
	KC_EXIT_IS(o, 0);
	ctl(&k, &o, (char *[]){"--status", NULL});
	KC_EXIT_IS(o, 3);
	ctl(&k, &o, (char *[]){"lift", "--timeout=1", "flaky", NULL});
	KC_EXIT_IS(o, 1); /* still crashing */
	EXPECT(&k, line, "event=quarantined", "service=flaky");
	int fd = open(flag, O_CREAT | O_WRONLY, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	ctl(&k, &o, (char *[]){"lift", "flaky", NULL});
	KC_EXIT_IS(o, 0);
	cr_assert(strstr(o.out, "flaky: lifted, pid "), "%s", o.out);
	KC_WAIT_STATE("flaky", "healthy");
	kc_stop(&k);
}

/* The table's lines from the column header on: the same for both commands. */
static const char *table_of(const char *out)
{
	const char *t = strstr(out, "SERVICE ");
	cr_assert(t, "no table: %s", out);
	return t;
}

Test(control, status_and_dash_status_print_one_table)
{
	struct kc k;
	struct kc_out o;
	char live[16384];
	ct_start(&k, NULL);
	ctl(&k, &o, (char *[]){"stop", "a", NULL});
	KC_EXIT_IS(o, 0);
	KC_WAIT_STATE("a", "down");
	/* A service stopped by the operator is not one that should run. */
	ctl(&k, &o, (char *[]){"status", NULL});
	KC_EXIT_IS(o, 0);
	snprintf(live, sizeof(live), "%s", table_of(o.out));
	ctl(&k, &o, (char *[]){"--status", NULL});
	KC_EXIT_IS(o, 0);
	const char *file = table_of(o.out);
	/* Same header; the same row for a (down: nothing in it moves). */
	cr_assert_eq(strcspn(live, "\n"), strcspn(file, "\n"));
	cr_assert_eq(strncmp(live, file, strcspn(live, "\n")), 0, "%s\n---\n%s", live, file);
	cr_assert(strstr(live, "PROCS") && strstr(live, "MONITOR"), "%s", live);
	const char *ra = strstr(live, "\na "), *rb = strstr(file, "\na ");
	cr_assert(ra && rb, "%s\n---\n%s", live, file);
	cr_assert_eq(strncmp(ra, rb, strcspn(ra + 1, "\n") + 1), 0, "%s\n---\n%s", live, file);
	kc_stop(&k);
}

Test(control, status_of_a_dead_kernel_is_stale_and_exits_69)
{
	struct kc k;
	struct kc_out o;
	int st;
	ct_start(&k, NULL);
	cr_assert_eq(kill(k.pid, SIGKILL), 0);
	cr_assert(tl_wait_exit(k.pid, KC_WAIT_MS, &st));
	ctl(&k, &o, (char *[]){"--status", NULL});
	KC_EXIT_IS(o, 69);
	cr_assert(strstr(o.out, "ron-kernel is not running"), "%s", o.out);
	cr_assert(strstr(o.out, "stale: the last status.json, written "), "%s", o.out);
	table_of(o.out);
	ctl(&k, &o, (char *[]){"status", NULL});
	KC_EXIT_IS(o, 69);
	cr_assert(strstr(o.out, "stale: "), "%s", o.out);
}

Test(control, not_running_exits_69)
{
	struct kc k;
	struct kc_out o;
	kc_write(&k, "[service a]\nbin = /bin/true\nhealth = none\n");
	ctl(&k, &o, (char *[]){"status", NULL});
	KC_EXIT_IS(o, 69);
	cr_assert(strstr(o.err, "not running"), "%s", o.err);
	ctl(&k, &o, (char *[]){"restart", "a", NULL});
	KC_EXIT_IS(o, 69);
	/* A usage error is one whether a kernel runs or not. */
	ctl(&k, &o, (char *[]){"signal", "FOO", "a", NULL});
	KC_EXIT_IS(o, 64);
	cr_assert(strstr(o.err, "signal FOO: not a signal to send"), "%s", o.err);
}

static int ct_connect(struct kc *k)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/run/control.sock", tl_dir());
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s",
		     strerror(errno));
	return fd;
}

/* Everything the kernel sends until it closes, within timeout_ms. */
static ssize_t ct_read_all(int fd, char *buf, size_t cap, int timeout_ms)
{
	size_t len = 0;
	int64_t deadline = clock_mono_us() + (int64_t)timeout_ms * 1000;
	while (len + 1 < cap) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, clock_poll_timeout(deadline, clock_mono_us())) <= 0)
			return -1;
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

/* The age of a process started at ticks (/proc/PID/stat field 22), in ms, now. */
static int64_t age_ms(unsigned long long ticks)
{
	struct timespec ts;
	cr_assert_eq(clock_gettime(CLOCK_BOOTTIME, &ts), 0);
	int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	return now_ms - (int64_t)(ticks * 1000 / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* The uptime the control socket reports for a, checked against the process's own
 * start time as of either end of the request: within tens of ms. */
static void uptime_matches_the_process(struct kc *k)
{
	static const char req[] = "{\"cmd\":\"status\"}\n";
	static char reply[65536];
	int64_t t0 = clock_mono_us();
	int fd = ct_connect(k);
	cr_assert_eq(write(fd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
	cr_assert_gt(ct_read_all(fd, reply, sizeof(reply), KC_WAIT_MS), 0);
	close(fd);
	int64_t t1 = clock_mono_us();
	json_object *o = json_tokener_parse(reply), *a, *e = NULL, *v;
	cr_assert(o && json_object_object_get_ex(o, "services", &a), "%s", reply);
	for (size_t i = 0; i < json_object_array_length(a); i++)
		if (json_object_object_get_ex(json_object_array_get_idx(a, i), "service", &v) &&
		    strcmp(json_object_get_string(v), "a") == 0)
			e = json_object_array_get_idx(a, i);
	cr_assert(e, "%s", reply);
	json_object_object_get_ex(e, "start", &v);
	unsigned long long start = (unsigned long long)json_object_get_int64(v);
	json_object_object_get_ex(e, "uptime_ms", &v);
	int64_t up = json_object_get_int64(v);
	json_object_put(o);
	cr_assert_gt(start, 0);
	int64_t last = age_ms(start), first = last - (clock_mono_us() - t0) / 1000;
	last -= (clock_mono_us() - t1) / 1000;
	/* The start is known to a clock tick (10 ms), the spawn to its fork on a loaded machine. */
	cr_assert(up >= first - 50 && up <= last + 50,
		  "uptime %lld ms, the process %lld..%lld ms old", (long long)up, (long long)first,
		  (long long)last);
}

/* status.json's uptime of a, as of its writing (mono_ms), against the process's age. */
static void status_file_uptime_matches_the_process(void)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/run/status.json", tl_dir());
	json_object *o = json_object_from_file(path), *a, *v;
	int64_t written_ms = -1, up = -1;
	unsigned long long start = 0;
	if (o && json_object_object_get_ex(o, "mono_ms", &v))
		written_ms = json_object_get_int64(v);
	for (size_t i = 0;
	     o && json_object_object_get_ex(o, "services", &a) && i < json_object_array_length(a);
	     i++) {
		json_object *e = json_object_array_get_idx(a, i);
		if (json_object_object_get_ex(e, "service", &v) &&
		    strcmp(json_object_get_string(v), "a") == 0) {
			json_object_object_get_ex(e, "uptime_ms", &v);
			up = json_object_get_int64(v);
			json_object_object_get_ex(e, "start", &v);
			start = (unsigned long long)json_object_get_int64(v);
		}
	}
	json_object_put(o);
	if (written_ms < 0 || !start)
		return; /* between a rename and its reading: the next sample has it */
	int64_t age_then = age_ms(start) - (clock_mono_us() / 1000 - written_ms);
	cr_assert(up >= age_then - 50 && up <= age_then + 50,
		  "status.json: uptime %lld ms, the process was %lld ms old", (long long)up,
		  (long long)age_then);
}

/* With a long status interval the quiet checks are read late, on the tick: the uptime
 * is still the process's, not short by how late its monitor's report was read. */
Test(control, uptime_is_the_process_age_whatever_the_status_interval)
{
	struct kc k;
	char line[4096], a[512];
	sim_section(a, sizeof(a), "a", NULL);
	kc_write(&k, "%s", a);
	kc_start(&k, (char *[]){"RON_STATUS_INTERVAL_MS=10000", NULL});
	EXPECT(&k, line, "event=all_ready");
	/* Until the heartbeats have been read late, on a status tick, and a while after. */
	bool ticked = false;
	int64_t deadline = clock_mono_us() + 30 * 1000000LL;
	for (int after_tick = 0; after_tick < 5 && clock_mono_us() < deadline;) {
		uptime_matches_the_process(&k);
		status_file_uptime_matches_the_process();
		if (tl_next_line(&k.r, line, sizeof(line), 200) && strstr(line, "event=status"))
			ticked = true;
		after_tick += ticked;
	}
	cr_assert(ticked, "no status line within 30 s:\n%s", k.r.log);
	kc_stop(&k);
}

Test(control, a_10_mib_request_is_refused_and_the_kernel_carries_on)
{
	struct kc k;
	struct kc_out o;
	ct_start(&k, NULL);
	int fd = ct_connect(&k);
	size_t big = 10u << 20;
	char *junk = malloc(big);
	cr_assert(junk);
	memset(junk, 'x', big);
	/* The kernel stops reading after 64 KiB: write what it takes. */
	fcntl(fd, F_SETFL, O_NONBLOCK);
	size_t off = 0;
	int64_t deadline = clock_mono_us() + 5000000;
	while (off < big && clock_mono_us() < deadline) {
		ssize_t n = send(fd, junk + off, big - off, MSG_NOSIGNAL);
		if (n > 0)
			off += (size_t)n;
		else if (n < 0 && errno != EAGAIN)
			break; /* closed on us after 64 KiB: the reply waits */
		else
			poll(&(struct pollfd){fd, POLLOUT, 0}, 1, 50);
	}
	free(junk);
	fcntl(fd, F_SETFL, 0);
	char reply[4096];
	cr_assert_geq(ct_read_all(fd, reply, sizeof(reply), KC_WAIT_MS), 0, "no reply");
	close(fd);
	cr_assert(strstr(reply, "request longer than 65536 bytes"), "%s", reply);
	ctl(&k, &o, (char *[]){"status", NULL});
	KC_EXIT_IS(o, 0);
	kc_stop(&k);
}

Test(control, a_client_that_says_nothing_is_closed_and_blocks_nobody)
{
	struct kc k;
	struct kc_out o;
	ct_start(&k, NULL);
	int fd = ct_connect(&k);
	int64_t t0 = clock_mono_us();
	/* Others are served meanwhile. */
	ctl(&k, &o, (char *[]){"status", NULL});
	KC_EXIT_IS(o, 0);
	char reply[4096];
	cr_assert_geq(ct_read_all(fd, reply, sizeof(reply), KC_WAIT_MS), 0, "never closed");
	int64_t ms = (clock_mono_us() - t0) / 1000;
	close(fd);
	cr_assert(strstr(reply, "no request within 5000 ms"), "%s", reply);
	cr_assert_geq(ms, 4500, "closed after %lld ms", (long long)ms);
	kc_stop(&k);
}

Test(control, a_hundred_parallel_clients_each_get_an_answer)
{
	struct kc k;
	struct kc_out o;
	ct_start(&k, NULL);
	enum { N = 100 };
	int fds[N];
	for (int i = 0; i < N; i++)
		fds[i] = ct_connect(&k);
	static const char req[] = "{\"cmd\":\"status\"}\n";
	for (int i = 0; i < N; i++)
		/* A client told "busy" may be closed already: no SIGPIPE for us. */
		(void)send(fds[i], req, sizeof(req) - 1, MSG_NOSIGNAL);
	int served = 0, busy = 0;
	for (int i = 0; i < N; i++) {
		static char reply[65536];
		cr_assert_geq(ct_read_all(fds[i], reply, sizeof(reply), KC_WAIT_MS), 0,
			      "client %d got no answer", i);
		close(fds[i]);
		if (strstr(reply, "\"ok\":true"))
			served++;
		else if (strstr(reply, "busy: 32 control clients"))
			busy++;
		else
			cr_assert_fail("client %d: %s", i, reply);
	}
	cr_assert_eq(served + busy, N);
	cr_assert_geq(served, 32, "served %d", served);
	ctl(&k, &o, (char *[]){"status", NULL});
	KC_EXIT_IS(o, 0);
	kc_stop(&k);
}

/* Runs ron-kernel ARGS as nobody; returns its wait status. */
static int as_nobody(struct kc *k, char *const args[], char *out, size_t cap)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(99);
		char *argv[16] = {RON_BUILD_DIR "/ron-kernel", "--config", k->conf};
		int n = 3;
		for (int i = 0; args[i]; i++)
			argv[n++] = args[i];
		argv[n] = NULL;
		tl_apply_env(kc_env(NULL));
		execv(argv[0], argv);
		_exit(98);
	}
	close(p[1]);
	ssize_t n = ct_read_all(p[0], out, cap, KC_WAIT_MS);
	close(p[0]);
	cr_assert_geq(n, 0);
	int st;
	cr_assert(tl_wait_exit(pid, KC_WAIT_MS, &st));
	return st;
}

Test(control, another_user_is_refused)
{
	if (geteuid() != 0) {
		cr_skip_test("needs root to run a client as another user");
		return;
	}
	struct kc k;
	char out[4096], line[4096];
	ct_start(&k, NULL);
	/* The config file must be readable by nobody for its run_dir. */
	cr_assert_eq(chmod(tl_dir(), 0711), 0);
	cr_assert_eq(chmod(k.conf, 0644), 0);
	char run[600], sock[700];
	snprintf(run, sizeof(run), "%s/run", tl_dir());
	cr_assert_eq(chmod(run, 0711), 0);
	/* The socket's mode keeps others out... */
	int st = as_nobody(&k, (char *[]){"stop", "a", NULL}, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 77, "exit %#x: %s", st, out);
	cr_assert(strstr(out, "refused"), "%s", out);
	/* ...and with it opened up, the kernel checks the peer itself. */
	snprintf(sock, sizeof(sock), "%s/control.sock", run);
	cr_assert_eq(chmod(sock, 0666), 0);
	st = as_nobody(&k, (char *[]){"stop", "a", NULL}, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 77, "exit %#x: %s", st, out);
	EXPECT(&k, line, "event=control_refused", "uid=65534");
	cr_assert_str_eq(state_of("a"), "healthy");
	kc_stop(&k);
}

static void write_conf_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

Test(control, reload_applies_only_the_difference)
{
	struct kc k;
	struct kc_out o;
	char line[4096], c[512], d[512], text[8192];
	sim_section(c, sizeof(c), "c", NULL);
	ct_start(&k, c);
	pid_t a0 = kc_pid("a"), b0 = kc_pid("b"), c0 = kc_pid("c");
	/* b changed, c removed, d added, a untouched. */
	char a[512], b[512];
	sim_section(a, sizeof(a), "a", NULL);
	sim_section(b, sizeof(b), "b", "health_timeout_ms = 150");
	sim_section(d, sizeof(d), "d", NULL);
	char head[1024];
	ssize_t n = tl_read_file(k.conf, text, sizeof(text) - 1);
	cr_assert_gt(n, 0);
	text[n] = '\0';
	snprintf(head, sizeof(head), "%.*s", (int)(strstr(text, "[service") - text), text);
	snprintf(text, sizeof(text), "%s%s\n%s\n%s", head, a, b, d);
	write_conf_file(k.conf, text);
	ctl(&k, &o, (char *[]){"reload", NULL});
	KC_EXIT_IS(o, 0);
	cr_assert(strstr(o.out, "added: d\n"), "%s", o.out);
	cr_assert(strstr(o.out, "removed: c\n"), "%s", o.out);
	cr_assert(strstr(o.out, "changed: b\n"), "%s", o.out);
	cr_assert(strstr(o.out, "unchanged: a\n"), "%s", o.out);
	EXPECT(&k, line, "event=reload", "added=1", "removed=1", "changed=1", "unchanged=1");
	cr_assert_eq(kc_pid("a"), a0, "an unchanged service was restarted");
	cr_assert(tl_pid_alive(a0));
	cr_assert_neq(kc_pid("b"), b0);
	cr_assert_not(tl_pid_alive(b0));
	cr_assert_not(tl_pid_alive(c0));
	cr_assert_eq(kc_rows(), 3);
	KC_WAIT_STATE("d", "healthy");
	kc_stop(&k);
}

/* Containment is chosen once, at start: a reload names the new value and keeps the old. */
Test(control, reload_keeps_the_containment)
{
	struct kc k;
	struct kc_out o;
	ct_start(&k, NULL);
	pid_t a0 = kc_pid("a");
	char text[8192];
	ssize_t n = tl_read_file(k.conf, text, sizeof(text) - 64);
	cr_assert_gt(n, 0);
	text[n] = '\0';
	char *svc = strstr(text, "[service");
	cr_assert(svc);
	char changed[8192];
	snprintf(changed, sizeof(changed), "%.*scontainment = pgroup\n\n%s", (int)(svc - text),
		 text, svc);
	write_conf_file(k.conf, changed);
	ctl(&k, &o, (char *[]){"reload", NULL});
	KC_EXIT_IS(o, 0);
	cr_assert(strstr(o.out, "containment: auto kept (pgroup needs a restart)"), "%s", o.out);
	cr_assert(strstr(o.out, "unchanged: a b\n"), "%s", o.out);
	cr_assert_eq(kc_pid("a"), a0, "a service was restarted");
	kc_stop(&k);
}

Test(control, an_invalid_file_on_reload_changes_nothing)
{
	struct kc k;
	struct kc_out o;
	ct_start(&k, NULL);
	pid_t a0 = kc_pid("a"), b0 = kc_pid("b");
	char text[8192];
	ssize_t n = tl_read_file(k.conf, text, sizeof(text) - 64);
	cr_assert_gt(n, 0);
	text[n] = '\0';
	int lines = 0;
	for (char *p = text; *p; p++)
		lines += *p == '\n';
	strcat(text, "[service e]\nsockt = /x\n");
	write_conf_file(k.conf, text);
	ctl(&k, &o, (char *[]){"reload", NULL});
	KC_EXIT_IS(o, 1);
	char want[700];
	snprintf(want, sizeof(want), "%s:%d: [service e]: unknown key sockt", k.conf, lines + 2);
	cr_assert(strstr(o.out, want), "want %s in: %s", want, o.out);
	cr_assert_eq(kc_pid("a"), a0);
	cr_assert_eq(kc_pid("b"), b0);
	cr_assert_eq(kc_rows(), 2);
	kc_stop(&k);
}

/* The kernel with its stdout on a pseudo-terminal; returns what it printed until
 * all_ready (and a status line). */
static void on_pty(struct kc *k, const char *no_color, char *buf, size_t cap)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert_geq(m, 0);
	cr_assert_eq(grantpt(m), 0);
	cr_assert_eq(unlockpt(m), 0);
	const char *sname = ptsname(m);
	cr_assert(sname);
	char nc[64];
	snprintf(nc, sizeof(nc), "NO_COLOR=%s", no_color);
	char *extra[] = {nc, NULL};
	char **env = kc_env(extra);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		setpgid(0, 0);
		int s = open(sname, O_RDWR | O_NOCTTY);
		if (s < 0)
			_exit(99);
		dup2(s, 1);
		char *argv[] = {RON_BUILD_DIR "/ron-kernel", "--config", k->conf, NULL};
		tl_apply_env(env);
		execv(argv[0], argv);
		_exit(98);
	}
	size_t len = 0;
	int64_t deadline = clock_mono_us() + KC_WAIT_MS * 1000LL;
	buf[0] = '\0';
	while (!strstr(buf, "event=status") && len + 1 < cap && clock_mono_us() < deadline) {
		struct pollfd p = {m, POLLIN, 0};
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = read(m, buf + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	kill(pid, SIGTERM);
	int st;
	cr_assert(tl_wait_exit(pid, KC_WAIT_MS, &st));
	close(m);
}

Test(control, colour_only_on_a_terminal_and_never_with_no_color)
{
	struct kc k;
	char a[512];
	static char buf[65536];
	sim_section(a, sizeof(a), "a", NULL);
	kc_write(&k, "%s", a);
	on_pty(&k, "", buf, sizeof(buf));
	cr_assert(strstr(buf, "state=\033[32mhealthy\033[0m"), "no green healthy on a tty:\n%s",
		  buf);
	on_pty(&k, "1", buf, sizeof(buf));
	cr_assert(strstr(buf, "state=healthy"), "%s", buf);
	cr_assert_null(strchr(buf, '\033'), "colour with NO_COLOR:\n%s", buf);
	/* And never through a pipe. */
	char line[4096];
	kc_start(&k, NULL);
	EXPECT(&k, line, "event=all_ready");
	kc_stop(&k);
	cr_assert_null(strchr(k.r.log, '\033'), "colour on a pipe");
}

/* Without root ron-httpd runs as the kernel's own user, which the socket accepts:
 * it, its session and what descends from it are refused all the same. */
Test(control, ron_httpd_and_its_descendants_are_refused)
{
	static struct kernel k;
	static struct kernel_obs obs;
	memset(&k, 0, sizeof(k));
	memset(&obs, 0, sizeof(obs));
	k.obs = &obs;
	cr_assert_not(kernel_control_peer_is_httpd(&k, getpid()), "no ron-httpd running");
	/* We play ron-httpd: a child of ours in a session of its own is still ours. */
	obs.hpid = getpid();
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t c = fork();
	cr_assert_geq(c, 0);
	if (c == 0) {
		setsid();
		close(p[1]);
		char b;
		(void)!read(p[0], &b, 1);
		_exit(0);
	}
	close(p[0]);
	cr_assert(kernel_control_peer_is_httpd(&k, getpid()));
	cr_assert(kernel_control_peer_is_httpd(&k, c), "a child that left the session");
	cr_assert_not(kernel_control_peer_is_httpd(&k, getppid()), "our parent is not ours");
	cr_assert_not(kernel_control_peer_is_httpd(&k, 1));
	close(p[1]);
	waitpid(c, NULL, 0);
}
