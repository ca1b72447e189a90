/* Containment: every process of a service accounted for, monitors out of the
 * kernel's process group, and only the service's own process answering its check.
 * The real kernel, monitor and svc-sim, each test in its own run directory. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json.h>

#include "cgroup.h"
#include "clock.h"
#include "testlib.h"

#define WAIT_MS 30000
#define STOP_MS 2000

static const char *const names[3] = {"svc-index", "svc-overlay", "svc-storage"};

TestSuite(contain, .init = tl_setup, .fini = tl_teardown, .timeout = 120);

struct kt {
	pid_t pid;
	struct tl_lines r;
};

/* A test kernel's environment: run directory run_dir (under this test's directory),
 * sockets in sock_dir, svc-sim, short timings; extra entries come last and win. */
static char **ct_env(const char *run_dir, const char *sock_dir, char *const extra[])
{
	return tl_kernel_env(run_dir, sock_dir, extra);
}

static void ct_start_in(struct kt *k, const char *run_dir, const char *sock_dir,
			char *const extra[])
{
	char *argv[] = {RON_BUILD_DIR "/ron-kernel", NULL};
	int out;
	k->pid = tl_spawn(argv, ct_env(run_dir, sock_dir, extra), &out, NULL);
	tl_lines_init(&k->r, out);
}

static void ct_start(struct kt *k, char *const extra[])
{
	ct_start_in(k, "run", ".", extra);
}

#define EXPECT(k, line, ...)                                                                       \
	cr_assert(tl_expect(&(k)->r, line, sizeof(line), WAIT_MS, __VA_ARGS__, NULL),              \
		  "no line with " #__VA_ARGS__ " in kernel output:\n%s", (k)->r.log)

/* Processes started under this test's run directory (they carry RON_RUN_DIR). */
static int run_dir_procs(const char *run_dir)
{
	char want[700];
	pid_t pids[64];
	snprintf(want, sizeof(want), "RON_RUN_DIR=%s/%s", tl_dir(), run_dir);
	return tl_procs_with_env(want, pids, 64);
}

/* "pid comm ppid pgid; ..." of what is left, for failure messages. */
static const char *run_dir_list(const char *run_dir)
{
	static char buf[4096];
	char want[700], path[64], stat[512];
	pid_t pids[64];
	snprintf(want, sizeof(want), "RON_RUN_DIR=%s/%s", tl_dir(), run_dir);
	int n = tl_procs_with_env(want, pids, 64);
	size_t off = 0;
	buf[0] = '\0';
	for (int i = 0; i < n && i < 64 && off < sizeof(buf) - 600; i++) {
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pids[i]);
		if (tl_read_file(path, stat, sizeof(stat)) > 0)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%.80s; ", stat);
	}
	return buf;
}

static bool run_dir_empty(void *arg)
{
	return run_dir_procs(arg) == 0;
}

/* The pids of every monitor and service status.json names. */
static int status_pids(const char *run_dir, pid_t *pids, int max)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/%s/status.json", tl_dir(), run_dir);
	json_object *o = json_object_from_file(path), *a, *v;
	int n = 0;
	if (o && json_object_object_get_ex(o, "services", &a)) {
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			json_object *e = json_object_array_get_idx(a, i);
			if (json_object_object_get_ex(e, "pid", &v) && json_object_get_int(v) > 0 &&
			    n < max)
				pids[n++] = json_object_get_int(v);
			if (json_object_object_get_ex(e, "mpid", &v) &&
			    json_object_get_int(v) > 0 && n < max)
				pids[n++] = json_object_get_int(v);
		}
	}
	json_object_put(o);
	return n;
}

struct pids {
	pid_t p[16];
	int n;
};

static bool pids_gone(void *arg)
{
	struct pids *ps = arg;
	for (int i = 0; i < ps->n; i++)
		if (tl_pid_alive(ps->p[i]))
			return false;
	return true;
}

static bool six_pids(void *arg)
{
	struct pids *ps = arg;
	ps->n = status_pids("run", ps->p, 16);
	return ps->n == 6;
}

/* `kill -KILL -- -PGID` of the kernel reaches the kernel alone: each monitor, in a
 * group of its own, sees its parent die and stops its service. */
