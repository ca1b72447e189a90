/* The monitor's state machine.  States: starting, healthy, degraded,
 * stopping, backoff, quarantined, down, stopped.  mon_handle() is the one switch
 * on events; each transition is a small function below. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bsd/string.h>

#include "clock.h"
#include "machine.h"

/* Readiness probes start this soon after spawn and back off to this interval. */
#define PROBE_FIRST_MS 1
#define PROBE_MAX_MS   5

/* The running deadline a replacement monitor must keep (report "due_us"). */
static int64_t mon_due(const struct mon *m)
{
	switch (m->state) {
	case ST_STARTING: return m->start_deadline_us;
	case ST_HEALTHY:
	case ST_DEGRADED:
		/* A check in flight is lost with this monitor: its successor makes it again
		 * at once. */
		return m->probing ? m->check_started_us : m->next_check_us;
	case ST_STOPPING: return m->kill_deadline_us;
	case ST_BACKOFF:
	case ST_QUARANTINED: return m->respawn_at_us;
	case ST_DOWN:
	case ST_STOPPED:
	case ST__COUNT: break;
	}
	return -1;
}

/* A report of the service as it stands; the caller adds what the event knows. */
static void report_now(const struct mon *m, struct report *r, enum report_event ev, int64_t now)
{
	report_init(r, m->name);
	r->event = ev;
	r->state = m->state;
	r->pid = m->pid;
	r->start = m->pid ? m->start : 0;
	r->restarts = m->restarts;
	r->uptime_ms = m->pid ? (now - m->spawned_us) / 1000 : 0;
	r->rtt_us = m->rtt_us;
	r->failures = m->failures;
	r->mono_us = now;
	if (ev == EV_RESTARTING || ev == EV_QUARANTINED)
		r->delay_ms = (m->respawn_at_us - now) / 1000;
	if (ev == EV_CHECK) {
		r->ok = m->failures == 0 && m->state == ST_HEALTHY && !m->skipping;
		r->passed = m->passed;
	}
	int64_t due = mon_due(m);
	r->due_us = due < 0 ? -1 : due > now ? due - now : 0;
	r->healthy_ms =
	    m->pid && m->healthy_since_us >= 0 ? (now - m->healthy_since_us) / 1000 : -1;
	r->streak = m->policy.streak;
	r->probation = m->policy.probation;
	r->recorded = m->policy.recorded;
}

static void send_report(struct mon *m, const struct report *r)
{
	m->last_report_us = r->mono_us;
	/* Said: the kernel counts them from this report. */
	if (r->event == EV_CHECK)
		m->passed = 0;
	m->ops.report(m->ops.ctx, r);
}

static void emit(struct mon *m, enum report_event ev, int64_t now, const char *fmt, ...)
{
	struct report r;
	report_now(m, &r, ev, now);
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r.reason, sizeof(r.reason), fmt, ap);
		va_end(ap);
	}
	send_report(m, &r);
}

static void emit_exit(struct mon *m, const struct mon_event *ev)
{
	struct report r;
	report_now(m, &r, EV_EXITED, ev->now_us);
	r.code = ev->code;
	r.signal = ev->signal;
	if (ev->reason)
		strlcpy(r.reason, ev->reason, sizeof(r.reason));
	send_report(m, &r);
}

static void stop_probe(struct mon *m)
{
	if (m->probing)
		m->ops.cancel_probe(m->ops.ctx);
	m->probing = false;
}

static void finish(struct mon *m, int64_t now, const char *why)
{
	m->state = ST_STOPPED;
	emit(m, EV_STOPPED, now, "%s", why);
	m->ops.finish(m->ops.ctx);
}

static void spawn(struct mon *m, int64_t now);

static void keep_down(struct mon *m, int64_t now)
{
	m->hold = HOLD_NONE;
	m->state = ST_DOWN;
	emit(m, EV_DOWN, now, "stopped as asked; kept down");
}

