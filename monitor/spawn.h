/* Starting a service: fork+exec in its own process group with a clean
 * signal state and no inherited fds, exec failures reported as errno. */
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
};

/* Starts the service.  0 with pid, a pidfd and its start time; -1 with why
 * ("spawn failed: svc-index: No such file or directory") when fork, the
 * change of user or directory, or exec failed. */
int spawn_service(const struct spawn_spec *sp, pid_t *pid, int *pidfd, unsigned long long *start,
		  char *why, size_t whylen);

#endif
