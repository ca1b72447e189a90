/* Start-up hygiene every daemon needs before it opens its first file: the
 * standard descriptors in place, and as many descriptors as it may have. */
#ifndef RON_STARTUP_H
#define RON_STARTUP_H
#include <stddef.h>
#include <sys/resource.h>

/* Opens /dev/null on each of 0, 1 and 2 that is closed, so that no file opened
 * later (a pidfile, a pipe) can become our stdout or stderr.  Returns a mask of
 * the descriptors it opened (bit n for fd n), or -1 if /dev/null could not be. */
int startup_stdio(void);
/* Raises the soft RLIMIT_NOFILE to the hard one.  0 with both limits in *lim,
 * or -1 with errno. */
int startup_nofile(struct rlimit *lim);
/* The warning for a hard limit below need descriptors, or "" if it suffices. */
void startup_nofile_warning(const struct rlimit *lim, unsigned long need, char *buf, size_t len);

#endif
