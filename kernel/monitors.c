/* The monitor processes: start one per service (clone, then exec) with its status
 * pipe at fd 3, read their reports, reap them, and replace a lost or frozen one,
 * handing it the still-running service (pidfd + --adopt-*) so the service never
 * runs twice. */
#include <bsd/string.h>
#include <bsd/unistd.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "kernel.h"
#include "observe.h"
#include "proc.h"

/* Where the status pipe and the adopted pidfd sit in the monitor. */
#define MON_STATUS_FD	 3
#define MON_ADOPT_FD	 4
#define MON_COMMAND_FD	 6
#define MON_HEARTBEAT_FD 9
/* The stack a new monitor's process runs on between clone and exec. */
#define MON_CHILD_STACK (64 * 1024)

bool kernel_svc_alive(const struct kernel_svc *s)
{
	return s->pidfd >= 0 && !proc_pidfd_exited(s->pidfd);
}

/* A descriptor the monitor inherits, and where it finds it. */
struct mon_fd {
	int src, dst;
};

bool kernel_svc_untracked_child(const struct kernel_svc *s)
{
	return s->untracked && s->orphan_pid > 0 && s->orphan_pid == s->pid;
}

int kernel_svc_signal(struct kernel *k, struct kernel_svc *s, int sig)
{
	if (s->pidfd >= 0)
		return proc_signal_group(s->pidfd, s->pid, sig);
	/* Our own child until we reap it: its pid, and so its group id, cannot be reused. */
	if (!kernel_svc_untracked_child(s))
		return 0;
	if (kill(-s->pid, sig) < 0 && kill(s->pid, sig) < 0 && errno != ESRCH)
		return -1;
	return 0;
}

/* Tries again to obtain a pidfd soon, then ever more slowly. */
static void track_later(struct kernel *k, struct kernel_svc *s, int64_t now_us)
{
	unsigned n = s->track_streak < 8 ? s->track_streak++ : 8;
	int64_t ms = config_num(&k->cfg, CFG_BACKOFF_MIN_MS) << n;
	int64_t max = config_num(&k->cfg, CFG_BACKOFF_MAX_MS);
	s->track_at_us = clock_after_ms(now_us, ms < max ? ms : max);
	kernel_dl_note(k, s);
}

static void emit_untracked(struct kernel *k, struct kernel_svc *s, const char *why)
{
	struct kernel_field f[] = {KF_STR("service", s->name), KF_NUM("pid", s->pid),
				   KF_STR("reason", why)};
	kernel_emit(k, KL_ERROR, "untracked", f, 3);
}

/* In the child, before exec: the monitor could not be set up.  Said on stderr and, as a
 * report, on the status pipe, so the kernel's event line has the reason.  (The kernel is
 * single-threaded: what it does after fork cannot meet a lock held by another thread.) */
static void mon_setup_failed(const char *service, int wfd, const char *what)
{
	int e = errno;
	char reason[REPORT_REASON_MAX], line[REPORT_LINE_MAX];
	snprintf(reason, sizeof(reason), "monitor setup: %s: %s", what, strerror(e));
	dprintf(STDERR_FILENO, "ron-kernel: monitor of %s: %s\n", service, reason);
	struct report r;
	report_init(&r, service);
	r.event = EV_MONITOR_FAILED;
	r.state = ST_STOPPED;
	r.mpid = getpid();
	r.ts = clock_wall_ms();
	r.mono_us = clock_mono_us();
	strlcpy(r.reason, reason, sizeof(r.reason));
	int n = report_encode(&r, line, sizeof(line));
	if (n > 0)
		(void)!write(wfd, line, (size_t)n);
	_exit(KERNEL_EX_MONITOR_SETUP);
}

/* In the child until exec.  fds[0] is the status pipe: where a failure is told. */
static void mon_exec(const char *service, const char *bin, char *const argv[], struct mon_fd *fds,
		     int nfds, pid_t parent)
{
	/* A group of its own: a signal to the kernel's group (kill -- -PGID, a terminal's
	 * Ctrl-\\) reaches the kernel alone, and the monitor's death signal does its job. */
	if (setpgid(0, 0) < 0)
		mon_setup_failed(service, fds[0].src, "setpgid");
	/* A monitor must not outlive the kernel; getppid() closes the race with our death. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		mon_setup_failed(service, fds[0].src, "prctl PR_SET_PDEATHSIG");
	if (getppid() != parent)
		_exit(127);
	/* Out of the way first, so no dup2 into place can clobber another's source. */
	for (int i = 0; i < nfds; i++) {
		int moved = fcntl(fds[i].src, F_DUPFD_CLOEXEC, 10);
		if (moved < 0)
			mon_setup_failed(service, fds[0].src,
					 "move the inherited descriptors above fd 9");
		fds[i].src = moved;
	}
	int top = STDERR_FILENO;
	for (int i = 0; i < nfds; i++) {
		if (dup2(fds[i].src, fds[i].dst) < 0)
			mon_setup_failed(service, fds[0].src, "place the inherited descriptors");
		top = fds[i].dst > top ? fds[i].dst : top;
	}
	/* Our stdout carries only our own lines: monitor and service chatter goes to stderr. */
	if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
		mon_setup_failed(service, MON_STATUS_FD, "stdout onto stderr");
	for (int fd = STDERR_FILENO + 1; fd < top; fd++) {
		bool placed = false;
		for (int i = 0; i < nfds; i++)
			placed |= fds[i].dst == fd;
		if (!placed)
			close(fd);
	}
	/* closefrom only before Linux 5.9: it may allocate, in our parent's heap, which
	 * is consistent since the parent is single-threaded and waits for us. */
	if (close_range((unsigned)top + 1, ~0U, 0) < 0)
		closefrom(top + 1);
	/* The kernel's signals stay blocked across exec until the monitor has its own
	 * signalfd: a SIGHUP or the death SIGTERM in between waits instead of killing. */
	signal(SIGPIPE, SIG_DFL);
	execvp(bin, argv);
	mon_setup_failed(service, MON_STATUS_FD, "exec");
}

