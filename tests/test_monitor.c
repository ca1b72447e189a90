/* ron-monitor run as a process against svc-sim: each test reads the JSON
 * reports on the monitor's stdout, decodes them and checks their fields. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "handover.h"
#include "proc.h"
#include "report.h"
#include "testlib.h"

#define MONITOR TL_BIN("ron-monitor")
#define SIM	TL_BIN("sim/svc-storage")
/* Generous: the suite runs in parallel on small, loaded machines. */
#define WAIT_MS 20000

/* Timings short enough for a fast suite, loose enough not to fail checks
 * spuriously under load.  Tests append their own, which win. */
static const char *const base_env[] = {
    "RON_HEALTH_INTERVAL_MS=250",  "RON_HEALTH_TIMEOUT_MS=200",
    "RON_HEALTH_FAILURES=3",	   "RON_START_TIMEOUT_MS=10000",
    "RON_STOP_TIMEOUT_MS=3000",	   "RON_BACKOFF_MIN_MS=20",
    "RON_BACKOFF_MAX_MS=30000",	   "RON_RESTART_CAP=5",
    "RON_RESTART_WINDOW_MS=60000", "RON_STABLE_MS=1000",
    "RON_QUARANTINE_MS=600000",	   "SIM_MODE=",
    "SIM_EXIT_ON_START=",	   "SIM_START_DELAY_MS=",
    "SIM_IGNORE_SIGTERM=",	   "SIM_GRANDCHILD=",
    "SIM_GRANDCHILD_PIDFILE=",
};
#define NBASE (sizeof(base_env) / sizeof(base_env[0]))

/* Criterion runs every test in a process of its own: one monitor each. */
static pid_t mon_pid; /* what the test started: the monitor, or a shell in front of it */
static int mon_errfd = -1;
static struct tl_lines mon_out;
static char mon_err[16384];
static size_t mon_errlen;

/* Every service pid seen in a report, and every grandchild, so that a failed
 * test leaves none running. */
struct seen_service {
	pid_t pid;
	unsigned long long start;
};
static struct seen_service seen[256];
static int nseen;

static void note_pid(pid_t pid, unsigned long long start)
{
	if (pid <= 0 || !start)
		return;
	for (int i = 0; i < nseen; i++)
		if (seen[i].pid == pid && seen[i].start == start)
			return;
	if (nseen < (int)(sizeof(seen) / sizeof(seen[0])))
		seen[nseen++] = (struct seen_service){pid, start};
}

static void note_service(const struct report *r)
{
	note_pid(r->pid, r->start);
}

/* A test that failed half-way, or ended while a restart was under way, must
 * leave no service behind: ask the monitor to stop it as it should, read
 * the reports to the end for every pid it started, then kill what remains. */
static void mon_teardown(void)
{
	if (mon_pid > 0 && waitpid(mon_pid, NULL, WNOHANG) == 0) {
		kill(mon_pid, SIGTERM);
		char line[4096], why[256];
		struct report r;
		int64_t deadline = clock_mono_us() + 15000000;
		while (tl_next_line(&mon_out, line, sizeof(line),
				    clock_poll_timeout(deadline, clock_mono_us())))
			if (line[0] == '{' &&
			    report_decode(line, strlen(line), &r, why, sizeof(why)) == 0)
				note_service(&r);
	}
	for (int i = 0; i < nseen; i++) {
		unsigned long long t;
		if (proc_start_ticks(seen[i].pid, &t) == 0 && t == seen[i].start) {
			kill(-seen[i].pid, SIGKILL); /* a service leads its group */
			kill(seen[i].pid, SIGKILL);
		}
	}
	nseen = 0;
	tl_teardown();
}

TestSuite(monitor, .init = tl_setup, .fini = mon_teardown, .timeout = 120);

static void drain_err(void)
{
	if (mon_errfd < 0)
		return;
	for (;;) {
		if (mon_errlen > sizeof(mon_err) - 1024) {
			/* Keep the latest half. */
			size_t keep = sizeof(mon_err) / 2;
			memmove(mon_err, mon_err + mon_errlen - keep, keep);
			mon_errlen = keep;
		}
		ssize_t n = read(mon_errfd, mon_err + mon_errlen, sizeof(mon_err) - 1 - mon_errlen);
		if (n <= 0)
			break;
		mon_errlen += (size_t)n;
	}
	mon_err[mon_errlen] = '\0';
}

/* The tail of what was read, for failure messages. */
static const char *out_tail(void)
{
	return mon_out.loglen > 6000 ? mon_out.log + mon_out.loglen - 6000 : mon_out.log;
}

/* Starts `ron-monitor --name svc-storage --bin BIN --sock tl_dir/svc-storage.sock`
 * with the extra arguments and environment (both NULL-terminated, may be NULL).
 * With shell, it runs behind `sh -c '"$@" & wait'` so that its parent can be
 * killed.  bin NULL means the simulator. */