Test(contain, group_kill_of_the_kernel_leaves_nothing)
{
	struct kt k;
	struct pids ps;
	char line[4096];
	ct_start(&k, NULL);
	EXPECT(&k, line, "event=all_ready");
	cr_assert(tl_wait_for(six_pids, &ps, WAIT_MS), "status.json never named 3 monitors "
						       "and 3 services");
	pid_t pgid = getpgid(k.pid);
	cr_assert_eq(pgid, k.pid, "the test starts the kernel as a group leader");
	for (int i = 0; i < ps.n; i++)
		cr_assert_neq(getpgid(ps.p[i]), pgid, "pid %d is in the kernel's group",
			      (int)ps.p[i]);
	cr_assert_eq(kill(-pgid, SIGKILL), 0);
	int st;
	cr_assert(tl_wait_exit(k.pid, WAIT_MS, &st));
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	int64_t t0 = clock_mono_us();
	cr_assert(tl_wait_for(pids_gone, &ps, STOP_MS + 1000),
		  "monitors or services left %lld ms after the group kill",
		  (long long)(clock_mono_us() - t0) / 1000);
	cr_assert(tl_wait_for(run_dir_empty, "run", 1000), "%d processes of the run directory left",
		  run_dir_procs("run"));
}

/* Reads what the kernel wrote so far; false if a monitor died of SIGHUP or SIGTERM. */
static bool no_monitor_signalled(struct kt *k, int timeout_ms, char *bad, size_t badlen)
{
	char line[4096];
	while (tl_next_line(&k->r, line, sizeof(line), timeout_ms)) {
		if (strstr(line, "event=monitor_") &&
		    (strstr(line, "signal=SIGHUP") || strstr(line, "signal=SIGTERM"))) {
			snprintf(bad, badlen, "%s", line);
			return false;
		}
	}
	return true;
}

/* SIGHUP to the kernel is forwarded to every monitor, including one forked a moment
 * ago: it waits, blocked, until the monitor's signalfd takes it. */
Test(contain, sighup_storm_while_monitors_are_replaced)
{
	struct kt k;
	char line[4096], bad[4096] = "";
	char *extra[] = {"RON_STABLE_MS=50", NULL};
	ct_start(&k, extra);
	EXPECT(&k, line, "event=all_ready");
	int turns = 0, replaced = 0;
	int64_t end = clock_mono_us() + 3000000;
	bool ok = true;
	while (ok && clock_mono_us() < end) {
		for (int i = 0; i < 20; i++)
			kill(k.pid, SIGHUP);
		/* A monitor killed now and then keeps new ones coming. */
		if (++turns % 25 == 0) {
			pid_t p[16];
			int n = status_pids("run", p, 16);
			for (int i = 0; i < n; i++) {
				char path[64], comm[32];
				snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)p[i]);
				if (tl_read_file(path, comm, sizeof(comm)) > 0 &&
				    strstr(comm, "ron-monitor")) {
					kill(p[i], SIGKILL);
					replaced++;
					break;
				}
			}
		}
		ok = no_monitor_signalled(&k, 1, bad, sizeof(bad));
	}
	cr_assert(ok, "a monitor died of a forwarded signal: %s", bad);
	cr_assert_gt(replaced, 5);
	cr_assert_eq(kill(k.pid, SIGTERM), 0);
	while (tl_next_line(&k.r, line, sizeof(line), WAIT_MS))
		cr_assert(!strstr(line, "signal=SIGHUP"), "%s", line);
	int st;
	cr_assert(tl_wait_exit(k.pid, WAIT_MS, &st));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Two services naming one socket: refused before anything starts. */
Test(contain, shared_socket_in_one_config_is_refused)
{
	char out[4096], err[4096];
	char idx[600], ovl[600];
	snprintf(idx, sizeof(idx), "RON_INDEX_SOCK=%s/one.sock", tl_dir());
	snprintf(ovl, sizeof(ovl), "RON_OVERLAY_SOCK=%s/one.sock", tl_dir());
	char *extra[] = {idx, ovl, NULL};
	char *argv[] = {RON_BUILD_DIR "/ron-kernel", NULL};
	int st =
	    tl_run(argv, ct_env("run", ".", extra), out, sizeof(out), err, sizeof(err), WAIT_MS);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 78, "status %#x: %s", st, err);
	cr_assert(strstr(err, "two services cannot share a socket"), "%s", err);
	/* The same file under another spelling is caught by its lock. */
	snprintf(ovl, sizeof(ovl), "RON_OVERLAY_SOCK=%s/./one.sock", tl_dir());
	st = tl_run(argv, ct_env("run", ".", extra), out, sizeof(out), err, sizeof(err), WAIT_MS);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 78, "status %#x: %s", st, err);
	cr_assert(strstr(err, "one.sock: the same file as the socket of svc-index"), "%s", err);
	cr_assert_eq(run_dir_procs("run"), 0);
}