/* The monitor could not be started: an event, and the backoff of dying monitors. */
static int mon_spawn_failed(struct kernel *k, struct kernel_svc *s, const char *what,
			    int64_t now_us)
{
	char why[REPORT_REASON_MAX];
	snprintf(why, sizeof(why), "%s: %s", what, strerror(errno));
	int64_t min = config_num(&k->cfg, CFG_BACKOFF_MIN_MS);
	int64_t delay =
	    kernel_mon_restart_delay_ms(&s->mon_streak, 0, config_num(&k->cfg, CFG_STABLE_MS), min,
					config_num(&k->cfg, CFG_BACKOFF_MAX_MS));
	if (delay < min)
		delay = min;
	s->mon = KMON_WAITING;
	s->restart_at_us = clock_after_ms(now_us, delay);
	kernel_dl_note(k, s);
	k->dirty = true;
	struct kernel_field f[] = {KF_STR("service", s->name), KF_STR("reason", why),
				   KF_NUM("delay_ms", delay)};
	kernel_emit(k, KL_ERROR, "monitor_spawn_failed", f, 3);
	return -1;
}

/* "--arg=VALUE" in one word: a value that looks like one of the monitor's own
 * flags must never be taken for it. */
static char *joined(const char *flag, const char *value)
{
	char *s;
	return asprintf(&s, "--%s=%s", flag, value) < 0 ? NULL : s;
}

/* The monitor's words for the service's record: what to run and how, and the
 * settings this service has of its own (flags win over the exported variables).
 * Returns how many it added to argv, or -1; the strings live in bufs, in the record
 * or in *owned (to be freed). */
static int def_args(const struct svc_def *d, char **argv, char (*bufs)[48], char **owned)
{
	int n = 0, b = 0, o = 0;
	argv[n++] = "--bin";
	argv[n++] = d->bin;
	if (d->sock[0]) {
		argv[n++] = "--sock";
		argv[n++] = d->sock;
		argv[n++] = "--sock-env";
		argv[n++] = (char *)d->sock_env;
	}
	if (d->health == SVC_HEALTH_NONE) {
		argv[n++] = "--health";
		argv[n++] = "none";
	} else {
		argv[n++] = "--health-service";
		argv[n++] = (char *)d->health_service;
	}
	for (int i = 0; i < d->nargs; i++)
		if (!(argv[n++] = owned[o++] = joined("arg", d->args[i])))
			return -1;
	for (int i = 0; i < d->nenv; i++)
		if (!(argv[n++] = owned[o++] = joined("env", d->env[i])))
			return -1;
	if (d->user) {
		argv[n++] = "--user";
		argv[n++] = d->user;
	}
	if (d->group) {
		argv[n++] = "--group";
		argv[n++] = d->group;
	}
	if (d->working_dir) {
		argv[n++] = "--working-dir";
		argv[n++] = d->working_dir;
	}
	if (d->stop_signal != SIGTERM) {
		snprintf(bufs[b], sizeof(bufs[b]), "%d", d->stop_signal);
		argv[n++] = "--stop-signal";
		argv[n++] = bufs[b++];
	}
	for (int key = 0; key < CFG__COUNT; key++) {
		if (!d->set[key] || !(cfg_table[key].scope & CFG_MONITOR))
			continue;
		snprintf(bufs[b], sizeof(bufs[b]), "--%s=%lld", cfg_table[key].flag, d->num[key]);
		argv[n++] = bufs[b++];
	}
	return n;
}

/* Room for def_args: 2 per list entry, 2 per option, one per own setting. */
static size_t def_argc_max(const struct svc_def *d)
{
	return 2 * ((size_t)d->nargs + (size_t)d->nenv) + 2 * 12 + CFG__COUNT;
}

static void free_args(char **argv, char **owned)
{
	for (size_t i = 0; owned && owned[i]; i++)
		free(owned[i]);
	free(owned);
	free(argv);
}

static void mon_pipes_close(int p[2], int c[2], int hb[2])
{
	for (int i = 0; i < 2; i++) {
		if (p[i] >= 0)
			close(p[i]);
		if (c[i] >= 0)
			close(c[i]);
		if (hb[i] >= 0)
			close(hb[i]);
		p[i] = c[i] = hb[i] = -1;
	}
}

/* The monitor's command line and the strings it points into. */
struct mon_args {
	char **argv, **owned;
	int n;
	char restarts[16], apid[16], astart[32], afd[8], quarantine[24];
	char bufs[CFG__COUNT + 1][48];
	bool capture; /* the service's output comes to us through ofd and efd */
	int ofd, efd;
};

/* What the service's state asks of the new monitor: stay down, stay quarantined,
 * continue from a hand-over record, adopt the running service. */
