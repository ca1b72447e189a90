/* The ron-kernel under test: started on svc-sim in a scratch directory, its JSON event
 * lines read as they come, each kept with the monotonic time the bench read it. */
#include <bsd/string.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "clock.h"
#include "proc.h"

/* Waits for a condition wake at least this often, to notice an interrupt or a death. */
#define KERN_WAKE_US  50000
#define KERN_STOP_MS  30000
#define KERN_READY_MS 30000

int kern_init(struct kern *k, const char *tag, char *why, size_t whylen)
{
	memset(k, 0, sizeof(*k));
	k->pid = -1;
	k->pidfd = -1;
	k->outfd = -1;
	k->errfd = -1;
	if (scratch_make(k->dir, sizeof(k->dir), tag, why, whylen) < 0) {
		k->dir[0] = '\0';
		return -1;
	}
	for (int i = 0; i < BENCH_NSVC; i++)
		snprintf(k->sock[i], sizeof(k->sock[i]), "%s/%s.sock", k->dir, bench_svc[i]);
	return 0;
}

static int kern_env(struct kern *k, struct envv *e, char *const extra[], char *why, size_t whylen)
{
	if (envv_init(e, why, whylen) < 0 ||
	    envv_add(e, why, whylen, "RON_RUN_DIR=%s/run", k->dir) < 0 ||
	    envv_add(e, why, whylen, "RON_LOG_FORMAT=json") < 0)
		return -1;
	for (int i = 0; i < BENCH_NSVC; i++)
		if (envv_add(e, why, whylen, "%s=%s/sim/%s", bench_bin_var[i], RON_BUILD_DIR,
			     bench_svc[i]) < 0 ||
		    envv_add(e, why, whylen, "%s=%s", bench_sock_var[i], k->sock[i]) < 0)
			return -1;
	for (int i = 0; extra && extra[i]; i++)
		if (envv_add(e, why, whylen, "%s", extra[i]) < 0)
			return -1;
	return 0;
}

/* A pipe for one of ron-kernel's outputs, our end non-blocking and as large as an
 * unprivileged process may make it, so that a burst of output waits in it for us. */
static int out_pipe(int p[2], const char *what, char *why, size_t whylen)
{
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(why, whylen, "pipe for ron-kernel's %s: %s", what, strerror(errno));
		return -1;
	}
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
		snprintf(why, whylen, "O_NONBLOCK on ron-kernel's %s: %s", what, strerror(errno));
		return -1;
	}
	char max[32];
	if (pstat_read("/proc/sys/fs/pipe-max-size", max, sizeof(max)) > 0)
		(void)fcntl(p[0], F_SETPIPE_SZ, atoi(max));
	return 0;
}

