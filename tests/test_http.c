/* ron-httpd and the metrics file through the real kernel: every request goes over a
 * real TCP socket to the address the kernel bound (port 0: one the system picks). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "clock.h"
#include "testlib.h"

#define WAIT_MS 30000

static const char *const names[3] = {"svc-index", "svc-overlay", "svc-storage"};

TestSuite(http, .init = tl_setup, .fini = tl_teardown, .timeout = 120);

struct ht {
	pid_t pid, httpd;
	int port;
	struct tl_lines r;
};
static struct ht k1;

static char **ht_env(char *const extra[])
{
	static char *with[16] = {"RON_HTTP_ADDR=127.0.0.1:0"};
	int n = 1;
	for (int i = 0; extra && extra[i] && n < 15; i++)
		with[n++] = extra[i];
	with[n] = NULL;
	return tl_kernel_env("run", NULL, with);
}

#define EXPECT(k, line, ...)                                                                       \
	cr_assert(tl_expect(&(k)->r, line, sizeof(line), WAIT_MS, __VA_ARGS__, NULL),              \
		  "no line with " #__VA_ARGS__ " in kernel output:\n%s", (k)->r.log)

static int field_num(const char *line, const char *key)
{
	const char *p = strstr(line, key);
	cr_assert(p, "no %s in %s", key, line);
	return atoi(p + strlen(key));
}

/* Starts a kernel with ron-httpd; learns the port and ron-httpd's pid. */
static void ht_start(struct ht *k, char *const extra[])
{
	char *argv[] = {RON_BUILD_DIR "/ron-kernel", NULL};
	char line[4096];
	int out;
	k->pid = tl_spawn(argv, ht_env(extra), &out, NULL);
	tl_lines_init(&k->r, out);
	EXPECT(k, line, "event=http_listening", "addr=127.0.0.1:");
	k->port = atoi(strrchr(line, ':') + 1);
	cr_assert_gt(k->port, 0, "%s", line);
	EXPECT(k, line, "event=httpd_started", "pid=");
	k->httpd = field_num(line, " pid=");
}

static void ht_stop(struct ht *k)
{
	int st;
	char line[4096];
	cr_assert_eq(kill(k->pid, SIGTERM), 0);
	EXPECT(k, line, "event=httpd_exited");
	cr_assert(tl_wait_exit(k->pid, WAIT_MS, &st), "kernel did not exit:\n%s", k->r.log);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "kernel exit status %#x", st);
	cr_assert_not(tl_pid_alive(k->httpd), "ron-httpd outlived the kernel");
}

/* From 127.0.0.HOST: all of 127/8 is loopback on Linux, so each host is a client
 * address of its own as ron-httpd's limit per address sees it. */
static void ht_bind_host(int fd, int host)
{
	int one = 1;
	/* The port is picked at connect, by the whole 4-tuple: binds do not use them up. */
	cr_assert_eq(setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)), 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK - 1 + (uint32_t)host);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0, "bind 127.0.0.%d: %s", host,
		     strerror(errno));
}

static int ht_connect_from(int port, int host)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	if (host != 1)
		ht_bind_host(fd, host);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "connect port %d: %s", port,
		     strerror(errno));
	return fd;
}

static int ht_connect(int port)
{
	return ht_connect_from(port, 1);
}

static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return; /* the server may hang up on a bad request: the reply says it */
		buf += n;
		len -= (size_t)n;
	}
}

/* Reads to EOF (or the deadline: false); out gets the bytes, NUL-terminated. */
static bool read_all(int fd, char *out, size_t outlen, int timeout_ms)
{
	int64_t deadline = clock_mono_us() + (int64_t)timeout_ms * 1000;
	size_t off = 0;
	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		int rc = poll(&p, 1, clock_poll_timeout(deadline, clock_mono_us()));
		if (rc == 0)
			break;
		if (rc < 0)
			continue;
		char scratch[4096];
		size_t room = outlen - 1 - off;
		ssize_t n = recv(fd, room ? out + off : scratch, room ? room : sizeof(scratch), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			out[off] = '\0';
			return true; /* EOF or reset: the server is done with us */
		}
		if (room)
			off += (size_t)n;
	}
	out[off] = '\0';
	return false;
}

/* One raw request on its own connection: the status code (0 if the server hung up
 * without one), the whole response in resp. */
static int http_raw_from(int port, int host, const char *req, size_t len, char *resp,
			 size_t resplen)
{
	int fd = ht_connect_from(port, host);
	send_all(fd, req, len);
	bool done = read_all(fd, resp, resplen, WAIT_MS);
	close(fd);
	cr_assert(done, "no end of the response to %.60s", req);
	int code = 0;
	if (strncmp(resp, "HTTP/1.", 7) == 0)
		code = atoi(resp + 9);
	return code;
}

static int http_raw(int port, const char *req, size_t len, char *resp, size_t resplen)
{
	return http_raw_from(port, 1, req, len, resp, resplen);
}

static int http_get(int port, const char *method, const char *path, char *resp, size_t resplen)
{
	char req[512];
	int n = snprintf(req, sizeof(req),
			 "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", method,
			 path);
	return http_raw(port, req, (size_t)n, resp, resplen);
}

static const char *body_of(const char *resp)
{
	const char *b = strstr(resp, "\r\n\r\n");
	cr_assert(b, "no end of headers in %s", resp);
	return b + 4;
}

static char resp[1 << 20];

/* The value of one sample of a metrics text, -1 if absent. */
static double sample(const char *text, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = text; (p = strstr(p, name)); p += n)
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

static bool healthz_is(void *arg)
{
	char r[4096];
	return http_get(k1.port, "GET", "/healthz", r, sizeof(r)) == *(int *)arg;
}

static void wait_healthz(int code)
{
	cr_assert(tl_wait_for(healthz_is, &code, WAIT_MS), "/healthz never answered %d:\n%s", code,
		  k1.r.log);
}