static void mon_start_full(const char *bin, const char *const args[], const char *const env[],
			   bool shell)
{
	const char *argv[64];
	const char *envv[64];
	int n = 0, ne = 0;

	if (shell) {
		argv[n++] = "/bin/sh";
		argv[n++] = "-c";
		argv[n++] = "\"$@\" & wait";
		argv[n++] = "sh";
	}
	argv[n++] = MONITOR;
	argv[n++] = "--name";
	argv[n++] = "svc-storage";
	argv[n++] = "--bin";
	argv[n++] = bin ? bin : SIM;
	argv[n++] = "--sock";
	argv[n++] = tl_path("svc-storage.sock");
	for (int i = 0; args && args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	for (size_t i = 0; i < NBASE; i++)
		envv[ne++] = base_env[i];
	for (int i = 0; env && env[i]; i++)
		envv[ne++] = env[i];
	envv[ne] = NULL;

	int out;
	mon_pid = tl_spawn((char *const *)argv, (char *const *)envv, &out, &mon_errfd);
	fcntl(mon_errfd, F_SETFL, fcntl(mon_errfd, F_GETFL) | O_NONBLOCK);
	tl_lines_init(&mon_out, out);
}

static void mon_start(const char *const args[], const char *const env[])
{
	mon_start_full(NULL, args, env, false);
}

/* The next report, skipping the service's own output; false on timeout or EOF. */
static bool mon_next(struct report *r, int timeout_ms)
{
	int64_t deadline = clock_mono_us() + (int64_t)timeout_ms * 1000;
	char line[4096], why[256];

	for (;;) {
		drain_err();
		if (!tl_next_line(&mon_out, line, sizeof(line),
				  clock_poll_timeout(deadline, clock_mono_us())))
			return false;
		if (line[0] != '{')
			continue; /* svc-sim shares the monitor's stdout */
		cr_assert_eq(report_decode(line, strlen(line), r, why, sizeof(why)), 0,
			     "undecodable report (%s): %s", why, line);
		cr_assert_eq(r->v, REPORT_SCHEMA);
		cr_assert_str_eq(r->service, "svc-storage");
		note_service(r);
		return true;
	}
}

/* Skips reports up to the next one of event ev. */
static void mon_wait(struct report *r, enum report_event ev, int timeout_ms)
{
	int64_t deadline = clock_mono_us() + (int64_t)timeout_ms * 1000;
	while (mon_next(r, clock_poll_timeout(deadline, clock_mono_us())))
		if (r->event == ev)
			return;
	drain_err();
	cr_assert_fail("no \"%s\" report within %d ms%s\n--- stdout (tail):\n%s\n--- stderr:\n%s",
		       report_event_name(ev), timeout_ms, mon_out.eof ? " (EOF)" : "", out_tail(),
		       mon_err);
}

/* The next report that is not a check (nor, with also_skip, that event)
 * must be of event ev. */
static void mon_event_skipping(struct report *r, enum report_event ev, int timeout_ms,
			       enum report_event also_skip)
{
	int64_t deadline = clock_mono_us() + (int64_t)timeout_ms * 1000;
	while (mon_next(r, clock_poll_timeout(deadline, clock_mono_us()))) {
		if (r->event == EV_CHECK || r->event == also_skip)
			continue;
		cr_assert_eq(
		    r->event, ev,
		    "expected \"%s\", got \"%s\" (%s)\n--- stdout (tail):\n%s\n--- stderr:\n%s",
		    report_event_name(ev), report_event_name(r->event), r->reason, out_tail(),
		    mon_err);
		return;
	}
	drain_err();
	cr_assert_fail("no \"%s\" report within %d ms%s\n--- stdout (tail):\n%s\n--- stderr:\n%s",
		       report_event_name(ev), timeout_ms, mon_out.eof ? " (EOF)" : "", out_tail(),
		       mon_err);
}

/* The next report that is not a check must be of event ev: for sequences
 * that the state machine makes exact. */
static void mon_event(struct report *r, enum report_event ev, int timeout_ms)
{
	mon_event_skipping(r, ev, timeout_ms, EV_CHECK);
}

/* After the test killed a running service: its exit, maybe after a
 * "degraded" (a dying process closes its sockets, failing a check in
 * flight, just before its pidfd reports the exit). */
static void mon_exited(struct report *r, pid_t pid)
{
	mon_event_skipping(r, EV_EXITED, WAIT_MS, EV_DEGRADED);
	cr_assert_eq(r->pid, pid, "exit of pid %d, want %d", (int)r->pid, (int)pid);
}

/* Waits for spawned then ready; returns the service pid. */
static pid_t mon_ready(struct report *r)
{
	mon_event(r, EV_SPAWNED, WAIT_MS);
	pid_t pid = r->pid;
	cr_assert_gt(pid, 0);
	mon_event(r, EV_READY, WAIT_MS);
	cr_assert_eq(r->pid, pid);
	cr_assert_eq(r->state, ST_HEALTHY);
	return pid;
}

static void mon_expect_exit(int want_status)
{
	int st;
	cr_assert(tl_wait_exit(mon_pid, WAIT_MS, &st), "ron-monitor did not exit");
	cr_assert(WIFEXITED(st), "ron-monitor died by signal %d", WTERMSIG(st));
	cr_assert_eq(WEXITSTATUS(st), want_status, "exit status %d, want %d", WEXITSTATUS(st),
		     want_status);
}

static bool pid_gone(void *arg)
{
	return !tl_pid_alive((pid_t)(intptr_t)arg);
}

static void expect_gone(pid_t pid, const char *what)
{
	cr_assert(tl_wait_for(pid_gone, (void *)(intptr_t)pid, WAIT_MS), "%s (pid %d) still alive",
		  what, (int)pid);
}

/* The monitor is running: neither exited nor a zombie. */
static void expect_monitor_alive(void)
{
	cr_assert(tl_pid_alive(mon_pid), "ron-monitor is gone");
	cr_assert_eq(waitpid(mon_pid, NULL, WNOHANG), 0, "ron-monitor has exited");
}

static int count_fds(pid_t pid, const char *prefix)
{
	char path[64], link[128];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	int n = 0;
	for (struct dirent *e; (e = readdir(d));) {
		ssize_t len = readlinkat(dirfd(d), e->d_name, link, sizeof(link) - 1);
		if (len > 0) {
			link[len] = '\0';
			if (strncmp(link, prefix, strlen(prefix)) == 0)
				n++;
		}
	}
	closedir(d);
	return n;
}

/* The service starts clean: stdin from /dev/null, none of the monitor's
 * descriptors, and no inherited ignored or blocked signal (svc-sim warns
 * about those on stderr before it listens, so before it is ready). */
static void expect_clean_start(pid_t pid)
{
	char path[64], link[128];
	snprintf(path, sizeof(path), "/proc/%d/fd/0", (int)pid);
	ssize_t len = readlink(path, link, sizeof(link) - 1);
	cr_assert_gt(len, 0, "readlink %s: %s", path, strerror(errno));
	link[len] = '\0';
	cr_assert_str_eq(link, "/dev/null");
	cr_assert_eq(count_fds(pid, "anon_inode:[pidfd]"), 0, "the service inherited a pidfd");
	cr_assert_leq(count_fds(pid, "anon_inode:[signalfd]"), 1,
		      "the service inherited the monitor's signalfd");
	drain_err();
	cr_assert_null(strstr(mon_err, "warning:"), "stderr: %s", mon_err);
	/* stdout is shared with the monitor: the monitor must not make it non-blocking */
	char info[512];
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/1", (int)pid);
	cr_assert_gt(tl_read_file(path, info, sizeof(info)), 0, "cannot read %s", path);
	char *flags = strstr(info, "flags:");
	cr_assert(flags, "%s: %s", path, info);
	cr_assert_eq(strtol(flags + 6, NULL, 8) & O_NONBLOCK, 0,
		     "the service's stdout is O_NONBLOCK");
}

static pid_t read_pidfile(const char *path)
{
	char buf[64];
	cr_assert_gt(tl_read_file(path, buf, sizeof(buf)), 0, "cannot read %s", path);
	pid_t pid = (pid_t)atoi(buf);
	cr_assert_gt(pid, 0, "bad pid file %s: %s", path, buf);
	unsigned long long start;
	if (proc_start_ticks(pid, &start) == 0)
		note_pid(pid, start);
	return pid;
}

Test(monitor, healthy_start_spawns_then_ready)
{
	struct report r;
	mon_start(NULL, NULL);

	mon_event(&r, EV_SPAWNED, WAIT_MS);
	pid_t pid = r.pid;
	cr_assert_gt(pid, 0);
	cr_assert_eq(r.state, ST_STARTING);
	cr_assert_eq(r.restarts, 0);
	cr_assert_eq(r.mpid, mon_pid);
	unsigned long long ticks;
	cr_assert_eq(proc_start_ticks(pid, &ticks), 0);
	cr_assert_eq(r.start, ticks, "start %llu, /proc says %llu", r.start, ticks);

	mon_event(&r, EV_READY, WAIT_MS);
	cr_assert_eq(r.pid, pid);
	cr_assert_eq(r.state, ST_HEALTHY);
	cr_assert_eq(r.restarts, 0);
	cr_assert(strncmp(r.reason, "ready in ", 9) == 0, "reason: %s", r.reason);
	cr_assert_geq(r.rtt_us, 0);

	/* Then periodic checks of the same service. */
	mon_wait(&r, EV_CHECK, WAIT_MS);
	cr_assert_eq(r.pid, pid);
	expect_clean_start(pid);
	expect_monitor_alive();
}

struct title_want {
	pid_t mpid;
	char want[128];
	char got[256];
};

static bool title_is(void *arg)
{
	struct title_want *t = arg;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)t->mpid);
	if (tl_read_file(path, t->got, sizeof(t->got)) <= 0)
		return false;
	return strncmp(t->got, t->want, strlen(t->want)) == 0;
}

Test(monitor, process_title_shows_state_pid_and_restarts)
{
	struct report r;
	mon_start(NULL, NULL);
	pid_t pid = mon_ready(&r);

	struct title_want t = {.mpid = mon_pid};
	snprintf(t.want, sizeof(t.want), "ron-monitor: svc-storage healthy pid=%d restarts=0",
		 (int)pid);
	cr_assert(tl_wait_for(title_is, &t, WAIT_MS), "title \"%s\", want \"%s\"", t.got, t.want);
}

/* With --heartbeat-fd, a passing check that changes nothing goes there unnumbered,
 * standing for the checks before it, and the numbered reports stay consecutive: the
 * heartbeat fd here is the status pipe itself, so the seq tells them apart. */
Test(monitor, quiet_checks_go_to_the_heartbeat_fd_unnumbered)
{
	const char *args[] = {"--heartbeat-fd", "1", NULL};
	const char *env[] = {"RON_HEALTH_INTERVAL_MS=20", "RON_HEALTH_TIMEOUT_MS=15", NULL};
	struct report r;
	mon_start(args, env);
	mon_ready(&r);
	/* fd 1 is the service's stdout too, and stays open across its exec: it said it
	 * listens before it answered the check that made it ready. */
	cr_assert_not_null(strstr(mon_out.log, "svc-storage: listening on"), "%s", out_tail());
	unsigned long long last_seq = r.seq;
	cr_assert_gt(last_seq, 0, "the ready report is numbered");
	int quiet = 0;
	int64_t deadline = clock_mono_us() + (int64_t)WAIT_MS * 1000;
	while (quiet < 3 && clock_mono_us() < deadline) {
		cr_assert(mon_next(&r, WAIT_MS), "no report: %s", out_tail());
		if (r.seq == 0) {
			cr_assert_eq(r.event, EV_CHECK, "an unnumbered %s",
				     report_event_name(r.event));
			cr_assert(r.ok);
			/* It stands for the checks run since the last report: ten, or fewer
			 * when a loaded machine made one start late (checks are one interval
			 * apart from each one's start; the report is due by time). */
			cr_assert(r.passed >= 1 && r.passed <= REPORT_EVERY_CHECKS,
				  "a heartbeat for %lld checks", (long long)r.passed);
			cr_assert_geq(r.rtt_us, 0, "the reporting check measures its round trip");
			quiet++;
			continue;
		}
		cr_assert_eq(r.seq, last_seq + 1, "numbered reports skip from %llu to %llu",
			     last_seq, r.seq);
		last_seq = r.seq;
	}
	cr_assert_eq(quiet, 3, "%s", out_tail());
	cr_assert_eq(kill(mon_pid, SIGTERM), 0);
	mon_expect_exit(0);
}

