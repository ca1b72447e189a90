/* The run directory and the socket directories: created private when missing,
 * refused when someone else could plant a socket or a pidfile in them. */
#include <bsd/string.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel.h"

void kernel_dirname(const char *path, char *buf, size_t cap)
{
	strlcpy(buf, path, cap);
	char *slash = strrchr(buf, '/');
	if (!slash)
		strlcpy(buf, ".", cap);
	else if (slash == buf)
		buf[1] = '\0';
	else
		*slash = '\0';
}

void kernel_pidfile_path(const char *run_dir, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/ron-kernel.pid", run_dir);
}

/* One walk from / (or .) to a directory, and how strict it is at the end. */
struct walk {
	const char *path;
	bool create; /* missing directories made 0700 */
	bool dry;    /* a check only: a missing directory is fine (it would be made) */
	bool shared; /* the last may be another user's (kernel_dir_open_shared) */
	uid_t me;
	char shown[CFG_STR_MAX]; /* the path walked so far, for messages */
	char *why;
	size_t whylen;
};

/* One step of the walk: the directory name under parent (open as pfd), made 0700
 * if missing and w->create, opened without following a symlink; -1 with why. */
static int step(struct walk *w, int pfd, const char *name, bool last)
{
	int fd = openat(pfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && w->dry)
		return -2;
	if (fd < 0 && errno == ENOENT && w->create) {
		if (mkdirat(pfd, name, 0700) < 0 && errno != EEXIST) {
			snprintf(w->why, w->whylen, "mkdir %s: %s", w->shown, strerror(errno));
			return -1;
		}
		fd = openat(pfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd >= 0)
		return fd;
	struct stat st;
	int e = errno;
	if ((e == ELOOP || e == ENOTDIR) && fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		snprintf(w->why, w->whylen, "unsafe directory %s: is a symbolic link", w->shown);
	else if (e == ENOTDIR && last)
		snprintf(w->why, w->whylen, "unsafe directory %s: not a directory", w->shown);
	else
		snprintf(w->why, w->whylen, "open %s: %s", w->shown, strerror(e));
	return -1;
}

static const char *writers(mode_t mode)
{
	return mode & S_IWOTH ? "others" : "its group";
}

/* Someone else who can write the parent could rename the entry away and put another
 * in its place, unless the parent is sticky and the entry ours (/tmp/NAME, the rule
 * of OpenSSH's safe_path and systemd's chase).  parent_len: where the parent's name
 * ends in w->shown. */
static int check_entry(struct walk *w, const struct stat *parent, const struct stat *st,
		       size_t parent_len)
{
	if (w->shared && !(parent->st_mode & S_IWOTH))
		return 0;
	if (!(parent->st_mode & (S_IWGRP | S_IWOTH)) || parent->st_uid == w->me ||
	    ((parent->st_mode & S_ISVTX) && (st->st_uid == w->me || st->st_uid == 0)))
		return 0;
	w->shown[parent_len] = '\0';
	snprintf(w->why, w->whylen, "unsafe directory %s: writable by %s (mode %04o), not sticky",
		 w->shown[0] ? w->shown : "/", writers(parent->st_mode),
		 (unsigned)(parent->st_mode & 07777));
	return -1;
}

static int check_last(struct walk *w, const struct stat *st);

/* A directory on the way: root's or ours, and no one else may change its entries
 * unless it is sticky. */
static int check_middle(struct walk *w, const struct stat *st)
{
	/* Shared (node_exporter's /var/lib/prometheus/node-exporter): the directories
	 * above may be another user's too; only one anyone may change is refused, and
	 * what the walk opens it holds, so nothing is swapped in later. */
	if (w->shared)
		return check_last(w, st);
	if (st->st_uid != 0 && st->st_uid != w->me) {
		snprintf(w->why, w->whylen,
			 "unsafe directory %s: owned by uid %u, neither root nor us (uid %u)",
			 w->shown, (unsigned)st->st_uid, (unsigned)w->me);
		return -1;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX)) {
		snprintf(w->why, w->whylen, "unsafe directory %s: writable by %s (mode %04o)",
			 w->shown, writers(st->st_mode), (unsigned)(st->st_mode & 07777));
		return -1;
	}
	return 0;
}

/* The directory itself: ours and no one else's to write; shared, only not one that
 * anyone at all may change (world-writable and not sticky). */
static int check_last(struct walk *w, const struct stat *st)
{
	const char *name = w->shown[0] ? w->shown : "/";
	if (w->shared) {
		if (!(st->st_mode & S_IWOTH) || (st->st_mode & S_ISVTX))
			return 0;
		snprintf(w->why, w->whylen,
			 "unsafe directory %s: writable by others (mode %04o), not sticky", name,
			 (unsigned)(st->st_mode & 07777));
		return -1;
	}
	if (st->st_uid != w->me) {
		snprintf(w->why, w->whylen,
			 "unsafe directory %s: owned by uid %u, not by us (uid %u)", name,
			 (unsigned)st->st_uid, (unsigned)w->me);
		return -1;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(w->why, w->whylen, "unsafe directory %s: writable by %s (mode %04o)", name,
			 writers(st->st_mode), (unsigned)(st->st_mode & 07777));
		return -1;
	}
	return 0;
}

/* The component comp below fd (whose stat is *st): fd replaced by the new one and
 * *st by its stat, or -1 with why (fd closed either way on failure); -2, fd closed,
 * when a dry walk found it missing. */
static int descend(struct walk *w, int *fd, struct stat *st, const char *comp, bool last)
{
	struct stat parent = *st;
	size_t sl = strlen(w->shown);
	snprintf(w->shown + sl, sizeof(w->shown) - sl, "/%s", comp);
	int nfd = step(w, *fd, comp, last);
	close(*fd);
	*fd = nfd < 0 ? -1 : nfd;
	if (nfd < 0)
		return nfd;
	if (fstat(nfd, st) < 0) {
		snprintf(w->why, w->whylen, "stat %s: %s", w->shown, strerror(errno));
		return -1;
	}
	if (check_entry(w, &parent, st, sl) < 0 || (!last && check_middle(w, st) < 0))
		return -1;
	return 0;
}

static int walk(struct walk *w)
{
	char buf[CFG_STR_MAX];
	if (strlcpy(buf, w->path, sizeof(buf)) >= sizeof(buf)) {
		snprintf(w->why, w->whylen, "%s: path too long", w->path);
		return -1;
	}
	bool absolute = buf[0] == '/';
	int fd = open(absolute ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(w->why, w->whylen, "open %s: %s", absolute ? "/" : ".", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	w->me = geteuid();
	snprintf(w->shown, sizeof(w->shown), "%s", absolute ? "" : ".");
	char *save = NULL;
	for (char *comp = strtok_r(buf, "/", &save), *next; comp; comp = next) {
		/* Empty components (a doubled or trailing slash) never reach here; "." is
		 * a no-op; ".." would make the path say something it does not show. */
		next = strtok_r(NULL, "/", &save);
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			snprintf(w->why, w->whylen,
				 "unsafe directory %s: \"..\" in the path (name the "
				 "directory itself)",
				 w->path);
			close(fd);
			return -1;
		}
		int rc = descend(w, &fd, &st, comp, next == NULL);
		if (rc < 0) {
			if (fd >= 0)
				close(fd);
			return rc;
		}
	}
	if (check_last(w, &st) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int kernel_dir_open(const char *path, char *why, size_t whylen)
{
	struct walk w = {.path = path, .create = true, .why = why, .whylen = whylen};
	return walk(&w);
}

int kernel_dir_open_shared(const char *path, char *why, size_t whylen)
{
	struct walk w = {.path = path, .shared = true, .why = why, .whylen = whylen};
	return walk(&w);
}

int kernel_dir_check(const char *path, char *why, size_t whylen)
{
	struct walk w = {.path = path, .dry = true, .why = why, .whylen = whylen};
	int fd = walk(&w);
	if (fd >= 0)
		close(fd);
	return fd == -1 ? -1 : 0;
}

int kernel_dir_safe(const char *path, char *why, size_t whylen)
{
	int fd = kernel_dir_open(path, why, whylen);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

int kernel_pidfile_lock(int dirfd, pid_t *other)
{
	*other = 0;
	int fd = openat(dirfd, KERNEL_PIDFILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -1;
	/* A process lock, not flock(2): a monitor forked but not yet exec'd when the kernel
	 * is killed must not hold it, or a kernel restarted at once would be refused. */
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		int e = errno;
		if (e == EAGAIN || e == EACCES) {
			struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
			char pid[32] = "";
			if (fcntl(fd, F_GETLK, &q) == 0 && q.l_type != F_UNLCK)
				*other = q.l_pid;
			else if (pread(fd, pid, sizeof(pid) - 1, 0) > 0)
				*other = (pid_t)atoi(pid);
			e = EEXIST;
		}
		close(fd);
		errno = e;
		return -1;
	}
	char line[32];
	int n = snprintf(line, sizeof(line), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, line, (size_t)n, 0) != n) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}
