/* ron-monitor's state machine driven directly, with fake I/O that records
 * what the machine asked for. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "kernel.h"
#include "machine.h"

struct fake {
	int spawns, spawn_fail; /* how many spawns; fail the next spawn_fail ones */
	int spawn_short;	/* fail the next ones for the monitor's own shortage */
	pid_t next_pid;
	int signals[8], nsignals;
	int probes, cancels;
	bool finished;
	struct report reports[256];
	int nreports;
};

static int f_spawn(void *ctx, pid_t *pid, unsigned long long *start, char *why, size_t len)
{
	struct fake *f = ctx;
	f->spawns++;
	if (f->spawn_short > 0) {
		f->spawn_short--;
		snprintf(why, len, "spawn failed: svc-x: pipe: Too many open files");
		return -2;
	}
	if (f->spawn_fail > 0) {
		f->spawn_fail--;
		snprintf(why, len, "spawn failed: svc-x: No such file or directory");
		return -1;
	}
	*pid = ++f->next_pid;
	*start = 1000 + (unsigned long long)*pid;
	return 0;
}
static void f_signal(void *ctx, int sig)
{
	struct fake *f = ctx;
	f->signals[f->nsignals++ % 8] = sig;
}
static void f_probe(void *ctx)
{
	((struct fake *)ctx)->probes++;
}
static void f_cancel(void *ctx)
{
	((struct fake *)ctx)->cancels++;
}
static void f_report(void *ctx, const struct report *r)
{
	struct fake *f = ctx;
	cr_assert_lt(f->nreports, 256);
	f->reports[f->nreports++] = *r;
}
static void f_finish(void *ctx)
{
	((struct fake *)ctx)->finished = true;
}

static const struct mon_cfg cfg = {
    .policy = {.backoff_min_ms = 100,
	       .backoff_max_ms = 30000,
	       .stable_ms = 1000,
	       .window_ms = 60000,
	       .quarantine_ms = 300000,
	       .cap = 5},
    .health_interval_ms = 1000,
    .health_timeout_ms = 500,
    .start_timeout_ms = 10000,
    .stop_timeout_ms = 5000,
    .health_failures = 3,
};

static struct fake f;
static struct mon m;

static void setup(void)
{
	memset(&f, 0, sizeof(f));
	f.next_pid = 100;
	struct mon_ops ops = {&f, f_spawn, f_signal, f_probe, f_cancel, f_report, f_finish};
	mon_init(&m, &cfg, &ops, "svc-x", 0, 0);
}

TestSuite(machine, .init = setup);

static const struct report *last(void)
{
	cr_assert_gt(f.nreports, 0);
	return &f.reports[f.nreports - 1];
}

static const struct report *find(enum report_event ev)
{
	for (int i = f.nreports - 1; i >= 0; i--)
		if (f.reports[i].event == ev)
			return &f.reports[i];
	return NULL;
}

static bool reported(enum report_event ev)
{
	for (int i = 0; i < f.nreports; i++)
		if (f.reports[i].event == ev)
			return true;
	return false;
}

static void send(enum mon_event_kind kind, int64_t now_ms)
{
	mon_handle(&m, &(struct mon_event){.kind = kind, .now_us = now_ms * 1000, .code = -1});
}

static void health(bool ok, int64_t now_ms, const char *why)
{
	mon_handle(&m, &(struct mon_event){.kind = ok ? MEV_HEALTH_OK : MEV_HEALTH_FAILED,
					   .now_us = now_ms * 1000,
					   .rtt_us = 150,
					   .reason = why});
}

/* Runs the timer at t and, if that started a probe, answers it. */
static void tick(int64_t now_ms, int answer /* -1 none, 0 fail, 1 ok */)
{
	int before = f.probes;
	send(MEV_TIMER, now_ms);
	if (f.probes > before && answer >= 0)
		health(answer == 1, now_ms, answer ? NULL : "connect: Connection refused");
}

static void start_healthy(int64_t now_ms)
{
	send(MEV_SPAWN, now_ms);
	tick(now_ms + 1, 1);
	cr_assert_eq(m.state, ST_HEALTHY);
}

