/* The control socket, $RON_RUN_DIR/control.sock, served by the kernel's event loop:
 * one JSON request per connection, one JSON reply, then close.  Only root and the
 * kernel's own user are served; everything is bounded (request size, idle time,
 * clients), and nothing a client does can block the loop. */
#include <bsd/string.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <stdarg.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "kernel.h"
#include "observe.h"
#include "proc.h"
#include "sockpath.h"

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

void kernel_control_path(const char *run_dir, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/control.sock", run_dir);
}

int kernel_control_open(struct kernel *k, char *why, size_t whylen)
{
	char path[CFG_STR_MAX + 32], w[128];
	struct sockaddr_un sa;
	socklen_t salen;
	for (int i = 0; i < CONTROL_CLIENTS_MAX; i++)
		k->ctl[i].fd = -1;
	k->ctlfd = -1;
	kernel_control_path(k->run_dir, path, sizeof(path));
	if (sockpath_addr(&sa, &salen, path, w, sizeof(w)) < 0) {
		/* Supervision does not need it: run without, and say why. */
		warnx("no control socket: %s: %s (shorten RON_RUN_DIR)", path, w);
		return 0;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	/* We hold the pidfile: whatever is at the path is a dead kernel's. */
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(why, whylen, "unlink %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	/* Born 0600: no window in which another user could connect. */
	mode_t old = umask(0177);
	int rc = bind(fd, (struct sockaddr *)&sa, salen);
	umask(old);
	if (rc < 0 || listen(fd, 64) < 0) {
		snprintf(why, whylen, "%s %s: %s", rc < 0 ? "bind" : "listen", path,
			 strerror(errno));
		close(fd);
		return -1;
	}
	k->ctlfd = fd;
	return 0;
}

void kernel_control_close(struct kernel *k)
{
	char path[CFG_STR_MAX + 32];
	for (int i = 0; i < CONTROL_CLIENTS_MAX; i++) {
		struct control_client *c = &k->ctl[i];
		if (c->fd < 0)
			continue;
		close(c->fd);
		free(c->in);
		free(c->out);
		memset(c, 0, sizeof(*c));
		c->fd = -1;
	}
	if (k->ctlfd < 0)
		return;
	close(k->ctlfd);
	k->ctlfd = -1;
	kernel_control_path(k->run_dir, path, sizeof(path));
	unlink(path);
}

static void client_drop(struct control_client *c)
{
	close(c->fd);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Queues the reply (a newline ends it) and stops reading: one request each. */
static void client_reply(struct control_client *c, json_object *reply)
{
	/* Without memory for a reply, this one needs none. */
	const char *text = reply ? json_object_to_json_string_ext(reply, JSON_FLAGS)
				 : "{\"ok\":false,\"error\":\"out of memory\"}";
	size_t len = text ? strlen(text) : 0;
	free(c->out);
	c->out = malloc(len + 2);
	if (!c->out) {
		json_object_put(reply);
		c->outlen = c->outoff = 0;
		c->replying = true; /* nothing to say: the write closes it */
		return;
	}
	memcpy(c->out, text, len);
	c->out[len++] = '\n';
	c->out[len] = '\0';
	c->outlen = len;
	c->outoff = 0;
	c->replying = true;
	json_object_put(reply);
}

/* ron-httpd, or a process it started: without root it runs as our own user, and
 * must not act through the socket it was kept from (it is given a session of its
 * own; a process of it that left that session and its parentage is not caught). */
bool kernel_control_peer_is_httpd(const struct kernel *k, pid_t pid)
{
	pid_t h = k->obs ? k->obs->hpid : 0;
	if (h <= 0 || pid <= 0)
		return false;
	if (pid == h || getsid(pid) == h)
		return true;
	for (int depth = 0; depth < 16 && pid > 1; depth++) {
		if (proc_parent(pid, &pid) < 0)
			return false;
		if (pid == h)
			return true;
	}
	return false;
}

/* Why a peer is refused, or NULL. */
static const char *peer_refusal(const struct kernel *k, int fd, struct ucred *cr)
{
	socklen_t len = sizeof(*cr);
	memset(cr, 0, sizeof(*cr));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cr, &len) < 0) {
		cr->uid = (uid_t)-1;
		return "its credentials cannot be read";
	}
	if (cr->uid != 0 && cr->uid != getuid())
		return "not root or the kernel's user";
	if (kernel_control_peer_is_httpd(k, cr->pid))
		return "ron-httpd may not use the control socket";
	return NULL;
}

/* At most a table's worth per loop turn: a flood of connects cannot hold the loop;
 * the rest wait in the backlog for the next turn. */
static void on_accept(struct kernel *k, int64_t now_us)
{
	for (int turn = 0; turn < CONTROL_CLIENTS_MAX; turn++) {
		int fd = accept4(k->ctlfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				warn("accept on the control socket");
			return;
		}
		struct ucred cr;
		const char *refused = peer_refusal(k, fd, &cr);
		if (refused) {
			struct kernel_field f[] = {
			    KF_NUM("uid", cr.uid == (uid_t)-1 ? -1 : (long long)cr.uid),
			    KF_NUM("pid", cr.pid), KF_STR("reason", refused)};
			kernel_emit(k, KL_WARN, "control_refused", f, 3);
			close(fd);
			continue;
		}
		struct control_client *c = NULL;
		for (int i = 0; i < CONTROL_CLIENTS_MAX && !c; i++)
			if (k->ctl[i].fd < 0)
				c = &k->ctl[i];
		if (!c) {
			/* Told, never left hanging: the reply fits any socket buffer. */
			static const char busy[] = "{\"ok\":false,\"error\":\"busy: 32 control "
						   "clients already connected; try again\"}\n";
			(void)!write(fd, busy, sizeof(busy) - 1);
			close(fd);
			continue;
		}
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->deadline_us = now_us + CONTROL_IDLE_MS * 1000;
	}
}

static void client_read(struct kernel *k, struct control_client *c, int64_t now_us)
{
	for (;;) {
		if (c->inlen + 1 >= c->incap) {
			size_t cap = c->incap ? c->incap * 2 : 1024;
			if (cap > CONTROL_REQUEST_MAX + 1)
				cap = CONTROL_REQUEST_MAX + 1;
			if (c->inlen + 1 >= cap) {
				client_reply(c, kernel_reply_error("request longer than %d bytes",
								   CONTROL_REQUEST_MAX));
				return;
			}
			char *in = realloc(c->in, cap);
			if (!in) {
				client_reply(c, kernel_reply_error("out of memory"));
				return;
			}
			c->in = in;
			c->incap = cap;
		}
		ssize_t n = read(c->fd, c->in + c->inlen, c->incap - 1 - c->inlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			client_drop(c); /* gone before asking anything */
			return;
		}
		char *nl = memchr(c->in + c->inlen, '\n', (size_t)n);
		c->inlen += (size_t)n;
		if (nl) {
			*nl = '\0';
			client_reply(
			    c, kernel_control_request(k, c->in, (size_t)(nl - c->in), now_us));
			return;
		}
	}
}

static void client_write(struct control_client *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			client_drop(c);
			return;
		}
		c->outoff += (size_t)n;
	}
	client_drop(c);
}

