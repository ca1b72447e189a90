/* ron-httpd: serves what ron-kernel feeds it (feed.h) as GET /metrics, /status and
 * /healthz; the only process of ron-kernel that reads from the network, and it
 * holds nothing but the latest snapshot.  The kernel binds the socket (fd 3) and
 * writes the pipe (fd 4); we drop root, then answer with libmicrohttpd, in one
 * poll loop, until the pipe closes. */
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
#include <unistd.h>

#include <microhttpd.h>

#include "feed.h"

/* Headers of one request, and the connection's buffers, fit in this. */
#define REQUEST_MEMORY (32 * 1024)

static struct feed_snap snap; /* code 0 until the first snapshot */

static const char *const content_type[3] = {
    "text/plain; charset=utf-8",
    "application/json",
    "text/plain; version=0.0.4; charset=utf-8",
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type,
			     const char *body, size_t len, bool allow)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result rc = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **state)
{
	static const char *const paths[3] = {"/healthz", "/status", "/metrics"};
	int which = -1;
	for (int i = 0; i < 3; i++)
		if (strcmp(url, paths[i]) == 0)
			which = i;
	static const char nf[] = "not found: try /metrics, /status or /healthz\n";
	if (which < 0)
		return reply(c, MHD_HTTP_NOT_FOUND, content_type[0], nf, sizeof(nf) - 1, false);
	/* Answered on the first call, before any body: we never read one. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		static const char na[] = "method not allowed: only GET and HEAD\n";
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, content_type[0], na, sizeof(na) - 1,
			     true);
	}
	if (!snap.code) {
		static const char wait[] = "no data from ron-kernel yet\n";
		return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, content_type[0], wait,
			     sizeof(wait) - 1, false);
	}
	unsigned code = which == FEED_HEALTHZ ? (unsigned)snap.code : MHD_HTTP_OK;
	return reply(c, code, content_type[which], snap.body[which], snap.len[which], false);
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
	while ((rc = feed_reader_next(r, &s, why, sizeof(why))) == 1) {
		feed_snap_free(&snap);
		snap = s;
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

int main(int argc, char **argv)
{
	int lfd = -1, ffd = -1;
	long timeout_ms = 10000, conns = 256;
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
			timeout_ms = number(a, v, 1000, 600000);
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

	/* No MHD_USE_ERROR_LOG: a client could fill the kernel's log with its bad requests. */
	struct MHD_Daemon *d = MHD_start_daemon(
	    MHD_USE_EPOLL, 0, NULL, NULL, on_request, NULL, MHD_OPTION_LISTEN_SOCKET,
	    (MHD_socket)lfd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)conns,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)((timeout_ms + 999) / 1000),
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
		MHD_UNSIGNED_LONG_LONG to;
		int timeout = -1;
		if (MHD_get_timeout(d, &to) == MHD_YES)
			timeout = to > INT_MAX ? INT_MAX : (int)to;
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