Test(machine, spawn_then_first_ok_is_ready)
{
	send(MEV_SPAWN, 0);
	cr_assert_eq(m.state, ST_STARTING);
	cr_assert_eq(last()->event, EV_SPAWNED);
	cr_assert_eq(last()->pid, 101);
	cr_assert_eq(mon_deadline(&m), 1000, "first probe 1 ms after spawn");
	tick(1, 0);
	cr_assert_eq(m.state, ST_STARTING, "a failed probe while starting is not counted");
	cr_assert_eq(m.failures, 0);
	tick(3, 1);
	cr_assert_eq(m.state, ST_HEALTHY);
	cr_assert(find(EV_READY));
	cr_assert_str_eq(find(EV_READY)->reason, "ready in 3 ms");
	cr_assert_eq(last()->event, EV_CHECK, "the check report follows the event");
	cr_assert(last()->ok);
}

Test(machine, readiness_probes_grow_but_stay_short)
{
	send(MEV_SPAWN, 0);
	int64_t t = 1, prev_gap = 0;
	for (int i = 0; i < 12; i++) {
		tick(t, 0);
		int64_t next = mon_deadline(&m) / 1000;
		int64_t gap = next - t;
		cr_assert_geq(gap, prev_gap);
		cr_assert_leq(gap, 5);
		prev_gap = gap;
		t = next;
	}
}

Test(machine, start_timeout_counts_as_unhealthy)
{
	send(MEV_SPAWN, 0);
	for (int64_t t = 1; t < 10000; t = mon_deadline(&m) / 1000)
		tick(t, 0);
	tick(10000, -1);
	cr_assert(reported(EV_UNHEALTHY));
	cr_assert_eq(m.state, ST_STOPPING);
	cr_assert(strstr(last()->reason, "no healthy answer within 10000 ms"), "%s",
		  last()->reason);
	cr_assert_eq(f.signals[0], SIGTERM);
}

Test(machine, failures_below_threshold_degrade_then_recover)
{
	start_healthy(0);
	tick(1001, 0);
	cr_assert_eq(m.state, ST_DEGRADED);
	cr_assert_eq(last()->event, EV_DEGRADED);
	cr_assert_str_eq(last()->reason, "connect: Connection refused");
	tick(2001, 1);
	cr_assert_eq(m.state, ST_HEALTHY);
	cr_assert(find(EV_HEALTHY));
	cr_assert_eq(m.failures, 0);
}

Test(machine, threshold_failures_stop_gracefully_then_restart)
{
	start_healthy(0);
	tick(1001, 0);
	tick(2001, 0);
	cr_assert_eq(m.state, ST_DEGRADED);
	tick(3001, 0);
	cr_assert_eq(m.state, ST_STOPPING);
	cr_assert(reported(EV_UNHEALTHY));
	cr_assert_eq(f.nsignals, 1);
	cr_assert_eq(f.signals[0], SIGTERM);
	/* SIGKILL only once the stop timeout has passed */
	tick(8000, -1);
	cr_assert_eq(f.nsignals, 1);
	tick(8001, -1);
	cr_assert_eq(f.signals[1], SIGKILL);
	mon_handle(&m, &(struct mon_event){
			   .kind = MEV_EXITED, .now_us = 8002000, .signal = SIGKILL, .code = -1});
	cr_assert_eq(f.spawns, 2, "healthy for 3 s (> stable 1 s): respawned at once");
	cr_assert_eq(m.state, ST_STARTING);
	cr_assert_eq(m.restarts, 1);
}

Test(machine, crash_while_probe_in_flight_cancels_it)
{
	start_healthy(0);
	send(MEV_TIMER, 1001);
	cr_assert(m.probing);
	mon_handle(&m, &(struct mon_event){
			   .kind = MEV_EXITED, .now_us = 1002000, .signal = SIGKILL, .code = -1});
	cr_assert_eq(f.cancels, 1);
	cr_assert_eq(f.spawns, 2);
	/* a late verdict of the cancelled probe is ignored */
	health(false, 1003, "late");
	cr_assert_eq(m.state, ST_STARTING);
	cr_assert_eq(m.failures, 0);
}

Test(machine, exit_report_carries_code_and_signal)
{
	start_healthy(0);
	mon_handle(&m, &(struct mon_event){.kind = MEV_EXITED,
					   .now_us = 2000000,
					   .code = 3,
					   .reason = "exited with code 3"});
	const struct report *r = NULL;
	for (int i = 0; i < f.nreports; i++)
		if (f.reports[i].event == EV_EXITED)
			r = &f.reports[i];
	cr_assert(r);
	cr_assert_eq(r->code, 3);
	cr_assert_eq(r->signal, 0);
	cr_assert_eq(r->pid, 101);
	cr_assert_str_eq(r->reason, "exited with code 3");
}

