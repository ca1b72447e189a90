/* Integration tests of ron-kernel: the real kernel and monitor binaries against
 * svc-sim, each test in its own run directory, waiting on lines and conditions. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sys/syscall.h>

#include "clock.h"
#include "config.h"
#include "testlib.h"

#define WAIT_MS 30000
#define STOP_MS 2000 /* RON_STOP_TIMEOUT_MS of these tests */

static const char *const names[3] = {"svc-index", "svc-overlay", "svc-storage"};
static const char *const sock_vars[3] = {"RON_INDEX_SOCK", "RON_OVERLAY_SOCK", "RON_STORAGE_SOCK"};

TestSuite(kernel, .init = tl_setup, .fini = tl_teardown, .timeout = 120);

struct kt {
	pid_t pid;
	struct tl_lines r;
};
static struct kt k1, k2;

/* The environment of a test kernel: this test's directory, svc-sim, short timings;
 * extra entries ("K=V", "K=" unsets) come last and win. */
static char **kt_env(char *const extra[])
{
	return tl_kernel_env("run", NULL, extra);
}

static void kt_start_args(struct kt *k, char *const extra[], char *const args[])
{
	char *argv[16] = {RON_BUILD_DIR "/ron-kernel"};
	int n = 1;
	for (int i = 0; args && args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	int out;
	k->pid = tl_spawn(argv, kt_env(extra), &out, NULL);
	tl_lines_init(&k->r, out);
}

static void kt_start(struct kt *k, char *const extra[])
{
	kt_start_args(k, extra, NULL);
}

/* Waits for a line holding every needle (NULL-terminated). */
#define EXPECT(k, line, ...)                                                                       \
	cr_assert(tl_expect(&(k)->r, line, sizeof(line), WAIT_MS, __VA_ARGS__, NULL),              \
		  "no line with " #__VA_ARGS__ " in kernel output:\n%s", (k)->r.log)

/* Runs ron-kernel to its exit; returns its wait status with stdout and stderr. */
static int kt_run(char *const extra[], char *const args[], char *out, size_t outlen, char *err,
		  size_t errlen)
{
	char *argv[16] = {RON_BUILD_DIR "/ron-kernel"};
	int n = 1;
	for (int i = 0; args && args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return tl_run(argv, kt_env(extra), out, outlen, err, errlen, WAIT_MS);
}

/* One service's row of status.json. */
static bool kt_row(const char *name, struct tl_row *row)
{
	return tl_status_row("run", name, row);
}

static bool all_healthy(void *arg)
{
	return tl_seed_all_healthy(arg);
}

/* Starts a kernel and waits for all three healthy; rows[] then holds their pids. */
static void kt_start_ready(struct kt *k, char *const extra[], struct tl_row rows[3])
{
	char line[4096];
	kt_start(k, extra);
	EXPECT(k, line, "event=all_ready");
	cr_assert(tl_wait_for(all_healthy, NULL, WAIT_MS), "status.json never showed 3 healthy");
	for (int i = 0; i < 3; i++)
		cr_assert(kt_row(names[i], &rows[i]));
}

static void kt_stop(struct kt *k, int sig)
{
	int st;
	cr_assert_eq(kill(k->pid, sig), 0);
	cr_assert(tl_wait_exit(k->pid, WAIT_MS, &st), "kernel did not exit on %s:\n%s",
		  strsignal(sig), k->r.log);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "kernel exit status %#x", st);
}

struct pids {
	pid_t p[8];
	int n;
};

static bool all_gone(void *arg)
{
	struct pids *ps = arg;
	for (int i = 0; i < ps->n; i++)
		if (tl_pid_alive(ps->p[i]))
			return false;
	return true;
}

/* Live processes named name whose environment holds our socket for it. */
static int count_services(int idx)
{
	char want[700];
	snprintf(want, sizeof(want), "%s=%s/%s.sock", sock_vars[idx], tl_dir(), names[idx]);
	DIR *d = opendir("/proc");
	cr_assert(d);
	int count = 0;
	for (struct dirent *e; (e = readdir(d));) {
		pid_t pid = atoi(e->d_name);
		if (pid <= 0)
			continue;
		char path[64], comm[64];
		static char env[65536];
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		if (tl_read_file(path, comm, sizeof(comm)) <= 0)
			continue;
		comm[strcspn(comm, "\n")] = '\0';
		if (strcmp(comm, names[idx]) != 0 || !tl_pid_alive(pid))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
		ssize_t n = tl_read_file(path, env, sizeof(env));
		for (ssize_t off = 0; off < n; off += (ssize_t)strlen(env + off) + 1)
			if (strcmp(env + off, want) == 0) {
				count++;
				break;
			}
	}
	closedir(d);
	return count;
}

Test(kernel, starts_three_and_prints_status)
{
	struct tl_row rows[3];
	char line[4096];
	kt_start_ready(&k1, NULL, rows);
	EXPECT(&k1, line, "event=status", "svc-index.state=healthy", "svc-overlay.state=healthy",
	       "svc-storage.state=healthy");
	/* A round trip only where a check measured one (a reply collected late has none). */
	cr_assert_null(strstr(line, ".rtt_us=-"), "%s", line);
	cr_assert_null(strstr(line, ".rtt_us=0 "), "%s", line);
	cr_assert(strstr(line, "svc-storage.uptime_ms="), "%s", line);
	cr_assert(strstr(line, "svc-overlay.restarts=0"), "%s", line);
	/* The run directory it created is private. */
	struct stat st;
	cr_assert_eq(stat(tl_path("run"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0700);
	cr_assert_eq(access(tl_path("run/ron-kernel.pid"), F_OK), 0);
	kt_stop(&k1, SIGTERM);
}

Test(kernel, service_killed_is_restarted_others_untouched)
{
	struct tl_row rows[3], now;
	char line[4096], pidstr[32];
	kt_start_ready(&k1, NULL, rows);
	cr_assert_eq(kill(rows[0].pid, SIGKILL), 0);
	snprintf(pidstr, sizeof(pidstr), "pid=%d ", (int)rows[0].pid);
	EXPECT(&k1, line, "event=exited", "service=svc-index", pidstr, "signal=SIGKILL");
	EXPECT(&k1, line, "event=ready", "service=svc-index");
	cr_assert(tl_wait_for(all_healthy, NULL, WAIT_MS));
	cr_assert(kt_row("svc-index", &now));
	cr_assert_neq(now.pid, rows[0].pid);
	cr_assert_eq(now.mpid, rows[0].mpid, "the monitor restarts its service itself");
	for (int i = 1; i < 3; i++) {
		cr_assert(kt_row(names[i], &now));
		cr_assert_eq(now.pid, rows[i].pid, "%s was restarted too", names[i]);
		cr_assert_eq(now.mpid, rows[i].mpid);
	}
	EXPECT(&k1, line, "event=status", "svc-index.restarts=1");
	kt_stop(&k1, SIGTERM);
}

Test(kernel, monitor_killed_service_adopted)
{
	struct tl_row rows[3], now;
	char line[4096], pidstr[32];
	kt_start_ready(&k1, NULL, rows);
	cr_assert_eq(kill(rows[0].mpid, SIGKILL), 0);
	EXPECT(&k1, line, "event=monitor_lost", "service=svc-index", "signal=SIGKILL");
	snprintf(pidstr, sizeof(pidstr), "pid=%d ", (int)rows[0].pid);
	strcat(line, " ");
	cr_assert(strstr(line, pidstr), "the lost monitor's service is named: %s", line);
	EXPECT(&k1, line, "event=adopted", "service=svc-index", pidstr);
	/* Two status lines later the same service has been checked again. */
	EXPECT(&k1, line, "event=status");
	EXPECT(&k1, line, "event=status", "svc-index.state=healthy");
	cr_assert(kt_row("svc-index", &now));
	cr_assert_eq(now.pid, rows[0].pid, "the service was not kept");
	cr_assert_neq(now.mpid, rows[0].mpid);
	cr_assert(now.mpid > 0);
	cr_assert(tl_pid_alive(rows[0].pid));
	cr_assert_eq(count_services(0), 1);
	const char *bad[] = {"event=degraded service=svc-index",
			     "event=unhealthy service=svc-index", "event=exited service=svc-index",
			     "event=spawned service=svc-index state=starting pid"};
	for (int i = 0; i < 3; i++)
		cr_assert_null(strstr(k1.r.log, bad[i]), "%s after monitor loss:\n%s", bad[i],
			       k1.r.log);
	kt_stop(&k1, SIGTERM);
	cr_assert_not(tl_pid_alive(rows[0].pid), "adopted service survived shutdown");
}

Test(kernel, monitor_stopped_is_replaced)
{
	struct tl_row rows[3], now;
	char line[4096], pidstr[32];
	kt_start_ready(&k1, NULL, rows);
	cr_assert_eq(kill(rows[1].mpid, SIGSTOP), 0);
	EXPECT(&k1, line, "event=monitor_frozen", "service=svc-overlay");
	EXPECT(&k1, line, "event=monitor_lost", "service=svc-overlay", "signal=SIGKILL");
	snprintf(pidstr, sizeof(pidstr), "pid=%d ", (int)rows[1].pid);
	EXPECT(&k1, line, "event=adopted", "service=svc-overlay", pidstr);
	cr_assert(tl_wait_for(all_healthy, NULL, WAIT_MS));
	cr_assert(kt_row("svc-overlay", &now));
	cr_assert_eq(now.pid, rows[1].pid);
	cr_assert_neq(now.mpid, rows[1].mpid);
	cr_assert_eq(count_services(1), 1);
	kt_stop(&k1, SIGTERM);
}

/* A number at the top level of status.json, -1 if there is none. */
static long long kt_status_num(const char *key)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/run/status.json", tl_dir());
	json_object *o = json_object_from_file(path), *v;
	long long n = -1;
	if (o && json_object_object_get_ex(o, key, &v))
		n = json_object_get_int64(v);
	json_object_put(o);
	return n;
}

static bool dropped_above(void *arg)
{
	return kt_status_num("output_dropped") > *(long long *)arg;
}

/* Reaped: not even a zombie is left. */
static bool pid_gone(void *arg)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d", *(pid_t *)arg);
	return access(path, F_OK) != 0;
}

struct adoption {
	const char *name;
	pid_t pid, old_mpid;
};

static bool adopted(void *arg)
{
	struct adoption *a = arg;
	struct tl_row now;
	return kt_row(a->name, &now) && now.pid == a->pid && now.mpid > 0 &&
	       now.mpid != a->old_mpid && strcmp(now.state, "healthy") == 0;
}

/* SIGUSR1 waits in pid's signalfd: sent but not yet taken. */
static bool usr1_pending(void *arg)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", *(pid_t *)arg);
	if (tl_read_file(path, buf, sizeof(buf)) <= 0)
		return false;
	const char *p = strstr(buf, "ShdPnd:");
	unsigned long long mask = p ? strtoull(p + 7, NULL, 16) : 0;
	return mask & (1ULL << (SIGUSR1 - 1));
}

static bool usr1_taken(void *arg)
{
	return !usr1_pending(arg);
}

/* SIGUSR1s, each taken before the next is sent (pending ones would merge into one),
 * until the kernel has dropped more than `above` lines of output. */
static long long kt_flood_until_dropped(pid_t kernel, long long above)
{
	for (int i = 0; i < 3000; i++) {
		cr_assert_eq(kill(kernel, SIGUSR1), 0);
		cr_assert(tl_wait_for(usr1_taken, &kernel, WAIT_MS), "SIGUSR1 %d not taken", i);
		if (i >= 299 && tl_wait_for(dropped_above, &above, 100))
			return kt_status_num("output_dropped");
	}
	cr_assert_fail("no output dropped after 3000 SIGUSR1s with stdout unread (%lld, %lld)",
		       above, kt_status_num("output_dropped"));
	return -1;
}

/* Standard output a FIFO whose reader reads nothing (a stalled journald, a
 * Ctrl-S terminal): the kernel's own lines queue up and then are dropped, but
 * supervision goes on, and once the reader reads again one line says how many
 * were lost. */
Test(kernel, stdout_fifo_nobody_reads)
{
	static struct tl_lines r;
	char line[4096], fifo[600];
	struct tl_row rows[3];
	struct pids ps = {.n = 0};
	snprintf(fifo, sizeof(fifo), "%s/out.fifo", tl_dir());
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	/* Read and write: a reader exists, so the kernel's open does not wait. */
	int rd = open(fifo, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	cr_assert_geq(rd, 0);
	cr_assert_gt(fcntl(rd, F_SETPIPE_SZ, 4096), 0, "F_SETPIPE_SZ: %s", strerror(errno));
	char *extra[] = {"RON_OUTPUT_QUEUE_BYTES=16384", "RON_STATUS_INTERVAL_MS=3600000", NULL};
	char *argv[] = {"/bin/sh", "-c", "exec \"$0\" >\"$1\"", RON_BUILD_DIR "/ron-kernel",
			fifo,	   NULL};
	pid_t kernel = tl_spawn(argv, kt_env(extra), NULL, NULL);
	cr_assert(tl_wait_for(all_healthy, NULL, WAIT_MS), "status.json never showed 3 healthy");
	for (int i = 0; i < 3; i++)
		cr_assert(kt_row(names[i], &rows[i]));

	long long dropped = kt_flood_until_dropped(kernel, 0);
	/* Supervision goes on: a killed monitor is reaped and replaced, its service
	 * adopted, within the usual time. */
	struct adoption a = {"svc-index", rows[0].pid, rows[0].mpid};
	cr_assert_eq(kill(rows[0].mpid, SIGKILL), 0);
	cr_assert(tl_wait_for(pid_gone, &rows[0].mpid, 10000), "killed monitor not reaped");
	cr_assert(tl_wait_for(adopted, &a, 10000), "svc-index not adopted by a new monitor");
	cr_assert_eq(count_services(0), 1);

	/* The reader reads again: the queue drains and one line gives the count. */
	tl_lines_init(&r, rd);
	cr_assert(tl_expect(&r, line, sizeof(line), WAIT_MS, "event=output_dropped", NULL),
		  "no output_dropped line once the FIFO was read:\n%.4000s", r.log);
	long long lines = -1, events = -1, status = -1;
	const char *p = strstr(line, " lines="), *q = strstr(line, " events="),
		   *t = strstr(line, " status=");
	cr_assert(p && q && t && strstr(line, " since="), "%s", line);
	lines = atoll(p + 7);
	events = atoll(q + 8);
	status = atoll(t + 8);
	cr_assert_gt(lines, 0, "%s", line);
	cr_assert_eq(lines, events + status, "%s", line);
	cr_assert_geq(dropped, 1);
	cr_assert_leq(lines, kt_status_num("output_dropped"), "%s", line);
	/* Output flows again, and tells of the new monitor. */
	struct tl_row now;
	char mpid[32];
	cr_assert(kt_row("svc-index", &now));
	snprintf(mpid, sizeof(mpid), " mpid=%d ", (int)now.mpid);
	cr_assert_eq(kill(kernel, SIGUSR1), 0);
	cr_assert(tl_expect(&r, line, sizeof(line), WAIT_MS, "event=service", "service=svc-index",
			    mpid, NULL),
		  "no output after the drain:\n%.4000s", r.log);

	/* Unread again and full: SIGTERM still stops everything. */
	for (int i = 0; i < 3; i++) {
		cr_assert(kt_row(names[i], &now));
		ps.p[ps.n++] = now.pid;
		ps.p[ps.n++] = now.mpid;
	}
	kt_flood_until_dropped(kernel, kt_status_num("output_dropped"));
	int st;
	cr_assert_eq(kill(kernel, SIGTERM), 0);
	cr_assert(tl_wait_exit(kernel, WAIT_MS, &st), "kernel did not exit on SIGTERM");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "kernel exit status %#x", st);
	cr_assert(all_gone(&ps), "a process outlived the kernel");
	for (int i = 0; i < 3; i++)
		cr_assert_eq(count_services(i), 0);
	close(rd);
}

static void stops_everything(int sig)
{
	struct tl_row rows[3];
	char line[4096];
	struct pids ps = {.n = 0};
	kt_start_ready(&k1, NULL, rows);
	for (int i = 0; i < 3; i++) {
		ps.p[ps.n++] = rows[i].pid;
		ps.p[ps.n++] = rows[i].mpid;
	}
	kt_stop(&k1, sig);
	/* Services are the monitors' children, reaped by them before they exit. */
	cr_assert(all_gone(&ps), "a process outlived the kernel");
	cr_assert_neq(access(tl_path("run/ron-kernel.pid"), F_OK), 0, "pidfile left behind");
	EXPECT(&k1, line, "event=exit", "code=0");
	for (int i = 0; i < 3; i++)
		cr_assert_eq(count_services(i), 0);
}

Test(kernel, sigterm_stops_everything)
{
	stops_everything(SIGTERM);
}

Test(kernel, sigint_stops_everything)
{
	stops_everything(SIGINT);
}

Test(kernel, sigkill_kernel_stops_services)
{
	struct tl_row rows[3];
	struct pids ps = {.n = 0};
	int st;
	kt_start_ready(&k1, NULL, rows);
	for (int i = 0; i < 3; i++) {
		ps.p[ps.n++] = rows[i].pid;
		ps.p[ps.n++] = rows[i].mpid;
	}
	cr_assert_eq(kill(k1.pid, SIGKILL), 0);
	cr_assert(tl_wait_exit(k1.pid, WAIT_MS, &st));
	/* The monitors' parent-death signal; the margin covers a loaded machine. */
	cr_assert(tl_wait_for(all_gone, &ps, STOP_MS + 5000),
		  "services outlived a SIGKILLed kernel beyond the stop timeout");
}

Test(kernel, second_kernel_refused)
{
	struct tl_row rows[3];
	char out[4096], err[4096], want[64];
	kt_start_ready(&k1, NULL, rows);
	int st = kt_run(NULL, NULL, out, sizeof(out), err, sizeof(err));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 75, "status %#x, stderr: %s", st, err);
	snprintf(want, sizeof(want), "(pid %d)", (int)k1.pid);
	cr_assert(strstr(err, want), "the running kernel's pid is not named: %s", err);
	/* The first one is untouched. */
	for (int i = 0; i < 3; i++)
		cr_assert_eq(count_services(i), 1);
	cr_assert(tl_pid_alive(k1.pid));
	kt_stop(&k1, SIGTERM);
}

