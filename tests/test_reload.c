/* Integration tests of reload as start-up again for the difference: an added or
 * changed service passes the checks start-up makes (socket locks, directories, user
 * socket directories) or the reload changes nothing; a service on a removed one's
 * socket starts once that one is gone; removal leaves nothing; settings apply or are
 * said to be kept; the client waits for the new process; SIGHUP reloads. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "clock.h"
#include "kconf.h"
#include "testlib.h"

TestSuite(reload, .init = tl_setup, .fini = tl_teardown, .timeout = 180);

static void ctl(const char *conf, struct kc_out *o, char *const args[])
{
	kc_ctl_at(conf, o, args);
}

static int exit_of(const struct kc_out *o)
{
	return WIFEXITED(o->status) ? WEXITSTATUS(o->status) : -1;
}

#define EXIT_IS(o, code)                                                                           \
	cr_assert(exit_of(&(o)) == (code), "exit %d, want %d\nstdout: %s\nstderr: %s",             \
		  exit_of(&(o)), code, (o).out, (o).err)

static bool rows_are(void *arg)
{
	return kc_rows() == *(int *)arg;
}

/* The config file: the [kernel] section of kc_write, then services a and b, then more. */
static void write_ab(struct kc *k, const char *kernel_keys, const char *more)
{
	char a[512], b[512];
	sim_section(a, sizeof(a), "a", NULL);
	sim_section(b, sizeof(b), "b", NULL);
	kc_write(k, "%s\n%s\n%s\n%s", kernel_keys ? kernel_keys : "", a, b, more ? more : "");
}

static void start_ab(struct kc *k, const char *kernel_keys, const char *more)
{
	char line[4096];
	write_ab(k, kernel_keys, more);
	kc_start(k, NULL);
	EXPECT(k, line, "event=all_ready");
	cr_assert(tl_wait_for(kc_all_healthy, NULL, KC_WAIT_MS), "status.json not all healthy");
}

/* An executable shell script at path (printf-style text). */
static void write_script(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void write_script(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "w");
	cr_assert(f, "%s: %s", path, strerror(errno));
	va_list ap;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, 0755), 0);
}

/* The line of the config file that holds needle. */
static int line_of(const struct kc *k, const char *needle)
{
	char text[16384];
	ssize_t n = tl_read_file(k->conf, text, sizeof(text) - 1);
	cr_assert_gt(n, 0);
	text[n] = '\0';
	char *p = strstr(text, needle);
	cr_assert(p, "%s not in %s", needle, k->conf);
	int line = 1;
	for (char *q = text; q < p; q++)
		line += *q == '\n';
	return line;
}

/* A reload that is refused: exit 1, the reason names file:line, nothing changed. */
static void expect_refused(struct kc *k, const char *key_line, const char *reason)
{
	struct kc_out o;
	pid_t a0 = kc_pid("a"), b0 = kc_pid("b");
	ctl(k->conf, &o, (char *[]){"reload", NULL});
	EXIT_IS(o, 1);
	char where[700];
	snprintf(where, sizeof(where), "%s:%d: [service c]", k->conf, line_of(k, key_line));
	cr_assert(strstr(o.out, where), "want %s in: %s", where, o.out);
	cr_assert(strstr(o.out, reason), "want %s in: %s", reason, o.out);
	cr_assert_eq(kc_rows(), 2, "a refused reload changed the table");
	cr_assert_eq(kc_pid("a"), a0);
	cr_assert_eq(kc_pid("b"), b0);
}