Test(machine, crash_loop_backs_off_then_quarantines_and_sighup_lifts)
{
	int64_t t = 0;
	send(MEV_SPAWN, t);
	int64_t delays[8];
	int nd = 0;
	while (m.state != ST_QUARANTINED) {
		mon_handle(&m, &(struct mon_event){
				   .kind = MEV_EXITED, .now_us = (t + 5) * 1000, .code = 1});
		cr_assert_lt(nd, 8);
		if (m.state == ST_QUARANTINED)
			break;
		delays[nd++] = last()->event == EV_SPAWNED ? 0 : last()->delay_ms;
		t = m.state == ST_BACKOFF ? mon_deadline(&m) / 1000 : t + 5;
		send(MEV_TIMER, t);
		cr_assert_eq(m.state, ST_STARTING);
	}
	cr_assert_eq(nd, 5, "cap 5 restarts, then quarantine");
	cr_assert_geq(delays[0], 75, "never up: the first restart already backs off");
	for (int i = 1; i < nd; i++)
		cr_assert_gt(delays[i], delays[i - 1], "delays grow: %lld then %lld",
			     (long long)delays[i - 1], (long long)delays[i]);
	cr_assert_eq(last()->event, EV_QUARANTINED);
	cr_assert_eq(last()->delay_ms, 300000);
	int spawns = f.spawns;
	send(MEV_LIFT, t + 100);
	cr_assert_eq(f.spawns, spawns + 1);
	cr_assert_eq(m.state, ST_STARTING);
}

Test(machine, quarantine_retries_once_after_its_time)
{
	struct mon_cfg c = cfg;
	c.policy.cap = 1;
	struct mon_ops ops = m.ops;
	mon_init(&m, &c, &ops, "svc-x", 0, 0);
	send(MEV_SPAWN, 0);
	mon_handle(&m, &(struct mon_event){.kind = MEV_EXITED, .now_us = 1000, .code = 1});
	cr_assert_eq(m.state, ST_BACKOFF);
	int64_t t = mon_deadline(&m) / 1000;
	send(MEV_TIMER, t);
	cr_assert_eq(m.state, ST_STARTING);
	mon_handle(&m,
		   &(struct mon_event){.kind = MEV_EXITED, .now_us = (t + 1) * 1000, .code = 1});
	cr_assert_eq(m.state, ST_QUARANTINED);
	send(MEV_TIMER, t + 300000);
	cr_assert_eq(m.state, ST_QUARANTINED, "not before the quarantine time");
	send(MEV_TIMER, t + 300001);
	cr_assert_eq(m.state, ST_STARTING);
	/* failing again at once goes straight back */
	mon_handle(
	    &m, &(struct mon_event){.kind = MEV_EXITED, .now_us = (t + 300002) * 1000, .code = 1});
	cr_assert_eq(m.state, ST_QUARANTINED);
	cr_assert_str_eq(last()->reason, "failed again after quarantine");
}

Test(machine, spawn_failure_is_reported_and_backs_off)
{
	f.spawn_fail = 100;
	send(MEV_SPAWN, 0);
	cr_assert(reported(EV_SPAWN_FAILED));
	cr_assert_eq(f.reports[0].event, EV_SPAWN_FAILED);
	cr_assert_str_eq(f.reports[0].reason, "spawn failed: svc-x: No such file or directory");
	cr_assert_eq(m.state, ST_BACKOFF);
	cr_assert_eq(f.spawns, 1, "no immediate retry of a binary that would not start");
	cr_assert_geq(last()->delay_ms, 75);
	cr_assert_eq(last()->event, EV_RESTARTING);
}

Test(machine, stop_request_stops_and_finishes)
{
	start_healthy(0);
	send(MEV_STOP, 500);
	cr_assert_eq(m.state, ST_STOPPING);
	cr_assert_eq(f.signals[0], SIGTERM);
	cr_assert_not(f.finished);
	mon_handle(&m, &(struct mon_event){
			   .kind = MEV_EXITED, .now_us = 600000, .signal = SIGTERM, .code = -1});
	cr_assert(f.finished);
	cr_assert_eq(m.state, ST_STOPPED);
	cr_assert_eq(last()->event, EV_STOPPED);
	cr_assert_eq(f.spawns, 1, "no restart after a requested stop");
}

