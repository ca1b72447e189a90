/* Figure 3, monitor isolation: a client sends v1.health every millisecond while a
 * monitor is SIGKILLed (or SIGSTOPped); its service must keep answering, with the same pid. */
#include <bsd/string.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "clock.h"
#include "proc.h"
#include "report.h"

#define LEAD_IN_MS	  20
#define AFTER_ADOPT_MS	  300
#define KILL_DEADLINE_MS  10000
#define STOP_DEADLINE_MS  30000
#define STABLE_MARGIN_MS  50
#define CLIENT_TIMEOUT_MS 200

struct client {
	int svc;
	pid_t pid; /* the one that must answer */
	int64_t next_us;
	unsigned sent, failed;
	bool changed;
	char first_failure[160];
};

static void client_tick(struct client *c, struct kern *k)
{
	int64_t now = clock_mono_us();
	if (now < c->next_us)
		return;
	struct answer a;
	c->sent++;
	if (!probe_health(k->sock[c->svc], bench_svc[c->svc], CLIENT_TIMEOUT_MS, &a)) {
		c->failed++;
		if (!c->first_failure[0])
			strlcpy(c->first_failure, a.reason, sizeof(c->first_failure));
	} else if (a.peer != c->pid) {
		c->changed = true;
	}
	c->next_us += BENCH_CLIENT_US;
	if (c->next_us <= now)
		c->next_us = now + BENCH_CLIENT_US;
}

/* Runs the client until an event matching m (its index), or without m until until_us (0);
 * -1 with why on a timeout, a dead kernel or an interrupt. */
static long client_run(struct client *c, struct kern *k, size_t from, const struct kmatch *m,
		       int64_t until_us, char *why, size_t whylen)
{
	for (;;) {
		client_tick(c, k);
		kern_pump(k);
		long i = m ? kern_find(k, from, m) : -1;
		if (i >= 0)
			return i;
		int64_t now = clock_mono_us();
		if (!m && now >= until_us)
			return 0;
		if (bench_interrupted() || !kern_alive(k) || now >= until_us) {
			const char *cause = bench_interrupted() ? "interrupted"
					    : kern_alive(k)	? "timed out"
								: "ron-kernel died";
			if (m)
				snprintf(why, whylen, "waiting for event=%s service=%s: %s",
					 m->event, bench_svc[c->svc], cause);
			else
				snprintf(why, whylen, "client of %s: %s", bench_svc[c->svc], cause);
			return -1;
		}
		kern_idle(k, c->next_us < until_us ? c->next_us : until_us);
	}
}

struct watched {
	pid_t pid, mpid;
	int64_t mon_since_us; /* when we read its monitor_started line */
};