Test(kernel, restart_after_killed_kernel_no_duplicate)
{
	struct tl_row rows[3], fresh[3];
	char line[4096];
	int st;
	/* The status.json clean-up; in cgroup mode the cgroups find them first
	 * (contain/next_kernel_kills_leftovers_by_cgroup). */
	char *pg[] = {"RON_CONTAINMENT=pgroup", NULL};
	kt_start_ready(&k1, pg, rows);
	/* Kernel and monitors at once, before any monitor can stop its service: the kernel
	 * stopped first so it cannot replace them, as monitors have groups of their own. */
	cr_assert_eq(kill(k1.pid, SIGSTOP), 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(kill(rows[i].mpid, SIGKILL), 0);
	cr_assert_eq(kill(k1.pid, SIGKILL), 0);
	cr_assert(tl_wait_exit(k1.pid, WAIT_MS, &st));
	for (int i = 0; i < 3; i++)
		cr_assert(tl_pid_alive(rows[i].pid), "%s did not survive: no test", names[i]);

	kt_start(&k2, pg);
	EXPECT(&k2, line, "event=stale_stopping", "what=svc-");
	EXPECT(&k2, line, "event=all_ready");
	cr_assert(tl_wait_for(all_healthy, NULL, WAIT_MS));
	for (int i = 0; i < 3; i++) {
		cr_assert_not(tl_pid_alive(rows[i].pid), "old %s still running", names[i]);
		cr_assert(kt_row(names[i], &fresh[i]));
		cr_assert_neq(fresh[i].pid, rows[i].pid);
		cr_assert_eq(count_services(i), 1, "%s runs twice", names[i]);
	}
	kt_stop(&k2, SIGTERM);
}

Test(kernel, bad_variables_exit_78)
{
	char out[4096], err[4096], kv[1200], longsock[200];
	memset(longsock, 'x', sizeof(longsock) - 1);
	longsock[0] = '/';
	longsock[sizeof(longsock) - 1] = '\0';
	int tried = 0;
	for (int key = 0; key < CFG__COUNT; key++) {
		const struct cfg_setting *s = &cfg_table[key];
		const char *bad = "12abc";
		switch (s->type) {
		case CFG_MS:
		case CFG_COUNT: break;
		case CFG_ENUM: bad = "bogus"; break;
		case CFG_PATH: bad = s->absolute ? "relative/dir" : longsock; break;
		case CFG_STRING: bad = s->min > 0 ? "" : "/nonexistent/ron-monitor"; break;
		}
		snprintf(kv, sizeof(kv), "%s=%s", s->env, bad);
		/* "K=" unsets in tl_spawn: an empty value needs the flag form. */
		char flag[1200];
		char *args[] = {flag, NULL};
		snprintf(flag, sizeof(flag), "--%s=", s->flag);
		char *extra[] = {kv, NULL};
		int st = bad[0] ? kt_run(extra, NULL, out, sizeof(out), err, sizeof(err))
				: kt_run(NULL, args, out, sizeof(out), err, sizeof(err));
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 78, "%s: status %#x, stderr: %s", kv,
			  st, err);
		cr_assert(strstr(err, bad[0] ? s->env : s->flag), "%s not named: %s", s->env, err);
		tried++;
	}
	cr_assert_eq(tried, CFG__COUNT);
	/* A rule between two settings names both. */
	char *extra[] = {"RON_HEALTH_TIMEOUT_MS=300", NULL};
	int st = kt_run(extra, NULL, out, sizeof(out), err, sizeof(err));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 78);
	cr_assert(strstr(err, "RON_HEALTH_TIMEOUT_MS") && strstr(err, "RON_HEALTH_INTERVAL_MS"),
		  "%s", err);
	/* Nothing was started, so nothing was left. */
	cr_assert_neq(access(tl_path("run/ron-kernel.pid"), F_OK), 0);
}

