/* Figure 9, crash loop: svc-storage exits at once on every start (SIM_EXIT_ON_START=1);
 * how many starts it gets within 10 s and when it is quarantined, at the default policy. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "clock.h"

#define CRASH_SVC	  2 /* svc-storage */
#define CRASH_WINDOW_MS	  10000
#define CRASH_DEADLINE_MS 60000

/* The service as a two-line shell script: svc-sim told to exit at once, stamping each start. */
static int wrapper_write(const char *path, const char *stamps, char *why, size_t whylen)
{
	if (strchr(path, '\'') || strchr(stamps, '\'') || strchr(RON_BUILD_DIR, '\'')) {
		snprintf(why, whylen, "%s: a quote in the path; cannot write a shell wrapper",
			 path);
		return -1;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
	if (fd < 0) {
		snprintf(why, whylen, "create %s: %s", path, strerror(errno));
		return -1;
	}
	int n = dprintf(fd, "#!/bin/sh\nSIM_EXIT_ON_START=1 SIM_PIDFILE='%s' exec '%s/sim/%s'\n",
			stamps, RON_BUILD_DIR, bench_svc[CRASH_SVC]);
	if (n < 0) {
		snprintf(why, whylen, "write %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (close(fd) < 0) {
		snprintf(why, whylen, "close %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* From svc-sim's own stamps: the first start, and how many came within the window of it. */
static int starts_count(const char *path, int64_t *first, int *count, char *why, size_t whylen)
{
	struct stamp st[STAMPS_MAX];
	int n = stamps_read(path, st, STAMPS_MAX, why, whylen);
	if (n < 0)
		return -1;
	if (n == 0) {
		snprintf(why, whylen, "%s: no start recorded", path);
		return -1;
	}
	*first = st[0].us;
	for (int i = 1; i < n; i++)
		if (st[i].us < *first)
			*first = st[i].us;
	*count = 0;
	for (int i = 0; i < n; i++)
		*count += st[i].us - *first <= (int64_t)CRASH_WINDOW_MS * 1000;
	return 0;
}

/* Every spawned line should have its svc-sim start stamp: a start that never reached
 * svc-sim's main() is named in the figure's note, with how it ended. */
static void crash_crosscheck(const struct kern *k, const char *stamps, int count)
{
	char ends[200] = "";
	int spawned = 0;
	for (size_t i = 0; i < k->nev; i++) {
		const struct kev *e = &k->ev[i];
		size_t len = strlen(ends);
		if (e->svc != CRASH_SVC)
			continue;
		spawned += strcmp(e->event, "spawned") == 0;
		if (strcmp(e->event, "exited") != 0)
			continue;
		if (e->signal[0])
			snprintf(ends + len, sizeof(ends) - len, " %d: %s;", (int)e->pid,
				 e->signal);
		else if (e->code != 1)
			snprintf(ends + len, sizeof(ends) - len, " %d: code %d;", (int)e->pid,
				 e->code);
	}
	if (spawned != count)
		fig_note(F_CRASH_STARTS,
			 "%d spawned lines but %d svc-sim start stamps in %s; other ends:%s",
			 spawned, count, stamps, ends[0] ? ends : " none");
}

static int crash_once(struct kern *k, const struct bench_plan *p, char *why, size_t whylen)
{
	char wrapper[PATH_MAX], stamps[PATH_MAX], kv[PATH_MAX + 32];
	long ready[BENCH_NSVC];

	snprintf(wrapper, sizeof(wrapper), "%s/%s-crashing", k->dir, bench_svc[CRASH_SVC]);
	snprintf(stamps, sizeof(stamps), "%s/starts", k->dir);
	snprintf(kv, sizeof(kv), "%s=%s", bench_bin_var[CRASH_SVC], wrapper);
	char *extra[] = {kv, NULL};
	if (wrapper_write(wrapper, stamps, why, whylen) < 0 ||
	    kern_start(k, extra, why, whylen) < 0)
		return -1;
	struct kmatch q = {"quarantined", CRASH_SVC, 0, 0};
	long e = kern_wait(k, 0, &q, k->t_exec + (int64_t)CRASH_DEADLINE_MS * 1000, why, whylen);
	if (e < 0)
		return -1;
	int64_t t_quarantined = k->ev[e].t_us;
	/* The other two are not disturbed by their neighbour's crash loop. */
	for (int i = 0; i < BENCH_NSVC; i++) {
		if (i == CRASH_SVC)
			continue;
		struct kmatch m = {"ready", i, 0, 0};
		ready[i] =
		    kern_wait(k, 0, &m, k->t_exec + (int64_t)CRASH_DEADLINE_MS * 1000, why, whylen);
		if (ready[i] < 0)
			return -1;
	}
	int64_t first;
	int count;
	if (starts_count(stamps, &first, &count, why, whylen) < 0)
		return -1;
	/* Quarantined, it is retried only after RON_QUARANTINE_MS: the count is final
	 * unless the quarantine came late or is shorter than the window. */
	if (t_quarantined - first > (int64_t)CRASH_WINDOW_MS * 1000 ||
	    p->quarantine_ms < CRASH_WINDOW_MS) {
		if (kern_wait_until(k, first + (int64_t)CRASH_WINDOW_MS * 1000, why, whylen) < 0 ||
		    starts_count(stamps, &first, &count, why, whylen) < 0)
			return -1;
	}
	fig_add(F_CRASH_STARTS, count);
	fig_add(F_CRASH_QUARANTINED, (double)(t_quarantined - first) / 1000);
	crash_crosscheck(k, stamps, count);
	return 0;
}

int scen_crashloop(const struct bench_plan *p, char *why, size_t whylen)
{
	static struct kern k;
	for (int r = 0; r < p->crash_reps; r++) {
		int rc = kern_init(&k, "crashloop", why, whylen);
		if (rc == 0)
			rc = crash_once(&k, p, why, whylen);
		if (kern_finish(&k, rc, why, whylen) < 0)
			return -1;
	}
	return 0;
}
