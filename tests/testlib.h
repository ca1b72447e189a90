/* Shared test helpers: a private temporary directory per test, child
 * processes that are always cleaned up, and waiting on conditions and output
 * lines with deadlines instead of fixed sleeps. */
#ifndef RON_TESTLIB_H
#define RON_TESTLIB_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define TL_BIN(name) RON_BUILD_DIR "/" name

/* Per-test set-up and tear-down: use as TestSuite(x, .init = tl_setup, .fini = tl_teardown).
 * The tear-down kills what tl_spawn started, then every process left with a RON_RUN_DIR
 * below the test's directory, then removes the directory. */
void tl_setup(void);
void tl_teardown(void);
/* This test's own temporary directory (made by tl_setup). */
const char *tl_dir(void);
/* tl_dir()/name in a static rotating buffer. */
const char *tl_path(const char *name);

/* Starts argv[0] (a path) in its own process group with the environment plus
 * env ("K=V" entries, NULL-terminated; "K=" with no value unsets K).  With
 * out_fd, its stdout is a pipe returned there; with err_fd, the same for
 * stderr.  The child is killed (its whole group) by tl_teardown. */
pid_t tl_spawn(char *const argv[], char *const env[], int *out_fd, int *err_fd);
/* In a child before exec: applies env as tl_spawn does ("K=" unsets K, "K=V" sets). */
void tl_apply_env(char *const env[]);
/* Waits up to timeout_ms for pid to exit; returns true with its wait status. */
bool tl_wait_exit(pid_t pid, int timeout_ms, int *status);
/* Forgets pid so tl_teardown does not kill it (after it was reaped). */
void tl_forget(pid_t pid);
/* Polls cond every millisecond until true or timeout_ms passed. */
bool tl_wait_for(bool (*cond)(void *), void *arg, int timeout_ms);
/* Waits up to timeout_ms for an sd_notify datagram on fd that starts with want;
 * every datagram read is appended to log, '|' after each. */
bool tl_notify_wait(int fd, const char *want, char *log, size_t loglen, int timeout_ms);
bool tl_pid_alive(pid_t pid);

/* Line reader over a pipe with deadlines. */
struct tl_lines {
	int fd;
	char buf[65536];
	size_t len;
	bool eof;
	char log[262144]; /* everything read so far, for failure messages */
	size_t loglen;
};
void tl_lines_init(struct tl_lines *r, int fd);
/* Next whole line into line (without the newline); false on timeout or EOF. */
bool tl_next_line(struct tl_lines *r, char *line, size_t len, int timeout_ms);
/* Reads lines until one contains every NULL-terminated needle; true with
 * that line in line (if non-NULL). */
bool tl_expect(struct tl_lines *r, char *line, size_t len, int timeout_ms, ...);

/* Runs argv (as tl_spawn does) to its exit, reading its stdout and stderr
 * into out and err (NUL-terminated, cut at their size) as it goes; returns
 * its wait status.  Fails the test if it has not exited within timeout_ms. */
int tl_run(char *const argv[], char *const env[], char *out, size_t outlen, char *err,
	   size_t errlen, int timeout_ms);
/* The source tree: the nearest directory above RON_BUILD_DIR (build/ or
 * build/san/) that holds common/config.c. */
const char *tl_src_dir(void);

/* Live processes other than this one whose environment holds the entry kv
 * ("K=V"): up to max pids into pids; returns how many there are.  Services
 * run in process groups of their own, out of tl_teardown's reach, but carry
 * their test's variables. */
int tl_procs_with_env(const char *kv, pid_t *pids, int max);
/* SIGKILL to every process of this test's run directories (RON_RUN_DIR below tl_dir()),
 * until a scan finds none; tl_teardown does it after killing the spawned kernels. */
void tl_kill_run_dir_procs(void);

/* Whether a program of that name is on PATH. */
bool tl_have_command(const char *name);

/* --- a test kernel on the three seed services, run by svc-sim --------------------------- */

extern const char *const tl_seed_names[3];     /* svc-index, svc-overlay, svc-storage */
extern const char *const tl_seed_sock_vars[3]; /* RON_INDEX_SOCK ... */
#define TL_STOP_MS 2000			       /* RON_STOP_TIMEOUT_MS of these kernels */

/* The environment of such a kernel: RON_RUN_DIR=tl_dir()/run_dir, the sockets in
 * tl_dir()/sock_dir (sock_dir NULL: in tl_dir() itself), svc-sim for the three
 * programs, short timings (health 300/200 ms, status 500 ms, stop TL_STOP_MS,
 * start 5 s, backoff 50..1000 ms, stable 500 ms), no other RON_* or SIM_* setting
 * of the runner's; extra ("K=V", "K=" unsets) last, so it wins.  Static: valid until
 * the next call. */
char **tl_kernel_env(const char *run_dir, const char *sock_dir, char *const extra[]);

/* A service's row of tl_dir()/run_dir/status.json. */
struct tl_row {
	char state[32];
	pid_t pid, mpid;
};
bool tl_status_row(const char *run_dir, const char *name, struct tl_row *row);
/* For tl_wait_for: all three seed services healthy, with a pid and a monitor, in
 * tl_dir()/run/status.json. */
bool tl_seed_all_healthy(void *arg);

/* Reads the whole file into buf; returns its length or -1. */
ssize_t tl_read_file(const char *path, char *buf, size_t len);

#endif