/* A second kernel with its own run directory but the same sockets would run a second
 * copy of every service: it exits 75 naming the first. */
Test(contain, two_kernels_same_sockets_second_exits_75)
{
	struct kt k;
	char line[4096], out[4096], err[4096];
	ct_start(&k, NULL);
	EXPECT(&k, line, "event=all_ready");
	char *argv[] = {RON_BUILD_DIR "/ron-kernel", NULL};
	int st =
	    tl_run(argv, ct_env("run2", ".", NULL), out, sizeof(out), err, sizeof(err), WAIT_MS);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 75, "status %#x: %s", st, err);
	char want[64];
	snprintf(want, sizeof(want), "another ron-kernel (pid %d, run directory", (int)k.pid);
	cr_assert(strstr(err, want), "%s", err);
	cr_assert(strstr(err, ".sock.lock"), "%s", err);
	cr_assert_eq(run_dir_procs("run2"), 0, "the second kernel started something");
	/* The first runs on, untouched. */
	cr_assert(tl_pid_alive(k.pid));
	cr_assert(!strstr(k.r.log, "event=exited"), "%s", k.r.log);
	int rc = kill(k.pid, SIGTERM);
	cr_assert_eq(rc, 0);
	cr_assert(tl_wait_exit(k.pid, WAIT_MS, &st));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* Once it is gone, the sockets are free again. */
	struct kt k2;
	ct_start_in(&k2, "run2", ".", NULL);
	EXPECT(&k2, line, "event=all_ready");
	cr_assert_eq(kill(k2.pid, SIGTERM), 0);
	cr_assert(tl_wait_exit(k2.pid, WAIT_MS, &st));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* A stray copy steals a service's socket path (the services unlink and bind): its
 * answers are not the service's health, and the failed checks name it. */
Test(contain, impostor_on_a_socket_fails_the_checks)
{
	struct kt k;
	char line[4096];
	ct_start(&k, NULL);
	EXPECT(&k, line, "event=all_ready");
	char sock[600], pidfile[600];
	snprintf(sock, sizeof(sock), "RON_OVERLAY_SOCK=%s/svc-overlay.sock", tl_dir());
	snprintf(pidfile, sizeof(pidfile), "SIM_PIDFILE=%s", tl_path("impostor.pid"));
	char *argv[] = {RON_BUILD_DIR "/sim/svc-overlay", NULL};
	char *env[] = {sock, pidfile, "RON_RUN_DIR=", NULL};
	int out;
	pid_t imp = tl_spawn(argv, env, &out, NULL);
	struct tl_lines ir;
	tl_lines_init(&ir, out);
	cr_assert(tl_expect(&ir, line, sizeof(line), WAIT_MS, "listening", NULL), "%s", ir.log);
	char want[64];
	snprintf(want, sizeof(want), "answered by pid %d (svc-overlay)", (int)imp);
	EXPECT(&k, line, "service=svc-overlay", want, "not a process of svc-overlay");
	/* The other services' checks still pass. */
	cr_assert(!strstr(k.r.log, "not a process of svc-index"), "%s", k.r.log);
	kill(imp, SIGKILL);
	int st;
	cr_assert(tl_wait_exit(imp, WAIT_MS, &st));
	cr_assert_eq(kill(k.pid, SIGTERM), 0);
	cr_assert(tl_wait_exit(k.pid, WAIT_MS, &st));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* --- helpers, in both modes ---------------------------------------------------------- */

/* Whether this machine lets us make cgroups below our own (root, or a delegated
 * subtree); why not, if it does not. */
static bool cgroup_writable(char *why, size_t whylen)
{
	char mnt[CGROUP_PATH_MAX], own[CGROUP_PATH_MAX], probe[CGROUP_PATH_MAX * 2 + 64];
	if (cgroup_mount(mnt, sizeof(mnt), why, whylen) < 0)
		return false;
	if (cgroup_of_pid(getpid(), own, sizeof(own)) < 0) {
		snprintf(why, whylen, "no 0:: line in /proc/self/cgroup");
		return false;
	}
	snprintf(probe, sizeof(probe), "%s%s/ron-test-probe.%d", mnt, strcmp(own, "/") ? own : "",
		 (int)getpid());
	if (mkdir(probe, 0755) < 0) {
		if (snprintf(why, whylen, "mkdir %s: %s", probe, strerror(errno)) >= (int)whylen)
			why[whylen - 1] = '\0';
		return false;
	}
	rmdir(probe);
	return true;
}

#define NEED_CGROUP()                                                                              \
	do {                                                                                       \
		char why_[512];                                                                    \
		if (!cgroup_writable(why_, sizeof(why_)))                                          \
			cr_skip_test("cgroup v2 is not writable here (%s): the cgroup variant "    \
				     "is skipped, the process-group one still runs",               \
				     why_);                                                        \
	} while (0)

/* The processes of the run directory named like the service (svc-sim's helpers keep
 * its name) other than the leader: the helpers of service i. */
static int helpers_of(int i, pid_t leader, pid_t *out, int max)
{
	char want[700], path[64], comm[64];
	pid_t pids[64];
	snprintf(want, sizeof(want), "RON_RUN_DIR=%s/run", tl_dir());
	int n = tl_procs_with_env(want, pids, 64), h = 0;
	for (int j = 0; j < n && j < 64; j++) {
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pids[j]);
		if (tl_read_file(path, comm, sizeof(comm)) <= 0)
			continue;
		comm[strcspn(comm, "\n")] = '\0';
		if (strcmp(comm, names[i]) == 0 && pids[j] != leader && h < max)
			out[h++] = pids[j];
	}
	return h;
}

