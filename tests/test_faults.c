/* Resource faults injected into the real kernel and monitors (issue: out of
 * descriptors, memory, processes or time): the LD_PRELOAD shim of tests/faults
 * for pidfd_open, fork and malloc, prlimit for descriptor limits, SIGSTOP and
 * SIGCONT of the whole tree for a pause.  Each test asserts what a person relies
 * on: never two copies, never a false verdict, every failure reported. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "clock.h"
#include "spawn.h"
#include "startup.h"
#include "testlib.h"

#define WAIT_MS 30000

static const char *const names[3] = {"svc-index", "svc-overlay", "svc-storage"};

TestSuite(faults, .init = tl_setup, .fini = tl_teardown, .timeout = 120);

struct kt {
	pid_t pid;
	struct tl_lines r;
};
static struct kt k1;

/* A test kernel's environment (as in test_kernel.c), extra entries last. */
static char **ft_env(char *const extra[])
{
	/* A sanitized build's runtime must not object to the shim preloaded before it. */
	static char *with[16] = {"ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0"};
	int n = 1;
	for (int i = 0; extra && extra[i] && n < 15; i++)
		with[n++] = extra[i];
	with[n] = NULL;
	return tl_kernel_env("run", NULL, with);
}

/* The shim in the kernel only, with the fault files given ("RON_FAULT_X=path"). */
static char **ft_shim_env(char *const faults[])
{
	static char kv[8][700];
	static char *extra[12];
	int n = 0;
	snprintf(kv[n], sizeof(kv[n]), "LD_PRELOAD=%s/faults/faultshim.so", RON_BUILD_DIR);
	extra[n] = kv[n], n++;
	snprintf(kv[n], sizeof(kv[n]), "RON_FAULT_PROG=ron-kernel");
	extra[n] = kv[n], n++;
	for (int i = 0; faults && faults[i]; i++)
		extra[n++] = faults[i];
	extra[n] = NULL;
	return extra;
}

static void ft_start(struct kt *k, char *const extra[])
{
	char *argv[] = {RON_BUILD_DIR "/ron-kernel", NULL};
	int out;
	k->pid = tl_spawn(argv, ft_env(extra), &out, NULL);
	tl_lines_init(&k->r, out);
}

#define EXPECT(k, line, ...)                                                                       \
	cr_assert(tl_expect(&(k)->r, line, sizeof(line), WAIT_MS, __VA_ARGS__, NULL),              \
		  "no line with " #__VA_ARGS__ " in kernel output:\n%s", (k)->r.log)

static bool ft_row(const char *name, struct tl_row *row)
{
	return tl_status_row("run", name, row);
}

static bool all_healthy(void *arg)
{
	return tl_seed_all_healthy(arg);
}

static void ft_start_ready(struct kt *k, char *const extra[], struct tl_row rows[3])
{
	ft_start(k, extra);
	cr_assert(tl_wait_for(all_healthy, NULL, WAIT_MS),
		  "status.json never showed 3 healthy:\n%s", k->r.log);
	for (int i = 0; i < 3; i++)
		cr_assert(ft_row(names[i], &rows[i]));
}

static void ft_stop(struct kt *k)
{
	int st;
	cr_assert_eq(kill(k->pid, SIGTERM), 0);
	cr_assert(tl_wait_exit(k->pid, WAIT_MS, &st), "kernel did not exit:\n%s", k->r.log);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "kernel exit status %#x:\n%s", st,
		  k->r.log);
}

/* Live processes named names[idx] of this test's run directory. */
static int count_services(int idx)
{
	char want[700], path[64], comm[64];
	pid_t pids[64];
	snprintf(want, sizeof(want), "RON_RUN_DIR=%s/run", tl_dir());
	int n = tl_procs_with_env(want, pids, 64), count = 0;
	for (int i = 0; i < n && i < 64; i++) {
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pids[i]);
		if (tl_read_file(path, comm, sizeof(comm)) <= 0)
			continue;
		comm[strcspn(comm, "\n")] = '\0';
		count += strcmp(comm, names[idx]) == 0;
	}
	return count;
}

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0, "create %s: %s", path, strerror(errno));
	close(fd);
}

