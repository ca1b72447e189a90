/* systemd's readiness protocol (sd_notify) spoken directly: one datagram per
 * message to $NOTIFY_SOCKET, so the kernel needs no libsystemd. */
#include <bsd/string.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "kernel.h"
#include "sockpath.h"

int kernel_notify_open(struct kernel_notify *n, char *why, size_t whylen)
{
	memset(n, 0, sizeof(*n));
	n->fd = -1;
	const char *sock = getenv("NOTIFY_SOCKET");
	const char *wd = getenv("WATCHDOG_USEC");
	const char *wdpid = getenv("WATCHDOG_PID");
	/* The watchdog is ours only if systemd meant this process. */
	if (wd && (!wdpid || atol(wdpid) == (long)getpid()))
		n->watchdog_us = atoll(wd);
	if (n->watchdog_us < 0)
		n->watchdog_us = 0;
	int rc = 0;
	if (sock && sock[0]) {
		size_t len = strlen(sock);
		if ((sock[0] != '/' && sock[0] != '@') || len > SOCKPATH_MAX) {
			snprintf(why, whylen, "NOTIFY_SOCKET=%s: not a usable socket address",
				 sock);
			rc = -1;
		} else {
			memcpy(n->path, sock, len);
			/* '@' marks a name in the abstract namespace, which starts with a NUL. */
			if (sock[0] == '@')
				n->path[0] = '\0';
			n->pathlen = len;
			n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
			if (n->fd < 0) {
				snprintf(why, whylen, "socket for NOTIFY_SOCKET %s: %s", sock,
					 strerror(errno));
				rc = -1;
			}
		}
	}
	/* Monitors and services must not talk to systemd in our name. */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	return rc;
}

int kernel_notify_send(struct kernel_notify *n, const char *msg)
{
	if (n->fd < 0)
		return 0;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, n->path, n->pathlen);
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n->pathlen);
	if (sendto(n->fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0)
		return -1;
	return 0;
}
