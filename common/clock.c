/* Monotonic and wall-clock time helpers. */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "clock.h"

int64_t clock_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t clock_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int clock_poll_timeout(int64_t deadline_us, int64_t now_us)
{
	if (deadline_us < 0)
		return -1;
	if (deadline_us <= now_us)
		return 0;
	int64_t ms = (deadline_us - now_us + 999) / 1000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

int64_t clock_earliest(int64_t a, int64_t b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

int64_t clock_ms_to_us(int64_t ms)
{
	int64_t us;
	if (__builtin_mul_overflow(ms, 1000, &us))
		return ms < 0 ? INT64_MIN : INT64_MAX;
	return us;
}

int64_t clock_add_us(int64_t t_us, int64_t d_us)
{
	int64_t r;
	if (__builtin_add_overflow(t_us, d_us, &r))
		return d_us < 0 ? INT64_MIN : INT64_MAX;
	return r;
}

int64_t clock_sub_us(int64_t t_us, int64_t d_us)
{
	int64_t r;
	if (__builtin_sub_overflow(t_us, d_us, &r))
		return d_us > 0 ? INT64_MIN : INT64_MAX;
	return r;
}

int64_t clock_after_ms(int64_t t_us, int64_t ms)
{
	return clock_add_us(t_us, clock_ms_to_us(ms));
}

void clock_iso8601(int64_t wall_ms, char *buf, size_t len)
{
	time_t secs = (time_t)(wall_ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(wall_ms % 1000));
}

int64_t clock_lateness(int64_t mark_us, int64_t allowed_until_us, int64_t now_us)
{
	int64_t base = allowed_until_us > mark_us ? allowed_until_us : mark_us;
	return now_us > base ? now_us - base : 0;
}