/* Kills the running service and returns the delay of the restart. */
static int64_t kill_and_respawn(pid_t *pid, struct report *r)
{
	cr_assert_eq(kill(*pid, SIGKILL), 0);
	mon_exited(r, *pid);
	mon_event(r, EV_RESTARTING, WAIT_MS);
	int64_t delay = r->delay_ms;
	*pid = mon_ready(r);
	return delay;
}

Test(monitor, sigkill_of_service_is_reported_and_respawned)
{
	struct report r;
	/* Any healthy run counts as stable: the restart is immediate. */
	const char *env[] = {"RON_STABLE_MS=0", NULL};
	mon_start(NULL, env);
	pid_t pid = mon_ready(&r);

	cr_assert_eq(kill(pid, SIGKILL), 0);
	mon_exited(&r, pid);
	cr_assert_eq(r.signal, SIGKILL);
	cr_assert_eq(r.code, -1);
	cr_assert_str_eq(r.reason, "killed by SIGKILL");
	int64_t exited_at = r.mono_us;

	mon_event(&r, EV_RESTARTING, WAIT_MS);
	cr_assert_eq(r.restarts, 1);
	cr_assert_eq(r.state, ST_BACKOFF);
	cr_assert_eq(r.pid, 0);
	cr_assert_eq(r.delay_ms, 0); /* a restart after a stable run is immediate */

	mon_event(&r, EV_SPAWNED, WAIT_MS);
	cr_assert_gt(r.pid, 0);
	cr_assert_neq(r.pid, pid, "the same pid %d was reported again", (int)pid);
	cr_assert_eq(r.restarts, 1);
	/* Well under 10 ms when idle; the bound is loose for loaded machines. */
	cr_assert_lt(r.mono_us - exited_at, 1000000, "respawned %lld us after the exit",
		     (long long)(r.mono_us - exited_at));
	pid_t pid2 = r.pid;
	mon_event(&r, EV_READY, WAIT_MS);
	cr_assert_eq(r.pid, pid2);
	cr_assert_eq(r.restarts, 1);
	cr_assert_not(tl_pid_alive(pid), "the killed service %d is still there", (int)pid);
}

Test(monitor, crash_after_a_stable_run_restarts_at_once)
{
	struct report r;
	const char *env[] = {"RON_STABLE_MS=1000", "RON_BACKOFF_MIN_MS=50", NULL};
	mon_start(NULL, env);
	pid_t pid = mon_ready(&r);

	/* Not stable yet: restarts back off, 50 ms doubling, up to a quarter off. */
	int64_t d = kill_and_respawn(&pid, &r);
	cr_assert(d >= 37 && d <= 50, "first restart of a streak after %lld ms", (long long)d);
	d = kill_and_respawn(&pid, &r);
	cr_assert(d >= 75 && d <= 100, "second restart of a streak after %lld ms", (long long)d);

	/* Healthy for longer than RON_STABLE_MS: the streak is over. */
	int64_t ready_at = r.mono_us;
	while (r.mono_us - ready_at < 1200000)
		mon_wait(&r, EV_CHECK, WAIT_MS);
	cr_assert_eq(kill_and_respawn(&pid, &r), 0);
	cr_assert_eq(r.restarts, 3);
}

Test(monitor, restart_count_continues_from_the_flag)
{
	struct report r;
	const char *args[] = {"--restarts", "7", NULL};
	mon_start(args, NULL);
	mon_event(&r, EV_SPAWNED, WAIT_MS);
	cr_assert_eq(r.restarts, 7);
	pid_t pid = r.pid;
	mon_event(&r, EV_READY, WAIT_MS);
	kill_and_respawn(&pid, &r);
	cr_assert_eq(r.restarts, 8);
}

Test(monitor, crash_loop_backs_off_quarantines_and_sighup_lifts)
{
	struct report r;
	const char *env[] = {"SIM_EXIT_ON_START=3", "RON_RESTART_CAP=3", "RON_BACKOFF_MIN_MS=20",
			     NULL};
	mon_start(NULL, env);

	int64_t last_delay = -1, restarting_at = -1;
	pid_t last_pid = 0;
	for (unsigned i = 1; i <= 3; i++) {
		mon_event(&r, EV_SPAWNED, WAIT_MS);
		cr_assert_gt(r.pid, 0);
		cr_assert_neq(r.pid, last_pid);
		last_pid = r.pid;
		if (restarting_at >= 0)
			cr_assert_geq(r.mono_us - restarting_at, last_delay * 1000,
				      "respawned %lld us after a delay of %lld ms",
				      (long long)(r.mono_us - restarting_at),
				      (long long)last_delay);
		mon_event(&r, EV_EXITED, WAIT_MS);
		cr_assert_eq(r.pid, last_pid);
		cr_assert_eq(r.code, 3);
		cr_assert_eq(r.signal, 0);
		cr_assert_str_eq(r.reason, "exited with code 3");
		mon_event(&r, EV_RESTARTING, WAIT_MS);
		cr_assert_eq(r.restarts, i);
		cr_assert_eq(r.state, ST_BACKOFF);
		cr_assert_gt(r.delay_ms, last_delay, "restart %u: delay %lld ms after %lld ms", i,
			     (long long)r.delay_ms, (long long)last_delay);
		last_delay = r.delay_ms;
		restarting_at = r.mono_us;
	}
	/* 20 ms doubling from the first restart (the service never stayed up),
	 * up to a quarter off for jitter: the third waits 60..80 ms. */
	cr_assert_geq(last_delay, 60);
	cr_assert_leq(last_delay, 80);

	mon_event(&r, EV_SPAWNED, WAIT_MS);
	last_pid = r.pid;
	mon_event(&r, EV_EXITED, WAIT_MS);
	cr_assert_eq(r.pid, last_pid);
	mon_event(&r, EV_QUARANTINED, WAIT_MS);
	cr_assert_eq(r.state, ST_QUARANTINED);
	cr_assert_eq(r.pid, 0);
	cr_assert_eq(r.restarts, 3);
	cr_assert_geq(r.delay_ms, 599000, "quarantine delay %lld ms", (long long)r.delay_ms);
	cr_assert(strstr(r.reason, "3 restarts"), "reason: %s", r.reason);
	expect_monitor_alive();

	cr_assert_eq(kill(mon_pid, SIGHUP), 0);
	mon_event(&r, EV_RESTARTING, WAIT_MS);
	cr_assert_str_eq(r.reason, "quarantine lifted");
	cr_assert_eq(r.restarts, 4);
	mon_event(&r, EV_SPAWNED, WAIT_MS);
	cr_assert_gt(r.pid, 0);
	cr_assert_neq(r.pid, last_pid);
	cr_assert_eq(r.restarts, 4);
	/* Lifted by hand, it starts a fresh streak: back to the shortest delay. */
	mon_event(&r, EV_EXITED, WAIT_MS);
	mon_event(&r, EV_RESTARTING, WAIT_MS);
	cr_assert_eq(r.restarts, 5);
	cr_assert(r.delay_ms >= 15 && r.delay_ms <= 20, "delay %lld ms", (long long)r.delay_ms);
}

Test(monitor, quarantine_is_retried_once_after_its_time)
{
	struct report r;
	const char *env[] = {"SIM_EXIT_ON_START=3", "RON_RESTART_CAP=1", "RON_QUARANTINE_MS=100",
			     NULL};
	mon_start(NULL, env);
	mon_event(&r, EV_SPAWNED, WAIT_MS);
	mon_event(&r, EV_EXITED, WAIT_MS);
	mon_event(&r, EV_RESTARTING, WAIT_MS);
	cr_assert_eq(r.restarts, 1);
	mon_event(&r, EV_SPAWNED, WAIT_MS);
	mon_event(&r, EV_EXITED, WAIT_MS);
	mon_event(&r, EV_QUARANTINED, WAIT_MS);
	cr_assert_eq(r.restarts, 1);
	cr_assert_geq(r.delay_ms, 99);
	cr_assert_leq(r.delay_ms, 100);
	int64_t quarantined_at = r.mono_us;

	mon_event(&r, EV_RESTARTING, WAIT_MS);
	cr_assert_str_eq(r.reason, "quarantine over: one more try");
	cr_assert_eq(r.restarts, 2);
	cr_assert_geq(r.mono_us - quarantined_at, 100000, "retried after %lld us",
		      (long long)(r.mono_us - quarantined_at));
	mon_event(&r, EV_SPAWNED, WAIT_MS);
	mon_event(&r, EV_EXITED, WAIT_MS);
	/* On probation: one more failure and it is quarantined again. */
	mon_event(&r, EV_QUARANTINED, WAIT_MS);
	cr_assert_str_eq(r.reason, "failed again after quarantine");
	cr_assert_eq(r.restarts, 2);
}

