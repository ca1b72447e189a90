/* ron-monitor: supervises one service.  main() parses the command line and
 * runs one poll loop that feeds the state machine (machine.c) its events. */
#include <bsd/stdlib.h>
#include <bsd/string.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "cgroup.h"
#include "clock.h"
#include "config.h"
#include "handover.h"
#include "health.h"
#include "machine.h"
#include "proc.h"
#include "report.h"
#include "services.h"
#include "sockpath.h"
#include "spawn.h"
#include "startup.h"

#ifndef RON_VERSION
#define RON_VERSION "0.1.0"
#endif

extern char **environ;

/* How long killed helpers get to leave the cgroup before the restart goes ahead. */
#define CGROUP_EMPTY_MS 3000
/* How long a respawn waits for the kernel to have read its predecessor's output. */
#define DRAIN_WAIT_MS 100

struct monitor {
	struct mon m;
	struct mon_cfg cfg;
	const char *name, *bin, *sock;
	char health_service[WIRE_NAME_MAX]; /* the request's service field */
	bool health_none;		    /* liveness only: no socket to check */
	struct spawn_spec spec;
	char **argv; /* the service's, bin first */
	int argc;
	gid_t groups[NGROUPS_MAX];
	int status_fd;
	bool standalone;
	int pidfd;		      /* the service, -1 when none */
	int cg_fd;		      /* its cgroup (--cgroup), -1 in the process-group fallback */
	char cg_rel[CGROUP_PATH_MAX]; /* that cgroup as /proc/PID/cgroup names it */
	bool adopted;		      /* not our child: the kernel reaps it */
	struct health_probe probe;
	bool collect; /* the probe's reply is read at its deadline, not waited for */
	uint64_t corr_id;
	bool finished;
	bool parent_gone; /* a report hit EPIPE: delivered after the current event */
	pid_t ppid;
	int cmd_fd; /* commands from the kernel, one per line; -1 without */
	int hb_fd;  /* where quiet passing checks go (--heartbeat-fd), -1 without */
	char cmd_buf[256];
	size_t cmd_len;
	/* The pid of our last report, and the one before it that the kernel owes us a
	 * "drained PID" for: its output read to the end (output_drained_wait()). */
	pid_t told_pid, drain_pid;
	/* The reports of one turn of the loop, written at its end in one write: a
	 * monitor killed in between leaves the kernel all of them or none, never an
	 * exit without the decision that followed it. */
	char out[PIPE_BUF];
	size_t outlen;
	/* Reports are numbered; a turn's reports the pipe could not take wait here,
	 * replaced by the next turn's: the reader learns the latest state, and the gap
	 * from the numbers. */
	unsigned long long seq;
	char pending[PIPE_BUF];
	size_t pending_len;
	pid_t self; /* our pid, for every report */
	/* What the process title shows: rewritten only when one of these changes. */
	struct {
		bool set;
		enum svc_state state;
		pid_t pid;
		unsigned restarts;
	} shown;
};

/* Writes the waiting report if the pipe takes it now. */
static void report_flush(struct monitor *mo)
{
	if (!mo->pending_len)
		return;
	ssize_t w = write(mo->status_fd, mo->pending, mo->pending_len);
	if (w < 0 && errno == EAGAIN)
		return;
	/* Below PIPE_BUF a write is whole or not at all; EPIPE is acted on once the
	 * machine has finished the event that wrote it, never from inside it. */
	if (w < 0 && errno == EPIPE)
		mo->parent_gone = true;
	mo->pending_len = 0;
}

/* The process title is written over the argument strings, which the monitor uses
 * only through copies (title_init()).  The environment stays where exec put it:
 * with hundreds of services it holds each one's socket variable, tens of kB that
 * a copy (as libbsd's setproctitle makes) would double in every monitor. */
static struct {
	char *start; /* argv[0] as exec placed it */
	size_t len;  /* the bytes up to the last contiguous argument's NUL */
	char *copies;
} title_area;

static void title_init(int argc, char **argv)
{
	if (argc < 1 || !argv[0])
		return;
	char *end = argv[0] + strlen(argv[0]);
	size_t total = strlen(argv[0]) + 1;
	bool contiguous = true;
	for (int i = 1; i < argc; i++) {
		contiguous = contiguous && argv[i] == end + 1;
		if (contiguous)
			end = argv[i] + strlen(argv[i]);
		total += strlen(argv[i]) + 1;
	}
	char *p = title_area.copies = malloc(total);
	if (!p)
		return; /* no title then */
	title_area.start = argv[0];
	title_area.len = (size_t)(end - argv[0]);
	for (int i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]) + 1;
		memcpy(p, argv[i], l);
		argv[i] = p;
		p += l;
	}
}

static void title_set(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	if (!title_area.start)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	size_t w = n < 0 ? 0 : (size_t)n < title_area.len ? (size_t)n : title_area.len;
	memcpy(title_area.start, buf, w);
	memset(title_area.start + w, 0, title_area.len + 1 - w);
}

static void title(struct monitor *mo)
{
	if (mo->shown.set && mo->shown.state == mo->m.state && mo->shown.pid == mo->m.pid &&
	    mo->shown.restarts == mo->m.restarts)
		return;
	mo->shown.set = true;
	mo->shown.state = mo->m.state;
	mo->shown.pid = mo->m.pid;
	mo->shown.restarts = mo->m.restarts;
	title_set("ron-monitor: %s %s pid=%d restarts=%u", mo->name, svc_state_name(mo->m.state),
		  (int)mo->m.pid, mo->m.restarts);
}

/* The turn's reports go out, or wait in place of any older ones still waiting: a
 * full pipe (a stalled kernel) must not stall the service's care. */
static void reports_flush(struct monitor *mo)
{
	if (!mo->outlen)
		return;
	report_flush(mo);
	memcpy(mo->pending, mo->out, mo->outlen);
	mo->pending_len = mo->outlen;
	mo->outlen = 0;
	report_flush(mo);
}

