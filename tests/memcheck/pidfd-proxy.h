/* The protocol between pidfd-shim.so (inside a process under valgrind) and
 * pidfd-proxy (a native process): one request and one reply per connection on
 * a SOCK_SEQPACKET Unix socket, pidfds travelling as SCM_RIGHTS.  Valgrind 3.19
 * (Debian 12) has no wrapper for pidfd_open and pidfd_send_signal and fails
 * them with ENOSYS; the proxy makes those two calls for the process instead. */
#ifndef RON_PIDFD_PROXY_H
#define RON_PIDFD_PROXY_H
#include <sys/types.h>

/* The proxy's socket path, in the environment of both. */
#define PIDFD_PROXY_ENV "RON_PIDFD_PROXY"

enum pidfd_op { PIDFD_OP_OPEN = 1, PIDFD_OP_SIGNAL = 2 };

struct pidfd_req {
	int op;
	pid_t pid;	/* OPEN */
	int sig;	/* SIGNAL: the pidfd comes with the request */
	unsigned flags; /* of either call */
};

struct pidfd_rep {
	int ret; /* the call's return value: a pidfd comes with the reply when >= 0 for OPEN */
	int err; /* its errno when ret < 0 */
};

#endif
