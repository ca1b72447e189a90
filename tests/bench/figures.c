/* The figures the bench reports, in the order, and their statistics:
 * each one a list of samples summarised as min / median / p90 / max. */
#include <bsd/string.h>
#include <err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

const char *const bench_svc[BENCH_NSVC] = {"svc-index", "svc-overlay", "svc-storage"};
const char *const bench_sock_var[BENCH_NSVC] = {"RON_INDEX_SOCK", "RON_OVERLAY_SOCK",
						"RON_STORAGE_SOCK"};
const char *const bench_bin_var[BENCH_NSVC] = {"RON_SVC_INDEX_BIN", "RON_SVC_OVERLAY_BIN",
					       "RON_SVC_STORAGE_BIN"};

struct figure figures[F__COUNT] = {
    [F_FLOOR] = {1, "floor: svc-sim exec -> first healthy answer", "ms", true},
    [F_REC_ANSWER] = {2, "recovery: SIGKILL -> a new pid answers", "ms", true},
    [F_REC_RESPAWN] = {2, "recovery: SIGKILL -> new svc-sim in main()", "ms", true},
    [F_REC_READY] = {2, "recovery: SIGKILL -> kernel prints ready", "ms", true},
    [F_ISO_FAILED] = {3, "isolation: failed requests, monitor killed", "count", false},
    [F_ISO_PID_CHANGED] = {3, "isolation: service pid changed (0/1)", "count", false},
    [F_ISO_ADOPTED] = {3, "isolation: monitor SIGKILL -> adopted", "ms", true},
    [F_ISO_STOP_ADOPTED] = {3, "isolation: monitor SIGSTOP -> replaced", "ms", true},
    [F_ISO_STOP_FAILED] = {3, "isolation: failed requests, monitor stopped", "count", false},
    [F_HANG_DEGRADED] = {4, "hang: SIGUSR1 -> degraded (1st failure)", "ms", true},
    [F_HANG_UNHEALTHY] = {4, "hang: SIGUSR1 -> unhealthy", "ms", true},
    [F_HANG_RESPAWN] = {4, "hang: SIGUSR1 -> new svc-sim in main()", "ms", true},
    [F_HANG_READY] = {4, "hang: SIGUSR1 -> kernel prints ready", "ms", true},
    [F_START_FIRST] = {5, "start-up phase: exec -> first line (start)", "ms", true},
    [F_START_SPAWNED] = {5, "start-up phase: exec -> last spawned line", "ms", true},
    [F_START_READY] = {5, "start-up: exec -> all_ready line", "ms", true},
    [F_START_ANSWER] = {5, "start-up: exec -> all 3 answer", "ms", true},
    [F_STOP] = {6, "clean stop: SIGTERM -> exited, tree gone", "ms", true},
    [F_STOP_LEFT] = {6, "clean stop: processes left at exit", "count", false},
    [F_IDLE_KCPU] = {7, "idle: kernel CPU", "us/s", false},
    [F_IDLE_MCPU] = {7, "idle: CPU of each monitor", "us/s", false},
    [F_IDLE_CHECK] = {7, "idle: kernel+monitor CPU per check", "us", false},
    [F_IDLE_KWAKE] = {7, "idle: kernel wake-ups", "/s", false},
    [F_IDLE_MWAKE] = {7, "idle: wake-ups of each monitor", "/s", false},
    [F_MEM_KPSS] = {8, "memory: kernel PSS", "kB", false},
    [F_MEM_KDIRTY] = {8, "memory: kernel private dirty", "kB", false},
    [F_MEM_MPSS] = {8, "memory: PSS of each monitor", "kB", false},
    [F_MEM_MDIRTY] = {8, "memory: private dirty of each monitor", "kB", false},
    [F_CRASH_STARTS] = {9, "crash loop: starts within 10 s", "count", false},
    [F_CRASH_QUARANTINED] = {9, "crash loop: first start -> quarantined", "ms", true},
    [F_IDLE_KEVENT] = {7, "idle: kernel CPU per wake-up (event cost)", "us", false},
    [F_IDLE_WAKE_FLOOR] = {7, "idle: CPU of one wake-up of a process that only sleeps", "us",
			   false},
    [F_IDLE_CHECK_FLOOR] = {7, "idle: CPU of one check with no supervisor (floor)", "us", false},
    [F_IDLE_CHECK_RATIO] = {7, "idle: a monitor's CPU per check / that floor", "x", false},
    [F_OUT_TEXT_LPS] = {11, "output, text on stderr: lines relayed", "/s", false},
    [F_OUT_TEXT_CPU] = {11, "output, text on stderr: kernel CPU per MB", "ms", false},
    [F_OUT_JSON_LPS] = {11, "output, JSON on stdout: lines relayed", "/s", false},
    [F_OUT_JSON_CPU] = {11, "output, JSON on stdout: kernel CPU per MB", "ms", false},
};

void fig_add(enum fig_id id, double v)
{
	struct figure *f = &figures[id];
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 64;
		double *nv = reallocarray(f->v, cap, sizeof(*nv));
		if (!nv)
			err(1, "grow the samples of \"%s\" to %zu", f->name, cap);
		f->v = nv;
		f->cap = cap;
	}
	f->v[f->n++] = v;
}

void fig_note(enum fig_id id, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(figures[id].note, sizeof(figures[id].note), fmt, ap);
	va_end(ap);
}

void fig_fail_group(int group, const char *why)
{
	for (int i = 0; i < F__COUNT; i++)
		if (figures[i].group == group && figures[i].n == 0)
			strlcpy(figures[i].failed, why, sizeof(figures[i].failed));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

bool fig_summary(const struct figure *f, struct summary *s)
{
	if (f->n == 0)
		return false;
	double *v = malloc(f->n * sizeof(*v));
	if (!v)
		err(1, "sort the samples of \"%s\"", f->name);
	memcpy(v, f->v, f->n * sizeof(*v));
	qsort(v, f->n, sizeof(*v), cmp_double);
	s->n = f->n;
	s->min = v[0];
	s->max = v[f->n - 1];
	s->median = f->n % 2 ? v[f->n / 2] : (v[f->n / 2 - 1] + v[f->n / 2]) / 2;
	/* Nearest rank: the smallest sample with at least 90% of them at or below it. */
	size_t rank = (9 * f->n + 9) / 10;
	s->p90 = v[rank - 1];
	free(v);
	return true;
}