static void op_report(void *ctx, const struct report *r)
{
	struct monitor *mo = ctx;
	struct report full = *r;
	char line[REPORT_LINE_MAX];

	full.mpid = mo->self;
	full.ts = clock_wall_ms();
	if (mo->told_pid > 0 && full.pid != mo->told_pid)
		mo->drain_pid = mo->told_pid;
	mo->told_pid = full.pid;
	/* A passing check alone in its turn changes nothing the kernel must act on: it
	 * goes, unnumbered, where the kernel reads only on its status tick or before
	 * taking us for silent, and wakes no one.  A full pipe sends it the usual way. */
	if (mo->hb_fd >= 0 && full.event == EV_CHECK && full.ok && !mo->outlen &&
	    !mo->pending_len) {
		full.seq = 0;
		int n = report_encode(&full, line, sizeof(line));
		if (n > 0 && write(mo->hb_fd, line, (size_t)n) == n) {
			title(mo);
			return;
		}
	}
	full.seq = ++mo->seq;
	int n = report_encode(&full, line, sizeof(line));
	if (n < 0)
		return;
	if (mo->outlen + (size_t)n > sizeof(mo->out))
		reports_flush(mo);
	memcpy(mo->out + mo->outlen, line, (size_t)n);
	mo->outlen += (size_t)n;
	title(mo);
}

/* The leader is gone: what is left in its cgroup is killed, and the service is down
 * only once the cgroup is empty, so a restarted copy never meets the old one's
 * children.  Returns how many were left (0 in the fallback), -1 if some survived. */
static int cgroup_sweep(struct monitor *mo)
{
	if (mo->cg_fd < 0)
		return 0;
	int left = cgroup_pids(mo->cg_fd, NULL, 0);
	if (left <= 0)
		return 0;
	if (cgroup_kill(mo->cg_fd) < 0)
		fprintf(stderr, "ron-monitor: %s: cgroup.kill: %s\n", mo->name, strerror(errno));
	int efd = openat(mo->cg_fd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	int64_t deadline = clock_mono_us() + CGROUP_EMPTY_MS * 1000;
	int pop;
	/* Killed processes leave within milliseconds; POLLPRI says when. */
	while ((pop = cgroup_populated(mo->cg_fd)) > 0 && clock_mono_us() < deadline) {
		struct pollfd p = {efd, POLLPRI, 0};
		int64_t now = clock_mono_us();
		poll(&p, efd >= 0 ? 1 : 0,
		     clock_poll_timeout(clock_earliest(deadline, now + 50000), now));
	}
	if (efd >= 0)
		close(efd);
	return pop > 0 ? -1 : left;
}

static bool take_drained(struct monitor *mo);

/* The kernel reads a service's output from one pipe for all its spawns, and tells
 * whose a line is by the pid it was last told.  So the next process must not write
 * before the kernel has read the last one's output to the end: told the old pid is
 * gone, it reads the pipe dry, answers "drained PID" and leaves the pipe unread until
 * a report names the new pid.  Bounded: a kernel that does not answer in time
 * (a full status pipe) costs the attribution of a few lines, never the restart. */
static void output_drained_wait(struct monitor *mo)
{
	if (!mo->drain_pid || mo->cmd_fd < 0 || mo->spec.out_fd <= 2)
		return;
	reports_flush(mo); /* the exit and the decision after it, together as ever */
	int64_t deadline = clock_mono_us() + DRAIN_WAIT_MS * 1000;
	while (!take_drained(mo)) {
		struct pollfd p = {mo->cmd_fd, POLLIN, 0};
		int64_t now = clock_mono_us();
		if (now >= deadline || mo->cmd_len == sizeof(mo->cmd_buf) - 1)
			return;
		if (poll(&p, 1, clock_poll_timeout(deadline, now)) <= 0)
			continue;
		ssize_t n = read(mo->cmd_fd, mo->cmd_buf + mo->cmd_len,
				 sizeof(mo->cmd_buf) - 1 - mo->cmd_len);
		if (n <= 0 && !(n < 0 && (errno == EINTR || errno == EAGAIN)))
			return; /* the loop finds the end of the pipe */
		if (n > 0)
			mo->cmd_len += (size_t)n;
		mo->cmd_buf[mo->cmd_len] = '\0';
	}
}

static int op_spawn(void *ctx, pid_t *pid, unsigned long long *start, char *why, size_t whylen)
{
	struct monitor *mo = ctx;
	output_drained_wait(mo);
	/* The new copy must not meet what an old one left (a service lost with its
	 * monitor, a handed-over pid that was already gone). */
	int left = cgroup_sweep(mo);
	if (left != 0)
		fprintf(stderr, "ron-monitor: %s: %s left in its cgroup before the spawn\n",
			mo->name, left > 0 ? "killed the processes" : "processes survive a kill");
	/* Exec gets a health timeout: longer and the kernel could take us for frozen. */
	int rc = spawn_service(&mo->spec, (int)mo->cfg.health_timeout_ms, pid, &mo->pidfd, start,
			       why, whylen);
	if (rc < 0)
		return rc;
	mo->adopted = false;
	return 0;
}

static void op_signal(void *ctx, int sig)
{
	struct monitor *mo = ctx;
	if (mo->pidfd < 0)
		return;
	/* The group id is the leader's pid.  It cannot name another group while
	 * the leader is alive (the pidfd says so) or a zombie, nor while any member
	 * of the group lives.  One signal to the group reaches the leader too: a
	 * second one to the leader alone would be counted twice by a service that
	 * toggles on it (svc-sim's SIGUSR1). */
	if (proc_pidfd_signal(mo->pidfd, 0) < 0)
		return;
	/* With a cgroup, each of its processes once: the group's members and helpers
	 * that left the group (setsid, a double fork) alike. */
	if (mo->cg_fd >= 0 &&
	    (sig == SIGKILL ? cgroup_kill(mo->cg_fd) : cgroup_signal(mo->cg_fd, sig)) >= 0)
		return;
	if (mo->cg_fd >= 0)
		fprintf(stderr, "ron-monitor: %s: signal %s its cgroup: %s\n", mo->name,
			sig_name(sig), strerror(errno));
	if (kill(-mo->m.pid, sig) < 0 && errno == ESRCH)
		proc_pidfd_signal(mo->pidfd, sig); /* not a group leader after all */
}

static void op_probe(void *ctx)
{
	struct monitor *mo = ctx;
	if (mo->health_none) {
		/* Liveness only: the service is up while its pidfd says so, which the loop
		 * learns first; the verdict still goes through the machine as a check, so the
		 * kernel keeps hearing from us. */
		memset(&mo->probe, 0, sizeof(mo->probe));
		mo->probe.fd = -1;
		mo->probe.phase = HEALTH_DONE;
		mo->probe.result.ok = true;
		mo->probe.result.rtt_us = -1;
		return;
	}
	/* A routine check (machine.c, probe()) has until the next check's time; its
	 * reply is collected then, in the same wake-up. */
	bool routine = !mo->m.measured;
	int timeout_ms = (int)(routine ? mo->cfg.health_interval_ms : mo->cfg.health_timeout_ms);
	health_probe_start(&mo->probe, mo->sock, mo->health_service, ++mo->corr_id, timeout_ms,
			   mo->m.check_started_us);
	mo->collect = routine && mo->probe.phase == HEALTH_RECEIVING;
	/* A failure's reason quotes the timeout configured, whatever the deadline. */
	mo->probe.timeout_ms = (int)mo->cfg.health_timeout_ms;
	if (routine && !mo->collect && mo->probe.phase != HEALTH_DONE)
		/* Not even sent yet (a full backlog): watched like any other check. */
		mo->probe.deadline_us = mo->probe.start_us + mo->cfg.health_timeout_ms * 1000;
}

static void op_cancel_probe(void *ctx)
{
	struct monitor *mo = ctx;
	health_probe_cancel(&mo->probe);
	mo->collect = false;
	mo->probe.phase = HEALTH_IDLE;
}

static void op_finish(void *ctx)
{
	struct monitor *mo = ctx;
	mo->finished = true;
}

static void service_exited(struct monitor *mo, int64_t now)
{
	struct mon_event ev = {.kind = MEV_EXITED, .now_us = now, .code = -1};
	char why[128] = "";
	siginfo_t si;

	/* Sweep the rest of its group: a leftover grandchild would run beside
	 * the next copy.  Our own child is a zombie until reaped below, which
	 * keeps its pid from reuse as a group id.  An adopted one is the
	 * kernel's child, which may have reaped it already, freeing the id: the
	 * kernel sweeps that group itself, before it reaps the leader. */
	if (!mo->adopted)
		kill(-mo->m.pid, SIGKILL);
	if (mo->adopted) {
		snprintf(why, sizeof(why), "adopted service exited; the kernel reaps it");
	} else {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PIDFD, (id_t)mo->pidfd, &si, WEXITED) == 0) {
			if (si.si_code == CLD_EXITED)
				ev.code = si.si_status;
			else
				ev.signal = si.si_status;
		} else {
			snprintf(why, sizeof(why), "waitid: %s", strerror(errno));
		}
	}
	if (ev.signal)
		snprintf(why, sizeof(why), "killed by %s", sig_name(ev.signal));
	else if (ev.code >= 0)
		snprintf(why, sizeof(why), "exited with code %d", ev.code);
	int helpers = cgroup_sweep(mo);
	if (helpers > 0) {
		size_t len = strlen(why);
		snprintf(why + len, sizeof(why) - len, "%s%d helper process%s left running, killed",
			 len ? "; " : "", helpers, helpers == 1 ? "" : "es");
	} else if (helpers < 0) {
		size_t len = strlen(why);
		snprintf(why + len, sizeof(why) - len, "%sits cgroup did not empty",
			 len ? "; " : "");
	}
	ev.reason = why;
	close(mo->pidfd);
	mo->pidfd = -1;
	mon_handle(&mo->m, &ev);
}

