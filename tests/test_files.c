/* The files the kernel reads where others can reach them: a FIFO at the config
 * file's path must not freeze it.  Every wait has a deadline, so a kernel frozen
 * in open() is a failure, not a stuck suite. */
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "kconf.h"
#include "testlib.h"

/* Shorter than KC_WAIT_MS: a frozen kernel shows within it. */
#define FREEZE_MS 10000

TestSuite(files, .init = tl_setup, .fini = tl_teardown, .timeout = 120);

struct out {
	int status;
	char out[16384], err[4096];
};

/* ron-kernel ARGS... in the environment env; within FREEZE_MS or the test fails. */
static void run_env(struct out *o, char *const args[], char *const env[])
{
	char *argv[16] = {RON_BUILD_DIR "/ron-kernel"};
	int n = 1;
	for (int i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	o->status = tl_run(argv, env, o->out, sizeof(o->out), o->err, sizeof(o->err), FREEZE_MS);
}

/* The same with kc_env(extra): none of the runner's settings. */
static void run(struct out *o, char *const args[], char *const extra[])
{
	run_env(o, args, kc_env(extra));
}

#define EXIT_IS(o, code)                                                                           \
	cr_assert(WIFEXITED((o).status) && WEXITSTATUS((o).status) == (code),                      \
		  "exit %d, want %d\nstdout: %s\nstderr: %s",                                      \
		  WIFEXITED((o).status) ? WEXITSTATUS((o).status) : -1, code, (o).out, (o).err)

static char *run_dir_env(void)
{
	static char buf[700];
	snprintf(buf, sizeof(buf), "RON_RUN_DIR=%s", tl_path("run"));
	return buf;
}

/* Two svc-sim services, a and b (b with its own lines), on this test's kernel. */
static void start(struct kc *k, const char *b_extra, char *const extra[])
{
	char a[512], b[512], line[4096];
	sim_section(a, sizeof(a), "a", NULL);
	sim_section(b, sizeof(b), "b", b_extra);
	kc_write(k, "%s\n%s\n", a, b);
	kc_start(k, extra);
	EXPECT(k, line, "event=all_ready");
}

/* The kernel answers its control socket: `ron-kernel status` with the run directory. */
static void answers(void)
{
	struct out o;
	run(&o, (char *[]){"status", NULL}, (char *[]){run_dir_env(), NULL});
	EXIT_IS(o, 0);
	cr_assert(strstr(o.out, "a "), "%s", o.out);
}

/* Before: the config file was opened blocking, and a FIFO there never answered. */
Test(files, fifo_as_config_file_is_refused_by_check_config)
{
	const char *conf = tl_path("kernel.conf");
	cr_assert_eq(mkfifo(conf, 0644), 0);
	struct out o;
	run(&o, (char *[]){"--config", (char *)conf, "--check-config", NULL}, NULL);
	EXIT_IS(o, 78);
	cr_assert(strstr(o.err, conf) && strstr(o.err, "not a regular file: a FIFO"), "%s", o.err);
}

Test(files, fifo_as_config_file_on_reload_is_refused_and_the_kernel_runs_on)
{
	struct kc k;
	struct out o;
	char line[4096];
	start(&k, NULL, NULL);
	cr_assert_eq(unlink(k.conf), 0);
	cr_assert_eq(mkfifo(k.conf, 0644), 0);
	/* Through the control socket: the kernel reads the file and refuses it. */
	run(&o, (char *[]){"reload", NULL}, (char *[]){run_dir_env(), NULL});
	EXIT_IS(o, 1);
	cr_assert(strstr(o.out, k.conf) && strstr(o.out, "not a regular file: a FIFO"), "%s",
		  o.out);
	EXPECT(&k, line, "event=reload_failed", "not a regular file: a FIFO");
	answers();
	/* The client itself reads the file for the run directory: it must not hang either,
	 * nor ask the kernel of the default run directory instead. */
	run(&o, (char *[]){"--config", k.conf, "status", NULL}, NULL);
	EXIT_IS(o, 78);
	cr_assert(strstr(o.err, k.conf) && strstr(o.err, "not a regular file: a FIFO"), "%s",
		  o.err);
	kc_stop(&k);
}
