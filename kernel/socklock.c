/* One lock per service socket (<socket>.lock beside it), held while the kernel
 * runs: a second kernel with another run directory but the same sockets would run
 * a second copy of every service, and is refused naming the holder. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "kernel.h"

/* A holder that died moments ago may still be closing (a monitor between fork
 * and exec holds a copy of the descriptor): worth a short wait, never more. */
#define SOCKLOCK_RETRY_MS 1000

void kernel_socklock_path(const char *sock, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s.lock", sock);
}

/* "pid 4242, run directory /run/ron" from what the holder wrote; *pid set to 0 if
 * it wrote nothing yet. */
static void holder_read(int fd, pid_t *pid, char *buf, size_t cap)
{
	char text[CFG_STR_MAX + 32];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
	*pid = 0;
	if (n <= 0) {
		snprintf(buf, cap, "a process that has not written its pid yet");
		return;
	}
	text[n] = '\0';
	text[strcspn(text, "\n")] = '\0';
	char *sp = strchr(text, ' ');
	*pid = (pid_t)atoi(text);
	snprintf(buf, cap, "pid %d, run directory %s", (int)*pid, sp ? sp + 1 : "unknown");
}

int kernel_socklock_take(const struct kernel *k, const struct svc_def *d, int *ours, bool *held,
			 char *why, size_t whylen)
{
	char path[CFG_STR_MAX + 8];
	kernel_socklock_path(d->sock, path, sizeof(path));
	*held = false;
	*ours = -1;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(why, whylen, "socket lock %s: %s", path, strerror(errno));
		return -1;
	}
	int64_t deadline = clock_mono_us() + SOCKLOCK_RETRY_MS * 1000;
	pid_t pid = 0;
	char holder[CFG_STR_MAX + 64];
	/* flock, not a process lock: two services of this kernel whose socket paths name
	 * one file (through a symlink or "..") conflict here too. */
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK) {
			snprintf(why, whylen, "lock %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		holder_read(fd, &pid, holder, sizeof(holder));
		bool gone = pid > 0 && pid != k->pid && kill(pid, 0) < 0 && errno == ESRCH;
		if (!gone || clock_mono_us() >= deadline)
			break;
		nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		char line[CFG_STR_MAX + 32];
		int n = snprintf(line, sizeof(line), "%d %s\n", (int)k->pid, k->run_dir);
		if (ftruncate(fd, 0) < 0 || pwrite(fd, line, (size_t)n, 0) != n) {
			snprintf(why, whylen, "write %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		return fd;
	}
	if (pid == k->pid) {
		*ours = fd;
		snprintf(why, whylen, "locked by this kernel (lock %s)", path);
		return -1;
	}
	*held = true;
	snprintf(why, whylen, "in use by another ron-kernel (%s): it holds %s", holder, path);
	close(fd);
	return -1;
}

int kernel_socklock_check(const struct svc_def *d, const char *run_dir, char *why, size_t whylen)
{
	char path[CFG_STR_MAX + 8], holder[CFG_STR_MAX + 64];
	kernel_socklock_path(d->sock, path, sizeof(path));
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return 0; /* no lock file: no kernel holds it */
	int rc = 0;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
		pid_t pid;
		holder_read(fd, &pid, holder, sizeof(holder));
		char mine[CFG_STR_MAX + 32];
		snprintf(mine, sizeof(mine), "pid %d, run directory %s", (int)pid, run_dir);
		if (strcmp(holder, mine) != 0) {
			snprintf(why, whylen, "in use by another ron-kernel (%s): it holds %s",
				 holder, path);
			rc = -1;
		}
	}
	close(fd); /* a lock taken for the test goes with it */
	return rc;
}

void kernel_socklock_drop(int fd, const char *sock)
{
	if (fd < 0)
		return;
	char path[CFG_STR_MAX + 8];
	kernel_socklock_path(sock, path, sizeof(path));
	/* Still ours while it is unlinked: no other kernel can hold it in between. */
	unlink(path);
	close(fd);
}

void kernel_socklocks_release(struct kernel *k)
{
	for (int i = 0; i < k->nsvc; i++) {
		if (k->svc[i].lockfd >= 0)
			close(k->svc[i].lockfd);
		k->svc[i].lockfd = -1;
	}
}
