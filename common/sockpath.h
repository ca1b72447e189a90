/* Unix socket addresses: a path that does not fit sun_path is an error found
 * before any system call, never a silently truncated address. */
#ifndef RON_SOCKPATH_H
#define RON_SOCKPATH_H
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Max path length in bytes (sun_path less its NUL). */
#define SOCKPATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

/* Fills sa from path; 0, or -1 with why ("socket path too long: 120 bytes, max 107"). */
int sockpath_addr(struct sockaddr_un *sa, socklen_t *salen, const char *path, char *why,
		  size_t whylen);

#endif
