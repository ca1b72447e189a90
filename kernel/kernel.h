/* ron-kernel's shared types: the table of services and their monitors, and the
 * functions the kernel's files offer each other (pure logic first, I/O after). */
#ifndef RON_KERNEL_H
#define RON_KERNEL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "config.h"
#include "handover.h"
#include "report.h"
#include "services.h"
#include "svcout.h"
#include "svcout.h"

#define KERNEL_VERSION	"0.1.0"
#define KERNEL_LINE_MAX 4096
/* Descriptors the kernel needs: its own few, then per service. */
#define KERNEL_FDS_BASE	   16
#define KERNEL_FDS_PER_SVC 4

/* Exit statuses (sysexits.h): bad configuration or unsafe directories; another
 * kernel holds the pidfile; a command-line word we do not know. */
#define KERNEL_EX_CONFIG  78
#define KERNEL_EX_RUNNING 75
#define KERNEL_EX_USAGE	  64
/* A monitor's child process could not set itself up (EX_OSERR). */
#define KERNEL_EX_MONITOR_SETUP 71

/* A pipe's bytes cut into lines; a line longer than the buffer is dropped whole. */
#define KERNEL_LINES_CAP (REPORT_LINE_MAX * 2)
struct kernel_lines {
	char *buf; /* KERNEL_LINES_CAP bytes while a line cut by a read waits, else NULL */
	size_t len;
	bool skipping; /* inside an overlong line, dropping bytes up to its newline */
};
typedef void kernel_line_fn(void *arg, const char *line, size_t len, bool overlong);
void kernel_lines_init(struct kernel_lines *lb);
/* Drops a waiting line and its buffer: before a new monitor's pipe, or at the end. */
void kernel_lines_reset(struct kernel_lines *lb);
/* Calls fn once per complete line in data (after what earlier calls left over). */
void kernel_lines_feed(struct kernel_lines *lb, const char *data, size_t n, kernel_line_fn *fn,
		       void *arg);

enum kernel_mon_phase {
	KMON_DOWN,    /* no monitor and none planned (shutdown) */
	KMON_RUNNING, /* forked; its pipe is read */
	KMON_WAITING, /* lost; a new one starts at restart_at_us */
	KMON_HELD,    /* not started yet: waiting for the services it is `after` */
};

#define KERNEL_RECENT_MAX 16
/* Every this many status ticks each service's processes are counted again (30 s at the
 * default interval); between, only those with an event of their own are. */
#define KERNEL_PROCS_EVERY_TICKS 6
#define KERNEL_RECENT_MS	 3600000 /* the timeline's hour */

struct kernel_svc {
	char name[REPORT_NAME_MAX]; /* "svc-index" */
	const struct svc_def *def;  /* its record in the service table */
	int64_t held_until_us;	    /* KMON_HELD: when it starts even if not all are ready */

	/* The service as its monitor last reported it. */
	bool reported;
	enum svc_state state;
	pid_t pid;
	unsigned long long start;
	unsigned restarts;
	int64_t since_us;	   /* monotonic time it was spawned, when pid > 0 */
	int64_t quarantine_end_us; /* when its quarantine runs out, while quarantined */
	int64_t rtt_us;
	unsigned failures;
	char reason[REPORT_REASON_MAX];
	bool ever_healthy;
	int64_t state_since_us; /* monotonic time the state last changed, 0 before a report */
	/* The service's last exit as its monitor reported it; exit_at_us 0: none yet. */
	int exit_code, exit_signal; /* -1 / 0 when it was not a code / a signal */
	int64_t exit_at_us;
	/* Its last KERNEL_RECENT_MAX restarts (monotonic), oldest first: the status page's
	 * timeline of the last hour. */
	int64_t recent_us[KERNEL_RECENT_MAX];
	unsigned nrecent;
	/* What a replacement monitor needs (handover.h), from the same reports. */
	int64_t due_at_us;	  /* the state's running deadline (monotonic), -1 if none */
	int64_t healthy_since_us; /* -1 if not healthy since it was spawned */
	unsigned streak, recorded;
	bool probation;
	/* The policy's restart times, oldest first: ntimes of times_cap, grown as restarts
	 * are recorded (up to HANDOVER_TIMES_MAX) and freed when the history is cleared. */
	unsigned ntimes, times_cap;
	int64_t *restart_times_us;
	int pidfd;			/* opened and checked against pid + start; -1 if none */
	pid_t orphan_pid;		/* outlived its monitor: reparented to us, ours to reap */
	unsigned long long strays_held; /* reaps of its strays not reported (its budget) */
	/* No pidfd could be opened (out of descriptors or memory) for a service that may
	 * be alive: no replacement monitor may start for it, lest it spawn a second copy. */
	bool untracked;
	int64_t track_at_us; /* the next try to open its pidfd, while untracked */
	unsigned track_streak;
	bool mon_degraded; /* its monitor reports trouble of its own, not the service's */