/* A fault that lasts a while: the duration is the fault, not a wait for an outcome. */
static void fault_lasts(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The number of the nth free descriptor of pid (n >= 1): as RLIMIT_NOFILE, exactly
 * n - 1 more descriptors fit. */
static int nth_free_fd(pid_t pid, int n)
{
	char path[64];
	for (int fd = 0;; fd++) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		if (access(path, F_OK) < 0 && errno == ENOENT && --n == 0)
			return fd;
	}
}

static int lowest_free_fd(pid_t pid)
{
	return nth_free_fd(pid, 1);
}

/* The soft limit only: raising a hard limit again takes CAP_SYS_RESOURCE. */
static void set_nofile(pid_t pid, rlim_t n)
{
	struct rlimit old;
	cr_assert_eq(prlimit(pid, RLIMIT_NOFILE, NULL, &old), 0);
	struct rlimit lim = {n < old.rlim_max ? n : old.rlim_max, old.rlim_max};
	cr_assert_eq(prlimit(pid, RLIMIT_NOFILE, &lim, NULL), 0, "prlimit %d --nofile=%llu: %s",
		     (int)pid, (unsigned long long)n, strerror(errno));
}

static bool logged(const struct kt *k, const char *what)
{
	return strstr(k->r.log, what) != NULL;
}

/* 1: the kernel cannot open a pidfd for its services; a monitor then dies.  No
 * replacement may start (it would spawn a second copy): event=untracked, and once
 * a pidfd can be had again, the same service is adopted. */
Test(faults, untracked_service_never_doubled)
{
	struct tl_row rows[3], now;
	char line[4096], fault[700], pidstr[32];
	const char *file = tl_path("pidfd.fault");
	touch(file);
	snprintf(fault, sizeof(fault), "RON_FAULT_PIDFD=%s", file);
	char *faults[] = {fault, NULL};
	ft_start_ready(&k1, ft_shim_env(faults), rows);
	EXPECT(&k1, line, "event=status", "svc-index.tracked=no");
	cr_assert(logged(&k1, "event=untracked service=svc-index"), "%s", k1.r.log);
	cr_assert(logged(&k1, "reason=\"pidfd_open: Too many open files\""), "%s", k1.r.log);

	cr_assert_eq(kill(rows[0].mpid, SIGKILL), 0);
	EXPECT(&k1, line, "event=monitor_lost", "service=svc-index");
	EXPECT(&k1, line, "event=untracked", "service=svc-index", "no replacement");
	size_t mark = k1.r.loglen;
	/* A few retries to track it, and still one copy, unsupervised but never doubled. */
	EXPECT(&k1, line, "event=status", "svc-index.tracked=no");
	EXPECT(&k1, line, "event=status", "svc-index.tracked=no");
	cr_assert_null(strstr(k1.r.log + mark, "event=monitor_started service=svc-index"), "%s",
		       k1.r.log);
	cr_assert(tl_pid_alive(rows[0].pid));
	cr_assert_eq(count_services(0), 1, "two copies of svc-index:\n%s", k1.r.log);

	cr_assert_eq(unlink(file), 0);
	EXPECT(&k1, line, "event=tracked", "service=svc-index");
	snprintf(pidstr, sizeof(pidstr), "adopt_pid=%d", (int)rows[0].pid);
	EXPECT(&k1, line, "event=monitor_started", "service=svc-index", pidstr);
	EXPECT(&k1, line, "event=adopted", "service=svc-index");
	cr_assert(tl_wait_for(all_healthy, NULL, WAIT_MS));
	cr_assert(ft_row("svc-index", &now));
	cr_assert_eq(now.pid, rows[0].pid);
	cr_assert_eq(count_services(0), 1);
	ft_stop(&k1);
}

/* 2: monitors without a pidfd are the kernel's children all the same: SIGHUP and
 * SIGTERM reach them by pid. */