Test(reload, added_service_on_another_kernels_socket_is_refused)
{
	struct kc k, k2;
	char line[4096], conf2[700], sock[600], extra[1400];
	snprintf(sock, sizeof(sock), "%s/shared.sock", tl_dir());
	/* The other kernel: its own run directory, service x on the shared socket. */
	snprintf(k2.conf, sizeof(k2.conf), "%s/other.conf", tl_dir());
	snprintf(conf2, sizeof(conf2), "%s", k2.conf);
	FILE *f = fopen(conf2, "w");
	cr_assert(f);
	fprintf(f,
		"[kernel]\nrun_dir = %s/run2\n\n"
		"[service x]\nbin = %s/sim/svc-sim\nargs = --name x\nsocket = %s\n",
		tl_dir(), RON_BUILD_DIR, sock);
	cr_assert_eq(fclose(f), 0);
	kc_start(&k2, NULL);
	EXPECT(&k2, line, "event=all_ready");
	start_ab(&k, NULL, NULL);
	snprintf(extra, sizeof(extra),
		 "[service c]\nbin = %s/sim/svc-sim\nargs = --name c\n"
		 "socket = %s\n",
		 RON_BUILD_DIR, sock);
	write_ab(&k, NULL, extra);
	expect_refused(&k, "socket = ", "in use by another ron-kernel");
	cr_assert_eq(kill(k2.pid, 0), 0, "the other kernel is gone");
	kc_stop(&k);
	int st;
	cr_assert_eq(kill(k2.pid, SIGTERM), 0);
	cr_assert(tl_wait_exit(k2.pid, KC_WAIT_MS, &st));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the other kernel: %#x", st);
}

/* sub/../a.sock is a's socket under another spelling: refused before its lock is
 * even tried, as at start-up. */
Test(reload, another_spelling_of_a_running_services_socket_is_refused)
{
	struct kc k;
	char extra[900];
	start_ab(&k, NULL, NULL);
	snprintf(extra, sizeof(extra),
		 "[service c]\nbin = %s/sim/svc-sim\nargs = --name c\n"
		 "socket = %s/run/sub/../a.sock\n",
		 RON_BUILD_DIR, tl_dir());
	write_ab(&k, NULL, extra);
	cr_assert_eq(mkdir(tl_path("run/sub"), 0700), 0);
	expect_refused(&k, "socket = ", "\"..\" in the path");
	kc_stop(&k);
}

Test(reload, socket_in_a_world_writable_directory_is_refused)
{
	struct kc k;
	char extra[900];
	start_ab(&k, NULL, NULL);
	cr_assert_eq(mkdir(tl_path("open"), 0777), 0);
	cr_assert_eq(chmod(tl_path("open"), 0777), 0);
	snprintf(extra, sizeof(extra),
		 "[service c]\nbin = %s/sim/svc-sim\nargs = --name c\n"
		 "socket = %s/open/c.sock\n",
		 RON_BUILD_DIR, tl_dir());
	write_ab(&k, NULL, extra);
	expect_refused(&k, "socket = ", "writable by others");
	kc_stop(&k);
}

/* A user = service added by reload gets the socket directory start-up would give it. */
Test(reload, added_service_of_another_user_gets_its_socket_directory)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to run a service as nobody");
	struct passwd *pw = getpwnam("nobody");
	cr_assert(pw, "no user nobody");
	struct kc k;
	char extra[900];
	/* nobody must pass through the test's directory to reach its socket. */
	cr_assert_eq(chmod(tl_dir(), 0711), 0);
	start_ab(&k, NULL, NULL);
	snprintf(extra, sizeof(extra),
		 "[service u]\nbin = %s/sim/svc-sim\nargs = --name u\n"
		 "user = nobody\nsocket = %s/run/u/u.sock\n",
		 RON_BUILD_DIR, tl_dir());
	write_ab(&k, NULL, extra);
	struct kc_out o;
	ctl(k.conf, &o, (char *[]){"reload", NULL});
	EXIT_IS(o, 0);
	cr_assert(strstr(o.out, "u: reloaded, pid "), "%s", o.out);
	KC_WAIT_STATE("u", "healthy");
	struct stat st;
	cr_assert_eq(stat(tl_path("run/u"), &st), 0);
	cr_assert_eq(st.st_uid, pw->pw_uid, "the socket directory is not nobody's");
	kc_stop(&k);
}

/* A rename is a removal and an addition on one socket: the old service here removes
 * its socket path on the way out, slowly, as some services do; the new one must not
 * start before the old one is gone, or it loses its socket. */