Test(machine, stop_during_unhealthy_restart_does_not_restart)
{
	start_healthy(0);
	for (int64_t t = 1001; m.state != ST_STOPPING; t += 1000)
		tick(t, 0);
	send(MEV_PARENT_DIED, 4000);
	mon_handle(&m, &(struct mon_event){
			   .kind = MEV_EXITED, .now_us = 4100000, .signal = SIGTERM, .code = -1});
	cr_assert(f.finished);
	cr_assert_eq(f.spawns, 1);
	cr_assert_eq(f.nsignals, 1, "SIGTERM once, not again");
}

Test(machine, stop_while_in_backoff_finishes_at_once)
{
	f.spawn_fail = 100;
	send(MEV_SPAWN, 0);
	cr_assert_eq(m.state, ST_BACKOFF);
	send(MEV_STOP, 10);
	cr_assert(f.finished);
	cr_assert_eq(f.nsignals, 0);
}

Test(machine, adopted_service_is_checked_at_once)
{
	mon_handle(
	    &m,
	    &(struct mon_event){
		.kind = MEV_ADOPTED, .now_us = 5000000, .pid = 4242, .start = 77, .age_ms = 3000});
	cr_assert_eq(last()->event, EV_ADOPTED);
	cr_assert_eq(last()->pid, 4242);
	cr_assert_eq(last()->uptime_ms, 3000);
	/* Nothing handed over says it is healthy: not until it answers. */
	cr_assert_eq(last()->state, ST_STARTING);
	cr_assert_eq(f.spawns, 0);
	cr_assert_eq(mon_deadline(&m), 5000000);
	tick(5000, 1);
	cr_assert_eq(m.state, ST_HEALTHY);
	cr_assert(reported(EV_READY));
	cr_assert_eq(last()->event, EV_CHECK);
	cr_assert(last()->ok);
}

Test(machine, reports_a_heartbeat_in_quiet_states)
{
	f.spawn_fail = 1000;
	struct mon_cfg c = cfg;
	c.policy.backoff_min_ms = 30000;
	struct mon_ops ops = m.ops;
	mon_init(&m, &c, &ops, "svc-x", 0, 0);
	send(MEV_SPAWN, 0);
	cr_assert_eq(m.state, ST_BACKOFF);
	int n = f.nreports;
	int64_t due = mon_deadline(&m);
	cr_assert_leq(due, ((REPORT_EVERY_CHECKS + 1) * 1000 + 500) * 1000,
		      "a report within REPORT_EVERY_CHECKS + 1 intervals + timeout");
	cr_assert_lt(due, kernel_mon_silence_limit_us(1000, 500), "inside the kernel's limit");
	send(MEV_TIMER, due / 1000);
	cr_assert_eq(f.nreports, n + 1);
	cr_assert_eq(last()->event, EV_CHECK);
}

/* A passing check that changes nothing is reported every REPORT_EVERY_CHECKS-th
 * check, the one that measures its round trip; the others are routine checks
 * whose reply waits for the next check's time.  The gap between reports stays
 * inside the kernel's silence limit whatever the checks do. */
Test(machine, passing_checks_report_once_per_report_every_checks)
{
	start_healthy(0);
	int64_t t = 1, prev = 1;
	int quiet = 0, loud = 0, measured = 0;
	for (int i = 0; i < 4 * REPORT_EVERY_CHECKS; i++) {
		int n = f.nreports;
		t = mon_deadline(&m) / 1000;
		send(MEV_TIMER, t);
		cr_assert(m.probing, "check %d started at %lld", i, (long long)t);
		bool was_measured = m.measured;
		measured += was_measured;
		/* A routine check's reply is read at the next check's time, and the next
		 * check starts from there. */
		int64_t verdict = was_measured ? t + 1 : t + 1000;
		health(1, verdict, NULL);
		cr_assert_eq(m.state, ST_HEALTHY);
		cr_assert_eq(m.next_check_us, (t + 1000) * 1000, "checks one interval apart");
		if (f.nreports == n) {
			cr_assert(!was_measured, "a measured check reports");
			quiet++;
			continue;
		}
		cr_assert(was_measured, "only the measured check reports");
		loud++;
		cr_assert_eq(last()->event, EV_CHECK);
		cr_assert(last()->ok);
		/* It stands for the quiet ones before it too, so none goes uncounted. */
		cr_assert_eq(last()->passed, REPORT_EVERY_CHECKS, "a report for %lld checks",
			     (long long)last()->passed);
		cr_assert_lt((verdict - prev) * 1000, kernel_mon_silence_limit_us(1000, 500),
			     "%lld ms between reports", (long long)(verdict - prev));
		prev = verdict;
	}
	cr_assert_eq(loud, 4, "%d reports for %d checks", loud, 4 * REPORT_EVERY_CHECKS);
	cr_assert_eq(measured, loud);
	cr_assert_eq(quiet, 4 * (REPORT_EVERY_CHECKS - 1));
	/* A failure is reported at once, and every check after it is measured until
	 * the service is healthy again. */
	int n = f.nreports;
	t = mon_deadline(&m) / 1000;
	tick(t, 0);
	cr_assert_eq(f.nreports, n + 2, "the failed check and the change");
	cr_assert_eq(last()->event, EV_DEGRADED);
	t = mon_deadline(&m) / 1000;
	send(MEV_TIMER, t);
	cr_assert(m.measured, "a degraded service's check is measured");
	health(1, t + 1, NULL);
	cr_assert_eq(last()->event, EV_CHECK, "healthy again, then its check");
	cr_assert(reported(EV_HEALTHY));
}

