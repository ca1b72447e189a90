/* /proc start times, pidfds and signal names. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proc.h"

/* A small file read whole into buf, NUL-terminated; its length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	int e = errno;
	close(fd);
	if (n <= 0) {
		errno = n == 0 ? EINVAL : e;
		return -1;
	}
	buf[n] = '\0';
	return n;
}

const char *proc_stat_fields(pid_t pid, char *buf, size_t len, char *comm, size_t commlen)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, len) < 0)
		return NULL;
	/* comm (field 2) may hold spaces and parentheses: count from the last ')'. */
	char *open_paren = strchr(buf, '('), *close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren || close_paren < open_paren) {
		errno = EINVAL;
		return NULL;
	}
	if (comm)
		snprintf(comm, commlen, "%.*s", (int)(close_paren - open_paren - 1),
			 open_paren + 1);
	return close_paren + 1;
}

int proc_boot_id(char *buf, size_t len)
{
	char id[64];
	if (read_small("/proc/sys/kernel/random/boot_id", id, sizeof(id)) < 0)
		return -1;
	id[strcspn(id, "\n")] = '\0';
	if (strlen(id) + 1 > len)
		return -1;
	memcpy(buf, id, strlen(id) + 1);
	return 0;
}

int proc_start_ticks(pid_t pid, unsigned long long *ticks)
{
	char buf[1024];
	const char *p = proc_stat_fields(pid, buf, sizeof(buf), NULL, 0);
	if (!p)
		return -1;
	for (int field = 3; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p) {
			errno = EINVAL;
			return -1;
		}
	}
	char *end;
	errno = 0;
	*ticks = strtoull(p + 1, &end, 10);
	if (errno || end == p + 1) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

bool proc_environ_has(pid_t pid, const char *kv)
{
	static char buf[1 << 17];
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	size_t len = 0;
	for (ssize_t n;
	     len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0;) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	for (size_t i = 0; i < len; i += strlen(buf + i) + 1)
		if (strcmp(buf + i, kv) == 0)
			return true;
	return false;
}

int proc_parent(pid_t pid, pid_t *ppid)
{
	char buf[1024], state;
	int pp;
	const char *p = proc_stat_fields(pid, buf, sizeof(buf), NULL, 0);
	if (!p)
		return -1;
	if (sscanf(p, " %c %d", &state, &pp) != 2) {
		errno = EINVAL;
		return -1;
	}
	*ppid = pp;
	return 0;
}

bool proc_errno_local(int e)
{
	return e == EMFILE || e == ENFILE || e == ENOMEM || e == EAGAIN || e == ENOBUFS;
}

long long proc_age_ms(unsigned long long start_ticks)
{
	char buf[64];
	if (read_small("/proc/uptime", buf, sizeof(buf)) < 0)
		return 0;
	double up = strtod(buf, NULL);
	long hz = sysconf(_SC_CLK_TCK);
	long long age =
	    (long long)(up * 1000) - (long long)(start_ticks * 1000 / (unsigned long long)hz);
	return age > 0 ? age : 0;
}

int proc_pidfd_verified(pid_t pid, unsigned long long start)
{
	unsigned long long ticks;
	int fd = pidfd_open(pid, 0);
	if (fd < 0)
		return -1;
	/* Opened first, checked second: the pidfd pins the process we checked. */
	if (proc_start_ticks(pid, &ticks) < 0) {
		int e = errno;
		close(fd);
		errno = proc_errno_local(e) ? e : ESRCH;
		return -1;
	}
	if (ticks != start || proc_pidfd_exited(fd)) {
		close(fd);
		errno = ESRCH;
		return -1;
	}
	return fd;
}

bool proc_pidfd_exited(int pidfd)
{
	struct pollfd p = {pidfd, POLLIN, 0};
	return poll(&p, 1, 0) > 0;
}

pid_t proc_pidfd_pid(int pidfd)
{
	char path[64], buf[2048];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return -1;
	char *p = strstr(buf, "\nPid:");
	return p ? (pid_t)strtol(p + 5, NULL, 10) : -1;
}

int proc_pidfd_signal(int pidfd, int sig)
{
	return pidfd_send_signal(pidfd, sig, NULL, 0);
}

int proc_signal_group(int pidfd, pid_t pid, int sig)
{
	if (proc_pidfd_signal(pidfd, sig) < 0) {
		/* Gone: its group id may already name nobody, or someone else. */
		return errno == ESRCH ? 0 : -1;
	}
	if (getpgid(pid) == pid && kill(-pid, sig) < 0 && errno != ESRCH)
		return -1;
	return 0;
}

const char *sig_name(int sig)
{
	static char buf[32];
	const char *abbrev = sigabbrev_np(sig);
	if (abbrev)
		snprintf(buf, sizeof(buf), "SIG%s", abbrev);
	else
		snprintf(buf, sizeof(buf), "signal %d", sig);
	return buf;
}

int sig_parse(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);
	if (*s && !*end)
		return n > 0 && n < NSIG ? (int)n : -1;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (int i = 1; i < NSIG; i++) {
		const char *a = sigabbrev_np(i);
		if (a && strcasecmp(a, s) == 0)
			return i;
	}
	return -1;
}
