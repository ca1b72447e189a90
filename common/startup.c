/* Start-up hygiene: closed standard descriptors and the descriptor limit. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "startup.h"

int startup_stdio(void)
{
	int mask = 0;
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		/* open() takes the lowest free number: this very fd. */
		int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		if (n < 0)
			return -1;
		if (n != fd) {
			/* Someone else closed it between the check and the open. */
			close(n);
			continue;
		}
		mask |= 1 << fd;
	}
	return mask;
}

int startup_nofile(struct rlimit *lim)
{
	if (getrlimit(RLIMIT_NOFILE, lim) < 0)
		return -1;
	if (lim->rlim_cur == lim->rlim_max)
		return 0;
	struct rlimit want = {lim->rlim_max, lim->rlim_max};
	if (setrlimit(RLIMIT_NOFILE, &want) < 0)
		return -1;
	*lim = want;
	return 0;
}

void startup_nofile_warning(const struct rlimit *lim, unsigned long need, char *buf, size_t len)
{
	if (lim->rlim_max == RLIM_INFINITY || lim->rlim_max >= need) {
		if (len)
			buf[0] = '\0';
		return;
	}
	snprintf(buf, len,
		 "RLIMIT_NOFILE hard limit %llu is below the %lu descriptors needed; "
		 "services may run untracked or monitors fail to start",
		 (unsigned long long)lim->rlim_max, need);
}