/* Whether pid is a process of the service: in its cgroup, or in the fallback its
 * process group (the leader's pid). */
static bool svc_owns(const struct monitor *mo, pid_t pid)
{
	if (pid <= 0 || mo->m.pid <= 0)
		return false;
	if (pid == mo->m.pid)
		return true; /* the leader itself, alive or not yet reaped: our own */
	if (mo->cg_fd >= 0) {
		char path[CGROUP_PATH_MAX];
		return cgroup_of_pid(pid, path, sizeof(path)) == 0 && strcmp(path, mo->cg_rel) == 0;
	}
	return getpgid(pid) == mo->m.pid;
}

/* A passing answer from a process that is not the service's (a stray old copy, an
 * impostor on the socket path, another service sharing it) is a failed check. */
static void probe_peer_check(struct monitor *mo)
{
	struct health_result *r = &mo->probe.result;
	if (!r->ok || mo->health_none || svc_owns(mo, r->peer_pid))
		return;
	char comm[64] = "?";
	char buf[1024];
	if (r->peer_pid > 0 &&
	    proc_stat_fields(r->peer_pid, buf, sizeof(buf), comm, sizeof(comm)) == NULL)
		snprintf(comm, sizeof(comm), "gone");
	r->ok = false;
	if (r->peer_pid > 0)
		snprintf(r->reason, sizeof(r->reason),
			 "answered by pid %d (%s), not a process of %s", (int)r->peer_pid, comm,
			 mo->name);
	else
		snprintf(r->reason, sizeof(r->reason),
			 "answered by a process whose pid is unknown, not provably %s", mo->name);
}

static void probe_done(struct monitor *mo, int64_t now)
{
	probe_peer_check(mo);
	struct mon_event ev = {.now_us = now, .rtt_us = mo->probe.result.rtt_us};
	ev.kind = mo->probe.result.ok	   ? MEV_HEALTH_OK
		  : mo->probe.result.local ? MEV_CHECK_SKIPPED
					   : MEV_HEALTH_FAILED;
	ev.reason = mo->probe.result.reason;
	if (mo->collect && ev.kind == MEV_HEALTH_OK)
		ev.rtt_us = -1; /* collected late: when it came is not known */
	mo->collect = false;
	mo->probe.phase = HEALTH_IDLE;
	mon_handle(&mo->m, &ev);
}

static void on_signal(struct monitor *mo, int sfd, int64_t now)
{
	struct signalfd_siginfo si;
	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		struct mon_event ev = {.now_us = now};
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT: ev.kind = getppid() != mo->ppid ? MEV_PARENT_DIED : MEV_STOP; break;
		case SIGHUP: ev.kind = MEV_LIFT; break;
		default: continue;
		}
		mon_handle(&mo->m, &ev);
	}
}

