/* ron-kernel as PID 1 of a new PID namespace, as in a container: orphans of a
 * service that leaves them (grandchildren of ours) are reaped as they die, none
 * pile up as zombies, and SIGTERM still stops everything cleanly.  Needs root
 * and unshare(1). */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "proc.h"
#include "testlib.h"

#define WAIT_MS 30000

TestSuite(pid1, .init = tl_setup, .fini = tl_teardown, .timeout = 120);

/* The first child of pid, 0 if none (yet). */
static pid_t child_of(pid_t pid)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	ssize_t n = tl_read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return (pid_t)atoi(buf);
}

/* Zombies whose parent is ppid. */
static int zombies_of(pid_t ppid)
{
	DIR *d = opendir("/proc");
	cr_assert(d);
	int count = 0;
	for (struct dirent *e; (e = readdir(d));) {
		pid_t pid = atoi(e->d_name);
		char buf[1024], comm[64], state;
		int pp;
		if (pid <= 0)
			continue;
		const char *f = proc_stat_fields(pid, buf, sizeof(buf), comm, sizeof(comm));
		if (f && sscanf(f, " %c %d", &state, &pp) == 2 && pp == ppid && state == 'Z')
			count++;
	}
	closedir(d);
	return count;
}

static bool has_child(void *arg)
{
	pid_t *p = arg;
	return child_of(p[0]) > 0 && (p[1] = child_of(p[0])) > 0;
}

Test(pid1, reaps_every_orphan_and_stops_cleanly)
{
	if (geteuid() != 0)
		cr_skip_test("not root: a new PID namespace needs root");
	if (!tl_have_command("unshare"))
		cr_skip_test("unshare(1) (util-linux) is not installed");
	/* A service that leaves orphans: each subshell exits at once, its sleep is
	 * reparented to PID 1 (ron-kernel) and dies there a moment later. */
	const char *conf = tl_path("zombies.conf");
	FILE *f = fopen(conf, "w");
	cr_assert(f);
	fprintf(f, "[service zombies]\nbin = /bin/sh\n"
		   "args = -c \"while :; do (sleep 0.01 &); sleep 0.01; done\"\nhealth = none\n");
	fclose(f);
	char rundir[600], config[700];
	snprintf(rundir, sizeof(rundir), "RON_RUN_DIR=%s", tl_path("run"));
	snprintf(config, sizeof(config), "--config=%s", conf);
	char *env[] = {rundir,
		       "RON_STATUS_INTERVAL_MS=500",
		       "RON_STOP_TIMEOUT_MS=2000",
		       "RON_HTTP_ADDR=",
		       "RON_METRICS_FILE=",
		       "RON_CONFIG=",
		       NULL};
	char *argv[] = {"/usr/bin/unshare",	     "--pid", "--fork", "--mount-proc",
			RON_BUILD_DIR "/ron-kernel", config,  NULL};
	int out;
	pid_t un = tl_spawn(argv, env, &out, NULL);
	struct tl_lines r;
	tl_lines_init(&r, out);
	char line[4096];
	cr_assert(tl_expect(&r, line, sizeof(line), WAIT_MS, "event=start", NULL), "%s", r.log);
	cr_assert(strstr(line, " pid=1 "), "not PID 1 of its namespace: %s", line);
	pid_t p[2] = {un, 0};
	cr_assert(tl_wait_for(has_child, p, WAIT_MS));
	pid_t kernel = p[1];

	/* Many orphans reaped, and at no look more than a passing few left unreaped. */
	int worst = 0;
	for (int reaped = 0; reaped < 100;) {
		cr_assert(tl_expect(&r, line, sizeof(line), WAIT_MS, "event=reaped", NULL),
			  "orphans are not reaped:\n%s", r.log);
		reaped++;
		if (reaped % 10 == 0) {
			int z = zombies_of(kernel);
			worst = z > worst ? z : worst;
		}
	}
	cr_assert_leq(worst, 3, "%d zombies waiting for PID 1", worst);

	cr_assert_eq(kill(kernel, SIGTERM), 0);
	int st;
	cr_assert(tl_wait_exit(un, WAIT_MS, &st), "ron-kernel as PID 1 did not stop:\n%s", r.log);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %#x:\n%s", st, r.log);
	cr_assert(tl_expect(&r, line, sizeof(line), WAIT_MS, "event=exit", "code=0", NULL), "%s",
		  r.log);
	cr_assert_null(strstr(r.log, "survive SIGKILL"), "%s", r.log);
	cr_assert_null(strstr(r.log, "event=killed"), "a stop needed SIGKILL:\n%s", r.log);
}