Test(faults, monitor_without_pidfd_gets_sighup)
{
	char line[4096], fault[700];
	const char *file = tl_path("pidfd.fault");
	touch(file);
	snprintf(fault, sizeof(fault), "RON_FAULT_PIDFD=%s", file);
	char *faults[] = {fault,
			  "SIM_EXIT_ON_START=3",
			  "RON_RESTART_CAP=1",
			  "RON_RESTART_WINDOW_MS=60000",
			  "RON_QUARANTINE_MS=600000",
			  NULL};
	ft_start(&k1, ft_shim_env(faults));
	EXPECT(&k1, line, "event=quarantined", "service=svc-index");
	cr_assert_eq(kill(k1.pid, SIGHUP), 0);
	EXPECT(&k1, line, "event=sighup", "monitors=3");
	EXPECT(&k1, line, "event=restarting", "service=svc-index", "quarantine lifted");
	ft_stop(&k1);
}

Test(faults, monitor_without_pidfd_stops_gracefully)
{
	struct tl_row rows[3];
	char line[4096], fault[700];
	const char *file = tl_path("pidfd.fault");
	touch(file);
	snprintf(fault, sizeof(fault), "RON_FAULT_PIDFD=%s", file);
	char *faults[] = {fault, NULL};
	ft_start_ready(&k1, ft_shim_env(faults), rows);
	cr_assert_eq(kill(k1.pid, SIGTERM), 0);
	for (int i = 0; i < 3; i++)
		EXPECT(&k1, line, "event=stopped", "stopped as asked");
	int st;
	cr_assert(tl_wait_exit(k1.pid, WAIT_MS, &st));
	while (tl_next_line(&k1.r, line, sizeof(line), 1000))
		;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %#x", st);
	cr_assert_not(logged(&k1, "event=killed"), "a service was killed, not stopped:\n%s",
		      k1.r.log);
	for (int i = 0; i < 3; i++)
		cr_assert_not(tl_pid_alive(rows[i].pid));
}

/* Every process of this test's tree: the kernel first, its children (the monitors,
 * whose environment setproctitle has overwritten), then the services by environment. */
static int tree(pid_t kernel, pid_t *pids, int max)
{
	char want[700], path[64], stat[512];
	pid_t found[64];
	int n = 0;
	pids[n++] = kernel;
	DIR *d = opendir("/proc");
	cr_assert(d);
	for (struct dirent *e; (e = readdir(d)) && n < max;) {
		pid_t pid = (pid_t)atoi(e->d_name);
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		if (pid <= 0 || tl_read_file(path, stat, sizeof(stat)) <= 0)
			continue;
		const char *p = strrchr(stat, ')');
		int ppid;
		if (p && sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == kernel)
			pids[n++] = pid;
	}
	closedir(d);
	snprintf(want, sizeof(want), "RON_RUN_DIR=%s/run", tl_dir());
	int m = tl_procs_with_env(want, found, 64);
	for (int i = 0; i < m && i < 64 && n < max; i++) {
		bool dup = false;
		for (int j = 0; j < n; j++)
			dup |= pids[j] == found[i];
		if (!dup)
			pids[n++] = found[i];
	}
	return n;
}

/* 3: the whole tree stopped for longer than the silence limit (1.1 s here), as
 * docker pause or Ctrl-Z does, the kernel continued first: no monitor is frozen,
 * no service restarted. */
Test(faults, whole_tree_paused_is_no_freeze)
{
	struct tl_row rows[3], now;
	char line[4096];
	pid_t pids[32];
	ft_start_ready(&k1, NULL, rows);
	int n = tree(k1.pid, pids, 32);
	cr_assert_geq(n, 7, "kernel, 3 monitors, 3 services: %d", n);
	for (int i = 0; i < n; i++)
		kill(pids[i], SIGSTOP);
	fault_lasts(3000);
	for (int i = 0; i < n; i++)
		kill(pids[i], SIGCONT);
	EXPECT(&k1, line, "event=paused", NULL);
	EXPECT(&k1, line, "event=status", NULL);
	EXPECT(&k1, line, "event=status", "svc-index.state=healthy", "svc-overlay.state=healthy",
	       "svc-storage.state=healthy");
	EXPECT(&k1, line, "event=status", NULL);
	const char *bad[] = {"event=monitor_frozen", "event=monitor_lost", "event=exited",
			     "event=unhealthy"};
	for (int i = 0; i < 4; i++)
		cr_assert_not(logged(&k1, bad[i]), "%s after a pause:\n%s", bad[i], k1.r.log);
	for (int i = 0; i < 3; i++) {
		cr_assert(ft_row(names[i], &now));
		cr_assert_eq(now.pid, rows[i].pid);
		cr_assert_eq(now.mpid, rows[i].mpid);
	}
	ft_stop(&k1);
}

