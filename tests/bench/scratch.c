/* Scratch run directories and clean-up: every process a scenario starts carries its
 * directory in RON_RUN_DIR, so whatever it left behind is found in /proc and killed. */
#include <bsd/string.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "clock.h"
#include "proc.h"
#include "sockpath.h"

#define SCRATCH_MAX 8
/* The longest socket name a scenario puts in its directory. */
#define SOCK_NAME_MAX sizeof("/svc-overlay.sock")

static char active[SCRATCH_MAX][256];
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	interrupted = sig;
}

void bench_signals_init(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	sigemptyset(&sa.sa_mask);
	const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) < 0) {
			fprintf(stderr, "ron-bench: sigaction %s: %s\n", sig_name(sigs[i]),
				strerror(errno));
			exit(1);
		}
	/* A closed stdout (| head) must not kill us before the clean-up. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		fprintf(stderr, "ron-bench: ignore SIGPIPE: %s\n", strerror(errno));
		exit(1);
	}
}

bool bench_interrupted(void)
{
	return interrupted != 0;
}

void bench_pause_until(int64_t until_us)
{
	for (int64_t now = clock_mono_us(); now < until_us && !interrupted; now = clock_mono_us()) {
		int64_t d = until_us - now;
		struct timespec ts = {(time_t)(d / 1000000), (long)(d % 1000000) * 1000};
		if (ppoll(NULL, 0, &ts, NULL) < 0 && errno != EINTR) {
			fprintf(stderr, "ron-bench: ppoll: %s\n", strerror(errno));
			return;
		}
	}
}

int scratch_make(char *dir, size_t cap, const char *tag, char *why, size_t whylen)
{
	const char *base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	int n = snprintf(dir, cap, "%s/ron-bench-%s.XXXXXX", base, tag);
	if (n < 0 || (size_t)n >= cap || (size_t)n + SOCK_NAME_MAX - 1 > SOCKPATH_MAX) {
		snprintf(why, whylen,
			 "TMPDIR=%s: too long for a socket path in it (at most %zu bytes)", base,
			 SOCKPATH_MAX);
		return -1;
	}
	int slot = -1;
	for (int i = 0; i < SCRATCH_MAX && slot < 0; i++)
		if (!active[i][0])
			slot = i;
	if (slot < 0) {
		snprintf(why, whylen, "more than %d scratch directories at once", SCRATCH_MAX);
		return -1;
	}
	if (!mkdtemp(dir)) {
		snprintf(why, whylen, "mkdtemp %s: %s", dir, strerror(errno));
		return -1;
	}
	strlcpy(active[slot], dir, sizeof(active[slot]));
	return 0;
}

/* True if the environment of pid holds the entry want; a process that is gone or not
 * ours cannot be read, and is not one of ours. */
static bool environ_has(pid_t pid, const char *want)
{
	static char *buf;
	static size_t cap;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	size_t len = 0;
	for (;;) {
		if (len + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *nb = realloc(buf, ncap);
			if (!nb) {
				fprintf(stderr, "ron-bench: read %s: out of memory\n", path);
				break;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (!buf)
		return false;
	buf[len] = '\0'; /* the last entry may have been cut short */
	for (size_t off = 0; off < len; off += strlen(buf + off) + 1)
		if (strcmp(buf + off, want) == 0)
			return true;
	return false;
}

int scratch_procs(const char *dir, bool kill_them)
{
	char want[320];
	snprintf(want, sizeof(want), "RON_RUN_DIR=%s/run", dir);
	DIR *d = opendir("/proc");
	if (!d) {
		fprintf(stderr, "ron-bench: opendir /proc: %s\n", strerror(errno));
		return -1;
	}
	int found = 0;
	for (struct dirent *e; (e = readdir(d));) {
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid <= 0 || pid == getpid() || !environ_has(pid, want))
			continue;
		found++;
		if (kill_them && kill(pid, SIGKILL) < 0 && errno != ESRCH)
			fprintf(stderr, "ron-bench: SIGKILL pid %d left in %s: %s\n", (int)pid, dir,
				strerror(errno));
	}
	closedir(d);
	return found;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (remove(path) < 0 && errno != ENOENT)
		fprintf(stderr, "ron-bench: remove %s: %s\n", path, strerror(errno));
	return 0;
}

/* Our zombies, and those of killed kernels (we are their subreaper). */
static void reap_all(void)
{
	for (;;) {
		pid_t pid = waitpid(-1, NULL, WNOHANG);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0 && errno != ECHILD)
			fprintf(stderr, "ron-bench: waitpid: %s\n", strerror(errno));
		if (pid <= 0)
			return;
	}
}

void scratch_remove(const char *dir)
{
	char copy[256];
	strlcpy(copy, dir, sizeof(copy));
	int64_t deadline = clock_mono_us() + 5000000;
	for (;;) {
		int left = scratch_procs(copy, true);
		reap_all();
		if (left <= 0)
			break;
		if (clock_mono_us() >= deadline) {
			fprintf(stderr, "ron-bench: %d processes of %s survive SIGKILL\n", left,
				copy);
			break;
		}
		struct timespec ts = {0, 1000000};
		if (ppoll(NULL, 0, &ts, NULL) < 0 && errno != EINTR)
			fprintf(stderr, "ron-bench: ppoll: %s\n", strerror(errno));
	}
	if (nftw(copy, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		fprintf(stderr, "ron-bench: remove %s: %s\n", copy, strerror(errno));
	for (int i = 0; i < SCRATCH_MAX; i++)
		if (strcmp(active[i], copy) == 0)
			active[i][0] = '\0';
}

void scratch_remove_all(void)
{
	for (int i = 0; i < SCRATCH_MAX; i++)
		if (active[i][0])
			scratch_remove(active[i]);
}
