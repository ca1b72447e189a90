/* cgroup v2: where the hierarchy is, which cgroup a process is in, and the few
 * files a supervisor uses (cgroup.procs, cgroup.events, cgroup.kill). */
#ifndef RON_CGROUP_H
#define RON_CGROUP_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define CGROUP_PATH_MAX 1024

/* Pure parsers of what /proc says, for tests and fuzzing. */
/* The mount point of the cgroup2 file system in a /proc/self/mountinfo text (octal
 * escapes undone): 0, or -1 when there is none. */
int cgroup_parse_mountinfo(const char *text, size_t len, char *mnt, size_t cap);
/* The "0::" path of a /proc/PID/cgroup text ("/" for the root): 0, or -1. */
int cgroup_parse_proc(const char *text, size_t len, char *path, size_t cap);

/* From the live system: 0 or -1 with why. */
int cgroup_mount(char *mnt, size_t cap, char *why, size_t whylen);
/* pid's cgroup relative to the mount ("/ron-kernel.1a2b/svc-index"); -1 if gone. */
int cgroup_of_pid(pid_t pid, char *path, size_t cap);

/* On an open cgroup directory: */
/* 1 populated, 0 empty, -1 with errno. */
int cgroup_populated(int dirfd);
/* The pids in cgroup.procs: how many there are (up to max stored), or -1. */
int cgroup_pids(int dirfd, pid_t *pids, int max);
/* Sends sig to every process in it; returns how many were signalled, or -1. */
int cgroup_signal(int dirfd, int sig);
/* cgroup.kill (Linux 5.14), else SIGKILL to each process: 0 or -1. */
int cgroup_kill(int dirfd);
/* Moves the calling process in (async-signal-safe: usable between fork and exec). */
int cgroup_enter(int dirfd);

#endif
