/* Integration tests of service output captured by the kernel: the real kernel and
 * monitors running shell services (health = none) that write known lines, read
 * back from the kernel's stderr, its stdout (JSON) and its log files. */
#include <dirent.h>
#include <errno.h>
#include <json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "clock.h"
#include "kconf.h"
#include "testlib.h"

#define WAIT_MS 30000

TestSuite(svcout, .init = tl_setup, .fini = tl_teardown, .timeout = 120);

/* A kernel with both its stdout and its stderr read. */
struct so {
	struct kc k;
	struct tl_lines err;
};

static void so_start(struct so *s, char *const extra[])
{
	char *argv[] = {RON_BUILD_DIR "/ron-kernel", "--config", s->k.conf, NULL};
	int out, err;
	s->k.pid = tl_spawn(argv, kc_env(extra), &out, &err);
	tl_lines_init(&s->k.r, out);
	tl_lines_init(&s->err, err);
}

/* "[service NAME]" running script with sh, liveness only. */
static void sh_section(char *buf, size_t cap, const char *name, const char *script,
		       const char *extra)
{
	snprintf(buf, cap, "[service %s]\nbin = /bin/sh\nargs = -c \"%s\"\nhealth = none\n%s\n\n",
		 name, script, extra ? extra : "");
}

/* Whether status.json has the service with a pid, and its monitor's pid. */
static bool svc_pids(const char *name, pid_t *pid, pid_t *mpid)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/run/status.json", tl_dir());
	json_object *o = json_object_from_file(path), *a, *v;
	bool found = false;
	if (o && json_object_object_get_ex(o, "services", &a)) {
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			json_object *e = json_object_array_get_idx(a, i);
			json_object_object_get_ex(e, "service", &v);
			if (strcmp(json_object_get_string(v), name) != 0)
				continue;
			json_object_object_get_ex(e, "pid", &v);
			*pid = json_object_get_int(v);
			json_object_object_get_ex(e, "mpid", &v);
			*mpid = json_object_get_int(v);
			found = *pid > 0 && *mpid > 0;
		}
	}
	json_object_put(o);
	return found;
}

static void wait_pids(const char *name, pid_t *pid, pid_t *mpid)
{
	int64_t end = clock_mono_us() + WAIT_MS * 1000LL;
	while (!svc_pids(name, pid, mpid)) {
		cr_assert_lt(clock_mono_us(), end, "%s never got a pid in status.json", name);
		usleep(2000);
	}
}

/* The next line of the service's stderr relay: pid and the text after the prefix. */
static bool next_svc_line(struct tl_lines *r, const char *name, pid_t *pid, char *text, size_t cap,
			  size_t *col)
{
	char line[4096];
	size_t n = strlen(name);
	while (tl_next_line(r, line, sizeof(line), WAIT_MS)) {
		if (strncmp(line, name, n) != 0 || line[n] != '[')
			continue;
		char *end = strchr(line + n, ']');
		if (!end || end[1] != ':')
			continue;
		*pid = (pid_t)atoi(line + n + 1);
		char *p = end + 2;
		while (*p == ' ')
			p++;
		if (col)
			*col = (size_t)(p - line);
		snprintf(text, cap, "%s", p);
		return true;
	}
	return false;
}

/* 100 bytes of padding made by the shell: a config line holds at most 199 bytes.
 * PAD is the same text, for comparing what arrived. */
#define PAD_SH "p=0123456789; p=$p$p$p$p$p$p$p$p$p$p; "
#define PAD                                                                                        \
	"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567" \
	"890123456789"

/* SIGTERM, reading both outputs meanwhile (a reader that stops would stall the
 * monitors' own diagnostics, which share stderr), and a clean exit 0. */
