/* Figure 4, hang detection: SIGUSR1 makes svc-sim stop answering; timed from then to
 * degraded, unhealthy, a new process spawned and that one ready, at the default timings. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "clock.h"

#define HANG_DEADLINE_MS 60000
#define STABLE_MARGIN_MS 50

static double ms_between(int64_t a_us, int64_t b_us)
{
	return (double)(b_us - a_us) / 1000;
}

/* One hang of service i; *pid becomes its replacement, *ready_us when that was ready. */
static int hang_once(struct kern *k, int i, pid_t *pid, int64_t *ready_us, const char *stamps,
		     char *why, size_t whylen)
{
	pid_t old = *pid;
	size_t from = k->nev;
	int64_t t0 = clock_mono_us(), deadline = t0 + (int64_t)HANG_DEADLINE_MS * 1000;
	if (kill(old, SIGUSR1) < 0) {
		snprintf(why, whylen, "SIGUSR1 %s %d: %s", bench_svc[i], (int)old, strerror(errno));
		return -1;
	}
	struct kmatch steps[] = {
	    {"degraded", i, old, 0},
	    {"unhealthy", i, old, 0},
	    {"spawned", i, 0, old},
	    {"ready", i, 0, old},
	};
	long e[4];
	for (int s = 0; s < 4; s++) {
		e[s] = kern_wait(k, from, &steps[s], deadline, why, whylen);
		if (e[s] < 0)
			return -1;
		from = (size_t)e[s];
	}
	*pid = k->ev[e[3]].pid;
	/* Its lines come in one burst with the exit's: the new process's own clock is finer. */
	int64_t stamp = stamps_find(stamps, *pid, why, whylen);
	if (stamp < 0)
		return -1;
	fig_add(F_HANG_DEGRADED, ms_between(t0, k->ev[e[0]].t_us));
	fig_add(F_HANG_UNHEALTHY, ms_between(t0, k->ev[e[1]].t_us));
	fig_add(F_HANG_RESPAWN, ms_between(t0, stamp));
	fig_add(F_HANG_READY, ms_between(t0, k->ev[e[3]].t_us));
	*ready_us = k->ev[e[3]].t_us;
	return 0;
}

int scen_hang(const struct bench_plan *p, char *why, size_t whylen)
{
	static struct kern k;
	char stamps[PATH_MAX], pidfile_kv[PATH_MAX + 16];
	long ready[BENCH_NSVC];
	pid_t pid[BENCH_NSVC];
	int64_t ready_us[BENCH_NSVC];
	int rc = -1;

	if (kern_init(&k, "hang", why, whylen) < 0)
		goto out;
	snprintf(stamps, sizeof(stamps), "%s/starts", k.dir);
	snprintf(pidfile_kv, sizeof(pidfile_kv), "SIM_PIDFILE=%s", stamps);
	char *extra[] = {pidfile_kv, NULL};
	if (kern_start(&k, extra, why, whylen) < 0 || kern_wait_ready(&k, ready, why, whylen) < 0)
		goto out;
	for (int i = 0; i < BENCH_NSVC; i++) {
		pid[i] = k.ev[ready[i]].pid;
		ready_us[i] = k.ev[ready[i]].t_us;
	}
	for (int n = 0; n < p->hang_reps; n++) {
		int i = n % BENCH_NSVC;
		/* Stable first, so that the restart is immediate and the steps comparable. */
		if (kern_wait_until(&k, ready_us[i] + (p->stable_ms + STABLE_MARGIN_MS) * 1000, why,
				    whylen) < 0 ||
		    hang_once(&k, i, &pid[i], &ready_us[i], stamps, why, whylen) < 0)
			goto out;
	}
	/* A routine check starts within one interval of the hang and its missing reply is
	 * found when the next is due; that next check and the ones after are measured, one
	 * interval apart, each failing at its timeout. */
	int64_t iv = p->health_interval_ms, to = p->health_timeout_ms, n = p->health_failures;
	fig_note(F_HANG_DEGRADED, "by design at most 2 intervals = %lld ms", (long long)(2 * iv));
	fig_note(F_HANG_UNHEALTHY,
		 "by design at most 2 intervals to the first failure, then %lld more checks: "
		 "%lld interval(s) and a timeout = %lld ms",
		 (long long)(n - 1), (long long)(n - 2), (long long)(2 * iv + (n - 2) * iv + to));
	int64_t t_sig, t_exit;
	rc = kern_stop(&k, &t_sig, &t_exit, why, whylen);
out:
	if (rc < 0)
		kern_dump(&k);
	kern_destroy(&k);
	return rc;
}