Test(http, the_start_line_comes_before_what_it_started)
{
	struct ht k;
	ht_start(&k, NULL);
	const char *start = strstr(k.r.log, "event=start "),
		   *listening = strstr(k.r.log, "event=http_listening"),
		   *httpd = strstr(k.r.log, "event=httpd_started");
	cr_assert(start && listening && httpd, "%s", k.r.log);
	cr_assert_lt(start, listening, "%s", k.r.log);
	cr_assert_lt(start, httpd, "%s", k.r.log);
	ht_stop(&k);
}

Test(http, endpoints)
{
	ht_start(&k1, NULL);
	wait_healthz(200);
	cr_assert_eq(http_get(k1.port, "GET", "/healthz", resp, sizeof(resp)), 200);
	cr_assert_str_eq(body_of(resp), "3/3 healthy\n");
	cr_assert_eq(http_get(k1.port, "GET", "/readyz", resp, sizeof(resp)), 200);
	cr_assert_str_eq(body_of(resp), "ready: 3/3 healthy\n");
	cr_assert_eq(http_get(k1.port, "GET", "/livez", resp, sizeof(resp)), 200);
	cr_assert(strstr(body_of(resp), "alive; the kernel spoke "), "%s", resp);

	cr_assert_eq(http_get(k1.port, "GET", "/metrics", resp, sizeof(resp)), 200);
	cr_assert(strstr(resp, "Content-Type: text/plain; version=0.0.4"), "%s", resp);
	const char *m = body_of(resp);
	cr_assert_eq(sample(m, "ron_service_up{service=\"svc-overlay\"}"), 1, "%s", m);
	cr_assert_eq(sample(m, "ron_build_info{version=\"0.1.0\"}"), 1);
	if (tl_have_command("promtool")) {
		const char *path = tl_path("scraped.prom");
		FILE *f = fopen(path, "w");
		cr_assert(f);
		fputs(m, f);
		fclose(f);
		char cmd[700], out[4096], err[4096];
		snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
		char *argv[] = {"/bin/sh", "-c", cmd, NULL};
		int st = tl_run(argv, NULL, out, sizeof(out), err, sizeof(err), WAIT_MS);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0 && !out[0] && !err[0],
			  "promtool check metrics of a scrape:\n%s%s", out, err);
	}

	cr_assert_eq(http_get(k1.port, "GET", "/status", resp, sizeof(resp)), 200);
	cr_assert(strstr(resp, "Content-Type: application/json"), "%s", resp);
	json_object *o = json_tokener_parse(body_of(resp)), *a;
	cr_assert(o, "/status is not JSON: %s", resp);
	cr_assert(json_object_object_get_ex(o, "services", &a));
	cr_assert_eq(json_object_array_length(a), 3);
	json_object_put(o);

	/* The status page and its files: a strict policy, no sniffing, no framing. */
	cr_assert_eq(http_get(k1.port, "GET", "/", resp, sizeof(resp)), 200);
	cr_assert(strstr(resp, "Content-Type: text/html; charset=utf-8"), "%s", resp);
	cr_assert(strstr(resp, "Content-Security-Policy: default-src 'self'; script-src 'self'; "
			       "style-src 'self';"),
		  "%s", resp);
	cr_assert(strstr(resp, "frame-ancestors 'none'"), "%s", resp);
	cr_assert(strstr(resp, "X-Content-Type-Options: nosniff"), "%s", resp);
	cr_assert(strstr(resp, "Cache-Control: no-store"), "%s", resp);
	cr_assert(strstr(resp, "X-Snapshot-Age-Ms: "), "%s", resp);
	cr_assert(strstr(body_of(resp), "<title>3/3 healthy \xc2\xb7 ron-kernel</title>"), "%s",
		  resp);
	cr_assert(strstr(body_of(resp), "<tr data-service=\"svc-overlay\">"), "%s", resp);
	cr_assert_null(strstr(body_of(resp), "<script>"), "an inline script: %s", resp);
	cr_assert_eq(http_get(k1.port, "GET", "/page.js", resp, sizeof(resp)), 200);
	cr_assert(strstr(resp, "Content-Type: text/javascript"), "%s", resp);
	cr_assert(strstr(resp, "Cache-Control: public, max-age=300"), "%s", resp);
	cr_assert(strstr(body_of(resp), "window.ronPage"), "%.200s", resp);
	cr_assert_eq(http_get(k1.port, "GET", "/page.css", resp, sizeof(resp)), 200);
	cr_assert(strstr(resp, "Content-Type: text/css"), "%s", resp);
	cr_assert(strstr(body_of(resp), "prefers-color-scheme: dark"), "%.200s", resp);

	/* HEAD: the headers only. */
	cr_assert_eq(http_get(k1.port, "HEAD", "/metrics", resp, sizeof(resp)), 200);
	cr_assert_str_eq(body_of(resp), "");
	cr_assert_eq(http_get(k1.port, "POST", "/metrics", resp, sizeof(resp)), 405);
	cr_assert(strstr(resp, "Allow: GET, HEAD"), "%s", resp);
	cr_assert_eq(http_get(k1.port, "DELETE", "/healthz", resp, sizeof(resp)), 405);
	cr_assert_eq(http_get(k1.port, "GET", "/metrics/x", resp, sizeof(resp)), 404);
	cr_assert_eq(http_get(k1.port, "POST", "/nowhere", resp, sizeof(resp)), 404);
	ht_stop(&k1);
}

static bool healthz_names_index(void *arg)
{
	return http_get(k1.port, "GET", "/healthz", resp, sizeof(resp)) == 503 &&
	       strstr(body_of(resp), "svc-index quarantined");
}