static void so_stop(struct so *s)
{
	char line[65536];
	int st;
	cr_assert_eq(kill(s->k.pid, SIGTERM), 0);
	int64_t end = clock_mono_us() + WAIT_MS * 1000LL;
	while (!tl_wait_exit(s->k.pid, 5, &st)) {
		cr_assert_lt(clock_mono_us(), end, "kernel did not exit:\n%s", s->k.r.log);
		while (tl_next_line(&s->err, line, sizeof(line), 0))
			;
		while (tl_next_line(&s->k.r, line, sizeof(line), 0))
			;
	}
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "kernel exit status %#x", st);
}

Test(svcout, two_services_prefixed_lines_whole_and_aligned)
{
	static struct so s;
	char a[1024], b[1024], script[512];
	for (int i = 0; i < 2; i++) {
		const char *name = i ? "bb" : "a";
		snprintf(script, sizeof(script),
			 PAD_SH "i=0; while [ $i -lt 3000 ]; do echo %s-line-$i-$p; i=$((i+1)); "
				"done; exec sleep 1000",
			 name);
		sh_section(i ? b : a, sizeof(a), name, script, NULL);
	}
	kc_write(&s.k, "output_rate = 0\noutput_queue_bytes = 67108864\n\n%s%s", a, b);
	so_start(&s, NULL);
	int seen[2] = {0, 0};
	char line[65536], want[512];
	while (seen[0] < 3000 || seen[1] < 3000) {
		cr_assert(tl_next_line(&s.err, line, sizeof(line), WAIT_MS),
			  "lines seen: a %d, bb %d; stderr:\n%s", seen[0], seen[1], s.err.log);
		int w = strncmp(line, "a[", 2) == 0 ? 0 : strncmp(line, "bb[", 3) == 0 ? 1 : -1;
		if (w < 0)
			continue;
		const char *name = w ? "bb" : "a";
		/* Width: the longest name + "[4194304]:", then one blank. */
		cr_assert(strlen(line) > 13 && line[12] == ' ' && line[13] != ' ',
			  "not aligned at column 13: %s", line);
		snprintf(want, sizeof(want), "%s-line-%d-" PAD, name, seen[w]);
		cr_assert_str_eq(line + 13, want, "line %d of %s", seen[w], name);
		seen[w]++;
	}
	so_stop(&s);
}