	/* Its monitor. */
	enum kernel_mon_phase mon;
	pid_t mpid;
	unsigned long long mstart;
	int mpidfd;
	int pipefd;			/* read end of the status pipe, -1 once closed */
	int cmdfd;			/* write end of its command pipe, -1 without a monitor */
	bool want_down;			/* stopped by hand: its next monitor starts it down */
	bool retiring;			/* removed by reload: dropped once its monitor has exited */
	const struct svc_def *next_def; /* changed by reload: restarted with this */
	int lockfd;			/* its socket's lock (socklock.c), -1 if none */
	int next_lockfd;		/* next_def's, when its socket is another file */
	const char *heir_of;		/* a removed service whose socket lock it awaits */
	bool relock;			/* next_def's lock is not lockfd: swapped at the restart */
	struct kernel_lines lines;
	/* The heartbeat pipe: the quiet passing checks, read on the status tick and
	 * before the monitor is taken for silent, never woken for (kernel_mon_heartbeats). */
	int hbfd;
	struct kernel_lines hblines;
	int64_t last_mono_us;	     /* the monitor's clock in the last report applied */
	unsigned long long last_seq; /* of its monitor's last report, 0 before the first */
	int64_t mon_started_us, last_report_us, restart_at_us;
	unsigned mon_streak;   /* monitors in a row that died young */
	unsigned mon_replaced; /* monitors started after the first */
	bool mon_frozen;       /* killed by us for silence */
	struct svcout *out;    /* its stdout/stderr pipes and their lines (svcout.h) */
	int64_t dl_queued;     /* its deadline in the kernel's heap (evset.c), 0 if none */
	int procs;	  /* processes in its cgroup (or group) when last counted; -1 unknown */
	bool procs_stale; /* counted again at the next publish: it started, ended or changed */
};

/* table.c: the status table (pure). */
void kernel_svc_init(struct kernel_svc *s, const char *name, const struct svc_def *def);
/* What the row holds besides itself: its restart times and a waiting line's buffers. */
void kernel_svc_free(struct kernel_svc *s);
#define KCH_STATE	  1u /* state changed */
#define KCH_PID		  2u /* a different service process (pid or start) */
#define KCH_FIRST_HEALTHY 4u /* healthy for the first time */
unsigned kernel_svc_apply(struct kernel_svc *s, const struct report *r, int64_t now_us);
int64_t kernel_svc_uptime_ms(const struct kernel_svc *s, int64_t now_us);
bool kernel_all_healthy(const struct kernel_svc *svcs, int n);
bool kernel_all_ever_healthy(const struct kernel_svc *svcs, int n);
/* "3/3 healthy" or "2/3 healthy; svc-index starting"; cut with "+N more" to fit. */
void kernel_summary(const struct kernel_svc *svcs, int n, char *buf, size_t cap);
/* "healthy=498 degraded=1 quarantined=1": services per state, states with none left out. */
void kernel_state_counts(const struct kernel_svc *svcs, int n, char *buf, size_t cap);

/* handover.c: the record a replacement monitor continues from (pure).  Restart
 * times too old to count anywhere are dropped from s first. */
void kernel_handover_build(struct kernel_svc *s, int64_t now_us, struct handover *h);

/* policy.c: when to replace a monitor (pure). */
/* Delay before the next monitor after one that lived lived_ms, updating *streak. */
int64_t kernel_mon_restart_delay_ms(unsigned *streak, int64_t lived_ms, int64_t stable_ms,
				    int64_t min_ms, int64_t max_ms);
/* A monitor is frozen once it has said nothing for 3 health intervals + the timeout. */
int64_t kernel_mon_silence_limit_us(int64_t interval_ms, int64_t timeout_ms);
bool kernel_mon_silent(int64_t last_report_us, int64_t now_us, int64_t interval_ms,
		       int64_t timeout_ms);
/* A lateness that calls every silence measured across it into question: half the
 * silence limit, since monitors are paused with us and report late as well. */
bool kernel_loop_paused(int64_t lateness_us, int64_t silence_limit_us);

/* format.c: output lines, text or JSON (pure). */
enum kernel_level { KL_INFO, KL_WARN, KL_ERROR };
struct kernel_field {
	const char *key;
	const char *str; /* NULL: num is the value */
	long long num;
};
#define KF_STR(k, v) ((struct kernel_field){(k), (v), 0})
#define KF_NUM(k, v) ((struct kernel_field){(k), NULL, (long long)(v)})
const char *kernel_level_name(enum kernel_level l);
/* One line, newline included; returns its length (truncated lines still end in '\n'). */
int kernel_fmt_line(bool json, int64_t wall_ms, enum kernel_level level, const char *event,
		    const struct kernel_field *f, int nf, char *buf, size_t cap);
