/* The restart policy as pure functions: immediate restart after a stable run,
 * exponential backoff with jitter otherwise, quarantine past the cap. */
#ifndef RON_POLICY_H
#define RON_POLICY_H
#include <stdbool.h>
#include <stdint.h>

#define POLICY_HISTORY 1024 /* restart times kept; RON_RESTART_CAP is at most 1000 */

struct policy_cfg {
	int64_t backoff_min_ms, backoff_max_ms;
	int64_t stable_ms;
	int64_t window_ms;
	int64_t quarantine_ms;
	unsigned cap;
};

/* What the policy remembers between restarts. */
struct policy_state {
	unsigned streak;		  /* restarts since the service was last stable */
	int64_t times_ms[POLICY_HISTORY]; /* ring of restart times, monotonic ms */
	unsigned head, count;
	bool probation;	   /* retrying after quarantine: the next failure quarantines again */
	unsigned recorded; /* restarts recorded since the history was last cleared */
};

enum policy_verdict { POLICY_RESTART, POLICY_QUARANTINE };

struct policy_decision {
	enum policy_verdict verdict;
	int64_t delay_ms; /* before the respawn, or before the quarantine retry */
};

/* Unjittered backoff for the nth restart of a streak (n >= 1): min * 2^(n-1), capped. */
int64_t policy_backoff_ms(const struct policy_cfg *c, unsigned n);
/* The service went down at now_ms after being healthy for healthy_ms (-1 if
 * it never was).  Decides, and records the restart when it is one.  rnd is
 * a random number for the jitter (up to a quarter of the delay off). */
struct policy_decision policy_on_down(const struct policy_cfg *c, struct policy_state *s,
				      int64_t now_ms, int64_t healthy_ms, uint32_t rnd);
/* Restarts recorded within the window ending at now_ms. */
unsigned policy_recent(const struct policy_cfg *c, const struct policy_state *s, int64_t now_ms);
/* Quarantine ends: by its timer (on probation) or lifted by hand (a fresh start). */
void policy_lift(struct policy_state *s, bool by_hand);
/* The history handed over from another monitor: restart times as ages (ms
 * before now_ms), newest first. */
void policy_restore(struct policy_state *s, int64_t now_ms, unsigned streak, bool probation,
		    unsigned recorded, const int64_t *ages_ms, unsigned n);

#endif