Test(monitor, hang_degrades_then_unhealthy_restart)
{
	struct report r;
	const char *env[] = {"RON_HEALTH_INTERVAL_MS=100", "RON_HEALTH_TIMEOUT_MS=50", NULL};
	mon_start(NULL, env);
	pid_t pid = mon_ready(&r);

	cr_assert_eq(kill(pid, SIGUSR1), 0); /* svc-sim: hang mode on */
	mon_wait(&r, EV_DEGRADED, WAIT_MS);
	cr_assert_eq(r.pid, pid);
	cr_assert_eq(r.state, ST_DEGRADED);
	/* The timeout configured, though a routine check waits up to the interval. */
	cr_assert_str_eq(r.reason, "timeout after 50 ms waiting for reply");

	mon_wait(&r, EV_UNHEALTHY, WAIT_MS);
	cr_assert_eq(r.pid, pid);
	cr_assert_eq(r.failures, 3);
	cr_assert(strstr(r.reason, "timeout after 50 ms"), "reason: %s", r.reason);
	char why[REPORT_REASON_MAX];
	strcpy(why, r.reason);

	mon_event(&r, EV_STOPPING, WAIT_MS);
	cr_assert_eq(r.state, ST_STOPPING);
	cr_assert_eq(r.pid, pid);
	cr_assert_str_eq(r.reason, why);
	mon_event(&r, EV_EXITED, WAIT_MS);
	cr_assert_eq(r.pid, pid);
	cr_assert_eq(r.signal, SIGTERM);
	mon_event(&r, EV_RESTARTING, WAIT_MS);
	cr_assert_eq(r.restarts, 1);
	mon_event(&r, EV_SPAWNED, WAIT_MS);
	cr_assert_neq(r.pid, pid);
	pid_t pid2 = r.pid;
	mon_event(&r, EV_READY, WAIT_MS); /* the new one is not hanging */
	cr_assert_eq(r.pid, pid2);
}

/* RON_HEALTH_FAILURES consecutive failures, not the default 3, make it unhealthy. */
Test(monitor, health_failures_setting_is_honoured)
{
	struct report r;
	const char *env[] = {"RON_HEALTH_INTERVAL_MS=100", "RON_HEALTH_TIMEOUT_MS=50",
			     "RON_HEALTH_FAILURES=2", NULL};
	mon_start(NULL, env);
	pid_t pid = mon_ready(&r);
	cr_assert_eq(kill(pid, SIGUSR1), 0);
	mon_wait(&r, EV_UNHEALTHY, WAIT_MS);
	cr_assert_eq(r.failures, 2);
	cr_assert_str_eq(r.reason, "timeout after 50 ms waiting for reply");
}

Test(monitor, degraded_service_recovers_to_healthy)
{
	struct report r;
	const char *env[] = {"RON_HEALTH_INTERVAL_MS=100", "RON_HEALTH_TIMEOUT_MS=50",
			     "RON_HEALTH_FAILURES=100", NULL};
	mon_start(NULL, env);
	pid_t pid = mon_ready(&r);

	cr_assert_eq(kill(pid, SIGUSR1), 0); /* hang */
	mon_wait(&r, EV_DEGRADED, WAIT_MS);
	cr_assert_eq(r.state, ST_DEGRADED);
	/* Two failures in a row: the sim has taken the first SIGUSR1, so the
	 * second cannot merge with it.  Then it answers again. */
	do
		mon_wait(&r, EV_CHECK, WAIT_MS);
	while (r.failures < 2);
	cr_assert_eq(kill(pid, SIGUSR1), 0);
	mon_wait(&r, EV_HEALTHY, WAIT_MS);
	cr_assert_eq(r.state, ST_HEALTHY);
	cr_assert_eq(r.pid, pid);
	cr_assert_eq(r.failures, 0);
	cr_assert_eq(r.restarts, 0);
}

Test(monitor, hang_ignoring_sigterm_gets_sigkill_after_stop_timeout)
{
	struct report r;
	const char *gcfile = tl_path("grandchild.pid");
	char gcenv[600];
	snprintf(gcenv, sizeof(gcenv), "SIM_GRANDCHILD_PIDFILE=%s", gcfile);
	const char *env[] = {"RON_HEALTH_INTERVAL_MS=100",
			     "RON_HEALTH_TIMEOUT_MS=50",
			     "RON_STOP_TIMEOUT_MS=300",
			     "SIM_IGNORE_SIGTERM=1",
			     "SIM_GRANDCHILD=1",
			     gcenv,
			     NULL};
	mon_start(NULL, env);
	pid_t pid = mon_ready(&r);
	pid_t gc = read_pidfile(gcfile);
	cr_assert(tl_pid_alive(gc));

	cr_assert_eq(kill(pid, SIGUSR1), 0);
	mon_wait(&r, EV_UNHEALTHY, WAIT_MS);
	cr_assert_eq(r.pid, pid);
	mon_event(&r, EV_STOPPING, WAIT_MS);
	int64_t term_at = r.mono_us;
	cr_assert_eq(r.pid, pid);
	mon_event(&r, EV_STOPPING, WAIT_MS);
	cr_assert(strstr(r.reason, "SIGKILL"), "reason: %s", r.reason);
	cr_assert(strstr(r.reason, "300 ms"), "reason: %s", r.reason);
	cr_assert_geq(r.mono_us - term_at, 300000, "SIGKILL %lld us after SIGTERM",
		      (long long)(r.mono_us - term_at));
	mon_event(&r, EV_EXITED, WAIT_MS);
	cr_assert_eq(r.pid, pid);
	cr_assert_eq(r.signal, SIGKILL);
	cr_assert_str_eq(r.reason, "killed by SIGKILL");
	expect_gone(gc, "grandchild ignoring SIGTERM");
	mon_event(&r, EV_RESTARTING, WAIT_MS);
	mon_event(&r, EV_SPAWNED, WAIT_MS);
	cr_assert_neq(r.pid, pid);
}

/* A service that answers, but wrongly, never becomes ready: the start
 * timeout names the answer it gave. */
static void answers_badly(const char *mode, const char *want)
{
	struct report r;
	char modeenv[64];
	snprintf(modeenv, sizeof(modeenv), "SIM_MODE=%s", mode);
	const char *env[] = {modeenv, "RON_START_TIMEOUT_MS=300", NULL};
	mon_start(NULL, env);

	mon_event(&r, EV_SPAWNED, WAIT_MS);
	pid_t pid = r.pid;
	mon_event(&r, EV_UNHEALTHY, WAIT_MS);
	cr_assert_eq(r.pid, pid);
	cr_assert(strncmp(r.reason, "no healthy answer within 300 ms", 31) == 0, "reason: %s",
		  r.reason);
	cr_assert(strstr(r.reason, want), "reason \"%s\" does not say \"%s\"", r.reason, want);
	mon_event(&r, EV_STOPPING, WAIT_MS);
	cr_assert(strstr(r.reason, want), "reason: %s", r.reason);
	mon_event(&r, EV_EXITED, WAIT_MS);
	cr_assert_eq(r.pid, pid);
	mon_event(&r, EV_RESTARTING, WAIT_MS);
	cr_assert_eq(r.restarts, 1);
	mon_event(&r, EV_SPAWNED, WAIT_MS);
	cr_assert_neq(r.pid, pid);
}

Test(monitor, unhealthy_answer_is_unhealthy_with_its_reason)
{
	answers_badly("unhealthy", "payload is Err, not HealthOk");
}

Test(monitor, garbage_answer_is_unhealthy_with_its_reason)
{
	answers_badly("garbage", "expected an array or map");
}

/* msgpack-c reports its nesting stack running out as out of memory: the monitor
 * must still take the reply for the service's fault. */
Test(monitor, reply_nested_too_deep_is_unhealthy_with_its_reason)
{
	answers_badly("deep", "reply nested deeper than 32 levels");
}

Test(monitor, slow_starter_within_start_timeout_is_ready)
{
	struct report r;
	const char *env[] = {"SIM_START_DELAY_MS=300", "RON_START_TIMEOUT_MS=5000", NULL};
	mon_start(NULL, env);
	mon_event(&r, EV_SPAWNED, WAIT_MS);
	pid_t pid = r.pid;
	int64_t spawned_at = r.mono_us;
	mon_event(&r, EV_READY, WAIT_MS);
	cr_assert_eq(r.pid, pid);
	cr_assert_eq(r.restarts, 0);
	cr_assert_geq(r.mono_us - spawned_at, 300000, "ready %lld us after spawn",
		      (long long)(r.mono_us - spawned_at));
	long long ms = -1;
	cr_assert_eq(sscanf(r.reason, "ready in %lld ms", &ms), 1, "reason: %s", r.reason);
	cr_assert_geq(ms, 300);
}