/* The event line for a monitor's report; 0 (no line) for reports that change nothing a
 * person needs to see, such as a passing check. */
int kernel_fmt_report(bool json, int64_t wall_ms, const struct report *r, char *buf, size_t cap);
/* The aggregated status line: every service while there are at most `detail` of
 * them, else counts per state and only the services that are not healthy. */
int kernel_fmt_status(bool json, int64_t wall_ms, const struct kernel_svc *svcs, int n, int detail,
		      int64_t now_us, char *buf, size_t cap);
/* A state word with its terminal colour when color is set (healthy green, ...). */
void kernel_color_state(const char *state, bool color, char *buf, size_t cap);
/* A text line with its level word and state= values in terminal colours. */
void kernel_color_line(const char *line, char *buf, size_t cap);
/* Text values that need quotes get them, with \" \\ \n escapes. */
void kernel_fmt_text_value(const char *v, char *buf, size_t cap);

/* statusfile.c: $RON_RUN_DIR/status.json. */
struct kernel_status_meta {
	pid_t kernel_pid;
	const char *state; /* running | stopping | stopped */
	int64_t status_interval_ms;
	/* Who wrote it, provably: a probe or the next kernel trusts a pid only with these. */
	unsigned long long kernel_start;   /* the kernel's start time, /proc/PID/stat field 22 */
	const char *boot_id;		   /* "" if unknown */
	unsigned long long output_dropped; /* output lines dropped since start */
	/* Where each service's processes and output are, for the rows; NULL when the
	 * caller has none to say (a unit test): the fields are then empty. */
	const char *cg_base; /* cgroup of the services, as in /proc/PID/cgroup */
	const char *log_dir; /* [kernel] log_dir, "" if unset */
	const char *run_log; /* the run directory's log directory */
};
struct json_object;
/* statustext.c: the table as status.json holds it, as text (malloc'd; its length into
 * *len when len is not NULL), NULL if out of memory. */
char *kernel_status_text(const struct kernel_status_meta *m, const struct kernel_svc *svcs, int n,
			 int64_t now_us, size_t *len);
/* The same, parsed (a new object). */
struct json_object *kernel_status_json(const struct kernel_status_meta *m,
				       const struct kernel_svc *svcs, int n, int64_t now_us);
/* Written in the run directory open as dirfd; run_dir names it in messages. */
int kernel_status_write(int dirfd, const char *run_dir, const struct kernel_status_meta *m,
			const struct kernel_svc *svcs, int n, int64_t now_us, char *why,
			size_t whylen);
/* The pid + start pairs (services and monitors) of the last status.json; returns how many. */
struct kernel_stale {
	char what[REPORT_NAME_MAX + 16]; /* "svc-index" or "monitor of svc-index" */
	pid_t pid;
	unsigned long long start;
};
/* Only from a status.json of this boot (its boot_id), read through dirfd. */
int kernel_status_stale(int dirfd, struct kernel_stale *out, int max);
/* status.json of run_dir (NULL and why if unreadable); *alive says whether the
 * kernel that wrote it still runs (else why says so), *age_ms how old it is. */
struct json_object *kernel_status_load(const char *run_dir, bool *alive, long long *age_ms,
				       char *why, size_t whylen);
/* ron-kernel --check: its exit status. */
int kernel_status_check(const char *run_dir, FILE *out);

/* statustable.c: the table of `status` and `--status`, from the status JSON. */
#define KERNEL_STATUS_NOT_FINE 3 /* systemctl's "not running" */
void kernel_fmt_duration(long long ms, char *buf, size_t cap);
struct json_object *kernel_status_row(struct json_object *o, const char *name);
/* A field of a row (or of the status): its text, "" if absent; its number, or dflt. */
const char *kernel_row_str(struct json_object *o, const char *key);
long long kernel_row_int(struct json_object *o, const char *key, long long dflt);
/* The rows named (none: all; "all": all), with a header line of column names. */
void kernel_status_table(FILE *out, struct json_object *o, char *const *names, int n, bool color);
/* 0 if every named service that should run is healthy, else KERNEL_STATUS_NOT_FINE. */
int kernel_status_verdict(struct json_object *o, char *const *names, int n);

/* rundir.c: directory safety and the pidfile. */
/* mkdir -p with 0700 for what is missing, then refuses a symlink, a directory not owned
 * by the effective uid, or one writable by group or others. */
int kernel_dir_safe(const char *path, char *why, size_t whylen);
/* kernel_dir_safe's checks and nothing made: a missing directory passes (it would be
 * made 0700), what exists above it is checked. */