Test(kernel, unsafe_dirs_refused)
{
	char out[4096], err[4096], kv[700], kv2[700];
	char *extra[] = {kv, kv2, NULL};
	int st;
	cr_assert_eq(mkdir(tl_path("open"), 0700), 0);
	cr_assert_eq(chmod(tl_path("open"), 0777), 0);
	snprintf(kv, sizeof(kv), "RON_RUN_DIR=%s", tl_path("open"));
	snprintf(kv2, sizeof(kv2), "X=");
	st = kt_run(extra, NULL, out, sizeof(out), err, sizeof(err));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 78, "%#x %s", st, err);
	cr_assert(strstr(err, "writable by others"), "%s", err);

	cr_assert_eq(symlink(tl_dir(), tl_path("link")), 0);
	snprintf(kv, sizeof(kv), "RON_RUN_DIR=%s", tl_path("link"));
	st = kt_run(extra, NULL, out, sizeof(out), err, sizeof(err));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 78, "%#x %s", st, err);
	cr_assert(strstr(err, "symbolic link"), "%s", err);

	if (geteuid() == 0) {
		cr_assert_eq(mkdir(tl_path("theirs"), 0700), 0);
		cr_assert_eq(chown(tl_path("theirs"), 65534, 65534), 0);
		snprintf(kv, sizeof(kv), "RON_RUN_DIR=%s", tl_path("theirs"));
	} else {
		snprintf(kv, sizeof(kv), "RON_RUN_DIR=/");
	}
	st = kt_run(extra, NULL, out, sizeof(out), err, sizeof(err));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 78, "%#x %s", st, err);
	cr_assert(strstr(err, "not by us"), "%s", err);

	/* A socket's directory gets the same checks. */
	snprintf(kv, sizeof(kv), "X=");
	snprintf(kv2, sizeof(kv2), "RON_STORAGE_SOCK=%s/s.sock", tl_path("open"));
	st = kt_run(extra, NULL, out, sizeof(out), err, sizeof(err));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 78, "%#x %s", st, err);
	cr_assert(strstr(err, "RON_STORAGE_SOCK") && strstr(err, "writable"), "%s", err);
}