Test(monitor, slow_starter_beyond_start_timeout_is_restarted)
{
	struct report r;
	const char *env[] = {"SIM_START_DELAY_MS=5000", "RON_START_TIMEOUT_MS=300", NULL};
	mon_start(NULL, env);
	mon_event(&r, EV_SPAWNED, WAIT_MS);
	pid_t pid = r.pid;
	int64_t spawned_at = r.mono_us;
	mon_event(&r, EV_UNHEALTHY, WAIT_MS);
	cr_assert_eq(r.pid, pid);
	cr_assert(strncmp(r.reason, "no healthy answer within 300 ms", 31) == 0, "reason: %s",
		  r.reason);
	cr_assert_geq(r.mono_us - spawned_at, 300000);
	mon_event(&r, EV_STOPPING, WAIT_MS);
	mon_event(&r, EV_EXITED, WAIT_MS);
	cr_assert_eq(r.pid, pid);
	mon_event(&r, EV_RESTARTING, WAIT_MS);
	cr_assert_eq(r.restarts, 1);
	mon_event(&r, EV_SPAWNED, WAIT_MS);
	cr_assert_neq(r.pid, pid);
}

static bool connection_accepted(void *pid)
{
	/* The listener and one accepted connection: a check is waiting on it. */
	return count_fds((pid_t)(intptr_t)pid, "socket:") >= 2;
}

/* A hanging service with a check waiting on it that will not time out for 5 s. */
static pid_t start_with_check_in_flight(struct report *r)
{
	const char *env[] = {"SIM_MODE=hang", "RON_HEALTH_TIMEOUT_MS=5000",
			     "RON_HEALTH_INTERVAL_MS=6000", "RON_START_TIMEOUT_MS=20000", NULL};
	mon_start(NULL, env);
	mon_event(r, EV_SPAWNED, WAIT_MS);
	pid_t pid = r->pid;
	cr_assert(tl_wait_for(connection_accepted, (void *)(intptr_t)pid, WAIT_MS),
		  "no health check reached the service");
	return pid;
}

Test(monitor, exit_is_noticed_while_a_check_hangs)
{
	struct report r;
	pid_t pid = start_with_check_in_flight(&r);

	int64_t killed_at = clock_mono_us();
	cr_assert_eq(kill(pid, SIGKILL), 0);
	mon_exited(&r, pid);
	cr_assert_eq(r.signal, SIGKILL);
	int64_t took_ms = (r.mono_us - killed_at) / 1000;
	/* The check's own timeout is 5000 ms: waiting for it would show. */
	cr_assert_lt(took_ms, 2500, "exit reported %lld ms after the kill", (long long)took_ms);
	mon_event(&r, EV_RESTARTING, WAIT_MS);
	mon_event(&r, EV_SPAWNED, WAIT_MS);
	cr_assert_neq(r.pid, pid);
}

Test(monitor, stop_is_immediate_while_a_check_hangs)
{
	struct report r;
	pid_t pid = start_with_check_in_flight(&r);

	int64_t asked_at = clock_mono_us();
	cr_assert_eq(kill(mon_pid, SIGTERM), 0);
	mon_event(&r, EV_STOPPING, WAIT_MS);
	mon_event(&r, EV_EXITED, WAIT_MS);
	cr_assert_eq(r.pid, pid);
	mon_event(&r, EV_STOPPED, WAIT_MS);
	int64_t took_ms = (r.mono_us - asked_at) / 1000;
	cr_assert_lt(took_ms, 2500, "stopped %lld ms after SIGTERM", (long long)took_ms);
	mon_expect_exit(0);
}

static void spawn_fails(const char *bin, const char *errtext)
{
	struct report r;
	char want[600];
	snprintf(want, sizeof(want), "spawn failed: %s: %s", bin, errtext);
	mon_start_full(bin, NULL, NULL, false);

	int64_t last_delay = -1;
	for (unsigned i = 1; i <= 5; i++) {
		mon_event(&r, EV_SPAWN_FAILED, WAIT_MS);
		cr_assert_str_eq(r.reason, want);
		cr_assert_eq(r.pid, 0);
		cr_assert_eq(r.restarts, i - 1);
		mon_event(&r, EV_RESTARTING, WAIT_MS);
		cr_assert_eq(r.restarts, i);
		cr_assert_eq(r.state, ST_BACKOFF);
		cr_assert_gt(r.delay_ms, last_delay, "restart %u: delay %lld ms after %lld ms", i,
			     (long long)r.delay_ms, (long long)last_delay);
		last_delay = r.delay_ms;
	}
	/* The same policy as crashes: quarantine past the cap (5). */
	mon_event(&r, EV_SPAWN_FAILED, WAIT_MS);
	mon_event(&r, EV_QUARANTINED, WAIT_MS);
	cr_assert_eq(r.state, ST_QUARANTINED);
	expect_monitor_alive();

	cr_assert_eq(kill(mon_pid, SIGTERM), 0);
	mon_event(&r, EV_STOPPED, WAIT_MS);
	mon_expect_exit(0);
}

Test(monitor, missing_binary_is_spawn_failed_with_backoff)
{
	spawn_fails("/nonexistent/x", "No such file or directory");
}

Test(monitor, non_executable_binary_is_spawn_failed_with_backoff)
{
	const char *path = tl_path("not-executable");
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs("#!/bin/sh\nexit 0\n", f);
	fclose(f);
	cr_assert_eq(chmod(path, 0644), 0);
	spawn_fails(path, "Permission denied");
}

Test(monitor, first_spawn_failure_is_not_reported_as_stopped)
{
	struct report r;
	mon_start_full("/nonexistent/x", NULL, NULL, false);
	mon_event(&r, EV_SPAWN_FAILED, WAIT_MS);
	cr_assert_neq(
	    r.state, ST_STOPPED,
	    "BUG (monitor/machine.c spawn): the first spawn_failed report says state "
	    "\"stopped\" while the monitor goes on to retry (later ones say \"backoff\")");
}

Test(monitor, sigterm_stops_service_and_exits_0)
{
	struct report r;
	mon_start(NULL, NULL);
	pid_t pid = mon_ready(&r);

	cr_assert_eq(kill(mon_pid, SIGTERM), 0);
	mon_event(&r, EV_STOPPING, WAIT_MS);
	cr_assert_eq(r.pid, pid);
	cr_assert_str_eq(r.reason, "stop requested");
	mon_event(&r, EV_EXITED, WAIT_MS);
	cr_assert_eq(r.pid, pid);
	cr_assert_eq(r.signal, SIGTERM);
	mon_event(&r, EV_STOPPED, WAIT_MS);
	cr_assert_eq(r.state, ST_STOPPED);
	cr_assert_eq(r.pid, 0);
	mon_expect_exit(0);
	cr_assert_not(mon_next(&r, WAIT_MS), "a report after stopped: %s",
		      report_event_name(r.event));
	cr_assert(mon_out.eof);
	expect_gone(pid, "service");
}

Test(monitor, sigterm_during_backoff_stops_without_respawn)
{
	struct report r;
	const char *env[] = {"SIM_EXIT_ON_START=3", "RON_BACKOFF_MIN_MS=60000",
			     "RON_BACKOFF_MAX_MS=60000", NULL};
	mon_start(NULL, env);
	mon_event(&r, EV_SPAWNED, WAIT_MS);
	mon_event(&r, EV_EXITED, WAIT_MS);
	mon_event(&r, EV_RESTARTING, WAIT_MS);
	cr_assert_geq(r.delay_ms, 45000, "a service that never came up backs off at once");

	cr_assert_eq(kill(mon_pid, SIGTERM), 0);
	mon_event(&r, EV_STOPPED, WAIT_MS);
	cr_assert_eq(r.pid, 0);
	mon_expect_exit(0);
}

static void start_with_grandchild(struct report *r, pid_t *pid, pid_t *gc)
{
	const char *gcfile = tl_path("grandchild.pid");
	static char gcenv[600];
	snprintf(gcenv, sizeof(gcenv), "SIM_GRANDCHILD_PIDFILE=%s", gcfile);
	const char *env[] = {"SIM_GRANDCHILD=1", gcenv, NULL};
	mon_start(NULL, env);
	*pid = mon_ready(r);
	*gc = read_pidfile(gcfile);
	cr_assert_neq(*gc, *pid);
	cr_assert(tl_pid_alive(*gc), "grandchild %d not running", (int)*gc);
}

