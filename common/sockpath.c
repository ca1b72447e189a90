/* Unix socket address construction with the length checked. */
#include <bsd/string.h>
#include <stdio.h>
#include <string.h>

#include "sockpath.h"

int sockpath_addr(struct sockaddr_un *sa, socklen_t *salen, const char *path, char *why,
		  size_t whylen)
{
	size_t n = strlen(path);
	if (n == 0) {
		snprintf(why, whylen, "socket path is empty");
		return -1;
	}
	if (n > SOCKPATH_MAX) {
		snprintf(why, whylen, "socket path too long: %zu bytes, max %zu: %s", n,
			 (size_t)SOCKPATH_MAX, path);
		return -1;
	}
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	strlcpy(sa->sun_path, path, sizeof(sa->sun_path));
	if (salen)
		*salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}
