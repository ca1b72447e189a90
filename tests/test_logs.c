/* Tests of `ron-kernel logs`: the run directory's own logs a kernel keeps without any
 * setting, read back with -n, --since and -f (across a rotation and a restart), and
 * log files written here by hand for the merge by time and the errors. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "clock.h"
#include "kconf.h"
#include "testlib.h"

#define WAIT_MS 30000

TestSuite(logs, .init = tl_setup, .fini = tl_teardown, .timeout = 120);

struct run {
	int status;
	char out[65536], err[4096];
};

/* ron-kernel --config tl_dir()/kernel.conf logs ARGS...; its exit status. */
static int logs_run(struct kc *k, struct run *r, const char *a1, const char *a2, const char *a3)
{
	char *argv[] = {RON_BUILD_DIR "/ron-kernel",
			"--config",
			k->conf,
			"logs",
			(char *)a1,
			(char *)a2,
			(char *)a3,
			NULL};
	r->status =
	    tl_run(argv, kc_env(NULL), r->out, sizeof(r->out), r->err, sizeof(r->err), WAIT_MS);
	cr_assert(WIFEXITED(r->status), "logs did not exit: %#x", r->status);
	return WEXITSTATUS(r->status);
}

struct logged {
	struct kc *k;
	const char *name, *text;
};

/* For tl_wait_for: whether `logs NAME` shows the text. */
static bool has_logged(void *arg)
{
	struct logged *l = arg;
	static struct run r;
	return logs_run(l->k, &r, "-n", "1000", l->name) == 0 && strstr(r.out, l->text);
}

static void sh_section(char *buf, size_t cap, const char *name, const char *script)
{
	snprintf(buf, cap, "[service %s]\nbin = /bin/sh\nargs = -c \"%s\"\nhealth = none\n\n", name,
		 script);
}

Test(logs, the_last_three_of_ten_lines_from_the_run_directory_without_log_dir)
{
	static struct kc k;
	static struct run r;
	char a[1024], want[128], path[700];
	sh_section(a, sizeof(a), "ten",
		   "i=0; while [ $i -lt 10 ]; do echo line$i; i=$((i+1)); done; exec sleep 1000");
	kc_write(&k, "service_output = none\n\n%s", a);
	kc_start(&k, NULL);
	cr_assert(tl_wait_for(has_logged, &(struct logged){&k, "ten", "line9"}, WAIT_MS),
		  "line9 never logged");
	pid_t pid = kc_pid("ten");
	cr_assert_eq(logs_run(&k, &r, "-n", "3", "ten"), 0, "%s", r.err);
	snprintf(want, sizeof(want), "ten[%d]: line7\nten[%d]: line8\nten[%d]: line9\n", (int)pid,
		 (int)pid, (int)pid);
	cr_assert_str_eq(r.out, want);
	/* The default place, the run directory's: the kernel's own, not for others. */
	struct stat st;
	snprintf(path, sizeof(path), "%s/run/log/ten/current", tl_dir());
	cr_assert_eq(stat(path, &st), 0, "no %s", path);
	cr_assert_eq(st.st_mode & 0037, 0, "%s mode %o", path, st.st_mode & 07777);
	snprintf(path, sizeof(path), "%s/run/log/ten", tl_dir());
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0700, "%s mode %o", path, st.st_mode & 07777);
	kc_stop(&k);
}

static int rotated(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] == '@';
	if (d)
		closedir(d);
	return n;
}

/* "NAME[PID]: pid=PID i=N ..." -> pid and N; false for any other line. */
static bool counted(const char *line, int *pid, int *i)
{
	return sscanf(line, "w[%*d]: pid=%d i=%d", pid, i) == 2;
}

Test(logs, follow_sees_new_lines_across_a_rotation_and_a_restart)
{
	static struct kc k;
	static struct tl_lines f;
	char a[1024], line[4096], dir[700];
	/* About 150 bytes a line: a file of 4 KiB rotates every 27 lines. */
	sh_section(a, sizeof(a), "w",
		   "p=0123456789; p=$p$p$p$p$p$p$p$p$p$p; i=0; while :; do echo pid=$$ i=$i $p; "
		   "i=$((i+1)); sleep 0.02; done");
	kc_write(&k, "service_output = none\nlog_max_bytes = 4096\n\n%s", a);
	kc_start(&k, NULL);
	KC_WAIT_STATE("w", "healthy");
	pid_t first = kc_pid("w");
	char *argv[] = {
	    RON_BUILD_DIR "/ron-kernel", "--config", k.conf, "logs", "-f", "-n", "0", "w", NULL};
	int out;
	pid_t lp = tl_spawn(argv, kc_env(NULL), &out, NULL);
	tl_lines_init(&f, out);
	snprintf(dir, sizeof(dir), "%s/run/log/w", tl_dir());
	int pid, i, last = -1;
	/* Every line of the first process, in order, until current was renamed twice
	 * while we followed (one rotated file is kept, so the count is of names seen). */
	for (int seen = 0; seen < 60;) {
		cr_assert(tl_next_line(&f, line, sizeof(line), WAIT_MS), "no line:\n%s", f.log);
		cr_assert(counted(line, &pid, &i), "%s", line);
		cr_assert_eq(pid, (int)first, "%s", line);
		cr_assert(last < 0 || i == last + 1, "after i=%d: %s", last, line);
		last = i;
		seen++;
	}
	cr_assert_geq(rotated(dir), 1, "no rotation in 60 lines of 150 bytes");
	char *rs[] = {RON_BUILD_DIR "/ron-kernel", "--config", k.conf, "restart", "w", NULL};
	static char o[4096], e[4096];
	int st = tl_run(rs, kc_env(NULL), o, sizeof(o), e, sizeof(e), WAIT_MS);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "restart: %s%s", o, e);
	bool second = false;
	while (!second) {
		cr_assert(tl_next_line(&f, line, sizeof(line), WAIT_MS), "no line:\n%s", f.log);
		cr_assert(counted(line, &pid, &i), "%s", line);
		second = pid != (int)first;
	}
	cr_assert_eq(i, 0, "the new process's first line: %s", line);
	kill(lp, SIGTERM);
	cr_assert(tl_wait_exit(lp, WAIT_MS, &st));
	kc_stop(&k);
}

