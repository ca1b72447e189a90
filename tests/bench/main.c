/* ron-bench: runs the scenarios of `make bench` in order against build/ron-kernel and
 * svc-sim, then prints one table and writes results.json and results.md. */
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "clock.h"
#include "config.h"

/* What differs from a plain ron-kernel, per scenario (0: all of them). */
static const struct bench_setting settings[] = {
    {0, "RON_LOG_FORMAT=json (the harness reads the kernel's event lines)"},
    {0, "RON_RUN_DIR and the three RON_*_SOCK in a fresh mkdtemp directory; "
	"RON_SVC_*_BIN=build/sim/svc-* (svc-sim)"},
    {2, "RON_RESTART_CAP=1000, so that a kill every few hundred ms does not quarantine; "
	"SIM_PIDFILE for svc-sim's start stamps"},
    {4, "SIM_PIDFILE for svc-sim's start stamps"},
    {10, "RON_CONFIG=a generated file of N services s0000.. (bin = svc-sim, args = --name "
	 "NAME), default sockets in the run directory"},
    {11, "RON_CONFIG=one service flood (bin = /bin/sh running a script: for each line the "
	 "bench writes to its FIFO, yes LINE | head -n N on stdout; health = none); "
	 "RON_OUTPUT_RATE=RON_OUTPUT_BURST=1000000000, RON_OUTPUT_QUEUE_BYTES=67108864; "
	 "RON_LOG_FORMAT=text with the kernel's "
	 "stderr on a pipe the bench drains, then RON_LOG_FORMAT=json"},
    {9, "RON_SVC_STORAGE_BIN=a sh wrapper that runs svc-storage with SIM_EXIT_ON_START=1 "
	"SIM_PIDFILE=..."},
};

static const struct {
	int groups[2];
	const char *title;
	int (*run)(const struct bench_plan *p, char *why, size_t whylen);
} scenarios[] = {
    /* The floor first: every latency after it is also a ratio to it. */
    {.groups = {1, 0}, .title = "floor", .run = scen_floor},
    {.groups = {5, 6}, .title = "start-up and clean stop", .run = scen_lifecycle},
    {.groups = {2, 0}, .title = "recovery", .run = scen_recovery},
    {.groups = {3, 0}, .title = "monitor isolation", .run = scen_isolation},
    {.groups = {4, 0}, .title = "hang detection", .run = scen_hang},
    {.groups = {7, 8}, .title = "idle cost and memory", .run = scen_idle},
    {.groups = {9, 0}, .title = "crash loop", .run = scen_crashloop},
    {.groups = {10, 0}, .title = "scale", .run = scen_scale},
    {.groups = {11, 0}, .title = "service output", .run = scen_output},
};
#define NSCEN (int)(sizeof(scenarios) / sizeof(scenarios[0]))

/* The kernel settings the scenarios depend on, at their defaults. */
static const enum cfg_key shown_defaults[] = {
    CFG_HEALTH_INTERVAL_MS, CFG_HEALTH_TIMEOUT_MS, CFG_HEALTH_FAILURES, CFG_START_TIMEOUT_MS,
    CFG_STOP_TIMEOUT_MS,    CFG_STABLE_MS,	   CFG_BACKOFF_MIN_MS,	CFG_BACKOFF_MAX_MS,
    CFG_RESTART_CAP,	    CFG_RESTART_WINDOW_MS, CFG_QUARANTINE_MS,	CFG_STATUS_INTERVAL_MS,
};