Test(kernel, missing_binary_quarantined_others_healthy)
{
	char line[4096], bin[600];
	snprintf(bin, sizeof(bin), "RON_SVC_INDEX_BIN=%s", tl_path("no-such-svc-index"));
	char *extra[] = {bin,
			 "RON_RESTART_CAP=2",
			 "RON_RESTART_WINDOW_MS=60000",
			 "RON_BACKOFF_MIN_MS=20",
			 "RON_BACKOFF_MAX_MS=100",
			 NULL};
	kt_start(&k1, extra);
	EXPECT(&k1, line, "event=spawn_failed", "service=svc-index");
	cr_assert(strstr(line, "No such file or directory"), "%s", line);
	EXPECT(&k1, line, "event=quarantined", "service=svc-index");
	EXPECT(&k1, line, "event=status", "svc-index.state=quarantined",
	       "svc-overlay.state=healthy", "svc-storage.state=healthy");
	cr_assert(tl_pid_alive(k1.pid));
	kt_stop(&k1, SIGTERM);
}

/* A monitor that dies while its service is quarantined hands the quarantine
 * on: the new monitor does not start the service again. */
Test(kernel, quarantine_survives_a_monitor_replacement)
{
	char line[4096], bin[600], mpid[32];
	snprintf(bin, sizeof(bin), "RON_SVC_INDEX_BIN=%s", tl_path("no-such-svc-index"));
	char *extra[] = {bin, "RON_RESTART_CAP=2", "RON_BACKOFF_MIN_MS=20", NULL};
	kt_start(&k1, extra);
	EXPECT(&k1, line, "event=quarantined", "service=svc-index");
	struct tl_row row;
	cr_assert(kt_row("svc-index", &row));
	cr_assert_eq(kill(row.mpid, SIGKILL), 0);
	snprintf(mpid, sizeof(mpid), "mpid=%d", (int)row.mpid);
	EXPECT(&k1, line, "event=monitor_lost", "service=svc-index", mpid);
	/* Everything of svc-index from here on: the new monitor must stay quarantined. */
	for (;;) {
		cr_assert(tl_next_line(&k1.r, line, sizeof(line), WAIT_MS), "log:\n%s", k1.r.log);
		if (!strstr(line, "service=svc-index"))
			continue;
		cr_assert_null(strstr(line, "event=spawn_failed"), "%s", line);
		cr_assert_null(strstr(line, "event=restarting"), "%s", line);
		if (strstr(line, "event=adopted")) {
			cr_assert(strstr(line, "state=quarantined"), "%s", line);
			break;
		}
	}
	EXPECT(&k1, line, "event=status", "svc-index.state=quarantined");
	kt_stop(&k1, SIGTERM);
}

static void assert_json_line(const char *line)
{
	json_object *o = json_tokener_parse(line), *v;
	cr_assert(o && json_object_is_type(o, json_type_object), "not a JSON object: %s", line);
	cr_assert(json_object_object_get_ex(o, "ts", &v), "%s", line);
	cr_assert(json_object_object_get_ex(o, "level", &v), "%s", line);
	cr_assert(json_object_object_get_ex(o, "event", &v), "%s", line);
	json_object_put(o);
}

Test(kernel, json_lines_parse)
{
	char line[4096];
	char *extra[] = {"RON_LOG_FORMAT=json", NULL};
	kt_start(&k1, extra);
	bool ready = false, status = false;
	while (!status) {
		cr_assert(tl_next_line(&k1.r, line, sizeof(line), WAIT_MS), "%s", k1.r.log);
		assert_json_line(line);
		if (strstr(line, "\"event\":\"all_ready\""))
			ready = true;
		if (ready && strstr(line, "\"event\":\"status\"")) {
			status = true;
			json_object *o = json_tokener_parse(line), *a;
			cr_assert(json_object_object_get_ex(o, "services", &a));
			cr_assert_eq(json_object_array_length(a), 3);
			json_object_put(o);
		}
	}
	cr_assert_eq(kill(k1.pid, SIGTERM), 0);
	while (tl_next_line(&k1.r, line, sizeof(line), WAIT_MS))
		assert_json_line(line);
	cr_assert(strstr(k1.r.log, "\"event\":\"exit\""), "%s", k1.r.log);
	int st;
	cr_assert(tl_wait_exit(k1.pid, WAIT_MS, &st));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

struct check_want {
	int status;
	const char *needle;
	char out[4096];
};

static bool check_is(void *arg)
{
	struct check_want *w = arg;
	char err[4096];
	char *args[] = {"--check", NULL};
	int st = kt_run(NULL, args, w->out, sizeof(w->out), err, sizeof(err));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != w->status)
		return false;
	return !w->needle || strstr(w->out, w->needle);
}

Test(kernel, check_healthy_and_not)
{
	struct tl_row rows[3];
	struct check_want w = {1, "not running", ""};
	cr_assert(check_is(&w), "no kernel yet: %s", w.out);
	kt_start_ready(&k1, NULL, rows);
	w = (struct check_want){0, "ok", ""};
	cr_assert(tl_wait_for(check_is, &w, WAIT_MS), "--check not 0 with all healthy: %s", w.out);
	cr_assert_eq(strchr(w.out, '\n') - w.out + 1, (long)strlen(w.out), "one line: %s", w.out);

	char out[8192], err[1024];
	char *args[] = {"--status", NULL};
	int st = kt_run(NULL, args, out, sizeof(out), err, sizeof(err));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", err);
	for (int i = 0; i < 3; i++)
		cr_assert(strstr(out, names[i]), "--status: %s", out);
	cr_assert(strstr(out, "healthy"), "--status: %s", out);

	/* svc-sim stops answering on SIGUSR1. */
	cr_assert_eq(kill(rows[2].pid, SIGUSR1), 0);
	w = (struct check_want){1, "svc-storage", ""};
	cr_assert(tl_wait_for(check_is, &w, WAIT_MS), "--check not 1 with svc-storage hanging");
	kt_stop(&k1, SIGTERM);
	w = (struct check_want){1, "not running", ""};
	cr_assert(check_is(&w), "after shutdown: %s", w.out);
}