/* A child of pid whose /proc/PID/cmdline holds needle, 0 if none. */
static pid_t child_named(pid_t pid, const char *needle)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	ssize_t n = tl_read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (char *p = buf, *end; *p; p = end) {
		pid_t c = (pid_t)strtol(p, &end, 10);
		if (end == p)
			break;
		char cp[64], cmd[256];
		snprintf(cp, sizeof(cp), "/proc/%d/cmdline", (int)c);
		ssize_t m = tl_read_file(cp, cmd, sizeof(cmd) - 1);
		if (m > 0) {
			cmd[m] = '\0';
			for (ssize_t i = 0; i < m; i++)
				cmd[i] = cmd[i] ? cmd[i] : ' ';
			if (strstr(cmd, needle))
				return c;
		}
	}
	return 0;
}

struct named {
	pid_t parent, found;
	const char *needle;
};

static bool has_named_child(void *arg)
{
	struct named *w = arg;
	return (w->found = child_named(w->parent, w->needle)) > 0;
}

/* Finding: as PID 1 every orphan of the container is the kernel's child, and one that
 * no service started (docker exec sh -c 'x &') was SIGKILLed as orphan_killed when a
 * monitor died with its service down.  Only what the kernel started is killed. */
Test(pid1, an_orphan_the_kernel_did_not_start_is_left_alone)
{
	if (geteuid() != 0)
		cr_skip_test("not root: a new PID namespace needs root");
	if (!tl_have_command("unshare") || !tl_have_command("nsenter"))
		cr_skip_test("unshare(1) or nsenter(1) (util-linux) is not installed");
	/* A service that is down most of the time: it fails at once, restarted late. */
	const char *conf = tl_path("down.conf");
	FILE *f = fopen(conf, "w");
	cr_assert(f);
	fprintf(f, "[service flop]\nbin = /bin/false\nhealth = none\nbackoff_min_ms = 20000\n"
		   "backoff_max_ms = 20000\n");
	fclose(f);
	char rundir[600], config[700];
	snprintf(rundir, sizeof(rundir), "RON_RUN_DIR=%s", tl_path("run"));
	snprintf(config, sizeof(config), "--config=%s", conf);
	char *env[] = {rundir, "RON_HTTP_ADDR=", "RON_METRICS_FILE=", "RON_CONFIG=", NULL};
	char *argv[] = {"/usr/bin/unshare",	     "--pid", "--fork", "--mount-proc",
			RON_BUILD_DIR "/ron-kernel", config,  NULL};
	int out;
	pid_t un = tl_spawn(argv, env, &out, NULL);
	struct tl_lines r;
	tl_lines_init(&r, out);
	char line[4096];
	cr_assert(
	    tl_expect(&r, line, sizeof(line), WAIT_MS, "event=restarting", "service=flop", NULL),
	    "%s", r.log);
	pid_t p[2] = {un, 0};
	cr_assert(tl_wait_for(has_child, p, WAIT_MS));
	pid_t kernel = p[1];

	/* Something of the container's own, orphaned into the kernel's care. */
	char target[32], cmd[128];
	snprintf(target, sizeof(target), "%d", (int)kernel);
	snprintf(cmd, sizeof(cmd), "sleep 1000 </dev/null >/dev/null 2>&1 & exit 0");
	char *ns[] = {"/usr/bin/nsenter", "-t", target, "-p", "/bin/sh", "-c", cmd, NULL};
	char o[64], e[256];
	int st = tl_run(ns, NULL, o, sizeof(o), e, sizeof(e), WAIT_MS);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "nsenter: %s", e);
	struct named stray = {kernel, 0, "sleep 1000"}, mon = {kernel, 0, "ron-monitor"};
	cr_assert(tl_wait_for(has_named_child, &stray, WAIT_MS), "the sleep never reached PID 1");
	cr_assert(tl_wait_for(has_named_child, &mon, WAIT_MS), "no monitor");

	/* The monitor dies while its service is down: the kernel sweeps its orphans. */
	cr_assert_eq(kill(mon.found, SIGKILL), 0);
	cr_assert(
	    tl_expect(&r, line, sizeof(line), WAIT_MS, "event=monitor_", "service=flop", NULL),
	    "%s", r.log);
	struct named again = {kernel, 0, "ron-monitor"};
	cr_assert(tl_wait_for(has_named_child, &again, WAIT_MS), "no new monitor:\n%s", r.log);
	cr_assert(tl_pid_alive(stray.found), "the container's own process was killed:\n%s", r.log);
	cr_assert_null(strstr(r.log, "event=orphan_killed"), "%s", r.log);
	kill(stray.found, SIGKILL);
	cr_assert_eq(kill(kernel, SIGTERM), 0);
	cr_assert(tl_wait_exit(un, WAIT_MS, &st), "ron-kernel as PID 1 did not stop:\n%s", r.log);
}
