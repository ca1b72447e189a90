/* Figures 7 and 8, idle cost and memory: with three healthy services at the default
 * health interval, the kernel's and monitors' CPU, wake-ups and memory, slice by slice. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "clock.h"
#include "health.h"

#define NPROC (1 + BENCH_NSVC) /* the kernel, then one monitor per service */
#define IWAKE NPROC		/* then a process that only sleeps, the floor */
#define ICHECK (NPROC + 1)	/* and one that makes a monitor's check, and only that */
#define NALL (NPROC + 2)

struct sample {
	int64_t t_us;
	uint64_t cpu_ns[NALL], wake[NALL];
};

/* The floor of a wake-up on this machine: a process that does nothing but sleep one
 * health interval in poll(), as a monitor between checks.  Its CPU per wake-up is what
 * any supervisor pays per timer, whatever it does once awake. */
static pid_t sleeper_start(int64_t interval_ms, char *why, size_t whylen)
{
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, whylen, "fork the sleeper: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			poll(NULL, 0, (int)interval_ms);
	}
	return pid;
}

/* The floor of a check: every health interval, exactly the check a monitor makes (its
 * own code, health_check: socket, connect, the v1.health frame, the reply read and
 * decoded, close) against svc-index, and nothing else. */
static pid_t checker_start(const char *sock, int64_t interval_ms, int64_t timeout_ms, char *why,
			   size_t whylen)
{
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, whylen, "fork the checker: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (uint64_t corr = 1;; corr++) {
			struct health_result r;
			poll(NULL, 0, (int)interval_ms);
			health_check(sock, bench_svc[0], corr, (int)timeout_ms, &r);
		}
	}
	return pid;
}

static void sleeper_stop(pid_t pid)
{
	if (pid > 0 && kill(pid, SIGKILL) == 0)
		waitpid(pid, NULL, 0);
}

static int sample_take(const pid_t pid[NALL], struct sample *s, char *why, size_t whylen)
{
	s->t_us = clock_mono_us();
	for (int i = 0; i < NALL; i++)
		if (pstat_cpu_ns(pid[i], &s->cpu_ns[i], why, whylen) < 0 ||
		    pstat_wakeups(pid[i], &s->wake[i], why, whylen) < 0)
			return -1;
	return 0;
}

static int memory_take(const pid_t pid[NPROC], char *why, size_t whylen)
{
	for (int i = 0; i < NPROC; i++) {
		long pss, dirty;
		if (pstat_mem_kb(pid[i], &pss, &dirty, why, whylen) < 0)
			return -1;
		fig_add(i == 0 ? F_MEM_KPSS : F_MEM_MPSS, (double)pss);
		fig_add(i == 0 ? F_MEM_KDIRTY : F_MEM_MDIRTY, (double)dirty);
	}
	return 0;
}

/* One slice's figures, per second of it. */
static void slice_add(const struct sample *a, const struct sample *b, int64_t interval_ms)
{
	double secs = (double)(b->t_us - a->t_us) / 1e6;
	double all_us = 0;
	for (int i = 0; i < NPROC; i++) {
		double cpu_us = (double)(b->cpu_ns[i] - a->cpu_ns[i]) / 1000;
		double wake = (double)(b->wake[i] - a->wake[i]);
		all_us += cpu_us;
		fig_add(i == 0 ? F_IDLE_KCPU : F_IDLE_MCPU, cpu_us / secs);
		fig_add(i == 0 ? F_IDLE_KWAKE : F_IDLE_MWAKE, wake / secs);
	}
	double checks = BENCH_NSVC * secs * 1000 / (double)interval_ms;
	fig_add(F_IDLE_CHECK, all_us / checks);
	double swake = (double)(b->wake[IWAKE] - a->wake[IWAKE]);
	if (swake > 0)
		fig_add(F_IDLE_WAKE_FLOOR,
			(double)(b->cpu_ns[IWAKE] - a->cpu_ns[IWAKE]) / 1000 / swake);
	/* A monitor's CPU per check against the floor's, both one check per interval. */
	double per_mon = checks / BENCH_NSVC;
	double floor_us = (double)(b->cpu_ns[ICHECK] - a->cpu_ns[ICHECK]) / 1000 / per_mon;
	if (floor_us > 0) {
		double mon_us = 0;
		for (int i = 1; i < NPROC; i++)
			mon_us += (double)(b->cpu_ns[i] - a->cpu_ns[i]) / 1000;
		fig_add(F_IDLE_CHECK_FLOOR, floor_us);
		fig_add(F_IDLE_CHECK_RATIO, mon_us / checks / floor_us);
	}
	double kwake = (double)(b->wake[0] - a->wake[0]);
	if (kwake > 0)
		fig_add(F_IDLE_KEVENT, (double)(b->cpu_ns[0] - a->cpu_ns[0]) / 1000 / kwake);
}