Test(monitor, grandchild_gone_after_stop)
{
	struct report r;
	pid_t pid, gc;
	start_with_grandchild(&r, &pid, &gc);

	cr_assert_eq(kill(mon_pid, SIGTERM), 0);
	mon_event(&r, EV_STOPPING, WAIT_MS);
	mon_event(&r, EV_EXITED, WAIT_MS);
	mon_event(&r, EV_STOPPED, WAIT_MS);
	mon_expect_exit(0);
	expect_gone(pid, "service");
	expect_gone(gc, "grandchild");
}

Test(monitor, grandchild_gone_after_service_crash)
{
	struct report r;
	pid_t pid, gc;
	start_with_grandchild(&r, &pid, &gc);

	cr_assert_eq(kill(pid, SIGKILL), 0);
	mon_exited(&r, pid);
	expect_gone(gc, "grandchild of the crashed service");
	mon_event(&r, EV_RESTARTING, WAIT_MS);
	mon_event(&r, EV_SPAWNED, WAIT_MS);
}

Test(monitor, parent_death_stops_service)
{
	struct report r;
	mon_start_full(NULL, NULL, NULL, true);
	pid_t sh = mon_pid;
	pid_t pid = mon_ready(&r);
	pid_t mpid = r.mpid;
	cr_assert_neq(mpid, sh);
	expect_clean_start(pid); /* though sh had the monitor ignore SIGINT */

	cr_assert_eq(kill(sh, SIGKILL), 0);
	int st;
	cr_assert(tl_wait_exit(sh, WAIT_MS, &st));
	mon_event(&r, EV_STOPPING, WAIT_MS);
	cr_assert_str_eq(r.reason, "parent died");
	mon_event(&r, EV_EXITED, WAIT_MS);
	cr_assert_eq(r.pid, pid);
	mon_event(&r, EV_STOPPED, WAIT_MS);
	expect_gone(pid, "service");
	expect_gone(mpid, "ron-monitor");
}

/* The kernel's way: reports on a pipe at --status-fd, and a terminal's
 * SIGINT left to the kernel. */
Test(monitor, status_fd_carries_the_reports_and_sigint_is_ignored)
{
	struct report r;
	int p[2];
	cr_assert_eq(pipe2(p, 0), 0);
	cr_assert_eq(fcntl(p[0], F_SETFD, FD_CLOEXEC), 0); /* only the write end is inherited */
	char fd_s[16];
	snprintf(fd_s, sizeof(fd_s), "%d", p[1]);
	const char *args[] = {"--status-fd", fd_s, NULL};
	mon_start(args, NULL);
	close(p[1]);
	int out = mon_out.fd;
	tl_lines_init(&mon_out, p[0]);
	pid_t pid = mon_ready(&r);

	cr_assert_eq(kill(mon_pid, SIGINT), 0);
	for (int checks = 0; checks < 2;) {
		cr_assert(mon_next(&r, WAIT_MS), "no report after SIGINT\n%s", out_tail());
		cr_assert(r.event == EV_CHECK || r.event == EV_DEGRADED || r.event == EV_HEALTHY,
			  "after SIGINT: \"%s\" (%s)", report_event_name(r.event), r.reason);
		cr_assert_eq(r.pid, pid);
		checks += r.event == EV_CHECK;
	}
	cr_assert_eq(kill(mon_pid, SIGTERM), 0);
	mon_event(&r, EV_STOPPING, WAIT_MS);
	cr_assert_str_eq(r.reason, "stop requested");
	mon_event(&r, EV_EXITED, WAIT_MS);
	mon_event(&r, EV_STOPPED, WAIT_MS);
	mon_expect_exit(0);

	/* Its stdout carried no report: only what svc-sim printed. */
	struct tl_lines *o = malloc(sizeof(*o));
	cr_assert(o);
	tl_lines_init(o, out);
	char line[1024];
	while (tl_next_line(o, line, sizeof(line), WAIT_MS))
		cr_assert_neq(line[0], '{', "a report on stdout: %s", line);
	free(o);
}

Test(monitor, closed_status_pipe_stops_the_service)
{
	struct report r;
	mon_start(NULL, NULL);
	pid_t pid = mon_ready(&r);

	close(mon_out.fd);
	mon_out.fd = -1;
	mon_out.eof = true;
	mon_expect_exit(0);
	expect_gone(pid, "service");
}

/* Starts svc-sim the way the kernel would find it running: ours, not the
 * monitor's.  Returns its pid and a pidfd that a child inherits. */
static pid_t start_foreign_sim(int *pidfd, unsigned long long *ticks, const char *gcfile)
{
	static char envsock[600];
	static struct tl_lines simout;
	snprintf(envsock, sizeof(envsock), "RON_STORAGE_SOCK=%s", tl_path("svc-storage.sock"));
	char *argv[] = {SIM, NULL};
	static char gcenv[600];
	snprintf(gcenv, sizeof(gcenv), "SIM_GRANDCHILD_PIDFILE=%s", gcfile ? gcfile : "");
	char *env[] = {envsock, "SIM_MODE=", gcfile ? "SIM_GRANDCHILD=1" : "SIM_GRANDCHILD=", gcenv,
		       NULL};
	int out, err;
	pid_t pid = tl_spawn(argv, env, &out, &err);
	tl_lines_init(&simout, out);
	/* svc-sim prints this line once its socket listens. */
	cr_assert(tl_expect(&simout, NULL, 0, WAIT_MS, "listening on", NULL),
		  "svc-sim never listened: %s", simout.log);

	*pidfd = pidfd_open(pid, 0);
	cr_assert_geq(*pidfd, 0, "pidfd_open: %s", strerror(errno));
	cr_assert_eq(fcntl(*pidfd, F_SETFD, 0), 0); /* inherited by ron-monitor */
	cr_assert_eq(proc_start_ticks(pid, ticks), 0);
	return pid;
}

static void start_adopting(int pidfd, pid_t pid, unsigned long long ticks)
{
	static char fd_s[16], pid_s[16], ticks_s[32];
	snprintf(fd_s, sizeof(fd_s), "%d", pidfd);
	snprintf(pid_s, sizeof(pid_s), "%d", (int)pid);
	snprintf(ticks_s, sizeof(ticks_s), "%llu", ticks);
	const char *args[] = {"--adopt-pidfd", fd_s,	"--adopt-pid", pid_s,
			      "--adopt-start", ticks_s, NULL};
	mon_start(args, NULL);
	close(pidfd);
}

Test(monitor, adopts_a_running_service_and_respawns_after_its_death)
{
	struct report r;
	int pidfd;
	unsigned long long ticks;
	pid_t sim = start_foreign_sim(&pidfd, &ticks, NULL);
	start_adopting(pidfd, sim, ticks);

	cr_assert(mon_next(&r, WAIT_MS), "no report\n%s", mon_err);
	cr_assert_eq(r.event, EV_ADOPTED, "first report: %s (%s)", report_event_name(r.event),
		     r.reason);
	cr_assert_eq(r.pid, sim);
	cr_assert_eq(r.start, ticks);
	/* Without a hand-over record nothing is known of it: healthy only once it answers. */
	cr_assert_eq(r.state, ST_STARTING);
	cr_assert(strstr(r.reason, "no hand-over record"), "%s", r.reason);
	mon_event(&r, EV_READY, WAIT_MS);
	cr_assert_eq(r.pid, sim);

	/* The same process keeps serving: passing checks, nothing spawned. */
	for (int ok = 0; ok < 3;) {
		cr_assert(mon_next(&r, WAIT_MS), "no check report\n%s", out_tail());
		/* A check may fail on a loaded machine; a restart may not happen. */
		cr_assert(r.event == EV_CHECK || r.event == EV_DEGRADED || r.event == EV_HEALTHY,
			  "unexpected \"%s\" (%s)", report_event_name(r.event), r.reason);
		cr_assert_eq(r.pid, sim);
		if (r.ok)
			ok++;
	}

	cr_assert_eq(kill(sim, SIGKILL), 0);
	int st;
	cr_assert(tl_wait_exit(sim, WAIT_MS, &st)); /* the kernel's part: reaping it */
	mon_exited(&r, sim);
	cr_assert_eq(r.code, -1); /* not its parent: no status to report */
	cr_assert_eq(r.signal, 0);
	mon_event(&r, EV_RESTARTING, WAIT_MS);
	cr_assert_eq(r.restarts, 1);
	mon_event(&r, EV_SPAWNED, WAIT_MS);
	cr_assert_gt(r.pid, 0);
	cr_assert_neq(r.pid, sim);
	pid_t pid2 = r.pid;
	mon_event(&r, EV_READY, WAIT_MS);
	cr_assert_eq(r.pid, pid2);
}