static json_object *json_line(const char *line)
{
	json_object *o = json_tokener_parse(line);
	cr_assert(o, "stdout line is not JSON: %s", line);
	return o;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static bool is_output_of(json_object *o, const char *name)
{
	const char *ev = jstr(o, "event"), *svc = jstr(o, "service");
	return ev && svc && strcmp(ev, "output") == 0 && strcmp(svc, name) == 0;
}

Test(svcout, json_objects_on_stdout_ansi_stripped_invalid_utf8_escaped)
{
	static struct so s;
	char a[1024], line[65536];
	sh_section(a, sizeof(a), "j",
		   "printf '\\\\033[1;31mred\\\\033[0m plain\\\\n'; printf 'bad \\\\377 byte\\\\n' "
		   ">&2; exec sleep 1000",
		   NULL);
	kc_write(&s.k, "%s", a);
	char *extra[] = {"RON_LOG_FORMAT=json", NULL};
	so_start(&s, extra);
	bool got_out = false, got_err = false;
	pid_t pid, mpid;
	while (!got_out || !got_err) {
		cr_assert(tl_next_line(&s.k.r, line, sizeof(line), WAIT_MS), "stdout:\n%s",
			  s.k.r.log);
		/* Every line of the stream is one well-formed object. */
		json_object *o = json_line(line);
		if (is_output_of(o, "j")) {
			wait_pids("j", &pid, &mpid);
			cr_assert_eq(atoi(jstr(o, "pid")), pid);
			cr_assert_str_eq(jstr(o, "level"), "info");
			cr_assert(jstr(o, "ts"));
			if (strcmp(jstr(o, "stream"), "stdout") == 0) {
				cr_assert_str_eq(jstr(o, "line"), "red plain");
				got_out = true;
			} else {
				cr_assert_str_eq(jstr(o, "stream"), "stderr");
				cr_assert_str_eq(jstr(o, "line"), "bad \\xff byte");
				cr_assert_str_eq(jstr(o, "escaped"), "true");
				got_err = true;
			}
		}
		json_object_put(o);
	}
	so_stop(&s);
}

Test(svcout, raw_mode_relays_lines_unchanged)
{
	static struct so s;
	char a[1024], line[4096];
	sh_section(a, sizeof(a), "r", "echo 'as  written: [x]'; exec sleep 1000", NULL);
	kc_write(&s.k, "%s", a);
	char *extra[] = {"RON_SERVICE_OUTPUT=raw", NULL};
	so_start(&s, extra);
	for (;;) {
		cr_assert(tl_next_line(&s.err, line, sizeof(line), WAIT_MS), "stderr:\n%s",
			  s.err.log);
		if (strstr(line, "as  written"))
			break;
	}
	cr_assert_str_eq(line, "as  written: [x]");
	so_stop(&s);
}

Test(svcout, a_one_mib_line_arrives_in_marked_pieces)
{
	static struct so s;
	char a[1024], line[65536];
	sh_section(a, sizeof(a), "big",
		   "head -c 1048576 /dev/zero | tr '\\\\0' a; echo; echo after; exec sleep 1000",
		   NULL);
	/* Room for the whole megabyte at once: the test reads more slowly than it comes. */
	kc_write(&s.k, "output_queue_bytes = 67108864\n\n%s", a);
	char *extra[] = {"RON_LOG_FORMAT=json", NULL};
	so_start(&s, extra);
	size_t total = 0;
	int pieces = 0;
	for (;;) {
		cr_assert(tl_next_line(&s.k.r, line, sizeof(line), WAIT_MS),
			  "after %d pieces, %zu bytes", pieces, total);
		json_object *o = json_line(line);
		if (!is_output_of(o, "big")) {
			json_object_put(o);
			continue;
		}
		const char *text = jstr(o, "line");
		if (strcmp(text, "after") == 0) {
			json_object_put(o);
			break;
		}
		pieces++;
		cr_assert_eq(atoi(jstr(o, "part")), pieces);
		cr_assert_str_eq(jstr(o, "more"), pieces < 64 ? "true" : "false");
		cr_assert_eq(strspn(text, "a"), strlen(text));
		total += strlen(text);
		json_object_put(o);
	}
	cr_assert_eq(pieces, 64);
	cr_assert_eq(total, 1048576u);
	so_stop(&s);
}

Test(svcout, a_partial_last_line_is_flushed_when_the_service_exits)
{
	static struct so s;
	char a[1024], text[4096];
	sh_section(a, sizeof(a), "p", "printf 'no newline at the end'; exit 3", NULL);
	kc_write(&s.k, "%s", a);
	so_start(&s, NULL);
	pid_t pid;
	cr_assert(next_svc_line(&s.err, "p", &pid, text, sizeof(text), NULL), "stderr:\n%s",
		  s.err.log);
	cr_assert_str_eq(text, "no newline at the end");
	cr_assert_gt(pid, 0);
	so_stop(&s);
}

Test(svcout, monitor_killed_while_its_service_writes_loses_no_line)
{
	static struct so s;
	char a[1024], text[4096], want[64];
	/* Bursts of 100 lines, paced, so the monitor dies in the middle of them. */
	sh_section(a, sizeof(a), "w",
		   "trap 'exit 99' PIPE; i=0; while [ $i -lt 6000 ]; do echo n=$i; i=$((i+1)); "
		   "[ $((i % 100)) -eq 0 ] && sleep 0.02; done; exec sleep 1000",
		   NULL);
	kc_write(&s.k, "output_rate = 0\noutput_queue_bytes = 67108864\n\n%s", a);
	so_start(&s, NULL);
	pid_t pid, mpid, lpid;
	int next = 0;
	bool killed = false;
	while (next < 6000) {
		cr_assert(next_svc_line(&s.err, "w", &lpid, text, sizeof(text), NULL),
			  "after n=%d; stderr:\n%s", next - 1, s.err.log);
		snprintf(want, sizeof(want), "n=%d", next);
		cr_assert_str_eq(text, want, "a line lost or out of order");
		if (next == 0)
			wait_pids("w", &pid, &mpid);
		cr_assert_eq(lpid, pid, "line n=%d from pid %d, the service is %d", next, lpid,
			     pid);
		if (next == 500) {
			cr_assert_eq(kill(mpid, SIGKILL), 0);
			killed = true;
		}
		next++;
	}
	cr_assert(killed);
	char line[4096];
	EXPECT(&s.k, line, "event=monitor_lost", "service=w");
	EXPECT(&s.k, line, "event=monitor_started", "service=w");
	pid_t pid2, mpid2;
	wait_pids("w", &pid2, &mpid2);
	cr_assert_eq(pid2, pid, "the service keeps its pid");
	cr_assert_neq(mpid2, mpid);
	cr_assert(tl_pid_alive(pid), "the service lives (no SIGPIPE)");
	so_stop(&s);
}

/* Every line of every file in the service's log directory, counted by number; -1 if
 * a file went away while they were read. */
static int count_logged(const char *dir, int *seen, int n, bool check_sizes, long long max,
			int *rotated)
{
	DIR *d = opendir(dir);
	cr_assert(d, "opendir %s: %s", dir, strerror(errno));
	int lines = 0;
	*rotated = 0;
	memset(seen, 0, sizeof(*seen) * (size_t)n);
	static char buf[1 << 20];
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char path[1200];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		ssize_t len = tl_read_file(path, buf, sizeof(buf) - 1);
		if (len < 0 && errno == ENOENT) {
			/* Rotated away between readdir and open: count again. */
			closedir(d);
			return -1;
		}
		cr_assert_geq(len, 0, "%s: %s", path, strerror(errno));
		buf[len] = '\0';
		if (e->d_name[0] == '@') {
			(*rotated)++;
			if (check_sizes) {
				cr_assert_leq(len, max, "%s: %zd bytes", path, len);
				cr_assert(len > 0 && buf[len - 1] == '\n', "%s: a cut line", path);
			}
		}
		for (char *p = buf; (p = strstr(p, " stdout: n=")); p++) {
			int i = atoi(p + 11);
			cr_assert(i >= 0 && i < n);
			seen[i]++;
			lines++;
		}
	}
	closedir(d);
	return lines;
}