/* 4: malloc fails in the kernel for a while: it says so once, keeps running, and
 * kills no monitor as frozen for the reports it could not parse. */
static void enomem_test(bool json)
{
	struct tl_row rows[3], now;
	char line[4096], fault[700];
	const char *file = tl_path("malloc.fault");
	snprintf(fault, sizeof(fault), "RON_FAULT_MALLOC=%s", file);
	char *faults[] = {fault, json ? "RON_LOG_FORMAT=json" : "RON_LOG_FORMAT=text", NULL};
	ft_start_ready(&k1, ft_shim_env(faults), rows);
	touch(file);
	EXPECT(&k1, line, "out_of_memory", NULL);
	fault_lasts(2500);
	size_t mark = k1.r.loglen;
	cr_assert_eq(unlink(file), 0);
	EXPECT(&k1, line, "memory_recovered", NULL);
	cr_assert_null(strstr(k1.r.log + mark, "out_of_memory"));
	cr_assert(tl_pid_alive(k1.pid));
	cr_assert_not(logged(&k1, "monitor_frozen"), "%s", k1.r.log);
	cr_assert_not(logged(&k1, "monitor_lost"), "%s", k1.r.log);
	cr_assert(tl_wait_for(all_healthy, NULL, WAIT_MS));
	for (int i = 0; i < 3; i++) {
		cr_assert(ft_row(names[i], &now));
		cr_assert_eq(now.pid, rows[i].pid);
		cr_assert_eq(now.mpid, rows[i].mpid);
	}
	ft_stop(&k1);
}

Test(faults, kernel_transient_enomem_text)
{
	enomem_test(false);
}

Test(faults, kernel_transient_enomem_json)
{
	enomem_test(true);
}

/* One request to the control socket; the reply (possibly empty: closed) in buf. */
static void ft_control(const char *req, char *buf, size_t cap)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/run/control.sock", tl_dir());
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s",
		     strerror(errno));
	(void)send(fd, req, strlen(req), MSG_NOSIGNAL);
	size_t len = 0;
	int64_t deadline = clock_mono_us() + WAIT_MS * 1000LL;
	while (len + 1 < cap && clock_mono_us() < deadline) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
}

/* 4, through the control socket: requests while the kernel is out of memory get a
 * short answer or none, never a crash; once memory is back, commands work. */
Test(faults, kernel_enomem_control_requests)
{
	struct tl_row rows[3];
	char line[4096], fault[700], reply[65536];
	const char *file = tl_path("malloc.fault");
	snprintf(fault, sizeof(fault), "RON_FAULT_MALLOC=%s", file);
	char *faults[] = {fault, NULL};
	ft_start_ready(&k1, ft_shim_env(faults), rows);
	touch(file);
	EXPECT(&k1, line, "out_of_memory", NULL);
	static const char *const reqs[] = {"{\"cmd\":\"status\"}\n",
					   "{\"cmd\":\"stop\",\"services\":[\"svc-index\"]}\n",
					   "{\"cmd\":\"reload\"}\n", "{\"cmd\":\n"};
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		ft_control(reqs[i], reply, sizeof(reply));
		cr_assert(!reply[0] || strstr(reply, "\"ok\":false"), "%s: %s", reqs[i], reply);
		cr_assert(tl_pid_alive(k1.pid), "the kernel died on %s", reqs[i]);
	}
	cr_assert_eq(unlink(file), 0);
	EXPECT(&k1, line, "memory_recovered", NULL);
	ft_control("{\"cmd\":\"status\"}\n", reply, sizeof(reply));
	cr_assert(strstr(reply, "\"ok\":true"), "%s", reply);
	ft_stop(&k1);
}