static void mon_args_state(struct kernel *k, struct kernel_svc *s, bool adopt, int64_t now_us,
			   struct mon_args *a)
{
	char **argv = a->argv;
	/* A service stopped by hand stays down under its next monitor. */
	if (s->want_down && !adopt)
		argv[a->n++] = "--down";
	/* A new monitor must not start what its predecessor had given up on. */
	else if (s->state == ST_QUARANTINED && !adopt) {
		int64_t left = (s->quarantine_end_us - now_us) / 1000;
		snprintf(a->quarantine, sizeof(a->quarantine), "%lld",
			 (long long)(left > 0 ? left : 0));
		argv[a->n++] = "--quarantined";
		argv[a->n++] = a->quarantine;
	}
	/* The whole state goes along, so the new monitor continues rather than starts over. */
	static char record[HANDOVER_TEXT_MAX];
	static struct handover h;
	/* A service held down goes over with --down instead. */
	if (s->reported && s->state != ST_DOWN && s->state != ST_STOPPED) {
		kernel_handover_build(s, now_us, &h);
		if (handover_encode(&h, record, sizeof(record)) > 0) {
			argv[a->n++] = "--handover";
			argv[a->n++] = record;
		} else {
			warnx("%s: no hand-over record for the new monitor (state %s)", s->name,
			      svc_state_name(s->state));
		}
	}
	if (adopt) {
		snprintf(a->afd, sizeof(a->afd), "%d", MON_ADOPT_FD);
		snprintf(a->apid, sizeof(a->apid), "%d", (int)s->pid);
		snprintf(a->astart, sizeof(a->astart), "%llu", s->start);
		argv[a->n++] = "--adopt-pidfd";
		argv[a->n++] = a->afd;
		argv[a->n++] = "--adopt-pid";
		argv[a->n++] = a->apid;
		argv[a->n++] = "--adopt-start";
		argv[a->n++] = a->astart;
	}
}

/* The monitor's whole command line; -1 (said) if it could not be allocated. */
static int mon_args_build(struct kernel *k, struct kernel_svc *s, bool adopt, int64_t now_us,
			  struct mon_args *a)
{
	size_t max = def_argc_max(s->def) + 30;
	a->argv = calloc(max, sizeof(*a->argv));
	a->owned = calloc(max, sizeof(*a->owned));
	if (!a->argv || !a->owned)
		goto nomem;
	char **argv = a->argv;
	/* A service that died along with its monitor is restarted by the next one. */
	bool lost_service = !adopt && s->pid > 0;
	snprintf(a->restarts, sizeof(a->restarts), "%u", s->restarts + (lost_service ? 1u : 0u));
	a->n = 0;
	argv[a->n++] = k->monitor_bin;
	argv[a->n++] = "--name";
	argv[a->n++] = s->name;
	int nd = def_args(s->def, argv + a->n, a->bufs, a->owned);
	if (nd < 0)
		goto nomem;
	a->n += nd;
	const char *fixed[] = {"--status-fd",  "3", "--restarts",     a->restarts,
			       "--command-fd", "6", "--heartbeat-fd", "9"};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		argv[a->n++] = (char *)fixed[i];
	a->ofd = a->efd = -1;
	a->capture = kernel_svcout_fds(k, s, &a->ofd, &a->efd);
	if (a->capture) {
		argv[a->n++] = "--stdout-fd";
		argv[a->n++] = "7";
		argv[a->n++] = "--stderr-fd";
		argv[a->n++] = "8";
	}
	static char cgpath[CGROUP_PATH_MAX];
	if (kernel_contain_svc_path(k, s, cgpath, sizeof(cgpath)) == 0) {
		argv[a->n++] = "--cgroup";
		argv[a->n++] = cgpath;
	}
	mon_args_state(k, s, adopt, now_us, a);
	argv[a->n] = NULL;
	return 0;
nomem:
	warn("allocate the arguments of the monitor of %s", s->name);
	free_args(a->argv, a->owned);
	return -1;
}

/* The status, command and heartbeat pipes.  Only our ends are non-blocking: the
 * monitor's writes of < PIPE_BUF stay atomic, and a monitor too busy to read its
 * commands never stalls us.  (The monitor makes its heartbeat end non-blocking
 * itself.)  NULL, or what failed, with every pipe closed again. */
static const char *mon_pipes(int p[2], int c[2], int hb[2])
{
	const char *what = NULL;
	if (pipe2(p, O_CLOEXEC) < 0 || pipe2(c, O_CLOEXEC) < 0 || pipe2(hb, O_CLOEXEC) < 0)
		what = "status, heartbeat and command pipes";
	else if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(c[1], F_SETFL, O_NONBLOCK) < 0 ||
		 fcntl(hb[0], F_SETFL, O_NONBLOCK) < 0)
		what = "O_NONBLOCK on the pipes";
	if (what) {
		int e = errno;
		mon_pipes_close(p, c, hb);
		errno = e;
	}
	return what;
}

/* What the child needs until its exec. */
struct mon_child {
	const char *service, *bin;
	char **argv;
	struct mon_fd fds[6];
	int nfds;
	pid_t parent;
};

static int mon_child_main(void *arg)
{
	struct mon_child *c = arg;
	mon_exec(c->service, c->bin, c->argv, c->fds, c->nfds, c->parent);
	return 127; /* not reached: mon_exec execs or exits */
}

/* Like posix_spawn: the child runs on a stack of its own in our memory until its
 * exec, and we wait for that moment.  A fork would copy the kernel's page tables
 * and make every page either of us writes in between a copy: at hundreds of
 * services, and on a VM where page faults are dear, that was most of a start. */
static pid_t mon_clone(struct mon_child *c)
{
	static char stack[MON_CHILD_STACK] __attribute__((aligned(64)));
	return clone(mon_child_main, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, c);
}

