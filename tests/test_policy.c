/* The restart policy as pure decisions: backoff, jitter, window, quarantine. */
#include <criterion/criterion.h>
#include <string.h>

#include "policy.h"

static const struct policy_cfg cfg = {
    .backoff_min_ms = 100,
    .backoff_max_ms = 30000,
    .stable_ms = 1000,
    .window_ms = 60000,
    .quarantine_ms = 300000,
    .cap = 5,
};

Test(policy, backoff_doubles_to_the_cap)
{
	const int64_t want[] = {100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000};
	for (unsigned n = 1; n <= sizeof(want) / sizeof(want[0]); n++)
		cr_assert_eq(policy_backoff_ms(&cfg, n), want[n - 1], "n=%u", n);
	cr_assert_eq(policy_backoff_ms(&cfg, 4000000000u), 30000);
}

Test(policy, crash_after_stable_run_restarts_at_once)
{
	struct policy_state s;
	memset(&s, 0, sizeof(s));
	struct policy_decision d = policy_on_down(&cfg, &s, 10000, 5000, 12345);
	cr_assert_eq(d.verdict, POLICY_RESTART);
	cr_assert_eq(d.delay_ms, 0);
	/* a second crash, not stable this time, backs off */
	d = policy_on_down(&cfg, &s, 10100, 50, 0);
	cr_assert_eq(d.verdict, POLICY_RESTART);
	cr_assert_eq(d.delay_ms, 100);
	/* and a stable run resets the streak */
	d = policy_on_down(&cfg, &s, 20000, 1000, 0);
	cr_assert_eq(d.delay_ms, 0);
}

Test(policy, jitter_takes_at_most_a_quarter_off)
{
	for (uint32_t rnd = 0; rnd < 2000; rnd += 7) {
		struct policy_state s;
		memset(&s, 0, sizeof(s));
		s.streak = 3; /* the fourth restart in a streak: 400 ms unjittered */
		struct policy_decision d = policy_on_down(&cfg, &s, 1000, -1, rnd);
		cr_assert_leq(d.delay_ms, 400);
		cr_assert_geq(d.delay_ms, 300);
	}
}

Test(policy, more_than_cap_restarts_in_window_quarantines)
{
	struct policy_state s;
	memset(&s, 0, sizeof(s));
	int64_t t = 1000;
	for (unsigned i = 0; i < cfg.cap; i++) {
		struct policy_decision d = policy_on_down(&cfg, &s, t, -1, 0);
		cr_assert_eq(d.verdict, POLICY_RESTART, "restart %u", i);
		t += 100;
	}
	cr_assert_eq(policy_recent(&cfg, &s, t), cfg.cap);
	struct policy_decision d = policy_on_down(&cfg, &s, t, -1, 0);
	cr_assert_eq(d.verdict, POLICY_QUARANTINE);
	cr_assert_eq(d.delay_ms, cfg.quarantine_ms);
}

Test(policy, restarts_outside_the_window_do_not_count)
{
	struct policy_state s;
	memset(&s, 0, sizeof(s));
	for (unsigned i = 0; i < 50; i++) {
		/* one restart every 15 s: never more than 4 in a 60 s window */
		struct policy_decision d =
		    policy_on_down(&cfg, &s, 1000 + 15000 * (int64_t)i, -1, 0);
		cr_assert_eq(d.verdict, POLICY_RESTART, "restart %u", i);
	}
}

Test(policy, probation_after_quarantine_requarantines_on_next_failure)
{
	struct policy_state s;
	memset(&s, 0, sizeof(s));
	policy_lift(&s, false);
	struct policy_decision d = policy_on_down(&cfg, &s, 1000, 200, 0);
	cr_assert_eq(d.verdict, POLICY_QUARANTINE);

	/* a stable run after the retry ends probation */
	policy_lift(&s, false);
	d = policy_on_down(&cfg, &s, 5000, 2000, 0);
	cr_assert_eq(d.verdict, POLICY_RESTART);
	cr_assert_eq(d.delay_ms, 0);
	cr_assert_not(s.probation);
}

Test(policy, lifting_by_hand_gives_a_fresh_start)
{
	struct policy_state s;
	memset(&s, 0, sizeof(s));
	for (unsigned i = 0; i < cfg.cap; i++)
		policy_on_down(&cfg, &s, 1000 + i, -1, 0);
	policy_lift(&s, true);
	cr_assert_eq(policy_recent(&cfg, &s, 1010), 0);
	struct policy_decision d = policy_on_down(&cfg, &s, 1010, -1, 0);
	cr_assert_eq(d.verdict, POLICY_RESTART);
	cr_assert_eq(d.delay_ms, 100, "a fresh streak starts at the minimum");
}

Test(policy, a_service_that_never_stayed_up_backs_off_from_the_first_restart)
{
	struct policy_state s;
	memset(&s, 0, sizeof(s));
	cr_assert_eq(policy_on_down(&cfg, &s, 1000, -1, 0).delay_ms, 100);
	cr_assert_eq(policy_on_down(&cfg, &s, 1100, 300, 0).delay_ms, 200);
	cr_assert_eq(policy_on_down(&cfg, &s, 1300, -1, 0).delay_ms, 400);
}

Test(policy, zero_backoff_minimum_means_no_delay)
{
	struct policy_cfg c = cfg;
	c.backoff_min_ms = 0;
	struct policy_state s;
	memset(&s, 0, sizeof(s));
	for (int i = 0; i < 4; i++)
		cr_assert_eq(policy_on_down(&c, &s, 1000 + i, -1, 99).delay_ms, 0);
}