static int setup_signals(struct monitor *mo)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (mo->standalone)
		sigaddset(&set, SIGINT);
	else
		signal(SIGINT, SIG_IGN); /* a terminal's Ctrl-C is the kernel's to handle */
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	/* The kernel starts us with its signals blocked, so that one sent before this
	 * point waits in the signalfd; from here on only ours stay blocked. */
	if (fd >= 0 && sigprocmask(SIG_SETMASK, &set, NULL) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* --cgroup: opened once; its path as /proc/PID/cgroup names it, for the check of
 * who answered. */
static int cgroup_open(struct monitor *mo, const char *path)
{
	char mnt[CGROUP_PATH_MAX] = "", why[256];
	mo->cg_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mo->cg_fd < 0) {
		fprintf(stderr, "ron-monitor: --cgroup %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t ml;
	if (cgroup_mount(mnt, sizeof(mnt), why, sizeof(why)) < 0 ||
	    strncmp(path, mnt, (ml = strlen(mnt))) != 0 || path[ml] != '/') {
		fprintf(stderr, "ron-monitor: --cgroup %s: not below the cgroup2 mount (%s)\n",
			path, mnt[0] ? mnt : why);
		return -1;
	}
	snprintf(mo->cg_rel, sizeof(mo->cg_rel), "%s", path + ml);
	mo->spec.cgroup_fd = mo->cg_fd;
	return 0;
}

/* "drained PID" (output_drained_wait()) taken out of the commands read so far, the
 * others left for the loop; true once the one owed has come. */
static bool take_drained(struct monitor *mo)
{
	char *line = mo->cmd_buf, *nl;
	while (mo->drain_pid &&
	       (nl = memchr(line, '\n', mo->cmd_len - (size_t)(line - mo->cmd_buf)))) {
		int p;
		if (sscanf(line, "drained %d", &p) != 1) {
			line = nl + 1;
			continue;
		}
		if (p == mo->drain_pid)
			mo->drain_pid = 0;
		size_t rest = mo->cmd_len - (size_t)(nl + 1 - mo->cmd_buf);
		memmove(line, nl + 1, rest + 1);
		mo->cmd_len -= (size_t)(nl + 1 - line);
	}
	return !mo->drain_pid;
}

/* One command line from the kernel: stop, start, restart, lift, signal N, drained PID. */
static void command(struct monitor *mo, const char *line, int64_t now)
{
	struct mon_event ev = {.now_us = now};
	int sig, pid;
	if (sscanf(line, "drained %d", &pid) == 1) {
		if (pid == mo->drain_pid)
			mo->drain_pid = 0;
		return;
	}
	if (strcmp(line, "stop") == 0)
		ev.kind = MEV_DOWN;
	else if (strcmp(line, "start") == 0)
		ev.kind = MEV_UP;
	else if (strcmp(line, "restart") == 0)
		ev.kind = MEV_RESTART;
	else if (strcmp(line, "lift") == 0)
		ev.kind = MEV_LIFT;
	else if (sscanf(line, "signal %d", &sig) == 1 && sig > 0 && sig < NSIG) {
		/* Only to a service of ours that is alive: op_signal checks its pidfd. */
		op_signal(mo, sig);
		return;
	} else {
		fprintf(stderr, "ron-monitor: %s: unknown command \"%.64s\" ignored\n", mo->name,
			line);
		return;
	}
	mon_handle(&mo->m, &ev);
}

/* The whole lines read so far, each taken out before it runs: a command that spawns
 * may read more (output_drained_wait()). */
static void commands_run(struct monitor *mo, int64_t now)
{
	char *nl, line[sizeof(mo->cmd_buf)];
	while ((nl = memchr(mo->cmd_buf, '\n', mo->cmd_len))) {
		size_t n = (size_t)(nl - mo->cmd_buf);
		memcpy(line, mo->cmd_buf, n);
		line[n] = '\0';
		mo->cmd_len -= n + 1;
		memmove(mo->cmd_buf, nl + 1, mo->cmd_len + 1);
		command(mo, line, now);
	}
}

static void on_commands(struct monitor *mo, int64_t now)
{
	commands_run(mo, now); /* left by output_drained_wait() */
	for (;;) {
		ssize_t n = read(mo->cmd_fd, mo->cmd_buf + mo->cmd_len,
				 sizeof(mo->cmd_buf) - 1 - mo->cmd_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			/* The kernel is gone or closed it: its death signal does the rest. */
			close(mo->cmd_fd);
			mo->cmd_fd = -1;
			return;
		}
		mo->cmd_len += (size_t)n;
		mo->cmd_buf[mo->cmd_len] = '\0';
		commands_run(mo, now);
		if (mo->cmd_len == sizeof(mo->cmd_buf) - 1)
			mo->cmd_len = 0; /* no command is that long: drop it */
	}
}

static void run(struct monitor *mo, int sfd)
{
	reports_flush(mo);
	while (!mo->finished) {
		struct pollfd pfd[5];
		int n = 0, ipid = -1, iprobe = -1, icmd = -1, ireport = -1;
		int64_t now = clock_mono_us();
		int64_t deadline = mon_deadline(&mo->m);
		bool probing = mo->probe.phase != HEALTH_IDLE && mo->probe.phase != HEALTH_DONE;

		pfd[n++] = (struct pollfd){sfd, POLLIN, 0};
		if (mo->cmd_fd >= 0) {
			icmd = n;
			pfd[n++] = (struct pollfd){mo->cmd_fd, POLLIN, 0};
		}
		if (mo->pidfd >= 0) {
			ipid = n;
			pfd[n++] = (struct pollfd){mo->pidfd, POLLIN, 0};
		}
		if (probing) {
			if (!mo->collect) {
				iprobe = n;
				pfd[n++] = (struct pollfd){health_probe_fd(&mo->probe),
							   health_probe_events(&mo->probe), 0};
			}
			deadline = clock_earliest(deadline, mo->probe.deadline_us);
		}
		if (mo->probe.phase == HEALTH_DONE)
			deadline = now;
		/* Commands read while a spawn waited for the kernel (output_drained_wait()). */
		if (mo->cmd_fd >= 0 && memchr(mo->cmd_buf, '\n', mo->cmd_len))
			deadline = now;
		if (mo->pending_len) {
			ireport = n;
			pfd[n++] = (struct pollfd){mo->status_fd, POLLOUT, 0};
		}
		if (poll(pfd, (nfds_t)n, clock_poll_timeout(deadline, now)) < 0 && errno != EINTR) {
			fprintf(stderr, "ron-monitor: %s: poll: %s\n", mo->name, strerror(errno));
			exit(EX_OSERR);
		}
		int64_t late = deadline < 0 ? 0 : clock_lateness(now, deadline, clock_mono_us());
		now = clock_mono_us();
		if (ireport >= 0 && pfd[ireport].revents)
			report_flush(mo);
		/* We were not running (SIGSTOP, a frozen cgroup): neither was the service, most
		 * likely.  Its deadlines move by the pause rather than fail it for ours. */
		if (late > mo->cfg.health_timeout_ms * 500) {
			mon_shift(&mo->m, late);
			if (probing)
				mo->probe.deadline_us += late;
		}
		if (pfd[0].revents)
			on_signal(mo, sfd, now);
		if (icmd >= 0 && pfd[icmd].revents && mo->cmd_fd >= 0)
			on_commands(mo, now);
		else if (mo->cmd_fd >= 0)
			commands_run(mo, now);
		/* The exit first: a check in flight against a dead service is moot. */
		if (ipid >= 0 && pfd[ipid].revents && mo->pidfd >= 0)
			service_exited(mo, now);
		if (iprobe >= 0 && mo->probe.phase != HEALTH_IDLE && mo->probe.phase != HEALTH_DONE)
			health_probe_advance(&mo->probe, pfd[iprobe].revents, now);
		/* A routine check's reply, read when the next check is due: there, or the
		 * check failed. */
		if (mo->collect && mo->probe.phase == HEALTH_RECEIVING &&
		    now >= mo->probe.deadline_us)
			health_probe_advance(&mo->probe, POLLIN, now);
		if (mo->probe.phase == HEALTH_DONE)
			probe_done(mo, now);
		mon_handle(&mo->m, &(struct mon_event){.kind = MEV_TIMER, .now_us = now});
		if (mo->probe.phase == HEALTH_DONE)
			probe_done(mo, now);
		reports_flush(mo);
		if (mo->parent_gone && !mo->m.exiting)
			mon_handle(&mo->m, &(struct mon_event){.kind = MEV_PARENT_DIED,
							       .now_us = clock_mono_us()});
	}
}

/* --handover: decoded, and checked against what only we can know (our name,
 * our clock).  A bad record is reported and then ignored: the caller falls
 * back to checking the service before calling it anything. */
static int handover_read(const struct monitor *mo, const char *text, int64_t now,
			 struct handover *h, char *why, size_t whylen)
{
	char err[REPORT_REASON_MAX - 40];
	int rc = handover_decode(text, strlen(text), h, err, sizeof(err));
	if (rc == 0 && strcmp(h->service, mo->name) != 0) {
		snprintf(err, sizeof(err), "field \"service\": %s, not %s", h->service, mo->name);
		rc = -1;
	}
	if (rc == 0 && h->mono_us > now) {
		snprintf(err, sizeof(err), "field \"mono_us\": %lld is in the future (now %lld)",
			 (long long)h->mono_us, (long long)now);
		rc = -1;
	}
	if (rc < 0) {
		snprintf(why, whylen, "bad hand-over record: %s", err);
		fprintf(stderr, "ron-monitor: %s: --handover: %s; not trusted\n", mo->name, err);
	}
	return rc;
}

/* The final report must reach a reader that was only slow: wait for it as long
 * as the kernel would wait for a silent monitor before calling it frozen. */
static void report_last(struct monitor *mo)
{
	reports_flush(mo);
	int64_t deadline =
	    clock_mono_us() + (3 * mo->cfg.health_interval_ms + mo->cfg.health_timeout_ms) * 1000;
	while (mo->pending_len && !mo->parent_gone) {
		struct pollfd p = {mo->status_fd, POLLOUT, 0};
		int64_t now = clock_mono_us();
		if (now >= deadline) {
			fprintf(stderr, "ron-monitor: %s: the final report was not read in time\n",
				mo->name);
			return;
		}
		if (poll(&p, 1, clock_poll_timeout(deadline, now)) < 0 && errno != EINTR)
			return;
		report_flush(mo);
	}
}

/* The service's output pipes, kept from the service's own exec only by it. */
/* A descriptor a flag names must be a pipe.  Past the standard three it is ours
 * alone and closed on exec (the service gets only what spawn gives it); one of the
 * three (--heartbeat-fd 1 beside the status on stdout) stays the service's too. */
static int pipe_fd_check(int fd, const char *flag, bool nonblock)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		fprintf(stderr, "ron-monitor: --%s %d: not a pipe\n", flag, fd);
		return -1;
	}
	if (fd > 2)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (nonblock)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return 0;
}