int kernel_dir_check(const char *path, char *why, size_t whylen);
void kernel_dirname(const char *path, char *buf, size_t cap);
void kernel_pidfile_path(const char *run_dir, char *buf, size_t cap);
#define KERNEL_PIDFILE "ron-kernel.pid"
/* The directory walked from / (or .) one component at a time, never following a
 * symlink, missing ones made 0700: an O_PATH descriptor of it, or -1 with why.
 * Empty components (a trailing or doubled slash) and "." are skipped, ".." is
 * refused; every directory on the way is root's or ours, and one that others may
 * write is sticky with our entry in it; the last is ours and writable by no one
 * else.  Every later use goes through the descriptor. */
int kernel_dir_open(const char *path, char *why, size_t whylen);
/* The same walk for a directory that others use too (node_exporter's textfile
 * directory for RON_METRICS_FILE): nothing is made, and the last directory may be
 * another user's and writable by its group, though not by anyone (world-writable
 * without the sticky bit).  What is in it is not trusted: the kernel writes there
 * only with freshfile_write.  O_PATH descriptor, or -1 with why. */
int kernel_dir_open_shared(const char *path, char *why, size_t whylen);
/* Creates and locks ron-kernel.pid in dirfd and writes our pid: its fd, or -1 with
 * errno (EEXIST: another kernel holds it, its pid in *other). */
int kernel_pidfile_lock(int dirfd, pid_t *other);

/* freshfile.c: a file replaced by a new one, never rewritten. */
/* Writes the n buffers of iov to a new file at tmp in dirfd (shown: the
 * directory's path, for messages) and puts it in place of name: a reader opens the
 * old file or the new one, and the old one never changes under a reader that holds
 * it.  tmp is created O_EXCL without following a link or blocking, checked to be a
 * regular file; what is found at tmp is removed only if it is a regular file of
 * ours (left by a kernel stopped mid-write), anything else is left alone and named.
 * 0, or -1 with why ("open /x/.m.tmp: ..."). */
struct iovec;
int freshfile_write(int dirfd, const char *shown, const char *name, const char *tmp,
		    const struct iovec *iov, int n, mode_t mode, char *why, size_t whylen);

/* userdirs.c: the socket directory of a service that runs as another user is made
 * (if missing) and given to that user, mode 0700; it may not be the run directory,
 * which becomes searchable (0711) when it holds such a directory. */
int kernel_sockdir_give(const char *run_dir, const struct svc_def *d, char *why, size_t whylen);
/* kernel_sockdir_give's checks, nothing made or given. */
int kernel_sockdir_check(const char *run_dir, const struct svc_def *d, char *why, size_t whylen);

/* notify.c: systemd's sd_notify protocol, without libsystemd. */
struct kernel_notify {
	int fd; /* -1: not under systemd */
	char path[128];
	size_t pathlen;	     /* the address length; abstract names start with '\0' */
	int64_t watchdog_us; /* WATCHDOG_USEC, 0 if none */
};
/* Reads and unsets NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID. */
int kernel_notify_open(struct kernel_notify *n, char *why, size_t whylen);
int kernel_notify_send(struct kernel_notify *n, const char *msg);

/* A client of the control socket: one request in, one reply out. */
#define CONTROL_CLIENTS_MAX 32
#define CONTROL_REQUEST_MAX 65536
#define CONTROL_IDLE_MS	    5000
struct control_client {
	int fd; /* -1: a free slot */
	char *in;
	size_t inlen, incap;
	char *out;
	size_t outlen, outoff;
	bool replying;
	int64_t deadline_us;
};

/* outq.c: standard output as a bounded queue drained when writable. */
enum kernel_out_kind { KOUT_EVENT, KOUT_STATUS, KOUT__COUNT };
enum kernel_out_how {
	KOUT_WRITE,    /* a regular file: plain writes */
	KOUT_NONBLOCK, /* our own non-blocking description of a pipe or terminal */
	KOUT_SEND,     /* a socket: send(MSG_DONTWAIT) */
	KOUT_CHUNKED,  /* a shared blocking pipe: one PIPE_BUF write per POLLOUT */
};
struct kernel_outq {
	int fd;
	bool own_fd;
	enum kernel_out_how how;
	char *buf; /* a ring of cap bytes: len of them from head on */
	size_t cap, head, len;
	bool dropping; /* lines are being dropped until half the queue is free */
	bool broken;   /* the reader is gone: every line is dropped */
	unsigned long long dropped[KOUT__COUNT]; /* since the last drop notice */
	unsigned long long dropped_total;	 /* since start */
	int64_t drop_since_ms;			 /* wall clock of the first drop not yet told */
};
int kernel_outq_init(struct kernel_outq *q, size_t cap);
void kernel_outq_free(struct kernel_outq *q);
/* Queues one line, or counts it dropped (false) when the queue is full. */
bool kernel_outq_push(struct kernel_outq *q, enum kernel_out_kind kind, const char *line,
		      size_t len);
