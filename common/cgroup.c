/* cgroup v2 files read and written through descriptors; the parsers of
 * /proc/self/mountinfo and /proc/PID/cgroup take text and touch nothing. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"

/* The next whitespace-separated field of [*p, end), or NULL. */
static const char *field(const char **p, const char *end, size_t *n)
{
	const char *s = *p;
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	const char *e = s;
	while (e < end && *e != ' ' && *e != '\t')
		e++;
	*p = e;
	*n = (size_t)(e - s);
	return e > s ? s : NULL;
}

/* mountinfo writes space, tab, newline and backslash as \ooo. */
static int unescape(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' &&
		    s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
			c = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
			i += 3;
		}
		/* A NUL, raw or escaped, would cut the path short: not a path we use. */
		if (c == '\0' || o + 1 >= cap)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return o > 0 && out[0] == '/' ? 0 : -1;
}

int cgroup_parse_mountinfo(const char *text, size_t len, char *mnt, size_t cap)
{
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *q = p;
		const char *mp = NULL, *f;
		size_t mpn = 0, n;
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE ... */
		for (int i = 0; (f = field(&q, le, &n)); i++) {
			if (i == 4) {
				mp = f;
				mpn = n;
			}
			if (i >= 6 && n == 1 && f[0] == '-') {
				const char *fs = field(&q, le, &n);
				if (mp && fs && n == 7 && memcmp(fs, "cgroup2", 7) == 0 &&
				    unescape(mp, mpn, mnt, cap) == 0)
					return 0;
				break;
			}
		}
		p = le + 1;
	}
	return -1;
}

int cgroup_parse_proc(const char *text, size_t len, char *path, size_t cap)
{
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		size_t n = (size_t)(le - p);
		/* The unified hierarchy's line is "0::PATH". */
		if (n >= 4 && memcmp(p, "0::", 3) == 0 && p[3] == '/' &&
		    !memchr(p + 3, '\0', n - 3)) {
			if (n - 3 >= cap)
				return -1;
			memcpy(path, p + 3, n - 3);
			path[n - 3] = '\0';
			return 0;
		}
		p = le + 1;
	}
	return -1;
}

/* A whole small /proc file into buf, NUL-terminated: its length or -1. */
static ssize_t read_small(int dirfd, const char *path, char *buf, size_t cap)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t off = 0;
	for (;;) {
		ssize_t n = read(fd, buf + off, cap - 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			if (n < 0)
				return -1;
			break;
		}
		off += (size_t)n;
		if (off == cap - 1) {
			close(fd);
			break;
		}
	}
	buf[off] = '\0';
	return (ssize_t)off;
}

int cgroup_mount(char *mnt, size_t cap, char *why, size_t whylen)
{
	static char text[65536];
	ssize_t n = read_small(AT_FDCWD, "/proc/self/mountinfo", text, sizeof(text));
	if (n < 0) {
		snprintf(why, whylen, "read /proc/self/mountinfo: %s", strerror(errno));
		return -1;
	}
	if (cgroup_parse_mountinfo(text, (size_t)n, mnt, cap) < 0) {
		snprintf(why, whylen, "no cgroup2 file system in /proc/self/mountinfo");
		return -1;
	}
	return 0;
}

int cgroup_of_pid(pid_t pid, char *path, size_t cap)
{
	char file[64], text[4096];
	snprintf(file, sizeof(file), "/proc/%d/cgroup", (int)pid);
	ssize_t n = read_small(AT_FDCWD, file, text, sizeof(text));
	if (n < 0)
		return -1;
	return cgroup_parse_proc(text, (size_t)n, path, cap);
}

int cgroup_populated(int dirfd)
{
	char text[256];
	ssize_t n = read_small(dirfd, "cgroup.events", text, sizeof(text));
	if (n < 0)
		return -1;
	const char *p = strstr(text, "populated ");
	if (!p) {
		errno = EINVAL;
		return -1;
	}
	return p[10] == '1';
}

int cgroup_pids(int dirfd, pid_t *pids, int max)
{
	int fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* Read in chunks with no stdio: the status tick counts every service's. */
	char buf[4096];
	int n = 0;
	long pid = -1; /* the number being read, -1 between numbers */
	for (;;) {
		ssize_t got = read(fd, buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		for (ssize_t i = 0; i < got; i++) {
			if (buf[i] >= '0' && buf[i] <= '9') {
				pid = (pid < 0 ? 0 : pid * 10) + (buf[i] - '0');
				continue;
			}
			if (pid >= 0) {
				if (n < max)
					pids[n] = (pid_t)pid;
				n++;
			}
			pid = -1;
		}
		if (got == 0)
			break;
	}
	if (pid >= 0) {
		if (n < max)
			pids[n] = (pid_t)pid;
		n++;
	}
	close(fd);
	return n;
}

int cgroup_signal(int dirfd, int sig)
{
	/* A process that forks as we go is caught by the next round (or cgroup.kill). */
	pid_t pids[4096];
	int n = cgroup_pids(dirfd, pids, 4096), sent = 0;
	if (n < 0)
		return -1;
	for (int i = 0; i < n && i < 4096; i++)
		if (kill(pids[i], sig) == 0)
			sent++;
	return sent;
}

int cgroup_kill(int dirfd)
{
	int fd = openat(dirfd, "cgroup.kill", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t w = write(fd, "1", 1);
		close(fd);
		if (w == 1)
			return 0;
	}
	/* Older kernels: one by one, again until none is left to signal. */
	for (int round = 0; round < 16; round++) {
		int n = cgroup_signal(dirfd, SIGKILL);
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
	}
	return 0;
}

int cgroup_enter(int dirfd)
{
	int fd = openat(dirfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t w = write(fd, "0", 1);
	int e = errno;
	close(fd);
	errno = e;
	return w == 1 ? 0 : -1;
}
