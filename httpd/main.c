/* ron-httpd: serves what ron-kernel feeds it (feed.h) as GET / (the status page, with
 * its /page.js and /page.css), /metrics, /status, /healthz and /readyz, and whether
 * the feed still speaks as /livez; the only process of ron-kernel
 * that reads from the network, and it holds nothing but the latest snapshot.  The kernel binds the
 * socket (fd 3) and writes the pipe (fd 4); we drop root, then answer with libmicrohttpd, in one
 * poll loop, until the pipe closes.
 *
 * A client gets --timeout-ms from its accept to send its whole request and take the
 * answer (a kept-alive one as long again for each further request), however steadily
 * it drips bytes: libmicrohttpd's own timeout is an idle one only, which a slowloris
 * client resets with every byte.  And one address holds at most a quarter of the
 * --connections, so no single client can take the slots the probes need. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "assets.h"
#include "clock.h"
#include "feed.h"

/* Headers of one request, and the connection's buffers, fit in this. */
#define REQUEST_MEMORY (32 * 1024)

static struct feed_snap snap; /* code 0 until the first snapshot */

/* One accepted connection and the deadline of its exchange.  Every deadline is the
 * time it was set plus the same --timeout-ms, so appending to the list keeps it in
 * deadline order: the head is the next to expire, and nothing needs sorting. */
struct conn {
	struct conn *prev, *next;
	int64_t deadline_us;
	MHD_socket fd;
	bool queued;
};

static struct conn *due_head, *due_tail;
static long exchange_ms = 10000; /* --timeout-ms */

static void conn_unlink(struct conn *c)
{
	if (!c->queued)
		return;
	*(c->prev ? &c->prev->next : &due_head) = c->next;
	*(c->next ? &c->next->prev : &due_tail) = c->prev;
	c->prev = c->next = NULL;
	c->queued = false;
}

/* An exchange starts now: on accept, and once an answer is out on a kept-alive one. */
static void conn_arm(struct conn *c)
{
	conn_unlink(c);
	c->deadline_us = clock_after_ms(clock_mono_us(), exchange_ms);
	c->prev = due_tail;
	*(due_tail ? &due_tail->next : &due_head) = c;
	due_tail = c;
	c->queued = true;
}

/* Shut, not closed: libmicrohttpd sees the hang-up, closes the socket and forgets the
 * connection as it does any other.  ENOTCONN: the client went first. */
static void conn_cut(struct conn *c)
{
	conn_unlink(c);
	if (shutdown(c->fd, SHUT_RDWR) < 0 && errno != ENOTCONN)
		err(71, "shut down connection fd %d", (int)c->fd);
}

/* Cuts every connection past its deadline; the next deadline, -1 for none. */
static int64_t conns_expire(int64_t now_us)
{
	while (due_head && due_head->deadline_us <= now_us)
		conn_cut(due_head);
	return due_head ? due_head->deadline_us : -1;
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **ctx,
			  enum MHD_ConnectionNotificationCode toe)
{
	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		/* Before libmicrohttpd closes the fd: we never shut a number reused since. */
		struct conn *c = *ctx;
		if (c)
			conn_unlink(c);
		free(c);
		return;
	}
	const union MHD_ConnectionInfo *i =
	    MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!i)
		errx(71, "libmicrohttpd has no fd for a connection");
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		/* Out of memory: a connection without a deadline is not one we serve. */
		struct conn none = {.fd = i->connect_fd};
		conn_cut(&none);
		return;
	}
	c->fd = i->connect_fd;
	*ctx = c;
	conn_arm(c);
}

/* An answer is out.  libmicrohttpd 0.9.75 then closes the connection, as it does every
 * one whose answer is queued on the first call (ours all are); one that kept it alive
 * would give it as long again, from now, for its next request. */
static void on_completed(void *cls, struct MHD_Connection *mc, void **req,
			 enum MHD_RequestTerminationCode toe)
{
	const union MHD_ConnectionInfo *i =
	    MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (i && i->socket_context)
		conn_arm(i->socket_context);
}

/* A quarter, so that it takes four addresses to fill every slot; at least one. */
static unsigned per_ip_limit(long conns)
{
	return conns >= 4 ? (unsigned)(conns / 4) : 1;
}

static const char text_type[] = "text/plain; charset=utf-8";

/* What each path serves: a body of the snapshot, or (FEED_NBODY) the liveness of the
 * kernel's loop, which ron-httpd knows by when the feed last said anything. */
