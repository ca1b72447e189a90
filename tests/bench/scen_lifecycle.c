/* Figures 5 and 6, start-up and clean stop: ron-kernel exec -> all three services
 * answering, then SIGTERM -> the kernel gone and no process of its tree left. */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "clock.h"

#define START_DEADLINE_MS 30000
#define GONE_DEADLINE_MS  10000
/* Three sockets polled every 100 us would take a good part of a CPU from a start-up that
 * needs both of a 2-core machine's: the sockets are polled every millisecond instead. */
#define START_POLL_US BENCH_CLIENT_US

/* Where the start-up went: to the kernel's first line (loading, settings, the run
 * directory, containment), and on to the last service spawned (the monitors). */
static void phases(const struct kern *k)
{
	struct kmatch first = {"start", -1, 0, 0}, spawned = {"spawned", -1, 0, 0};
	long i = kern_find(k, 0, &first), last = -1;
	if (i >= 0)
		fig_add(F_START_FIRST, (double)(k->ev[i].t_us - k->t_exec) / 1000);
	for (long j = 0; (j = kern_find(k, (size_t)j, &spawned)) >= 0; j++)
		last = j;
	if (last >= 0)
		fig_add(F_START_SPAWNED, (double)(k->ev[last].t_us - k->t_exec) / 1000);
}

static int start_once(struct kern *k, char *why, size_t whylen)
{
	int64_t answered[BENCH_NSVC] = {0}, deadline;
	int left = BENCH_NSVC;
	long all_ready = -1;
	struct kmatch m = {"all_ready", -1, 0, 0};

	if (kern_start(k, NULL, why, whylen) < 0)
		return -1;
	deadline = k->t_exec + (int64_t)START_DEADLINE_MS * 1000;
	while (left > 0 || all_ready < 0) {
		struct answer a;
		for (int i = 0; i < BENCH_NSVC; i++) {
			if (answered[i] || !probe_health(k->sock[i], bench_svc[i], 200, &a))
				continue;
			answered[i] = clock_mono_us();
			left--;
		}
		kern_pump(k);
		if (all_ready < 0)
			all_ready = kern_find(k, 0, &m);
		int64_t now = clock_mono_us();
		if (bench_interrupted() || !kern_alive(k) || now >= deadline) {
			snprintf(why, whylen,
				 "start-up: %d services not answering, all_ready %s: %s", left,
				 all_ready < 0 ? "not seen" : "seen",
				 bench_interrupted() ? "interrupted"
				 : kern_alive(k)     ? "timed out"
						     : "ron-kernel died");
			return -1;
		}
		kern_idle(k, now + START_POLL_US);
	}
	int64_t last = 0;
	for (int i = 0; i < BENCH_NSVC; i++)
		last = answered[i] > last ? answered[i] : last;
	fig_add(F_START_ANSWER, (double)(last - k->t_exec) / 1000);
	fig_add(F_START_READY, (double)(k->ev[all_ready].t_us - k->t_exec) / 1000);
	phases(k);
	return 0;
}

static int stop_once(struct kern *k, char *why, size_t whylen)
{
	int64_t t_sig, t_exit;
	if (kern_stop(k, &t_sig, &t_exit, why, whylen) < 0)
		return -1;
	/* Monitors and services go before the kernel does, so none should be left here. */
	int left = scratch_procs(k->dir, false);
	if (left < 0) {
		snprintf(why, whylen, "cannot list the processes left in %s", k->dir);
		return -1;
	}
	fig_add(F_STOP_LEFT, left);
	int64_t gone = t_exit;
	while (left > 0) {
		if (bench_interrupted() || gone - t_sig > (int64_t)GONE_DEADLINE_MS * 1000) {
			snprintf(why, whylen,
				 "%d processes of ron-kernel's tree still alive %d ms "
				 "after SIGTERM",
				 left, GONE_DEADLINE_MS);
			return -1;
		}
		bench_pause_until(clock_mono_us() + 1000);
		left = scratch_procs(k->dir, false);
		gone = clock_mono_us();
	}
	fig_add(F_STOP, (double)(gone - t_sig) / 1000);
	return 0;
}

int scen_lifecycle(const struct bench_plan *p, char *why, size_t whylen)
{
	static struct kern k;
	for (int r = 0; r < p->startup_reps; r++) {
		int rc = kern_init(&k, "lifecycle", why, whylen);
		if (rc == 0)
			rc = start_once(&k, why, whylen);
		if (rc == 0)
			rc = stop_once(&k, why, whylen);
		if (rc < 0)
			kern_dump(&k);
		kern_destroy(&k);
		if (rc < 0)
			return -1;
	}
	fig_note(F_START_ANSWER, "each service's socket polled every %d us from exec",
		 START_POLL_US);
	return 0;
}