static void plan_make(struct bench_plan *p, bool quick, char *defaults, size_t len)
{
	struct config c;
	config_defaults(&c);
	*p = (struct bench_plan){
	    .quick = quick,
	    .floor_reps = quick ? 10 : 50,
	    .startup_reps = quick ? 3 : 20,
	    .recovery_kills = quick ? 6 : 30,
	    .monitor_kills = quick ? 3 : 9,
	    .monitor_stops = quick ? 1 : 3,
	    .hang_reps = quick ? 1 : 6,
	    .crash_reps = quick ? 1 : 3,
	    .idle_s = quick ? 5 : 30,
	    .idle_warmup_ms = quick ? 1000 : 2000,
	    .scale_n = {100, quick ? 0 : 300, quick ? 0 : 500},
	    .scale_kills = quick ? 5 : 20,
	    .scale_idle_s = quick ? 5 : 15,
	    .output_runs = quick ? 2 : 5,
	    .output_lines = quick ? 100000 : 1000000,
	    .stable_ms = config_num(&c, CFG_STABLE_MS),
	    .health_interval_ms = config_num(&c, CFG_HEALTH_INTERVAL_MS),
	    .health_timeout_ms = config_num(&c, CFG_HEALTH_TIMEOUT_MS),
	    .health_failures = config_num(&c, CFG_HEALTH_FAILURES),
	    .quarantine_ms = config_num(&c, CFG_QUARANTINE_MS),
	    .status_interval_ms = config_num(&c, CFG_STATUS_INTERVAL_MS),
	};
	const char *scale = getenv("BENCH_SCALE");
	if (scale && *scale) {
		char *end;
		long n = strtol(scale, &end, 10);
		if (*end || n < 1 || n > 1024)
			errx(2, "BENCH_SCALE=%s: not a number of services in 1..1024", scale);
		p->scale_n[0] = (int)n;
		p->scale_n[1] = p->scale_n[2] = 0;
	}
	size_t off = 0;
	defaults[0] = '\0';
	for (size_t i = 0; i < sizeof(shown_defaults) / sizeof(shown_defaults[0]); i++) {
		const struct cfg_setting *s = &cfg_table[shown_defaults[i]];
		int n = snprintf(defaults + off, len - off, "%s%s=%s", i ? " " : "", s->env,
				 config_str(&c, shown_defaults[i]));
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
}

/* The 1-minute load average, as /proc/loadavg gives it. */
static void load_read(char *buf, size_t len)
{
	char text[128];
	if (pstat_read("/proc/loadavg", text, sizeof(text)) < 0) {
		fprintf(stderr, "ron-bench: read /proc/loadavg: %s\n", strerror(errno));
		snprintf(buf, len, "unknown");
		return;
	}
	snprintf(buf, len, "%.*s", (int)strcspn(text, " "), text);
}

static void machine_read(struct bench_info *in)
{
	struct utsname u;
	char buf[8192];
	in->nproc = sysconf(_SC_NPROCESSORS_ONLN);
	if (uname(&u) < 0)
		snprintf(in->kernel, sizeof(in->kernel), "unknown (uname: %s)", strerror(errno));
	else
		snprintf(in->kernel, sizeof(in->kernel), "%s", u.release);
	snprintf(in->cpu, sizeof(in->cpu), "cpu unknown");
	if (pstat_read("/proc/cpuinfo", buf, sizeof(buf)) < 0) {
		fprintf(stderr, "ron-bench: read /proc/cpuinfo: %s\n", strerror(errno));
	} else {
		char *m = strstr(buf, "model name");
		char *colon = m ? strchr(m, ':') : NULL;
		if (colon) {
			colon += strspn(colon, ": \t");
			snprintf(in->cpu, sizeof(in->cpu), "%.*s", (int)strcspn(colon, "\n"),
				 colon);
		}
	}
	time_t now = time(NULL);
	struct tm tm;
	if (!gmtime_r(&now, &tm) ||
	    !strftime(in->date, sizeof(in->date), "%Y-%m-%d %H:%M UTC", &tm))
		snprintf(in->date, sizeof(in->date), "date unknown");
}

static void need_binary(const char *rel)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", RON_BUILD_DIR, rel);
	if (access(path, X_OK) < 0)
		errx(1, "%s: %s (build it first: make)", path, strerror(errno));
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ron-bench [--out DIR] [--only SCENARIO]\n"
		"Measures ron-kernel (recovery, monitor isolation, hang detection, start-up,\n"
		"clean stop, idle cost, memory, crash loop, scale, service output) against\n"
		"svc-sim, prints one table and writes DIR/results.json and DIR/results.md\n"
		"(default DIR: %s/bench).\n"
		"BENCH_QUICK=1 in the environment: a smoke run of about 30 s.\n"
		"--only runs the one scenario whose name starts with SCENARIO (floor,\n"
		"start-up, recovery, monitor, hang, idle, crash, scale, service); without the\n"
		"floor there are no ratios.\n",
		RON_BUILD_DIR);
}