/* 5: a monitor out of descriptors cannot check nor spawn: that is its trouble, not
 * the service's.  check_skipped, no unhealthy; a spawn retried with backoff and never
 * counted toward quarantine. */
Test(faults, monitor_out_of_fds_blames_nobody)
{
	struct tl_row rows[3], now;
	char line[4096], pidstr[32];
	char *extra[] = {"RON_RESTART_CAP=2", NULL};
	ft_start_ready(&k1, extra, rows);
	pid_t mpid = rows[0].mpid;
	set_nofile(mpid, (rlim_t)lowest_free_fd(mpid));
	EXPECT(&k1, line, "event=check_skipped", "service=svc-index", "Too many open files");
	EXPECT(&k1, line, "event=status", "svc-index.state=healthy", "svc-index.monitor=degraded");
	/* Three intervals and more: as many failed checks would have made it unhealthy. */
	EXPECT(&k1, line, "event=status", NULL);
	EXPECT(&k1, line, "event=status", "svc-index.state=healthy", "svc-index.monitor=degraded");
	cr_assert_not(logged(&k1, "event=unhealthy"), "%s", k1.r.log);
	cr_assert_not(logged(&k1, "event=stopping"), "%s", k1.r.log);
	cr_assert(ft_row("svc-index", &now));
	cr_assert_eq(now.pid, rows[0].pid);

	/* It crashes: no descriptors for the error pipe, so the spawn waits, again and
	 * again, and the restart cap of 2 is never reached. */
	cr_assert_eq(kill(rows[0].pid, SIGKILL), 0);
	snprintf(pidstr, sizeof(pidstr), "pid=%d ", (int)rows[0].pid);
	EXPECT(&k1, line, "event=exited", "service=svc-index", pidstr);
	for (int i = 0; i < 4; i++)
		EXPECT(&k1, line, "event=spawn_deferred", "service=svc-index",
		       "Too many open files");
	cr_assert_not(logged(&k1, "event=quarantined"), "%s", k1.r.log);
	set_nofile(mpid, 1024);
	EXPECT(&k1, line, "event=spawned", "service=svc-index");
	EXPECT(&k1, line, "event=ready", "service=svc-index");
	cr_assert(tl_wait_for(all_healthy, NULL, WAIT_MS));
	cr_assert(ft_row("svc-index", &now));
	cr_assert_eq(now.mpid, mpid);
	cr_assert_not(logged(&k1, "event=quarantined"), "%s", k1.r.log);
	ft_stop(&k1);
}

static bool restarted(void *arg)
{
	const struct tl_row *was = arg;
	struct tl_row now;
	return ft_row("svc-index", &now) && now.pid != was->pid &&
	       strcmp(now.state, "healthy") == 0;
}

/* 6: started with stdout or stderr closed, the kernel's pidfile holds its pid and
 * nothing else. */
static void closed_stdio_test(const char *redir)
{
	char script[64], pidfile[700], text[256];
	snprintf(script, sizeof(script), "exec \"$0\" %s", redir);
	char *argv[] = {"/bin/sh", "-c", script, RON_BUILD_DIR "/ron-kernel", NULL};
	k1.pid = tl_spawn(argv, ft_env(NULL), NULL, NULL);
	cr_assert(tl_wait_for(all_healthy, NULL, WAIT_MS), "never healthy with %s", redir);
	snprintf(pidfile, sizeof(pidfile), "%s/run/ron-kernel.pid", tl_dir());
	/* A crash and a restart later: event lines and service output went somewhere. */
	static struct tl_row r;
	cr_assert(ft_row("svc-index", &r));
	cr_assert_eq(kill(r.pid, SIGKILL), 0);
	cr_assert(tl_wait_for(restarted, &r, WAIT_MS), "svc-index not restarted");
	ssize_t n = tl_read_file(pidfile, text, sizeof(text));
	if (n > 0 && text[n - 1] == '\n')
		text[--n] = '\0';
	char want[32];
	snprintf(want, sizeof(want), "%d", (int)k1.pid);
	cr_assert(n > 0 && strcmp(text, want) == 0, "%s: pidfile holds \"%s\", not \"%s\"", redir,
		  text, want);
	int st;
	cr_assert_eq(kill(k1.pid, SIGTERM), 0);
	cr_assert(tl_wait_exit(k1.pid, WAIT_MS, &st));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %#x", st);
}