Test(monitor, adopted_service_is_stopped_through_its_pidfd)
{
	struct report r;
	int pidfd;
	unsigned long long ticks;
	pid_t sim = start_foreign_sim(&pidfd, &ticks, NULL);
	start_adopting(pidfd, sim, ticks);
	mon_event(&r, EV_ADOPTED, WAIT_MS);
	mon_wait(&r, EV_CHECK, WAIT_MS);

	cr_assert_eq(kill(mon_pid, SIGTERM), 0);
	mon_event(&r, EV_STOPPING, WAIT_MS);
	cr_assert_eq(r.pid, sim);
	int st;
	cr_assert(tl_wait_exit(sim, WAIT_MS, &st), "adopted service not stopped");
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "adopted service: status %#x", st);
	mon_exited(&r, sim);
	mon_event(&r, EV_STOPPED, WAIT_MS);
	mon_expect_exit(0);
}

Test(monitor, adoption_with_wrong_start_time_is_refused)
{
	struct report r;
	int pidfd;
	unsigned long long ticks;
	pid_t sim = start_foreign_sim(&pidfd, &ticks, NULL);
	start_adopting(pidfd, sim, ticks + 1);

	mon_event(&r, EV_SPAWNED, WAIT_MS);
	cr_assert_neq(r.pid, sim);
	pid_t pid = r.pid;
	mon_event(&r, EV_READY, WAIT_MS);
	cr_assert_eq(r.pid, pid);
	drain_err();
	cr_assert(strstr(mon_err, "not the one handed over"), "stderr: %s", mon_err);
	/* The process it was not sure of is left alone. */
	cr_assert(tl_pid_alive(sim));
	cr_assert_eq(waitpid(sim, NULL, WNOHANG), 0);
}

/* The process group of an adopted service is not the monitor's to signal: the
 * service is the kernel's child, which may have reaped it already, and then its
 * group id may name a stranger.  The kernel sweeps the group before it reaps the
 * leader (kernel_reap; test kernel.adopted_service_group_swept_by_its_reaper).
 * Here this test is that reaper and sweeps nothing: the grandchild is untouched. */
Test(monitor, adopted_service_group_left_to_its_reaper)
{
	struct report r;
	int pidfd;
	unsigned long long ticks;
	const char *gcfile = tl_path("grandchild.pid");
	pid_t sim = start_foreign_sim(&pidfd, &ticks, gcfile);
	pid_t gc = read_pidfile(gcfile);
	start_adopting(pidfd, sim, ticks);
	mon_event(&r, EV_ADOPTED, WAIT_MS);
	cr_assert_eq(r.pid, sim);
	mon_event(&r, EV_READY, WAIT_MS);

	cr_assert_eq(kill(sim, SIGKILL), 0);
	int st;
	cr_assert(tl_wait_exit(sim, WAIT_MS, &st));
	mon_exited(&r, sim);
	mon_event(&r, EV_RESTARTING, WAIT_MS);
	mon_event(&r, EV_SPAWNED, WAIT_MS);
	pid_t pid2 = r.pid;
	mon_event(&r, EV_READY, WAIT_MS);
	cr_assert_eq(r.pid, pid2);
	cr_assert(tl_pid_alive(gc), "the monitor signalled the group of a service it did not reap");
	kill(gc, SIGKILL);
}

/* Runs ron-monitor to its exit; returns its status and stderr. */
static int run_monitor(const char *const argv[], const char *const env[], char *err, size_t len)
{
	int out, errfd;
	pid_t pid = tl_spawn((char *const *)argv, (char *const *)env, &out, &errfd);
	static struct tl_lines lines;
	tl_lines_init(&lines, errfd);
	char line[1024];
	while (tl_next_line(&lines, line, sizeof(line), WAIT_MS))
		;
	cr_assert(lines.eof, "stderr never closed");
	size_t n = lines.loglen < len - 1 ? lines.loglen : len - 1;
	memcpy(err, lines.log, n);
	err[n] = '\0';
	int st;
	cr_assert(tl_wait_exit(pid, WAIT_MS, &st), "ron-monitor did not exit");
	cr_assert(WIFEXITED(st), "ron-monitor died by signal %d", WTERMSIG(st));
	char buf[16];
	cr_assert_eq(read(out, buf, sizeof(buf)), 0, "ron-monitor wrote reports");
	close(out);
	close(errfd);
	return WEXITSTATUS(st);
}

static void bad_setting(const char *flag, const char *envkv, const char *want)
{
	const char *argv[] = {MONITOR, "--name", "svc-storage", "--bin", SIM, flag, NULL};
	const char *env[] = {envkv, NULL};
	char err[4096];
	int status = run_monitor(argv, env, err, sizeof(err));
	cr_assert_eq(status, 78, "exit %d, stderr: %s", status, err);
	cr_assert(strstr(err, want), "stderr does not name %s: %s", want, err);
}

Test(monitor, bad_settings_exit_78_naming_the_setting)
{
	bad_setting(NULL, "RON_HEALTH_INTERVAL_MS=abc", "RON_HEALTH_INTERVAL_MS=abc");
	bad_setting(NULL, "RON_STOP_TIMEOUT_MS=5", "RON_STOP_TIMEOUT_MS=5");
	bad_setting("--restart-cap=0", "RON_RESTART_CAP=", "--restart-cap=0");
	bad_setting("--health-timeout-ms=1000", "RON_HEALTH_INTERVAL_MS=500", "must be less than");
}

Test(monitor, missing_name_exits_64)
{
	const char *argv[] = {MONITOR, "--bin", SIM, NULL};
	char err[4096];
	int status = run_monitor(argv, NULL, err, sizeof(err));
	cr_assert_eq(status, 64, "exit %d, stderr: %s", status, err);
	cr_assert(strstr(err, "--name"), "stderr: %s", err);
}

static bool none_with_env(void *kv)
{
	pid_t pids[16];
	int n = tl_procs_with_env(kv, pids, 16);
	for (int i = 0; i < n && i < 16; i++) {
		unsigned long long start;
		if (proc_start_ticks(pids[i], &start) == 0)
			note_pid(pids[i], start); /* teardown kills it */
	}
	return n == 0;
}

/* The reader of a standalone monitor's reports goes away while a quarantine
 * runs out: the restart that follows must not outlive the monitor. */
Test(monitor, reader_gone_before_a_restart_leaves_no_service)
{
	struct report r;
	const char *env[] = {"SIM_MODE=unhealthy",    "RON_START_TIMEOUT_MS=100",
			     "RON_RESTART_CAP=1",     "RON_QUARANTINE_MS=300",
			     "RON_BACKOFF_MIN_MS=10", NULL};
	mon_start(NULL, env);
	mon_wait(&r, EV_QUARANTINED, WAIT_MS);
	close(mon_out.fd);
	mon_expect_exit(0);

	char kv[600];
	snprintf(kv, sizeof(kv), "RON_STORAGE_SOCK=%s", tl_path("svc-storage.sock"));
	cr_assert(tl_wait_for(none_with_env, kv, WAIT_MS), "a service of the monitor outlived it");
}

/* --- --handover ----------------------------------------------------------------------------- */

/* A record of svc-storage in state st for the process pid/ticks (0: none). */
static const char *handover_arg(enum svc_state st, pid_t pid, unsigned long long ticks,
				int64_t due_ms)
{
	static struct handover h;
	static char text[HANDOVER_TEXT_MAX];
	memset(&h, 0, sizeof(h));
	strcpy(h.service, "svc-storage");
	h.state = st;
	h.mono_us = clock_mono_us();
	h.pid = pid;
	h.start = ticks;
	h.uptime_ms = pid ? 2000 : 0;
	h.healthy_ms = st == ST_HEALTHY || st == ST_DEGRADED ? 1500 : -1;
	h.rtt_us = -1;
	h.due_us = due_ms * 1000;
	h.restarts = 2;
	cr_assert_gt(handover_encode(&h, text, sizeof(text)), 0);
	return text;
}

static void start_adopting_with(int pidfd, pid_t pid, unsigned long long ticks, const char *rec)
{
	static char fd_s[16], pid_s[16], ticks_s[32];
	snprintf(fd_s, sizeof(fd_s), "%d", pidfd);
	snprintf(pid_s, sizeof(pid_s), "%d", (int)pid);
	snprintf(ticks_s, sizeof(ticks_s), "%llu", ticks);
	const char *args[] = {"--adopt-pidfd", fd_s,	     "--adopt-pid", pid_s, "--adopt-start",
			      ticks_s,	       "--handover", rec,	    NULL};
	mon_start(args, NULL);
	close(pidfd);
}

