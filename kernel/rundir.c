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

/* One step of the walk: the directory name under parent (open as pfd), made 0700
 * if missing, opened without following a symlink; -1 with why. */
static int step(int pfd, const char *name, const char *shown, bool last, char *why, size_t whylen)
{
	int fd = openat(pfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (mkdirat(pfd, name, 0700) < 0 && errno != EEXIST) {
			snprintf(why, whylen, "mkdir %s: %s", shown, strerror(errno));
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
		snprintf(why, whylen, "unsafe directory %s: is a symbolic link", shown);
	else if (e == ENOTDIR && last)
		snprintf(why, whylen, "unsafe directory %s: not a directory", shown);
	else
		snprintf(why, whylen, "open %s: %s", shown, strerror(e));
	return -1;
}

int kernel_dir_open(const char *path, char *why, size_t whylen)
{
	char buf[CFG_STR_MAX], shown[CFG_STR_MAX];
	if (strlcpy(buf, path, sizeof(buf)) >= sizeof(buf)) {
		snprintf(why, whylen, "%s: path too long", path);
		return -1;
	}
	bool absolute = buf[0] == '/';
	int fd = open(absolute ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(why, whylen, "open %s: %s", absolute ? "/" : ".", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	uid_t me = geteuid();
	snprintf(shown, sizeof(shown), "%s", absolute ? "" : ".");
	char *save = NULL;
	char *comp = strtok_r(buf, "/", &save);
	while (comp) {
		/* Empty components (a doubled or trailing slash) never reach here; "." is
		 * a no-op; ".." would make the path say something it does not show. */
		char *next_comp = strtok_r(NULL, "/", &save);
		if (strcmp(comp, ".") == 0) {
			comp = next_comp;
			continue;
		}
		if (strcmp(comp, "..") == 0) {
			snprintf(why, whylen,
				 "unsafe directory %s: \"..\" in the path (name the "
				 "directory itself)",
				 path);
			close(fd);
			return -1;
		}
		struct stat parent = st;
		size_t sl = strlen(shown);
		snprintf(shown + sl, sizeof(shown) - sl, "/%s", comp);
		int nfd = step(fd, comp, shown, next_comp == NULL, why, whylen);
		if (nfd < 0 || fstat(nfd, &st) < 0) {
			if (nfd >= 0) {
				snprintf(why, whylen, "stat %s: %s", shown, strerror(errno));
				close(nfd);
			}
			close(fd);
			return -1;
		}
		close(fd);
		fd = nfd;
		/* Someone else who can write the parent could rename this entry away and
		 * put another in its place, unless the parent is sticky and the entry ours
		 * (/tmp/NAME, the rule of OpenSSH's safe_path and systemd's chase). */
		if ((parent.st_mode & (S_IWGRP | S_IWOTH)) && parent.st_uid != me &&
		    !((parent.st_mode & S_ISVTX) && (st.st_uid == me || st.st_uid == 0))) {
			shown[sl] = '\0';
			snprintf(why, whylen,
				 "unsafe directory %s: writable by %s (mode %04o), not sticky",
				 shown[0] ? shown : "/",
				 parent.st_mode & S_IWOTH ? "others" : "its group",
				 (unsigned)(parent.st_mode & 07777));
			close(fd);
			return -1;
		}
		if (next_comp && st.st_uid != 0 && st.st_uid != me) {
			snprintf(
			    why, whylen,
			    "unsafe directory %s: owned by uid %u, neither root nor us (uid %u)",
			    shown, (unsigned)st.st_uid, (unsigned)me);
			close(fd);
			return -1;
		}
		if (next_comp && (st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
			snprintf(why, whylen, "unsafe directory %s: writable by %s (mode %04o)",
				 shown, st.st_mode & S_IWOTH ? "others" : "its group",
				 (unsigned)(st.st_mode & 07777));
			close(fd);
			return -1;
		}
		comp = next_comp;
	}
	const char *name = shown[0] ? shown : "/";
	if (st.st_uid != me) {
		snprintf(why, whylen, "unsafe directory %s: owned by uid %u, not by us (uid %u)",
			 name, (unsigned)st.st_uid, (unsigned)me);
		close(fd);
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, whylen, "unsafe directory %s: writable by %s (mode %04o)", name,
			 st.st_mode & S_IWOTH ? "others" : "its group",
			 (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	return fd;
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
