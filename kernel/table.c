/* The kernel's table of services as their monitors report them: every report
 * updates one row, and the caller learns what changed so it prints only that. */
#include <bsd/string.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kernel.h"

void kernel_svc_init(struct kernel_svc *s, const char *name, const struct svc_def *def)
{
	memset(s, 0, sizeof(*s));
	strlcpy(s->name, name, sizeof(s->name));
	s->def = def;
	s->state = ST_STARTING;
	s->rtt_us = -1;
	s->pidfd = -1;
	s->lockfd = -1;
	s->next_lockfd = -1;
	s->procs = -1;
	s->procs_stale = true;
	s->mpidfd = -1;
	s->pipefd = -1;
	s->hbfd = -1;
	s->cmdfd = -1;
	s->restart_at_us = -1;
	s->due_at_us = -1;
	s->healthy_since_us = -1;
	s->exit_code = -1;
	kernel_lines_init(&s->lines);
	kernel_lines_init(&s->hblines);
}

/* When the report was written.  Times in it count from its own mono_us, which is on
 * our clock, not from when we read it: a heartbeat waits up to a status interval in
 * its pipe.  A wild or missing one (reports are outside input) is replaced by the time
 * we read it. */
static int64_t report_time(const struct report *r, int64_t now_us)
{
	return r->mono_us > 0 && r->mono_us > now_us - HANDOVER_DUE_MAX &&
		       r->mono_us <= now_us + 1000000
		   ? r->mono_us
		   : now_us;
}

static void times_clear(struct kernel_svc *s)
{
	free(s->restart_times_us);
	s->restart_times_us = NULL;
	s->ntimes = s->times_cap = 0;
}

/* Room for one more, doubling up to HANDOVER_TIMES_MAX; full (or out of memory), the
 * oldest goes.  Without any room the time is not kept: the hand-over record then
 * counts fewer restarts, and the new monitor's policy is the more lenient. */
static void times_add(struct kernel_svc *s, int64_t at)
{
	if (s->ntimes == s->times_cap && s->times_cap < HANDOVER_TIMES_MAX) {
		unsigned cap = s->times_cap ? s->times_cap * 2 : 4;
		cap = cap > HANDOVER_TIMES_MAX ? HANDOVER_TIMES_MAX : cap;
		int64_t *v = realloc(s->restart_times_us, sizeof(*v) * cap);
		if (v) {
			s->restart_times_us = v;
			s->times_cap = cap;
		}
	}
	if (s->times_cap == 0)
		return;
	if (s->ntimes == s->times_cap) {
		memmove(s->restart_times_us, s->restart_times_us + 1,
			sizeof(s->restart_times_us[0]) * (s->times_cap - 1));
		s->ntimes--;
	}
	s->restart_times_us[s->ntimes++] = at;
}

void kernel_svc_free(struct kernel_svc *s)
{
	times_clear(s);
	kernel_lines_reset(&s->lines);
	kernel_lines_reset(&s->hblines);
}

/* The hand-over part of a report, whose times count from at (report_time()). */
static void apply_handover(struct kernel_svc *s, const struct report *r, int64_t at)
{
	int64_t due = r->due_us > HANDOVER_DUE_MAX ? HANDOVER_DUE_MAX : r->due_us;
	s->due_at_us = due < 0 ? -1 : clock_add_us(at, due);
	int64_t healthy_ms =
	    r->healthy_ms > HANDOVER_AGE_MAX * 1000 ? HANDOVER_AGE_MAX * 1000 : r->healthy_ms;
	s->healthy_since_us =
	    r->pid > 0 && healthy_ms >= 0 ? clock_sub_us(at, clock_ms_to_us(healthy_ms)) : -1;
	s->streak = r->streak;
	s->probation = r->probation;
	/* The policy's history cleared, or restarts recorded: each at its report's time. */
	if (r->recorded < s->recorded) {
		times_clear(s);
		s->recorded = 0;
	}
	for (unsigned n = 0; s->recorded < r->recorded && n < HANDOVER_TIMES_MAX; n++) {
		times_add(s, at);
		s->recorded++;
	}
	s->recorded = r->recorded;
}

