/* What the kernel shows to monitoring: Prometheus metrics (counters the kernel owns,
 * so they outlive any monitor), the metrics text file, and the ron-httpd child that
 * serves them, fed over a pipe.  Each hook is one call from loop.c, output.c,
 * monitors.c or main.c. */
#ifndef RON_KERNEL_OBSERVE_H
#define RON_KERNEL_OBSERVE_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "httpaddr.h"
#include "kernel.h"

/* metrics.c: the counters and the text exposition format 0.0.4 (pure). */
enum km_result {
	KM_OK,
	KM_TIMEOUT,
	KM_REFUSED,
	KM_CLOSED,
	KM_BAD_REPLY,
	KM_UNHEALTHY,
	KM__RESULTS
};
#define KM_BUCKETS 13 /* 100 us .. 1 s, and +Inf beyond them */
enum km_replace { KM_LOST, KM_FROZEN, KM__REPLACE };

struct km_svc {
	char name[REPORT_NAME_MAX];
	unsigned long long restarts; /* never goes down, whatever a monitor says */
	unsigned long long checks[KM__RESULTS];
	unsigned long long bucket[KM_BUCKETS + 1]; /* per bucket, not yet cumulative */
	unsigned long long observed;
	int64_t sum_us;
	unsigned long long replaced[KM__REPLACE];
};

/* Counters by service name, not by row: a reload adds and drops rows, and a service
 * that comes back keeps counting where it left off. */
struct kernel_metrics {
	struct km_svc *svc;
	int n, cap;
	int64_t kernel_start_ms; /* wall clock */
	unsigned long long dropped_lines;
};

int kernel_metrics_init(struct kernel_metrics *m, int64_t start_wall_ms);
void kernel_metrics_free(struct kernel_metrics *m);
const char *km_result_name(enum km_result r);
/* What a failed check's reason says went wrong. */
enum km_result km_check_result(bool ok, const char *reason);
/* The counters of a service, made at zero if new (NULL only if out of memory); hint:
 * where it probably is, its row in the kernel's table. */
struct km_svc *kernel_metrics_of(struct kernel_metrics *m, const char *name, int hint);
/* Counts a report: a health check (with its round trip) or a restart. */
void kernel_metrics_report(struct km_svc *s, const struct report *r);
void kernel_metrics_replaced(struct km_svc *s, enum km_replace why);
/* The whole exposition for the services of svcs, malloc'd (NULL if out of memory). */
char *kernel_metrics_render(struct kernel_metrics *m, const struct kernel_svc *svcs, int n,
			    int64_t now_us, int64_t wall_ms);

/* observe.c: the hooks. */
/* Checks RON_METRICS_FILE and RON_HTTP_* without touching anything (before the
 * pidfile is ours); then writes the first metrics file and binds the address.
 * Each: 0, or an exit status (78 bad setting, 71 a system call failed)
 * with why. */
int kernel_obs_check(struct kernel *k, char *why, size_t whylen);
int kernel_obs_start(struct kernel *k, char *why, size_t whylen);
/* After the kernel's start line: says where HTTP listens, and starts ron-httpd. */
void kernel_obs_announce(struct kernel *k, int64_t now_us);
/* Every loop turn: the metrics file on the status tick, a pending feed, a due ron-httpd. */
void kernel_obs_tick(struct kernel *k, int64_t now_us);
int64_t kernel_obs_deadline(const struct kernel *k);
/* The exposition of the kernel's table now, malloc'd (NULL if out of memory). */
char *kernel_obs_render(struct kernel *k, int64_t now_us);
/* The table changed: a new snapshot for ron-httpd. */
void kernel_obs_publish(struct kernel *k, int64_t now_us);
void kernel_obs_report(struct kernel *k, const struct kernel_svc *s, const struct report *r);
/* A service wrote a line: the status page's tails are due (at most every few seconds). */
void kernel_obs_output(struct kernel *k);
void kernel_obs_mon_lost(struct kernel *k, const struct kernel_svc *s);
/* true if pid was ron-httpd (then handled here). */
bool kernel_obs_reaped(struct kernel *k, pid_t pid, int wstatus, int64_t now_us);
/* At exit: ron-httpd told to go (its feed closed) and reaped, within a bound. */
void kernel_obs_stop(struct kernel *k);

#endif

/* The state behind k->obs. */
struct kernel_obs {
	struct kernel_metrics m;
	/* RON_METRICS_FILE: name in dir (open as dirfd, -1 if none), replaced by a new
	 * file written at tmp in the same directory. */
	char file[CFG_STR_MAX], dir[CFG_STR_MAX], name[CFG_STR_MAX], tmp[CFG_STR_MAX + 8];
	int dirfd;
	int64_t next_file_us;
	bool file_failing; /* said so once; quiet until it works again */
	/* ron-httpd: the socket is bound once, here, and inherited by each one we start. */
	bool http;
	struct httpaddr addr;
	char addr_text[80];
	char bin[CFG_STR_MAX];
	int lfd;
	pid_t hpid; /* 0: none running */
	int hpidfd;
	int64_t hstarted_us, hrestart_at_us; /* restart_at: -1 unless one is due */
	unsigned hstreak;		     /* ones in a row that died young */
	int feedfd;			     /* write end of its pipe, non-blocking; -1 if none */
	char *pending;			     /* the snapshot being written */
	size_t plen, poff;
	int64_t pending_since_us;
	bool due;		  /* the table changed since the last snapshot */
	int64_t last_snapshot_us; /* when the last one was rendered */
	int64_t last_frame_us;	  /* when the last snapshot or beat went (feed.h) */
	bool tail_due;		  /* a service wrote a line since the last snapshot */
	/* ron-httpd's stdout and stderr (httpdout.c): a pipe, read end non-blocking. */
	int outfd[2];
	struct svcline outline;
	struct svc_rate outrate;
	unsigned long long outheld; /* lines over the budget, not yet told */
};

/* httpdout.c: ron-httpd's output, relayed as httpd_output events. */
int kernel_httpd_out_fd(struct kernel *k); /* the write end for a new ron-httpd, or -1 */
void kernel_httpd_out_watch(struct kernel *k);
bool kernel_httpd_out_is(uint64_t ev); /* whether an epoll event is this pipe's */
void kernel_httpd_out_ready(struct kernel *k, int64_t now_us);

/* httpfeed.c: ron-httpd. */
int kernel_httpd_bind(struct kernel *k, char *why, size_t whylen);
int kernel_httpd_spawn(struct kernel *k, int64_t now_us);
/* When the next snapshot may be rendered, or -1 if none is waiting. */
int64_t kernel_httpd_snapshot_due(const struct kernel_obs *o);
void kernel_httpd_feed(struct kernel *k, int64_t now_us);
void kernel_httpd_timers(struct kernel *k, int64_t now_us);
bool kernel_httpd_reaped(struct kernel *k, pid_t pid, int wstatus, int64_t now_us);
void kernel_httpd_stop(struct kernel *k);