static void went_down(struct mon *m, int64_t now, int64_t healthy_ms)
{
	if (m->exiting) {
		finish(m, now, "stopped as asked");
		return;
	}
	/* Asked for by hand: neither a crash nor a restart the policy counts. */
	if (m->hold == HOLD_DOWN) {
		keep_down(m, now);
		return;
	}
	if (m->hold == HOLD_RESTART) {
		m->hold = HOLD_NONE;
		m->state = ST_BACKOFF;
		m->respawn_at_us = now;
		emit(m, EV_RESTARTING, now, "restart asked");
		spawn(m, now);
		return;
	}
	unsigned recent = policy_recent(&m->cfg->policy, &m->policy, now / 1000);
	bool probation = m->policy.probation;
	struct policy_decision d =
	    policy_on_down(&m->cfg->policy, &m->policy, now / 1000, healthy_ms, m->rnd);
	m->rnd = m->rnd * 1103515245u + 12345u;
	m->respawn_at_us = now + d.delay_ms * 1000;
	if (d.verdict == POLICY_QUARANTINE) {
		m->state = ST_QUARANTINED;
		if (probation)
			emit(m, EV_QUARANTINED, now, "failed again after quarantine");
		else
			emit(m, EV_QUARANTINED, now, "%u restarts within %lld ms", recent,
			     (long long)m->cfg->policy.window_ms);
		return;
	}
	m->restarts++;
	m->state = ST_BACKOFF;
	emit(m, EV_RESTARTING, now, NULL);
	if (d.delay_ms == 0)
		spawn(m, now);
}

static void spawn(struct mon *m, int64_t now)
{
	char why[REPORT_REASON_MAX];
	pid_t pid;
	unsigned long long start;

	if (m->exiting)
		return; /* a stop arrived while this restart was being decided */
	int rc = m->ops.spawn(m->ops.ctx, &pid, &start, why, sizeof(why));
	if (rc == -2) {
		/* Our shortage, not the service's: back off, but count nothing. */
		int64_t delay = policy_backoff_ms(&m->cfg->policy, ++m->deferred_streak);
		m->pid = 0;
		m->state = ST_BACKOFF;
		m->respawn_at_us = now + delay * 1000;
		emit(m, EV_SPAWN_DEFERRED, now, "%s", why);
		return;
	}
	m->deferred_streak = 0;
	if (rc < 0) {
		m->pid = 0;
		m->state = ST_BACKOFF; /* down, and the policy decides when to try again */
		emit(m, EV_SPAWN_FAILED, now, "%s", why);
		went_down(m, now, -1);
		return;
	}
	m->pid = pid;
	m->start = start;
	m->spawned_us = now;
	m->healthy_since_us = -1;
	m->failures = 0;
	m->rtt_us = -1;
	m->state = ST_STARTING;
	m->probe_step_ms = PROBE_FIRST_MS;
	m->next_check_us = now + PROBE_FIRST_MS * 1000;
	m->start_deadline_us = clock_after_ms(now, m->cfg->start_timeout_ms);
	emit(m, EV_SPAWNED, now, NULL);
}

static void begin_stop(struct mon *m, int64_t now, const char *why)
{
	stop_probe(m);
	if (!m->pid) {
		if (m->exiting)
			finish(m, now, why);
		return;
	}
	if (m->state != ST_STOPPING) {
		m->state = ST_STOPPING;
		m->kill_deadline_us = clock_after_ms(now, m->cfg->stop_timeout_ms);
		m->ops.signal(m->ops.ctx, m->cfg->stop_signal ? m->cfg->stop_signal : SIGTERM);
	}
	emit(m, EV_STOPPING, now, "%s", why);
}

static void unhealthy(struct mon *m, int64_t now, const char *why)
{
	emit(m, EV_UNHEALTHY, now, "%s", why);
	begin_stop(m, now, why);
}

static void on_exited(struct mon *m, const struct mon_event *ev)
{
	if (!m->pid)
		return;
	int64_t now = ev->now_us;
	int64_t healthy_ms = m->healthy_since_us < 0 ? -1 : (now - m->healthy_since_us) / 1000;
	stop_probe(m);
	emit_exit(m, ev);
	m->pid = 0;
	m->kill_deadline_us = -1;
	went_down(m, now, healthy_ms);
}

/* The check that measures its round trip and reports, once the last report is
 * REPORT_EVERY_CHECKS - 0.5 intervals old: every REPORT_EVERY_CHECKS-th check of a
 * healthy service.  Its report comes within that many intervals and a timeout of
 * the last one, an interval before the heartbeat (heartbeat_due()) and two before
 * the kernel's silence limit (kernel_mon_silence_limit_us()). */