/* The new monitor is ours: its pipes, its pidfd, its deadlines, its line. */
static void mon_track(struct kernel *k, struct kernel_svc *s, pid_t pid, const int p[2],
		      const int c[2], const int hb[2], bool adopt, int64_t now_us)
{
	/* Its own group is made in the child (mon_exec): with CLONE_VFORK it has run
	 * and exec'd before we get here, so a setpgid of ours could only fail. */
	close(p[1]);
	close(c[0]);
	close(hb[1]);
	s->cmdfd = c[1];
	s->hbfd = hb[0];
	kernel_hb_watch(k, s);
	kernel_lines_reset(&s->hblines);
	s->last_mono_us = 0;
	s->mpid = pid;
	/* Without it the monitor is still ours to signal by pid: our unreaped child. */
	s->mpidfd = pidfd_open(pid, 0);
	if (s->mpidfd < 0)
		warn("pidfd_open monitor %d of %s; signalling it by pid", (int)pid, s->name);
	if (proc_start_ticks(pid, &s->mstart) < 0)
		s->mstart = 0;
	s->pipefd = p[0];
	kernel_ev_watch(k, s, s->pipefd, KEV_STATUS);
	kernel_lines_reset(&s->lines);
	s->last_seq = 0;
	s->mon = KMON_RUNNING;
	s->mon_started_us = s->last_report_us = now_us;
	s->restart_at_us = -1;
	s->mon_frozen = false;
	kernel_dl_note(k, s);

	struct kernel_field f[4];
	int nf = 0;
	f[nf++] = KF_STR("service", s->name);
	f[nf++] = KF_NUM("mpid", pid);
	if (adopt)
		f[nf++] = KF_NUM("adopt_pid", s->pid);
	kernel_emit(k, KL_INFO, "monitor_started", f, nf);
	k->dirty = true;
}

int kernel_mon_start(struct kernel *k, struct kernel_svc *s, int64_t now_us)
{
	bool adopt = kernel_svc_alive(s);
	struct mon_args a;
	if (mon_args_build(k, s, adopt, now_us, &a) < 0)
		return -1;
	int p[2] = {-1, -1}, c[2] = {-1, -1}, hb[2] = {-1, -1};
	const char *what = mon_pipes(p, c, hb);
	if (what) {
		free_args(a.argv, a.owned);
		return mon_spawn_failed(k, s, what, now_us);
	}
	struct mon_child child = {
	    .service = s->name,
	    .bin = k->monitor_bin,
	    .argv = a.argv,
	    .fds = {{p[1], MON_STATUS_FD}, {c[0], MON_COMMAND_FD}, {hb[1], MON_HEARTBEAT_FD}},
	    .nfds = 3,
	    .parent = k->pid,
	};
	if (adopt)
		child.fds[child.nfds++] = (struct mon_fd){s->pidfd, MON_ADOPT_FD};
	if (a.capture) {
		child.fds[child.nfds++] = (struct mon_fd){a.ofd, MON_STDOUT_FD};
		child.fds[child.nfds++] = (struct mon_fd){a.efd, MON_STDERR_FD};
	}
	pid_t pid = mon_clone(&child);
	int e = errno;
	free_args(a.argv, a.owned);
	if (pid < 0) {
		mon_pipes_close(p, c, hb);
		errno = e;
		return mon_spawn_failed(k, s, "fork", now_us);
	}
	mon_track(k, s, pid, p, c, hb, adopt, now_us);
	return 0;
}

/* Opens a pidfd for the service the monitor names, checked against its start time,
 * so that adoption can never be handed a recycled pid. */
static void svc_verify(struct kernel *k, struct kernel_svc *s, int64_t now_us)
{
	if (s->pidfd >= 0) {
		close(s->pidfd);
		s->pidfd = -1;
	}
	bool was_untracked = s->untracked;
	s->untracked = false;
	if (s->pid <= 0) {
		s->track_streak = 0;
		return;
	}
	s->pidfd = proc_pidfd_verified(s->pid, s->start);
	if (s->pidfd >= 0) {
		s->track_streak = 0;
		if (was_untracked) {
			struct kernel_field f[] = {KF_STR("service", s->name),
						   KF_NUM("pid", s->pid)};
			kernel_emit(k, KL_INFO, "tracked", f, 2);
		}
		return;
	}
	if (proc_errno_local(errno)) {
		/* It may well be alive: we just cannot hold it.  Until we can, its monitor
		 * must not be replaced by one that would spawn a second copy. */
		char why[128];
		snprintf(why, sizeof(why), "pidfd_open: %s", strerror(errno));
		s->untracked = true;
		track_later(k, s, now_us);
		if (!was_untracked)
			emit_untracked(k, s, why);
		return;
	}
	s->track_streak = 0;
	unsigned long long ticks;
	/* Gone already is normal (a crash loop); alive with another start time is not. */
	if (proc_start_ticks(s->pid, &ticks) == 0 && ticks != s->start) {
		char why[128];
		snprintf(why, sizeof(why), "start time %llu, reported %llu", ticks, s->start);
		struct kernel_field f[] = {KF_STR("service", s->name), KF_NUM("pid", s->pid),
					   KF_STR("reason", why)};
		kernel_emit(k, KL_WARN, "verify_failed", f, 3);
	}
}