Test(svcout, rotation_at_the_size_limit_loses_no_line)
{
	static struct so s;
	char a[1024], dir[800];
	sh_section(a, sizeof(a), "w",
		   "i=0; while [ $i -lt 5000 ]; do echo n=$i; i=$((i+1)); done; exec sleep 1000",
		   NULL);
	kc_write(&s.k,
		 "output_rate = 0\nlog_dir = %s/logs\nlog_max_bytes = 4096\nlog_keep = 10000\n"
		 "service_output = none\n\n%s",
		 tl_dir(), a);
	so_start(&s, NULL);
	snprintf(dir, sizeof(dir), "%s/logs/w", tl_dir());
	static int seen[5000];
	int rotated = 0, lines = 0;
	int64_t end = clock_mono_us() + WAIT_MS * 1000LL;
	while ((lines = access(dir, F_OK) == 0 ? count_logged(dir, seen, 5000, false, 0, &rotated)
					       : 0) < 5000) {
		cr_assert_lt(clock_mono_us(), end, "%d lines logged", lines);
		usleep(20000);
	}
	so_stop(&s);
	lines = count_logged(dir, seen, 5000, true, 4096, &rotated);
	cr_assert_eq(lines, 5000);
	for (int i = 0; i < 5000; i++)
		cr_assert_eq(seen[i], 1, "n=%d logged %d times", i, seen[i]);
	/* 5000 lines of about 40 bytes in files of at most 4 KiB. */
	cr_assert_geq(rotated, 40, "only %d rotations", rotated);
}

