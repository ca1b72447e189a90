/* The run directory and the socket directories: created private when missing,
 * refused when someone else could plant a socket or a pidfile in them. */
#include <bsd/string.h>
#include <errno.h>
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

/* mkdir -p, each new component 0700; existing ones are left as they are. */
static int mkdir_parents(const char *path, char *why, size_t whylen)
{
	char buf[CFG_STR_MAX];
	if (strlcpy(buf, path, sizeof(buf)) >= sizeof(buf)) {
		snprintf(why, whylen, "%s: path too long", path);
		return -1;
	}
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST) {
			snprintf(why, whylen, "mkdir %s: %s", buf, strerror(errno));
			return -1;
		}
		*p = c;
		if (c == '\0')
			return 0;
	}
}

int kernel_dir_safe(const char *path, char *why, size_t whylen)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		if (errno != ENOENT) {
			snprintf(why, whylen, "lstat %s: %s", path, strerror(errno));
			return -1;
		}
		if (mkdir_parents(path, why, whylen) < 0)
			return -1;
		if (lstat(path, &st) < 0) {
			snprintf(why, whylen, "lstat %s: %s", path, strerror(errno));
			return -1;
		}
	}
	/* A symlink could be pointed elsewhere between our check and our use. */
	if (S_ISLNK(st.st_mode)) {
		snprintf(why, whylen, "unsafe directory %s: is a symbolic link", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "unsafe directory %s: not a directory", path);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		snprintf(why, whylen, "unsafe directory %s: owned by uid %u, not by us (uid %u)",
			 path, (unsigned)st.st_uid, (unsigned)geteuid());
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, whylen, "unsafe directory %s: writable by %s (mode %04o)", path,
			 st.st_mode & S_IWOTH ? "others" : "its group",
			 (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}