Test(http, healthz_503_names_what_is_wrong)
{
	char *extra[] = {"RON_SVC_INDEX_BIN=/nonexistent/svc-index", NULL};
	ht_start(&k1, extra);
	/* Before the first snapshot: 503 as well, and says why. */
	int code = http_get(k1.port, "GET", "/healthz", resp, sizeof(resp));
	cr_assert_eq(code, 503, "%s", resp);
	cr_assert(tl_wait_for(healthz_names_index, NULL, WAIT_MS), "/healthz: %s", resp);
	cr_assert(strstr(body_of(resp), "2/3 healthy"), "%s", resp);
	ht_stop(&k1);
}

struct http_want {
	const char *path, *has;
	int code;
};

static bool probe_is(void *arg)
{
	const struct http_want *p = arg;
	return http_get(k1.port, "GET", p->path, resp, sizeof(resp)) == p->code &&
	       strstr(body_of(resp), p->has);
}

static void wait_probe(const char *path, int code, const char *has)
{
	struct http_want p = {path, has, code};
	cr_assert(tl_wait_for(probe_is, &p, WAIT_MS), "%s never answered %d with \"%s\": %s", path,
		  code, has, resp);
}

/* A quarantined service: not ready, and the body names it and why; but the kernel is
 * alive, so a liveness probe must not get the pod killed for it. */
Test(http, readyz_names_a_quarantined_service_and_livez_stays_200)
{
	char *extra[] = {"RON_SVC_INDEX_BIN=/nonexistent/svc-index", NULL};
	ht_start(&k1, extra);
	wait_probe("/readyz", 503, "\nsvc-index quarantined: ");
	const char *b = body_of(resp);
	cr_assert(strncmp(b, "not ready: 2/3 healthy\n", 23) == 0, "%s", b);
	cr_assert(strstr(b, "quarantined: 5 restarts within"), "the reason is not given: %s", b);
	cr_assert_not(strstr(b, "svc-overlay"), "a healthy service is named: %s", b);
	cr_assert_eq(http_get(k1.port, "GET", "/livez", resp, sizeof(resp)), 200, "%s", resp);
	cr_assert_eq(http_get(k1.port, "GET", "/healthz", resp, sizeof(resp)), 503, "%s", resp);
	ht_stop(&k1);
}

/* A kernel whose loop does not turn (here SIGSTOP; a deadlock looks the same): ron-httpd
 * still answers, and /livez says the kernel has gone silent, until it speaks again. */
Test(http, livez_fails_while_the_kernel_is_stopped)
{
	ht_start(&k1, NULL);
	wait_probe("/readyz", 200, "ready: 3/3 healthy");
	wait_probe("/livez", 200, "alive");
	cr_assert_eq(kill(k1.pid, SIGSTOP), 0);
	wait_probe("/livez", 503, "not alive: the kernel has been silent for ");
	cr_assert_eq(kill(k1.pid, SIGCONT), 0);
	wait_probe("/livez", 200, "alive; the kernel spoke ");
	ht_stop(&k1);
}

