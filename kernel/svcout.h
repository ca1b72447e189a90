/* Service output captured by the kernel: each service's stdout and stderr are pipes
 * whose read ends the kernel holds; their bytes are cut into lines here and relayed
 * (prefixed text on stderr, JSON objects on stdout, optional files NAME/current). */
#ifndef RON_SVCOUT_H
#define RON_SVCOUT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Where the monitor finds the write ends, to hand them to the service as its 1 and 2. */
#define MON_STDOUT_FD 7
#define MON_STDERR_FD 8

/* Longer lines are relayed in pieces of this many bytes, each marked. */
#define SVCLINE_MAX 16384
/* Room for one formatted piece: every byte escaped as \u00XX, plus the fields. */
#define SVCLINE_OUT_MAX (SVCLINE_MAX * 6 + 1024)

enum svc_stream { SVC_STDOUT, SVC_STDERR, SVC__STREAMS };

/* --- svcline.c: the pure part, no I/O --- */

/* A pipe's bytes cut into lines of at most SVCLINE_MAX bytes.  A line is handed on
 * whole (part 0), or as pieces numbered 1.. with more set on all but the last. */
struct svcline {
	char *buf; /* SVCLINE_MAX bytes, allocated at the first partial line */
	size_t len;
	unsigned part; /* pieces of the current line handed on so far */
};
typedef void svcline_fn(void *arg, const char *line, size_t len, unsigned part, bool more);
void svcline_init(struct svcline *l);
void svcline_free(struct svcline *l);
void svcline_feed(struct svcline *l, const char *data, size_t n, svcline_fn *fn, void *arg);
/* The partial last line, if any (its writer has exited). */
void svcline_flush(struct svcline *l, svcline_fn *fn, void *arg);

/* Copies in to out without ANSI escape sequences (CSI, OSC, two-byte ESC forms);
 * returns the length, never more than n. */
size_t svcline_strip_ansi(const char *in, size_t n, char *out);

/* One piece as the destination wants it, newline included; returns its length.
 * out has room for SVCLINE_OUT_MAX bytes. */
struct svcline_meta {
	const char *service;
	pid_t pid;
	enum svc_stream stream;
	unsigned part;
	bool more;
	int64_t wall_ms;
	int width; /* text: the prefix "NAME[PID]:" padded to this many columns */
};
/* "svc-index[4242]: line"; a piece after the first has '+' for ':'. */
size_t svcline_fmt_text(const struct svcline_meta *m, const char *line, size_t len, char *out);
/* {"ts","level":"info","event":"output","service","pid","stream","line"} and, for a
 * piece of a longer line, "part" and "more"; bytes that are not UTF-8 are written as
 * the text \xHH and "escaped":true is added. */
size_t svcline_fmt_json(const struct svcline_meta *m, const char *line, size_t len, char *out);
/* For a log file: "2026-01-01T00:00:00.123Z 4242 stderr: line" (':' '+' as in text). */
size_t svcline_fmt_file(const struct svcline_meta *m, const char *line, size_t len, char *out);
const char *svc_stream_name(enum svc_stream s);

/* A token bucket: rate lines per second, up to burst at once; rate 0: no limit. */
struct svc_rate {
	double tokens;
	int64_t last_us; /* 0: full */
};
bool svc_rate_take(struct svc_rate *r, long long rate, long long burst, int64_t now_us);

/* Without log_dir, each service's log is RUN_DIR/log/NAME: current and one rotated
 * file of at most this many bytes. */
#define SVCOUT_RUN_LOG	     "log"
#define SVCOUT_RUN_LOG_BYTES (1024 * 1024)

/* --- logfile.c: NAME/current in a log directory, rotated by rename --- */
struct logfile;
/* Opens (making them 0700 if missing) dir and dir/name; NULL with why. */
struct logfile *logfile_open(const char *dir, const char *name, char *why, size_t whylen);
void logfile_close(struct logfile *lf);
/* Writes one whole line, rotating first when it would pass max_bytes and keeping
 * `keep` rotated files.  0, or -1 with why (the line is not written: a full disk, a
 * file-size limit, a directory gone); never a part of a line. */
int logfile_write(struct logfile *lf, const char *line, size_t len, long long max_bytes,
		  long long keep, int64_t wall_ms, char *why, size_t whylen);

/* --- svcout.c: the pipes and relaying, in the kernel's event loop --- */
struct kernel;
struct kernel_svc;
struct pollfd;
/* Sets up what the whole kernel needs (stderr's queue) and checks every log directory:
 * -1 with why for a directory that cannot be used (a configuration error), -2 when a
 * system call failed. */
int kernel_svcout_init(struct kernel *k, char *why, size_t whylen);
/* The last lines of a service's output the status page shows, each cut to fit. */
#define SVCOUT_TAIL_LINES 5
#define SVCOUT_TAIL_LEN	  200
/* Up to max of them into lines, oldest first (pointers into the kernel's copy, good
 * until its next line); how many.  None unless RON_HTTP_ADDR is set. */
int kernel_svcout_tail(const struct kernel_svc *s, const char **lines, int max);
/* RUN_DIR/log, where a service's log goes without log_dir ("" before init). */
const char *kernel_svcout_run_log(void);
/* Reload: the settings read again (service_output). */
void kernel_svcout_settings(struct kernel *k);
/* Reload: a new log directory for the service; its open file is closed. */
void kernel_svcout_log_moved(struct kernel_svc *s);
/* The write ends for a service's next monitor, its pipes made the first time;
 * false if they could not be (the service then writes where the monitor does). */
bool kernel_svcout_fds(struct kernel *k, struct kernel_svc *s, int *out_fd, int *err_fd);
/* Reads what is left, flushes partial lines (the service exited). */
void kernel_svcout_exited(struct kernel *k, struct kernel_svc *s);
/* The service is gone from the table for good. */
void kernel_svcout_free(struct kernel *k, struct kernel_svc *s);
/* Adds stderr's queue to p when it waits to be written (room for 1); returns how many.
 * The read ends are in the kernel's epoll set (evset.c). */
int kernel_svcout_pollfds(struct kernel *k, struct pollfd *p, struct kernel_svc **who);
/* Watches s's read ends, or stops while a spawn is under way whose pid we have not
 * been told yet: its first lines wait in the pipe until they can carry it. */
void kernel_svcout_sync(struct kernel *k, struct kernel_svc *s);
/* A read end the epoll set says is readable (stream SVC_STDOUT or SVC_STDERR). */
void kernel_svcout_ready(struct kernel *k, struct kernel_svc *s, enum svc_stream st);
/* Every read end again, at the indexes of the table as it is now (after a reload). */
void kernel_svcout_rewatch(struct kernel *k);
void kernel_svcout_events(struct kernel *k, const struct pollfd *p, struct kernel_svc **who, int n);
/* Drop notices due; the earliest, or -1. */
void kernel_svcout_timers(struct kernel *k, int64_t now_us);
/* One line of the service's output budget, for something said on its behalf; false
 * when it is spent. */
bool kernel_svcout_take(struct kernel *k, struct kernel_svc *s, int64_t now_us);
int64_t kernel_svcout_deadline(const struct kernel *k);
/* At exit: reads every pipe dry, flushes, reports drops, writes stderr's queue out. */
void kernel_svcout_finish(struct kernel *k);

#endif