/* A check that never ends (the probe hangs past its timeout unnoticed) still
 * leaves the monitor reporting within the kernel's limit. */
Test(machine, heartbeat_while_a_check_hangs)
{
	start_healthy(0);
	int64_t t = mon_deadline(&m) / 1000;
	send(MEV_TIMER, t); /* probe started, no verdict */
	int n = f.nreports;
	int64_t due = mon_deadline(&m);
	cr_assert_lt(due - last()->mono_us, kernel_mon_silence_limit_us(1000, 500));
	send(MEV_TIMER, due / 1000);
	cr_assert_eq(f.nreports, n + 1);
	cr_assert_eq(last()->event, EV_CHECK);
	cr_assert_eq(last()->rtt_us, -1, "a heartbeat has no round trip");
}

Test(machine, quarantine_taken_over_waits_then_retries_on_probation)
{
	mon_handle(&m,
		   &(struct mon_event){.kind = MEV_QUARANTINED, .now_us = 1000000, .age_ms = 2000});
	cr_assert_eq(m.state, ST_QUARANTINED);
	cr_assert_eq(f.spawns, 0);
	cr_assert_eq(last()->event, EV_QUARANTINED);
	cr_assert_eq(last()->delay_ms, 2000);
	send(MEV_TIMER, 2999);
	cr_assert_eq(f.spawns, 0, "not before the quarantine's rest has passed");
	send(MEV_TIMER, 3000);
	cr_assert_eq(f.spawns, 1);
	cr_assert_eq(m.state, ST_STARTING);
	mon_handle(&m, &(struct mon_event){.kind = MEV_EXITED, .now_us = 3001000, .code = 1});
	cr_assert_eq(m.state, ST_QUARANTINED, "the retry after a quarantine is on probation");
}

/* --- resuming from a hand-over record --------------------------------------------------- */

static struct handover rec(enum svc_state st, int64_t mono_ms, int64_t due_ms)
{
	struct handover h;
	memset(&h, 0, sizeof(h));
	strcpy(h.service, "svc-x");
	h.state = st;
	h.mono_us = mono_ms * 1000;
	h.due_us = due_ms < 0 ? -1 : due_ms * 1000;
	h.healthy_ms = -1;
	h.rtt_us = -1;
	if (handover_state_has_pid(st)) {
		h.pid = 4242;
		h.start = 77;
		h.uptime_ms = 2000;
		if (st != ST_STARTING)
			h.healthy_ms = 1500;
	}
	return h;
}

static void resume(const struct handover *h, int64_t now_ms, bool gone)
{
	mon_handle(&m, &(struct mon_event){
			   .kind = MEV_RESUME, .now_us = now_ms * 1000, .h = h, .gone = gone});
}

Test(machine, resume_starting_keeps_its_start_deadline_and_is_ready_only_on_an_answer)
{
	struct handover h = rec(ST_STARTING, 10000, 800); /* start timeout ends at 10800 */
	resume(&h, 10050, false);
	cr_assert_eq(last()->event, EV_ADOPTED);
	cr_assert_eq(last()->state, ST_STARTING);
	cr_assert_eq(last()->uptime_ms, 2050);
	cr_assert_eq(last()->due_us, 750000);
	cr_assert_eq(f.spawns, 0);
	tick(10050, 0); /* not listening yet: no failure counted, no report */
	cr_assert_eq(m.state, ST_STARTING);
	cr_assert_eq(m.failures, 0);
	send(MEV_TIMER, 10799);
	if (m.probing)
		health(false, 10799, "connect: Connection refused");
	cr_assert_eq(m.state, ST_STARTING);
	send(MEV_TIMER, 10800);
	cr_assert(reported(EV_UNHEALTHY), "the predecessor's start deadline, not a new one");
	cr_assert_eq(m.state, ST_STOPPING);
}