struct svcs {
	pid_t leader[3], helper[3];
};

/* Each service's leader (status.json) and its one helper, once both are there. */
static bool svcs_with_helpers(void *arg)
{
	struct svcs *v = arg;
	char path[600];
	snprintf(path, sizeof(path), "%s/run/status.json", tl_dir());
	json_object *o = json_object_from_file(path), *a, *e, *x;
	bool ok =
	    o && json_object_object_get_ex(o, "services", &a) && json_object_array_length(a) == 3;
	for (int i = 0; ok && i < 3; i++) {
		e = json_object_array_get_idx(a, i);
		json_object_object_get_ex(e, "service", &x);
		int idx = strcmp(json_object_get_string(x), names[0]) == 0   ? 0
			  : strcmp(json_object_get_string(x), names[1]) == 0 ? 1
									     : 2;
		json_object_object_get_ex(e, "pid", &x);
		v->leader[idx] = json_object_get_int(x);
		ok = v->leader[idx] > 0 && helpers_of(idx, v->leader[idx], &v->helper[idx], 1) == 1;
	}
	json_object_put(o);
	return ok;
}

static void helpers_gone_after_sigterm(const char *mode, bool setsid)
{
	struct kt k;
	struct svcs v;
	char line[4096], cont[64];
	snprintf(cont, sizeof(cont), "RON_CONTAINMENT=%s", mode);
	char *extra[] = {cont, "SIM_GRANDCHILD=1", setsid ? "SIM_GRANDCHILD_SETSID=1" : NULL, NULL};
	ct_start(&k, extra);
	EXPECT(&k, line, "event=start", "containment=", mode);
	EXPECT(&k, line, "event=all_ready");
	cr_assert(tl_wait_for(svcs_with_helpers, &v, WAIT_MS), "no helper for every service");
	for (int i = 0; i < 3; i++)
		if (setsid)
			cr_assert_eq(getsid(v.helper[i]), v.helper[i],
				     "the helper has its session");
	cr_assert_eq(kill(k.pid, SIGTERM), 0);
	int st;
	cr_assert(tl_wait_exit(k.pid, WAIT_MS, &st));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%#x:\n%s", st, k.r.log);
	/* A killed process may be a zombie a moment longer, until init reaps it. */
	cr_assert(tl_wait_for(run_dir_empty, "run", 1000), "left after the kernel exited: %s",
		  run_dir_list("run"));
}

Test(contain, helpers_gone_after_sigterm_pgroup)
{
	helpers_gone_after_sigterm("pgroup", false);
}

Test(contain, helpers_gone_after_sigterm_cgroup)
{
	NEED_CGROUP();
	helpers_gone_after_sigterm("cgroup", true);
}