/* Copies the next whole lines, at most max bytes, into chunk; returns how many bytes. */
size_t kernel_outq_peek(const struct kernel_outq *q, char *chunk, size_t max);
void kernel_outq_consume(struct kernel_outq *q, size_t n);
/* True when lines were dropped and the queue has room again to say so. */
bool kernel_outq_drops_pending(const struct kernel_outq *q);
void kernel_outq_drops_taken(struct kernel_outq *q);
/* Chooses how to write to fd (see enum kernel_out_how); -1 if fd is not open. */
int kernel_outq_open(struct kernel_outq *q, int fd);
/* Writes what the reader takes now without waiting (KOUT_CHUNKED: one chunk, and
 * only when poll said writable); returns the writes made, with *err set to the
 * errno that broke the output for good, else 0. */
int kernel_outq_write(struct kernel_outq *q, bool writable, int *err);
bool kernel_outq_wants_poll(const struct kernel_outq *q);
/* At exit: flush(ctx, writable) until q is empty, waiting for its reader; false when the
 * reader took nothing for stall_ms (q->len bytes are then left unwritten). */
bool kernel_outq_drain(struct kernel_outq *q, void (*flush)(void *ctx, bool writable), void *ctx,
		       int stall_ms);

/* contain.c: what a killed predecessor left in its cgroups, told once we can print. */
enum kernel_containment { KCONT_PGROUP, KCONT_CGROUP };
#define KERNEL_CG_FOUND_MAX 32
struct kernel_cg_found {
	char leaf[REPORT_NAME_MAX];
	int procs;
	bool survived;
};

/* The running kernel: everything its event loop touches. */
struct pidfh;
struct pollfd;
/* How long after a change status.json is written (kernel_publish()). */
#define PUBLISH_SETTLE_MS 20

struct kernel {
	struct config cfg;
	bool json;
	bool color;	/* stdout is a terminal, NO_COLOR unset, text lines */
	bool tty;	/* stdout is a terminal */
	unsigned ticks; /* status ticks so far */
	pid_t pid;
	unsigned long long start;	/* our start time, for status.json */
	struct svc_rate stray_rate;	/* reaps of strays of no service */
	unsigned long long strays_held; /* ... not reported, over that budget */
	char mark[64];			/* PROC_KERNEL_MARK=PID.START, which all we start inherit */
	char boot_id[64];
	const char *run_dir;
	char monitor_bin[CFG_STR_MAX];
	struct svc_table tab;
	struct kernel_svc *svc; /* one per enabled service of tab, in its order */
	int nsvc;
	int *slot;  /* tab index -> svc index, -1 for a disabled service */
	int run_fd; /* the run directory, as kernel_dir_open checked it */
	int pid_fd; /* the locked pidfile */
	int sigfd;
	struct kernel_notify notify;
	bool ready_sent;
	bool release_due; /* a service became ready or quarantined: held ones may start */
	bool reload_due;  /* SIGHUP with a config file: reload at the end of the loop turn */
	char last_summary[256];
	bool dirty; /* status.json is behind the table */
	struct kernel_outq out;
	bool nomem;		/* out of memory, said once; cleared by the next status write */
	unsigned nomem_skipped; /* what was skipped since */
	int64_t loop_mark_us, loop_allowed_us; /* when the loop last ran, and its sleep */
	bool stopping, killed;
	int64_t stop_deadline_us, kill_deadline_us;
	int64_t stop_asked_us; /* when the first stop signal came */
	int64_t next_status_us, next_watchdog_us;
	struct pollfd *pfd; /* the poll set: the signalfd, control socket and clients, pipes */
	struct kernel_svc **who;
	int pfd_cap;
	int ctlfd; /* the control socket, -1 if none */
	struct control_client ctl[CONTROL_CLIENTS_MAX];
	/* For reload: the flags and variables as given at start, before export. */
	int argc0;
	char **argv0;
	char *env0[CFG__COUNT];
	struct svc_table *old_tabs; /* tables replaced by reload, still pointed into */
	int nold_tabs;
	struct kernel_obs *obs; /* metrics and ron-httpd (observe.h) */
	/* evset.c: the services' pipes and deadlines, found without a scan. */
	int epfd;
	int hb_epfd; /* the monitors' heartbeat pipes (evset.c), -1 until the loop */
	struct kernel_dl {
		int64_t t;
		int idx;
	} * dl; /* a min-heap of monitor deadlines by t */
	int ndl, dl_cap;
	bool ev_stale; /* rows moved or changed (reload): indexes and deadlines to redo */
	int64_t publish_cost_us, next_publish_us; /* status.json's last write, its next one */
	int64_t publish_at_us; /* a change's write, PUBLISH_SETTLE_MS after it; 0 if none due */
	/* Containment (contain.c). */
	int containment;		    /* enum kernel_containment */
	char cg_why[CGROUP_PATH_MAX + 128]; /* why process groups, when they are used */
	char cg_mnt[CGROUP_PATH_MAX];	    /* the cgroup2 mount */
	char cg_orig[CGROUP_PATH_MAX];	    /* the cgroup we started in */
	char cg_base[CGROUP_PATH_MAX];	    /* ours: <orig>/ron-kernel.HASH */
	int cg_fd;			    /* cg_base open, -1 in the fallback */
	struct kernel_cg_found cg_found[KERNEL_CG_FOUND_MAX];
	int ncg_found;
};

