/* pidfd-shim.so, preloaded into ron-kernel and ron-monitor under valgrind:
 * pidfd_open and pidfd_send_signal are made by pidfd-proxy when its socket is
 * named in the environment (valgrind 3.19 fails them with ENOSYS; see
 * pidfd-proxy.h), else as usual.  The pidfd that comes back is a real one. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

#include "pidfd-proxy.h"

int pidfd_open(pid_t pid, unsigned int flags);
int pidfd_send_signal(int pidfd, int sig, siginfo_t *info, unsigned int flags);

/* The programs a process under valgrind starts (services) must not inherit the
 * preload; the shells on the way to valgrind (its own launcher is one) must. */
__attribute__((constructor)) static void shim_init(void)
{
	if (RUNNING_ON_VALGRIND)
		unsetenv("LD_PRELOAD");
}

/* One round trip with the proxy; -1 with errno when it cannot be reached. */
static int proxy_call(const struct pidfd_req *req, int send_fd, int *recv_fd)
{
	const char *path = getenv(PIDFD_PROXY_ENV);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(s);
		errno = e;
		return -1;
	}
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {(void *)req, sizeof(*req)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	if (send_fd >= 0) {
		memset(cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &send_fd, sizeof(int));
	}
	struct pidfd_rep rep;
	ssize_t n;
	do
		n = sendmsg(s, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(*req)) {
		iov = (struct iovec){&rep, sizeof(rep)};
		msg = (struct msghdr){.msg_iov = &iov,
				      .msg_iovlen = 1,
				      .msg_control = cbuf,
				      .msg_controllen = sizeof(cbuf)};
		do
			n = recvmsg(s, &msg, MSG_CMSG_CLOEXEC);
		while (n < 0 && errno == EINTR);
	}
	close(s);
	if (n != (ssize_t)sizeof(rep)) {
		errno = EIO;
		return -1;
	}
	*recv_fd = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(recv_fd, CMSG_DATA(c), sizeof(int));
	errno = rep.err;
	return rep.ret;
}

int pidfd_open(pid_t pid, unsigned int flags)
{
	if (!getenv(PIDFD_PROXY_ENV))
		return (int)syscall(SYS_pidfd_open, pid, flags);
	struct pidfd_req req = {PIDFD_OP_OPEN, pid, 0, flags};
	int fd = -1;
	int ret = proxy_call(&req, -1, &fd);
	if (ret < 0)
		return -1;
	return fd >= 0 ? fd : (errno = EIO, -1);
}

int pidfd_send_signal(int pidfd, int sig, siginfo_t *info, unsigned int flags)
{
	if (!getenv(PIDFD_PROXY_ENV) || info)
		return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, info, flags);
	struct pidfd_req req = {PIDFD_OP_SIGNAL, 0, sig, flags};
	int unused = -1;
	return proxy_call(&req, pidfd, &unused);
}