/* One service dies with its monitor: the kernel cleans up after it alone. */
static void others_untouched(const char *mode, bool setsid)
{
	struct kt k;
	struct svcs v;
	char line[4096], cont[64];
	snprintf(cont, sizeof(cont), "RON_CONTAINMENT=%s", mode);
	char *extra[] = {cont, "SIM_GRANDCHILD=1", setsid ? "SIM_GRANDCHILD_SETSID=1" : NULL, NULL};
	ct_start(&k, extra);
	EXPECT(&k, line, "event=all_ready");
	cr_assert(tl_wait_for(svcs_with_helpers, &v, WAIT_MS), "no helper for every service");
	pid_t p[16];
	int n = status_pids("run", p, 16);
	pid_t mpid = 0;
	for (int i = 0; i < n; i++) {
		char path[64], cmd[64];
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)p[i]);
		if (tl_read_file(path, cmd, sizeof(cmd)) > 0 && strstr(cmd, "ron-monitor") &&
		    mpid == 0) {
			char want[64];
			snprintf(want, sizeof(want), "service=svc-index mpid=%d", (int)p[i]);
			if (strstr(k.r.log, want))
				mpid = p[i];
		}
	}
	cr_assert_gt(mpid, 0, "no monitor of svc-index in status.json");
	/* Monitor first, so it cannot restart the service it loses. */
	cr_assert_eq(kill(mpid, SIGKILL), 0);
	cr_assert_eq(kill(v.leader[0], SIGKILL), 0);
	EXPECT(&k, line, "event=monitor_lost", "service=svc-index");
	EXPECT(&k, line, "event=ready", "service=svc-index");
	for (int i = 1; i < 3; i++)
		cr_assert(tl_pid_alive(v.helper[i]), "the helper of %s was killed:\n%s", names[i],
			  k.r.log);
	cr_assert(tl_pid_alive(v.leader[1]) && tl_pid_alive(v.leader[2]));
	for (int i = 1; i < 3; i++) {
		char killed[64];
		snprintf(killed, sizeof(killed), "event=orphan_killed pid=%d ", (int)v.helper[i]);
		cr_assert(!strstr(k.r.log, killed), "%s", k.r.log);
	}
	/* svc-index's own helper went with it (cgroup) or is its own again (pgroup). */
	if (setsid)
		cr_assert_not(tl_pid_alive(v.helper[0]), "the lost service's helper lives on");
	cr_assert_eq(kill(k.pid, SIGTERM), 0);
	int st;
	cr_assert(tl_wait_exit(k.pid, WAIT_MS, &st));
	cr_assert(tl_wait_for(run_dir_empty, "run", 1000), "left: %s\n%s", run_dir_list("run"),
		  k.r.log);
}

Test(contain, other_services_helpers_untouched_pgroup)
{
	others_untouched("pgroup", false);
}

Test(contain, other_services_helpers_untouched_cgroup)
{
	NEED_CGROUP();
	others_untouched("cgroup", true);
}

/* A leader that exits while its helper runs on: the helper is stopped before the
 * restart, and the exit line says so. */
static void leader_exits(const char *mode, bool setsid)
{
	struct kt k;
	struct svcs v;
	char line[4096], cont[64];
	snprintf(cont, sizeof(cont), "RON_CONTAINMENT=%s", mode);
	char *extra[] = {cont, "SIM_CRASH_AFTER_MS=1500", "SIM_GRANDCHILD=1",
			 setsid ? "SIM_GRANDCHILD_SETSID=1" : NULL, NULL};
	ct_start(&k, extra);
	EXPECT(&k, line, "event=all_ready");
	cr_assert(tl_wait_for(svcs_with_helpers, &v, WAIT_MS), "no helper for every service");
	char want[64];
	snprintf(want, sizeof(want), "pid=%d", (int)v.leader[0]);
	EXPECT(&k, line, "event=exited", "service=svc-index", want);
	if (setsid)
		cr_assert(strstr(line, "1 helper process left running, killed"), "%s", line);
	/* cgroup: by the time the exit is reported (and so before any restart) the helper
	 * is gone; a process group's SIGKILL is not waited for, and lands a moment later. */
	struct pids h = {{v.helper[0]}, 1};
	cr_assert(tl_wait_for(pids_gone, &h, setsid ? 0 : 1000),
		  "helper %d outlived its leader: %s", (int)v.helper[0], line);
	EXPECT(&k, line, "event=spawned", "service=svc-index");
	cr_assert_eq(kill(k.pid, SIGTERM), 0);
	int st;
	cr_assert(tl_wait_exit(k.pid, WAIT_MS, &st));
}

Test(contain, leader_exits_helper_stopped_pgroup)
{
	leader_exits("pgroup", false);
}

Test(contain, leader_exits_helper_stopped_cgroup)
{
	NEED_CGROUP();
	leader_exits("cgroup", true);
}