/* output.c: stdout lines and status.json. */
/* One event line to stdout, coloured on a terminal (k->color). */
void kernel_print(struct kernel *k, const char *line);
/* Queues one line of a kind for stdout (formatted elsewhere; coloured here). */
void kernel_out_line(struct kernel *k, enum kernel_out_kind kind, const char *line, int len);
/* Writes what stdout takes now (writable: poll said so); after a drop, once there
 * is room again, queues the line that says how many were lost. */
void kernel_out_flush(struct kernel *k, bool writable);
/* At exit: writes until the queue is empty or the reader took nothing for a second. */
void kernel_out_drain(struct kernel *k);
void kernel_emit(struct kernel *k, enum kernel_level level, const char *event,
		 const struct kernel_field *f, int nf);
void kernel_emit_status(struct kernel *k, int64_t now_us);
/* statusline.c: the status line as RON_STATUS_LINE asks, auto resolved. */
enum cfg_status_line kernel_status_line_mode(const struct kernel *k);
int kernel_fmt_status_line(enum cfg_status_line mode, bool json, bool color, int64_t wall_ms,
			   const struct kernel_svc *svcs, int n, int detail, int64_t now_us,
			   char *buf, size_t cap);
/* SIGUSR1: the status line and one line per service with every field. */
void kernel_emit_full(struct kernel *k, int64_t now_us);
void kernel_publish(struct kernel *k, int64_t now_us);
/* What status.json says of the kernel itself, in the given state. */
struct kernel_status_meta kernel_status_meta(const struct kernel *k, const char *state);
/* Memory ran out for what: said once (event=out_of_memory) until kernel_nomem_over. */
void kernel_nomem(struct kernel *k, const char *what);
void kernel_nomem_over(struct kernel *k);
/* "exited code=1", or the signal's name, as fields; returns how many it added. */
int kernel_wait_fields(int wstatus, struct kernel_field *f, char *sigbuf, size_t siglen);

/* monitors.c: the monitor processes. */
int kernel_mon_start(struct kernel *k, struct kernel_svc *s, int64_t now_us);
void kernel_mon_read(struct kernel *k, struct kernel_svc *s, int64_t now_us);
/* Reads what the monitor left in its heartbeat pipe (every service's with s NULL). */
void kernel_mon_heartbeats(struct kernel *k, struct kernel_svc *s, int64_t now_us);
void kernel_reap(struct kernel *k, int64_t now_us);
/* Kills monitors that have been silent too long; restarts the ones whose delay is up. */
void kernel_mon_timers(struct kernel *k, int64_t now_us);
/* The kernel itself did not run for late_us: every monitor gets a fresh silence window. */
void kernel_mon_paused(struct kernel *k, int64_t late_us, int64_t now_us);
/* A service that may be alive but has no pidfd: reparented to us and not yet reaped. */
bool kernel_svc_untracked_child(const struct kernel_svc *s);
/* Signals a service's process group while its leader provably is the service (pidfd,
 * or our own unreaped child); 0, or -1 with errno. */
int kernel_svc_signal(struct kernel *k, struct kernel_svc *s, int sig);
/* The earliest monitor deadline, or -1. */
int64_t kernel_mon_deadline(struct kernel *k);
/* The one service's: its held start, its next monitor, or its monitor's silence limit. */
int64_t kernel_mon_deadline_of(const struct kernel *k, const struct kernel_svc *s);
/* Starts the held services whose `after` services have all been ready once, and those
 * held past their start timeout or waiting for a quarantined one (event=waiting). */
void kernel_mon_release(struct kernel *k, int64_t now_us);
bool kernel_svc_alive(const struct kernel_svc *s);

/* control.c: $RON_RUN_DIR/control.sock in the event loop. */
void kernel_control_path(const char *run_dir, char *buf, size_t cap);
int kernel_control_open(struct kernel *k, char *why, size_t whylen);
void kernel_control_close(struct kernel *k);
/* Whether pid is ron-httpd, in its session, or descended from it. */
bool kernel_control_peer_is_httpd(const struct kernel *k, pid_t pid);
/* Adds the listener and every client to p (room for 1 + CONTROL_CLIENTS_MAX); returns how
 * many; kernel_control_events takes the same slice back after poll. */
