/* Starting a service: fork+exec in its own process group with a clean
 * signal state and no inherited fds, exec failures reported as errno. */
#ifndef RON_SPAWN_H
#define RON_SPAWN_H
#include <stddef.h>
#include <sys/types.h>

/* Starts bin (looked up on PATH when it has no slash).  0 with pid, a pidfd
 * and its start time; -1 with why ("spawn failed: svc-index: No such file
 * or directory") when fork or exec failed. */
int spawn_service(const char *bin, pid_t *pid, int *pidfd, unsigned long long *start, char *why,
		  size_t whylen);

#endif