/* Its process is gone: what it wrote is read, its partial last line flushed, and its
 * monitor, which spawns the next one only then (or after a short wait), is told.  A
 * service's spawns share its pipes: so no line of the next process is ever read
 * under this one's pid, and until a report names the next pid its lines wait in the
 * pipe (kernel_svcout_sync()). */
static void svc_output_ended(struct kernel *k, struct kernel_svc *s)
{
	char cmd[32], why[128];
	kernel_svcout_exited(k, s);
	if (!s->out)
		return;
	snprintf(cmd, sizeof(cmd), "drained %d", (int)s->pid);
	/* Unsaid, it costs the monitor its short wait, no more. */
	(void)kernel_svc_command(k, s, cmd, why, sizeof(why));
}

struct line_ctx {
	struct kernel *k;
	struct kernel_svc *s;
	int64_t now_us;
	bool heartbeat; /* from the heartbeat pipe */
};

static void on_line(void *arg, const char *line, size_t len, bool overlong)
{
	struct line_ctx *c = arg;
	struct kernel *k = c->k;
	struct kernel_svc *s = c->s;
	if (overlong) {
		warnx("monitor %d of %s: report longer than %zu bytes skipped", (int)s->mpid,
		      s->name, (size_t)KERNEL_LINES_CAP);
		return;
	}
	struct report r;
	char why[256];
	/* Any whole line is a sign of life, even one we cannot afford to parse. */
	s->last_report_us = clock_mono_us();
	if (report_decode(line, len, &r, why, sizeof(why)) < 0) {
		if (errno == ENOMEM)
			kernel_nomem(k, "monitor reports");
		else
			warnx("monitor %d of %s: malformed report skipped: %s", (int)s->mpid,
			      s->name, why);
		return;
	}
	if (strcmp(r.service, s->name) != 0) {
		warnx("monitor %d of %s: report for %s skipped", (int)s->mpid, s->name, r.service);
		return;
	}
	/* A heartbeat is read late, maybe after reports the monitor wrote later: if one of
	 * those was applied, it only adds the checks it counts. */
	if (c->heartbeat && (r.event != EV_CHECK || r.mono_us <= s->last_mono_us)) {
		if (r.event == EV_CHECK)
			kernel_obs_report(k, s, &r);
		return;
	}
	s->last_mono_us = r.mono_us;
	char out[KERNEL_LINE_MAX];
	if (r.event == EV_MONITOR_FAILED) {
		/* Said by a monitor that never ran: nothing about the service has changed, and
		 * its pid must stay ours to hand to the next one. */
		s->mon_degraded = true;
		if (kernel_fmt_report(k->json, clock_wall_ms(), &r, out, sizeof(out)) > 0)
			fputs(out, stdout);
		return;
	}
	/* Stamped when read, not when poll returned: a stall in writing our own
	 * output must not make every monitor look silent. */
	s->last_report_us = clock_mono_us();
	/* The monitor keeps only its latest report while its pipe is full: a jump in
	 * the numbers is what was replaced, the state itself is not lost. */
	if (r.seq && s->last_seq && r.seq > s->last_seq + 1) {
		struct kernel_field f[] = {KF_STR("service", s->name), KF_NUM("mpid", s->mpid),
					   KF_NUM("missed", r.seq - s->last_seq - 1),
					   KF_STR("reason", "status pipe was full")};
		kernel_emit(k, KL_WARN, "reports_missed", f, 4);
	}
	if (r.seq)
		s->last_seq = r.seq;
	if (s->pid > 0 && r.pid != s->pid)
		svc_output_ended(k, s);
	unsigned ch = kernel_svc_apply(s, &r, c->now_us);
	kernel_obs_report(k, s, &r);
	if (ch & KCH_PID)
		svc_verify(k, s, c->now_us);
	/* The monitor's own trouble lasts until it checks or spawns again. */
	if (r.event == EV_CHECK_SKIPPED || r.event == EV_SPAWN_DEFERRED ||
	    r.event == EV_MONITOR_FAILED)
		s->mon_degraded = true;
	else if (r.event == EV_CHECK || r.event == EV_SPAWNED || r.event == EV_READY)
		s->mon_degraded = false;
	kernel_svcout_sync(k, s);
	/* A new pid may bring a deadline to track it by. */
	kernel_dl_note(k, s);
	/* Stamped when printed, so the lines of all monitors read in order. */
	kernel_out_line(k, KOUT_EVENT, out,
			kernel_fmt_report(k->json, clock_wall_ms(), &r, out, sizeof(out)));
	/* A passing check changes nothing status.json needs before the next tick. */
	if (ch || r.event != EV_CHECK || !r.ok)
		k->dirty = true;
	if (ch & (KCH_FIRST_HEALTHY | KCH_STATE))
		k->release_due = true;
	if ((ch & KCH_FIRST_HEALTHY) && !k->ready_sent &&
	    kernel_all_ever_healthy(k->svc, k->nsvc)) {
		k->ready_sent = true;
		kernel_emit(k, KL_INFO, "all_ready", NULL, 0);
		if (kernel_notify_send(&k->notify, "READY=1") < 0)
			warn("sd_notify READY=1");
	}
}

/* Reads one of a monitor's pipes until it would block: the status pipe (in the epoll
 * set) or the heartbeat pipe (heartbeat, read when we choose).  At EOF or an error
 * the pipe is closed; silence will catch a monitor that lives on mute. */