/* Anything but quiet checking during the window makes it no idle measurement. */
static int idle_verify(const struct kern *k, size_t from, char *why, size_t whylen)
{
	static const char *const noisy[] = {"exited",	 "spawned",	 "degraded",
					    "unhealthy", "monitor_lost", "monitor_frozen",
					    "adopted",	 "restarting",	 "quarantined"};
	for (size_t i = 0; i < sizeof(noisy) / sizeof(noisy[0]); i++) {
		struct kmatch m = {noisy[i], -1, 0, 0};
		long e = kern_find(k, from, &m);
		if (e >= 0) {
			snprintf(why, whylen, "not idle: event=%s service=%s during the window",
				 noisy[i], k->ev[e].svc >= 0 ? bench_svc[k->ev[e].svc] : "-");
			return -1;
		}
	}
	return 0;
}

static int idle_window(struct kern *k, const struct bench_plan *p, const pid_t *pid, size_t from,
		       char *why, size_t whylen);

static int idle_measure(struct kern *k, const struct bench_plan *p, char *why, size_t whylen)
{
	long ready[BENCH_NSVC];
	pid_t pid[NALL];

	if (kern_start(k, NULL, why, whylen) < 0 || kern_wait_ready(k, ready, why, whylen) < 0)
		return -1;
	pid[0] = k->pid;
	int64_t t_ready = 0;
	for (int i = 0; i < BENCH_NSVC; i++) {
		pid[1 + i] = k->ev[ready[i]].mpid;
		if (k->ev[ready[i]].t_us > t_ready)
			t_ready = k->ev[ready[i]].t_us;
	}
	int64_t start = t_ready + (int64_t)p->idle_warmup_ms * 1000;
	if (kern_wait_until(k, start, why, whylen) < 0)
		return -1;
	size_t from = k->nev;
	pid[IWAKE] = sleeper_start(p->health_interval_ms, why, whylen);
	if (pid[IWAKE] < 0)
		return -1;
	pid[ICHECK] = checker_start(k->sock[0], p->health_interval_ms, p->health_timeout_ms, why,
				    whylen);
	if (pid[ICHECK] < 0) {
		sleeper_stop(pid[IWAKE]);
		return -1;
	}
	int rc = idle_window(k, p, pid, from, why, whylen);
	sleeper_stop(pid[ICHECK]);
	sleeper_stop(pid[IWAKE]);
	return rc;
}

static int idle_window(struct kern *k, const struct bench_plan *p, const pid_t *pid, size_t from,
		       char *why, size_t whylen)
{
	struct sample first, prev, cur;
	if (sample_take(pid, &first, why, whylen) < 0)
		return -1;
	prev = cur = first;
	/* A slice is one status interval: one status line, and as many checks per monitor as
	 * it has seconds give or take one, where 1 s slices would hold 0, 1 or 2 by phase. */
	int slices = p->idle_s * 1000 / (int)p->status_interval_ms;
	if (slices < 1)
		slices = 1;
	for (int s = 1; s <= slices; s++) {
		int64_t end = first.t_us + s * p->status_interval_ms * 1000;
		if (kern_wait_until(k, end, why, whylen) < 0 ||
		    sample_take(pid, &cur, why, whylen) < 0 || memory_take(pid, why, whylen) < 0)
			return -1;
		slice_add(&prev, &cur, p->health_interval_ms);
		prev = cur;
	}
	if (idle_verify(k, from, why, whylen) < 0)
		return -1;
	double secs = (double)(cur.t_us - first.t_us) / 1e6;
	uint64_t mon_ns = 0;
	for (int i = 1; i < NPROC; i++)
		mon_ns += cur.cpu_ns[i] - first.cpu_ns[i];
	double kern_ms = (double)(cur.cpu_ns[0] - first.cpu_ns[0]) / 1e6;
	double checks = BENCH_NSVC * secs * 1000 / (double)p->health_interval_ms;
	fig_note(F_IDLE_KCPU,
		 "%d slices of %lld ms, %d ms after all ready; kernel %.2f ms CPU in %.0f s",
		 slices, (long long)p->status_interval_ms, p->idle_warmup_ms, kern_ms, secs);
	fig_note(F_IDLE_MCPU, "the 3 monitors: %.2f ms CPU in %.0f s", (double)mon_ns / 1e6, secs);
	fig_note(F_IDLE_CHECK, "whole window: %.1f us per check (%.0f checks at %lld ms)",
		 (kern_ms * 1000 + (double)mon_ns / 1000) / checks, checks,
		 (long long)p->health_interval_ms);
	fig_note(F_MEM_KPSS, "sampled once per slice of the idle window");
	return 0;
}

int scen_idle(const struct bench_plan *p, char *why, size_t whylen)
{
	static struct kern k;
	int rc = kern_init(&k, "idle", why, whylen);
	if (rc == 0)
		rc = idle_measure(&k, p, why, whylen);
	return kern_finish(&k, rc, why, whylen);
}