/* A log file made by hand, as the kernel writes it. */
static void put(const char *name, const char *file, const char *text)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/run", tl_dir());
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/run/log", tl_dir());
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/run/log/%s", tl_dir(), name);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/run/log/%s/%s", tl_dir(), name, file);
	FILE *fp = fopen(path, "w");
	cr_assert(fp, "%s", path);
	fputs(text, fp);
	fclose(fp);
}

Test(logs, two_services_interleave_by_the_time_of_each_line)
{
	static struct kc k;
	static struct run r;
	kc_write(&k, "\n");
	put("a", "@20260101T000000.000000Z.s",
	    "2026-01-01T00:00:01.000Z 10 stdout: a1\n2026-01-01T00:00:03.000Z 10 stderr: a2\n");
	put("a", "current", "2026-01-01T00:00:05.000Z 11 stdout: a3\n");
	put("b", "current",
	    "2026-01-01T00:00:02.000Z 20 stdout: b1\n2026-01-01T00:00:04.000Z 20 stdout: b2\n"
	    "2026-01-01T00:00:06.000Z 20 stdout+ b2 continued\n");
	cr_assert_eq(logs_run(&k, &r, "a", "b", NULL), 0, "%s", r.err);
	cr_assert_str_eq(r.out, "a[10]: a1\nb[20]: b1\na[10]: a2\nb[20]: b2\na[11]: a3\n"
				"b[20]+ b2 continued\n");
	cr_assert_eq(logs_run(&k, &r, "-n", "2", NULL), 0, "%s", r.err);
	cr_assert_str_eq(r.out, "a[11]: a3\nb[20]+ b2 continued\n");
}

Test(logs, since_keeps_only_the_later_lines)
{
	static struct kc k;
	static struct run r;
	char now[64], text[256];
	kc_write(&k, "\n");
	clock_iso8601(clock_wall_ms(), now, sizeof(now));
	snprintf(text, sizeof(text), "2020-01-01T00:00:00.000Z 7 stdout: old\n%s 7 stdout: new\n",
		 now);
	put("s", "current", text);
	cr_assert_eq(logs_run(&k, &r, "--since", "1h", "s"), 0, "%s", r.err);
	cr_assert_str_eq(r.out, "s[7]: new\n");
	cr_assert_eq(logs_run(&k, &r, "--since", "2019-12-31T23:00Z", "s"), 0, "%s", r.err);
	cr_assert_str_eq(r.out, "s[7]: old\ns[7]: new\n");
	cr_assert_eq(logs_run(&k, &r, "--since", "yesterday", "s"), 64);
}

Test(logs, an_unknown_name_exits_4_with_the_known_ones)
{
	static struct kc k;
	static struct run r;
	kc_write(&k, "\n");
	put("svc-index", "current", "2026-01-01T00:00:01.000Z 10 stdout: hi\n");
	put("svc-overlay", "current", "2026-01-01T00:00:01.000Z 11 stdout: hi\n");
	cr_assert_eq(logs_run(&k, &r, "svc-indx", NULL, NULL), 4);
	cr_assert(strstr(r.err, "did you mean svc-index?"), "%s", r.err);
	cr_assert(strstr(r.err, "svc-index svc-overlay"), "%s", r.err);
	cr_assert_eq(logs_run(&k, &r, "-n", "many", NULL), 64);
}

Test(logs, no_logs_yet_is_said)
{
	static struct kc k;
	static struct run r;
	kc_write(&k, "\n");
	cr_assert_eq(logs_run(&k, &r, NULL, NULL, NULL), 0, "%s", r.err);
	cr_assert(strstr(r.out, "no logs yet"), "%s", r.out);
}

/* A log_dir in the config file alone (a service's own here): the client, which reads
 * no [service] section, learns it from status.json and reads the logs there. */
Test(logs, a_services_own_log_dir_from_the_config_file_is_found)
{
	static struct kc k;
	static struct run r;
	char a[1024], b[1024], dir[700], want[800];
	snprintf(dir, sizeof(dir), "%s/own", tl_dir());
	cr_assert_eq(mkdir(dir, 0700), 0);
	sh_section(a, sizeof(a), "apart", "echo from-apart; exec sleep 1000");
	sh_section(b, sizeof(b), "usual", "echo from-usual; exec sleep 1000");
	kc_write(&k, "service_output = none\n\n%slog_dir = %s\n\n%s", a, dir, b);
	kc_start(&k, NULL);
	cr_assert(tl_wait_for(has_logged, &(struct logged){&k, "apart", "from-apart"}, WAIT_MS),
		  "the service's own log_dir was not read");
	snprintf(want, sizeof(want), "%s/apart/current", dir);
	struct stat st;
	cr_assert_eq(stat(want, &st), 0, "the kernel did not log to %s", want);
	cr_assert(tl_wait_for(has_logged, &(struct logged){&k, NULL, "from-usual"}, WAIT_MS));
	cr_assert_eq(logs_run(&k, &r, "-n", "100", NULL), 0, "%s", r.err);
	snprintf(want, sizeof(want), "apart[%d]: from-apart\n", (int)kc_pid("apart"));
	cr_assert(strstr(r.out, want), "logs of all lacks %s:\n%s", want, r.out);
	kc_stop(&k);
}