static void pipe_read(struct kernel *k, struct kernel_svc *s, int64_t now_us, bool heartbeat)
{
	int *fd = heartbeat ? &s->hbfd : &s->pipefd;
	struct kernel_lines *lines = heartbeat ? &s->hblines : &s->lines;
	struct line_ctx c = {k, s, now_us, heartbeat};
	char buf[4096];
	while (*fd >= 0) {
		ssize_t n = read(*fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			if (n < 0)
				warn("read the %s pipe of %s", heartbeat ? "heartbeat" : "status",
				     s->name);
			if (!heartbeat)
				kernel_ev_unwatch(k, *fd);
			close(*fd);
			*fd = -1;
			return;
		}
		kernel_lines_feed(lines, buf, (size_t)n, on_line, &c);
	}
}

void kernel_mon_read(struct kernel *k, struct kernel_svc *s, int64_t now_us)
{
	pipe_read(k, s, now_us, false);
}

static void heartbeats_read(struct kernel *k, struct kernel_svc *s, int64_t now_us)
{
	pipe_read(k, s, now_us, true);
}

void kernel_mon_heartbeats(struct kernel *k, struct kernel_svc *s, int64_t now_us)
{
	if (s) {
		heartbeats_read(k, s, now_us);
		return;
	}
	/* Only the pipes with something in them: one call, however many services. */
	int idx[64], n = 0;
	bool all = k->hb_epfd < 0;
	while (!all && (n = kernel_hb_ready(k, idx, 64)) > 0) {
		for (int i = 0; i < n; i++)
			if (idx[i] >= 0 && idx[i] < k->nsvc)
				heartbeats_read(k, &k->svc[idx[i]], now_us);
		if (n < 64)
			break;
	}
	if (all || n < 0)
		for (int i = 0; i < k->nsvc; i++)
			heartbeats_read(k, &k->svc[i], now_us);
}

/* Whether an untracked service is still the process reported, now reparented to us;
 * when /proc cannot tell (out of descriptors too), it must be taken to be alive. */
static bool svc_untracked_alive(struct kernel *k, struct kernel_svc *s)
{
	pid_t ppid;
	unsigned long long ticks;
	if (proc_parent(s->pid, &ppid) < 0 || proc_start_ticks(s->pid, &ticks) < 0)
		return proc_errno_local(errno);
	return ppid == k->pid && ticks == s->start;
}

/* A monitor is gone: replace it now, or after a delay if monitors keep dying young. */
static void mon_lost(struct kernel *k, struct kernel_svc *s, int wstatus, int64_t now_us)
{
	heartbeats_read(k, s, now_us);
	if (s->hbfd >= 0) {
		close(s->hbfd);
		s->hbfd = -1;
	}
	kernel_mon_read(k, s, now_us);
	if (s->pipefd >= 0) {
		kernel_ev_unwatch(k, s->pipefd);
		close(s->pipefd);
		s->pipefd = -1;
	}
	if (s->mpidfd >= 0)
		close(s->mpidfd);
	s->mpidfd = -1;
	if (s->cmdfd >= 0)
		close(s->cmdfd);
	s->cmdfd = -1;
	pid_t mpid = s->mpid;
	s->mpid = 0;
	s->mon = KMON_DOWN;
	k->dirty = true;
	/* Removed or changed by a reload: its end was asked for. */
	if (!k->stopping && kernel_reload_reaped(k, s, now_us))
		return;

	struct kernel_field f[6];
	char sig[32];
	int nf = 0;
	f[nf++] = KF_STR("service", s->name);
	f[nf++] = KF_NUM("mpid", mpid);
	nf += kernel_wait_fields(wstatus, &f[nf], sig, sizeof(sig));
	/* A service we could not open a pidfd for is now our child, unreaped: by its pid
	 * it is provably the one reported, and ours to hold until it can be tracked. */
	if (s->untracked && s->pid > 0 && svc_untracked_alive(k, s))
		s->orphan_pid = s->pid;
	bool alive = kernel_svc_alive(s) || kernel_svc_untracked_child(s);
	f[nf++] = KF_NUM("pid", alive ? s->pid : 0);
	if (alive)
		s->orphan_pid = s->pid;
	if (k->stopping) {
		kernel_emit(k, KL_INFO, "monitor_exited", f, nf);
		/* Its service outlived it: now it is ours to stop. */
		if (alive && kernel_svc_signal(k, s, SIGTERM) < 0)
			warn("SIGTERM %s pid %d", s->name, (int)s->pid);
		return;
	}
	kernel_emit(k, KL_WARN, "monitor_lost", f, nf);
	if (kernel_svc_untracked_child(s)) {
		/* No identity, no replacement: a new monitor could only spawn a second copy. */
		emit_untracked(k, s,
			       "monitor lost; no replacement until the service can be "
			       "tracked or has exited");
		s->mon = KMON_WAITING;
		s->restart_at_us = s->track_at_us;
		kernel_dl_note(k, s);
		return;
	}
	int64_t lived_ms = (now_us - s->mon_started_us) / 1000;
	int64_t delay = kernel_mon_restart_delay_ms(
	    &s->mon_streak, lived_ms, config_num(&k->cfg, CFG_STABLE_MS),
	    config_num(&k->cfg, CFG_BACKOFF_MIN_MS), config_num(&k->cfg, CFG_BACKOFF_MAX_MS));
	s->mon_replaced++;
	kernel_obs_mon_lost(k, s);
	/* Not adopting: whatever the lost monitor may have spawned unreported must go,
	 * and in cgroup mode everything its service left, wherever it was reparented. */
	if (!alive) {
		kernel_contain_signal(k, s, SIGKILL);
		kernel_orphans_kill(k);
	}
	if (delay == 0) {
		kernel_mon_start(k, s, now_us); /* a failure schedules its own retry */
		return;
	}
	s->mon = KMON_WAITING;
	s->restart_at_us = clock_after_ms(now_us, delay);
	kernel_dl_note(k, s);
	struct kernel_field g[] = {KF_STR("service", s->name), KF_NUM("delay_ms", delay)};
	kernel_emit(k, KL_WARN, "monitor_restarting", g, 2);
}

