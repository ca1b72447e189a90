/* One v1.health request through the project's own client (common/health.c), plus
 * SO_PEERCRED on its socket: which process answered, to tell an old pid from a new one. */
#include <bsd/string.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "bench.h"
#include "clock.h"

bool probe_health(const char *sock, const char *service, int timeout_ms, struct answer *a)
{
	static uint64_t corr_id;
	struct health_probe p;

	char wire_name[WIRE_NAME_MAX];
	memset(a, 0, sizeof(*a));
	wire_service_name(service, wire_name, sizeof(wire_name));
	bool done = health_probe_start(&p, sock, wire_name, ++corr_id, timeout_ms, clock_mono_us());
	if (!done) {
		/* Connected: the listener's credentials are those of the process that bound it. */
		struct ucred cr;
		socklen_t len = sizeof(cr);
		if (getsockopt(health_probe_fd(&p), SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
			snprintf(a->reason, sizeof(a->reason), "SO_PEERCRED on %s: %s", sock,
				 strerror(errno));
			health_probe_cancel(&p);
			return false;
		}
		a->peer = cr.pid;
	}
	while (!done) {
		struct pollfd pfd = {health_probe_fd(&p), health_probe_events(&p), 0};
		int rc = poll(&pfd, 1, clock_poll_timeout(p.deadline_us, clock_mono_us()));
		if (rc < 0 && errno != EINTR) {
			snprintf(a->reason, sizeof(a->reason), "poll %s: %s", sock,
				 strerror(errno));
			health_probe_cancel(&p);
			return false;
		}
		done = health_probe_advance(&p, rc > 0 ? pfd.revents : 0, clock_mono_us());
	}
	/* A reply read at once (health_probe_start() sends and reads when it can) came
	 * with its sender's pid. */
	if (!a->peer)
		a->peer = p.result.peer_pid;
	a->ok = p.result.ok;
	a->rtt_us = p.result.rtt_us;
	strlcpy(a->reason, p.result.reason, sizeof(a->reason));
	return a->ok;
}
