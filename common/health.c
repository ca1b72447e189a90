/* The v1.health client: connect, send one frame, read one frame, close, all
 * non-blocking so that a hung service never stalls the caller's event loop. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "health.h"
#include "sockpath.h"
#include "text.h"

/* The caller's own shortage, not the service's doing. */
static bool local_errno(int e)
{
	return e == EMFILE || e == ENFILE || e == ENOMEM || e == ENOBUFS || e == EAGAIN;
}

static bool vfinish(struct health_probe *p, bool ok, int64_t now_us, pid_t peer, const char *fmt,
		    va_list ap)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	free(p->body);
	p->body = NULL;
	p->phase = HEALTH_DONE;
	p->result.ok = ok;
	p->result.local = false;
	p->result.rtt_us = now_us - p->start_us;
	p->result.peer_pid = peer;
	p->result.reason[0] = '\0';
	if (fmt)
		vsnprintf(p->result.reason, sizeof(p->result.reason), fmt, ap);
	return true;
}

static bool finish(struct health_probe *p, bool ok, int64_t now_us, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfinish(p, ok, now_us, 0, fmt, ap);
	va_end(ap);
	return true;
}

static bool finish_peer(struct health_probe *p, bool ok, int64_t now_us, pid_t peer,
			const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfinish(p, ok, now_us, peer, fmt, ap);
	va_end(ap);
	return true;
}

bool health_probe_start(struct health_probe *p, const char *sock_path, const char *wire_name,
			uint64_t corr_id, int timeout_ms, int64_t now_us)
{
	struct sockaddr_un sa;
	socklen_t salen;
	char why[WIRE_WHY_MAX];
	ssize_t n;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->corr_id = corr_id;
	snprintf(p->wire_name, sizeof(p->wire_name), "%s", wire_name);
	p->timeout_ms = timeout_ms;
	p->start_us = now_us;
	p->deadline_us = now_us + (int64_t)timeout_ms * 1000;
	if (sockpath_addr(&sa, &salen, sock_path, why, sizeof(why)))
		return finish(p, false, now_us, "%s", why);
	n = wire_encode_health_request(wire_name, corr_id, p->out, sizeof(p->out));
	if (n < 0)
		return finish(p, false, now_us, "cannot encode request for %s", wire_name);
	p->out_len = (size_t)n;

	p->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		int e = errno;
		finish(p, false, now_us, "socket: %s", strerror(e));
		p->result.local = local_errno(e);
		return true;
	}
	if (connect(p->fd, (struct sockaddr *)&sa, salen) == 0) {
		/* Connected: the request goes out now, and the reply is read if it is
		 * already there, with no wait in between. */
		p->phase = HEALTH_SENDING;
		return health_probe_advance(p, POLLOUT, now_us);
	} else if (errno == EINPROGRESS) {
		p->phase = HEALTH_CONNECTING;
	} else {
		return finish(p, false, now_us, "connect: %s", strerror(errno));
	}
	return false;
}

int health_probe_fd(const struct health_probe *p)
{
	return p->fd;
}

short health_probe_events(const struct health_probe *p)
{
	return p->phase == HEALTH_RECEIVING ? POLLIN : POLLOUT;
}

static const char *phase_doing(enum health_phase ph)
{
	switch (ph) {
	case HEALTH_CONNECTING: return "connecting";
	case HEALTH_SENDING: return "sending the request";
	default: return "waiting for reply";
	}
}

/* Reads what is available into the header, then the body; true when whole. */
static bool probe_read(struct health_probe *p, int64_t now_us, bool *failed)
{
	for (;;) {
		uint8_t *dst;
		size_t want;
		if (p->in_off < 4) {
			dst = p->hdr + p->in_off;
			want = 4 - p->in_off;
		} else {
			dst = p->body + (p->in_off - 4);
			want = p->body_len - (p->in_off - 4);
		}
		ssize_t n = recv(p->fd, dst, want, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return false;
			*failed = finish(p, false, now_us, "recv: %s", strerror(errno));
			return false;
		}
		if (n == 0) {
			if (p->in_off == 0)
				*failed =
				    finish(p, false, now_us, "connection closed without a reply");
			else if (p->in_off < 4)
				*failed = finish(p, false, now_us,
						 "connection closed after %zu of 4 length bytes",
						 p->in_off);
			else
				*failed = finish(p, false, now_us,
						 "truncated reply: connection closed after %zu of "
						 "%" PRIu32 " body bytes",
						 p->in_off - 4, p->body_len);
			return false;
		}
		p->in_off += (size_t)n;
		if (p->in_off == 4) {
			char why[WIRE_WHY_MAX];
			if (wire_frame_length(p->hdr, &p->body_len, why, sizeof(why))) {
				*failed = finish(p, false, now_us, "%s", why);
				return false;
			}
			if (!(p->body = malloc(p->body_len))) {
				*failed = finish(p, false, now_us,
						 "out of memory for a %" PRIu32 "-byte reply",
						 p->body_len);
				p->result.local = true;
				return false;
			}
		}
		if (p->in_off >= 4 && p->in_off - 4 == p->body_len)
			return true;
	}
}