Test(reload, renamed_service_starts_after_the_old_one_is_gone)
{
	struct kc k;
	char line[4096], script[700], old[1400], neu[900];
	snprintf(script, sizeof(script), "%s/slow-cleanup.sh", tl_dir());
	write_script(script, "#!/bin/sh\n"
			     "trap 'sleep 0.5; rm -f \"$RON_OLD_SOCK\"; exit 0' TERM\n"
			     "while :; do sleep 0.05; done\n");
	snprintf(old, sizeof(old),
		 "[service old]\nbin = %s\nhealth = none\nsocket = %s/run/s.sock\n", script,
		 tl_dir());
	start_ab(&k, NULL, old);
	snprintf(neu, sizeof(neu),
		 "[service new]\nbin = %s/sim/svc-sim\nargs = --name new\n"
		 "socket = %s/run/s.sock\n",
		 RON_BUILD_DIR, tl_dir());
	write_ab(&k, NULL, neu);
	struct kc_out o;
	ctl(k.conf, &o, (char *[]){"reload", NULL});
	EXIT_IS(o, 0);
	cr_assert(strstr(o.out, "added: new\n") && strstr(o.out, "removed: old\n"), "%s", o.out);
	EXPECT(&k, line, "event=removed", "service=old");
	EXPECT(&k, line, "event=monitor_started", "service=new");
	long gone = kc_pos(&k, "event=removed", "service=old");
	long started = kc_pos(&k, "event=monitor_started", "service=new");
	cr_assert(gone >= 0 && started > gone, "new started before old was gone:\n%s", k.r.log);
	KC_WAIT_STATE("new", "healthy");
	kc_stop(&k);
}

/* The monitor of b is frozen, so the kernel's table still shows b's old process as
 * healthy; b's new record never gets healthy: the client must wait for the new
 * process, not take the old one for it. */
Test(reload, client_waits_for_the_new_process_of_a_changed_service)
{
	struct kc k;
	char b2[700];
	start_ab(&k, NULL, NULL);
	pid_t b0 = kc_pid("b");
	char path[700], text[16384];
	snprintf(path, sizeof(path), "%s/run/status.json", tl_dir());
	ssize_t n = tl_read_file(path, text, sizeof(text) - 1);
	cr_assert_gt(n, 0);
	text[n] = '\0';
	const char *row = strstr(text, "\"service\":\"b\"");
	cr_assert(row, "%s", text);
	const char *mp = strstr(row, "\"mpid\":");
	cr_assert(mp, "%s", text);
	pid_t mpid = (pid_t)atoi(mp + 7);
	cr_assert_gt(mpid, 0);
	cr_assert_eq(kill(mpid, SIGSTOP), 0);
	char a[512];
	sim_section(a, sizeof(a), "a", NULL);
	sim_section(b2, sizeof(b2), "b", "env = SIM_EXIT_ON_START=1");
	kc_write(&k, "%s\n%s\n", a, b2);
	struct kc_out o;
	ctl(k.conf, &o, (char *[]){"reload", "--timeout=3", NULL});
	char old[64];
	snprintf(old, sizeof(old), "pid %d, healthy", (int)b0);
	cr_assert_not(strstr(o.out, old), "the old process was taken for the new: %s", o.out);
	EXIT_IS(o, 1);
	char still[64];
	snprintf(still, sizeof(still), "b: no new process after 3.0 s: healthy, pid %d", (int)b0);
	cr_assert(strstr(o.out, still), "%s", o.out);
	kill(mpid, SIGCONT);
	kc_stop(&k);
}

static int count_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	cr_assert(d);
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static bool env_written(void *arg)
{
	char buf[64];
	return tl_read_file((const char *)arg, buf, sizeof(buf)) > 0;
}

/* 20 times: add a service (of its own user when we are root), let it get healthy,
 * remove it.  Afterwards nothing of it is left: socket, lock, socket directory,
 * cgroup, its variable in what new services get, descriptors in the kernel. */