/* Collects datagrams on fd until one equals want; all received text goes in log. */
static void notify_test(bool abstract)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char env[200], log[8192] = "";
	socklen_t len;
	if (abstract) {
		snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "ron-test-notify-%d",
			 (int)getpid());
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
				  strlen(sa.sun_path + 1));
		snprintf(env, sizeof(env), "NOTIFY_SOCKET=@%s", sa.sun_path + 1);
	} else {
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", tl_path("notify.sock"));
		len = sizeof(sa);
		snprintf(env, sizeof(env), "NOTIFY_SOCKET=%s", sa.sun_path);
	}
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, len), 0, "bind: %s", strerror(errno));
	char *extra[] = {env, "WATCHDOG_USEC=400000", NULL};
	kt_start(&k1, extra);
	cr_assert(tl_notify_wait(fd, "READY=1", log, sizeof(log), WAIT_MS), "no READY=1, got: %s",
		  log);
	cr_assert(strstr(log, "STATUS="), "no STATUS=: %s", log);
	/* The watchdog is kicked at half the period; the kernel's pid was not named, so
	 * WATCHDOG_PID unset means "the process systemd started", which is the kernel. */
	cr_assert(tl_notify_wait(fd, "WATCHDOG=1", log, sizeof(log), WAIT_MS),
		  "no WATCHDOG=1, got: %s", log);
	cr_assert_eq(kill(k1.pid, SIGTERM), 0);
	cr_assert(tl_notify_wait(fd, "STOPPING=1", log, sizeof(log), WAIT_MS), "no STOPPING=1: %s",
		  log);
	int st;
	cr_assert(tl_wait_exit(k1.pid, WAIT_MS, &st));
	close(fd);
}

Test(kernel, notify_ready_path_socket)
{
	notify_test(false);
}

Test(kernel, notify_ready_abstract_socket)
{
	notify_test(true);
}

Test(kernel, malformed_reports_tolerated)
{
	char script[600], kv[700], line[4096];
	snprintf(script, sizeof(script), "%s", tl_path("fake-monitor"));
	FILE *f = fopen(script, "w");
	cr_assert(f);
	/* Garbage, a report with missing fields and an overlong line, then the real one. */
	fprintf(f,
		"#!/bin/sh\n"
		"printf 'not json at all\\n' >&3\n"
		"printf '{\"v\":1,\"service\":\"svc-index\"}\\n' >&3\n"
		"head -c 3000 /dev/zero | tr '\\0' x >&3\n"
		"printf '\\n' >&3\n"
		"exec %s/ron-monitor \"$@\"\n",
		RON_BUILD_DIR);
	fclose(f);
	cr_assert_eq(chmod(script, 0755), 0);
	snprintf(kv, sizeof(kv), "RON_MONITOR_BIN=%s", script);
	char *extra[] = {kv, NULL};
	char *argv[] = {RON_BUILD_DIR "/ron-kernel", NULL};
	int out, err;
	static struct tl_lines errs;
	k1.pid = tl_spawn(argv, kt_env(extra), &out, &err);
	tl_lines_init(&k1.r, out);
	tl_lines_init(&errs, err);
	EXPECT(&k1, line, "event=all_ready");
	EXPECT(&k1, line, "event=status", "svc-index.state=healthy");
	/* Each skipped line is reported on stderr (which the services share). */
	cr_assert(tl_expect(&errs, line, sizeof(line), WAIT_MS, "malformed report skipped", NULL),
		  "%s", errs.log);
	cr_assert(tl_expect(&errs, line, sizeof(line), WAIT_MS, "report longer than", NULL), "%s",
		  errs.log);
	kt_stop(&k1, SIGTERM);
}

Test(kernel, sigusr1_full_status_and_sighup)
{
	struct tl_row rows[3];
	char line[4096];
	kt_start_ready(&k1, NULL, rows);
	cr_assert_eq(kill(k1.pid, SIGUSR1), 0);
	EXPECT(&k1, line, "event=service", "service=svc-storage", "state=healthy",
	       "monitor=running");
	cr_assert_eq(kill(k1.pid, SIGHUP), 0);
	EXPECT(&k1, line, "event=sighup", "monitors=3");
	/* The monitors take SIGHUP (lift quarantine) and keep running. */
	EXPECT(&k1, line, "event=status", "svc-index.state=healthy");
	for (int i = 0; i < 3; i++)
		cr_assert(tl_pid_alive(rows[i].mpid));
	kt_stop(&k1, SIGTERM);
}

Test(kernel, help_and_version)
{
	char out[16384], err[1024];
	char *h[] = {"--help", NULL}, *v[] = {"--version", NULL}, *u[] = {"--frobnicate", NULL};
	int st = kt_run(NULL, h, out, sizeof(out), err, sizeof(err));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	for (int key = 0; key < CFG__COUNT; key++)
		cr_assert(strstr(out, cfg_table[key].env), "--help lacks %s", cfg_table[key].env);
	st = kt_run(NULL, v, out, sizeof(out), err, sizeof(err));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_assert(strncmp(out, "ron-kernel ", 11) == 0, "%s", out);
	st = kt_run(NULL, u, out, sizeof(out), err, sizeof(err));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 64, "%#x", st);
	cr_assert(strstr(err, "--frobnicate"), "%s", err);
}

Test(kernel, a_misspelt_command_or_flag_gets_one_line_and_a_suggestion)
{
	char out[16384], err[16384];
	char *c[] = {"stauts", NULL}, *f[] = {"--helth-interval-ms=5", NULL};
	int st = kt_run(NULL, c, out, sizeof(out), err, sizeof(err));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 64, "%#x", st);
	cr_assert_str_eq(err, "ron-kernel: unknown argument stauts; did you mean status?\n"
			      "Try 'ron-kernel --help' for the commands and settings.\n");
	cr_assert_str_eq(out, "");
	st = kt_run(NULL, f, out, sizeof(out), err, sizeof(err));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 64, "%#x", st);
	cr_assert(strstr(err, "did you mean --health-interval-ms?\n"), "%s", err);
	cr_assert_null(strstr(err, "usage:"), "the whole usage again: %s", err);
}

Test(kernel, unreported_service_of_lost_monitor_killed)
{
	char script[600], kv[700], line[4096], marker[600];
	snprintf(script, sizeof(script), "%s", tl_path("fake-monitor"));
	snprintf(marker, sizeof(marker), "%s", tl_path("marker"));
	FILE *f = fopen(script, "w");
	cr_assert(f);
	/* The first monitor of svc-index starts its service and dies without a report:
	 * the service is reparented to the kernel, unknown to it. */
	fprintf(f,
		"#!/bin/sh\n"
		"if [ \"$2\" = svc-index ] && [ ! -e %s ]; then\n"
		"  : > %s\n"
		"  %s/sim/svc-index &\n"
		"  echo $! > %s.pid\n"
		"  until [ \"$(cat /proc/$!/comm 2>/dev/null)\" = svc-index ]; do :; done\n"
		"  exit 3\n"
		"fi\n"
		"exec %s/ron-monitor \"$@\"\n",
		marker, marker, RON_BUILD_DIR, marker, RON_BUILD_DIR);
	fclose(f);
	cr_assert_eq(chmod(script, 0755), 0);
	snprintf(kv, sizeof(kv), "RON_MONITOR_BIN=%s", script);
	char *extra[] = {kv, NULL};
	kt_start(&k1, extra);
	EXPECT(&k1, line, "event=orphan_killed", "comm=svc-index");
	EXPECT(&k1, line, "event=all_ready");
	char pidbuf[32];
	snprintf(line, sizeof(line), "%s.pid", marker);
	cr_assert_gt(tl_read_file(line, pidbuf, sizeof(pidbuf)), 0);
	cr_assert_not(tl_pid_alive(atoi(pidbuf)), "the unreported copy still runs");
	cr_assert_eq(count_services(0), 1);
	kt_stop(&k1, SIGTERM);
}

