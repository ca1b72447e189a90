/* ron-bench, the harness behind `make bench`: what its files offer each other (the
 * figures and their samples, scratch directories, children, the kernel under test, probes). */
#ifndef RON_BENCH_H
#define RON_BENCH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "health.h"

#ifndef RON_BUILD_DIR
#define RON_BUILD_DIR "build"
#endif

#define BENCH_NSVC 3
/* Sizes of the scale scenario in one run (100 and 500, or BENCH_SCALE alone). */
#define BENCH_SCALES  3
#define BENCH_WHY_MAX 1024
/* The service output scenario writes lines of this many bytes, newline included. */
#define OUTPUT_LINE_BYTES 100
/* Sockets and the kernel's output are polled this often while a latency runs. */
#define BENCH_POLL_US 100
/* The monitor-isolation client sends one v1.health this often. */
#define BENCH_CLIENT_US 1000

extern const char *const bench_svc[BENCH_NSVC];	     /* "svc-index", ... */
extern const char *const bench_sock_var[BENCH_NSVC]; /* "RON_INDEX_SOCK", ... */
extern const char *const bench_bin_var[BENCH_NSVC];  /* "RON_SVC_INDEX_BIN", ... */

/* How many repetitions each scenario runs: a full run, or BENCH_QUICK=1's smoke run. */
struct bench_plan {
	bool quick;
	int floor_reps, startup_reps, recovery_kills, monitor_kills, monitor_stops, hang_reps,
	    crash_reps;
	int idle_s, idle_warmup_ms;
	int scale_n[BENCH_SCALES]; /* services of each scale run; 0: none */
	int scale_kills, scale_idle_s;
	int output_runs;   /* bursts relayed in each output mode */
	long output_lines; /* lines of OUTPUT_LINE_BYTES in each burst */
	/* Defaults of ron-kernel the scenarios wait on (from common/config.c's table). */
	int64_t stable_ms, health_interval_ms, health_timeout_ms, health_failures, quarantine_ms,
	    status_interval_ms;
};

/* figures.c: every number the bench reports, with its samples. */
enum scale_fig {
	SC_READY,
	SC_KCPU,
	SC_ACPU,
	SC_KWAKE,
	SC_KEVENT,
	SC_PSS,
	SC_PSS_PER,
	SC_KPSS,
	SC_KPSS_PER,
	SC_REC,
	SC_TICK,
	SC_ADOPT,
	SC__COUNT
};

enum fig_id {
	F_FLOOR,
	F_REC_ANSWER,
	F_REC_RESPAWN,
	F_REC_READY,
	F_ISO_FAILED,
	F_ISO_PID_CHANGED,
	F_ISO_ADOPTED,
	F_ISO_STOP_ADOPTED,
	F_ISO_STOP_FAILED,
	F_HANG_DEGRADED,
	F_HANG_UNHEALTHY,
	F_HANG_RESPAWN,
	F_HANG_READY,
	F_START_FIRST,
	F_START_SPAWNED,
	F_START_READY,
	F_START_ANSWER,
	F_STOP,
	F_STOP_LEFT,
	F_IDLE_KCPU,
	F_IDLE_MCPU,
	F_IDLE_CHECK,
	F_IDLE_KWAKE,
	F_IDLE_MWAKE,
	F_MEM_KPSS,
	F_MEM_KDIRTY,
	F_MEM_MPSS,
	F_MEM_MDIRTY,
	F_CRASH_STARTS,
	F_CRASH_QUARANTINED,
	F_IDLE_KEVENT,
	F_IDLE_WAKE_FLOOR,
	F_IDLE_CHECK_FLOOR,
	F_IDLE_CHECK_RATIO,
	/* Group 10, scale: SC__COUNT figures for each of up to BENCH_SCALES sizes. */
	F_SCALE,
	/* Group 11, service output relayed by the kernel. */
	F_OUT_TEXT_LPS = F_SCALE + BENCH_SCALES * SC__COUNT,
	F_OUT_TEXT_CPU,
	F_OUT_JSON_LPS,
	F_OUT_JSON_CPU,
	F__COUNT
};

struct figure {
	int group;	  /* 1..11, the numbering */
	const char *name; /* "recovery: SIGKILL -> other pid answers" */
	const char *unit; /* "ms", "us", "kB", "count", "/s", "us/s" */
	bool latency;	  /* also given as a ratio to the floor's median */
	double *v;
	size_t n, cap;
	char note[256];
	char failed[BENCH_WHY_MAX]; /* why it could not be measured, "" if it was */
};
extern struct figure figures[F__COUNT];