static int64_t quiet_check_due(const struct mon *m)
{
	return m->last_report_us + m->cfg->health_interval_ms * (REPORT_EVERY_CHECKS * 1000 - 500);
}

/* A check was made again: the monitor's own trouble is over.  True if there was
 * some, which the kernel must hear of at once. */
static bool checks_resumed(struct mon *m)
{
	bool was = m->skipping;
	m->skipping = false;
	m->skipped = 0;
	return was;
}

static void on_health_ok(struct mon *m, const struct mon_event *ev)
{
	int64_t now = ev->now_us;
	enum svc_state was = m->state;
	if (!m->probing)
		return;
	m->probing = false;
	bool resumed = checks_resumed(m);
	if (ev->rtt_us >= 0) /* a collected reply has no round trip of its own */
		m->rtt_us = ev->rtt_us;
	m->failures = 0;
	m->passed++;
	m->last_reason[0] = '\0';
	switch (was) {
	case ST_STARTING:
		m->state = ST_HEALTHY;
		m->healthy_since_us = now;
		emit(m, EV_READY, now, "ready in %lld ms", (long long)(now - m->spawned_us) / 1000);
		emit(m, EV_CHECK, now, NULL);
		break;
	case ST_DEGRADED:
		m->state = ST_HEALTHY;
		emit(m, EV_HEALTHY, now, NULL);
		emit(m, EV_CHECK, now, NULL);
		break;
	default:
		/* Nothing changed: the kernel hears of it only from the measured check,
		 * as often as it must to know we are alive (quiet_check_due()). */
		if (m->measured || resumed)
			emit(m, EV_CHECK, now, NULL);
	}
}

/* A check the monitor could not make says nothing about the service: it counts toward
 * nothing, and the next one comes at the usual interval. */
static void on_check_skipped(struct mon *m, const struct mon_event *ev)
{
	int64_t now = ev->now_us;
	if (!m->probing)
		return;
	m->probing = false;
	m->skipped++;
	strlcpy(m->skip_reason, ev->reason ? ev->reason : "", sizeof(m->skip_reason));
	/* Readiness cannot be judged either: the start timeout waits for the next check
	 * to have its full time to answer. */
	int64_t judge_at = m->next_check_us + (m->cfg->health_timeout_ms + 1) * 1000;
	if (m->state == ST_STARTING && m->start_deadline_us < judge_at)
		m->start_deadline_us = judge_at;
	if (m->skipping && now - m->skip_reported_us < MON_SKIP_REPORT_MS * 1000)
		return;
	m->skipping = true;
	m->skip_reported_us = now;
	emit(m, EV_CHECK_SKIPPED, now, "%s (%u skipped)", m->skip_reason, m->skipped);
}

static void on_health_failed(struct mon *m, const struct mon_event *ev)
{
	int64_t now = ev->now_us;
	if (!m->probing)
		return;
	m->probing = false;
	checks_resumed(m);
	m->rtt_us = ev->rtt_us;
	strlcpy(m->last_reason, ev->reason ? ev->reason : "", sizeof(m->last_reason));
	if (m->state == ST_STARTING) {
		/* Not ready yet: probe again soon; the start timeout decides. */
		m->probe_step_ms *= 2;
		if (m->probe_step_ms > PROBE_MAX_MS)
			m->probe_step_ms = PROBE_MAX_MS;
		if (m->probe_step_ms > m->cfg->health_interval_ms)
			m->probe_step_ms = m->cfg->health_interval_ms;
		m->next_check_us = now + m->probe_step_ms * 1000;
		return;
	}
	m->failures++;
	emit(m, EV_CHECK, now, "%s", m->last_reason);
	if (m->failures >= m->cfg->health_failures) {
		unhealthy(m, now, m->last_reason);
		return;
	}
	if (m->state == ST_HEALTHY) {
		m->state = ST_DEGRADED;
		emit(m, EV_DEGRADED, now, "%s", m->last_reason);
	}
}

/* A healthy service's routine check need not wake the monitor for its reply: the
 * reply is collected when the next check is due, one wake-up per check, and a
 * reply not there by then fails the check.  Such a check measures no round trip.
 * Every other check is measured: the one that reports (quiet_check_due()), and
 * each while the service is starting, degraded or failing, or while checks were
 * being skipped, so that the timeout rules every verdict that changes a state. */