static bool two_procs_each(void *arg)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/run/status.json", tl_dir());
	json_object *o = json_object_from_file(path), *a, *x;
	bool ok = o && json_object_object_get_ex(o, "services", &a);
	for (size_t i = 0; ok && i < json_object_array_length(a); i++)
		ok = json_object_object_get_ex(json_object_array_get_idx(a, i), "procs", &x) &&
		     json_object_get_int(x) == 2;
	json_object_put(o);
	return ok;
}

/* The kernel and its monitors killed at once (a stopped kernel cannot react): the next
 * kernel on the run directory finds the services and their helpers by cgroup and
 * kills them before it starts anything. */
Test(contain, next_kernel_kills_leftovers_by_cgroup)
{
	NEED_CGROUP();
	struct kt k, k2;
	struct svcs v;
	char line[4096];
	char *extra[] = {"RON_CONTAINMENT=cgroup", "SIM_GRANDCHILD=1", "SIM_GRANDCHILD_SETSID=1",
			 NULL};
	ct_start(&k, extra);
	EXPECT(&k, line, "event=all_ready");
	cr_assert(tl_wait_for(svcs_with_helpers, &v, WAIT_MS), "no helper for every service");
	/* --status counts both processes of each service. */
	cr_assert(tl_wait_for(two_procs_each, NULL, WAIT_MS), "status.json never said procs=2");
	char out[8192], err[4096], rd[600];
	snprintf(rd, sizeof(rd), "--run-dir=%s/run", tl_dir());
	char *sargv[] = {RON_BUILD_DIR "/ron-kernel", "--status", rd, NULL};
	cr_assert_eq(tl_run(sargv, NULL, out, sizeof(out), err, sizeof(err), WAIT_MS), 0);
	cr_assert(strstr(out, "PROCS"), "%s", out);
	pid_t p[16];
	int n = status_pids("run", p, 16);
	cr_assert_eq(kill(k.pid, SIGSTOP), 0);
	for (int i = 0; i < n; i++)
		if (p[i] != v.leader[0] && p[i] != v.leader[1] && p[i] != v.leader[2])
			kill(p[i], SIGKILL);
	cr_assert_eq(kill(k.pid, SIGKILL), 0);
	int st;
	cr_assert(tl_wait_exit(k.pid, WAIT_MS, &st));
	for (int i = 0; i < 3; i++)
		cr_assert(tl_pid_alive(v.leader[i]) && tl_pid_alive(v.helper[i]),
			  "%s or its helper did not survive: no test", names[i]);
	ct_start(&k2, extra);
	EXPECT(&k2, line, "event=stale_cgroup_killed", "procs=2");
	EXPECT(&k2, line, "event=all_ready");
	/* Every leftover reported (and killed) before the first monitor started. */
	const char *first = strstr(k2.r.log, "event=monitor_started");
	cr_assert(first);
	for (int i = 0; i < 3; i++) {
		char want[64];
		snprintf(want, sizeof(want), "event=stale_cgroup_killed cgroup=%s procs=2",
			 names[i]);
		const char *at = strstr(k2.r.log, want);
		cr_assert(at && at < first, "%s not before the first start:\n%s", want, k2.r.log);
	}
	for (int i = 0; i < 3; i++)
		cr_assert(!tl_pid_alive(v.leader[i]) && !tl_pid_alive(v.helper[i]),
			  "an old process of %s lives on", names[i]);
	cr_assert_eq(kill(k2.pid, SIGTERM), 0);
	cr_assert(tl_wait_exit(k2.pid, WAIT_MS, &st));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* --- the parsers of what /proc says ---------------------------------------------------- */

Test(contain, mountinfo_finds_cgroup2_unified_and_hybrid)
{
	char mnt[CGROUP_PATH_MAX];
	const char *unified = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
			      "30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 "
			      "rw,nsdelegate\n";
	cr_assert_eq(cgroup_parse_mountinfo(unified, strlen(unified), mnt, sizeof(mnt)), 0);
	cr_assert_str_eq(mnt, "/sys/fs/cgroup");
	/* Hybrid: v1 hierarchies first, cgroup2 below them; optional fields vary in number. */
	const char *hybrid = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
			     "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
			     "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 master:2 - "
			     "cgroup2 cgroup2 rw\n";
	cr_assert_eq(cgroup_parse_mountinfo(hybrid, strlen(hybrid), mnt, sizeof(mnt)), 0);
	cr_assert_str_eq(mnt, "/sys/fs/cgroup/unified");
	const char *esc = "41 31 0:38 / /mnt/a\\040b\\134c rw - cgroup2 none rw\n";
	cr_assert_eq(cgroup_parse_mountinfo(esc, strlen(esc), mnt, sizeof(mnt)), 0);
	cr_assert_str_eq(mnt, "/mnt/a b\\c");
	/* A mount point named "cgroup2" or a v1 "cgroup" file system is not it. */
	const char *none = "31 23 0:28 / /cgroup2 rw - tmpfs cgroup2x rw\n"
			   "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
			   "33 31 0:29 / /x rw - cgroup2";
	cr_assert_eq(cgroup_parse_mountinfo(none, strlen(none) - 7, mnt, sizeof(mnt)), -1);
	char tiny[8];
	cr_assert_eq(cgroup_parse_mountinfo(unified, strlen(unified), tiny, sizeof(tiny)), -1);
}

Test(contain, proc_cgroup_takes_the_unified_line)
{
	char path[CGROUP_PATH_MAX];
	const char *v = "9:name=systemd:/\n4:memory:/x/y\n0::/ron-kernel.1/_kernel\n";
	cr_assert_eq(cgroup_parse_proc(v, strlen(v), path, sizeof(path)), 0);
	cr_assert_str_eq(path, "/ron-kernel.1/_kernel");
	cr_assert_eq(cgroup_parse_proc("0::/\n", 5, path, sizeof(path)), 0);
	cr_assert_str_eq(path, "/");
	cr_assert_eq(cgroup_parse_proc("1:name=systemd:/\n", 17, path, sizeof(path)), -1);
	cr_assert_eq(cgroup_parse_proc("0::", 3, path, sizeof(path)), -1);
	cr_assert_eq(cgroup_parse_proc("0::x\n", 5, path, sizeof(path)), -1);
	char tiny[4];
	cr_assert_eq(cgroup_parse_proc("0::/abcd\n", 9, tiny, sizeof(tiny)), -1);
}

/* RON_CONTAINMENT takes three words; anything else is refused like every setting. */
Test(contain, containment_setting_is_checked)
{
	char out[4096], err[4096];
	char *extra[] = {"RON_CONTAINMENT=cgroups", NULL};
	char *argv[] = {RON_BUILD_DIR "/ron-kernel", NULL};
	int st =
	    tl_run(argv, ct_env("run", ".", extra), out, sizeof(out), err, sizeof(err), WAIT_MS);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 78, "status %#x: %s", st, err);
	cr_assert(strstr(err, "RON_CONTAINMENT=cgroups"), "%s", err);
}