Test(machine, resume_healthy_checks_at_the_recorded_time_and_keeps_stability)
{
	struct handover h = rec(ST_HEALTHY, 20000, 400);
	h.restarts = 2;
	resume(&h, 20100, false);
	cr_assert_eq(last()->state, ST_HEALTHY);
	cr_assert_eq(last()->restarts, 2);
	cr_assert_eq(mon_deadline(&m), 20400 * 1000);
	tick(20399, 1);
	cr_assert_eq(f.probes, 0, "not before the recorded check");
	tick(20400, 1);
	cr_assert_eq(f.probes, 1);
	/* Healthy for 1.5 s before the hand-over: stable, so a crash restarts at once. */
	mon_handle(&m, &(struct mon_event){.kind = MEV_EXITED, .now_us = 20500000, .code = 1});
	cr_assert_eq(find(EV_RESTARTING)->delay_ms, 0);
	cr_assert_eq(f.spawns, 1);
}

Test(machine, resume_degraded_keeps_its_failures)
{
	struct handover h = rec(ST_DEGRADED, 30000, 100);
	h.failures = 2;
	resume(&h, 30010, false);
	cr_assert_eq(last()->state, ST_DEGRADED);
	cr_assert_eq(last()->failures, 2);
	tick(30100, 0);
	cr_assert(reported(EV_UNHEALTHY), "the third failure in a row, counting the old ones");
}

Test(machine, resume_stopping_kills_at_the_original_deadline_without_a_second_sigterm)
{
	struct handover h = rec(ST_STOPPING, 40000, 300);
	resume(&h, 40020, false);
	cr_assert_eq(last()->state, ST_STOPPING);
	cr_assert_eq(f.nsignals, 0, "SIGTERM was sent by the predecessor");
	send(MEV_TIMER, 40299);
	cr_assert_eq(f.nsignals, 0);
	send(MEV_TIMER, 40300);
	cr_assert_eq(f.nsignals, 1);
	cr_assert_eq(f.signals[0], SIGKILL);
	/* After the exit it restarts as if no monitor had died. */
	mon_handle(&m, &(struct mon_event){.kind = MEV_EXITED, .now_us = 40301000, .signal = 9});
	cr_assert(reported(EV_RESTARTING));
}

Test(machine, resume_stopping_after_sigkill_waits_for_the_exit)
{
	struct handover h = rec(ST_STOPPING, 40000, -1);
	resume(&h, 40020, false);
	send(MEV_TIMER, 99000);
	cr_assert_eq(f.nsignals, 0, "SIGKILL was already sent");
	cr_assert_eq(m.state, ST_STOPPING);
}

Test(machine, resume_backoff_spawns_at_the_original_time)
{
	struct handover h = rec(ST_BACKOFF, 50000, 700);
	resume(&h, 50030, false);
	cr_assert_eq(last()->event, EV_ADOPTED);
	cr_assert_eq(last()->state, ST_BACKOFF);
	send(MEV_TIMER, 50699);
	cr_assert_eq(f.spawns, 0);
	send(MEV_TIMER, 50700);
	cr_assert_eq(f.spawns, 1);
	cr_assert_eq(m.state, ST_STARTING);
}

Test(machine, resume_quarantined_keeps_probation)
{
	struct handover h = rec(ST_QUARANTINED, 60000, 1000);
	h.probation = false;
	resume(&h, 60010, false);
	cr_assert_eq(last()->state, ST_QUARANTINED);
	send(MEV_TIMER, 60999);
	cr_assert_eq(f.spawns, 0);
	send(MEV_TIMER, 61000);
	cr_assert_eq(f.spawns, 1);
	mon_handle(&m, &(struct mon_event){.kind = MEV_EXITED, .now_us = 61001000, .code = 1});
	cr_assert_eq(m.state, ST_QUARANTINED, "the retry after the quarantine is on probation");
}