/* A monitor, a service or ron-httpd of ours: not a stray. */
static bool known_child(const struct kernel *k, pid_t pid)
{
	if (k->obs && k->obs->hpid == pid)
		return true;
	for (int i = 0; i < k->nsvc; i++)
		if (k->svc[i].mpid == pid || k->svc[i].pid == pid || k->svc[i].orphan_pid == pid)
			return true;
	return false;
}

static struct kernel_svc *stray_owner(struct kernel *k, pid_t pid)
{
	const struct kernel_svc *s = kernel_contain_owner(k, pid);
	return s ? &k->svc[s - k->svc] : NULL;
}

/* A stray a service left (a double fork's middle child, say) is reported as that
 * service's, within its output budget, so one service cannot flood everyone's
 * events; what is held back is counted on the next line.  A stray of no service
 * shares one budget with the others like it. */
static void stray_reaped(struct kernel *k, pid_t pid, int wstatus, struct kernel_svc *owner,
			 int64_t now_us)
{
	struct kernel_field f[5];
	char sig[32];
	int nf = 0;
	unsigned long long *held = owner ? &owner->strays_held : &k->strays_held;
	if (owner)
		owner->procs_stale = true; /* one fewer in its cgroup */
	bool ok = owner ? kernel_svcout_take(k, owner, now_us)
			: svc_rate_take(&k->stray_rate, config_num(&k->cfg, CFG_OUTPUT_RATE),
					config_num(&k->cfg, CFG_OUTPUT_BURST), now_us);
	if (!ok) {
		(*held)++;
		return;
	}
	if (owner)
		f[nf++] = KF_STR("service", owner->name);
	f[nf++] = KF_NUM("pid", pid);
	nf += kernel_wait_fields(wstatus, &f[nf], sig, sizeof(sig));
	if (*held)
		f[nf++] = KF_NUM("held_back", (long long)*held);
	*held = 0;
	kernel_emit(k, k->stopping ? KL_INFO : KL_WARN, "reaped", f, nf);
}

static void reaped(struct kernel *k, pid_t pid, int wstatus, struct kernel_svc *owner,
		   int64_t now_us)
{
	if (kernel_obs_reaped(k, pid, wstatus, now_us))
		return;
	for (int i = 0; i < k->nsvc; i++) {
		struct kernel_svc *s = &k->svc[i];
		if (s->mon == KMON_RUNNING && s->mpid == pid) {
			mon_lost(k, s, wstatus, now_us);
			return;
		}
	}
	struct kernel_field f[4];
	char sig[32];
	int nf = 0;
	if (!known_child(k, pid)) {
		stray_reaped(k, pid, wstatus, owner, now_us);
		return;
	}
	for (int i = 0; i < k->nsvc; i++) {
		struct kernel_svc *s = &k->svc[i];
		if (s->orphan_pid != pid && s->pid != pid)
			continue;
		/* An adopted service, reparented to us: its exit status is only ours to see. */
		if (s->pid == pid && s->pidfd >= 0) {
			close(s->pidfd);
			s->pidfd = -1;
		}
		s->orphan_pid = 0;
		if (s->pid == pid && s->untracked) {
			/* Gone: nothing left that a new monitor could duplicate. */
			s->untracked = false;
			s->track_streak = 0;
			if (s->mon == KMON_WAITING)
				s->restart_at_us = now_us;
			kernel_dl_note(k, s);
		}
		f[nf++] = KF_STR("service", s->name);
		break;
	}
	f[nf++] = KF_NUM("pid", pid);
	nf += kernel_wait_fields(wstatus, &f[nf], sig, sizeof(sig));
	kernel_emit(k, k->stopping ? KL_INFO : KL_WARN, "reaped", f, nf);
}

/* A service that outlived its monitor leads its own process group: sweep the group
 * while its zombie, not yet reaped, keeps that group id from naming anyone else. */
void kernel_reap(struct kernel *k, int64_t now_us)
{
	for (;;) {
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
			if (errno == EINTR)
				continue;
			if (errno != ECHILD)
				warn("waitid");
			return;
		}
		pid_t pid = si.si_pid;
		if (pid <= 0)
			return;
		for (int i = 0; i < k->nsvc; i++)
			if (k->svc[i].orphan_pid == pid)
				kill(-pid, SIGKILL);
		/* Whose stray it is, read while its zombie still says. */
		struct kernel_svc *owner = known_child(k, pid) ? NULL : stray_owner(k, pid);
		int st;
		pid_t got;
		do
			got = waitpid(pid, &st, WNOHANG);
		while (got < 0 && errno == EINTR);
		if (got <= 0) {
			warn("waitpid %d", (int)pid);
			return;
		}
		reaped(k, pid, st, owner, now_us);
	}
}

/* One service whose deadline has come: a held start, a monitor to replace, or a
 * monitor silent too long. */