static const struct route {
	const char *path, *type;
	int body;
} routes[] = {
    {"/", "text/html; charset=utf-8", FEED_PAGE},
    {"/healthz", text_type, FEED_HEALTHZ},
    {"/readyz", text_type, FEED_READYZ},
    {"/livez", text_type, FEED_NBODY},
    {"/status", "application/json", FEED_STATUS},
    {"/metrics", "text/plain; version=0.0.4; charset=utf-8", FEED_METRICS},
};

static int64_t fed_us;	/* when the last whole frame came, 0 before the first */
static int64_t snap_us; /* when the snapshot served came */

/* The status page and its files: only what comes from here runs or styles it, it
 * cannot be framed, and nothing is guessed from content. */
static const char page_policy[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
				  "img-src 'self'; object-src 'none'; base-uri 'none'; "
				  "form-action 'none'; frame-ancestors 'none'";

static void page_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, "Content-Security-Policy", page_policy);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
}

/* A reply; static ones (the page's script and style, the same for the life of this
 * ron-httpd) may be cached and are revalidated, the rest never. */
static enum MHD_Result reply_full(struct MHD_Connection *c, unsigned code, const char *type,
				  const char *body, size_t len, bool allow, bool page,
				  bool is_static)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    len, (void *)body, is_static ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
				is_static ? "public, max-age=300" : "no-store");
	if (page)
		page_headers(r);
	/* A snapshot is rendered when the table changes, not each second: its age lets a
	 * reader (page.js) bring the uptimes in it up to now. */
	if (!is_static && snap_us) {
		char age[24];
		snprintf(age, sizeof(age), "%lld", (long long)((clock_mono_us() - snap_us) / 1000));
		MHD_add_response_header(r, "X-Snapshot-Age-Ms", age);
	}
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result rc = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type,
			     const char *body, size_t len, bool allow)
{
	return reply_full(c, code, type, body, len, allow, false, false);
}

static const struct route *route_of(const char *url)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(url, routes[i].path) == 0)
			return &routes[i];
	return NULL;
}

/* 200 while the kernel's feed speaks (a snapshot or a beat within FEED_SILENT_MS),
 * whatever its services do; 503 once it has been silent: its loop is stuck, or it
 * is stopped. */
static enum MHD_Result livez(struct MHD_Connection *c)
{
	char text[128];
	int64_t ago_ms = (clock_mono_us() - fed_us) / 1000;
	bool alive = fed_us && ago_ms < FEED_SILENT_MS;
	int n = alive ? snprintf(text, sizeof(text), "alive; the kernel spoke %lld ms ago\n",
				 (long long)ago_ms)
		      : snprintf(text, sizeof(text),
				 "not alive: the kernel has been silent for %lld ms (at most %d)\n",
				 (long long)ago_ms, FEED_SILENT_MS);
	return reply(c, alive ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, text_type, text,
		     (size_t)n, false);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **state)
{
	const struct route *r = route_of(url);
	const struct asset *a = r ? NULL : asset_of(url);
	static const char nf[] =
	    "not found: try /, /metrics, /status, /healthz, /readyz or /livez\n";
	if (!r && !a)
		return reply(c, MHD_HTTP_NOT_FOUND, text_type, nf, sizeof(nf) - 1, false);
	/* Answered on the first call, before any body: we never read one. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		static const char na[] = "method not allowed: only GET and HEAD\n";
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, text_type, na, sizeof(na) - 1, true);
	}
	if (a)
		return reply_full(c, MHD_HTTP_OK, a->type, a->body, a->len, false, true, true);
	if (r->body == FEED_NBODY && fed_us)
		return livez(c);
	if (!snap.code) {
		static const char wait[] = "no data from ron-kernel yet\n";
		return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, text_type, wait, sizeof(wait) - 1,
			     false);
	}
	bool verdict = r->body == FEED_HEALTHZ || r->body == FEED_READYZ;
	unsigned code = verdict ? (unsigned)snap.code : MHD_HTTP_OK;
	return reply_full(c, code, r->type, snap.body[r->body], snap.len[r->body], false,
			  r->body == FEED_PAGE, false);
}

/* Keeps only the newest complete snapshot; false at the end of the feed. */
static bool feed_read(int fd, struct feed_reader *r)
{
	char buf[65536];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			err(1, "read the feed");
		if (n == 0)
			return false;
		if (feed_reader_add(r, buf, (size_t)n) < 0)
			errx(1, "out of memory reading the feed");
	}
	struct feed_snap s;
	char why[128];
	int rc;
	while ((rc = feed_reader_next(r, &s, why, sizeof(why))) > 0) {
		fed_us = clock_mono_us();
		if (rc == 2)
			continue;
		feed_snap_free(&snap);
		snap = s;
		snap_us = fed_us;
	}
	if (rc < 0)
		errx(1, "bad feed from ron-kernel: %s", why);
	return true;
}

