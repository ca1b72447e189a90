/* Starting a service: fork+exec in its own process group (and cgroup, when
 * given) with a clean signal state and no inherited fds, exec failures
 * reported as errno. */
#ifndef RON_SPAWN_H
#define RON_SPAWN_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* What to run and as whom; everything resolved before the fork, so the child
 * makes no lookups. */
struct spawn_spec {
	const char *bin;   /* looked up on PATH when it has no slash */
	char *const *argv; /* argv[0] included, NULL-terminated */
	const char *cwd;   /* NULL: ours */
	bool drop;	   /* change to uid/gid with groups[] */
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	int ngroups;
	/* Its stdout and stderr: these descriptors when above 2 (the pipes the kernel
	 * holds the read ends of), else ours. */
	int out_fd, err_fd;
	int cgroup_fd; /* the cgroup it starts in (before exec, checked); -1: ours */
};

/* Starts the service, waiting up to wait_ms for exec to succeed or fail.  0 with
 * pid, a pidfd and its start time; -1 with why ("spawn failed: svc-index: No such
 * file or directory") when fork, the change of user or directory, or exec
 * failed; -2 with why when the failure is our own shortage (out of descriptors,
 * memory or processes), which says nothing about the service. */
int spawn_service(const struct spawn_spec *sp, int wait_ms, pid_t *pid, int *pidfd,
		  unsigned long long *start, char *why, size_t whylen);
/* "spawn failed: BIN: [WHAT: ]ERRNO TEXT" in why, the middle of a long BIN left out
 * so that the error text always fits. */
void spawn_reason(char *why, size_t whylen, const char *bin, const char *what, int err);

#endif