Test(machine, resume_counts_the_handed_over_restarts_toward_quarantine)
{
	/* cap 5: four restarts in the window already, the service crashed in the gap. */
	struct handover h = rec(ST_STARTING, 70000, 5000);
	h.restarts = 4;
	h.streak = 4;
	h.recorded = 4;
	h.ntimes = 4;
	for (int i = 0; i < 4; i++)
		h.restarts_ago_ms[i] = 1000 * (i + 1);
	resume(&h, 70010, false);
	mon_handle(&m, &(struct mon_event){.kind = MEV_EXITED, .now_us = 70020000, .code = 1});
	cr_assert_eq(last()->event, EV_RESTARTING);
	cr_assert_eq(last()->restarts, 5);
	cr_assert_eq(last()->streak, 5);
	cr_assert_eq(last()->recorded, 5);
	cr_assert_geq(last()->delay_ms, 600,
		      "the streak goes on (800 ms less up to a quarter): %lld",
		      (long long)last()->delay_ms);
	send(MEV_TIMER, 70020 + last()->delay_ms);
	mon_handle(&m, &(struct mon_event){.kind = MEV_EXITED, .now_us = 75000000, .code = 1});
	cr_assert_eq(m.state, ST_QUARANTINED,
		     "five restarts within the window, as without a hand-over");
}

Test(machine, resume_of_a_service_that_ended_in_between_goes_down_by_the_policy)
{
	struct handover h = rec(ST_HEALTHY, 80000, 300);
	h.restarts = 1;
	h.recorded = 1;
	h.ntimes = 1;
	h.restarts_ago_ms[0] = 3000;
	resume(&h, 80050, true);
	cr_assert_eq(f.reports[0].event, EV_EXITED);
	cr_assert_eq(f.reports[0].pid, 4242);
	cr_assert(strstr(f.reports[0].reason, "while its monitor was being replaced"));
	cr_assert(!reported(EV_ADOPTED));
	cr_assert_eq(find(EV_RESTARTING)->restarts, 2);
	cr_assert_eq(find(EV_RESTARTING)->delay_ms, 0, "it had been healthy 1.5 s: stable");
	cr_assert_eq(f.spawns, 1);
}

/* A stop the predecessor never read (it was frozen): the adopted service is stopped. */
Test(machine, resume_wanted_down_stops_the_service_and_keeps_it_down)
{
	struct handover h = rec(ST_HEALTHY, 90000, 300);
	h.want_down = true;
	resume(&h, 90050, false);
	cr_assert(reported(EV_ADOPTED));
	cr_assert_eq(m.state, ST_STOPPING);
	cr_assert_eq(f.nsignals, 1);
	cr_assert_eq(f.signals[0], SIGTERM);
	mon_handle(&m, &(struct mon_event){.kind = MEV_EXITED, .now_us = 90100000, .code = 0});
	cr_assert_eq(m.state, ST_DOWN);
	cr_assert_eq(last()->event, EV_DOWN);
	cr_assert_eq(f.spawns, 0);
	cr_assert_not(reported(EV_RESTARTING));
}

/* The predecessor died mid-stop: the stop goes on to its end, and no restart follows. */
Test(machine, resume_stopping_wanted_down_ends_down)
{
	struct handover h = rec(ST_STOPPING, 91000, 300);
	h.want_down = true;
	resume(&h, 91020, false);
	cr_assert_eq(f.nsignals, 0, "SIGTERM was sent by the predecessor");
	send(MEV_TIMER, 91300);
	cr_assert_eq(f.signals[0], SIGKILL);
	mon_handle(&m, &(struct mon_event){.kind = MEV_EXITED, .now_us = 91301000, .signal = 9});
	cr_assert_eq(m.state, ST_DOWN);
	cr_assert_eq(f.spawns, 0);
	cr_assert_not(reported(EV_RESTARTING));
}

Test(machine, resume_wanted_down_without_a_process_is_down_at_once)
{
	struct handover h = rec(ST_BACKOFF, 92000, 700);
	h.want_down = true;
	resume(&h, 92010, false);
	cr_assert_eq(m.state, ST_DOWN);
	send(MEV_TIMER, 93000);
	cr_assert_eq(f.spawns, 0);
	/* Ended in the gap: down, not restarted by the policy. */
	setup();
	h = rec(ST_HEALTHY, 94000, 300);
	h.want_down = true;
	resume(&h, 94010, true);
	cr_assert_eq(m.state, ST_DOWN);
	cr_assert_eq(f.spawns, 0);
}