/* A service that says its pid at once and ends, restarted at once each time (stable):
 * every line carries the pid of the process that wrote it, the first line of a new
 * process too, though it is written while its predecessor's exit is being handled. */
Test(svcout, a_restarted_process_first_line_carries_its_own_pid)
{
	static struct so s;
	char a[1024], line[4096];
	sh_section(a, sizeof(a), "flaky", "echo pid=$$; exec sleep 0.05",
		   "stable_ms = 10\nrestart_cap = 1000");
	kc_write(&s.k, "output_rate = 0\n\n%s", a);
	so_start(&s, NULL);
	long last = 0;
	for (int n = 0; n < 30; n++) {
		cr_assert(tl_expect(&s.err, line, sizeof(line), WAIT_MS, "flaky[", "pid=", NULL),
			  "line %d never came:\n%s", n, s.k.r.log);
		long by = atol(strstr(line, "flaky[") + 6), said = atol(strstr(line, "pid=") + 4);
		cr_assert_eq(by, said, "line %d: %s", n, line);
		cr_assert_neq(said, last, "one line per process: %s", line);
		last = said;
	}
	so_stop(&s);
}

Test(svcout, rotation_keeps_log_keep_files)
{
	static struct so s;
	char a[1024], dir[800], line[4096];
	sh_section(a, sizeof(a), "w",
		   "i=0; while [ $i -lt 3000 ]; do echo n=$i; i=$((i+1)); done; echo done; exec "
		   "sleep 1000",
		   NULL);
	kc_write(&s.k,
		 "output_rate = 0\nlog_dir = %s/logs\n\n%s"
		 "log_max_bytes = 4096\nlog_keep = 2\n",
		 tl_dir(), a);
	so_start(&s, NULL);
	cr_assert(tl_expect(&s.err, line, sizeof(line), WAIT_MS, "w[", "done", NULL));
	snprintf(dir, sizeof(dir), "%s/logs/w", tl_dir());
	static int seen[3000];
	int rotated;
	/* The relay to stderr and the file write happen in the same step. */
	while (count_logged(dir, seen, 3000, true, 4096, &rotated) < 0)
		;
	cr_assert_eq(rotated, 2);
	cr_assert_eq(seen[2999], 1, "the newest line is kept");
	so_stop(&s);
}

Test(svcout, a_full_disk_is_reported_once_and_costs_only_lines)
{
	static struct so s;
	char a[1024], line[4096], path[800];
	sh_section(a, sizeof(a), "w",
		   PAD_SH "i=0; while [ $i -lt 4000 ]; do echo n=$i-$p; i=$((i+1)); done; "
			  "echo done; exec sleep 1000",
		   NULL);
	kc_write(&s.k, "output_rate = 0\noutput_queue_bytes = 67108864\nlog_dir = %s/logs\n\n%s",
		 tl_dir(), a);
	/* A file-size limit stands in for a full disk: writes past it fail (EFBIG). */
	struct rlimit old, small;
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 65536;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
	so_start(&s, NULL);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	EXPECT(&s.k, line, "event=log_failed", "service=w", "File too large");
	/* Every line still reaches stderr. */
	cr_assert(tl_expect(&s.err, line, sizeof(line), WAIT_MS, "w[", "done", NULL), "%s",
		  s.err.log);
	EXPECT(&s.k, line, "event=status");
	EXPECT(&s.k, line, "event=status");
	int n = 0;
	for (const char *p = s.k.r.log; (p = strstr(p, "event=log_failed")); p++)
		n++;
	cr_assert_eq(n, 1, "log_failed told %d times:\n%s", n, s.k.r.log);
	static char buf[1 << 17];
	snprintf(path, sizeof(path), "%s/logs/w/current", tl_dir());
	ssize_t len = tl_read_file(path, buf, sizeof(buf));
	cr_assert(len > 0 && len <= 65536, "current: %zd bytes", len);
	cr_assert_eq(buf[len - 1], '\n', "the last line in current is whole");
	so_stop(&s);
}