Test(kernel, shutdown_kills_stragglers)
{
	struct tl_row rows[3];
	char line[4096];
	struct pids ps = {.n = 0};
	int st;
	/* Slow health checks: the stopped monitor must not be found frozen first. */
	char *extra[] = {"RON_HEALTH_INTERVAL_MS=3000", "RON_HEALTH_TIMEOUT_MS=1000", NULL};
	kt_start_ready(&k1, extra, rows);
	for (int i = 0; i < 3; i++) {
		ps.p[ps.n++] = rows[i].pid;
		ps.p[ps.n++] = rows[i].mpid;
	}
	cr_assert_eq(kill(rows[0].mpid, SIGSTOP), 0);
	int64_t t0 = clock_mono_us();
	cr_assert_eq(kill(k1.pid, SIGTERM), 0);
	EXPECT(&k1, line, "event=killed", "service=svc-index", "what=monitor");
	cr_assert(tl_wait_exit(k1.pid, WAIT_MS, &st));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
	/* Stop timeout + margin, then the kill: well under twice that. */
	cr_assert_lt(clock_mono_us() - t0, (int64_t)(STOP_MS + 2000) * 2 * 1000 + 5000000);
	cr_assert(all_gone(&ps), "a straggler outlived the kernel");
	cr_assert_neq(access(tl_path("run/ron-kernel.pid"), F_OK), 0);
}

/* --- hand-over: a monitor killed in each state changes nothing the service sees ---------- */

/* Two runs of one scenario, with and without the kill, are compared event by event.  Lines
 * are stamped when the kernel prints them and the runs are separate, so a deadline may land
 * this much apart between them on a loaded 2-core machine; the monitor itself keeps it to
 * the millisecond (machine/resume_* tests). */
#ifdef __SANITIZE_ADDRESS__
/* ASan and UBSan make every process several times slower, the sim's start included. */
#define HANDOVER_SLACK_MS 400
#else
#define HANDOVER_SLACK_MS 150
#endif

struct hv_event {
	char event[24], state[24];
	int restarts; /* -1 if the line has none */
	long long delay_ms;
	int64_t t_ms;
};

struct hv_run {
	struct hv_event ev[64];
	int n;
	int kills;
};

/* One scenario: SIGUSR1 (svc-sim hangs) to svc-index on the first line matching usr1_on,
 * kill its monitor on the kill_on-th... line matching kill_on, stop at the end_nth line
 * matching end_on; the time from the from_nth line matching from to the next line matching
 * to is compared between the runs and with expect_ms (-1: the from line's delay_ms). */
struct hv_scenario {
	const char *name;
	const char *env[6];
	const char *usr1_on, *kill_on;
	bool kill_every; /* kill on every kill_on line, not only the first */
	const char *end_on;
	int end_nth;
	const char *from, *to;
	int from_nth;
	long long expect_ms;
	const char *adopted_state; /* state the first adopted line must carry */
};

