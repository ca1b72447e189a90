/* ron-httpd, the only process that reads from the network: we bind its socket,
 * fork+exec it with the socket at fd 3 and a pipe at fd 4, write it a snapshot
 * (feed.h) whenever the table changes, and replace it when it dies.  Nothing it
 * could say ever reaches us: the pipe only goes one way. */
#include <bsd/unistd.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "feed.h"
#include "observe.h"
#include "proc.h"

#define HTTPD_LISTEN_FD 3
#define HTTPD_FEED_FD	4
/* A snapshot not taken for this long means ron-httpd is stuck: it is replaced. */
#define HTTPD_STUCK_MS 10000
/* Snapshots at most this often: with hundreds of services one costs milliseconds
 * (docs/performance.md), and a busy table changes many times a second. */
#define SNAPSHOT_GAP_MS 250
/* New output lines alone make a snapshot at most this often: the status page's tails
 * need not follow a chatty service line by line. */
#define TAIL_GAP_MS 2000
/* How long a stopping kernel waits for ron-httpd to go after closing its feed. */
#define HTTPD_STOP_MS 2000

int kernel_httpd_bind(struct kernel *k, char *why, size_t whylen)
{
	struct kernel_obs *o = k->obs;
	const char *text = config_str(&k->cfg, CFG_HTTP_ADDR);
	int fd = socket(o->addr.sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, whylen, "RON_HTTP_ADDR=%s: socket: %s", text, strerror(errno));
		return 71;
	}
	int one = 1;
	/* A replaced kernel must not wait out the old one's TIME_WAIT connections. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		snprintf(why, whylen, "RON_HTTP_ADDR=%s: SO_REUSEADDR: %s", text, strerror(errno));
		close(fd);
		return 71;
	}
	if (bind(fd, (struct sockaddr *)&o->addr.sa, o->addr.len) < 0) {
		snprintf(why, whylen, "RON_HTTP_ADDR=%s: bind: %s", text, strerror(errno));
		close(fd);
		return KERNEL_EX_CONFIG;
	}
	/* Connections wait here while a replacement ron-httpd starts. */
	if (listen(fd, (int)config_num(&k->cfg, CFG_HTTP_CONNECTIONS)) < 0) {
		snprintf(why, whylen, "RON_HTTP_ADDR=%s: listen: %s", text, strerror(errno));
		close(fd);
		return 71;
	}
	socklen_t len = sizeof(o->addr.sa);
	if (getsockname(fd, (struct sockaddr *)&o->addr.sa, &len) == 0)
		o->addr.len = len;
	httpaddr_format(&o->addr, o->addr_text, sizeof(o->addr_text));
	o->lfd = fd;
	return 0;
}

/* In the child: only async-signal-safe calls until exec. */
static void httpd_exec(const char *bin, char *const argv[], int lfd, int rfd, int ofd, pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
	/* Out of the terminal's process group: Ctrl-C is for the kernel to handle. */
	if (setsid() < 0)
		_exit(127);
	int l = fcntl(lfd, F_DUPFD_CLOEXEC, 10), r = fcntl(rfd, F_DUPFD_CLOEXEC, 10);
	if (l < 0 || r < 0 || dup2(l, HTTPD_LISTEN_FD) < 0 || dup2(r, HTTPD_FEED_FD) < 0)
		_exit(127);
	/* Its output is a pipe we read and label, never our own stderr. */
	if (dup2(ofd, STDOUT_FILENO) < 0 || dup2(ofd, STDERR_FILENO) < 0)
		_exit(127);
	closefrom(HTTPD_FEED_FD + 1);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	execv(bin, argv);
	dprintf(STDERR_FILENO, "ron-kernel: exec %s: %s\n", bin, strerror(errno));
	_exit(127);
}

static void feed_drop(struct kernel_obs *o)
{
	free(o->pending);
	o->pending = NULL;
	o->plen = o->poff = 0;
}

int kernel_httpd_spawn(struct kernel *k, int64_t now_us)
{
	struct kernel_obs *o = k->obs;
	char timeout[24], conns[24];
	snprintf(timeout, sizeof(timeout), "%lld",
		 (long long)config_num(&k->cfg, CFG_HTTP_TIMEOUT_MS));
	snprintf(conns, sizeof(conns), "%lld",
		 (long long)config_num(&k->cfg, CFG_HTTP_CONNECTIONS));
	char *argv[] = {o->bin,
			"--listen-fd",
			"3",
			"--feed-fd",
			"4",
			"--user",
			(char *)config_str(&k->cfg, CFG_HTTP_USER),
			"--timeout-ms",
			timeout,
			"--connections",
			conns,
			"--addr",
			o->addr_text,
			NULL};
	int ofd = kernel_httpd_out_fd(k);
	if (ofd < 0) {
		warn("output pipe for ron-httpd");
		return -1;
	}
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		warn("pipe for ron-httpd");
		return -1;
	}
	/* Only our end is non-blocking: a slow ron-httpd must never stall the loop. */
	if (fcntl(p[1], F_SETFL, O_NONBLOCK) < 0) {
		warn("O_NONBLOCK on the pipe of ron-httpd");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	/* Room for a whole snapshot of a large table at once; the default is enough for a
	 * small one, so a refusal is no error. */
	(void)fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		warn("fork ron-httpd");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0)
		httpd_exec(o->bin, argv, o->lfd, p[0], ofd, k->pid);
	close(p[0]);
	o->feedfd = p[1];
	o->hpid = pid;
	o->hpidfd = pidfd_open(pid, 0);
	o->hstarted_us = now_us;
	o->hrestart_at_us = -1;
	o->due = true;
	o->last_snapshot_us = 0;
	feed_drop(o);
	struct kernel_field f[] = {KF_NUM("pid", pid), KF_STR("addr", o->addr_text)};
	kernel_emit(k, KL_INFO, "httpd_started", f, 2);
	return 0;
}

