/* The kernel's table of services as their monitors report them: every report
 * updates one row, and the caller learns what changed so it prints only that. */
#include <bsd/string.h>
#include <stdio.h>
#include <string.h>

#include "kernel.h"

void kernel_svc_init(struct kernel_svc *s, const char *name, const struct svc_def *def)
{
	memset(s, 0, sizeof(*s));
	strlcpy(s->name, name, sizeof(s->name));
	s->def = def;
	s->state = ST_STARTING;
	s->rtt_us = -1;
	s->pidfd = -1;
	s->mpidfd = -1;
	s->pipefd = -1;
	s->cmdfd = -1;
	s->restart_at_us = -1;
	kernel_lines_init(&s->lines);
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
	s->reported = true;
	if (r->event == EV_QUARANTINED && r->delay_ms >= 0)
		s->quarantine_end_us = now_us + r->delay_ms * 1000;
	s->state = r->state;
	s->pid = r->pid;
	s->start = r->pid > 0 ? r->start : 0;
	s->restarts = r->restarts;
	/* No process is older than our monotonic clock: a wilder uptime (a report decodes any
	 * int64) must not overflow the product below. */
	int64_t uptime_ms = r->uptime_ms < 0 ? 0 : r->uptime_ms;
	if (uptime_ms > now_us / 1000)
		uptime_ms = now_us / 1000;
	s->since_us = r->pid > 0 ? now_us - uptime_ms * 1000 : 0;
	/* A check that could not measure keeps the last round trip a person saw. */
	if (r->rtt_us >= 0)
		s->rtt_us = r->rtt_us;
	s->failures = r->failures;
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