/* Root only: to user's uid and gid, no supplementary groups, no way back. */
static void drop_root(const char *user)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		err(71, "PR_SET_NO_NEW_PRIVS");
	if (geteuid() != 0)
		return;
	struct passwd *pw = getpwnam(user);
	if (!pw)
		errx(78, "--user %s: no such user", user);
	if (pw->pw_uid == 0)
		errx(78, "--user %s: is root; ron-httpd must not serve as root", user);
	if (chdir("/") < 0)
		err(71, "chdir /");
	if (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		err(71, "drop privileges to %s", user);
	if (setuid(0) == 0)
		errx(71, "drop privileges to %s: root came back", user);
}

static long number(const char *flag, const char *v, long min, long max)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < min || n > max)
		errx(64, "%s %s: not a number in %ld..%ld", flag, v, min, max);
	return n;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ron-httpd --listen-fd N --feed-fd N [--user NAME] [--timeout-ms MS]\n"
		"                 [--connections N] [--addr TEXT]\n"
		"Started by ron-kernel when RON_HTTP_ADDR is set; see ron-kernel(8).\n");
	exit(64);
}

/* Until libmicrohttpd's next timer or the next deadline, whichever is first: idle,
 * with no connection, that is for ever. */
static int loop_timeout(struct MHD_Daemon *d, int64_t deadline_us)
{
	int t = clock_poll_timeout(deadline_us, clock_mono_us());
	MHD_UNSIGNED_LONG_LONG to;
	if (MHD_get_timeout(d, &to) == MHD_YES && (t < 0 || to < (MHD_UNSIGNED_LONG_LONG)t))
		t = to > INT_MAX ? INT_MAX : (int)to;
	return t;
}

int main(int argc, char **argv)
{
	int lfd = -1, ffd = -1;
	long conns = 256;
	const char *user = "nobody", *addr = "?";
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		const char *a = argv[i], *v = argv[++i];
		if (strcmp(a, "--listen-fd") == 0)
			lfd = (int)number(a, v, 0, INT_MAX);
		else if (strcmp(a, "--feed-fd") == 0)
			ffd = (int)number(a, v, 0, INT_MAX);
		else if (strcmp(a, "--user") == 0)
			user = v;
		else if (strcmp(a, "--timeout-ms") == 0)
			exchange_ms = number(a, v, 1000, 600000);
		else if (strcmp(a, "--connections") == 0)
			conns = number(a, v, 1, 4096);
		else if (strcmp(a, "--addr") == 0)
			addr = v;
		else
			usage();
	}
	if (lfd < 0 || ffd < 0)
		usage();
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		err(71, "ignore SIGPIPE");
	int fl = fcntl(ffd, F_GETFL);
	if (fl < 0 || fcntl(ffd, F_SETFL, fl | O_NONBLOCK) < 0)
		err(71, "O_NONBLOCK on the feed fd %d", ffd);

	/* No MHD_USE_ERROR_LOG: a client could fill the kernel's log with its bad requests.
	 * No MHD_OPTION_CONNECTION_TIMEOUT: the deadline of an exchange bounds idleness too,
	 * to the millisecond. */
	struct MHD_Daemon *d = MHD_start_daemon(
	    MHD_USE_EPOLL, 0, NULL, NULL, on_request, NULL, MHD_OPTION_LISTEN_SOCKET,
	    (MHD_socket)lfd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)conns,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip_limit(conns), MHD_OPTION_NOTIFY_CONNECTION,
	    on_connection, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)REQUEST_MEMORY,
	    MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_END);
	if (!d)
		errx(71, "cannot serve on %s (fd %d)", addr, lfd);
	drop_root(user);
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info)
		errx(71, "libmicrohttpd has no epoll fd");

	struct feed_reader r;
	feed_reader_init(&r);
	for (;;) {
		int timeout = loop_timeout(d, conns_expire(clock_mono_us()));
		struct pollfd p[2] = {{info->epoll_fd, POLLIN, 0}, {ffd, POLLIN, 0}};
		if (poll(p, 2, timeout) < 0 && errno != EINTR)
			err(71, "poll");
		/* The kernel closed the feed: it is stopping, or gone. */
		if (p[1].revents && !feed_read(ffd, &r))
			break;
		MHD_run(d);
	}
	MHD_stop_daemon(d);
	feed_reader_free(&r);
	feed_snap_free(&snap);
	return 0;
}
