/* Time for the event loops: monotonic microseconds for deadlines, wall-clock
 * milliseconds for timestamps a person reads. */
#ifndef RON_CLOCK_H
#define RON_CLOCK_H
#include <stdint.h>

int64_t clock_mono_us(void);
int64_t clock_wall_ms(void);
/* Milliseconds from now_us until deadline_us, rounded up, clamped to 0..INT_MAX;
 * -1 when there is no deadline (deadline_us < 0).  For poll(2). */
int clock_poll_timeout(int64_t deadline_us, int64_t now_us);
/* The earlier of two deadlines, where a negative one means none. */
int64_t clock_earliest(int64_t a, int64_t b);
/* Saturating time arithmetic, for every number that came from outside (a report, a
 * hand-over record, a request, a config value) before it becomes a time: the result
 * is clamped to INT64_MIN..INT64_MAX instead of overflowing. */
int64_t clock_ms_to_us(int64_t ms);
int64_t clock_add_us(int64_t t_us, int64_t d_us);
int64_t clock_sub_us(int64_t t_us, int64_t d_us);
/* t_us + ms milliseconds, saturating: a deadline ms after t_us. */
int64_t clock_after_ms(int64_t t_us, int64_t ms);

/* ISO-8601 UTC with milliseconds, e.g. 2026-11-27T01:23:19.123Z. */
void clock_iso8601(int64_t wall_ms, char *buf, size_t len);

/* How much later than it had any reason to a loop runs again: the time its process
 * was not running (stopped, frozen, starved) since mark_us, when it allowed itself to
 * sleep until allowed_until_us (-1: not at all).  On CLOCK_MONOTONIC, which a
 * suspended machine does not advance: a suspend is no pause of ours. */
int64_t clock_lateness(int64_t mark_us, int64_t allowed_until_us, int64_t now_us);

#endif