/* Where cgroup v2 is writable, auto uses it and says where; where it is not,
 * RON_CONTAINMENT=cgroup refuses to start and auto falls back, saying why. */
Test(contain, start_line_names_the_mode)
{
	char why[512], line[4096];
	struct kt k;
	bool cg = cgroup_writable(why, sizeof(why));
	ct_start(&k, NULL);
	if (cg)
		EXPECT(&k, line, "event=start", "containment=cgroup", "path=", "/ron-kernel.");
	else
		EXPECT(&k, line, "event=start", "containment=pgroup", "reason=");
	EXPECT(&k, line, "event=all_ready");
	int st;
	cr_assert_eq(kill(k.pid, SIGTERM), 0);
	cr_assert(tl_wait_exit(k.pid, WAIT_MS, &st));
	if (!cg) {
		char out[4096], err[4096];
		char *extra[] = {"RON_CONTAINMENT=cgroup", NULL};
		char *argv[] = {RON_BUILD_DIR "/ron-kernel", NULL};
		st = tl_run(argv, ct_env("run", ".", extra), out, sizeof(out), err, sizeof(err),
			    WAIT_MS);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 78, "status %#x: %s", st, err);
		cr_assert(strstr(err, "cgroup v2 cannot be used"), "%s", err);
	}
}

/* RON_CONTAINMENT=cgroup where cgroup v2 cannot be used refuses to start.  As root
 * here it can be; a kernel run as nobody cannot create cgroups below ours. */