static void probe(struct mon *m, int64_t now)
{
	if (m->probing || now < m->next_check_us)
		return;
	m->probing = true;
	m->check_started_us = now;
	/* Checks run one interval apart, counted from each check's start, whatever the
	 * verdict: one whose reply is collected at the next check's time starts that
	 * check in the same wake-up. */
	m->next_check_us = clock_after_ms(now, m->cfg->health_interval_ms);
	m->measured =
	    m->state != ST_HEALTHY || m->failures || m->skipping || now >= quiet_check_due(m);
	m->ops.probe(m->ops.ctx);
}

/* Its time is up (one more try, on probation) or SIGHUP lifted it (a fresh start). */
static void quarantine_end(struct mon *m, int64_t now, bool by_hand)
{
	policy_lift(&m->policy, by_hand);
	m->restarts++;
	m->respawn_at_us = now;
	m->state = ST_BACKOFF;
	emit(m, EV_RESTARTING, now,
	     by_hand ? "quarantine lifted" : "quarantine over: one more try");
	spawn(m, now);
}

/* Later than the measured check's report (quiet_check_due()), so a healthy
 * service's monitor never wakes for it; earlier than the kernel's silence limit by
 * an interval, the slack for a loaded machine. */
static int64_t heartbeat_due(const struct mon *m)
{
	return m->last_report_us + ((REPORT_EVERY_CHECKS + 1) * m->cfg->health_interval_ms +
				    m->cfg->health_timeout_ms) *
				       1000;
}

static void on_timer(struct mon *m, int64_t now)
{
	switch (m->state) {
	case ST_STARTING:
		if (now >= m->start_deadline_us) {
			char why[REPORT_REASON_MAX + 64];
			snprintf(why, sizeof(why), "no healthy answer within %lld ms%s%s",
				 (long long)m->cfg->start_timeout_ms, m->last_reason[0] ? ": " : "",
				 m->last_reason);
			unhealthy(m, now, why);
		} else {
			probe(m, now);
		}
		break;
	case ST_HEALTHY:
	case ST_DEGRADED: probe(m, now); break;
	case ST_STOPPING:
		if (m->kill_deadline_us >= 0 && now >= m->kill_deadline_us) {
			m->kill_deadline_us = -1;
			m->ops.signal(m->ops.ctx, SIGKILL);
			emit(m, EV_STOPPING, now, "still running after %lld ms: SIGKILL",
			     (long long)m->cfg->stop_timeout_ms);
		}
		break;
	case ST_BACKOFF:
		if (now >= m->respawn_at_us)
			spawn(m, now);
		break;
	case ST_QUARANTINED:
		if (now >= m->respawn_at_us)
			quarantine_end(m, now, false);
		break;
	case ST_DOWN:
	case ST_STOPPED:
	case ST__COUNT: break;
	}
	/* Every state reports at least once per REPORT_EVERY_CHECKS + 1 intervals and a
	 * timeout (measured checks do so when they run): the kernel takes silence for a
	 * frozen monitor. */
	if (m->state != ST_STOPPED && now >= heartbeat_due(m)) {
		/* No check behind it, so no round trip: nothing counts it as a check. */
		struct report r;
		report_now(m, &r, EV_CHECK, now);
		r.rtt_us = -1;
		strlcpy(r.reason, m->skipping ? m->skip_reason : m->last_reason, sizeof(r.reason));
		send_report(m, &r);
	}
}

static void on_lift(struct mon *m, int64_t now)
{
	if (m->state == ST_QUARANTINED)
		quarantine_end(m, now, true);
}

/* Taking over a quarantine from a monitor that died: wait out its rest; the
 * one retry after it is on probation, as after any quarantine. */
static void on_quarantined(struct mon *m, const struct mon_event *ev)
{
	m->pid = 0;
	m->state = ST_QUARANTINED;
	m->policy.probation = true;
	m->respawn_at_us = ev->now_us + ev->age_ms * 1000;
	emit(m, EV_QUARANTINED, ev->now_us, "quarantine carried over from the previous monitor");
}

/* Commands.  A running service is stopped gracefully first; what follows its exit
 * (kept down, or started again at once) is in m->hold for went_down. */
static bool running(const struct mon *m)
{
	return m->pid && m->state != ST_STOPPING;
}

