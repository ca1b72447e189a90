/* A service's log directory as svlogd keeps one: lines appended to `current`,
 * which is renamed to @TIME.s when the next line would pass the size limit, the
 * oldest rotated files removed beyond the number kept.  A line is written whole
 * or not at all, so a full disk costs lines (counted by the caller), never a
 * torn one; nothing here waits for anything but the file system. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kernel.h"
#include "svcout.h"

struct logfile {
	int dirfd; /* dir/name */
	int fd;	   /* current, -1 until (re)opened */
	off_t size;
	char path[]; /* dir/name, for messages: sized to fit, one per service */
};

static int open_current(struct logfile *lf, char *why, size_t whylen)
{
	lf->fd = openat(lf->dirfd, "current",
			O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0640);
	struct stat st;
	if (lf->fd < 0 || fstat(lf->fd, &st) < 0) {
		snprintf(why, whylen, "open %s/current: %s", lf->path, strerror(errno));
		if (lf->fd >= 0)
			close(lf->fd);
		lf->fd = -1;
		return -1;
	}
	lf->size = st.st_size;
	return 0;
}

struct logfile *logfile_open(const char *dir, const char *name, char *why, size_t whylen)
{
	size_t plen = strlen(dir) + 1 + strlen(name) + 1;
	struct logfile *lf = calloc(1, sizeof(*lf) + plen);
	if (!lf) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	lf->fd = -1;
	snprintf(lf->path, plen, "%s/%s", dir, name);
	/* The same walk as the run directory's: no symlink, nothing others may change. */
	int top = kernel_dir_open(dir, why, whylen);
	if (top < 0) {
		free(lf);
		return NULL;
	}
	if (mkdirat(top, name, 0700) < 0 && errno != EEXIST) {
		snprintf(why, whylen, "mkdir %s: %s", lf->path, strerror(errno));
		close(top);
		free(lf);
		return NULL;
	}
	lf->dirfd = openat(top, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(top);
	if (lf->dirfd < 0) {
		snprintf(why, whylen, "open %s: %s", lf->path, strerror(errno));
		free(lf);
		return NULL;
	}
	if (open_current(lf, why, whylen) < 0) {
		logfile_close(lf);
		return NULL;
	}
	return lf;
}

void logfile_close(struct logfile *lf)
{
	if (!lf)
		return;
	if (lf->fd >= 0)
		close(lf->fd);
	close(lf->dirfd);
	free(lf);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Removes the oldest @*.s beyond keep: their names sort by time. */
static void prune(struct logfile *lf, long long keep)
{
	int fd = dup(lf->dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	/* The duplicate shares the offset that the last prune left at the end. */
	rewinddir(d);
	char **names = NULL;
	size_t n = 0, cap = 0;
	for (struct dirent *e; (e = readdir(d));) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] != '@' || len < 3 || strcmp(e->d_name + len - 2, ".s") != 0)
			continue;
		if (n == cap) {
			char **nv = realloc(names, sizeof(*names) * (cap = cap ? cap * 2 : 16));
			if (!nv)
				break;
			names = nv;
		}
		if (!(names[n] = strdup(e->d_name)))
			break;
		n++;
	}
	closedir(d);
	if (n > (size_t)keep) {
		qsort(names, n, sizeof(*names), name_cmp);
		for (size_t i = 0; i < n - (size_t)keep; i++)
			unlinkat(lf->dirfd, names[i], 0);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* current -> @20260101T120000.123456Z.s, a name no earlier file has. */
static int rotate(struct logfile *lf, long long keep, char *why, size_t whylen)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char name[64];
	for (int tries = 0;; tries++) {
		struct tm tm;
		time_t secs = ts.tv_sec;
		gmtime_r(&secs, &tm);
		snprintf(name, sizeof(name), "@%04d%02d%02dT%02d%02d%02d.%06ldZ.s",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000);
		if (renameat2(lf->dirfd, "current", lf->dirfd, name, RENAME_NOREPLACE) == 0)
			break;
		if (errno != EEXIST || tries > 100) {
			snprintf(why, whylen, "rename %s/current to %s: %s", lf->path, name,
				 strerror(errno));
			return -1;
		}
		/* Two rotations in one microsecond: the next microsecond's name. */
		ts.tv_nsec += 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
	}
	close(lf->fd);
	lf->fd = -1;
	prune(lf, keep);
	return open_current(lf, why, whylen);
}

int logfile_write(struct logfile *lf, const char *line, size_t len, long long max_bytes,
		  long long keep, int64_t wall_ms, char *why, size_t whylen)
{
	(void)wall_ms;
	if (lf->fd < 0 && open_current(lf, why, whylen) < 0)
		return -1;
	if (lf->size > 0 && lf->size + (off_t)len > max_bytes && rotate(lf, keep, why, whylen) < 0)
		return -1;
	ssize_t w;
	do
		w = write(lf->fd, line, len);
	while (w < 0 && errno == EINTR);
	if (w == (ssize_t)len) {
		lf->size += (off_t)len;
		return 0;
	}
	int e = w < 0 ? errno : 0;
	if (w >= 0) {
		/* A short write: the rest either goes too or says why it cannot. */
		ssize_t w2 = write(lf->fd, line + w, len - (size_t)w);
		if (w2 == (ssize_t)len - w) {
			lf->size += (off_t)len;
			return 0;
		}
		e = w2 < 0 ? errno : ENOSPC;
		w += w2 > 0 ? w2 : 0;
	}
	/* Half a line would read as a whole one: take it back. */
	if (w > 0 && ftruncate(lf->fd, lf->size) < 0)
		lf->size += w;
	snprintf(why, whylen, "write %s/current: %s", lf->path, strerror(e));
	return -1;
}