int kernel_control_pollfds(struct kernel *k, struct pollfd *p);
void kernel_control_events(struct kernel *k, const struct pollfd *p, int n, int64_t now_us);
void kernel_control_timers(struct kernel *k, int64_t now_us);
int64_t kernel_control_deadline(const struct kernel *k);

/* commands.c: one request (JSON text) -> its reply (a new object). */
struct json_object *kernel_control_request(struct kernel *k, const char *text, size_t len,
					   int64_t now_us);
struct kernel_svc *kernel_svc_find(struct kernel *k, const char *name);
/* {"ok":false,"error":"..."} */
struct json_object *kernel_reply_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Writes one command line to a service's monitor; -1 with why. */
int kernel_svc_command(struct kernel *k, struct kernel_svc *s, const char *cmd, char *why,
		       size_t whylen);

/* ctl.c: the command-line client: ron-kernel status | restart | stop | start | lift |
 * signal | reload; argv[0] is the command word.  Returns the exit status. */
bool kernel_ctl_is_command(const char *word);
/* The i-th command word ("status", "restart", ...); NULL past the last. */
const char *kernel_ctl_command(int i);
/* The run_dir a config file's [kernel] section sets, if it does (buf untouched if
 * not); nothing else of the file is checked.  -1 with why if it cannot be read or is
 * not a regular file. */
int kernel_ctl_file_run_dir(const char *path, char *buf, size_t cap, char *why, size_t whylen);
int kernel_ctl_main(const char *run_dir, int argc, char **argv);
/* logs.c: ron-kernel logs [-n N] [-f] [--since T] [NAME...], from the files alone. */
int kernel_ctl_logs(const char *run_dir, int argc, char **argv);
/* The last n lines of NAME's log in dir (its dir/NAME/current and the rotated one),
 * as `logs` prints them; -1 if it has none there. */
int kernel_logs_tail(const char *dir, const char *name, long long n);
/* One request, one reply; NULL with *rc set and a line on stderr (quiet: none for
 * a kernel that is not running, whose caller says so itself). */
struct json_object *kernel_ctl_ask(const char *run_dir, struct json_object *req, int *rc,
				   bool quiet);
/* suggest.c: the closest command (or, for arg starting with '-', flag) to arg by
 * edit distance, or NULL if none is close; *flag says which. */
const char *kernel_suggest(const char *arg, bool *flag);
/* "ron-kernel: unknown argument X; did you mean Y?" and where the usage is. */
void kernel_unknown_argument(FILE *f, const char *arg);
/* ctlstatus.c: `ron-kernel status [NAME...]` and `--status`; returns the exit status. */
int kernel_ctl_status(const char *run_dir, char *const *names, int n, bool json);
/* page.c: the status page's HTML (a new string), NULL if out of memory. */
char *kernel_page_render(const struct kernel *k, int64_t now_us);
/* statusdetail.c: one row of the status JSON in full, then its last output lines. */
void kernel_status_detail(FILE *out, struct json_object *row, bool color);

/* reload.c: re-reads the config file and applies the difference. */
struct json_object *kernel_reload(struct kernel *k, int64_t now_us);
/* A monitor of a service that reload removed or changed has exited: drop or restart. */
bool kernel_reload_reaped(struct kernel *k, struct kernel_svc *s, int64_t now_us);
/* Room for the poll set after the table grew. */
int kernel_pollset_fit(struct kernel *k);

/* socklock.c: <socket>.lock beside every service socket, locked while the service is
 * the kernel's: a second kernel (another run directory, the same sockets) would run a
 * second copy.  The fd, or -1 with why: *held when another kernel holds the lock,
 * *ours (an fd open on the file, not locked) when this one does. */
void kernel_socklock_path(const char *sock, char *buf, size_t cap);
int kernel_socklock_take(const struct kernel *k, const struct svc_def *d, int *ours, bool *held,
			 char *why, size_t whylen);
/* --check-config: whether d's lock is free, or held by the kernel of run_dir (the
 * one the file is for); nothing is taken. */
int kernel_socklock_check(const struct svc_def *d, const char *run_dir, char *why, size_t whylen);
/* Releases a removed service's lock, and its file. */
void kernel_socklock_drop(int fd, const char *sock);
/* At exit: every service's lock. */
void kernel_socklocks_release(struct kernel *k);

/* admit.c: what a service needs before its first monitor starts, the same at start-up
 * and on reload: directories checked (or given to its user), then its socket lock. */
