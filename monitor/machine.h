/* ron-monitor's state machine: every state, event and transition of one
 * supervised service in one place, with all I/O behind a table of operations. */
#ifndef RON_MACHINE_H
#define RON_MACHINE_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "handover.h"
#include "policy.h"
#include "report.h"

struct mon_cfg {
	struct policy_cfg policy;
	int64_t health_interval_ms, health_timeout_ms, start_timeout_ms, stop_timeout_ms;
	unsigned health_failures;
	int stop_signal; /* the graceful stop's signal; 0 means SIGTERM */
};

enum mon_event_kind {
	MEV_SPAWN,	   /* start the service for the first time */
	MEV_ADOPTED,	   /* take over a running service with no usable hand-over record:
			    * check it before calling it anything */
	MEV_RESUME,	   /* continue from a hand-over record (handover.h) */
	MEV_EXITED,	   /* the service is gone */
	MEV_HEALTH_OK,	   /* a health check passed */
	MEV_HEALTH_FAILED, /* a health check failed */
	MEV_TIMER,	   /* mon_deadline() has passed */
	MEV_STOP,	   /* stop the service and finish (SIGTERM to the monitor) */
	MEV_PARENT_DIED,   /* the same, because the kernel is gone */
	MEV_LIFT,	   /* lift a quarantine (SIGHUP) */
	MEV_QUARANTINED,   /* start quarantined: a quarantine taken over from a dead monitor */
	MEV_DOWN,	   /* stop the service and keep it down (a command) */
	MEV_UP,		   /* start a service that is down or quarantined (a command) */
	MEV_RESTART,	   /* stop the service gracefully and start it at once (a command) */
	MEV_HELD_DOWN,	   /* start down: taken over from a monitor whose service was down */
	MEV_CHECK_SKIPPED, /* a health check could not be made for the monitor's own shortage */
};

struct mon_event {
	enum mon_event_kind kind;
	int64_t now_us;
	pid_t pid;		  /* MEV_ADOPTED */
	unsigned long long start; /* MEV_ADOPTED */
	int64_t age_ms;		  /* MEV_ADOPTED: how long the service has run;
				   * MEV_QUARANTINED: how long the quarantine has left */
	int code, signal;	  /* MEV_EXITED: exit code (-1 if none) or signal (0 if none) */
	int64_t rtt_us;		  /* MEV_HEALTH_* */
	const char *reason;	  /* MEV_EXITED, MEV_HEALTH_FAILED, MEV_ADOPTED,
				   * MEV_CHECK_SKIPPED */
	/* MEV_RESUME: the record, already checked (pid and start match the adopted
	 * service unless gone); MEV_ADOPTED: NULL, or a record whose history
	 * (restarts, policy) still counts. */
	const struct handover *h;
	bool gone; /* MEV_RESUME: the record's service is no longer running */
};

/* The I/O the machine asks for.  spawn is synchronous: 0 with the pid and
 * start time, or -1 with why ("spawn failed: svc-index: No such file or
 * directory"), or -2 with why when the monitor itself ran short (descriptors,
 * memory, processes): retried with backoff, never counted toward quarantine.
 * probe starts a health check whose verdict comes back later
 * as MEV_HEALTH_*. */
struct mon_ops {
	void *ctx;
	int (*spawn)(void *ctx, pid_t *pid, unsigned long long *start, char *why, size_t whylen);
	void (*signal)(void *ctx, int sig);
	void (*probe)(void *ctx);
	void (*cancel_probe)(void *ctx);
	void (*report)(void *ctx, const struct report *r);
	void (*finish)(void *ctx); /* the service is stopped for good: exit */
};

struct mon {
	const struct mon_cfg *cfg;
	struct mon_ops ops;
	char name[REPORT_NAME_MAX];
	enum svc_state state;
	pid_t pid; /* 0 when no service is running */
	unsigned long long start;
	int64_t spawned_us, healthy_since_us; /* -1 when not healthy yet */
	unsigned restarts, failures;
	int64_t rtt_us;
	unsigned passed; /* passing checks not yet in a "check" report */
	bool probing;
	bool measured;		  /* the check in flight measures its round trip (probe()) */
	int64_t check_started_us; /* when the last check started */
	bool exiting;					  /* stopping for good, not to restart */
	enum { HOLD_NONE, HOLD_DOWN, HOLD_RESTART } hold; /* what a command wants after the exit */
	int64_t next_check_us, start_deadline_us, kill_deadline_us, respawn_at_us;
	int64_t probe_step_ms; /* the growing interval of readiness probes */
	int64_t last_report_us;
	char last_reason[REPORT_REASON_MAX];
	/* Checks or spawns the monitor could not make for its own shortage. */
	bool skipping;
	unsigned skipped, deferred_streak;
	int64_t skip_reported_us; /* the last check_skipped report, for the rate limit */
	char skip_reason[REPORT_REASON_MAX];
	struct policy_state policy;
	uint32_t rnd;
};

void mon_init(struct mon *m, const struct mon_cfg *cfg, const struct mon_ops *ops, const char *name,
	      unsigned restarts, uint32_t seed);
void mon_handle(struct mon *m, const struct mon_event *ev);
/* The earliest time (monotonic us) at which MEV_TIMER is due. */
int64_t mon_deadline(const struct mon *m);
/* The monitor did not run for late_us (stopped, frozen): every running deadline moves
 * by as much, so the pause is not charged to the service. */
void mon_shift(struct mon *m, int64_t late_us);

/* At most one check_skipped report per this long while checks keep being skipped. */
#define MON_SKIP_REPORT_MS 10000

#endif