void kernel_handover_build(struct kernel_svc *s, int64_t now_us, struct handover *h)
{
	memset(h, 0, sizeof(*h));
	strlcpy(h->service, s->name, sizeof(h->service));
	h->state = s->state;
	h->mono_us = now_us;
	bool running = handover_state_has_pid(s->state) && s->pid > 0;
	if (!running && handover_state_has_pid(s->state))
		h->state = ST_BACKOFF; /* no process to hand over: it is down */
	h->pid = running ? s->pid : 0;
	h->start = running ? s->start : 0;
	h->uptime_ms = running ? kernel_svc_uptime_ms(s, now_us) : 0;
	h->healthy_ms = -1;
	if (running && s->healthy_since_us >= 0 && s->state != ST_STARTING) {
		h->healthy_ms =
		    now_us > s->healthy_since_us ? (now_us - s->healthy_since_us) / 1000 : 0;
		if (h->healthy_ms > h->uptime_ms)
			h->healthy_ms = h->uptime_ms;
	} else if (s->state == ST_HEALTHY || s->state == ST_DEGRADED) {
		h->healthy_ms = 0;
	}
	h->failures = s->failures;
	h->restarts = s->restarts;
	/* No round trip outlasts a check's timeout; a wilder one a report claimed is cut to
	 * what a record may hold. */
	h->rtt_us = s->rtt_us < -1		   ? -1
		    : s->rtt_us > HANDOVER_DUE_MAX ? HANDOVER_DUE_MAX
						   : s->rtt_us;
	if (s->due_at_us < 0)
		h->due_us = h->state == ST_STOPPING ? -1 : 0;
	else
		h->due_us = s->due_at_us > now_us ? s->due_at_us - now_us : 0;
	if (h->due_us > HANDOVER_DUE_MAX)
		h->due_us = HANDOVER_DUE_MAX;
	h->streak = s->streak;
	h->probation = s->probation;
	/* Older than a day counts in no restart window. */
	unsigned drop = 0;
	while (drop < s->ntimes && now_us - s->restart_times_us[drop] > HANDOVER_AGE_MAX * 1000)
		drop++;
	if (drop) /* none: maybe no array at all */
		memmove(s->restart_times_us, s->restart_times_us + drop,
			sizeof(s->restart_times_us[0]) * (s->ntimes - drop));
	s->ntimes -= drop;
	h->ntimes = s->ntimes;
	for (unsigned i = 0; i < s->ntimes; i++) {
		int64_t t = s->restart_times_us[s->ntimes - 1 - i];
		int64_t age = now_us > t ? (now_us - t) / 1000 : 0;
		/* Newest first, even if a report's clock stepped back. */
		h->restarts_ago_ms[i] =
		    i > 0 && age < h->restarts_ago_ms[i - 1] ? h->restarts_ago_ms[i - 1] : age;
	}
	h->recorded = s->recorded > h->ntimes ? s->recorded : h->ntimes;
	h->want_down = s->want_down;
}

static void recent_add(struct kernel_svc *s, int64_t at)
{
	if (s->nrecent == KERNEL_RECENT_MAX) {
		memmove(s->recent_us, s->recent_us + 1,
			sizeof(s->recent_us[0]) * (KERNEL_RECENT_MAX - 1));
		s->nrecent--;
	}
	s->recent_us[s->nrecent++] = at;
}