Test(http, malformed_requests)
{
	ht_start(&k1, NULL);
	wait_healthz(200);
	static const struct {
		const char *what, *req;
	} bad[] = {
	    {"garbage", "GARBAGE\r\n\r\n"},
	    {"no Host in HTTP/1.1", "GET /metrics HTTP/1.1\r\n\r\n"},
	    {"bad version", "GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n"},
	    {"binary", "\x01\x02\x03\xff\xfe\r\n\r\n"},
	    {"header without colon", "GET /metrics HTTP/1.1\r\nHost: x\r\nnonsense\r\n\r\n"},
	    {"space before colon", "GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n"},
	    {"bad content length",
	     "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int code = http_raw(k1.port, bad[i].req, strlen(bad[i].req), resp, sizeof(resp));
		cr_assert(code == 0 || (code >= 400 && code < 500) || code == 505,
			  "%s: answered %d:\n%s", bad[i].what, code, resp);
	}
	/* Headers larger than a request may be: refused, not buffered. */
	static char big[256 * 1024];
	int n = snprintf(big, sizeof(big), "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(big + n, 'a', sizeof(big) - (size_t)n - 5);
	memcpy(big + sizeof(big) - 5, "\r\n\r\n", 5);
	int code = http_raw(k1.port, big, sizeof(big) - 1, resp, sizeof(resp));
	cr_assert(code == 0 || code == 413 || code == 431, "huge header answered %d", code);
	/* And it still serves. */
	cr_assert_eq(http_get(k1.port, "GET", "/healthz", resp, sizeof(resp)), 200);
	cr_assert(tl_pid_alive(k1.httpd), "ron-httpd died of a bad request");
	cr_assert_null(strstr(k1.r.log, "httpd_lost"), "%s", k1.r.log);
	ht_stop(&k1);
}

Test(http, slowloris_clients_are_dropped_and_do_not_block)
{
	char *extra[] = {"RON_HTTP_TIMEOUT_MS=1000", NULL};
	ht_start(&k1, extra);
	wait_healthz(200);
	enum { SLOW = 50 };
	int fd[SLOW];
	/* Each sends half a request and then nothing. */
	int64_t t0 = clock_mono_us();
	for (int i = 0; i < SLOW; i++) {
		fd[i] = ht_connect(k1.port);
		send_all(fd[i], "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ", 40);
	}
	cr_assert_eq(http_get(k1.port, "GET", "/healthz", resp, sizeof(resp)), 200,
		     "a normal client waited behind slow ones");
	for (int i = 0; i < SLOW; i++) {
		char r[4096];
		cr_assert(read_all(fd[i], r, sizeof(r), WAIT_MS), "slow client %d never dropped",
			  i);
		close(fd[i]);
	}
	/* Dropped for their time (RON_HTTP_TIMEOUT_MS), not for their number. */
	cr_assert_geq(clock_mono_us() - t0, 900000, "slow clients dropped before their timeout");
	cr_assert_eq(http_get(k1.port, "GET", "/healthz", resp, sizeof(resp)), 200);
	ht_stop(&k1);
}

/* A slowloris attack: SL_SLOW clients from 127.0.0.2..4, each a request line and then
 * one header byte every SL_DRIP_MS for ever, coming back at its next byte when it is
 * dropped; all the while /healthz is probed from 127.0.0.1.  The probes run in the
 * same poll loop as the drips: a probe that waited in a blocking read would stop the
 * drips, and let an idle timeout drop the slow clients for it. */
enum {
	SL_CONNECTIONS = 8, /* RON_HTTP_CONNECTIONS: 2 per address */
	SL_TIMEOUT_MS = 1000,
	SL_MARGIN_MS = 500, /* for a busy machine to run ron-httpd and the test */
	SL_ADDRS = 3,
	SL_PER_ADDR = 4, /* twice what one address may hold: 12 in all, more than 8 */
	SL_SLOW = SL_ADDRS * SL_PER_ADDR,
	SL_DRIP_MS = 250,
	SL_ATTACK_MS = 4000,
	SL_PROBE_EVERY_MS = 200,
	SL_PROBE_MS = 1000, /* a kubelet's default timeoutSeconds */
};

struct drip {
	int fd, host;
	int64_t opened_us, next_us;
};

struct probe {
	int fd;
	int64_t start_us, next_us;
	size_t len;
	char buf[4096];
};

struct attack {
	int port;
	struct drip d[SL_SLOW];
	struct probe p;
	int held; /* slow connections that lasted their whole timeout */
	int answered;
};

static void fd_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	cr_assert(fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0, "%s", strerror(errno));
}

static int attack_count_open(const struct attack *a)
{
	int n = 0;
	for (int i = 0; i < SL_SLOW; i++)
		n += a->d[i].fd >= 0;
	return n;
}

static void drip_step(struct attack *a, struct drip *d, int64_t now)
{
	static const char line[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ";
	d->next_us = now + SL_DRIP_MS * 1000;
	if (d->fd < 0) {
		d->fd = ht_connect_from(a->port, d->host);
		d->opened_us = clock_mono_us();
		send_all(d->fd, line, sizeof(line) - 1);
		fd_nonblock(d->fd);
		return;
	}
	int64_t age_ms = (now - d->opened_us) / 1000;
	cr_assert_leq(age_ms, SL_TIMEOUT_MS + SL_MARGIN_MS,
		      "a slow client from 127.0.0.%d still open after %lld ms of dripping", d->host,
		      (long long)age_ms);
	/* Unchecked: a client the server has dropped learns it from its next read. */
	(void)send(d->fd, "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* The server closed it (or refused it at once): within its timeout, never beyond. */
static void drip_read(struct attack *a, struct drip *d, int64_t now)
{
	char buf[4096];
	ssize_t n = recv(d->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
		return;
	int64_t age_ms = (now - d->opened_us) / 1000;
	cr_assert_leq(age_ms, SL_TIMEOUT_MS + SL_MARGIN_MS, "a slow client closed after %lld ms",
		      (long long)age_ms);
	a->held += age_ms >= SL_TIMEOUT_MS * 9 / 10;
	close(d->fd);
	d->fd = -1;
}

static void probe_step(struct attack *a, int64_t now)
{
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	struct probe *p = &a->p;
	if (p->fd >= 0) {
		cr_assert_leq(now - p->start_us, SL_PROBE_MS * 1000,
			      "/healthz unanswered for %d ms, %d slow clients connected",
			      SL_PROBE_MS, attack_count_open(a));
		return;
	}
	p->start_us = now;
	p->next_us = now + SL_PROBE_EVERY_MS * 1000;
	p->len = 0;
	p->fd = ht_connect(a->port);
	send_all(p->fd, req, sizeof(req) - 1);
	fd_nonblock(p->fd);
}

static void probe_read(struct attack *a, int64_t now)
{
	struct probe *p = &a->p;
	size_t room = sizeof(p->buf) - 1 - p->len;
	ssize_t n = recv(p->fd, p->buf + p->len, room, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0 && (size_t)n < room) {
		p->len += (size_t)n;
		return;
	}
	p->buf[p->len] = '\0';
	cr_assert_leq(now - p->start_us, SL_PROBE_MS * 1000, "/healthz answered late");
	cr_assert_eq(strncmp(p->buf, "HTTP/1.1 200", 12), 0, "/healthz during the attack: %s",
		     p->buf);
	close(p->fd);
	p->fd = -1;
	a->answered++;
}

/* The next time a client has something to do: a byte, a probe, a deadline. */
static int64_t attack_next(const struct attack *a, int64_t end_us)
{
	int64_t t = end_us;
	for (int i = 0; i < SL_SLOW; i++)
		t = a->d[i].next_us < t ? a->d[i].next_us : t;
	int64_t p = a->p.fd >= 0 ? a->p.start_us + SL_PROBE_MS * 1000 + 1000 : a->p.next_us;
	return p < t ? p : t;
}

static void attack_poll(struct attack *a, int64_t end_us)
{
	struct pollfd p[SL_SLOW + 1];
	for (int i = 0; i < SL_SLOW; i++)
		p[i] = (struct pollfd){a->d[i].fd, POLLIN, 0};
	p[SL_SLOW] = (struct pollfd){a->p.fd, POLLIN, 0};
	int rc = poll(p, SL_SLOW + 1, clock_poll_timeout(attack_next(a, end_us), clock_mono_us()));
	cr_assert(rc >= 0 || errno == EINTR, "poll: %s", strerror(errno));
	int64_t now = clock_mono_us();
	for (int i = 0; rc > 0 && i < SL_SLOW; i++)
		if (p[i].revents)
			drip_read(a, &a->d[i], now);
	if (rc > 0 && p[SL_SLOW].revents)
		probe_read(a, now);
}

static void attack_run(struct attack *a, int64_t end_us)
{
	for (int64_t now; (now = clock_mono_us()) < end_us;) {
		for (int i = 0; i < SL_SLOW; i++)
			if (now >= a->d[i].next_us)
				drip_step(a, &a->d[i], now);
		if (now >= a->p.next_us)
			probe_step(a, now);
		attack_poll(a, end_us);
	}
}

Test(http, slowloris_dripping_clients_are_cut_at_their_deadline)
{
	char conns[64], timeout[64];
	snprintf(conns, sizeof(conns), "RON_HTTP_CONNECTIONS=%d", SL_CONNECTIONS);
	snprintf(timeout, sizeof(timeout), "RON_HTTP_TIMEOUT_MS=%d", SL_TIMEOUT_MS);
	char *extra[] = {conns, timeout, NULL};
	ht_start(&k1, extra);
	wait_healthz(200);
	static struct attack a;
	int64_t t0 = clock_mono_us();
	a.port = k1.port;
	/* The clients start spread over one drip, the probes once they are all in. */
	for (int i = 0; i < SL_SLOW; i++)
		a.d[i] =
		    (struct drip){-1, 2 + i % SL_ADDRS, 0, t0 + i * SL_DRIP_MS * 1000 / SL_SLOW};
	a.p = (struct probe){.fd = -1, .next_us = t0 + SL_DRIP_MS * 1000};
	attack_run(&a, t0 + SL_ATTACK_MS * 1000);
	for (int i = 0; i < SL_SLOW; i++)
		if (a.d[i].fd >= 0)
			close(a.d[i].fd);
	/* They did hold slots all along: a quarter each address, for their whole timeout. */
	cr_assert_geq(a.held, SL_ADDRS * (SL_CONNECTIONS / 4) * (SL_ATTACK_MS / SL_TIMEOUT_MS - 2),
		      "only %d slow connections lasted their timeout", a.held);
	cr_assert_geq(a.answered, SL_ATTACK_MS / SL_PROBE_EVERY_MS / 2, "only %d probes",
		      a.answered);
	if (a.p.fd >= 0)
		close(a.p.fd);
	ht_stop(&k1);
}

static bool served_from_2(void *arg)
{
	(void)arg;
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	char r[4096];
	return http_raw_from(k1.port, 2, req, sizeof(req) - 1, r, sizeof(r)) == 200;
}

Test(http, one_address_holds_at_most_a_quarter_of_the_connections)
{
	char *extra[] = {"RON_HTTP_CONNECTIONS=8", "RON_HTTP_TIMEOUT_MS=60000", NULL};
	ht_start(&k1, extra);
	wait_healthz(200);
	int fd[3];
	for (int i = 0; i < 3; i++) {
		fd[i] = ht_connect_from(k1.port, 2);
		send_all(fd[i], "GET /metrics HTTP/1.1\r\n", 23);
	}
	/* The third from 127.0.0.2 is closed at once; the first two are held. */
	char r[4096];
	cr_assert(read_all(fd[2], r, sizeof(r), 10000), "a third connection from 127.0.0.2 held");
	for (int i = 0; i < 2; i++) {
		struct pollfd p = {fd[i], POLLIN, 0};
		cr_assert_eq(poll(&p, 1, 0), 0, "connection %d from 127.0.0.2 was closed", i);
	}
	cr_assert_eq(http_get(k1.port, "GET", "/healthz", resp, sizeof(resp)), 200);
	/* One of its two gone, the address has room again. */
	close(fd[0]);
	cr_assert(tl_wait_for(served_from_2, NULL, WAIT_MS), "127.0.0.2 never served again");
	close(fd[1]);
	close(fd[2]);
	ht_stop(&k1);
}

Test(http, connections_beyond_the_limit_wait_their_turn)
{
	char *extra[] = {"RON_HTTP_CONNECTIONS=5", "RON_HTTP_TIMEOUT_MS=1000", NULL};
	ht_start(&k1, extra);
	wait_healthz(200);
	int fd[5];
	int64_t t0 = clock_mono_us();
	/* Each from an address of its own: one address may hold only a quarter (1 of 5). */
	for (int i = 0; i < 5; i++) {
		fd[i] = ht_connect_from(k1.port, 2 + i);
		send_all(fd[i], "GET /metrics HTTP/1.1\r\nHost: x\r\n", 33);
	}
	/* The sixth is served only once the slow five have been dropped. */
	cr_assert_eq(http_get(k1.port, "GET", "/healthz", resp, sizeof(resp)), 200);
	cr_assert_geq(clock_mono_us() - t0, 900000, "served beyond RON_HTTP_CONNECTIONS=5");
	for (int i = 0; i < 5; i++)
		close(fd[i]);
	ht_stop(&k1);
}

Test(http, two_hundred_parallel_connections)
{
	ht_start(&k1, NULL);
	wait_healthz(200);
	enum { N = 200 };
	int fd[N];
	static const char req[] =
	    "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
	/* From four addresses: one may hold only a quarter of the default 256. */
	for (int i = 0; i < N; i++)
		fd[i] = ht_connect_from(k1.port, 1 + i % 4);
	for (int i = 0; i < N; i++)
		send_all(fd[i], req, sizeof(req) - 1);
	int ok = 0;
	for (int i = 0; i < N; i++) {
		static char r[65536];
		cr_assert(read_all(fd[i], r, sizeof(r), WAIT_MS), "connection %d: no end", i);
		close(fd[i]);
		ok += strncmp(r, "HTTP/1.1 200", 12) == 0 && strstr(r, "ron_build_info");
	}
	cr_assert_eq(ok, N, "%d of %d parallel requests answered 200", ok, N);
	ht_stop(&k1);
}

static int run_kernel(char *const extra[], char *err, size_t errlen)
{
	char *argv[] = {RON_BUILD_DIR "/ron-kernel", NULL};
	static char out[65536];
	return tl_run(argv, ht_env(extra), out, sizeof(out), err, errlen, WAIT_MS);
}

Test(http, bad_and_non_loopback_addresses_refused)
{
	static const struct {
		const char *addr, *why;
	} bad[] = {
	    {"RON_HTTP_ADDR=0.0.0.0:0", "not a loopback address; set RON_HTTP_PUBLIC=1"},
	    {"RON_HTTP_ADDR=[::]:0", "not a loopback address"},
	    {"RON_HTTP_ADDR=10.1.2.3:9464", "not a loopback address"},
	    {"RON_HTTP_ADDR=127.0.0.1", "RON_HTTP_ADDR=127.0.0.1: expected HOST:PORT"},
	    {"RON_HTTP_ADDR=localhost:99999", "out of range"},
	    {"RON_HTTP_ADDR=example.com:80", "not a numeric IPv4"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[4096];
		char *extra[] = {(char *)bad[i].addr, NULL};
		int st = run_kernel(extra, err, sizeof(err));
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 78, "%s: status %#x", bad[i].addr,
			  st);
		cr_assert(strstr(err, bad[i].why), "%s: %s", bad[i].addr, err);
	}
	/* In use already: refused at start, clearly. */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof(a);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(fd, 1), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	char used[64], err[4096];
	snprintf(used, sizeof(used), "RON_HTTP_ADDR=127.0.0.1:%d", ntohs(a.sin_port));
	char *extra[] = {used, NULL};
	int st = run_kernel(extra, err, sizeof(err));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 78, "status %#x", st);
	cr_assert(strstr(err, "bind: Address already in use"), "%s", err);
	close(fd);

	/* With RON_HTTP_PUBLIC=1 every address is allowed. */
	char *pub[] = {"RON_HTTP_ADDR=0.0.0.0:0", "RON_HTTP_PUBLIC=1", NULL};
	char *argv[] = {RON_BUILD_DIR "/ron-kernel", NULL};
	char line[4096];
	int out;
	k1.pid = tl_spawn(argv, ht_env(pub), &out, NULL);
	tl_lines_init(&k1.r, out);
	EXPECT(&k1, line, "event=http_listening", "addr=0.0.0.0:");
	ht_stop(&k1);
}

struct row {
	pid_t pid, mpid;
};

/* The three services' pids once status.json shows them all healthy: never a 0 that
 * kill() would take for our own process group. */
static void rows_read(struct row rows[3])
{
	cr_assert(tl_wait_for(tl_seed_all_healthy, NULL, WAIT_MS), "status.json not all healthy");
	char path[600];
	snprintf(path, sizeof(path), "%s/run/status.json", tl_dir());
	json_object *o = json_object_from_file(path), *a, *v;
	cr_assert(o);
	cr_assert(json_object_object_get_ex(o, "services", &a));
	for (int i = 0; i < 3; i++) {
		json_object *e = json_object_array_get_idx(a, (size_t)i);
		json_object_object_get_ex(e, "pid", &v);
		rows[i].pid = json_object_get_int(v);
		json_object_object_get_ex(e, "mpid", &v);
		rows[i].mpid = json_object_get_int(v);
		cr_assert(rows[i].pid > 0 && rows[i].mpid > 0, "row %d: pid %d, mpid %d", i,
			  (int)rows[i].pid, (int)rows[i].mpid);
	}
	json_object_put(o);
}

static bool metrics_served(void *arg)
{
	(void)arg;
	return http_get(k1.port, "GET", "/metrics", resp, sizeof(resp)) == 200;
}

Test(http, httpd_killed_is_replaced_services_untouched)
{
	ht_start(&k1, NULL);
	wait_healthz(200);
	struct row before[3], after[3];
	rows_read(before);
	char line[4096], pidstr[32];
	pid_t old = k1.httpd;
	cr_assert_eq(kill(old, SIGKILL), 0);
	snprintf(pidstr, sizeof(pidstr), "pid=%d ", (int)old);
	EXPECT(&k1, line, "event=httpd_lost", pidstr, "signal=SIGKILL");
	EXPECT(&k1, line, "event=httpd_started");
	k1.httpd = field_num(line, " pid=");
	cr_assert_neq(k1.httpd, old);
	/* The new one serves once its first snapshot has arrived. */
	cr_assert(tl_wait_for(metrics_served, NULL, WAIT_MS), "no /metrics from the new ron-httpd");
	cr_assert_eq(sample(body_of(resp), "ron_service_up{service=\"svc-index\"}"), 1);
	/* Killed again at once: replaced after a delay, not in a tight loop. */
	cr_assert_eq(kill(k1.httpd, SIGKILL), 0);
	EXPECT(&k1, line, "event=httpd_lost");
	EXPECT(&k1, line, "event=httpd_restarting", "delay_ms=");
	EXPECT(&k1, line, "event=httpd_started");
	wait_healthz(200);
	rows_read(after);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(after[i].pid, before[i].pid, "%s was restarted", names[i]);
		cr_assert_eq(after[i].mpid, before[i].mpid, "the monitor of %s changed", names[i]);
	}
	cr_assert(tl_pid_alive(k1.pid));
	const char *bad[] = {"event=exited", "event=monitor_lost", "event=stopping"};
	for (int i = 0; i < 3; i++)
		cr_assert_null(strstr(k1.r.log, bad[i]), "%s:\n%s", bad[i], k1.r.log);
	ht_stop(&k1);
}

/* A monitor lost while its service is down makes the kernel kill every child it
 * cannot account for: ron-httpd is accounted for. */
Test(http, httpd_survives_the_orphan_sweep)
{
	/* Every crash waits 2 s: the monitor is lost while its service is down. */
	char *extra[] = {"RON_STABLE_MS=60000", "RON_BACKOFF_MIN_MS=2000",
			 "RON_BACKOFF_MAX_MS=4000", NULL};
	ht_start(&k1, extra);
	wait_healthz(200);
	struct row r[3];
	rows_read(r);
	char line[4096];
	cr_assert_eq(kill(r[0].pid, SIGKILL), 0);
	EXPECT(&k1, line, "event=restarting", "service=svc-index");
	cr_assert_eq(kill(r[0].mpid, SIGKILL), 0);
	EXPECT(&k1, line, "event=monitor_lost", "service=svc-index", "pid=0");
	EXPECT(&k1, line, "event=ready", "service=svc-index");
	wait_healthz(200);
	cr_assert(tl_pid_alive(k1.httpd), "ron-httpd was killed:\n%s", k1.r.log);
	cr_assert_null(strstr(k1.r.log, "comm=ron-httpd"), "%s", k1.r.log);
	cr_assert_null(strstr(k1.r.log, "event=httpd_lost"), "%s", k1.r.log);
	ht_stop(&k1);
}

Test(http, httpd_drops_root)
{
	if (geteuid() != 0)
		cr_skip_test("not root: ron-httpd has no privileges to drop");
	ht_start(&k1, NULL);
	wait_healthz(200);
	char path[64], st[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)k1.httpd);
	cr_assert_gt(tl_read_file(path, st, sizeof(st)), 0);
	const char *uid = strstr(st, "\nUid:");
	cr_assert(uid);
	cr_assert_eq(atoi(uid + 5), 65534, "ron-httpd still runs as uid %d", atoi(uid + 5));
	const char *nnp = strstr(st, "\nNoNewPrivs:");
	cr_assert(nnp && atoi(nnp + 12) == 1, "%s", st);
	ht_stop(&k1);
}

/* The values a scenario must leave, per service (index, overlay, storage). */
struct expect {
	double restarts[3], lost[3], frozen[3], timeouts[3];
};

static char mtext[1 << 20];

static bool values_are(const char *text, const struct expect *e, char *diff, size_t difflen)
{
	char name[200];
	diff[0] = '\0';
	for (int i = 0; i < 3; i++) {
		struct {
			const char *fmt;
			double want;
		} c[] = {
		    {"ron_service_restarts_total{service=\"%s\"}", e->restarts[i]},
		    {"ron_monitor_replacements_total{service=\"%s\",reason=\"lost\"}", e->lost[i]},
		    {"ron_monitor_replacements_total{service=\"%s\",reason=\"frozen\"}",
		     e->frozen[i]},
		    {"ron_health_checks_total{service=\"%s\",result=\"timeout\"}", e->timeouts[i]},
		    {"ron_service_up{service=\"%s\"}", 1},
		};
		for (size_t j = 0; j < sizeof(c) / sizeof(c[0]); j++) {
			snprintf(name, sizeof(name), c[j].fmt, names[i]);
			double got = sample(text, name);
			if (got != c[j].want) {
				snprintf(diff, difflen, "%s is %g, expected %g", name, got,
					 c[j].want);
				return false;
			}
		}
		snprintf(name, sizeof(name),
			 "ron_health_checks_total{service=\"%s\",result=\"ok\"}", names[i]);
		if (sample(text, name) < 1) {
			snprintf(diff, difflen, "%s is %g, expected > 0", name, sample(text, name));
			return false;
		}
	}
	return true;
}

struct scen {
	const struct expect *e;
	bool file;
	char diff[256];
};

static bool scraped_values(void *arg)
{
	struct scen *s = arg;
	if (s->file) {
		ssize_t n = tl_read_file(tl_path("metrics/ron.prom"), mtext, sizeof(mtext));
		if (n <= 0)
			return false;
		mtext[n] = '\0';
		return values_are(mtext, s->e, s->diff, sizeof(s->diff));
	}
	if (http_get(k1.port, "GET", "/metrics", resp, sizeof(resp)) != 200)
		return false;
	return values_are(body_of(resp), s->e, s->diff, sizeof(s->diff));
}

static void wait_ready_again(const char *svc, pid_t old)
{
	char line[4096];
	for (;;) {
		EXPECT(&k1, line, "event=ready", svc);
		if (field_num(line, " pid=") != old)
			return;
	}
}

/* 2 kills, 1 hang, 1 monitor kill: the counters say exactly that, over HTTP and in
 * the file, and a monitor's replacement loses none of them. */
Test(http, counters_match_a_scripted_scenario)
{
	cr_assert_eq(mkdir(tl_path("metrics"), 0755), 0);
	char file[600];
	snprintf(file, sizeof(file), "RON_METRICS_FILE=%s", tl_path("metrics/ron.prom"));
	char *extra[] = {file, NULL};
	ht_start(&k1, extra);
	wait_healthz(200);
	struct row r[3];
	char line[4096];
	rows_read(r);
	/* Two kills of svc-index. */
	cr_assert_eq(kill(r[0].pid, SIGKILL), 0);
	wait_ready_again("service=svc-index", r[0].pid);
	wait_healthz(200);
	rows_read(r);
	cr_assert_eq(kill(r[0].pid, SIGKILL), 0);
	wait_ready_again("service=svc-index", r[0].pid);
	/* svc-overlay hangs: three timeouts make it unhealthy, and it is restarted. */
	cr_assert_eq(kill(r[1].pid, SIGUSR1), 0);
	EXPECT(&k1, line, "event=unhealthy", "service=svc-overlay");
	wait_ready_again("service=svc-overlay", r[1].pid);
	/* The monitor of svc-storage is killed: replaced, its service adopted. */
	cr_assert_eq(kill(r[2].mpid, SIGKILL), 0);
	EXPECT(&k1, line, "event=adopted", "service=svc-storage");
	wait_healthz(200);

	static const struct expect e = {
	    .restarts = {2, 1, 0},
	    .lost = {0, 0, 1},
	    .frozen = {0, 0, 0},
	    .timeouts = {0, 3, 0},
	};
	struct scen s = {&e, false, ""};
	cr_assert(tl_wait_for(scraped_values, &s, WAIT_MS), "over HTTP: %s\n%s", s.diff,
		  body_of(resp));
	s.file = true;
	cr_assert(tl_wait_for(scraped_values, &s, WAIT_MS), "in the file: %s\n%s", s.diff, mtext);
	ht_stop(&k1);
}

struct atomic_ctx {
	int reads;
	char why[256];
};

/* The file is whole at every read: it ends with the last family's last sample. */
static bool file_whole(void *arg)
{
	struct atomic_ctx *c = arg;
	ssize_t n = tl_read_file(tl_path("metrics/ron.prom"), mtext, sizeof(mtext));
	if (n <= 0) {
		snprintf(c->why, sizeof(c->why), "read %zd bytes", n);
		return true;
	}
	mtext[n] = '\0';
	static const char last[] =
	    "ron_monitor_replacements_total{service=\"svc-storage\",reason=\"frozen\"} 0\n";
	if (n < (ssize_t)sizeof(last) || strcmp(mtext + n - (sizeof(last) - 1), last) != 0 ||
	    strncmp(mtext, "# HELP ron_build_info", 21) != 0) {
		snprintf(c->why, sizeof(c->why), "a partial file of %zd bytes", n);
		return true;
	}
	return ++c->reads >= 2000;
}

static ino_t inode_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

struct inode_ctx {
	ino_t old;
};

static bool inode_changed(void *arg)
{
	struct inode_ctx *c = arg;
	ino_t now = inode_of(tl_path("metrics/ron.prom"));
	return now && now != c->old;
}

Test(http, metrics_file_replaced_atomically)
{
	cr_assert_eq(mkdir(tl_path("metrics"), 0755), 0);
	char file[600];
	snprintf(file, sizeof(file), "RON_METRICS_FILE=%s", tl_path("metrics/ron.prom"));
	char *extra[] = {file, "RON_STATUS_INTERVAL_MS=100", "RON_HTTP_ADDR=", NULL};
	char *argv[] = {RON_BUILD_DIR "/ron-kernel", NULL};
	int out;
	k1.pid = tl_spawn(argv, ht_env(extra), &out, NULL);
	tl_lines_init(&k1.r, out);
	char line[4096];
	EXPECT(&k1, line, "event=all_ready");
	/* Written anew (a new inode: renamed into place) on the tick... */
	struct inode_ctx ic = {inode_of(tl_path("metrics/ron.prom"))};
	cr_assert_neq(ic.old, 0);
	cr_assert(tl_wait_for(inode_changed, &ic, WAIT_MS), "the file was not replaced");
	/* ...and never seen half-written, however often it is read. */
	struct atomic_ctx c = {0, ""};
	cr_assert(tl_wait_for(file_whole, &c, WAIT_MS), "only %d reads", c.reads);
	cr_assert_eq(c.why[0], '\0', "%s after %d whole reads:\n%s", c.why, c.reads, mtext);
	cr_assert_eq(kill(k1.pid, SIGTERM), 0);
	int st;
	cr_assert(tl_wait_exit(k1.pid, WAIT_MS, &st));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_assert_neq(access(tl_path("metrics/.ron.prom.tmp"), F_OK), 0, "temporary file left");
}

Test(http, metrics_file_that_cannot_be_written_is_refused)
{
	char file[600], err[4096];
	snprintf(file, sizeof(file), "RON_METRICS_FILE=%s", tl_path("missing/ron.prom"));
	char *extra[] = {file, "RON_HTTP_ADDR=", NULL};
	int st = run_kernel(extra, err, sizeof(err));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 78, "status %#x: %s", st, err);
	cr_assert(strstr(err, "RON_METRICS_FILE="), "%s", err);
	cr_assert(strstr(err, "No such file or directory"), "%s", err);
}

/* Finding: ron-httpd's stdout and stderr were the kernel's stderr, so it could write
 * into the supervisor's log as the supervisor.  Its output is a pipe the kernel reads:
 * each line an httpd_output event, escaped.  Here ron-httpd is a wrapper next to a
 * copy of the kernel that writes a forged line to both before it execs the real one. */
Test(http, httpd_output_is_relayed_labelled_and_escaped)
{
	char dir[600], cmd[2048], line[4096];
	snprintf(dir, sizeof(dir), "%s/bin", tl_dir());
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp %s/ron-kernel %s/ron-monitor %s/", dir,
		 RON_BUILD_DIR, RON_BUILD_DIR, dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	char wrapper[700];
	snprintf(wrapper, sizeof(wrapper), "%s/ron-httpd", dir);
	FILE *f = fopen(wrapper, "w");
	cr_assert(f);
	fprintf(f,
		"#!/bin/sh\n"
		"printf 'out\\rron-kernel: event=all_ready\\n'\n"
		"printf 'err\\033[2K forged\\n' >&2\n"
		"exec %s/ron-httpd \"$@\"\n",
		RON_BUILD_DIR);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(wrapper, 0755), 0);
	char kernel[700];
	snprintf(kernel, sizeof(kernel), "%s/ron-kernel", dir);
	char *argv[] = {kernel, NULL};
	int out, err;
	k1.pid = tl_spawn(argv, ht_env(NULL), &out, &err);
	tl_lines_init(&k1.r, out);
	static struct tl_lines e;
	tl_lines_init(&e, err);
	EXPECT(&k1, line, "event=httpd_output", "line=\"out\\\\x0dron-kernel: event=all_ready\"");
	EXPECT(&k1, line, "event=httpd_output", "line=\"err\\\\x1b[2K forged\"");
	EXPECT(&k1, line, "event=all_ready");
	k1.httpd = 0;
	ht_stop(&k1);
	while (tl_next_line(&e, line, sizeof(line), 0))
		;
	cr_assert_null(strstr(e.log, "forged"), "ron-httpd wrote to the kernel's stderr:\n%s",
		       e.log);
	cr_assert_null(strstr(e.log, "event=all_ready"), "%s", e.log);
}