struct summary {
	size_t n;
	double min, median, p90, max;
};
void fig_add(enum fig_id id, double v);
void fig_note(enum fig_id id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Marks every figure of a group that has no samples yet as not measured. */
void fig_fail_group(int group, const char *why);
/* min / median / p90 (nearest rank) / max; false when there are no samples. */
bool fig_summary(const struct figure *f, struct summary *s);

/* scratch.c: a private scratch directory per scenario (mkdtemp, never /tmp/ron) and the
 * clean-up that kills every process started for it, even on failure or interrupt. */
int scratch_make(char *dir, size_t cap, const char *tag, char *why, size_t whylen);
/* Every process started for dir carries RON_RUN_DIR=dir/run in its environment: counts
 * the live ones, SIGKILLing them when kill_them. */
int scratch_procs(const char *dir, bool kill_them);
/* Kills and reaps what is left of dir's processes, removes dir and forgets it. */
void scratch_remove(const char *dir);
/* atexit: scratch_remove of every directory still known. */
void scratch_remove_all(void);
void bench_signals_init(void);
bool bench_interrupted(void);
/* Waits until the monotonic time until_us (a deadline, not a condition). */
void bench_pause_until(int64_t until_us);

/* child.c: starting the programs under test with a clean environment. */
#define ENVV_MAX 512
struct envv {
	char *v[ENVV_MAX + 1]; /* NULL-terminated, for execve */
	int n;
};
/* Our environment less every RON_*, SIM_*, systemd and PATH entry; PATH gets build/sim
 * first.  -1 only when out of memory or room. */
int envv_init(struct envv *e, char *why, size_t whylen);
/* Adds "K=V", replacing an entry with the same K. */
int envv_add(struct envv *e, char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void envv_free(struct envv *e);
/* fork+exec of path in a process group of its own, stdin /dev/null, stdout and stderr on
 * the fds given, default signal dispositions, deathsig when we die; an exec failure comes
 * back as -1 with its errno text. */
/* Lowers our timer slack to ns for finer polling; children get the old value back. */
int child_timerslack_lower(unsigned long ns);
pid_t child_start(const char *path, char *const argv[], char *const envp[], int out_fd, int err_fd,
		  int deathsig, char *why, size_t whylen);

/* probe.c: one v1.health request (common/health.c) and which pid answered it. */
struct answer {
	bool ok;
	pid_t peer; /* SO_PEERCRED of the listener, 0 if no connection was made */
	int64_t rtt_us;
	char reason[WIRE_WHY_MAX + 96];
};
bool probe_health(const char *sock, const char *service, int timeout_ms, struct answer *a);

/* procstat.c: what /proc says a process costs. */
int pstat_cpu_ns(pid_t pid, uint64_t *ns, char *why, size_t whylen);
int pstat_wakeups(pid_t pid, uint64_t *n, char *why, size_t whylen);
/* User and system time from /proc/PID/stat (clock ticks, so 10 ms steps), in ns. */
int pstat_times_ns(pid_t pid, uint64_t *user, uint64_t *sys, char *why, size_t whylen);
int pstat_mem_kb(pid_t pid, long *pss, long *private_dirty, char *why, size_t whylen);
/* Reads a whole small file; its length, or -1 with errno. */
ssize_t pstat_read(const char *path, char *buf, size_t cap);

/* stamps.c: svc-sim's start stamps (SIM_PIDFILE), on its own monotonic clock. */
#define STAMPS_MAX 1024
struct stamp {
	pid_t pid;
	int64_t us;
};
/* Up to max stamps in file order; -1 with why if the file cannot be read. */
int stamps_read(const char *path, struct stamp *out, int max, char *why, size_t whylen);
/* The stamp of pid; -1 with why if it has none. */
int64_t stamps_find(const char *path, pid_t pid, char *why, size_t whylen);

/* kern.c: a ron-kernel under test and the event lines it prints (RON_LOG_FORMAT=json). */
#define KEV_NAME_MAX 32
struct kev {
	int64_t t_us; /* when the bench read the line (monotonic) */
	char event[KEV_NAME_MAX];
	int svc; /* index into bench_svc, -1 if the line names none */
	pid_t pid, mpid;
	int code;	 /* exit code, -1 if none */
	char signal[16]; /* "SIGKILL", "" if none */
};
struct kmatch {
	const char *event;
	int svc;       /* -1: any */
	pid_t pid;     /* 0: any */
	pid_t not_pid; /* 0: any; else the pid must differ */
};
#define KERN_TAIL 40
struct kern {
	char dir[256];
	char sock[BENCH_NSVC][320];
	pid_t pid;
	int pidfd, outfd;
	/* Set before kern_start: stderr to a pipe (errfd, non-blocking) the caller drains,
	 * instead of the file kernel.stderr. */
	bool err_pipe;
	int errfd;
	/* JSON "event":"output" lines seen on stdout: counted, not parsed nor kept. */
	long noutput;
	int64_t t_exec; /* just before fork */
	bool eof, reaped;
	int wstatus;
	char buf[65536];
	size_t len;
	struct kev *ev;
	size_t nev, cap;
	char tail[KERN_TAIL][512];
	unsigned ntail;
};
/* Makes the scratch directory and names the sockets; nothing runs yet. */
int kern_init(struct kern *k, const char *tag, char *why, size_t whylen);
/* Starts build/ron-kernel on svc-sim; extra holds "K=V" settings (NULL-terminated). */
int kern_start(struct kern *k, char *const extra[], char *why, size_t whylen);
/* Reads whatever output is there. */
void kern_pump(struct kern *k);
/* Waits for output until until_us, reading it. */
void kern_idle(struct kern *k, int64_t until_us);
bool kern_alive(struct kern *k);
/* The first event at index >= from that matches; -1 if none. */
long kern_find(const struct kern *k, size_t from, const struct kmatch *m);
/* Waits for one until deadline_us; its index, or -1 with why. */
long kern_wait(struct kern *k, size_t from, const struct kmatch *m, int64_t deadline_us, char *why,
	       size_t whylen);
/* Waits until the time until_us while reading output; -1 with why if the kernel died or
 * the bench was interrupted. */
int kern_wait_until(struct kern *k, int64_t until_us, char *why, size_t whylen);
/* Waits until every service printed ready; ready[] gets their event indexes. */
int kern_wait_ready(struct kern *k, long ready[BENCH_NSVC], char *why, size_t whylen);
/* SIGTERM, then waits for the exit; *t_sig and *t_exit are when each happened. */
int kern_stop(struct kern *k, int64_t *t_sig, int64_t *t_exit, char *why, size_t whylen);
/* Kills what is left, removes the scratch directory; safe on a kernel never started. */
void kern_destroy(struct kern *k);
/* The end of a scenario: the kernel stopped if all went well (rc 0), its last lines
 * shown if not, and destroyed either way; returns rc, or the stop's failure. */
int kern_finish(struct kern *k, int rc, char *why, size_t whylen);
/* Its last output lines and stderr, for a failure message. */
void kern_dump(const struct kern *k);

/* The scenarios, one file each: 0, or -1 with why. */
int scen_floor(const struct bench_plan *p, char *why, size_t whylen);
int scen_recovery(const struct bench_plan *p, char *why, size_t whylen);
int scen_isolation(const struct bench_plan *p, char *why, size_t whylen);
int scen_hang(const struct bench_plan *p, char *why, size_t whylen);
int scen_lifecycle(const struct bench_plan *p, char *why, size_t whylen);
int scen_idle(const struct bench_plan *p, char *why, size_t whylen);
int scen_crashloop(const struct bench_plan *p, char *why, size_t whylen);
int scen_scale(const struct bench_plan *p, char *why, size_t whylen);
int scen_output(const struct bench_plan *p, char *why, size_t whylen);
/* Names the scale figures for the sizes of the plan (BENCH_SCALE or 100 and 500). */
void scale_figures_init(const struct bench_plan *p);

/* results.c: one table on stdout, results.json and results.md. */
struct bench_setting {
	int group; /* 0: every scenario */
	const char *text;
};
struct bench_info {
	bool quick;
	long nproc;
	char kernel[128], cpu[128], date[40], command[64];
	char load_start[32], load_end[32]; /* /proc/loadavg: others' work skews the figures */
	const struct bench_plan *plan;
	const struct bench_setting *settings;
	int nsettings;
	char defaults[512]; /* the kernel defaults the scenarios rely on */
	double seconds;	    /* wall time of the run */
};
void results_print(FILE *f, const struct bench_info *info);
int results_write_json(const char *path, const struct bench_info *info, char *why, size_t whylen);
int results_write_md(const char *path, const struct bench_info *info, char *why, size_t whylen);

#endif
