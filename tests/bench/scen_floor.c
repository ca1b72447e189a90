/* Figure 1, the floor: svc-sim started directly, with no supervisor, from exec to its
 * first healthy answer.  Every latency is also reported as a ratio to this. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "clock.h"

#define FLOOR_DEADLINE_MS 10000

static int floor_once(const char *dir, int i, int logfd, char *why, size_t whylen)
{
	char sock[PATH_MAX], bin[PATH_MAX];
	struct envv e = {.n = 0};
	int rc = -1;
	pid_t pid = -1;

	snprintf(sock, sizeof(sock), "%s/%s.sock", dir, bench_svc[i]);
	snprintf(bin, sizeof(bin), "%s/sim/%s", RON_BUILD_DIR, bench_svc[i]);
	/* RON_RUN_DIR: it reads no such thing, but the clean-up finds it by it. */
	if (envv_init(&e, why, whylen) < 0 ||
	    envv_add(&e, why, whylen, "RON_RUN_DIR=%s/run", dir) < 0 ||
	    envv_add(&e, why, whylen, "%s=%s", bench_sock_var[i], sock) < 0)
		goto out;
	char *argv[] = {bin, NULL};
	int64_t t0 = clock_mono_us();
	pid = child_start(bin, argv, e.v, logfd, logfd, SIGKILL, why, whylen);
	if (pid < 0)
		goto out;
	for (;;) {
		struct answer a;
		bool ok = probe_health(sock, bench_svc[i], 200, &a);
		int64_t now = clock_mono_us();
		if (ok && a.peer == pid) {
			fig_add(F_FLOOR, (double)(now - t0) / 1000);
			break;
		}
		if (bench_interrupted()) {
			snprintf(why, whylen, "interrupted");
			goto out;
		}
		if (now - t0 > (int64_t)FLOOR_DEADLINE_MS * 1000) {
			snprintf(why, whylen,
				 "%s started directly: no healthy answer within %d ms: %s",
				 bench_svc[i], FLOOR_DEADLINE_MS, a.reason);
			goto out;
		}
		bench_pause_until(now + BENCH_POLL_US);
	}
	rc = 0;
out:
	if (pid > 0) {
		if (kill(pid, SIGKILL) < 0)
			fprintf(stderr, "ron-bench: SIGKILL %s %d: %s\n", bench_svc[i], (int)pid,
				strerror(errno));
		if (waitpid(pid, NULL, 0) < 0)
			fprintf(stderr, "ron-bench: waitpid %s %d: %s\n", bench_svc[i], (int)pid,
				strerror(errno));
	}
	envv_free(&e);
	return rc;
}

int scen_floor(const struct bench_plan *p, char *why, size_t whylen)
{
	char dir[256], log[PATH_MAX];
	if (scratch_make(dir, sizeof(dir), "floor", why, whylen) < 0)
		return -1;
	snprintf(log, sizeof(log), "%s/sim.log", dir);
	int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int rc = 0;
	if (logfd < 0) {
		snprintf(why, whylen, "open %s: %s", log, strerror(errno));
		rc = -1;
	}
	/* The socket file of the one before stays, refusing connections, as after a kill. */
	for (int r = 0; r < p->floor_reps && rc == 0; r++)
		rc = floor_once(dir, r % BENCH_NSVC, logfd, why, whylen);
	if (logfd >= 0)
		close(logfd);
	scratch_remove(dir);
	return rc;
}