Test(contain, cgroup_required_but_unusable_exits_78)
{
	if (geteuid() != 0) {
		cr_skip_test("needs root to run a kernel as another user");
		return;
	}
	char run[600], sock[700], conf[700];
	snprintf(run, sizeof(run), "%s/nrun", tl_dir());
	cr_assert_eq(chmod(tl_dir(), 0711), 0);
	cr_assert_eq(mkdir(run, 0700), 0);
	cr_assert_eq(chown(run, 65534, 65534), 0);
	snprintf(conf, sizeof(conf), "RON_CONTAINMENT=cgroup");
	char *extra[8] = {conf};
	int n = 1;
	static char socks[3][800];
	for (int i = 0; i < 3; i++) {
		snprintf(sock, sizeof(sock), "%s/%s.sock", run, tl_seed_names[i]);
		snprintf(socks[i], sizeof(socks[i]), "%s=%s", tl_seed_sock_vars[i], sock);
		extra[n++] = socks[i];
	}
	extra[n] = NULL;
	char **env = ct_env("nrun", "nrun", extra);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(p[1], 2);
		dup2(p[1], 1);
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(99);
		tl_apply_env(env);
		execl(RON_BUILD_DIR "/ron-kernel", "ron-kernel", (char *)NULL);
		_exit(98);
	}
	close(p[1]);
	char out[4096];
	size_t len = 0;
	ssize_t r;
	while (len + 1 < sizeof(out) && (r = read(p[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)r;
	out[len] = '\0';
	close(p[0]);
	int st;
	cr_assert(tl_wait_exit(pid, WAIT_MS, &st));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 78, "status %#x: %s", st, out);
	cr_assert(strstr(out, "RON_CONTAINMENT=cgroup: cgroup v2 cannot be used"), "%s", out);
}

/* Fuzzing found it: a NUL in a mount point (raw, or escaped as \000) made an empty or
 * cut path; such a line is not taken, nor one whose mount point is not absolute. */
Test(contain, mountinfo_nul_in_mount_point_refused)
{
	char mnt[CGROUP_PATH_MAX];
	const char raw[] = "30 23 0:26 / /mnt/m\0y rw - cgroup2 none rw\n";
	cr_assert_eq(cgroup_parse_mountinfo(raw, sizeof(raw) - 1, mnt, sizeof(mnt)), -1);
	const char *esc = "30 23 0:26 / /mnt/\\000y rw - cgroup2 none rw\n";
	cr_assert_eq(cgroup_parse_mountinfo(esc, strlen(esc), mnt, sizeof(mnt)), -1);
	const char *rel = "30 23 0:26 / mnt rw - cgroup2 none rw\n";
	cr_assert_eq(cgroup_parse_mountinfo(rel, strlen(rel), mnt, sizeof(mnt)), -1);
}

/* A service whose cgroup was emptied through cgroup.kill is restarted once and stays
 * up: some kernels kill every child later cloned into such a cgroup
 * (CLONE_INTO_CGROUP), and the monitor must see that and fork instead, never
 * reporting a service killed at birth. */
Test(contain, restart_after_cgroup_kill_is_not_killed_at_birth)
{
	NEED_CGROUP();
	char line[4096], path[700];
	struct kt k;
	char *extra[] = {"RON_CONTAINMENT=cgroup", NULL};
	ct_start(&k, extra);
	EXPECT(&k, line, "event=start", "containment=cgroup");
	const char *p = strstr(line, " path=");
	cr_assert_not_null(p, "%s", line);
	int n = snprintf(path, sizeof(path), "%.*s/svc-index/cgroup.kill",
			 (int)strcspn(p + 6, " \n"), p + 6);
	cr_assert(n > 0 && n < (int)sizeof(path));
	EXPECT(&k, line, "event=all_ready");
	for (int round = 0; round < 2; round++) {
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
		cr_assert_eq(write(fd, "1", 1), 1, "write %s: %s", path, strerror(errno));
		close(fd);
		EXPECT(&k, line, "event=exited", "service=svc-index", "signal=SIGKILL");
		EXPECT(&k, line, "event=ready", "service=svc-index");
	}
	/* Exactly the two kills: no start was killed before it could run. */
	int exits = 0;
	for (const char *s = k.r.log; (s = strstr(s, "event=exited service=svc-index")); s++) {
		exits++;
		/* Of the exit lines only: a status line in backoff says uptime_ms=0 too. */
		size_t len = strcspn(s, "\n");
		const char *born = strstr(s, " uptime_ms=0 ");
		cr_assert(!born || born > s + len, "a start killed at birth: %.*s", (int)len, s);
	}
	cr_assert_eq(exits, 2, "%s", k.r.log);
	int st;
	cr_assert_eq(kill(k.pid, SIGTERM), 0);
	cr_assert(tl_wait_exit(k.pid, WAIT_MS, &st));
}
