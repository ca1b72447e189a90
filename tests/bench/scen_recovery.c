/* Figure 2, recovery: SIGKILL a service under ron-kernel and poll its socket until a
 * different pid answers; also kill -> the new svc-sim's own start stamp, and -> ready. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "clock.h"

#define RECOVERY_DEADLINE_MS 10000
/* After the monitor's stable time has passed, by our reading of its ready line. */
#define STABLE_MARGIN_MS 50

/* One kill of service i: *pid becomes the new one, *ready_us when the kernel said ready. */
static int recover_once(struct kern *k, int i, pid_t *pid, int64_t *ready_us, const char *stamps,
			char *why, size_t whylen)
{
	pid_t old = *pid;
	size_t from = k->nev;
	int64_t t0 = clock_mono_us(), deadline = t0 + (int64_t)RECOVERY_DEADLINE_MS * 1000;
	if (kill(old, SIGKILL) < 0) {
		snprintf(why, whylen, "SIGKILL %s %d: %s", bench_svc[i], (int)old, strerror(errno));
		return -1;
	}
	struct answer a;
	for (;;) {
		bool ok = probe_health(k->sock[i], bench_svc[i], 200, &a);
		int64_t now = clock_mono_us();
		if (ok && a.peer > 0 && a.peer != old) {
			fig_add(F_REC_ANSWER, (double)(now - t0) / 1000);
			break;
		}
		if (bench_interrupted() || !kern_alive(k) || now >= deadline) {
			snprintf(why, whylen,
				 "%s %d SIGKILLed: no other pid answered within %d ms: %s",
				 bench_svc[i], (int)old, RECOVERY_DEADLINE_MS,
				 bench_interrupted() ? "interrupted" : a.reason);
			return -1;
		}
		kern_idle(k, now + BENCH_POLL_US);
	}
	/* It answered, so it has passed main() and written its stamp. */
	int64_t stamp = stamps_find(stamps, a.peer, why, whylen);
	if (stamp < 0)
		return -1;
	fig_add(F_REC_RESPAWN, (double)(stamp - t0) / 1000);
	struct kmatch m = {"ready", i, a.peer, 0};
	long r = kern_wait(k, from, &m, deadline, why, whylen);
	if (r < 0)
		return -1;
	fig_add(F_REC_READY, (double)(k->ev[r].t_us - t0) / 1000);
	*pid = a.peer;
	*ready_us = k->ev[r].t_us;
	return 0;
}

int scen_recovery(const struct bench_plan *p, char *why, size_t whylen)
{
	static struct kern k;
	char stamps[PATH_MAX], pidfile_kv[PATH_MAX + 16];
	long ready[BENCH_NSVC];
	pid_t pid[BENCH_NSVC];
	int64_t stable_at[BENCH_NSVC];
	int rc = -1;

	if (kern_init(&k, "recovery", why, whylen) < 0)
		goto out;
	snprintf(stamps, sizeof(stamps), "%s/starts", k.dir);
	snprintf(pidfile_kv, sizeof(pidfile_kv), "SIM_PIDFILE=%s", stamps);
	/* 20+ kills within a minute would quarantine a service at the default cap of 5. */
	char *extra[] = {"RON_RESTART_CAP=1000", pidfile_kv, NULL};
	if (kern_start(&k, extra, why, whylen) < 0 || kern_wait_ready(&k, ready, why, whylen) < 0)
		goto out;
	for (int i = 0; i < BENCH_NSVC; i++) {
		pid[i] = k.ev[ready[i]].pid;
		stable_at[i] = k.ev[ready[i]].t_us + (p->stable_ms + STABLE_MARGIN_MS) * 1000;
	}
	for (int n = 0; n < p->recovery_kills; n++) {
		int i = n % BENCH_NSVC;
		/* Only a crash after a stable run is restarted at once; the rest back off. */
		if (kern_wait_until(&k, stable_at[i], why, whylen) < 0)
			goto out;
		int64_t ready_us;
		if (recover_once(&k, i, &pid[i], &ready_us, stamps, why, whylen) < 0)
			goto out;
		stable_at[i] = ready_us + (p->stable_ms + STABLE_MARGIN_MS) * 1000;
	}
	fig_note(F_REC_ANSWER, "%d kills rotating over the 3 services, socket polled every %d us",
		 p->recovery_kills, BENCH_POLL_US);
	int64_t t_sig, t_exit;
	rc = kern_stop(&k, &t_sig, &t_exit, why, whylen);
out:
	if (rc < 0)
		kern_dump(&k);
	kern_destroy(&k);
	return rc;
}