static void on_down(struct mon *m, int64_t now)
{
	if (m->state == ST_DOWN)
		return;
	m->hold = HOLD_DOWN;
	if (running(m))
		begin_stop(m, now, "stop asked");
	else if (!m->pid)
		keep_down(m, now); /* backoff or quarantine: nothing to stop */
}

static void on_up(struct mon *m, int64_t now)
{
	if (m->state == ST_QUARANTINED) {
		quarantine_end(m, now, true);
	} else if (m->state == ST_DOWN || m->state == ST_BACKOFF) {
		m->state = ST_BACKOFF;
		spawn(m, now);
	} else if (m->state == ST_STOPPING && m->hold == HOLD_DOWN) {
		m->hold = HOLD_RESTART; /* a stop then a start before the exit */
	}
}

static void on_restart(struct mon *m, int64_t now)
{
	if (running(m)) {
		m->hold = HOLD_RESTART;
		begin_stop(m, now, "restart asked");
	} else if (m->pid) {
		m->hold = HOLD_RESTART; /* already stopping: start again after the exit */
	} else {
		on_up(m, now);
	}
}

static void on_held_down(struct mon *m, int64_t now)
{
	m->pid = 0;
	keep_down(m, now);
}

/* A stop the kernel asked for goes on under a new monitor, even one its predecessor
 * never read: what runs is stopped, and whatever ends stays down. */
static void hold_down_as_wanted(struct mon *m, const struct handover *h)
{
	if (h && h->want_down)
		m->hold = HOLD_DOWN;
}

static void finish_wanted_stop(struct mon *m, int64_t now)
{
	if (m->hold != HOLD_DOWN)
		return;
	if (running(m))
		begin_stop(m, now, "stop asked of the previous monitor");
	else if (!m->pid)
		keep_down(m, now);
}

static void restore_history(struct mon *m, const struct handover *h, int64_t now)
{
	m->restarts = h->restarts;
	policy_restore(&m->policy, now / 1000, h->streak, h->probation, h->recorded,
		       h->restarts_ago_ms, h->ntimes);
}

/* No record to trust: the service may be in any state, so it is starting
 * until it answers, with a full start timeout from now. */
static void on_adopted(struct mon *m, const struct mon_event *ev)
{
	int64_t now = ev->now_us;
	if (ev->h)
		restore_history(m, ev->h, now);
	m->pid = ev->pid;
	m->start = ev->start;
	m->spawned_us = now - ev->age_ms * 1000;
	m->healthy_since_us = -1;
	m->failures = 0;
	m->state = ST_STARTING;
	m->probe_step_ms = PROBE_FIRST_MS;
	m->next_check_us = now;
	m->start_deadline_us = clock_after_ms(now, m->cfg->start_timeout_ms);
	emit(m, EV_ADOPTED, now, "%s", ev->reason ? ev->reason : "");
	hold_down_as_wanted(m, ev->h);
	finish_wanted_stop(m, now);
}

/* Continue where the previous monitor stopped, on the deadlines it had set. */
static void on_resume(struct mon *m, const struct mon_event *ev)
{
	const struct handover *h = ev->h;
	int64_t now = ev->now_us;
	int64_t due = h->due_us < 0 ? -1 : clock_add_us(h->mono_us, h->due_us);
	restore_history(m, h, now);
	hold_down_as_wanted(m, h);
	m->state = h->state;
	m->pid = h->pid;
	m->start = h->start;
	m->failures = h->failures;
	m->rtt_us = h->rtt_us;
	/* Nothing started before the monotonic clock did: an age beyond it (a suspend,
	 * or a wild record) is cut there, which also keeps "now - spawned" in range. */
	int64_t up_us =
	    h->uptime_ms > h->mono_us / 1000 ? h->mono_us : clock_ms_to_us(h->uptime_ms);
	int64_t ok_us = h->healthy_ms > up_us / 1000 ? up_us : clock_ms_to_us(h->healthy_ms);
	m->spawned_us = clock_sub_us(h->mono_us, up_us);
	m->healthy_since_us = h->healthy_ms < 0 ? -1 : clock_sub_us(h->mono_us, ok_us);
	switch (h->state) {
	case ST_STARTING:
		m->start_deadline_us = due;
		m->probe_step_ms = PROBE_FIRST_MS;
		m->next_check_us = now;
		break;
	case ST_HEALTHY:
	case ST_DEGRADED: m->next_check_us = due; break;
	case ST_STOPPING: m->kill_deadline_us = due; break;
	case ST_BACKOFF:
	case ST_QUARANTINED: m->respawn_at_us = due; break;
	case ST_DOWN: /* held down by hand: handed over with --down, never in a record */
	case ST_STOPPED:
	case ST__COUNT: break;
	}
	if (ev->gone && m->pid) {
		/* The record is older than what we see: the service ended in between. */
		struct mon_event ex = {.kind = MEV_EXITED,
				       .now_us = now,
				       .code = -1,
				       .reason = "exited while its monitor was being replaced"};
		on_exited(m, &ex);
		return;
	}
	emit(m, EV_ADOPTED, now, "resumed %s from the hand-over record", svc_state_name(m->state));
	finish_wanted_stop(m, now);
}