Test(svcout, the_rate_limit_drops_and_counts_every_line_over_it)
{
	static struct so s;
	char a[1024], line[4096];
	sh_section(a, sizeof(a), "w",
		   "i=0; while [ $i -lt 3000 ]; do echo n=$i; i=$((i+1)); done; exec sleep 1000",
		   "output_rate = 100\noutput_burst = 200");
	kc_write(&s.k, "%s", a);
	so_start(&s, NULL);
	long relayed = 0, dropped = 0;
	int64_t end = clock_mono_us() + WAIT_MS * 1000LL;
	/* Lines on stderr and notices on stdout, in whatever order they come. */
	while (relayed + dropped < 3000 && clock_mono_us() < end) {
		if (tl_next_line(&s.err, line, sizeof(line), 50) && strncmp(line, "w[", 2) == 0)
			relayed++;
		if (tl_next_line(&s.k.r, line, sizeof(line), 50) &&
		    strstr(line, "event=output_dropped") && strstr(line, "service=w")) {
			cr_assert(strstr(line, "rate limit"), "%s", line);
			dropped += atol(strstr(line, "lines=") + 6);
		}
	}
	cr_assert_eq(relayed + dropped, 3000, "relayed %ld, dropped %ld", relayed, dropped);
	cr_assert_geq(relayed, 200, "the burst");
	cr_assert_gt(dropped, 2000);
	so_stop(&s);
}

static long rss_kib(pid_t pid)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	ssize_t n = tl_read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	const char *p = strstr(buf, "VmRSS:");
	return p ? atol(p + 6) : -1;
}

/* The kernel's memory with a service writing as fast as it can. */
#define FLOOD_RSS_MAX_KIB (32 * 1024)

Test(svcout, a_flooding_service_costs_bounded_memory_and_the_others_nothing)
{
	static struct so s;
	char a[1024], b[1024], line[4096];
	sh_section(a, sizeof(a), "flood", PAD_SH "exec yes $p", NULL);
	sim_section(b, sizeof(b), "calm", NULL);
	kc_write(&s.k, "%s%s", a, b);
	so_start(&s, NULL);
	EXPECT(&s.k, line, "event=all_ready");
	EXPECT(&s.k, line, "event=output_dropped", "service=flood");
	long max = 0;
	/* Six status lines, 3 s: the calm service is checked every 300 ms meanwhile. */
	for (int i = 0; i < 6; i++) {
		EXPECT(&s.k, line, "event=status");
		long r = rss_kib(s.k.pid);
		max = r > max ? r : max;
	}
	cr_assert_lt(max, FLOOD_RSS_MAX_KIB, "kernel RSS %ld KiB", max);
	char state[32];
	pid_t pid;
	cr_assert(kc_row("calm", state, sizeof(state), &pid));
	cr_assert_str_eq(state, "healthy");
	cr_assert(!strstr(s.k.r.log, "service=calm state=degraded") &&
		      !strstr(s.k.r.log, "event=unhealthy service=calm"),
		  "the calm service's checks failed:\n%s", s.k.r.log);
	so_stop(&s);
}

/* A script file for a service: config values hold at most 199 bytes, and no escapes. */
static void write_script(const char *path, const char *body)
{
	FILE *f = fopen(path, "w");
	cr_assert(f, "%s", path);
	fprintf(f, "#!/bin/sh\n%s", body);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, 0755), 0);
}

/* Finding: a \r from a service hid the prefix under cat and tail, so a forged kernel
 * line showed as the kernel's; terminal escapes reached the terminal.  Controls are
 * the text \xHH in the relay and in the log file; escape sequences are stripped there. */