static void mon_timer(struct kernel *k, struct kernel_svc *s, int64_t now_us)
{
	int64_t hi = svc_num(s->def, &k->cfg, CFG_HEALTH_INTERVAL_MS);
	int64_t ht = svc_num(s->def, &k->cfg, CFG_HEALTH_TIMEOUT_MS);
	if (s->mon == KMON_HELD && now_us >= s->held_until_us)
		k->release_due = true;
	if (s->untracked && now_us >= s->track_at_us)
		svc_verify(k, s, now_us);
	if (s->mon == KMON_WAITING && !k->stopping && now_us >= s->restart_at_us) {
		if (kernel_svc_untracked_child(s)) {
			s->restart_at_us = s->track_at_us;
			return;
		}
		kernel_mon_start(k, s, now_us); /* a failure schedules its own retry */
		return;
	}
	if (s->mon != KMON_RUNNING || s->mon_frozen || k->stopping)
		return;
	if (!kernel_mon_silent(s->last_report_us, now_us, hi, ht))
		return;
	/* What it wrote while we were busy elsewhere counts, its heartbeats first. */
	heartbeats_read(k, s, now_us);
	kernel_mon_read(k, s, now_us);
	if (!kernel_mon_silent(s->last_report_us, clock_mono_us(), hi, ht))
		return;
	struct kernel_field f[] = {KF_STR("service", s->name), KF_NUM("mpid", s->mpid),
				   KF_NUM("silent_ms", (now_us - s->last_report_us) / 1000)};
	kernel_emit(k, KL_WARN, "monitor_frozen", f, 3);
	/* SIGKILL works on a stopped process too; the reap then replaces it. */
	if (s->mpidfd >= 0 ? proc_pidfd_signal(s->mpidfd, SIGKILL) < 0 : kill(s->mpid, SIGKILL) < 0)
		warn("SIGKILL monitor %d of %s", (int)s->mpid, s->name);
	s->mon_frozen = true;
}

void kernel_mon_timers(struct kernel *k, int64_t now_us)
{
	int i;
	while ((i = kernel_dl_due(k, now_us)) >= 0) {
		struct kernel_svc *s = &k->svc[i];
		mon_timer(k, s, now_us);
		/* A held service due now is started by kernel_mon_release this turn. */
		if (kernel_mon_deadline_of(k, s) > now_us)
			kernel_dl_note(k, s);
	}
}

void kernel_mon_paused(struct kernel *k, int64_t late_us, int64_t now_us)
{
	struct kernel_field f[] = {KF_NUM("ms", late_us / 1000),
				   KF_STR("reason", "the kernel was not running; every monitor "
						    "gets a fresh silence window")};
	kernel_emit(k, KL_WARN, "paused", f, 2);
	for (int i = 0; i < k->nsvc; i++) {
		struct kernel_svc *s = &k->svc[i];
		if (s->mon == KMON_RUNNING && s->last_report_us < now_us)
			s->last_report_us = now_us;
	}
}

int64_t kernel_mon_deadline_of(const struct kernel *k, const struct kernel_svc *s)
{
	/* A service to be tracked again is looked at while stopping too. */
	int64_t d = s->untracked ? s->track_at_us : -1, t = -1;
	if (k->stopping)
		return d;
	if (s->mon == KMON_HELD)
		t = s->held_until_us;
	else if (s->mon == KMON_WAITING)
		t = s->restart_at_us;
	else if (s->mon == KMON_RUNNING && !s->mon_frozen) {
		int64_t hi = svc_num(s->def, &k->cfg, CFG_HEALTH_INTERVAL_MS);
		int64_t ht = svc_num(s->def, &k->cfg, CFG_HEALTH_TIMEOUT_MS);
		t = s->last_report_us + kernel_mon_silence_limit_us(hi, ht) + 1000;
	}
	return clock_earliest(d, t);
}

int64_t kernel_mon_deadline(struct kernel *k)
{
	return kernel_dl_next(k);
}

/* Why a held service may start now: NULL while it must wait.  A dependency that is
 * quarantined or not ready within the start timeout must not wedge the whole set. */
static const char *release_why(const struct kernel *k, const struct kernel_svc *s, int64_t now_us,
			       const char **dep)
{
	bool all = true;
	for (int j = 0; j < s->def->nafter; j++) {
		const struct kernel_svc *o = &k->svc[k->slot[s->def->after[j]]];
		if (o->ever_healthy)
			continue;
		if (o->reported && o->state == ST_QUARANTINED) {
			*dep = o->name;
			return "quarantined";
		}
		if (all)
			*dep = o->name;
		all = false;
	}
	if (all)
		return "";
	return now_us >= s->held_until_us ? "not ready within the start timeout" : NULL;
}

void kernel_mon_release(struct kernel *k, int64_t now_us)
{
	k->release_due = false;
	for (int i = 0; i < k->nsvc; i++) {
		struct kernel_svc *s = &k->svc[i];
		if (s->mon != KMON_HELD || k->stopping)
			continue;
		const char *dep = NULL, *why = release_why(k, s, now_us, &dep);
		if (!why) {
			snprintf(s->reason, sizeof(s->reason), "waiting for %s", dep);
			continue;
		}
		if (why[0]) {
			char reason[160];
			snprintf(reason, sizeof(reason), "%s %s; starting anyway", dep, why);
			struct kernel_field f[] = {KF_STR("service", s->name), KF_STR("for", dep),
						   KF_STR("reason", reason)};
			kernel_emit(k, KL_WARN, "waiting", f, 3);
		}
		s->reason[0] = '\0';
		if (kernel_mon_start(k, s, now_us) < 0) {
			s->mon = KMON_WAITING;
			s->restart_at_us = now_us + 1000000;
			kernel_dl_note(k, s);
		}
	}
}
