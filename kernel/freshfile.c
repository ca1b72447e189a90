/* Files the kernel replaces (status.json, RON_METRICS_FILE): each time a new file,
 * written under a temporary name and put in place of the old one by name, so a
 * reader opens one whole file or the other and the one it holds never changes.
 * The directory may be another user's (node_exporter's textfile directory): the
 * temporary name is created, never opened as found, so a FIFO, a symlink or a file
 * planted there can neither block the kernel nor be written to. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "filekind.h"
#include "kernel.h"

/* What is at tmp already.  A regular file of ours with one link is what a kernel
 * stopped mid-write leaves: removed, 0.  Anything else is not ours to remove, and
 * the directory's owner can always put it back: named, -1. */
static int leftover_clear(int dirfd, const char *tmp, const char *shown, char *why, size_t whylen)
{
	struct stat st;
	if (fstatat(dirfd, tmp, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		/* Gone since: the next try creates it. */
		if (errno == ENOENT)
			return 0;
		snprintf(why, whylen, "stat %s/%s: %s", shown, tmp, strerror(errno));
		return -1;
	}
	uid_t me = geteuid();
	if (S_ISREG(st.st_mode) && st.st_uid == me && st.st_nlink == 1) {
		if (unlinkat(dirfd, tmp, 0) < 0 && errno != ENOENT) {
			snprintf(why, whylen, "unlink %s/%s: %s", shown, tmp, strerror(errno));
			return -1;
		}
		return 0;
	}
	char owner[48] = "";
	if (st.st_uid != me)
		snprintf(owner, sizeof(owner), " owned by uid %u", (unsigned)st.st_uid);
	else if (S_ISREG(st.st_mode))
		snprintf(owner, sizeof(owner), " with %lu links", (unsigned long)st.st_nlink);
	snprintf(why, whylen, "open %s/%s: %s (%s%s, not left by us: left alone)", shown, tmp,
		 strerror(EEXIST), filekind_name(st.st_mode), owner);
	return -1;
}

/* A new regular file at tmp, open for writing; -1 with why. */
static int tmp_create(int dirfd, const char *tmp, const char *shown, mode_t mode, char *why,
		      size_t whylen)
{
	/* O_EXCL opens nothing that is there; O_NONBLOCK and O_NOCTTY all the same, so
	 * that a FIFO or a terminal could never stop the kernel even if it were. */
	const int flags =
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	int fd = openat(dirfd, tmp, flags, mode);
	if (fd < 0 && errno == EEXIST) {
		if (leftover_clear(dirfd, tmp, shown, why, whylen) < 0)
			return -1;
		fd = openat(dirfd, tmp, flags, mode);
	}
	if (fd < 0) {
		snprintf(why, whylen, "open %s/%s: %s", shown, tmp, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		snprintf(why, whylen, "stat %s/%s: %s", shown, tmp, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "open %s/%s: not a regular file: %s", shown, tmp,
			 filekind_name(st.st_mode));
		close(fd);
		return -1;
	}
	return fd;
}

/* Our temporary file removed after a failure; a failure of that too joins why. */
static void tmp_remove(int dirfd, const char *tmp, const char *shown, char *why, size_t whylen)
{
	if (unlinkat(dirfd, tmp, 0) == 0 || errno == ENOENT)
		return;
	size_t len = strlen(why);
	snprintf(why + len, whylen - len, "; unlink %s/%s: %s", shown, tmp, strerror(errno));
}

static int write_all(int fd, const struct iovec *iov, int n, const char *shown, const char *tmp,
		     char *why, size_t whylen)
{
	for (int i = 0; i < n; i++) {
		const char *p = iov[i].iov_base;
		size_t off = 0;
		while (off < iov[i].iov_len) {
			ssize_t w = write(fd, p + off, iov[i].iov_len - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				snprintf(why, whylen, "write %s/%s: %s", shown, tmp,
					 w < 0 ? strerror(errno) : "wrote nothing");
				return -1;
			}
			off += (size_t)w;
		}
	}
	return 0;
}

/* tmp takes name's place.  Exchanged, then the old file (now at tmp) unlinked,
 * rather than renamed over it: ext4 starts writing back a new file renamed over an
 * existing one inside the rename (auto_da_alloc, there for editors that skip
 * fsync): renameat was 29% of the idle kernel's CPU (docs/performance.md).  Exchanged, the new
 * file is written back when the kernel's writeback gets to it, and the old one,
 * unlinked within a tick, mostly never.  Measured on ext4 (Linux 6.18, 1.2 kB,
 * CPU per replacement): the previous file rewritten in place and exchanged 13-15 us,
 * a new one exchanged and the old unlinked 24-30 us, a new one renamed over the old
 * 74-96 us, O_TMPFILE + linkat + exchange 27-34 us (so not used: a name is needed
 * for the exchange all the same).  No fsync: after a crash the next kernel writes
 * both files anew.  Where names cannot be exchanged (EINVAL: the file system does
 * not), and for the first file (ENOENT), a plain rename. */
static int put_in_place(int dirfd, const char *tmp, const char *name, const char *shown, char *why,
			size_t whylen)
{
	if (renameat2(dirfd, tmp, dirfd, name, RENAME_EXCHANGE) == 0) {
		if (unlinkat(dirfd, tmp, 0) < 0) {
			snprintf(why, whylen, "unlink %s/%s (the file %s replaced): %s", shown, tmp,
				 name, strerror(errno));
			return -1;
		}
		return 0;
	}
	if ((errno == EINVAL || errno == ENOENT) && renameat(dirfd, tmp, dirfd, name) == 0)
		return 0;
	snprintf(why, whylen, "rename %s/%s to %s/%s: %s", shown, tmp, shown, name,
		 strerror(errno));
	tmp_remove(dirfd, tmp, shown, why, whylen);
	return -1;
}

int freshfile_write(int dirfd, const char *shown, const char *name, const char *tmp,
		    const struct iovec *iov, int n, mode_t mode, char *why, size_t whylen)
{
	int fd = tmp_create(dirfd, tmp, shown, mode, why, whylen);
	if (fd < 0)
		return -1;
	int rc = write_all(fd, iov, n, shown, tmp, why, whylen);
	if (close(fd) < 0 && rc == 0) {
		snprintf(why, whylen, "write %s/%s: %s", shown, tmp, strerror(errno));
		rc = -1;
	}
	if (rc < 0) {
		/* Ours, just made (should the directory's owner have put something else
		 * there since, unlinking it costs them only their own entry). */
		tmp_remove(dirfd, tmp, shown, why, whylen);
		return -1;
	}
	return put_in_place(dirfd, tmp, name, shown, why, whylen);
}
