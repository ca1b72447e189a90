/* svc-sim's start stamps (SIM_PIDFILE): one "PID MONO_US" line per start, appended at
 * entry to main(), so a restart is timed by the new process's own monotonic clock. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

int stamps_read(const char *path, struct stamp *out, int max, char *why, size_t whylen)
{
	static char buf[1 << 16];
	if (pstat_read(path, buf, sizeof(buf)) < 0) {
		snprintf(why, whylen, "read %s: %s", path, strerror(errno));
		return -1;
	}
	int n = 0;
	for (char *line = buf; *line && n < max;) {
		int pid;
		int64_t us;
		if (sscanf(line, "%d %" SCNd64, &pid, &us) == 2)
			out[n++] = (struct stamp){(pid_t)pid, us};
		char *nl = strchr(line, '\n');
		if (!nl)
			break;
		line = nl + 1;
	}
	return n;
}

int64_t stamps_find(const char *path, pid_t pid, char *why, size_t whylen)
{
	struct stamp s[STAMPS_MAX];
	int n = stamps_read(path, s, STAMPS_MAX, why, whylen);
	for (int i = 0; i < n; i++)
		if (s[i].pid == pid)
			return s[i].us;
	if (n >= 0)
		snprintf(why, whylen, "%s: no start stamp of pid %d", path, (int)pid);
	return -1;
}
