/* Socket directories of services that run as another user: theirs to create their
 * socket in, and only theirs; the run directory stays the kernel's. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel.h"

/* A directory opened without following a symlink at its last component, checked
 * through the descriptor so nothing can be swapped in between. */
static int dir_open(const char *path, char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		char w[CFG_STR_MAX + 64];
		/* Made private first (by kernel_dir_safe's rules), given away below. */
		if (kernel_dir_safe(path, w, sizeof(w)) < 0) {
			snprintf(why, whylen, "%s", w);
			return -1;
		}
		fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		snprintf(why, whylen, "open %s: %s", path,
			 errno == ELOOP || errno == ENOTDIR ? "not a directory (or a symlink)"
							    : strerror(errno));
	return fd;
}

static int not_run_dir(const char *run_dir, const struct svc_def *d, const char *dir, char *why,
		       size_t whylen)
{
	if (strcmp(dir, run_dir) != 0)
		return 0;
	snprintf(why, whylen,
		 "%s runs as %s: its socket needs a directory of its own, not the run "
		 "directory %s (e.g. socket = %s/%s/%s.sock)",
		 d->name, d->user ? d->user : d->group, run_dir, run_dir, d->name, d->name);
	return -1;
}

int kernel_sockdir_check(const char *run_dir, const struct svc_def *d, char *why, size_t whylen)
{
	char dir[CFG_STR_MAX], w[CFG_STR_MAX + 128];
	struct stat st;
	kernel_dirname(d->sock, dir, sizeof(dir));
	if (not_run_dir(run_dir, d, dir, why, whylen) < 0)
		return -1;
	if (lstat(dir, &st) < 0 && errno == ENOENT) {
		if (kernel_dir_check(dir, w, sizeof(w)) == 0)
			return 0;
		snprintf(why, whylen, "%s", w);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "%s: not a directory (or a symlink)", dir);
		return -1;
	}
	if (st.st_uid != geteuid() && st.st_uid != d->uid) {
		snprintf(why, whylen, "unsafe directory %s: owned by uid %u, neither us nor %s",
			 dir, (unsigned)st.st_uid, d->user ? d->user : "the service");
		return -1;
	}
	return 0;
}

int kernel_sockdir_give(const char *run_dir, const struct svc_def *d, char *why, size_t whylen)
{
	char dir[CFG_STR_MAX];
	kernel_dirname(d->sock, dir, sizeof(dir));
	if (not_run_dir(run_dir, d, dir, why, whylen) < 0)
		return -1;
	int fd = dir_open(dir, why, whylen);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		snprintf(why, whylen, "stat %s: %s", dir, strerror(errno));
		close(fd);
		return -1;
	}
	/* Ours to give, or given already; never someone else's. */
	if (st.st_uid != geteuid() && st.st_uid != d->uid) {
		snprintf(why, whylen, "unsafe directory %s: owned by uid %u, neither us nor %s",
			 dir, (unsigned)st.st_uid, d->user ? d->user : "the service");
		close(fd);
		return -1;
	}
	if (fchown(fd, d->uid, d->gid) < 0 || fchmod(fd, 0700) < 0) {
		snprintf(why, whylen, "give %s to uid %u gid %u: %s", dir, (unsigned)d->uid,
			 (unsigned)d->gid, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	/* The service must be able to pass through the run directory to reach it; no
	 * one may list or change it. */
	char parent[CFG_STR_MAX];
	kernel_dirname(dir, parent, sizeof(parent));
	if (strcmp(parent, run_dir) == 0) {
		int rfd = open(run_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (rfd < 0 || fstat(rfd, &st) < 0 ||
		    fchmod(rfd, (st.st_mode & 07777 & ~(mode_t)(S_IWGRP | S_IWOTH)) | S_IXGRP |
				    S_IXOTH) < 0) {
			snprintf(why, whylen, "let %s pass through %s: %s", d->name, run_dir,
				 strerror(errno));
			if (rfd >= 0)
				close(rfd);
			return -1;
		}
		close(rfd);
	}
	return 0;
}
