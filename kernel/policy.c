/* When to replace a monitor: at once after one that lived long enough, with a
 * doubling delay while they keep dying young; and when silence means frozen. */
#include "kernel.h"

int64_t kernel_mon_restart_delay_ms(unsigned *streak, int64_t lived_ms, int64_t stable_ms,
				    int64_t min_ms, int64_t max_ms)
{
	if (lived_ms >= stable_ms)
		*streak = 0;
	unsigned n = (*streak)++;
	if (n == 0)
		return 0;
	int64_t d = min_ms;
	/* Doubling stops at the cap, long before the shift could overflow. */
	for (unsigned i = 1; i < n && d > 0 && d < max_ms; i++)
		d *= 2;
	return d < max_ms ? d : max_ms;
}

int64_t kernel_mon_silence_limit_us(int64_t interval_ms, int64_t timeout_ms)
{
	return ((REPORT_EVERY_CHECKS + 2) * interval_ms + timeout_ms) * 1000;
}

bool kernel_mon_silent(int64_t last_report_us, int64_t now_us, int64_t interval_ms,
		       int64_t timeout_ms)
{
	return now_us - last_report_us > kernel_mon_silence_limit_us(interval_ms, timeout_ms);
}

bool kernel_loop_paused(int64_t lateness_us, int64_t silence_limit_us)
{
	return lateness_us > silence_limit_us / 2;
}