int main(int argc, char **argv)
{
	static struct bench_plan plan;
	static struct bench_info info;
	char out[2048] = RON_BUILD_DIR "/bench", path[2100], why[BENCH_WHY_MAX];
	const char *only = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
			snprintf(out, sizeof(out), "%s", argv[++i]);
			continue;
		}
		if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			only = argv[++i];
			continue;
		}
		usage(stderr);
		return 64;
	}
	const char *q = getenv("BENCH_QUICK");
	if (q && *q && strcmp(q, "0") != 0 && strcmp(q, "1") != 0)
		errx(64, "BENCH_QUICK=%s: expected 1 (smoke run) or 0", q);
	bool quick = q && strcmp(q, "1") == 0;
	if (setvbuf(stdout, NULL, _IOLBF, 0) != 0)
		errx(1, "make stdout line-buffered");
	need_binary("ron-kernel");
	need_binary("ron-monitor");
	for (int i = 0; i < BENCH_NSVC; i++) {
		char rel[64];
		snprintf(rel, sizeof(rel), "sim/%s", bench_svc[i]);
		need_binary(rel);
	}
	if (mkdir(out, 0755) < 0 && errno != EEXIST)
		err(1, "mkdir %s", out);

	bench_signals_init();
	if (atexit(scratch_remove_all) != 0)
		errx(1, "atexit: cannot register the clean-up");
	/* Whatever a killed kernel leaves is reparented to us, to be reaped and killed. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		err(1, "prctl PR_SET_CHILD_SUBREAPER");
	if (child_timerslack_lower(1000) < 0)
		err(1, "prctl PR_SET_TIMERSLACK");

	plan_make(&plan, quick, info.defaults, sizeof(info.defaults));
	scale_figures_init(&plan);
	machine_read(&info);
	info.quick = quick;
	info.plan = &plan;
	info.settings = settings;
	info.nsettings = (int)(sizeof(settings) / sizeof(settings[0]));
	if (only)
		snprintf(info.command, sizeof(info.command), "%sron-bench --only %s",
			 quick ? "BENCH_QUICK=1 " : "", only);
	else
		snprintf(info.command, sizeof(info.command), "%s",
			 quick ? "BENCH_QUICK=1 make bench" : "make bench");

	load_read(info.load_start, sizeof(info.load_start));
	if (atof(info.load_start) > 0.5 * (double)info.nproc)
		fprintf(stderr,
			"ron-bench: load average %s on %ld CPUs: other work will skew the "
			"figures\n",
			info.load_start, info.nproc);
	int64_t t_start = clock_mono_us();
	int failed = 0;
	for (int s = 0; s < NSCEN && !bench_interrupted(); s++) {
		if (only && strncmp(scenarios[s].title, only, strlen(only)) != 0) {
			for (int g = 0; g < 2; g++)
				if (scenarios[s].groups[g])
					fig_fail_group(scenarios[s].groups[g], "not run (--only)");
			continue;
		}
		int64_t t = clock_mono_us();
		fprintf(stderr, "ron-bench: [%d/%d] %s\n", s + 1, NSCEN, scenarios[s].title);
		why[0] = '\0';
		if (scenarios[s].run(&plan, why, sizeof(why)) < 0) {
			failed++;
			fprintf(stderr, "ron-bench: %s: %s\n", scenarios[s].title, why);
			for (int g = 0; g < 2; g++)
				if (scenarios[s].groups[g])
					fig_fail_group(scenarios[s].groups[g], why);
		}
		fprintf(stderr, "ron-bench: [%d/%d] %s: %.1f s\n", s + 1, NSCEN, scenarios[s].title,
			(double)(clock_mono_us() - t) / 1e6);
	}
	if (bench_interrupted())
		for (int g = 1; g <= 11; g++)
			fig_fail_group(g, "not run: interrupted");
	info.seconds = (double)(clock_mono_us() - t_start) / 1e6;
	load_read(info.load_end, sizeof(info.load_end));

	printf("\n");
	results_print(stdout, &info);
	snprintf(path, sizeof(path), "%s/results.json", out);
	if (results_write_json(path, &info, why, sizeof(why)) < 0) {
		fprintf(stderr, "ron-bench: %s\n", why);
		failed++;
	}
	snprintf(path, sizeof(path), "%s/results.md", out);
	if (results_write_md(path, &info, why, sizeof(why)) < 0) {
		fprintf(stderr, "ron-bench: %s\n", why);
		failed++;
	}
	fprintf(stderr, "ron-bench: wrote %s/results.json and %s/results.md\n", out, out);
	if (bench_interrupted())
		return 130;
	return failed ? 1 : 0;
}
