/* Restart decisions: when to respawn a service that went down, and when to
 * stop trying.  No I/O and no clock: the caller passes the time in. */
#include <string.h>

#include "policy.h"

int64_t policy_backoff_ms(const struct policy_cfg *c, unsigned n)
{
	int64_t d = c->backoff_min_ms;
	for (unsigned i = 1; i < n && d < c->backoff_max_ms; i++)
		d *= 2;
	return d < c->backoff_max_ms ? d : c->backoff_max_ms;
}

unsigned policy_recent(const struct policy_cfg *c, const struct policy_state *s, int64_t now_ms)
{
	unsigned n = 0;
	for (unsigned i = 0; i < s->count; i++) {
		unsigned k = (s->head + POLICY_HISTORY - 1 - i) % POLICY_HISTORY;
		if (now_ms - s->times_ms[k] >= c->window_ms)
			break;
		n++;
	}
	return n;
}

static void record(struct policy_state *s, int64_t now_ms)
{
	s->times_ms[s->head] = now_ms;
	s->head = (s->head + 1) % POLICY_HISTORY;
	if (s->count < POLICY_HISTORY)
		s->count++;
	s->recorded++;
}

struct policy_decision policy_on_down(const struct policy_cfg *c, struct policy_state *s,
				      int64_t now_ms, int64_t healthy_ms, uint32_t rnd)
{
	struct policy_decision d = {POLICY_RESTART, 0};
	bool stable = healthy_ms >= 0 && healthy_ms >= c->stable_ms;

	if (stable) {
		s->streak = 0;
		s->probation = false;
	}
	if ((s->probation && !stable) || policy_recent(c, s, now_ms) >= c->cap) {
		d.verdict = POLICY_QUARANTINE;
		d.delay_ms = c->quarantine_ms;
		s->streak = 0;
		return d;
	}
	/* Only a restart after a stable run is immediate: a service that never
	 * stayed up (or never started) backs off from its first restart on. */
	if (s->streak == 0 && !stable)
		s->streak = 1;
	if (s->streak > 0) {
		d.delay_ms = policy_backoff_ms(c, s->streak);
		if (d.delay_ms >= 4)
			d.delay_ms -= (int64_t)(rnd % (uint32_t)(d.delay_ms / 4 + 1));
	}
	s->streak++;
	record(s, now_ms);
	return d;
}

void policy_lift(struct policy_state *s, bool by_hand)
{
	s->count = 0;
	s->head = 0;
	s->streak = 0;
	s->recorded = 0;
	s->probation = !by_hand;
}

void policy_restore(struct policy_state *s, int64_t now_ms, unsigned streak, bool probation,
		    unsigned recorded, const int64_t *ages_ms, unsigned n)
{
	memset(s, 0, sizeof(*s));
	if (n > POLICY_HISTORY)
		n = POLICY_HISTORY;
	for (unsigned i = n; i-- > 0;)
		record(s, now_ms - ages_ms[i]);
	s->streak = streak;
	s->probation = probation;
	s->recorded = recorded;
}
