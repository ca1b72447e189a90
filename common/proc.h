/* Process identity and signals: /proc start times (so a recycled pid is never
 * taken for the process we mean), pidfds, and signal names. */
#ifndef RON_PROC_H
#define RON_PROC_H
#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

/* Reads /proc/PID/stat into buf; returns the fields after the command name
 * (from field 3, the state letter, on), with the name copied into comm if
 * given; NULL if the process is gone. */
const char *proc_stat_fields(pid_t pid, char *buf, size_t len, char *comm, size_t commlen);
/* Field 22 of /proc/PID/stat (start time in clock ticks since boot); 0 on
 * success, -1 if the process does not exist or the file is unreadable. */
int proc_start_ticks(pid_t pid, unsigned long long *ticks);
/* How long ago a process with that start time started, in ms (>= 0). */
long long proc_age_ms(unsigned long long start_ticks);
/* A pidfd for pid whose start time matches `start`: the fd, or -1 with errno
 * (ESRCH: gone, or a different process now has that pid; an errno for which
 * proc_errno_local() holds: we ran out of something and know nothing). */
int proc_pidfd_verified(pid_t pid, unsigned long long start);
/* This boot's id (/proc/sys/kernel/random/boot_id, 36 characters) into buf; 0, or -1. */
int proc_boot_id(char *buf, size_t len);
/* True once the process behind a pidfd has exited. */
bool proc_pidfd_exited(int pidfd);
/* The pid a pidfd refers to (from /proc/self/fdinfo), or -1. */
pid_t proc_pidfd_pid(int pidfd);
int proc_pidfd_signal(int pidfd, int sig);
/* Signals a process through its pidfd and, when it leads its own process
 * group (as services do), the group too; 0, or -1 with errno (not for ESRCH:
 * a process already gone is not an error). */
int proc_signal_group(int pidfd, pid_t pid, int sig);
/* Errors that are this process's own shortage (descriptors, memory, processes),
 * not a verdict on whatever it was trying to reach. */
bool proc_errno_local(int e);
/* The variable every process the kernel starts inherits, "PID.START" of the kernel:
 * as PID 1 it tells our processes from the container's own. */
#define PROC_KERNEL_MARK "RON_KERNEL_MARK"
/* Whether /proc/PID/environ holds the entry kv ("K=V"); false if unreadable. */
bool proc_environ_has(pid_t pid, const char *kv);
/* The parent pid from /proc/PID/stat; 0, or -1 with errno. */
int proc_parent(pid_t pid, pid_t *ppid);
/* "SIGKILL", or "signal 77" for an unknown number (static buffer). */
const char *sig_name(int sig);
/* A signal by name ("KILL", "sigkill") or number; -1 if unknown. */
int sig_parse(const char *s);

#endif