Test(svcout, controls_from_a_service_are_escaped_in_text_and_log_files)
{
	static struct so s;
	char script[700], logs[700], line[4096], a[2048];
	snprintf(script, sizeof(script), "%s/forge.sh", tl_dir());
	write_script(script, "printf 'junk\\rron-kernel: event=all_ready\\n'\n"
			     "printf 'tab\\there\\033[2K erase\\033]52;c;SGVsbG8=\\007 del\\177 "
			     "bel\\007 c1\\302\\233\\n'\n"
			     "exec sleep 1000\n");
	snprintf(logs, sizeof(logs), "%s/logs", tl_dir());
	snprintf(a, sizeof(a), "[service forge]\nbin = %s\nhealth = none\nlog_dir = %s\n", script,
		 logs);
	kc_write(&s.k, "%s", a);
	so_start(&s, NULL);
	pid_t pid;
	char text[4096];
	cr_assert(next_svc_line(&s.err, "forge", &pid, text, sizeof(text), NULL), "stderr:\n%s",
		  s.err.log);
	cr_assert_str_eq(text, "junk\\x0dron-kernel: event=all_ready");
	cr_assert(next_svc_line(&s.err, "forge", &pid, text, sizeof(text), NULL), "stderr:\n%s",
		  s.err.log);
	cr_assert_str_eq(text, "tab\there erase del\\x7f bel\\x07 c1\\xc2\\x9b");
	/* The log file: the same text after its own prefix. */
	char path[800], got[4096];
	snprintf(path, sizeof(path), "%s/forge/current", logs);
	ssize_t n = 0;
	int64_t end = clock_mono_us() + WAIT_MS * 1000LL;
	while ((n = tl_read_file(path, got, sizeof(got) - 1)) <= 0 || !strstr(got, " c1")) {
		cr_assert_lt(clock_mono_us(), end, "%s: no second line", path);
		while (tl_next_line(&s.err, line, sizeof(line), 1))
			;
	}
	got[n] = '\0';
	cr_assert(strstr(got, ": junk\\x0dron-kernel: event=all_ready\n"), "%s", got);
	cr_assert(strstr(got, ": tab\there erase del\\x7f bel\\x07 c1\\xc2\\x9b\n"), "%s", got);
	cr_assert_null(strpbrk(got, "\r\x1b\x07\x7f"), "a raw control in %s", got);
	so_stop(&s);
}

/* Finding: every orphan a service left cost an unrated "reaped" line naming no service:
 * 755 lines in 2 s from a service limited to 10 lines a second.  A reap is the
 * service's, by its cgroup or process group, and spends its output budget. */
Test(svcout, orphans_a_service_leaves_are_its_and_within_its_budget)
{
	static struct so s;
	char a[1024], line[4096];
	sh_section(a, sizeof(a), "flood", "while :; do (sleep 0.001 &); sleep 0.002; done",
		   "output_rate = 10\noutput_burst = 10");
	kc_write(&s.k, "%s", a);
	so_start(&s, NULL);
	cr_assert(tl_expect(&s.k.r, line, sizeof(line), WAIT_MS, "event=reaped", NULL), "%s",
		  s.k.r.log);
	int64_t t0 = clock_mono_us(), end = t0 + 3000000;
	int reaped = 1, unnamed = strstr(line, "service=flood") ? 0 : 1;
	while (clock_mono_us() < end) {
		if (!tl_next_line(&s.k.r, line, sizeof(line),
				  clock_poll_timeout(end, clock_mono_us())))
			continue;
		if (!strstr(line, "event=reaped"))
			continue;
		reaped++;
		unnamed += !strstr(line, "service=flood");
	}
	double secs = (double)(clock_mono_us() - t0) / 1e6;
	cr_assert_eq(unnamed, 0, "reaps that name no service:\n%s", s.k.r.log);
	/* The burst, then 10 a second (and a line that tells what was held back). */
	cr_assert_leq(reaped, 10 + 10 * (secs + 1) + 2, "%d reaped lines in %.1f s", reaped, secs);
	so_stop(&s);
}