static int output_fds_check(struct monitor *mo)
{
	if (mo->spec.out_fd > 2 && pipe_fd_check(mo->spec.out_fd, "stdout-fd", false) < 0)
		return -1;
	if (mo->spec.err_fd > 2 && pipe_fd_check(mo->spec.err_fd, "stderr-fd", false) < 0)
		return -1;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: ron-monitor --name NAME [--bin PATH] [--arg ARG ...] [--env K=V ...]\n"
		   "                   [--sock PATH] [--sock-env VAR] [--health v1.health|none]\n"
		   "                   [--health-service NAME] [--user USER] [--group GROUP]\n"
		   "                   [--working-dir DIR] [--stop-signal SIG] [--status-fd N]\n"
		   "                   [--restarts N] [--quarantined MS] [--handover RECORD]\n"
		   "                   [--cgroup DIR]\n"
		   "                   [--adopt-pidfd FD --adopt-pid PID "
		   "--adopt-start TICKS]\n"
		   "                   [settings]\n\n"
		   "Supervises one service: spawns it, checks v1.health on its socket, restarts\n"
		   "it by policy, and writes one JSON status report per event to the status fd\n"
		   "(default 1).  SIGTERM stops the service and exits; SIGHUP lifts a\n"
		   "quarantine.\n\n"
		   "  --name NAME         service name, e.g. svc-index (required)\n"
		   "  --bin PATH          binary to run (default: NAME, looked up on PATH)\n"
		   "  --arg ARG           an argument for it (repeatable, in order)\n"
		   "  --env K=V           set in its environment (repeatable; wins over all)\n"
		   "  --sock PATH         its socket (default: $RON_<NAME>_SOCK, else "
		   "/tmp/ron/NAME.sock);\n"
		   "                      exported to the service in that variable\n"
		   "  --sock-env VAR      that variable (default RON_<NAME>_SOCK)\n"
		   "  --health KIND       v1.health (default) or none: liveness only\n"
		   "  --health-service S  the service field of the request (default: NAME\n"
		   "                      with its first '-' as '.', svc-index -> svc.index)\n"
		   "  --user USER         run it as USER with USER's groups (as root only)\n"
		   "  --group GROUP       and with this group\n"
		   "  --working-dir DIR   run it in DIR\n"
		   "  --stop-signal SIG   graceful stop signal (default TERM)\n"
		   "  --status-fd N       where reports go (default 1)\n"
		   "  --restarts N        restart count to continue from\n"
		   "  --quarantined MS    start quarantined, retrying after MS (a quarantine\n"
		   "                      taken over from a monitor that died)\n"
		   "  --adopt-pidfd FD, --adopt-pid PID, --adopt-start TICKS\n"
		   "                      take over a running service instead of spawning\n"
		   "  --down              start with the service down (not spawned)\n"
		   "  --command-fd N      read commands, one per line, from this pipe: stop,\n"
		   "                      start, restart, lift, signal N\n"
		   "  --heartbeat-fd N    write a passing check that changes nothing to this\n"
		   "                      pipe, unnumbered, instead of the status fd\n"
		   "  --stdout-fd N, --stderr-fd N\n"
		   "                      the service's stdout and stderr (pipes whose read\n"
		   "                      ends the kernel holds); default: ours\n"
		   "  --handover RECORD   continue from the state, deadlines and restart history\n"
		   "                      of a monitor that died (a JSON hand-over record)\n"
		   "  --cgroup DIR        the service's cgroup v2 directory: it starts there, is\n"
		   "                      down only when the cgroup is empty, and is stopped by\n"
		   "                      signalling every process in it\n\n"
		   "Settings (flag or environment variable):\n");
	config_usage(f, CFG_MONITOR);
	fprintf(f, "\nExit: 0 after the service was stopped as asked (SIGTERM, or the parent\n"
		   "died); 64 bad arguments; 71 a system call failed at start; 78 bad setting.\n");
}