Test(reload, twenty_add_remove_cycles_leave_nothing_behind)
{
	struct kc k;
	char line[4096], t[900], probe[1400], script[700], envfile[700];
	start_ab(&k, NULL, NULL);
	bool root = geteuid() == 0;
	if (root)
		cr_assert_eq(chmod(tl_dir(), 0711), 0);
	snprintf(t, sizeof(t),
		 "[service t]\nbin = %s/sim/svc-sim\nargs = --name t\n%s"
		 "socket = %s/run/t/t.sock\n",
		 RON_BUILD_DIR, root ? "user = nobody\n" : "", tl_dir());
	int fds0 = -1, two = 2, three = 3;
	for (int i = 0; i < 20; i++) {
		struct kc_out o;
		write_ab(&k, NULL, t);
		ctl(k.conf, &o, (char *[]){"reload", NULL});
		EXIT_IS(o, 0);
		KC_WAIT_STATE("t", "healthy");
		if (i == 0)
			fds0 = count_fds(k.pid);
		write_ab(&k, NULL, NULL);
		ctl(k.conf, &o, (char *[]){"reload", NULL});
		EXIT_IS(o, 0);
		cr_assert(strstr(o.out, "t: removed"), "%s", o.out);
		cr_assert(tl_wait_for(rows_are, &two, KC_WAIT_MS));
	}
	struct stat st;
	cr_assert_neq(lstat(tl_path("run/t/t.sock"), &st), 0, "the socket is left");
	cr_assert_neq(lstat(tl_path("run/t/t.sock.lock"), &st), 0, "the lock file is left");
	cr_assert_neq(lstat(tl_path("run/t"), &st), 0, "the socket directory is left");
	/* One service fewer than in the first cycle: its status and command pipes, pidfds,
	 * output pipes and lock are gone, and nothing else came with 20 cycles. */
	cr_assert_lt(count_fds(k.pid), fds0, "descriptors before %d, after %d", fds0,
		     count_fds(k.pid));
	char *cg = strstr(k.r.log, "containment=cgroup path=");
	if (cg) {
		char dir[600];
		cr_assert_eq(sscanf(cg, "containment=cgroup path=%599s", dir), 1);
		strcat(dir, "/t");
		cr_assert_neq(lstat(dir, &st), 0, "the cgroup %s is left", dir);
	}
	/* What a service started now sees: a's and b's variables, not t's. */
	snprintf(envfile, sizeof(envfile), "%s/env.txt", tl_dir());
	snprintf(script, sizeof(script), "%s/env.sh", tl_dir());
	write_script(script, "#!/bin/sh\nenv > %s.tmp && mv %s.tmp %s\nexec sleep 600\n", envfile,
		     envfile, envfile);
	snprintf(probe, sizeof(probe), "[service probe]\nbin = %s\nhealth = none\n", script);
	write_ab(&k, NULL, probe);
	struct kc_out o;
	ctl(k.conf, &o, (char *[]){"reload", NULL});
	EXIT_IS(o, 0);
	cr_assert(tl_wait_for(rows_are, &three, KC_WAIT_MS));
	cr_assert(tl_wait_for(env_written, envfile, KC_WAIT_MS), "the probe never ran");
	char env[65536];
	ssize_t n = tl_read_file(envfile, env, sizeof(env) - 1);
	cr_assert_gt(n, 0);
	env[n] = '\0';
	cr_assert(strstr(env, "RON_A_SOCK="), "%s", env);
	cr_assert_not(strstr(env, "RON_T_SOCK="), "the removed service's variable is left");
	EXPECT(&k, line, "event=reload", "added=1");
	kc_stop(&k);
}