int kern_start(struct kern *k, char *const extra[], char *why, size_t whylen)
{
	struct envv e = {.n = 0};
	char bin[PATH_MAX], errpath[PATH_MAX];
	int out[2] = {-1, -1}, errp[2] = {-1, -1}, errfd = -1, rc = -1;

	if (kern_env(k, &e, extra, why, whylen) < 0)
		goto out;
	if (k->err_pipe) {
		if (out_pipe(errp, "stderr", why, whylen) < 0)
			goto out;
		errfd = errp[1];
		errp[1] = -1;
	} else {
		snprintf(errpath, sizeof(errpath), "%s/kernel.stderr", k->dir);
		errfd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (errfd < 0) {
			snprintf(why, whylen, "open %s: %s", errpath, strerror(errno));
			goto out;
		}
	}
	if (out_pipe(out, "output", why, whylen) < 0)
		goto out;
	snprintf(bin, sizeof(bin), "%s/ron-kernel", RON_BUILD_DIR);
	char *argv[] = {bin, NULL};
	k->t_exec = clock_mono_us();
	k->pid = child_start(bin, argv, e.v, out[1], errfd, SIGTERM, why, whylen);
	if (k->pid < 0)
		goto out;
	k->outfd = out[0];
	out[0] = -1;
	k->errfd = errp[0];
	errp[0] = -1;
	k->pidfd = pidfd_open(k->pid, 0);
	if (k->pidfd < 0) {
		snprintf(why, whylen, "pidfd_open ron-kernel %d: %s", (int)k->pid, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	if (errfd >= 0)
		close(errfd);
	envv_free(&e);
	return rc;
}

static int svc_index(const char *name)
{
	for (int i = 0; i < BENCH_NSVC; i++)
		if (strcmp(name, bench_svc[i]) == 0)
			return i;
	return -1;
}

static void kev_add(struct kern *k, const struct kev *e)
{
	if (k->nev == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 256;
		struct kev *nv = reallocarray(k->ev, cap, sizeof(*nv));
		if (!nv)
			err(1, "keep %zu event lines of ron-kernel", cap);
		k->ev = nv;
		k->cap = cap;
	}
	k->ev[k->nev++] = *e;
}

/* The value of " key=" in a text event line, up to the next space. */
static void text_field(const char *line, const char *key, char *out, size_t cap)
{
	char pat[32];
	snprintf(pat, sizeof(pat), " %s=", key);
	const char *p = strstr(line, pat);
	out[0] = '\0';
	if (p) {
		p += strlen(pat);
		snprintf(out, cap, "%.*s", (int)strcspn(p, " "), p);
	}
}

/* RON_LOG_FORMAT=text: "TS LEVEL event=NAME key=value...", only event and service kept. */
static void kern_text_line(struct kern *k, const char *line, int64_t now)
{
	struct kev e = {.t_us = now, .svc = -1, .code = -1};
	char svc[64];
	text_field(line, "event", e.event, sizeof(e.event));
	if (!e.event[0])
		return;
	text_field(line, "service", svc, sizeof(svc));
	e.svc = svc_index(svc);
	kev_add(k, &e);
}

/* What a service's output relayed as JSON starts with, after the time stamp. */
#define OUTPUT_MARK "\"level\":\"info\",\"event\":\"output\","

static void kern_line(struct kern *k, const char *line, size_t len, int64_t now)
{
	/* A flood of service output must cost the bench less than the kernel. */
	if (len > 80 && memmem(line, 80, OUTPUT_MARK, sizeof(OUTPUT_MARK) - 1)) {
		k->noutput++;
		return;
	}
	strlcpy(k->tail[k->ntail++ % KERN_TAIL], line, sizeof(k->tail[0]));
	if (line[0] != '{') {
		kern_text_line(k, line, now);
		return;
	}
	json_object *o = json_tokener_parse(line), *v;
	if (!o)
		return;
	if (json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "event", &v)) {
		struct kev e = {.t_us = now, .svc = -1, .code = -1};
		strlcpy(e.event, json_object_get_string(v), sizeof(e.event));
		if (json_object_object_get_ex(o, "service", &v))
			e.svc = svc_index(json_object_get_string(v));
		if (json_object_object_get_ex(o, "pid", &v))
			e.pid = json_object_get_int(v);
		if (json_object_object_get_ex(o, "mpid", &v))
			e.mpid = json_object_get_int(v);
		if (json_object_object_get_ex(o, "code", &v))
			e.code = json_object_get_int(v);
		if (json_object_object_get_ex(o, "signal", &v))
			strlcpy(e.signal, json_object_get_string(v), sizeof(e.signal));
		kev_add(k, &e);
	}
	json_object_put(o);
}

void kern_pump(struct kern *k)
{
	while (k->outfd >= 0 && !k->eof) {
		/* A line longer than the whole buffer is no event line of ours: dropped. */
		if (k->len == sizeof(k->buf))
			k->len = 0;
		ssize_t n = read(k->outfd, k->buf + k->len, sizeof(k->buf) - k->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			if (n < 0)
				fprintf(stderr, "ron-bench: read ron-kernel's output: %s\n",
					strerror(errno));
			k->eof = true;
			return;
		}
		int64_t now = clock_mono_us();
		k->len += (size_t)n;
		char *start = k->buf, *end = k->buf + k->len, *nl;
		while ((nl = memchr(start, '\n', (size_t)(end - start)))) {
			*nl = '\0';
			kern_line(k, start, (size_t)(nl - start), now);
			start = nl + 1;
		}
		k->len = (size_t)(end - start);
		memmove(k->buf, start, k->len);
	}
}

void kern_idle(struct kern *k, int64_t until_us)
{
	int64_t now = clock_mono_us();
	if (now < until_us && !bench_interrupted()) {
		/* Once its output is closed, only its death can still wake us. */
		struct pollfd p = {k->eof ? k->pidfd : k->outfd, POLLIN, 0};
		int64_t d = until_us - now;
		struct timespec ts = {(time_t)(d / 1000000), (long)(d % 1000000) * 1000};
		if (p.fd < 0)
			bench_pause_until(until_us);
		else if (ppoll(&p, 1, &ts, NULL) < 0 && errno != EINTR)
			fprintf(stderr, "ron-bench: ppoll ron-kernel's output: %s\n",
				strerror(errno));
	}
	kern_pump(k);
}

bool kern_alive(struct kern *k)
{
	if (k->pid <= 0 || k->reaped)
		return false;
	pid_t r = waitpid(k->pid, &k->wstatus, WNOHANG);
	if (r == k->pid) {
		k->reaped = true;
		return false;
	}
	if (r < 0 && errno != EINTR) {
		fprintf(stderr, "ron-bench: waitpid ron-kernel %d: %s\n", (int)k->pid,
			strerror(errno));
		return false;
	}
	return true;
}

long kern_find(const struct kern *k, size_t from, const struct kmatch *m)
{
	for (size_t i = from; i < k->nev; i++) {
		const struct kev *e = &k->ev[i];
		if (strcmp(e->event, m->event) != 0 || (m->svc >= 0 && e->svc != m->svc) ||
		    (m->pid && e->pid != m->pid) || (m->not_pid && e->pid == m->not_pid))
			continue;
		return (long)i;
	}
	return -1;
}

static void describe_status(int st, char *buf, size_t len)
{
	if (WIFEXITED(st))
		snprintf(buf, len, "exit status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "killed by %s", sig_name(WTERMSIG(st)));
	else
		snprintf(buf, len, "wait status %#x", st);
}

/* -1 with why if waiting for what must stop: interrupt, dead kernel, deadline. */
static int kern_check(struct kern *k, int64_t deadline_us, const char *what, char *why,
		      size_t whylen)
{
	if (bench_interrupted()) {
		snprintf(why, whylen, "interrupted while waiting for %s", what);
		return -1;
	}
	if (!kern_alive(k)) {
		char st[64] = "not running";
		if (k->reaped)
			describe_status(k->wstatus, st, sizeof(st));
		snprintf(why, whylen, "ron-kernel %s while waiting for %s", st, what);
		return -1;
	}
	if (deadline_us >= 0 && clock_mono_us() >= deadline_us) {
		snprintf(why, whylen, "timed out waiting for %s", what);
		return -1;
	}
	return 0;
}

long kern_wait(struct kern *k, size_t from, const struct kmatch *m, int64_t deadline_us, char *why,
	       size_t whylen)
{
	char what[160];
	snprintf(what, sizeof(what), "event=%s%s%s", m->event, m->svc >= 0 ? " service=" : "",
		 m->svc >= 0 ? bench_svc[m->svc] : "");
	if (m->pid)
		snprintf(what + strlen(what), sizeof(what) - strlen(what), " pid=%d", (int)m->pid);
	if (m->not_pid)
		snprintf(what + strlen(what), sizeof(what) - strlen(what), " pid!=%d",
			 (int)m->not_pid);
	for (;;) {
		kern_pump(k);
		long i = kern_find(k, from, m);
		if (i >= 0)
			return i;
		if (kern_check(k, deadline_us, what, why, whylen) < 0)
			return -1;
		int64_t wake = clock_mono_us() + KERN_WAKE_US;
		kern_idle(k, wake < deadline_us ? wake : deadline_us);
	}
}

int kern_wait_until(struct kern *k, int64_t until_us, char *why, size_t whylen)
{
	for (;;) {
		if (kern_check(k, -1, "the next step", why, whylen) < 0)
			return -1;
		int64_t now = clock_mono_us();
		if (now >= until_us)
			return 0;
		kern_idle(k, now + KERN_WAKE_US < until_us ? now + KERN_WAKE_US : until_us);
	}
}

int kern_wait_ready(struct kern *k, long ready[BENCH_NSVC], char *why, size_t whylen)
{
	int64_t deadline = clock_mono_us() + (int64_t)KERN_READY_MS * 1000;
	for (int i = 0; i < BENCH_NSVC; i++) {
		struct kmatch m = {"ready", i, 0, 0};
		ready[i] = kern_wait(k, 0, &m, deadline, why, whylen);
		if (ready[i] < 0)
			return -1;
	}
	return 0;
}

int kern_stop(struct kern *k, int64_t *t_sig, int64_t *t_exit, char *why, size_t whylen)
{
	*t_sig = clock_mono_us();
	if (kill(k->pid, SIGTERM) < 0) {
		snprintf(why, whylen, "SIGTERM ron-kernel %d: %s", (int)k->pid, strerror(errno));
		return -1;
	}
	int64_t deadline = *t_sig + (int64_t)KERN_STOP_MS * 1000;
	for (;;) {
		struct pollfd p[2] = {{k->pidfd, POLLIN, 0}, {k->eof ? -1 : k->outfd, POLLIN, 0}};
		int64_t d = deadline - clock_mono_us();
		struct timespec ts = {0, 0};
		if (d > 0)
			ts = (struct timespec){(time_t)(d / 1000000), (long)(d % 1000000) * 1000};
		int rc = ppoll(p, 2, &ts, NULL);
		int64_t now = clock_mono_us();
		if (rc < 0 && errno != EINTR) {
			snprintf(why, whylen, "ppoll ron-kernel's pidfd: %s", strerror(errno));
			return -1;
		}
		if (rc > 0 && (p[0].revents & POLLIN)) {
			*t_exit = now;
			break;
		}
		kern_pump(k);
		if (bench_interrupted()) {
			snprintf(why, whylen, "interrupted while ron-kernel was stopping");
			return -1;
		}
		if (now >= deadline) {
			snprintf(why, whylen, "ron-kernel did not exit within %d ms of SIGTERM",
				 KERN_STOP_MS);
			return -1;
		}
	}
	if (waitpid(k->pid, &k->wstatus, 0) != k->pid) {
		snprintf(why, whylen, "waitpid ron-kernel %d: %s", (int)k->pid, strerror(errno));
		return -1;
	}
	k->reaped = true;
	/* Only the kernel writes to that pipe: its exit closed it, so this ends at once. */
	while (!k->eof)
		kern_idle(k, clock_mono_us() + KERN_WAKE_US);
	if (!WIFEXITED(k->wstatus) || WEXITSTATUS(k->wstatus) != 0) {
		char st[64];
		describe_status(k->wstatus, st, sizeof(st));
		snprintf(why, whylen, "ron-kernel stopped with %s, not 0", st);
		return -1;
	}
	return 0;
}

void kern_destroy(struct kern *k)
{
	if (k->pid > 0 && !k->reaped) {
		if (kill(k->pid, SIGKILL) < 0 && errno != ESRCH)
			fprintf(stderr, "ron-bench: SIGKILL ron-kernel %d: %s\n", (int)k->pid,
				strerror(errno));
		if (waitpid(k->pid, &k->wstatus, 0) < 0)
			fprintf(stderr, "ron-bench: waitpid ron-kernel %d: %s\n", (int)k->pid,
				strerror(errno));
		k->reaped = true;
	}
	if (k->outfd >= 0)
		close(k->outfd);
	if (k->errfd >= 0)
		close(k->errfd);
	if (k->pidfd >= 0)
		close(k->pidfd);
	k->outfd = k->errfd = k->pidfd = -1;
	if (k->dir[0])
		scratch_remove(k->dir);
	k->dir[0] = '\0';
	free(k->ev);
	k->ev = NULL;
	k->nev = k->cap = 0;
}

void kern_dump(const struct kern *k)
{
	if (!k->dir[0])
		return;
	fprintf(stderr, "--- ron-kernel's last output lines (%s) ---\n", k->dir);
	unsigned n = k->ntail < KERN_TAIL ? k->ntail : KERN_TAIL;
	for (unsigned i = k->ntail - n; i < k->ntail; i++)
		fprintf(stderr, "%s\n", k->tail[i % KERN_TAIL]);
	char path[PATH_MAX], buf[4096];
	if (k->err_pipe)
		return; /* its stderr went to the caller */
	snprintf(path, sizeof(path), "%s/kernel.stderr", k->dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "ron-bench: open %s: %s\n", path, strerror(errno));
		return;
	}
	/* Its last bytes: the services' chatter can be long. */
	off_t size = lseek(fd, 0, SEEK_END), want = (off_t)sizeof(buf) - 1;
	if (size < 0 || lseek(fd, size > want ? size - want : 0, SEEK_SET) < 0) {
		fprintf(stderr, "ron-bench: lseek %s: %s\n", path, strerror(errno));
		close(fd);
		return;
	}
	ssize_t r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r < 0) {
		fprintf(stderr, "ron-bench: read %s: %s\n", path, strerror(errno));
		return;
	}
	buf[r] = '\0';
	fprintf(stderr, "--- end of its stderr (monitors and services too) ---\n%s", buf);
	fprintf(stderr, "--- end ---\n");
}

int kern_finish(struct kern *k, int rc, char *why, size_t whylen)
{
	if (rc == 0) {
		int64_t t_sig, t_exit;
		rc = kern_stop(k, &t_sig, &t_exit, why, whylen);
	}
	if (rc < 0)
		kern_dump(k);
	kern_destroy(k);
	return rc;
}