static const char *hv_field(const char *line, const char *key, char *buf, size_t cap)
{
	char k[40];
	snprintf(k, sizeof(k), " %s=", key);
	const char *p = strstr(line, k);
	if (!p)
		return NULL;
	p += strlen(k);
	size_t n = strcspn(p, " ");
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

/* Milliseconds of the day from "2026-11-28T02:49:09.862Z ...". */
static int64_t hv_time(const char *line)
{
	int h, m, s, ms;
	cr_assert_eq(sscanf(line + 11, "%2d:%2d:%2d.%3d", &h, &m, &s, &ms), 4, "%s", line);
	return ((h * 60 + m) * 60 + s) * 1000LL + ms;
}

static bool hv_match(const char *line, const char *event)
{
	char want[64];
	snprintf(want, sizeof(want), " event=%s ", event);
	return strstr(line, want) && strstr(line, " service=svc-index ");
}

static void hv_run(const struct hv_scenario *sc, bool kill_monitor, struct hv_run *run)
{
	char line[4096], buf[64], *extra[8];
	int ne = 0, ends = 0;
	bool usr1_done = false, killed_once = false;
	bool ready[3] = {false, false, false};
	for (int i = 0; sc->env[i]; i++)
		extra[ne++] = (char *)sc->env[i];
	extra[ne] = NULL;
	memset(run, 0, sizeof(*run));
	kt_start(&k1, extra);
	while (ends < sc->end_nth) {
		cr_assert(tl_next_line(&k1.r, line, sizeof(line), WAIT_MS), "%s: log:\n%s",
			  sc->name, k1.r.log);
		for (int i = 0; i < 3; i++) {
			char want[64];
			snprintf(want, sizeof(want), " event=ready service=%s ", names[i]);
			ready[i] |= strstr(line, want) != NULL;
		}
		cr_assert(!strstr(line, " event=all_ready") || (ready[0] && ready[1] && ready[2]),
			  "%s: all_ready before every service answered:\n%s", sc->name, k1.r.log);
		if (!strstr(line, " service=svc-index "))
			continue;
		if (hv_match(line, "adopted") && kill_monitor && !killed_once &&
		    sc->adopted_state) {
			killed_once = true;
			cr_assert(strstr(line, sc->adopted_state), "%s: %s", sc->name, line);
		}
		/* What a monitor replacement adds is left out of the comparison. */
		if (!hv_field(line, "state", buf, sizeof(buf)) || hv_match(line, "adopted"))
			continue;
		cr_assert_lt(run->n, 64);
		struct hv_event *e = &run->ev[run->n++];
		hv_field(line, "event", e->event, sizeof(e->event));
		hv_field(line, "state", e->state, sizeof(e->state));
		e->restarts = hv_field(line, "restarts", buf, sizeof(buf)) ? atoi(buf) : -1;
		e->delay_ms = hv_field(line, "delay_ms", buf, sizeof(buf)) ? atoll(buf) : -1;
		e->t_ms = hv_time(line);
		if (sc->usr1_on && !usr1_done && hv_match(line, sc->usr1_on)) {
			usr1_done = true;
			cr_assert(hv_field(line, "pid", buf, sizeof(buf)));
			cr_assert_eq(kill(atoi(buf), SIGUSR1), 0);
		}
		if (kill_monitor && hv_match(line, sc->kill_on) &&
		    (sc->kill_every || run->kills == 0)) {
			cr_assert(hv_field(line, "mpid", buf, sizeof(buf)));
			if (kill(atoi(buf), SIGKILL) == 0)
				run->kills++;
		}
		if (hv_match(line, sc->end_on))
			ends++;
	}
	cr_assert(!kill_monitor || run->kills > 0, "%s: the monitor was never killed", sc->name);
	kt_stop(&k1, SIGTERM);
}

/* Milliseconds from the from_nth "from" event to the next "to" event. */
static long long hv_interval(const struct hv_scenario *sc, const struct hv_run *run,
			     long long *expect)
{
	int seen = 0;
	for (int i = 0; i < run->n; i++) {
		if (strcmp(run->ev[i].event, sc->from) != 0 || ++seen < sc->from_nth)
			continue;
		*expect = sc->expect_ms >= 0 ? sc->expect_ms : run->ev[i].delay_ms;
		for (int j = i + 1; j < run->n; j++)
			if (strcmp(run->ev[j].event, sc->to) == 0)
				return run->ev[j].t_ms - run->ev[i].t_ms;
		break;
	}
	cr_assert_fail("%s: no %s -> %s in the run", sc->name, sc->from, sc->to);
	return -1;
}

static void hv_compare(const struct hv_scenario *sc)
{
	static struct hv_run ref, got;
	hv_run(sc, false, &ref);
	hv_run(sc, true, &got);
	for (int i = 0; i < ref.n && i < got.n; i++) {
		const struct hv_event *a = &ref.ev[i], *b = &got.ev[i];
		cr_assert(strcmp(a->event, b->event) == 0 && strcmp(a->state, b->state) == 0 &&
			      a->restarts == b->restarts,
			  "%s: event %d: %s/%s restarts=%d without the kill, %s/%s restarts=%d "
			  "with it\n%s",
			  sc->name, i, a->event, a->state, a->restarts, b->event, b->state,
			  b->restarts, k1.r.log);
	}
	cr_assert_eq(ref.n, got.n, "%s: %d events without the kill, %d with it", sc->name, ref.n,
		     got.n);
	if (!sc->from)
		return;
	long long want_ref, want_got;
	long long t_ref = hv_interval(sc, &ref, &want_ref),
		  t_got = hv_interval(sc, &got, &want_got);
	cr_log_info("%s: %s -> %s: %lld ms without the kill, %lld ms with it (deadline %lld/%lld)",
		    sc->name, sc->from, sc->to, t_ref, t_got, want_ref, want_got);
	/* Each run keeps its own deadline (the jitter of a backoff differs between runs). */
	long long late_ref = t_ref - want_ref, late_got = t_got - want_got;
	cr_assert(llabs(late_got - late_ref) <= HANDOVER_SLACK_MS,
		  "%s: %s -> %s off its deadline by %lld ms without the kill, %lld ms with it",
		  sc->name, sc->from, sc->to, late_ref, late_got);
	cr_assert(llabs(late_got) <= HANDOVER_SLACK_MS, "%s: %lld ms off the deadline", sc->name,
		  late_got);
}

static const struct hv_scenario hv_table[] = {
    {.name = "starting",
     .env = {"SIM_START_DELAY_MS=1500"},
     .kill_on = "spawned",
     .end_on = "ready",
     .end_nth = 1,
     .from = "spawned",
     .to = "ready",
     .from_nth = 1,
     .expect_ms = 1500,
     .adopted_state = "state=starting"},
    {.name = "healthy",
     .usr1_on = "ready",
     .kill_on = "ready",
     .end_on = "ready",
     .end_nth = 2,
     .from = "degraded",
     .to = "unhealthy",
     .from_nth = 1,
     /* Two more checks: the one that starts as the routine check's missing reply
      * is found (at the next check's time), then one an interval later: interval 300
      * + timeout 200. */
     .expect_ms = 500,
     .adopted_state = "state=healthy"},
    {.name = "degraded",
     .usr1_on = "ready",
     .kill_on = "degraded",
     .end_on = "ready",
     .end_nth = 2,
     .from = "degraded",
     .to = "unhealthy",
     .from_nth = 1,
     .expect_ms = 500,
     .adopted_state = "state=degraded"},
    {.name = "stopping",
     .env = {"SIM_IGNORE_SIGTERM=1"},
     .usr1_on = "ready",
     .kill_on = "stopping",
     .end_on = "ready",
     .end_nth = 2,
     .from = "stopping",
     .to = "stopping",
     .from_nth = 1,
     .expect_ms = STOP_MS,
     .adopted_state = "state=stopping"},
    {.name = "backoff",
     .env = {"SIM_EXIT_ON_START=3", "RON_BACKOFF_MIN_MS=1000", "RON_RESTART_CAP=100"},
     .kill_on = "restarting",
     .end_on = "restarting",
     .end_nth = 2,
     .from = "restarting",
     .to = "spawned",
     .from_nth = 1,
     .expect_ms = -1,
     .adopted_state = "state=backoff"},
    {.name = "quarantined",
     .env = {"SIM_EXIT_ON_START=3", "RON_RESTART_CAP=2", "RON_QUARANTINE_MS=1500"},
     .kill_on = "quarantined",
     .end_on = "quarantined",
     .end_nth = 2,
     .from = "quarantined",
     .to = "restarting",
     .from_nth = 1,
     .expect_ms = -1,
     .adopted_state = "state=quarantined"},
};

Test(kernel, handover_starting)
{
	hv_compare(&hv_table[0]);
}
Test(kernel, handover_healthy)
{
	hv_compare(&hv_table[1]);
}
Test(kernel, handover_degraded)
{
	hv_compare(&hv_table[2]);
}
Test(kernel, handover_stopping)
{
	hv_compare(&hv_table[3]);
}
Test(kernel, handover_backoff)
{
	hv_compare(&hv_table[4]);
}
Test(kernel, handover_quarantined)
{
	hv_compare(&hv_table[5]);
}

/* A crash loop whose monitor dies after every crash is quarantined after exactly as many
 * restarts as one whose monitor lives: the restart history goes along with the service. */
Test(kernel, handover_crash_loop_killing_each_monitor)
{
	static const struct hv_scenario sc = {
	    .name = "crash loop",
	    .env = {"SIM_EXIT_ON_START=3", "RON_RESTART_CAP=3", "RON_BACKOFF_MAX_MS=200"},
	    .kill_on = "exited",
	    .kill_every = true,
	    .end_on = "quarantined",
	    .end_nth = 1,
	};
	hv_compare(&sc);
}

/* Rewrites fields of status.json (atomically, as the kernel does): wall-clock
 * stamp and monotonic heartbeat, each shifted by the given milliseconds. */
static void kt_shift_status(int64_t wall_shift_ms, int64_t mono_shift_ms)
{
	char path[600], tmp[600];
	snprintf(path, sizeof(path), "%s/run/status.json", tl_dir());
	snprintf(tmp, sizeof(tmp), "%s/run/.status.json.test", tl_dir());
	json_object *o = json_object_from_file(path), *v;
	cr_assert(o, "read %s", path);
	cr_assert(json_object_object_get_ex(o, "updated_ms", &v));
	json_object_object_add(o, "updated_ms",
			       json_object_new_int64(json_object_get_int64(v) + wall_shift_ms));
	cr_assert(json_object_object_get_ex(o, "mono_ms", &v), "no heartbeat in status.json");
	json_object_object_add(o, "mono_ms",
			       json_object_new_int64(json_object_get_int64(v) + mono_shift_ms));
	cr_assert_eq(json_object_to_file(tmp, o), 0);
	cr_assert_eq(rename(tmp, path), 0);
	json_object_put(o);
}

/* --check judges liveness by the kernel's pid, start time and monotonic
 * heartbeat: a wall-clock step either way changes nothing, a stale heartbeat
 * with a fresh wall-clock stamp is still stuck. */
Test(kernel, check_ignores_wall_clock_stamp)
{
	struct tl_row rows[3];
	char *extra[] = {"RON_STATUS_INTERVAL_MS=3600000", NULL};
	kt_start_ready(&k1, extra, rows);
	struct check_want w = {0, "ok", ""};
	cr_assert(tl_wait_for(check_is, &w, WAIT_MS), "--check not 0 with all healthy: %s", w.out);
	/* Stopped, it cannot rewrite the file under us. */
	cr_assert_eq(kill(k1.pid, SIGSTOP), 0);
	kt_shift_status(-3600000, 0);
	cr_assert(check_is(&w), "wall-clock stamp 1 h old: %s", w.out);
	kt_shift_status(2 * 3600000, 0);
	cr_assert(check_is(&w), "wall-clock stamp 1 h ahead: %s", w.out);
	/* Three status intervals and a second without a heartbeat is stuck. */
	kt_shift_status(-3600000, -(3 * 3600000 + 2000));
	w = (struct check_want){1, "stuck", ""};
	cr_assert(check_is(&w), "stale heartbeat, fresh wall-clock stamp: %s", w.out);
	cr_assert_eq(kill(k1.pid, SIGCONT), 0);
	kt_stop(&k1, SIGTERM);
}

/* Probes take no lock: a kernel restarted after a crash (its pidfile left
 * behind, unlocked) while --check runs in a loop, as a container's health check
 * does, never finds the pidfile busy. */
Test(kernel, check_loop_never_blocks_a_start, .timeout = 300)
{
	char line[4096], script[1024];
	snprintf(script, sizeof(script),
		 "while :; do %s/ron-kernel --check >/dev/null 2>&1; rc=$?;"
		 " [ $rc -le 1 ] || { echo \"--check exited $rc\" >&2; exit 3; }; done",
		 RON_BUILD_DIR);
	char *argv[] = {"/bin/sh", "-c", script, NULL};
	/* Several loops: each holds a probe's moment open more often. */
	pid_t probers[3];
	for (int i = 0; i < 3; i++)
		probers[i] = tl_spawn(argv, kt_env(NULL), NULL, NULL);
	for (int i = 0; i < 100; i++) {
		int st;
		kt_start(&k1, NULL);
		bool started = tl_expect(&k1.r, line, sizeof(line), WAIT_MS, "event=start", NULL);
		cr_assert(tl_wait_exit(k1.pid, 0, &st) || kill(k1.pid, SIGKILL) == 0);
		cr_assert(tl_wait_exit(k1.pid, WAIT_MS, &st) || !started, "start %d: no exit", i);
		cr_assert(started, "start %d refused while --check ran:\n%s", i, k1.r.log);
		close(k1.r.fd);
	}
	for (int i = 0; i < 3; i++) {
		int st;
		cr_assert_not(tl_wait_exit(probers[i], 0, &st), "a --check loop ended: %#x", st);
	}
}

/* The pid of mpid's child (its service), 0 if none. */
static pid_t child_of(pid_t mpid)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)mpid, (int)mpid);
	return tl_read_file(path, buf, sizeof(buf)) > 0 ? (pid_t)atoi(buf) : 0;
}