/* /readyz: the verdict, then each service meant to run that is not healthy, one per
 * line with its state and reason, however many there are.  NULL if out of memory. */
static char *readyz(const struct kernel *k, bool ok)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	/* The count of the summary ("2/3 healthy"); the names follow, one per line. */
	char summary[256];
	kernel_summary(k->svc, k->nsvc, summary, sizeof(summary));
	summary[strcspn(summary, ";")] = '\0';
	fprintf(f, "%s%s: %s\n", ok ? "ready" : "not ready", k->stopping ? ", stopping" : "",
		summary);
	for (int i = 0; i < k->nsvc; i++) {
		const struct kernel_svc *s = &k->svc[i];
		if (s->state == ST_HEALTHY || s->state == ST_DOWN)
			continue;
		fprintf(f, "%s %s%s%s\n", s->name,
			s->reported ? svc_state_name(s->state) : "starting",
			s->reason[0] ? ": " : "", s->reason);
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* The snapshot: /healthz and /readyz (200 only while every service meant to run is
 * healthy), status.json, the metrics and the status page, all rendered here so that
 * ron-httpd only copies bytes. */
static char *snapshot(struct kernel *k, int64_t now_us, size_t *len)
{
	char summary[256], healthz[300];
	kernel_summary(k->svc, k->nsvc, summary, sizeof(summary));
	bool ok = !k->stopping && kernel_all_healthy(k->svc, k->nsvc);
	snprintf(healthz, sizeof(healthz), "%s%s\n", k->stopping ? "stopping; " : "", summary);
	char *ready = readyz(k, ok);
	struct kernel_status_meta m = kernel_status_meta(k, k->stopping ? "stopping" : "running");
	char *status = kernel_status_text(&m, k->svc, k->nsvc, now_us, NULL);
	char *metrics = kernel_obs_render(k, now_us);
	char *page = kernel_page_render(k, now_us);
	char *out = NULL;
	if (ready && status && metrics && page) {
		const char *body[FEED_NBODY] = {healthz, ready, status, metrics, page};
		feed_encode(ok ? 200 : 503, body, &out, len);
	}
	free(page);
	free(ready);
	free(status);
	free(metrics);
	return out;
}

int64_t kernel_httpd_snapshot_due(const struct kernel_obs *o)
{
	if (o->feedfd < 0 || o->pending)
		return -1;
	if (!o->due) {
		int64_t beat_us = o->last_frame_us + FEED_BEAT_MS * 1000;
		return o->tail_due
			   ? clock_earliest(beat_us, o->last_snapshot_us + TAIL_GAP_MS * 1000)
			   : beat_us;
	}
	/* The first for a new ron-httpd goes at once. */
	return o->last_snapshot_us ? o->last_snapshot_us + SNAPSHOT_GAP_MS * 1000 : 0;
}

/* Nothing to say for FEED_BEAT_MS: a beat, so that /livez knows the loop turns.  Shorter
 * than PIPE_BUF, it goes whole or not at all; a full pipe is ron-httpd's trouble
 * (HTTPD_STUCK_MS), and the next beat is as good. */
static void beat(struct kernel_obs *o, int64_t now_us)
{
	if (o->pending || o->due || now_us < o->last_frame_us + FEED_BEAT_MS * 1000)
		return;
	o->last_frame_us = now_us;
	ssize_t w;
	while ((w = write(o->feedfd, FEED_BEAT, sizeof(FEED_BEAT) - 1)) < 0 && errno == EINTR)
		;
}

void kernel_httpd_feed(struct kernel *k, int64_t now_us)
{
	struct kernel_obs *o = k->obs;
	if (o->feedfd < 0)
		return;
	if (o->tail_due && now_us >= o->last_snapshot_us + TAIL_GAP_MS * 1000)
		o->due = true;
	beat(o, now_us);
	if (!o->pending && o->due && kernel_httpd_snapshot_due(o) <= now_us) {
		o->pending = snapshot(k, now_us, &o->plen);
		o->last_snapshot_us = o->last_frame_us = now_us;
		if (!o->pending) {
			warnx("out of memory for a snapshot for ron-httpd");
			return;
		}
		o->poff = 0;
		o->due = o->tail_due = false;
		o->pending_since_us = now_us;
	}
	while (o->pending) {
		ssize_t w = write(o->feedfd, o->pending + o->poff, o->plen - o->poff);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		if (w < 0) {
			/* EPIPE: it is gone; the reap replaces it and the new one gets all. */
			feed_drop(o);
			close(o->feedfd);
			o->feedfd = -1;
			return;
		}
		o->poff += (size_t)w;
		if (o->poff == o->plen)
			feed_drop(o);
	}
}

void kernel_httpd_timers(struct kernel *k, int64_t now_us)
{
	struct kernel_obs *o = k->obs;
	if (!o->http || k->stopping)
		return;
	if (!o->hpid && o->hrestart_at_us >= 0 && now_us >= o->hrestart_at_us) {
		if (kernel_httpd_spawn(k, now_us) < 0)
			o->hrestart_at_us = now_us + 1000000;
		return;
	}
	if (o->hpid && o->pending && now_us - o->pending_since_us > HTTPD_STUCK_MS * 1000) {
		struct kernel_field f[] = {
		    KF_NUM("pid", o->hpid),
		    KF_NUM("pending_ms", (now_us - o->pending_since_us) / 1000)};
		kernel_emit(k, KL_WARN, "httpd_stuck", f, 2);
		if (o->hpidfd >= 0 ? proc_pidfd_signal(o->hpidfd, SIGKILL) < 0
				   : kill(o->hpid, SIGKILL) < 0)
			warn("SIGKILL ron-httpd %d", (int)o->hpid);
		o->pending_since_us = now_us; /* once; the reap does the rest */
	}
}

bool kernel_httpd_reaped(struct kernel *k, pid_t pid, int wstatus, int64_t now_us)
{
	struct kernel_obs *o = k->obs;
	if (!o->hpid || pid != o->hpid)
		return false;
	if (o->feedfd >= 0)
		close(o->feedfd);
	if (o->hpidfd >= 0)
		close(o->hpidfd);
	o->feedfd = o->hpidfd = -1;
	o->hpid = 0;
	feed_drop(o);
	struct kernel_field f[3];
	char sig[32];
	int nf = 0;
	f[nf++] = KF_NUM("pid", pid);
	nf += kernel_wait_fields(wstatus, &f[nf], sig, sizeof(sig));
	if (k->stopping) {
		kernel_emit(k, KL_INFO, "httpd_exited", f, nf);
		return true;
	}
	kernel_emit(k, KL_WARN, "httpd_lost", f, nf);
	/* The services go on untouched; only the server is replaced, with the same delay
	 * rule as a monitor. */
	int64_t delay = kernel_mon_restart_delay_ms(
	    &o->hstreak, (now_us - o->hstarted_us) / 1000, config_num(&k->cfg, CFG_STABLE_MS),
	    config_num(&k->cfg, CFG_BACKOFF_MIN_MS), config_num(&k->cfg, CFG_BACKOFF_MAX_MS));
	if (delay == 0 && kernel_httpd_spawn(k, now_us) == 0)
		return true;
	if (delay == 0)
		delay = config_num(&k->cfg, CFG_BACKOFF_MIN_MS) + 100;
	o->hrestart_at_us = clock_after_ms(now_us, delay);
	struct kernel_field g[] = {KF_NUM("delay_ms", delay)};
	kernel_emit(k, KL_WARN, "httpd_restarting", g, 1);
	return true;
}

void kernel_httpd_stop(struct kernel *k)
{
	struct kernel_obs *o = k->obs;
	feed_drop(o);
	if (o->feedfd >= 0)
		close(o->feedfd);
	o->feedfd = -1;
	if (o->hpid) {
		/* Its feed's end is its signal to go; one that lingers is killed. */
		int st;
		pid_t pid = o->hpid;
		if (o->hpidfd >= 0) {
			struct pollfd p = {o->hpidfd, POLLIN, 0};
			if (poll(&p, 1, HTTPD_STOP_MS) <= 0)
				proc_pidfd_signal(o->hpidfd, SIGKILL);
		} else {
			kill(pid, SIGKILL);
		}
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		struct kernel_field f[3];
		char sig[32];
		int nf = 0;
		f[nf++] = KF_NUM("pid", pid);
		nf += kernel_wait_fields(st, &f[nf], sig, sizeof(sig));
		kernel_emit(k, KL_INFO, "httpd_exited", f, nf);
		o->hpid = 0;
	}
	if (o->hpidfd >= 0)
		close(o->hpidfd);
	o->hpidfd = -1;
	if (o->lfd >= 0)
		close(o->lfd);
	o->lfd = -1;
}
