/* --check-config runs every check start-up runs that needs nothing started: a file
 * it passes, start-up does not refuse.  Each case here is one that --check-config
 * used to pass and start-up (or the first spawn) then refused; each error says what
 * to change.  Nothing is made, given or locked by a check. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "kconf.h"
#include "testlib.h"

TestSuite(check_config, .init = tl_setup, .fini = tl_teardown, .timeout = 120);

struct out {
	int status;
	char out[65536], err[8192];
};

static int exit_of(const struct out *o)
{
	return WIFEXITED(o->status) ? WEXITSTATUS(o->status) : -1;
}

/* ron-kernel --config CONF [--check-config]: the check, or start-up itself (which is
 * stopped at once if it got as far as running). */
static void run(const char *conf, bool check, struct out *o)
{
	char *argv[] = {TL_BIN("ron-kernel"), "--config", (char *)conf,
			check ? "--check-config" : NULL, NULL};
	o->status =
	    tl_run(argv, kc_env(NULL), o->out, sizeof(o->out), o->err, sizeof(o->err), KC_WAIT_MS);
}

/* The check refuses the file with 78 and every needle on stderr. */
#define REFUSED(conf, ...)                                                                         \
	do {                                                                                       \
		struct out o_;                                                                     \
		run(conf, true, &o_);                                                              \
		cr_assert_eq(exit_of(&o_), 78, "exit %d\nstderr: %s", exit_of(&o_), o_.err);       \
		const char *want_[] = {__VA_ARGS__, NULL};                                         \
		for (int i_ = 0; want_[i_]; i_++)                                                  \
			cr_assert(strstr(o_.err, want_[i_]), "want %s in: %s", want_[i_], o_.err); \
	} while (0)

static void write_script(const char *path, mode_t mode)
{
	FILE *f = fopen(path, "w");
	cr_assert(f, "%s: %s", path, strerror(errno));
	fprintf(f, "#!/bin/sh\nexec sleep 600\n");
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, mode), 0);
}

/* Start-up refuses a user's socket in the run directory beside the kernel's own
 * services; the check refuses it too, and says where the socket should go. */
Test(check_config, a_user_service_beside_the_kernels_sockets_is_refused_with_the_fix)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to run a service as nobody");
	struct kc k;
	char db[512], api[512];
	sim_section(db, sizeof(db), "db", NULL);
	sim_section(api, sizeof(api), "api", "user = nobody");
	kc_write(&k, "%s\n%s", db, api);
	char fix[700];
	snprintf(fix, sizeof(fix),
		 "give api a socket under a directory of its own, e.g. socket = "
		 "%s/run/api/api.sock",
		 tl_dir());
	REFUSED(k.conf, "also holds the socket of db, which runs as another user", fix);
	struct out o;
	run(k.conf, false, &o);
	cr_assert_eq(exit_of(&o), 78, "start-up: exit %d: %s", exit_of(&o), o.err);
	cr_assert(strstr(o.err, fix), "start-up says otherwise: %s", o.err);
}

Test(check_config, a_missing_program_is_refused)
{
	struct kc k;
	kc_write(&k, "[service worker]\nbin = /nonexistent/prog\nhealth = none\n");
	char at[700];
	snprintf(at, sizeof(at),
		 "%s:12: [service worker]: bin=/nonexistent/prog: No such file or directory",
		 k.conf);
	REFUSED(k.conf, at, "install it, or give the right path");
}

Test(check_config, a_program_not_on_path_is_refused)
{
	struct kc k;
	kc_write(&k, "[service worker]\nbin = no-such-prog-here\nhealth = none\n"
		     "env = PATH=/usr/bin:/bin\n");
	REFUSED(k.conf, "[service worker]: bin=no-such-prog-here: not found on PATH=/usr/bin:/bin",
		"give the full path");
}

Test(check_config, a_program_its_user_may_not_run_is_refused)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to run a service as nobody");
	struct kc k;
	cr_assert_eq(chmod(tl_dir(), 0711), 0);
	write_script(tl_path("mine.sh"), 0700);
	kc_write(&k, "[service worker]\nbin = %s\nhealth = none\nuser = nobody\n",
		 tl_path("mine.sh"));
	REFUSED(k.conf, "not executable by nobody (mode 0700");
}

Test(check_config, a_missing_working_dir_is_refused)
{
	struct kc k;
	kc_write(&k,
		 "[service worker]\nbin = /bin/sleep\nargs = 600\nhealth = none\n"
		 "working_dir = %s/nowhere\n",
		 tl_dir());
	REFUSED(k.conf, "[service worker]: working_dir=", "nowhere: No such file or directory",
		"create it, or remove the key");
}

Test(check_config, a_socket_in_a_world_writable_directory_is_refused)
{
	struct kc k;
	char w[512], extra[700];
	cr_assert_eq(mkdir(tl_path("open"), 0777), 0);
	cr_assert_eq(chmod(tl_path("open"), 0777), 0);
	snprintf(extra, sizeof(extra), "socket = %s/open/w.sock", tl_dir());
	sim_section(w, sizeof(w), "w", extra);
	kc_write(&k, "%s", w);
	REFUSED(k.conf, "[service w]: socket=", "writable by others");
}

/* Another kernel's socket is refused; the running kernel of the file itself is not
 * another: checking a file before reloading it must pass. */
Test(check_config, a_socket_another_kernel_holds_is_refused_but_not_our_own)
{
	struct kc k;
	char line[4096], sock[600], w[512], extra[700];
	snprintf(sock, sizeof(sock), "%s/shared.sock", tl_dir());
	snprintf(extra, sizeof(extra), "socket = %s", sock);
	sim_section(w, sizeof(w), "w", extra);
	kc_write(&k, "%s", w);
	kc_start(&k, NULL);
	EXPECT(&k, line, "event=all_ready");
	struct out o;
	run(k.conf, true, &o);
	cr_assert_eq(exit_of(&o), 0, "the running kernel's own file: exit %d: %s", exit_of(&o),
		     o.err);
	/* The same services under another run directory. */
	char other[700], text[8192];
	ssize_t n = tl_read_file(k.conf, text, sizeof(text) - 1);
	cr_assert_gt(n, 0);
	text[n] = '\0';
	snprintf(other, sizeof(other), "%s/other.conf", tl_dir());
	FILE *f = fopen(other, "w");
	cr_assert(f);
	char *rd = strstr(text, "run_dir = ");
	cr_assert(rd);
	fprintf(f, "%.*srun_dir = %s/run2\n%s", (int)(rd - text), text, tl_dir(),
		strchr(rd, '\n') + 1);
	cr_assert_eq(fclose(f), 0);
	REFUSED(other, "[service w]: socket=", "in use by another ron-kernel");
	kc_stop(&k);
}

/* A check makes nothing: no run directory, no socket directory, no lock file. */
Test(check_config, a_check_makes_nothing)
{
	struct kc k;
	char w[512], extra[700];
	snprintf(extra, sizeof(extra), "socket = %s/socks/w.sock", tl_dir());
	sim_section(w, sizeof(w), "w", extra);
	kc_write(&k, "%s", w);
	struct out o;
	run(k.conf, true, &o);
	cr_assert_eq(exit_of(&o), 0, "exit %d: %s", exit_of(&o), o.err);
	struct stat st;
	cr_assert_neq(stat(tl_path("run"), &st), 0, "the check made the run directory");
	cr_assert_neq(stat(tl_path("socks"), &st), 0, "the check made the socket directory");
}