int kernel_control_pollfds(struct kernel *k, struct pollfd *p)
{
	int n = 0;
	if (k->ctlfd < 0)
		return 0;
	p[n++] = (struct pollfd){k->ctlfd, POLLIN, 0};
	for (int i = 0; i < CONTROL_CLIENTS_MAX; i++) {
		struct control_client *c = &k->ctl[i];
		if (c->fd >= 0)
			p[n++] = (struct pollfd){c->fd, c->replying ? POLLOUT : POLLIN, 0};
	}
	return n;
}

void kernel_control_events(struct kernel *k, const struct pollfd *polled, int n, int64_t now_us)
{
	/* A reload may reallocate the poll set these came from: work on a copy. */
	struct pollfd p[1 + CONTROL_CLIENTS_MAX];
	if (n <= 0 || n > 1 + CONTROL_CLIENTS_MAX)
		return;
	memcpy(p, polled, sizeof(*p) * (size_t)n);
	/* The clients first, by fd, as they were polled: an accept must not shift them. */
	for (int j = 1; j < n; j++) {
		if (!p[j].revents)
			continue;
		for (int i = 0; i < CONTROL_CLIENTS_MAX; i++) {
			struct control_client *c = &k->ctl[i];
			if (c->fd != p[j].fd)
				continue;
			if (c->replying)
				client_write(c);
			else
				client_read(k, c, now_us);
			if (c->fd >= 0 && c->replying)
				client_write(c);
			break;
		}
	}
	if (p[0].revents)
		on_accept(k, now_us);
}

void kernel_control_timers(struct kernel *k, int64_t now_us)
{
	for (int i = 0; i < CONTROL_CLIENTS_MAX; i++) {
		struct control_client *c = &k->ctl[i];
		if (c->fd < 0 || now_us < c->deadline_us)
			continue;
		if (c->replying) {
			client_drop(c); /* a reader that does not read its reply */
			continue;
		}
		client_reply(c, kernel_reply_error("no request within %d ms", CONTROL_IDLE_MS));
		client_write(c);
		if (c->fd >= 0) /* one more idle period for the error, then it goes */
			c->deadline_us = now_us + CONTROL_IDLE_MS * 1000;
	}
}

int64_t kernel_control_deadline(const struct kernel *k)
{
	int64_t d = -1;
	for (int i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (k->ctl[i].fd >= 0)
			d = clock_earliest(d, k->ctl[i].deadline_us);
	return d;
}