unsigned kernel_svc_apply(struct kernel_svc *s, const struct report *r, int64_t now_us)
{
	unsigned ch = 0;
	if (!s->reported || r->state != s->state)
		ch |= KCH_STATE;
	if (r->pid != s->pid || r->start != s->start)
		ch |= KCH_PID;
	if (r->state == ST_HEALTHY && !s->ever_healthy) {
		s->ever_healthy = true;
		ch |= KCH_FIRST_HEALTHY;
	}
	int64_t at = report_time(r, now_us);
	if (s->reported && r->restarts > s->restarts)
		recent_add(s, at);
	s->reported = true;
	if (ch & KCH_STATE)
		s->state_since_us = at;
	if (r->event == EV_EXITED) {
		s->exit_code = r->code;
		s->exit_signal = r->signal;
		s->exit_at_us = at;
	}
	/* No quarantine lasts longer than RON_QUARANTINE_MS can say: a day. */
	if (r->event == EV_QUARANTINED && r->delay_ms >= 0)
		s->quarantine_end_us = clock_add_us(now_us, r->delay_ms > HANDOVER_DUE_MAX / 1000
								? HANDOVER_DUE_MAX
								: clock_ms_to_us(r->delay_ms));
	s->state = r->state;
	s->pid = r->pid;
	s->start = r->pid > 0 ? r->start : 0;
	s->restarts = r->restarts;
	/* The uptime is as of the report's writing; no process is older than our
	 * monotonic clock. */
	int64_t uptime_ms = r->uptime_ms < 0 ? 0 : r->uptime_ms;
	if (uptime_ms > at / 1000)
		uptime_ms = at / 1000;
	s->since_us = r->pid > 0 ? clock_sub_us(at, clock_ms_to_us(uptime_ms)) : 0;
	/* A check that could not measure keeps the last round trip a person saw. */
	if (r->rtt_us >= 0)
		s->rtt_us = r->rtt_us;
	s->failures = r->failures;
	apply_handover(s, r, at);
	if (r->reason[0] || ch & KCH_STATE)
		strlcpy(s->reason, r->reason, sizeof(s->reason));
	return ch;
}

int64_t kernel_svc_uptime_ms(const struct kernel_svc *s, int64_t now_us)
{
	if (s->pid <= 0 || now_us < s->since_us)
		return 0;
	return (now_us - s->since_us) / 1000;
}

bool kernel_all_healthy(const struct kernel_svc *svcs, int n)
{
	for (int i = 0; i < n; i++)
		if (svcs[i].state != ST_HEALTHY && svcs[i].state != ST_DOWN)
			return false;
	return true;
}

bool kernel_all_ever_healthy(const struct kernel_svc *svcs, int n)
{
	for (int i = 0; i < n; i++)
		if (!svcs[i].ever_healthy)
			return false;
	return true;
}

void kernel_summary(const struct kernel_svc *svcs, int n, char *buf, size_t cap)
{
	/* Out of the services meant to run: one stopped by hand is named, not counted. */
	int healthy = 0, down = 0;
	for (int i = 0; i < n; i++) {
		healthy += svcs[i].state == ST_HEALTHY;
		down += svcs[i].state == ST_DOWN;
	}
	snprintf(buf, cap, "%d/%d healthy", healthy, n - down);
	bool first = true;
	for (int i = 0; i < n; i++) {
		if (svcs[i].state == ST_HEALTHY)
			continue;
		char part[REPORT_NAME_MAX + 32], more[32];
		snprintf(part, sizeof(part), "%s %s %s", first ? ";" : ",", svcs[i].name,
			 svcs[i].reported ? svc_state_name(svcs[i].state) : "starting");
		/* Keep room to say how many did not fit. */
		int left = 0;
		for (int j = i; j < n; j++)
			left += svcs[j].state != ST_HEALTHY;
		snprintf(more, sizeof(more), ", +%d more", left);
		if (strlen(buf) + strlen(part) + (left > 1 ? strlen(more) : 0) >= cap) {
			strlcat(buf, first ? ";" : "", cap);
			strlcat(buf, more + (first ? 1 : 0), cap);
			return;
		}
		strlcat(buf, part, cap);
		first = false;
	}
}

void kernel_state_counts(const struct kernel_svc *svcs, int n, char *buf, size_t cap)
{
	int count[ST__COUNT] = {0};
	for (int i = 0; i < n; i++)
		count[svcs[i].state]++;
	buf[0] = '\0';
	for (int st = 0; st < ST__COUNT; st++) {
		if (!count[st])
			continue;
		char part[48];
		snprintf(part, sizeof(part), "%s%s=%d", buf[0] ? " " : "", svc_state_name(st),
			 count[st]);
		strlcat(buf, part, cap);
	}
}