Test(machine, reports_carry_what_a_successor_needs)
{
	start_healthy(0);
	const struct report *r = last();
	cr_assert_eq(r->due_us, 1000 * 1000, "next check in one interval");
	cr_assert_eq(r->healthy_ms, 0);
	send(MEV_STOP, 10);
	cr_assert_eq(last()->state, ST_STOPPING);
	cr_assert_eq(last()->due_us, 5000 * 1000, "SIGKILL after the stop timeout");
}

static void skipped(int64_t now_ms)
{
	mon_handle(&m, &(struct mon_event){.kind = MEV_CHECK_SKIPPED,
					   .now_us = now_ms * 1000,
					   .rtt_us = 10,
					   .reason = "socket: Too many open files"});
}

static int count(enum report_event ev)
{
	int n = 0;
	for (int i = 0; i < f.nreports; i++)
		n += f.reports[i].event == ev;
	return n;
}

/* Checks the monitor could not make count toward nothing, are reported once per
 * MON_SKIP_REPORT_MS, and the first real check clears them. */
Test(machine, skipped_checks_blame_nobody_and_are_rate_limited)
{
	start_healthy(0);
	int64_t t = 1;
	for (int i = 0; i < 30; i++) {
		t += 1000;
		int before = f.probes;
		send(MEV_TIMER, t);
		cr_assert_eq(f.probes, before + 1, "a check is due every interval");
		skipped(t);
		cr_assert_eq(m.state, ST_HEALTHY);
		cr_assert_eq(m.failures, 0);
	}
	cr_assert_not(reported(EV_UNHEALTHY));
	cr_assert_not(reported(EV_DEGRADED));
	cr_assert_eq(count(EV_CHECK_SKIPPED), 3, "30 s of skips: one report per 10 s");
	const struct report *r = find(EV_CHECK_SKIPPED);
	cr_assert(strstr(r->reason, "socket: Too many open files"), "%s", r->reason);
	t += 1000;
	tick(t, 1);
	cr_assert_eq(last()->event, EV_CHECK);
	cr_assert(last()->ok);
	cr_assert_not(m.skipping);
}

Test(machine, skipped_checks_hold_the_start_timeout)
{
	send(MEV_SPAWN, 0);
	int64_t t = 0;
	while (t < 20000) {
		int64_t d = mon_deadline(&m) / 1000;
		t = d > t ? d : t + 1;
		int before = f.probes;
		send(MEV_TIMER, t);
		if (f.probes > before)
			skipped(t);
	}
	cr_assert_eq(m.state, ST_STARTING, "no verdict on a service that could not be checked");
	cr_assert_not(reported(EV_UNHEALTHY));
	tick(t + 1000, 1);
	cr_assert_eq(m.state, ST_HEALTHY);
}

/* A spawn that failed for the monitor's own shortage backs off and never
 * quarantines, however often it happens. */
Test(machine, deferred_spawns_never_quarantine)
{
	f.spawn_short = 20;
	send(MEV_SPAWN, 0);
	cr_assert_eq(last()->event, EV_SPAWN_DEFERRED);
	cr_assert_eq(m.state, ST_BACKOFF);
	int64_t t = 0, prev_gap = 0;
	for (int i = 0; i < 19; i++) {
		int64_t next = m.respawn_at_us / 1000;
		cr_assert_geq(next - t, prev_gap, "the backoff does not shrink");
		prev_gap = next - t;
		t = next;
		send(MEV_TIMER, t);
		cr_assert_neq(m.state, ST_QUARANTINED);
	}
	cr_assert_eq(count(EV_SPAWN_DEFERRED), 20);
	cr_assert_not(reported(EV_QUARANTINED));
	cr_assert_eq(m.restarts, 0, "nothing counted as a restart");
	send(MEV_TIMER, m.respawn_at_us / 1000);
	cr_assert_eq(m.state, ST_STARTING);
	cr_assert_eq(last()->event, EV_SPAWNED);
}

/* After a pause of its own, every running deadline moves by the pause. */
Test(machine, shift_moves_deadlines)
{
	start_healthy(0);
	int64_t check_at = m.next_check_us;
	mon_shift(&m, 5000000);
	cr_assert_eq(m.next_check_us, check_at + 5000000);
	send(MEV_STOP, 10);
	int64_t kill_at = m.kill_deadline_us;
	mon_shift(&m, 3000000);
	cr_assert_eq(m.kill_deadline_us, kill_at + 3000000);
	send(MEV_TIMER, kill_at / 1000 + 1);
	cr_assert_eq(f.nsignals, 1, "no SIGKILL for time the monitor itself did not run");
}