Test(faults, closed_stdout_pidfile_exact)
{
	closed_stdio_test(">&-");
}

Test(faults, closed_stderr_pidfile_exact)
{
	closed_stdio_test("2>&-");
}

/* 8: the kernel cannot fork a monitor: event=monitor_spawn_failed with the errno text,
 * retried with the doubling backoff of dying monitors. */
Test(faults, monitor_fork_failure_is_an_event_with_backoff)
{
	char line[4096], fault[700];
	const char *file = tl_path("fork.fault");
	touch(file);
	snprintf(fault, sizeof(fault), "RON_FAULT_FORK=%s", file);
	char *faults[] = {fault, NULL};
	ft_start(&k1, ft_shim_env(faults));
	EXPECT(&k1, line, "event=monitor_spawn_failed", "service=svc-index",
	       "fork: Resource temporarily unavailable", "delay_ms=50");
	EXPECT(&k1, line, "event=monitor_spawn_failed", "service=svc-index", "delay_ms=100");
	EXPECT(&k1, line, "event=monitor_spawn_failed", "service=svc-index", "delay_ms=200");
	cr_assert(!logged(&k1, "event=monitor_started"));
	cr_assert_eq(unlink(file), 0);
	EXPECT(&k1, line, "event=all_ready");
	ft_stop(&k1);
}

/* 7: a replacement monitor that cannot place its descriptors says why, on stderr and
 * to the kernel; the kernel retries and, once it can, adopts the same service. */
Test(faults, replacement_monitor_setup_failure_is_reported)
{
	struct tl_row rows[3], now;
	char line[4096], pidstr[32];
	char *argv[] = {RON_BUILD_DIR "/ron-kernel", NULL};
	int out, err;
	static struct tl_lines errs;
	k1.pid = tl_spawn(argv, ft_env(NULL), &out, &err);
	tl_lines_init(&k1.r, out);
	tl_lines_init(&errs, err);
	EXPECT(&k1, line, "event=all_ready");
	cr_assert(tl_wait_for(all_healthy, NULL, WAIT_MS));
	for (int i = 0; i < 3; i++)
		cr_assert(ft_row(names[i], &rows[i]));
	/* One descriptor to spare: with the lost monitor's four (its status, heartbeat
	 * and command pipes and its pidfd) the new monitor's pipes fit, and then nothing
	 * more. */
	set_nofile(k1.pid, (rlim_t)nth_free_fd(k1.pid, 3));
	cr_assert_eq(kill(rows[2].mpid, SIGKILL), 0);
	EXPECT(&k1, line, "event=monitor_lost", "service=svc-storage");
	EXPECT(&k1, line, "event=monitor_failed", "service=svc-storage", "Too many open files");
	cr_assert(tl_expect(&errs, line, sizeof(line), WAIT_MS, "monitor of svc-storage",
			    "Too many open files", NULL),
		  "%s", errs.log);
	EXPECT(&k1, line, "event=monitor_lost", "service=svc-storage", "code=71");
	cr_assert(tl_pid_alive(rows[2].pid));
	set_nofile(k1.pid, 1024);
	snprintf(pidstr, sizeof(pidstr), "adopt_pid=%d", (int)rows[2].pid);
	EXPECT(&k1, line, "event=monitor_started", "service=svc-storage", pidstr);
	cr_assert(tl_wait_for(all_healthy, NULL, WAIT_MS));
	cr_assert(ft_row("svc-storage", &now));
	cr_assert_eq(now.pid, rows[2].pid);
	cr_assert_eq(count_services(2), 1);
	ft_stop(&k1);
}