void mon_handle(struct mon *m, const struct mon_event *ev)
{
	if (m->state == ST_STOPPED && ev->kind != MEV_SPAWN && ev->kind != MEV_ADOPTED &&
	    ev->kind != MEV_RESUME && ev->kind != MEV_QUARANTINED && ev->kind != MEV_HELD_DOWN)
		return;
	switch (ev->kind) {
	case MEV_SPAWN: spawn(m, ev->now_us); break;
	case MEV_ADOPTED: on_adopted(m, ev); break;
	case MEV_RESUME: on_resume(m, ev); break;
	case MEV_EXITED: on_exited(m, ev); break;
	case MEV_HEALTH_OK: on_health_ok(m, ev); break;
	case MEV_HEALTH_FAILED: on_health_failed(m, ev); break;
	case MEV_TIMER: on_timer(m, ev->now_us); break;
	case MEV_STOP:
	case MEV_PARENT_DIED:
		if (m->exiting)
			break; /* already on its way out */
		m->exiting = true;
		begin_stop(m, ev->now_us, ev->kind == MEV_STOP ? "stop requested" : "parent died");
		break;
	case MEV_LIFT: on_lift(m, ev->now_us); break;
	case MEV_QUARANTINED: on_quarantined(m, ev); break;
	case MEV_DOWN:
		if (!m->exiting)
			on_down(m, ev->now_us);
		break;
	case MEV_UP:
		if (!m->exiting)
			on_up(m, ev->now_us);
		break;
	case MEV_RESTART:
		if (!m->exiting)
			on_restart(m, ev->now_us);
		break;
	case MEV_HELD_DOWN: on_held_down(m, ev->now_us); break;
	case MEV_CHECK_SKIPPED: on_check_skipped(m, ev); break;
	}
}

void mon_shift(struct mon *m, int64_t late_us)
{
	int64_t *d[] = {&m->next_check_us, &m->start_deadline_us, &m->kill_deadline_us,
			&m->respawn_at_us, &m->check_started_us};
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
		if (*d[i] >= 0)
			*d[i] += late_us;
}

int64_t mon_deadline(const struct mon *m)
{
	int64_t d = -1;
	switch (m->state) {
	case ST_STARTING:
		d = m->start_deadline_us;
		if (!m->probing)
			d = clock_earliest(d, m->next_check_us);
		break;
	case ST_HEALTHY:
	case ST_DEGRADED:
		if (!m->probing)
			d = m->next_check_us;
		break;
	case ST_STOPPING: d = m->kill_deadline_us; break;
	case ST_BACKOFF:
	case ST_QUARANTINED: d = m->respawn_at_us; break;
	case ST_DOWN: break;
	case ST_STOPPED:
	case ST__COUNT: return -1;
	}
	return clock_earliest(d, heartbeat_due(m));
}

void mon_init(struct mon *m, const struct mon_cfg *cfg, const struct mon_ops *ops, const char *name,
	      unsigned restarts, uint32_t seed)
{
	memset(m, 0, sizeof(*m));
	m->cfg = cfg;
	m->ops = *ops;
	strlcpy(m->name, name, sizeof(m->name));
	m->state = ST_STOPPED;
	m->restarts = restarts;
	m->healthy_since_us = -1;
	m->rtt_us = -1;
	m->kill_deadline_us = -1;
	m->rnd = seed;
}
