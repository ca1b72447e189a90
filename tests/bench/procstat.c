/* What a process costs, as /proc tells it: nanoseconds on a CPU (schedstat), user and
 * system time (stat), context switches (status), and memory (smaps_rollup: PSS and
 * private dirty). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

ssize_t pstat_read(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t off = 0;
	while (off + 1 < cap) {
		ssize_t n = read(fd, buf + off, cap - 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	return (ssize_t)off;
}

/* The number after "key:" in a file of "Key: value" lines. */
static int field(const char *text, const char *key, unsigned long long *v)
{
	size_t klen = strlen(key);
	for (const char *p = text; p && *p;) {
		if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
			char *end;
			errno = 0;
			*v = strtoull(p + klen + 1, &end, 10);
			return errno || end == p + klen + 1 ? -1 : 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

int pstat_cpu_ns(pid_t pid, uint64_t *ns, char *why, size_t whylen)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	if (pstat_read(path, buf, sizeof(buf)) < 0) {
		snprintf(why, whylen, "read %s: %s", path, strerror(errno));
		return -1;
	}
	if (sscanf(buf, "%" SCNu64, ns) != 1) {
		snprintf(why, whylen, "%s: no run time in \"%s\"", path, buf);
		return -1;
	}
	return 0;
}

int pstat_wakeups(pid_t pid, uint64_t *n, char *why, size_t whylen)
{
	char path[64], buf[4096];
	unsigned long long vol, nonvol;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (pstat_read(path, buf, sizeof(buf)) < 0) {
		snprintf(why, whylen, "read %s: %s", path, strerror(errno));
		return -1;
	}
	if (field(buf, "voluntary_ctxt_switches", &vol) < 0 ||
	    field(buf, "nonvoluntary_ctxt_switches", &nonvol) < 0) {
		snprintf(why, whylen, "%s: no voluntary/nonvoluntary_ctxt_switches", path);
		return -1;
	}
	*n = vol + nonvol;
	return 0;
}

int pstat_mem_kb(pid_t pid, long *pss, long *private_dirty, char *why, size_t whylen)
{
	char path[64], buf[4096];
	unsigned long long a, b;
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	if (pstat_read(path, buf, sizeof(buf)) < 0) {
		snprintf(why, whylen, "read %s: %s", path, strerror(errno));
		return -1;
	}
	if (field(buf, "Pss", &a) < 0 || field(buf, "Private_Dirty", &b) < 0) {
		snprintf(why, whylen, "%s: no Pss or Private_Dirty", path);
		return -1;
	}
	*pss = (long)a;
	*private_dirty = (long)b;
	return 0;
}

int pstat_times_ns(pid_t pid, uint64_t *user, uint64_t *sys, char *why, size_t whylen)
{
	char path[64], buf[1024];
	unsigned long long ut, st;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (pstat_read(path, buf, sizeof(buf)) < 0) {
		snprintf(why, whylen, "read %s: %s", path, strerror(errno));
		return -1;
	}
	/* The name may hold spaces and parentheses: fields count from the last ')'. */
	char *rp = strrchr(buf, ')');
	if (!rp || sscanf(rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			  &st) != 2) {
		snprintf(why, whylen, "%s: no utime and stime", path);
		return -1;
	}
	long hz = sysconf(_SC_CLK_TCK);
	if (hz <= 0)
		hz = 100;
	*user = (uint64_t)ut * (1000000000ULL / (uint64_t)hz);
	*sys = (uint64_t)st * (1000000000ULL / (uint64_t)hz);
	return 0;
}
