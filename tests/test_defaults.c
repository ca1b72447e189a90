/* Defaults where people look: the run directory is /run/ron for root and
 * $XDG_RUNTIME_DIR/ron (else /tmp/ron-UID) for a user; with no --config and no
 * RON_CONFIG, /etc/ron/kernel.conf is read when it exists, by the kernel and by the
 * commands.  The file is made in a mount namespace of the test's own, so no other
 * test (or the machine) ever sees it. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "config.h"
#include "kconf.h"
#include "testlib.h"

TestSuite(defaults, .init = tl_setup, .fini = tl_teardown, .timeout = 60);

#define NOBODY 65534

/* The default run directory as nobody sees it, with XDG_RUNTIME_DIR set to xdg (NULL:
 * unset), from a child that became nobody. */
static void run_dir_as_nobody(const char *xdg, char *out, size_t cap)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(p[0]);
		if (setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
			_exit(1);
		if (xdg)
			setenv("XDG_RUNTIME_DIR", xdg, 1);
		else
			unsetenv("XDG_RUNTIME_DIR");
		struct config c;
		config_defaults(&c);
		const char *d = config_str(&c, CFG_RUN_DIR);
		_exit(write(p[1], d, strlen(d)) == (ssize_t)strlen(d) ? 0 : 1);
	}
	close(p[1]);
	ssize_t n = read(p[0], out, cap - 1);
	close(p[0]);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0 && n > 0, "child failed: %#x", st);
	out[n] = '\0';
}

Test(defaults, run_dir_of_root_and_of_a_user)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to look as root and as nobody");
	struct config c;
	config_defaults(&c);
	cr_assert_str_eq(config_str(&c, CFG_RUN_DIR), "/run/ron");
	char d[600];
	run_dir_as_nobody("/run/user/65534", d, sizeof(d));
	cr_assert_str_eq(d, "/run/user/65534/ron");
	run_dir_as_nobody(NULL, d, sizeof(d));
	cr_assert_str_eq(d, "/tmp/ron-65534");
	run_dir_as_nobody("relative/dir", d, sizeof(d));
	cr_assert_str_eq(d, "/tmp/ron-65534", "a relative XDG_RUNTIME_DIR is not used");
}

/* Everything fd gives until EOF, cut to cap. */
static void read_all(int fd, char *buf, size_t cap)
{
	size_t off = 0;
	for (ssize_t n; off + 1 < cap && (n = read(fd, buf + off, cap - 1 - off)) != 0;)
		if (n > 0)
			off += (size_t)n;
		else if (errno != EINTR)
			break;
	buf[off] = '\0';
}

/* In a child with a private /etc/ron holding kernel.conf: argv run with no RON_CONFIG.
 * Returns its exit status; its stdout and stderr in out and err. */
static int run_with_etc_conf(const char *conf_text, char *const argv[], char *out, size_t outlen,
			     char *err, size_t errlen)
{
	int po[2], pe[2];
	struct stat sb;
	bool made = stat("/etc/ron", &sb) < 0; /* the mount point, removed again after */
	cr_assert_eq(pipe(po), 0);
	cr_assert_eq(pipe(pe), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			_exit(90);
		mkdir("/etc/ron", 0755);
		if (mount("tmpfs", "/etc/ron", "tmpfs", 0, "mode=0755") < 0)
			_exit(91);
		int fd = open(CFG_DEFAULT_CONFIG, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, conf_text, strlen(conf_text)) != (ssize_t)strlen(conf_text))
			_exit(92);
		close(fd);
		char *env[] = {"PATH=" RON_BUILD_DIR "/sim:/usr/bin:/bin", NULL};
		execve(argv[0], argv, env);
		_exit(93);
	}
	close(po[1]);
	close(pe[1]);
	read_all(po[0], out, outlen);
	read_all(pe[0], err, errlen);
	close(po[0]);
	close(pe[0]);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	if (made)
		rmdir("/etc/ron");
	return st;
}

Test(defaults, etc_ron_kernel_conf_is_read_when_none_is_named)
{
	if (geteuid() != 0)
		cr_skip_test("needs root for a mount namespace of its own");
	struct stat sb;
	if (stat("/etc/ron", &sb) < 0 && errno != ENOENT)
		cr_skip_test("cannot look at /etc/ron");
	char text[1200], out[65536], err[4096];
	snprintf(text, sizeof(text),
		 "[kernel]\nrun_dir = %s/etcrun\n\n[service only]\nbin = /bin/sleep\n"
		 "args = 600\nhealth = none\n",
		 tl_dir());
	char *check[] = {RON_BUILD_DIR "/ron-kernel", "--check-config", NULL};
	int st = run_with_etc_conf(text, check, out, sizeof(out), err, sizeof(err));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit %#x: %s", st, err);
	cr_assert(strstr(out, "; " CFG_DEFAULT_CONFIG ": ok, 1 service\n"), "%s", out);
	cr_assert(strstr(out, "[service only]"), "%s", out);
	/* The commands find the kernel through the same file: its run directory. */
	char *status[] = {RON_BUILD_DIR "/ron-kernel", "status", NULL};
	st = run_with_etc_conf(text, status, out, sizeof(out), err, sizeof(err));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 69, "exit %#x: %s %s", st, out, err);
	char want[700];
	snprintf(want, sizeof(want), "%s/etcrun/status.json", tl_dir());
	cr_assert(strstr(err, want) || strstr(out, want), "not the file's run directory: %s %s",
		  out, err);
}

Test(defaults, an_empty_ron_config_names_no_file)
{
	struct config c;
	config_defaults(&c);
	/* Without the file there is nothing to find; an empty variable is "none" even
	 * where the file exists (the kernel and tests rely on it). */
	if (access(CFG_DEFAULT_CONFIG, F_OK) != 0)
		cr_assert_null(config_default_file());
	else
		cr_assert_str_eq(config_default_file(), CFG_DEFAULT_CONFIG);
	cr_assert_str_eq(config_str(&c, CFG_CONFIG), "");
}
