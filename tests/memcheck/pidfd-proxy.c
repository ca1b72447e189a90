/* pidfd-proxy: makes pidfd_open and pidfd_send_signal calls for processes that
 * cannot (valgrind 3.19 fails both with ENOSYS): see pidfd-proxy.h.  Native,
 * single-threaded, one poll loop; started and killed by scripts/memcheck.
 * Usage: pidfd-proxy SOCKET_PATH */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pidfd-proxy.h"

/* Reads one request (and the pidfd it carries) and answers it. */
static void serve(int conn)
{
	struct pidfd_req req;
	struct pidfd_rep rep = {-1, EINVAL};
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&req, sizeof(req)};
	struct msghdr msg = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	int passed = -1, opened = -1;
	ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
	if (n != (ssize_t)sizeof(req))
		return;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(&passed, CMSG_DATA(c), sizeof(int));
	if (req.op == PIDFD_OP_OPEN) {
		opened = pidfd_open(req.pid, req.flags);
		rep = (struct pidfd_rep){opened, opened < 0 ? errno : 0};
	} else if (req.op == PIDFD_OP_SIGNAL && passed >= 0) {
		int r = pidfd_send_signal(passed, req.sig, NULL, req.flags);
		rep = (struct pidfd_rep){r, r < 0 ? errno : 0};
	}
	iov = (struct iovec){&rep, sizeof(rep)};
	msg = (struct msghdr){.msg_iov = &iov, .msg_iovlen = 1};
	if (opened >= 0) {
		memset(cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &opened, sizeof(int));
	}
	if (sendmsg(conn, &msg, MSG_NOSIGNAL) < 0)
		fprintf(stderr, "pidfd-proxy: sendmsg: %s\n", strerror(errno));
	if (passed >= 0)
		close(passed);
	if (opened >= 0)
		close(opened);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: pidfd-proxy SOCKET_PATH\n");
		return 64;
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "pidfd-proxy: socket path too long: %s\n", argv[1]);
		return 64;
	}
	strcpy(sa.sun_path, argv[1]);
	signal(SIGPIPE, SIG_IGN);
	int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	unlink(argv[1]);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 64) < 0) {
		fprintf(stderr, "pidfd-proxy: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (;;) {
		int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "pidfd-proxy: accept: %s\n", strerror(errno));
			return 1;
		}
		/* A client sends its request at once and waits; a bounded wait keeps a dead one
		 * from blocking the others. */
		struct pollfd p = {conn, POLLIN, 0};
		if (poll(&p, 1, 5000) == 1)
			serve(conn);
		close(conn);
	}
}
