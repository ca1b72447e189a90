/* The hand-over record: everything a replacement ron-monitor needs to continue
 * exactly where its predecessor stopped, as one line of JSON (version 1).
 *
 * The kernel builds it from the reports of the monitor that died and passes it
 * to the next one as one argument (--handover).  Every time in it is relative
 * to "mono_us", the writer's CLOCK_MONOTONIC: the reader adds it back on the
 * same clock, so a deadline keeps its moment however long the hand-over took.
 * Every field is required but "want", which records of earlier monitors lack;
 * any other field is an error:
 *   "v"            1
 *   "service"      the name
 *   "state"        starting | healthy | degraded | stopping | backoff | quarantined
 *   "mono_us"      CLOCK_MONOTONIC when written, us
 *   "pid", "start" the service process (start: field 22 of /proc/PID/stat);
 *                  both 0 in backoff and quarantined, both > 0 otherwise
 *   "uptime_ms"    time since the service was spawned (0 when none runs)
 *   "healthy_ms"   time since its first healthy answer, -1 if none yet
 *                  (-1 when starting, >= 0 when healthy or degraded)
 *   "failures"     failed checks in a row
 *   "restarts"     restarts so far
 *   "rtt_us"       last round trip, -1 if none
 *   "due_us"       the state's running deadline, from mono_us: the start
 *                  timeout (starting), the next check (healthy, degraded),
 *                  SIGKILL (stopping; -1 once sent), the next spawn (backoff,
 *                  quarantined)
 *   "streak"       restarts since the service was last stable
 *   "probation"    retrying after a quarantine: the next failure quarantines
 *   "recorded"     restarts the policy recorded since its history was last
 *                  cleared (the counter of the reports' "recorded"), at least
 *                  as many as there are in restarts_ago_ms
 *   "restarts_ago_ms"  when the restarts the policy counts happened, ms before
 *                  mono_us, newest first, at most HANDOVER_TIMES_MAX
 *   "want"         up | down: what the kernel was last asked for the service.
 *                  "down" is a stop the new monitor finishes, even one its
 *                  predecessor never read; up when absent */
#ifndef RON_HANDOVER_H
#define RON_HANDOVER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "report.h"

#define HANDOVER_VERSION   1
#define HANDOVER_TIMES_MAX 1000		 /* RON_RESTART_CAP is at most 1000 */
#define HANDOVER_TEXT_MAX  32768	 /* an encoded record is shorter; a longer one is refused */
#define HANDOVER_DUE_MAX   86400000000LL /* us: the longest deadline, a day (RON_QUARANTINE_MS) */
#define HANDOVER_AGE_MAX   86400000LL	 /* ms: the longest restart window, a day */
#define HANDOVER_MONO_MAX  (1LL << 62)	 /* us: far beyond any uptime, and no overflow */

struct handover {
	char service[REPORT_NAME_MAX];
	enum svc_state state;
	int64_t mono_us;
	pid_t pid;
	unsigned long long start;
	int64_t uptime_ms, healthy_ms;
	unsigned failures, restarts;
	int64_t rtt_us;
	int64_t due_us;
	unsigned streak;
	bool probation;
	unsigned recorded;
	unsigned ntimes;
	int64_t restarts_ago_ms[HANDOVER_TIMES_MAX]; /* newest first */
	bool want_down; /* stopped by hand: the service is to end down */
};

/* States that have a service process running. */
bool handover_state_has_pid(enum svc_state s);
/* Encodes h without a newline; returns its length (< cap), or -1 if h breaks a
 * rule of the format or cap is too small. */
int handover_encode(const struct handover *h, char *buf, size_t cap);
/* Decodes and checks a record; 0, or -1 with why naming the field at fault. */
int handover_decode(const char *text, size_t len, struct handover *h, char *why, size_t whylen);

#endif