Test(reload, a_setting_that_needs_a_restart_is_said_to_be_kept)
{
	struct kc k;
	char line[4096];
	start_ab(&k, NULL, NULL);
	pid_t a0 = kc_pid("a");
	write_ab(&k, "output_queue_bytes = 65536", NULL);
	struct kc_out o;
	ctl(k.conf, &o, (char *[]){"reload", NULL});
	EXIT_IS(o, 0);
	cr_assert(strstr(o.out, "output_queue_bytes: 1048576 kept (65536 needs a restart)"), "%s",
		  o.out);
	EXPECT(&k, line, "event=reload_kept", "key=output_queue_bytes",
	       "reason=\"needs a restart\"");
	cr_assert_eq(kc_pid("a"), a0);
	kc_stop(&k);
}

static bool file_has(void *arg)
{
	const char *const *w = arg;
	char buf[65536];
	ssize_t n = tl_read_file(w[0], buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, w[1]) != NULL;
}

/* An unchanged service's log follows a new log_dir at once, without a restart. */
Test(reload, log_files_move_to_a_new_log_dir)
{
	struct kc k;
	char line[4096], script[700], ticker[1400], keys[700], log1[700], log2[700];
	snprintf(script, sizeof(script), "%s/ticker.sh", tl_dir());
	write_script(script, "#!/bin/sh\nwhile :; do echo tick-$$; sleep 0.05; done\n");
	snprintf(ticker, sizeof(ticker), "[service ticker]\nbin = %s\nhealth = none\n", script);
	snprintf(keys, sizeof(keys), "log_dir = %s/logs1", tl_dir());
	write_ab(&k, keys, ticker);
	kc_start(&k, NULL);
	EXPECT(&k, line, "event=all_ready");
	cr_assert(tl_wait_for(kc_all_healthy, NULL, KC_WAIT_MS), "status.json not all healthy");
	pid_t t0 = kc_pid("ticker");
	char tick[32];
	snprintf(tick, sizeof(tick), "tick-%d", (int)t0);
	snprintf(log1, sizeof(log1), "%s/logs1/ticker/current", tl_dir());
	snprintf(log2, sizeof(log2), "%s/logs2/ticker/current", tl_dir());
	cr_assert(tl_wait_for(file_has, (const char *[]){log1, tick}, KC_WAIT_MS));
	snprintf(keys, sizeof(keys), "log_dir = %s/logs2", tl_dir());
	write_ab(&k, keys, ticker);
	struct kc_out o;
	ctl(k.conf, &o, (char *[]){"reload", NULL});
	EXIT_IS(o, 0);
	cr_assert(strstr(o.out, "unchanged: a b ticker\n"), "%s", o.out);
	cr_assert(tl_wait_for(file_has, (const char *[]){log2, tick}, KC_WAIT_MS),
		  "no line of ticker in %s", log2);
	cr_assert_eq(kc_pid("ticker"), t0);
	kc_stop(&k);
}

/* With a config file SIGHUP is a reload, wrapped in systemd's notify-reload sequence. */
Test(reload, sighup_reloads_the_config_file)
{
	struct kc k;
	char line[4096], env[700], log[8192] = "", c[512];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", tl_path("notify.sock"));
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind: %s", strerror(errno));
	snprintf(env, sizeof(env), "NOTIFY_SOCKET=%s", sa.sun_path);
	write_ab(&k, NULL, NULL);
	kc_start(&k, (char *[]){env, NULL});
	cr_assert(tl_notify_wait(fd, "READY=1", log, sizeof(log), KC_WAIT_MS), "no READY=1: %s",
		  log);
	sim_section(c, sizeof(c), "c", NULL);
	write_ab(&k, NULL, c);
	cr_assert_eq(kill(k.pid, SIGHUP), 0);
	cr_assert(tl_notify_wait(fd, "RELOADING=1\nMONOTONIC_USEC=", log, sizeof(log), KC_WAIT_MS),
		  "no RELOADING=1: %s", log);
	cr_assert(tl_notify_wait(fd, "READY=1", log, sizeof(log), KC_WAIT_MS),
		  "no READY=1 after: %s", log);
	EXPECT(&k, line, "event=sighup", "reason=reload");
	EXPECT(&k, line, "event=reload", "added=1");
	KC_WAIT_STATE("c", "healthy");
	close(fd);
	kc_stop(&k);
}