/* 10: the group of an adopted service is swept by the kernel, its reaper, while the
 * leader's zombie still holds the group id. */
static bool pid_gone(void *arg)
{
	return !tl_pid_alive((pid_t)(intptr_t)arg);
}

Test(faults, adopted_service_group_swept_by_its_reaper)
{
	struct tl_row rows[3];
	char line[4096], wrapper[700], bin[800], gcfile[700], pidstr[32];
	snprintf(gcfile, sizeof(gcfile), "%s", tl_path("gc.pid"));
	snprintf(wrapper, sizeof(wrapper), "%s", tl_path("svc-index"));
	FILE *f = fopen(wrapper, "w");
	cr_assert(f);
	fprintf(f, "#!/bin/sh\nSIM_GRANDCHILD=1 SIM_GRANDCHILD_PIDFILE=%s exec %s/sim/svc-index\n",
		gcfile, RON_BUILD_DIR);
	fclose(f);
	cr_assert_eq(chmod(wrapper, 0755), 0);
	snprintf(bin, sizeof(bin), "RON_SVC_INDEX_BIN=%s", wrapper);
	char *extra[] = {bin, NULL};
	ft_start_ready(&k1, extra, rows);
	char text[64];
	cr_assert_gt(tl_read_file(gcfile, text, sizeof(text)), 0);
	pid_t gc = (pid_t)atoi(text);
	cr_assert(gc > 0 && tl_pid_alive(gc));

	cr_assert_eq(kill(rows[0].mpid, SIGKILL), 0);
	snprintf(pidstr, sizeof(pidstr), "pid=%d ", (int)rows[0].pid);
	EXPECT(&k1, line, "event=adopted", "service=svc-index", pidstr);
	cr_assert_eq(kill(rows[0].pid, SIGKILL), 0);
	EXPECT(&k1, line, "event=reaped", "service=svc-index");
	cr_assert(tl_wait_for(pid_gone, (void *)(intptr_t)gc, WAIT_MS),
		  "the grandchild %d of the adopted service outlived it", (int)gc);
	EXPECT(&k1, line, "event=ready", "service=svc-index");
	ft_stop(&k1);
}

/* 10: a long binary path gives way in the middle; the error text stays whole. */
Test(faults, long_spawn_reason_keeps_errno_text)
{
	char bin[400], why[200];
	memset(bin, 'x', sizeof(bin) - 1);
	bin[0] = '/';
	bin[sizeof(bin) - 1] = '\0';
	spawn_reason(why, sizeof(why), bin, "exec", ENOENT);
	cr_assert_lt(strlen(why), sizeof(why));
	const char *tail = ": exec: No such file or directory";
	cr_assert(strlen(why) > strlen(tail) && strcmp(why + strlen(why) - strlen(tail), tail) == 0,
		  "%s", why);
	cr_assert(strncmp(why, "spawn failed: /xx", 17) == 0 && strstr(why, "..."), "%s", why);
	spawn_reason(why, sizeof(why), "svc-index", NULL, ENOENT);
	cr_assert_str_eq(why, "spawn failed: svc-index: No such file or directory");
}

/* 6: start-up hygiene itself: a closed fd 1 comes back as /dev/null, an open one is
 * left alone, and a hard limit too low is named. */
Test(faults, startup_stdio_reopens_closed_descriptors)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(1);
		int mask = startup_stdio();
		char path[64];
		ssize_t n = readlink("/proc/self/fd/1", path, sizeof(path) - 1);
		path[n > 0 ? n : 0] = '\0';
		_exit(mask == 2 && strcmp(path, "/dev/null") == 0 ? 0 : 1);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fd 1 not reopened on /dev/null");
	cr_assert_eq(startup_stdio(), 0, "nothing to do when all three are open");
	char why[256];
	struct rlimit lim = {16, 16};
	startup_nofile_warning(&lim, 28, why, sizeof(why));
	cr_assert(strstr(why, "hard limit 16") && strstr(why, "28"), "%s", why);
	lim.rlim_max = 4096;
	startup_nofile_warning(&lim, 28, why, sizeof(why));
	cr_assert_str_eq(why, "");
}