Test(monitor, adopts_with_a_record_in_its_recorded_state)
{
	struct report r;
	int pidfd;
	unsigned long long ticks;
	pid_t sim = start_foreign_sim(&pidfd, &ticks, NULL);
	start_adopting_with(pidfd, sim, ticks, handover_arg(ST_HEALTHY, sim, ticks, 50));
	cr_assert(mon_next(&r, WAIT_MS), "no report\n%s", mon_err);
	cr_assert_eq(r.event, EV_ADOPTED, "%s (%s)", report_event_name(r.event), r.reason);
	cr_assert_eq(r.state, ST_HEALTHY);
	cr_assert_eq(r.pid, sim);
	cr_assert_eq(r.restarts, 2, "the restart count comes with the record");
	cr_assert(strstr(r.reason, "hand-over record"), "%s", r.reason);
	cr_assert(mon_next(&r, WAIT_MS), "no check\n%s", mon_err);
	cr_assert_eq(r.event, EV_CHECK, "%s (%s)", report_event_name(r.event), r.reason);
	cr_assert_eq(r.pid, sim);
}

/* A bad record is an error naming the field, and the service is checked before it is
 * called anything. */
Test(monitor, bad_record_is_named_and_the_service_checked_first)
{
	struct report r;
	int pidfd;
	unsigned long long ticks;
	pid_t sim = start_foreign_sim(&pidfd, &ticks, NULL);
	char rec[4096];
	snprintf(rec, sizeof(rec), "%s", handover_arg(ST_HEALTHY, sim, ticks, 50));
	char *p = strstr(rec, "\"state\":\"healthy\"");
	cr_assert(p);
	memcpy(p, "\"state\":\"healthX\"", 17);
	start_adopting_with(pidfd, sim, ticks, rec);
	cr_assert(mon_next(&r, WAIT_MS), "no report\n%s", mon_err);
	cr_assert_eq(r.event, EV_ADOPTED);
	cr_assert_eq(r.state, ST_STARTING, "never healthy before a healthy answer");
	cr_assert(strstr(r.reason, "bad hand-over record: field \"state\""), "%s", r.reason);
	mon_event(&r, EV_READY, WAIT_MS);
	cr_assert_eq(r.pid, sim);
	drain_err();
	cr_assert(strstr(mon_err, "--handover: field \"state\": not a state name"), "%s", mon_err);
}

Test(monitor, record_from_the_future_is_refused)
{
	struct report r;
	int pidfd;
	unsigned long long ticks;
	pid_t sim = start_foreign_sim(&pidfd, &ticks, NULL);
	char rec[4096];
	snprintf(rec, sizeof(rec), "%s", handover_arg(ST_HEALTHY, sim, ticks, 50));
	char *p = strstr(rec, "\"mono_us\":"), fut[4096];
	cr_assert(p);
	/* Two more digits: a hundred times now, far in the future. */
	snprintf(fut, sizeof(fut), "%.*s99%s", (int)(p + 10 - rec), rec, p + 10);
	start_adopting_with(pidfd, sim, ticks, fut);
	cr_assert(mon_next(&r, WAIT_MS), "no report\n%s", mon_err);
	cr_assert_eq(r.state, ST_STARTING);
	cr_assert(strstr(r.reason, "field \"mono_us\""), "%s", r.reason);
	cr_assert(strstr(r.reason, "in the future"), "%s", r.reason);
}

Test(monitor, record_of_a_service_that_ended_meanwhile_loses_to_what_it_sees)
{
	struct report r;
	/* pid 1 is running, but it is not the record's process (start time 1) and was not
	 * handed over: the recorded service is gone. */
	mon_start((const char *[]){"--handover", handover_arg(ST_HEALTHY, 1, 1, 50), NULL}, NULL);
	cr_assert(mon_next(&r, WAIT_MS), "no report\n%s", mon_err);
	cr_assert_eq(r.event, EV_EXITED, "%s (%s)", report_event_name(r.event), r.reason);
	cr_assert_eq(r.pid, 1);
	mon_event(&r, EV_RESTARTING, WAIT_MS);
	cr_assert_eq(r.restarts, 3, "the count goes on from the record's 2");
	mon_event(&r, EV_SPAWNED, WAIT_MS);
	cr_assert_gt(r.pid, 1);
	/* The exited report named pid 1: never signalled, never waited for. */
	cr_assert(tl_pid_alive(1));
}

Test(monitor, record_in_backoff_spawns_at_its_time)
{
	struct report r;
	int64_t t0 = clock_mono_us();
	mon_start((const char *[]){"--handover", handover_arg(ST_BACKOFF, 0, 0, 300), NULL}, NULL);
	cr_assert(mon_next(&r, WAIT_MS), "no report\n%s", mon_err);
	cr_assert_eq(r.event, EV_ADOPTED);
	cr_assert_eq(r.state, ST_BACKOFF);
	mon_event(&r, EV_SPAWNED, WAIT_MS);
	cr_assert_geq(r.mono_us - t0, 300000, "spawned %lld us after the record was written",
		      (long long)(r.mono_us - t0));
}

Test(monitor, record_of_another_service_is_refused)
{
	struct report r;
	int pidfd;
	unsigned long long ticks;
	pid_t sim = start_foreign_sim(&pidfd, &ticks, NULL);
	char rec[4096];
	snprintf(rec, sizeof(rec), "%s", handover_arg(ST_HEALTHY, sim, ticks, 50));
	char *p = strstr(rec, "svc-storage");
	cr_assert(p);
	memcpy(p, "svc-overlay", 11);
	start_adopting_with(pidfd, sim, ticks, rec);
	cr_assert(mon_next(&r, WAIT_MS), "no report\n%s", mon_err);
	cr_assert_eq(r.state, ST_STARTING);
	cr_assert(strstr(r.reason, "field \"service\": svc-overlay, not svc-storage"), "%s",
		  r.reason);
}

/* The monitor's title (/proc/PID/cmdline) holds needle. */
static bool title_has(void *needle)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)mon_pid);
	ssize_t n = tl_read_file(path, buf, sizeof(buf));
	for (ssize_t i = 0; i < n - 1; i++)
		if (!buf[i])
			buf[i] = ' ';
	return n > 0 && strstr(buf, needle);
}

/* A reader that stops reading the status pipe (a stalled kernel): the monitor
 * goes on, reports it cannot write are replaced by later ones, and the latest,
 * its final "stopped", still arrives once the reader reads again; the numbers
 * show what was missed. */
Test(monitor, full_status_pipe_keeps_the_latest_report)
{
	struct report r;
	int p[2];
	cr_assert_eq(pipe2(p, 0), 0);
	cr_assert_eq(fcntl(p[0], F_SETFD, FD_CLOEXEC), 0);
	cr_assert_gt(fcntl(p[0], F_SETPIPE_SZ, 4096), 0, "F_SETPIPE_SZ: %s", strerror(errno));
	char fd_s[16];
	snprintf(fd_s, sizeof(fd_s), "%d", p[1]);
	const char *args[] = {"--status-fd", fd_s, NULL};
	/* Slow checks: the final report waits up to 3 intervals + the timeout. */
	const char *env[] = {"RON_HEALTH_INTERVAL_MS=2000", "RON_HEALTH_TIMEOUT_MS=1000", NULL};
	mon_start(args, env);
	tl_lines_init(&mon_out, p[0]);
	pid_t pid = mon_ready(&r);
	unsigned long long last = r.seq;
	cr_assert_gt(last, 0, "reports are numbered");

	/* Fill the pipe to the last byte with blank lines, which readers skip. */
	cr_assert(fcntl(p[1], F_GETFL) & O_NONBLOCK, "the monitor made its status fd non-blocking");
	while (write(p[1], "\n", 1) == 1)
		;
	cr_assert_eq(errno, EAGAIN);
	close(p[1]);
	cr_assert_eq(kill(mon_pid, SIGTERM), 0);
	/* "stopping", "exited" and "stopped" made while nothing fits. */
	cr_assert(tl_wait_for(title_has, " stopped ", WAIT_MS), "the monitor never stopped");
	expect_monitor_alive(); /* waiting to deliver its final report */

	bool gap = false;
	do {
		cr_assert(mon_next(&r, WAIT_MS), "the final report never came\n%s", out_tail());
		cr_assert_gt(r.seq, last, "report numbers go up");
		gap |= r.seq > last + 1;
		last = r.seq;
	} while (r.event != EV_STOPPED);
	cr_assert(gap, "no report was missed, so nothing was tested\n%s", out_tail());
	cr_assert_eq(r.state, ST_STOPPED);
	mon_expect_exit(0);
	expect_gone(pid, "service");
}