struct kernel_admission {
	int lockfd;	     /* the lock taken; -1 if none was needed or taken */
	bool kept;	     /* the service's own lock already: nothing taken */
	const char *heir_of; /* a removed service whose lock passes on once it is gone */
};
struct kernel_admit_pass {
	const struct svc_table *tab; /* the table the admitted services are in */
	const struct config *cfg;    /* and its settings */
	const char *run_dir;
	bool all;	       /* start-up: every enabled service is admitted */
	bool dry;	       /* --check-config: every check, nothing made, given or locked */
	const bool *admitting; /* reload: which of tab's services are */
	const struct kernel_admission *pend; /* admitted so far in this pass */
	int npend;
};
/* Admits tab's service i: 0, or -1 with why (and *held if another kernel has its
 * socket). */
int kernel_admit(struct kernel *k, const struct kernel_admit_pass *p, int i,
		 struct kernel_admission *a, bool *held, char *why, size_t whylen);
/* runnable.c: 0 if d's program and working directory can be used by its user, else
 * -1 with why (naming file:line and how to fix it). */
int kernel_runnable(const struct svc_table *t, const struct svc_def *d, char *why, size_t whylen);
/* Releases the locks of a pass that is not applied. */
void kernel_admit_undo(struct kernel_admission *a, int n);

/* contain.c: cgroup v2 per service, or process groups. */
/* Chooses by RON_CONTAINMENT; in cgroup mode kills what a predecessor left in this run
 * directory's cgroups and moves us into our leaf.  -1 with why only when cgroup was
 * demanded and cannot be used. */
int kernel_contain_init(struct kernel *k, char *why, size_t whylen);
/* The start-up lines of what kernel_contain_init found and killed. */
void kernel_contain_report(struct kernel *k);
/* Makes the service's cgroup if missing: 0 with its path, -1 in the fallback. */
int kernel_contain_svc_path(struct kernel *k, const struct kernel_svc *s, char *path, size_t cap);
/* A removed service's cgroup, emptied and removed. */
void kernel_contain_svc_remove(struct kernel *k, const struct kernel_svc *s);
/* Processes in the service's cgroup; -1 in the fallback. */
int kernel_contain_procs(const struct kernel *k, const struct kernel_svc *s);
/* sig to every process of the service's cgroup (SIGKILL: cgroup.kill); -1 in the fallback. */
int kernel_contain_signal(struct kernel *k, const struct kernel_svc *s, int sig);
/* True when no service cgroup holds a process (always, in the fallback). */
bool kernel_contain_empty(const struct kernel *k);
/* Whether pid is in our cgroup subtree (false without cgroup containment). */
bool kernel_contain_inside(const struct kernel *k, pid_t pid);
/* The service pid is a process of (its cgroup, or its leader's process group), or NULL. */
const struct kernel_svc *kernel_contain_owner(const struct kernel *k, pid_t pid);
/* Counts the processes of each service (in its cgroup, or its leader's process group)
 * whose count is stale since an event of its own; of every one with all. */
void kernel_contain_count(struct kernel *k, bool all);
/* Back into the cgroup we started in, and ours removed. */
void kernel_contain_fini(struct kernel *k);

/* orphans.c: SIGKILLs children of ours that are neither a monitor nor a known
 * service; returns how many. */
int kernel_orphans_kill(struct kernel *k);

/* stale.c: what a killed predecessor left running. */
void kernel_stale_stop(struct kernel *k);

/* evset.c: the services' pipes in an epoll set, their deadlines in a heap. */
#define KEV_STATUS 0 /* a monitor's status pipe; SVC_STDOUT + 1, SVC_STDERR + 1: output */
int kernel_ev_open(struct kernel *k);
void kernel_ev_watch(struct kernel *k, struct kernel_svc *s, int fd, int kind);
void kernel_ev_rewatch(struct kernel *k, struct kernel_svc *s, int fd, int kind);
void kernel_ev_unwatch(struct kernel *k, int fd);
/* s's heartbeat pipe into the heartbeat set (its closing takes it out), or again under
 * its index after the table moved; kernel_hb_ready puts up to max indexes of services
 * whose pipe has something into idx, and returns how many (-1: no set). */
void kernel_hb_watch(struct kernel *k, struct kernel_svc *s);
void kernel_hb_rewatch(struct kernel *k, struct kernel_svc *s);
int kernel_hb_ready(struct kernel *k, int *idx, int max);
/* Queues s at its deadline unless an earlier or equal one is queued already. */
void kernel_dl_note(struct kernel *k, struct kernel_svc *s);
void kernel_dl_rebuild(struct kernel *k);
int64_t kernel_dl_next(struct kernel *k);
/* A service whose deadline is due (taken off the heap), or -1. */
int kernel_dl_due(struct kernel *k, int64_t now_us);

/* loop.c: signals, the poll loop, shutdown. */
int kernel_signals_init(struct kernel *k, char *why, size_t whylen);
int kernel_run(struct kernel *k);

#endif
