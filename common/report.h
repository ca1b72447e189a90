/* Status reports from ron-monitor to ron-kernel: one JSON object per line
 * (json-c), each shorter than PIPE_BUF so a write to the pipe is atomic.
 *
 * Schema version 1.  Every report carries every field:
 *   "v"        schema version (1)
 *   "service"  service name, e.g. "svc-index"
 *   "event"    spawned | ready | healthy | degraded | unhealthy | exited |
 *              spawn_failed | restarting | quarantined | adopted | stopping |
 *              stopped | check | down | check_skipped | spawn_deferred |
 *              monitor_failed
 *   "state"    starting | healthy | degraded | stopping | backoff |
 *              quarantined | stopped | down
 *   "pid"      service pid, 0 when none is running
 *   "start"    the service's start time, field 22 of /proc/PID/stat (0 if none)
 *   "restarts" restarts so far
 *   "uptime_ms" time since the service was spawned (0 if none)
 *   "rtt_us"   round trip of the last health check, -1 if none yet or if the
 *              report is a heartbeat (a "check" with no check behind it)
 *   "failures" consecutive failed health checks
 *   "code"     exit code, -1 unless the event is an exit with a code
 *   "signal"   terminating signal number, 0 if none
 *   "delay_ms" the delay before the next spawn (restarting, quarantined), else -1
 *   "reason"   a human reason ("" when there is none)
 *   "ok"       for "check": whether that check passed
 *   "mpid"     the monitor's own pid
 *   "ts"       wall clock, ms since the epoch
 *   "mono_us"  CLOCK_MONOTONIC, us
 * and what a replacement monitor needs to resume (handover.h), each time
 * counted from mono_us:
 *   "due_us"   the state's running deadline: start timeout (starting), next
 *              check (healthy, degraded), SIGKILL (stopping), next spawn
 *              (backoff, quarantined); -1 if none (SIGKILL already sent)
 *   "healthy_ms" time since the service's first healthy answer, -1 if none
 *   "streak"   restarts since the service was last stable
 *   "probation" retrying after a quarantine
 *   "recorded" restarts the policy has recorded (each "restarting" report that
 *              raises it adds its mono_us; 0 once the history is cleared)
 *   "passed"   for "check": the passing health checks it stands for, those not
 *              reported one by one included (0 for a heartbeat after none); -1
 *              (or absent) if the monitor does not say
 *   "seq"      the monitor's report number, 1 up; 0 (or absent) if it does not
 *              count.  A report that could not be written is replaced by the
 *              next one, so a jump tells the reader how many it missed.
 * A passing check that changes nothing is reported every REPORT_EVERY_CHECKS
 * checks (the one that measures its round trip); every other verdict is reported
 * at once.  The kernel treats each report as the monitor's heartbeat. */
#ifndef RON_REPORT_H
#define RON_REPORT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define REPORT_SCHEMA	  1
#define REPORT_LINE_MAX	  512 /* < PIPE_BUF (4096): a write is atomic */
#define REPORT_NAME_MAX	  64
#define REPORT_REASON_MAX 200
/* A healthy service's monitor reports once per this many checks, the check that
 * measures the round trip; the kernel's silence limit is two intervals and a
 * timeout longer (kernel_mon_silence_limit_us()). */
#define REPORT_EVERY_CHECKS 10

enum svc_state {
	ST_STARTING,
	ST_HEALTHY,
	ST_DEGRADED,
	ST_STOPPING,
	ST_BACKOFF,
	ST_QUARANTINED,
	ST_STOPPED,
	ST_DOWN, /* stopped by request and kept down; the monitor stays */
	ST__COUNT
};

enum report_event {
	EV_SPAWNED,
	EV_READY,
	EV_HEALTHY,
	EV_DEGRADED,
	EV_UNHEALTHY,
	EV_EXITED,
	EV_SPAWN_FAILED,
	EV_RESTARTING,
	EV_QUARANTINED,
	EV_ADOPTED,
	EV_STOPPING,
	EV_STOPPED,
	EV_CHECK,
	EV_DOWN,	   /* stopped as asked and kept down */
	EV_CHECK_SKIPPED,  /* the monitor could not make a check (its own shortage) */
	EV_SPAWN_DEFERRED, /* the monitor could not spawn for its own shortage; retrying */
	EV_MONITOR_FAILED, /* the monitor could not be set up; it exits */
	EV__COUNT
};

struct report {
	int v;
	char service[REPORT_NAME_MAX];
	enum report_event event;
	enum svc_state state;
	pid_t pid;
	unsigned long long start;
	unsigned restarts;
	int64_t uptime_ms;
	int64_t rtt_us;
	unsigned failures;
	int code;
	int signal;
	int64_t delay_ms;
	char reason[REPORT_REASON_MAX];
	bool ok;
	pid_t mpid;
	int64_t ts;
	int64_t mono_us;
	int64_t due_us;
	int64_t healthy_ms;
	unsigned streak;
	bool probation;
	unsigned recorded;
	unsigned long long seq;
	int64_t passed;
};

const char *svc_state_name(enum svc_state s);
const char *report_event_name(enum report_event e);
int svc_state_parse(const char *s);    /* -1 if unknown */
int report_event_parse(const char *s); /* -1 if unknown */

/* A report with every field at its "none" value. */
void report_init(struct report *r, const char *service);
/* Encodes r as one newline-terminated line; returns its length (< cap,
 * < REPORT_LINE_MAX), truncating the reason if needed, or -1. */
int report_encode(const struct report *r, char *buf, size_t cap);
/* Decodes one line (newline optional); 0, or -1 with why and errno: ENOMEM when
 * memory ran out (the line may be fine), EINVAL for a bad line. */
int report_decode(const char *line, size_t len, struct report *r, char *why, size_t whylen);

#endif