/* One fault (SIGKILL or SIGSTOP) of service i's monitor. */
static int monitor_fault(struct kern *k, int i, int sig, struct watched *w,
			 const struct bench_plan *p, char *why, size_t whylen)
{
	/* A monitor that lived RON_STABLE_MS is replaced at once, a younger one later. */
	if (kern_wait_until(k, w->mon_since_us + (p->stable_ms + STABLE_MARGIN_MS) * 1000, why,
			    whylen) < 0)
		return -1;
	struct client c = {.svc = i, .pid = w->pid, .next_us = clock_mono_us()};
	if (client_run(&c, k, 0, NULL, clock_mono_us() + LEAD_IN_MS * 1000, why, whylen) < 0)
		return -1;
	size_t from = k->nev;
	int64_t t0 = clock_mono_us();
	if (kill(w->mpid, sig) < 0) {
		snprintf(why, whylen, "%s monitor %d of %s: %s", sig_name(sig), (int)w->mpid,
			 bench_svc[i], strerror(errno));
		return -1;
	}
	int64_t deadline =
	    t0 + (int64_t)(sig == SIGSTOP ? STOP_DEADLINE_MS : KILL_DEADLINE_MS) * 1000;
	struct kmatch adopted = {"adopted", i, w->pid, 0};
	long a = client_run(&c, k, from, &adopted, deadline, why, whylen);
	if (a < 0)
		return -1;
	int64_t t_adopted = k->ev[a].t_us;
	/* The new monitor checks its service at once: keep asking through that. */
	if (client_run(&c, k, 0, NULL, clock_mono_us() + AFTER_ADOPT_MS * 1000, why, whylen) < 0)
		return -1;
	struct kmatch started = {"monitor_started", i, 0, 0}, exited = {"exited", i, 0, 0},
		      spawned = {"spawned", i, 0, 0};
	long s = kern_find(k, from, &started);
	if (s < 0) {
		snprintf(why, whylen, "%s adopted with no monitor_started line", bench_svc[i]);
		return -1;
	}
	w->mpid = k->ev[a].mpid;
	w->mon_since_us = k->ev[s].t_us;
	bool changed =
	    c.changed || kern_find(k, from, &exited) >= 0 || kern_find(k, from, &spawned) >= 0;
	fig_add(F_ISO_PID_CHANGED, changed);
	fig_add(sig == SIGSTOP ? F_ISO_STOP_ADOPTED : F_ISO_ADOPTED,
		(double)(t_adopted - t0) / 1000);
	enum fig_id failed = sig == SIGSTOP ? F_ISO_STOP_FAILED : F_ISO_FAILED;
	fig_add(failed, c.failed);
	if (c.failed && !figures[failed].note[0])
		fig_note(failed, "first failure: %s", c.first_failure);
	return 0;
}

int scen_isolation(const struct bench_plan *p, char *why, size_t whylen)
{
	static struct kern k;
	struct watched w[BENCH_NSVC];
	long ready[BENCH_NSVC];
	int rc = -1;

	if (kern_init(&k, "isolation", why, whylen) < 0 || kern_start(&k, NULL, why, whylen) < 0 ||
	    kern_wait_ready(&k, ready, why, whylen) < 0)
		goto out;
	for (int i = 0; i < BENCH_NSVC; i++) {
		struct kmatch m = {"monitor_started", i, 0, 0};
		long s = kern_find(&k, 0, &m);
		if (s < 0) {
			snprintf(why, whylen, "no monitor_started line for %s", bench_svc[i]);
			goto out;
		}
		w[i] = (struct watched){k.ev[ready[i]].pid, k.ev[ready[i]].mpid, k.ev[s].t_us};
	}
	for (int n = 0; n < p->monitor_kills; n++)
		if (monitor_fault(&k, n % BENCH_NSVC, SIGKILL, &w[n % BENCH_NSVC], p, why, whylen) <
		    0)
			goto out;
	for (int n = 0; n < p->monitor_stops; n++)
		if (monitor_fault(&k, n % BENCH_NSVC, SIGSTOP, &w[n % BENCH_NSVC], p, why, whylen) <
		    0)
			goto out;
	if (!figures[F_ISO_FAILED].note[0])
		fig_note(F_ISO_FAILED,
			 "client: one v1.health every %d us from %d ms before the kill to %d ms "
			 "after adoption",
			 BENCH_CLIENT_US, LEAD_IN_MS, AFTER_ADOPT_MS);
	fig_note(F_ISO_STOP_ADOPTED,
		 "by design: %lld ms of silence (%d health intervals + the timeout) after the last "
		 "report, which a healthy service's monitor sends every %d checks; then SIGKILL "
		 "and adoption",
		 (long long)((REPORT_EVERY_CHECKS + 2) * p->health_interval_ms +
			     p->health_timeout_ms),
		 REPORT_EVERY_CHECKS + 2, REPORT_EVERY_CHECKS);
	int64_t t_sig, t_exit;
	rc = kern_stop(&k, &t_sig, &t_exit, why, whylen);
out:
	if (rc < 0)
		kern_dump(&k);
	kern_destroy(&k);
	return rc;
}