bool health_probe_advance(struct health_probe *p, short revents, int64_t now_us)
{
	if (p->phase == HEALTH_DONE)
		return true;
	if (p->phase == HEALTH_CONNECTING && (revents & (POLLOUT | POLLERR | POLLHUP))) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err)
			return finish(p, false, now_us, "connect: %s", strerror(err));
		p->phase = HEALTH_SENDING;
	}
	if (p->phase == HEALTH_SENDING && (revents & (POLLOUT | POLLERR | POLLHUP))) {
		ssize_t n = send(p->fd, p->out + p->out_off, p->out_len - p->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return finish(p, false, now_us, "send: %s", strerror(errno));
		if (n > 0)
			p->out_off += (size_t)n;
		if (p->out_off == p->out_len) {
			p->phase = HEALTH_RECEIVING;
			revents |= POLLIN; /* the reply may already be there */
		}
	}
	if (p->phase == HEALTH_RECEIVING && (revents & (POLLIN | POLLERR | POLLHUP))) {
		bool failed = false;
		if (probe_read(p, now_us, &failed)) {
			struct wire_msg m;
			char why[WIRE_WHY_MAX];
			struct ucred cred;
			socklen_t clen = sizeof(cred);
			pid_t peer = getsockopt(p->fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0
					 ? cred.pid
					 : 0;
			if (wire_decode(p->body, p->body_len, &m, why, sizeof(why)) ||
			    wire_check_health_reply(&m, p->corr_id, why, sizeof(why))) {
				finish_peer(p, false, now_us, peer, "%s", why);
				p->result.local = strncmp(why, WIRE_NOMEM, strlen(WIRE_NOMEM)) == 0;
				return true;
			}
			/* An answer for another service is not this one's health. */
			if (strcmp(m.service, p->wire_name) != 0) {
				char name[WIRE_NAME_MAX * 4];
				return finish_peer(
				    p, false, now_us, peer,
				    "reply is for service \"%.64s\", not \"%s\"",
				    text_escape_str(m.service, name, sizeof(name), 0),
				    p->wire_name);
			}
			return finish_peer(p, true, now_us, peer, NULL);
		}
		if (failed)
			return true;
	}
	if (now_us >= p->deadline_us)
		return finish(p, false, now_us, "timeout after %d ms %s", p->timeout_ms,
			      phase_doing(p->phase));
	return false;
}

void health_probe_cancel(struct health_probe *p)
{
	if (p->phase != HEALTH_DONE && p->phase != HEALTH_IDLE)
		finish(p, false, clock_mono_us(), "cancelled");
}

bool health_check(const char *sock_path, const char *service, uint64_t corr_id, int timeout_ms,
		  struct health_result *r)
{
	struct health_probe p;
	char wire_name[WIRE_NAME_MAX];
	wire_service_name(service, wire_name, sizeof(wire_name));
	bool done =
	    health_probe_start(&p, sock_path, wire_name, corr_id, timeout_ms, clock_mono_us());
	while (!done) {
		struct pollfd pfd = {health_probe_fd(&p), health_probe_events(&p), 0};
		int rc = poll(&pfd, 1, clock_poll_timeout(p.deadline_us, clock_mono_us()));
		if (rc < 0 && errno != EINTR) {
			finish(&p, false, clock_mono_us(), "poll: %s", strerror(errno));
			break;
		}
		done = health_probe_advance(&p, rc > 0 ? pfd.revents : 0, clock_mono_us());
	}
	*r = p.result;
	return r->ok;
}