/* The user and groups the service runs as, found once here so the child between
 * fork and exec makes no lookups. */
static int user_resolve(struct monitor *mo, const char *user, const char *group)
{
	if (!user && !group)
		return 0;
	if (geteuid() != 0) {
		fprintf(stderr, "ron-monitor: --%s %s: changing the user needs root\n",
			user ? "user" : "group", user ? user : group);
		return -1;
	}
	mo->spec.drop = true;
	mo->spec.uid = 0;
	mo->spec.gid = 0;
	mo->spec.groups = mo->groups;
	if (user) {
		errno = 0;
		struct passwd *pw = getpwnam(user);
		if (!pw) {
			fprintf(stderr, "ron-monitor: --user %s: %s\n", user,
				errno ? strerror(errno) : "no such user");
			return -1;
		}
		mo->spec.uid = pw->pw_uid;
		mo->spec.gid = pw->pw_gid;
		int n = NGROUPS_MAX;
		if (getgrouplist(user, pw->pw_gid, mo->groups, &n) < 0) {
			fprintf(stderr, "ron-monitor: --user %s: more than %d groups\n", user,
				NGROUPS_MAX);
			return -1;
		}
		mo->spec.ngroups = n;
	}
	if (group) {
		errno = 0;
		struct group *gr = getgrnam(group);
		if (!gr) {
			fprintf(stderr, "ron-monitor: --group %s: %s\n", group,
				errno ? strerror(errno) : "no such group");
			return -1;
		}
		mo->spec.gid = gr->gr_gid;
		if (!user) {
			mo->groups[0] = gr->gr_gid;
			mo->spec.ngroups = 1;
		}
	}
	return 0;
}

/* The jitter's seed.  Not libbsd's arc4random, which exits without a word when it cannot
 * map its state (a tight RLIMIT_AS); jitter only needs monitors not to move in step. */
static uint32_t jitter_seed(void)
{
	uint32_t seed;
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed))
		return seed;
	return (uint32_t)getpid() * 2654435761u ^ (uint32_t)clock_mono_us();
}

static long long number(const char *flag, const char *s, long long lo, long long hi)
{
	const char *err;
	long long v = strtonum(s, lo, hi, &err);
	if (err) {
		fprintf(stderr, "ron-monitor: --%s=%s: %s (accepted: %lld..%lld)\n", flag, s, err,
			lo, hi);
		exit(EX_USAGE);
	}
	return v;
}