struct new_child {
	pid_t mpid, old;
};

static bool child_changed(void *arg)
{
	struct new_child *c = arg;
	pid_t now = child_of(c->mpid);
	return now > 0 && now != c->old;
}

static bool svc_index_is(void *arg)
{
	struct tl_row now;
	return kt_row("svc-index", &now) && now.pid == *(pid_t *)arg &&
	       strcmp(now.state, "healthy") == 0;
}

/* A kernel that does not read for a while (stopped for less than the silence
 * limit): the monitor's pipe fills, its reports are replaced by later ones,
 * and once the kernel runs again it reports the gap and shows the latest state. */
Test(kernel, stalled_kernel_gets_the_latest_report_and_the_gap)
{
	struct tl_row rows[3], now;
	char line[4096];
	/* Silence limit 7 s; restarts at once and never quarantined. */
	char *extra[] = {"RON_HEALTH_INTERVAL_MS=2000", "RON_HEALTH_TIMEOUT_MS=1000",
			 "RON_BACKOFF_MIN_MS=0",	"RON_BACKOFF_MAX_MS=0",
			 "RON_RESTART_CAP=1000",	NULL};
	kt_start_ready(&k1, extra, rows);
	cr_assert_eq(kill(k1.pid, SIGSTOP), 0);
	/* 150 crashes of about four reports each: well over the pipe's 64 KiB. */
	struct new_child c = {rows[0].mpid, 0};
	for (int i = 0; i < 150; i++) {
		cr_assert(tl_wait_for(child_changed, &c, WAIT_MS), "no new svc-index after kill %d",
			  i);
		c.old = child_of(c.mpid);
		kill(c.old, SIGKILL);
	}
	cr_assert(tl_wait_for(child_changed, &c, WAIT_MS), "no svc-index after the last kill");
	pid_t last = child_of(c.mpid);
	cr_assert_eq(kill(k1.pid, SIGCONT), 0);

	EXPECT(&k1, line, "event=reports_missed", "service=svc-index", "missed=");
	cr_assert(tl_wait_for(svc_index_is, &last, WAIT_MS), "status.json never showed pid %d",
		  (int)last);
	cr_assert(kt_row("svc-index", &now));
	cr_assert_eq(now.mpid, rows[0].mpid, "the monitor was replaced");
	cr_assert_null(strstr(k1.r.log, "event=monitor_frozen"), "%s", k1.r.log);
	cr_assert_eq(count_services(0), 1);
	kt_stop(&k1, SIGTERM);
}

/* Empty components and "." in RON_RUN_DIR are harmless: the kernel runs in the
 * directory meant. */
Test(kernel, run_dir_doubled_slashes_normalised)
{
	struct tl_row rows[3];
	char kv[700];
	snprintf(kv, sizeof(kv), "RON_RUN_DIR=%s//./run/", tl_dir());
	char *extra[] = {kv, NULL};
	kt_start_ready(&k1, extra, rows);
	cr_assert_eq(access(tl_path("run/ron-kernel.pid"), F_OK), 0);
	kt_stop(&k1, SIGTERM);
}

/* The stale clean-up signals only what it can prove was started under this run
 * directory: a status.json of this boot naming an unrelated process (its pid and
 * start time right) leaves that process alone. */
Test(kernel, stale_cleanup_leaves_unproven_processes_alone)
{
	struct tl_row rows[3];
	char json[2048], path[64], stat[1024], boot[64] = "", pidstr[32];
	char *vargv[] = {"/bin/sleep", "1000", NULL};
	char *venv[] = {"RON_RUN_DIR=", NULL};
	pid_t victim = tl_spawn(vargv, venv, NULL, NULL);
	unsigned long long ticks = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)victim);
	cr_assert_gt(tl_read_file(path, stat, sizeof(stat)), 0);
	const char *p = strrchr(stat, ')');
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	cr_assert(p && sscanf(p, " %llu", &ticks) == 1);
	cr_assert_gt(tl_read_file("/proc/sys/kernel/random/boot_id", boot, sizeof(boot)), 0);
	boot[strcspn(boot, "\n")] = '\0';
	snprintf(json, sizeof(json),
		 "{\"v\":1,\"kernel_pid\":1,\"kernel_start\":1,\"boot_id\":\"%s\",\"state\":"
		 "\"running\",\"services\":[{\"service\":\"svc-index\",\"state\":\"healthy\","
		 "\"pid\":%d,\"start\":%llu,\"mpid\":0,\"mstart\":0}]}\n",
		 boot, (int)victim, ticks);
	cr_assert_eq(mkdir(tl_path("run"), 0700), 0);
	FILE *f = fopen(tl_path("run/status.json"), "w");
	cr_assert(f);
	fputs(json, f);
	fclose(f);
	kt_start_ready(&k1, NULL, rows);
	snprintf(pidstr, sizeof(pidstr), "pid=%d ", (int)victim);
	cr_assert(strstr(k1.r.log, "event=stale_unproven") && strstr(k1.r.log, pidstr),
		  "no stale_unproven line for pid %d:\n%s", (int)victim, k1.r.log);
	cr_assert_null(strstr(k1.r.log, "event=stale_stopping"), "%s", k1.r.log);
	cr_assert(tl_pid_alive(victim), "the unrelated process was signalled");
	kt_stop(&k1, SIGTERM);
}
