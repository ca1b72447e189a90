/* Test helpers for a kernel run on a config file: the file with this test's run
 * directory and short timings, the kernel started on it, its output and status.json. */
#ifndef RON_KCONF_H
#define RON_KCONF_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "testlib.h"

#define KC_WAIT_MS 30000

struct kc {
	pid_t pid;
	struct tl_lines r;
	char conf[600];
};

/* Writes tl_dir()/kernel.conf: a [kernel] section (run_dir tl_dir()/run, short timings),
 * then fmt's text. */
void kc_write(struct kc *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The environment: no RON_* or SIM_* of the runner's, then extra ("K=V", NULL-ended). */
char **kc_env(char *const extra[]);
/* ron-kernel --config tl_dir()/kernel.conf, its stdout read into k->r. */
void kc_start(struct kc *k, char *const extra[]);
/* SIGTERM, and a clean exit 0. */
void kc_stop(struct kc *k);
/* A service's state and pid from status.json; false if it is not there. */
bool kc_row(const char *name, char *state, size_t cap, pid_t *pid);
/* Whether status.json lists services and every one is healthy (for tl_wait_for: it
 * follows the kernel's all_ready line within a loop turn). */
bool kc_all_healthy(void *arg);
/* A service's pid from status.json (which must list it). */
pid_t kc_pid(const char *name);
/* For tl_wait_for: whether status.json shows the service in the state. */
struct kc_want {
	const char *name, *state;
};
bool kc_in_state(void *arg);
/* status.json follows the kernel's lines within a loop turn: wait for it. */
#define KC_WAIT_STATE(n, s)                                                                        \
	cr_assert(tl_wait_for(kc_in_state, &(struct kc_want){n, s}, KC_WAIT_MS), "%s never %s", n, \
		  s)
/* How many services status.json lists, or -1. */
int kc_rows(void);
/* Offset in the output of the first line holding both needles, or -1. */
long kc_pos(struct kc *k, const char *a, const char *b);
/* "[service NAME]" running svc-sim as NAME, then the extra lines. */
void sim_section(char *buf, size_t cap, const char *name, const char *extra);

/* ron-kernel --config CONF ARGS... (a command to the kernel running on it): its
 * exit status and output. */
struct kc_out {
	int status;
	char out[32768], err[4096];
};
void kc_ctl_at(const char *conf, struct kc_out *o, char *const args[]);
#define KC_EXIT_IS(o, code)                                                                        \
	cr_assert(WIFEXITED((o).status) && WEXITSTATUS((o).status) == (code),                      \
		  "exit %d, want %d\nstdout: %s\nstderr: %s",                                      \
		  WIFEXITED((o).status) ? WEXITSTATUS((o).status) : -1, code, (o).out, (o).err)

/* Waits for a line of the kernel holding every needle. */
#define EXPECT(k, line, ...)                                                                       \
	cr_assert(tl_expect(&(k)->r, line, sizeof(line), KC_WAIT_MS, __VA_ARGS__, NULL),           \
		  "no line with " #__VA_ARGS__ " in kernel output:\n%s", (k)->r.log)

#endif