int main(int argc, char **argv)
{
	static struct monitor mo;
	/* The settings table keeps a string buffer per setting, tens of kB; the monitor
	 * needs a few numbers from it, once.  Mapped for the start and unmapped after,
	 * it does not stay dirty on the stack for the monitor's whole life. */
	struct config *cfg =
	    mmap(NULL, sizeof(*cfg), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char err[CFG_ERR_MAX], envname[64], defsock[256];
	int adopt_fd = -1;
	pid_t adopt_pid = 0;
	unsigned long long adopt_start = 0;
	unsigned restarts = 0;
	bool adopt = false;
	long long quarantined_ms = -1;
	bool start_down = false;
	const char *handover_text = NULL;
	const char *cgroup_path = NULL;

	/* Before anything opens a file: a closed fd 1 or 2 would be taken by the status
	 * pipe's neighbours or the service's sockets, and our chatter would land there. */
	if (startup_stdio() < 0)
		return EX_OSERR;
	struct rlimit lim;
	(void)startup_nofile(&lim);
	title_init(argc, argv);
	mo.status_fd = 1;
	mo.pidfd = -1;
	mo.cmd_fd = -1;
	mo.hb_fd = -1;
	mo.cg_fd = -1;
	mo.spec.cgroup_fd = -1;
	if (cfg == MAP_FAILED) {
		fprintf(stderr, "ron-monitor: map the settings: %s\n", strerror(errno));
		return EX_OSERR;
	}
	if (config_load(cfg, CFG_MONITOR, &argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "ron-monitor: %s\n", err);
		return EX_CONFIG;
	}
	static const struct option opts[] = {
	    {"name", required_argument, 0, 'n'},
	    {"bin", required_argument, 0, 'b'},
	    {"sock", required_argument, 0, 's'},
	    {"status-fd", required_argument, 0, 'f'},
	    {"restarts", required_argument, 0, 'r'},
	    {"adopt-pidfd", required_argument, 0, 'A'},
	    {"adopt-pid", required_argument, 0, 'P'},
	    {"adopt-start", required_argument, 0, 'S'},
	    {"quarantined", required_argument, 0, 'Q'},
	    {"help", no_argument, 0, 'h'},
	    {"version", no_argument, 0, 'V'},
	    {"arg", required_argument, 0, 'a'},
	    {"env", required_argument, 0, 'e'},
	    {"sock-env", required_argument, 0, 'E'},
	    {"health", required_argument, 0, 'H'},
	    {"health-service", required_argument, 0, 'N'},
	    {"user", required_argument, 0, 'u'},
	    {"group", required_argument, 0, 'g'},
	    {"working-dir", required_argument, 0, 'w'},
	    {"stop-signal", required_argument, 0, 'k'},
	    {"command-fd", required_argument, 0, 'C'},
	    {"heartbeat-fd", required_argument, 0, 'B'},
	    {"stdout-fd", required_argument, 0, 'o'},
	    {"stderr-fd", required_argument, 0, 'q'},
	    {"down", no_argument, 0, 'D'},
	    {"handover", required_argument, 0, 'O'},
	    {"cgroup", required_argument, 0, 'G'},
	    {0, 0, 0, 0},
	};
	const char *user = NULL, *group = NULL, *sock_env = NULL, *health_service = NULL;
	/* static: still reachable when an error below returns early (LeakSanitizer) */
	static char **env;
	env = calloc((size_t)argc + 1, sizeof(*env));
	int nenv = 0;
	mo.argv = calloc((size_t)argc + 2, sizeof(*mo.argv));
	if (!env || !mo.argv) {
		fprintf(stderr, "ron-monitor: out of memory\n");
		return EX_OSERR;
	}
	mo.argc = 1;
	for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
		switch (c) {
		case 'n': mo.name = optarg; break;
		case 'b': mo.bin = optarg; break;
		case 's': mo.sock = optarg; break;
		case 'f': mo.status_fd = (int)number("status-fd", optarg, 1, 1 << 20); break;
		case 'r': restarts = (unsigned)number("restarts", optarg, 0, 1 << 30); break;
		case 'A':
			adopt_fd = (int)number("adopt-pidfd", optarg, 0, 1 << 20);
			adopt = true;
			break;
		case 'P': adopt_pid = (pid_t)number("adopt-pid", optarg, 1, 1 << 30); break;
		case 'S':
			adopt_start =
			    (unsigned long long)number("adopt-start", optarg, 0, LLONG_MAX);
			break;
		case 'Q': quarantined_ms = number("quarantined", optarg, 0, 86400000); break;
		case 'a': mo.argv[mo.argc++] = optarg; break;
		case 'e':
			if (!strchr(optarg, '=') || optarg[0] == '=') {
				fprintf(stderr, "ron-monitor: --env %s: not NAME=VALUE\n", optarg);
				return EX_USAGE;
			}
			env[nenv++] = optarg;
			break;
		case 'E': sock_env = optarg; break;
		case 'H':
			if (strcmp(optarg, "none") != 0 && strcmp(optarg, "v1.health") != 0) {
				fprintf(stderr,
					"ron-monitor: --health %s: not one of v1.health, none\n",
					optarg);
				return EX_USAGE;
			}
			mo.health_none = strcmp(optarg, "none") == 0;
			break;
		case 'N': health_service = optarg; break;
		case 'u': user = optarg; break;
		case 'g': group = optarg; break;
		case 'w': mo.spec.cwd = optarg; break;
		case 'C': mo.cmd_fd = (int)number("command-fd", optarg, 0, 1 << 20); break;
		case 'B': mo.hb_fd = (int)number("heartbeat-fd", optarg, 1, 1 << 20); break;
		case 'o': mo.spec.out_fd = (int)number("stdout-fd", optarg, 3, 1 << 20); break;
		case 'q': mo.spec.err_fd = (int)number("stderr-fd", optarg, 3, 1 << 20); break;
		case 'D': start_down = true; break;
		case 'k':
			mo.cfg.stop_signal = sig_parse(optarg);
			if (mo.cfg.stop_signal <= 0 || mo.cfg.stop_signal >= NSIG) {
				fprintf(stderr, "ron-monitor: --stop-signal %s: not a signal\n",
					optarg);
				return EX_USAGE;
			}
			break;
		case 'O': handover_text = optarg; break;
		case 'G': cgroup_path = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("ron-monitor %s\n", RON_VERSION); return 0;
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (optind < argc || !mo.name || !*mo.name) {
		fprintf(stderr, "ron-monitor: %s\n",
			optind < argc ? "unexpected argument" : "--name is required");
		usage(stderr);
		return EX_USAGE;
	}
	if (strlen(mo.name) >= REPORT_NAME_MAX) {
		fprintf(stderr, "ron-monitor: --name %s: longer than %d bytes\n", mo.name,
			REPORT_NAME_MAX - 1);
		return EX_USAGE;
	}
	if (adopt && (!adopt_pid || !adopt_start)) {
		fprintf(stderr, "ron-monitor: --adopt-pidfd needs --adopt-pid and --adopt-start\n");
		return EX_USAGE;
	}
	if (!mo.bin)
		mo.bin = mo.name;
	mo.argv[0] = (char *)mo.bin;
	mo.spec.bin = mo.bin;
	mo.spec.argv = mo.argv;
	if (sock_env)
		strlcpy(envname, sock_env, sizeof(envname));
	else
		svc_sock_env_name(mo.name, envname, sizeof(envname));
	if (!mo.sock && !mo.health_none) {
		snprintf(defsock, sizeof(defsock), "/tmp/ron/%s.sock", mo.name);
		mo.sock = getenv(envname) ? getenv(envname) : defsock;
	}
	if (mo.sock && strlen(mo.sock) > SOCKPATH_MAX) {
		fprintf(stderr,
			"ron-monitor: --sock %s: socket path too long: %zu bytes, max %zu\n",
			mo.sock, strlen(mo.sock), (size_t)SOCKPATH_MAX);
		return EX_CONFIG;
	}
	if (health_service)
		strlcpy(mo.health_service, health_service, sizeof(mo.health_service));
	else
		wire_service_name(mo.name, mo.health_service, sizeof(mo.health_service));
	/* The service finds its socket where the monitor will check it. */
	if (mo.sock && setenv(envname, mo.sock, 1) < 0) {
		fprintf(stderr, "ron-monitor: setenv %s: %s\n", envname, strerror(errno));
		return EX_OSERR;
	}
	/* The service's own variables last: they win over everything inherited. */
	for (int i = 0; i < nenv; i++)
		if (putenv(env[i]) != 0) {
			fprintf(stderr, "ron-monitor: --env %s: %s\n", env[i], strerror(errno));
			return EX_OSERR;
		}
	free(env);
	if (user_resolve(&mo, user, group) < 0)
		return EX_CONFIG;
	if (cgroup_path && cgroup_open(&mo, cgroup_path) < 0)
		return EX_CONFIG;
	struct stat st;
	if (fstat(mo.status_fd, &st) < 0) {
		fprintf(stderr, "ron-monitor: status fd %d: %s\n", mo.status_fd, strerror(errno));
		return EX_USAGE;
	}
	/* Non-blocking only on a descriptor the service does not share: the
	 * flag belongs to the open file, and stdout is the service's too. */
	if (S_ISFIFO(st.st_mode) && mo.status_fd > 2)
		fcntl(mo.status_fd, F_SETFL, fcntl(mo.status_fd, F_GETFL) | O_NONBLOCK);
	if (mo.status_fd > 2) /* stdout stays the service's too when reports go there */
		fcntl(mo.status_fd, F_SETFD, FD_CLOEXEC);
	mo.standalone = mo.status_fd == 1;

	mo.cfg = (struct mon_cfg){
	    .policy = {.backoff_min_ms = config_num(cfg, CFG_BACKOFF_MIN_MS),
		       .backoff_max_ms = config_num(cfg, CFG_BACKOFF_MAX_MS),
		       .stable_ms = config_num(cfg, CFG_STABLE_MS),
		       .window_ms = config_num(cfg, CFG_RESTART_WINDOW_MS),
		       .quarantine_ms = config_num(cfg, CFG_QUARANTINE_MS),
		       .cap = (unsigned)config_num(cfg, CFG_RESTART_CAP)},
	    .health_interval_ms = config_num(cfg, CFG_HEALTH_INTERVAL_MS),
	    .health_timeout_ms = config_num(cfg, CFG_HEALTH_TIMEOUT_MS),
	    .start_timeout_ms = config_num(cfg, CFG_START_TIMEOUT_MS),
	    .stop_timeout_ms = config_num(cfg, CFG_STOP_TIMEOUT_MS),
	    .health_failures = (unsigned)config_num(cfg, CFG_HEALTH_FAILURES),
	    .stop_signal = mo.cfg.stop_signal,
	};
	munmap(cfg, sizeof(*cfg));

	mo.ppid = getppid();
	mo.self = getpid();
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0) {
		fprintf(stderr, "ron-monitor: prctl PR_SET_PDEATHSIG: %s\n", strerror(errno));
		return EX_OSERR;
	}
	/* A parent that died before the prctl sent no signal. */
	bool orphaned = getppid() != mo.ppid;
	int sfd = setup_signals(&mo);
	if (sfd < 0) {
		fprintf(stderr, "ron-monitor: signalfd: %s\n", strerror(errno));
		return EX_OSERR;
	}

	struct mon_ops ops = {&mo,	 op_spawn, op_signal, op_probe, op_cancel_probe,
			      op_report, op_finish};
	mon_init(&mo.m, &mo.cfg, &ops, mo.name, restarts, jitter_seed());
	int64_t now = clock_mono_us();
	static struct handover rec;
	char recwhy[REPORT_REASON_MAX] = "no hand-over record";
	bool have_rec = handover_text &&
			handover_read(&mo, handover_text, now, &rec, recwhy, sizeof(recwhy)) == 0;
	if (adopt) {
		unsigned long long ticks;
		if (proc_pidfd_pid(adopt_fd) == adopt_pid &&
		    proc_start_ticks(adopt_pid, &ticks) == 0 && ticks == adopt_start &&
		    !proc_pidfd_exited(adopt_fd)) {
			fcntl(adopt_fd, F_SETFD, FD_CLOEXEC);
			mo.pidfd = adopt_fd;
			mo.adopted = true;
		} else {
			fprintf(stderr,
				"ron-monitor: %s: pid %d (start %llu) is gone or not the one "
				"handed over; starting a new one\n",
				mo.name, (int)adopt_pid, adopt_start);
			close(adopt_fd);
			adopt = false;
		}
	}
	/* Neither may block us: a full heartbeat pipe sends the report the usual way. */
	if ((mo.cmd_fd >= 0 && pipe_fd_check(mo.cmd_fd, "command-fd", true) < 0) ||
	    (mo.hb_fd >= 0 && pipe_fd_check(mo.hb_fd, "heartbeat-fd", true) < 0))
		return EX_USAGE;
	if (output_fds_check(&mo) < 0)
		return EX_USAGE;
	bool same = have_rec && rec.pid == adopt_pid && rec.start == adopt_start;
	if (adopt && have_rec && !same)
		snprintf(recwhy, sizeof(recwhy), "hand-over record is of pid %d (start %llu)",
			 (int)rec.pid, rec.start);
	if (adopt && same)
		mon_handle(&mo.m,
			   &(struct mon_event){.kind = MEV_RESUME, .now_us = now, .h = &rec});
	else if (adopt)
		mon_handle(&mo.m, &(struct mon_event){.kind = MEV_ADOPTED,
						      .now_us = now,
						      .pid = adopt_pid,
						      .start = adopt_start,
						      .age_ms = proc_age_ms(adopt_start),
						      .h = have_rec ? &rec : NULL,
						      .reason = recwhy});
	else if (start_down)
		mon_handle(&mo.m, &(struct mon_event){.kind = MEV_HELD_DOWN, .now_us = now});
	else if (have_rec)
		/* A service the record names but we were not handed has ended. */
		mon_handle(&mo.m, &(struct mon_event){.kind = MEV_RESUME,
						      .now_us = now,
						      .h = &rec,
						      .gone = handover_state_has_pid(rec.state)});
	else if (quarantined_ms >= 0)
		mon_handle(&mo.m, &(struct mon_event){.kind = MEV_QUARANTINED,
						      .now_us = now,
						      .age_ms = quarantined_ms});
	else
		mon_handle(&mo.m, &(struct mon_event){.kind = MEV_SPAWN, .now_us = now});
	if (orphaned)
		mon_handle(&mo.m, &(struct mon_event){.kind = MEV_PARENT_DIED, .now_us = now});
	title(&mo);
	run(&mo, sfd);
	report_last(&mo);
	return 0;
}
