/* svc-sim: a stand-in for the RustyOnions services that speaks the real
 * v1.health wire format (WIRE.md) and misbehaves on request, so ron-kernel and
 * ron-monitor can be tested and demonstrated without the Rust builds.
 *
 * Role: basename(argv[0]) must be svc-index, svc-overlay or svc-storage (the
 * build links all three names to this binary); any other name exits 2, unless
 * the arguments name the service: `--name NAME [--sock-env VAR]` runs it as any
 * service NAME, its socket in VAR (default RON_<NAME>_SOCK, as ron-kernel
 * derives it), its wire name derived from NAME as for the real ones.
 * Like the real services it takes no arguments, reads its socket path from
 * RON_INDEX_SOCK / RON_OVERLAY_SOCK / RON_STORAGE_SOCK (default
 * /tmp/ron/svc-*.sock), creates the parent directory, replaces whatever file
 * is at the path, answers one request per connection and dies with no
 * cleanup on SIGTERM, SIGINT and SIGHUP.  One poll() loop serves up to 64
 * clients at once, so none can block another; a request must arrive within
 * 10 s.  It ignores SIGPIPE as the Rust
 * runtime does, and otherwise never resets inherited signal dispositions or
 * the signal mask, so a supervisor that leaks them is caught: it warns on
 * stderr when it starts with one of those three signals ignored or blocked.
 * Unlike them it is ready at once (they take about 50 ms: see
 * SIM_START_DELAY_MS).  Stdout gets a line when it starts listening, crashes
 * or toggles hang mode; stderr one per misbehaving client.
 *
 * Fault knobs, all from the environment.  An empty value counts as unset.
 * Any other SIM_* variable, or a bad value, exits 2 naming it.
 *
 *   SIM_MODE=M                How to answer a request (default healthy):
 *                               healthy    the real reply; HealthOk to Health
 *                               unhealthy  a well-formed envelope, method
 *                                          "v1.err", corr_id echoed, payload
 *                                          {"Err": ["simulated failure"]}
 *                               hang       read the request, never reply, keep
 *                                          the connection open until the client
 *                                          closes it
 *                               garbage    a valid length prefix and a body
 *                                          that is MessagePack but no envelope
 *                                          (the int 42): 00 00 00 01 2a
 *                               huge       length prefix ff ff ff ff, then
 *                                          close
 *                               close      read the request, close without reply
 *                               deep       a valid frame whose body is arrays
 *                                          nested 500,000 deep: 91 91 91 ... c0
 *   SIGUSR1 (signal)          Toggles hang mode at run time; with SIM_MODE=hang
 *                             the first SIGUSR1 makes it healthy.  Connections
 *                             already hanging stay so until their clients
 *                             close.
 *   SIM_CRASH_AFTER_MS=T      Crash T ms after process start (0..2^31-1),
 *                             not after listening; 0 crashes before
 *                             listening (after SIM_PIDFILE is written).
 *   SIM_CRASH_CODE=N          Exit status of that crash (0..255, default 1);
 *                             like SIM_CRASH_SIGNAL, needs SIM_CRASH_AFTER_MS.
 *   SIM_CRASH_SIGNAL=SIG      Die by this signal instead of exiting: a name
 *                             (SEGV, SIGKILL, term) or a number, real-time
 *                             signals included; not one whose default action
 *                             is to ignore or stop.  It kills even when
 *                             ignored or blocked.  Excludes SIM_CRASH_CODE.
 *   SIM_EXIT_ON_START=N       Exit with status N (0..255) at once, before
 *                             listening: a crash loop.  Shorthand for
 *                             SIM_CRASH_AFTER_MS=0 SIM_CRASH_CODE=N; excludes
 *                             the SIM_CRASH_* knobs.
 *   SIM_START_DELAY_MS=T      Create the socket only T ms after start: alive
 *                             but not listening (an old socket file stays
 *                             until then and refuses connections).
 *   SIM_IGNORE_SIGTERM=0|1    Ignore SIGTERM (the grandchild inherits this),
 *                             so a graceful stop needs SIGKILL; SIGINT and
 *                             SIGHUP still kill.
 *   SIM_GRANDCHILD=0|1        At start, fork a child that stays in the process
 *                             group, keeps stdin/stdout/stderr, and waits
 *                             forever: it outlives the sim unless the group
 *                             is signalled.
 *   SIM_GRANDCHILD_PIDFILE=F  Write that child's pid ("PID\n") to F, replaced
 *                             atomically, before the sim listens.  Needs
 *                             SIM_GRANDCHILD=1.
 *   SIM_GRANDCHILD_SETSID=0|1 That child double-forks and calls setsid(), as a
 *                             daemon does: it leaves the process group and is
 *                             reparented.  Needs SIM_GRANDCHILD=1.
 *   SIM_PIDFILE=F             Append "PID MONO_US\n" to F (O_APPEND, one
 *                             write): pid and CLOCK_MONOTONIC in us at entry
 *                             to main, to time crash -> respawn.
 *
 * Exit status: 1 for the startup failures of the real services (socket path
 * too long or empty, a directory at the path, parent not creatable, bind);
 * 2 for a misconfigured sim (wrong name, bad knob, pidfile not writable),
 * which a real service never returns; else whatever a crash knob asks for.
 *
 * The same table is in docs/svc-sim.md. */
#include <arpa/inet.h>
#include <bsd/stdlib.h>
#include <bsd/string.h>
#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "proc.h"
#include "services.h"
#include "sockpath.h"
#include "wire.h"

#define EX_SIM	2 /* the sim itself is misconfigured */
#define EX_FAIL 1 /* a failure, with the status the real services use */

#define MAX_CONNS 64
/* A client must finish sending its request (or take our reply) within this;
 * a hanging reply has no deadline.  Real clients give up far sooner. */
#define CONN_TIMEOUT_US (10 * 1000000LL)
/* After accept() runs out of descriptors, stop polling the listener for a
 * while rather than spin on a backlog we cannot drain. */
#define ACCEPT_PAUSE_US (100 * 1000LL)

extern char **environ;

struct role {
	const char *name, *sock_env, *sock_default;
};

static const struct role roles[] = {
    {"svc-index", "RON_INDEX_SOCK", "/tmp/ron/svc-index.sock"},
    {"svc-overlay", "RON_OVERLAY_SOCK", "/tmp/ron/svc-overlay.sock"},
    {"svc-storage", "RON_STORAGE_SOCK", "/tmp/ron/svc-storage.sock"},
};

enum mode {
	MODE_HEALTHY,
	MODE_UNHEALTHY,
	MODE_HANG,
	MODE_GARBAGE,
	MODE_HUGE,
	MODE_CLOSE,
	MODE_DEEP
};

static const char *const mode_names[] = {"healthy", "unhealthy", "hang", "garbage",
					 "huge",    "close",	 "deep"};

static const char *const knob_names[] = {
    "SIM_MODE",		  "SIM_CRASH_AFTER_MS",	   "SIM_CRASH_CODE",
    "SIM_CRASH_SIGNAL",	  "SIM_EXIT_ON_START",	   "SIM_START_DELAY_MS",
    "SIM_IGNORE_SIGTERM", "SIM_GRANDCHILD",	   "SIM_GRANDCHILD_PIDFILE",
    "SIM_PIDFILE",	  "SIM_GRANDCHILD_SETSID",
};

struct knobs {
	enum mode mode;
	long long crash_after_ms; /* -1: never */
	int crash_code;
	int crash_signal; /* 0: exit with crash_code instead */
	long long start_delay_ms;
	bool ignore_sigterm, grandchild, grandchild_setsid;
	const char *grandchild_pidfile, *pidfile;
};

enum conn_state { CONN_READ_HDR, CONN_READ_BODY, CONN_WRITE, CONN_HANG };

struct conn {
	int fd;
	unsigned long long id; /* for log lines: a Unix peer has no address */
	enum conn_state state;
	int64_t deadline_us; /* -1 while hanging */
	uint8_t hdr[4];
	uint32_t body_len;
	uint8_t *body;
	size_t in_off;
	uint8_t out[256];
	const uint8_t *reply; /* out, or a reply too large for it */
	size_t out_len, out_off;
};

struct sim {
	const struct role *role;
	char service[WIRE_NAME_MAX];
	const char *path;
	struct knobs k;
	bool hanging;
	int64_t start_us, crash_us, listen_us, accept_resume_us;
	int lfd, sfd;
	struct conn conns[MAX_CONNS];
	int nconns;
	unsigned long long next_id;
};

static const char *knob_get(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static long long knob_num(const char *name, long long min, long long max, long long dflt)
{
	const char *v = knob_get(name);
	const char *errstr;

	if (!v)
		return dflt;
	long long n = strtonum(v, min, max, &errstr);
	if (errstr)
		errx(EX_SIM, "%s=%s: %s (expected an integer %lld..%lld)", name, v, errstr, min,
		     max);
	return n;
}

static bool signal_terminates(int sig)
{
	switch (sig) {
	case SIGCHLD:
	case SIGCONT:
	case SIGURG:
	case SIGWINCH:
	case SIGSTOP:
	case SIGTSTP:
	case SIGTTIN:
	case SIGTTOU: return false;
	default: return true;
	}
}

/* A typo in a knob name would otherwise silently run a healthy service. */
static void knobs_check_names(void)
{
	for (char **e = environ; *e; e++) {
		if (strncmp(*e, "SIM_", 4) != 0)
			continue;
		size_t n = strcspn(*e, "=");
		bool known = false;
		for (size_t i = 0; i < sizeof(knob_names) / sizeof(knob_names[0]); i++)
			if (strlen(knob_names[i]) == n && strncmp(*e, knob_names[i], n) == 0)
				known = true;
		if (!known)
			errx(EX_SIM, "unknown knob %.*s (see docs/svc-sim.md)", (int)n, *e);
	}
}

static void knobs_read(struct knobs *k)
{
	const char *v;

	knobs_check_names();
	k->mode = MODE_HEALTHY;
	if ((v = knob_get("SIM_MODE"))) {
		size_t i;
		for (i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
			if (strcmp(v, mode_names[i]) == 0)
				break;
		if (i == sizeof(mode_names) / sizeof(mode_names[0]))
			errx(EX_SIM,
			     "SIM_MODE=%s: unknown mode (expected healthy, unhealthy, hang, "
			     "garbage, huge, close or deep)",
			     v);
		k->mode = (enum mode)i;
	}

	k->crash_after_ms = knob_num("SIM_CRASH_AFTER_MS", 0, INT_MAX, -1);
	k->crash_code = (int)knob_num("SIM_CRASH_CODE", 0, 255, 1);
	k->crash_signal = 0;
	if ((v = knob_get("SIM_CRASH_SIGNAL"))) {
		k->crash_signal = sig_parse(v);
		if (k->crash_signal < 0)
			errx(EX_SIM, "SIM_CRASH_SIGNAL=%s: not a signal name or number 1..%d", v,
			     SIGRTMAX);
		if (!signal_terminates(k->crash_signal))
			errx(EX_SIM,
			     "SIM_CRASH_SIGNAL=%s: signal %d does not terminate a process by "
			     "default",
			     v, k->crash_signal);
		if (knob_get("SIM_CRASH_CODE"))
			errx(EX_SIM, "SIM_CRASH_SIGNAL and SIM_CRASH_CODE exclude each other");
	}
	if (k->crash_after_ms < 0 && (knob_get("SIM_CRASH_CODE") || knob_get("SIM_CRASH_SIGNAL")))
		errx(EX_SIM, "SIM_CRASH_CODE and SIM_CRASH_SIGNAL need SIM_CRASH_AFTER_MS");
	if (knob_get("SIM_EXIT_ON_START")) {
		if (k->crash_after_ms >= 0)
			errx(EX_SIM, "SIM_EXIT_ON_START excludes the SIM_CRASH_* knobs");
		k->crash_code = (int)knob_num("SIM_EXIT_ON_START", 0, 255, 0);
		k->crash_after_ms = 0;
	}

	k->start_delay_ms = knob_num("SIM_START_DELAY_MS", 0, INT_MAX, 0);
	k->ignore_sigterm = knob_num("SIM_IGNORE_SIGTERM", 0, 1, 0);
	k->grandchild = knob_num("SIM_GRANDCHILD", 0, 1, 0);
	k->grandchild_pidfile = knob_get("SIM_GRANDCHILD_PIDFILE");
	if (k->grandchild_pidfile && !k->grandchild)
		errx(EX_SIM, "SIM_GRANDCHILD_PIDFILE=%s needs SIM_GRANDCHILD=1",
		     k->grandchild_pidfile);
	k->pidfile = knob_get("SIM_PIDFILE");
	k->grandchild_setsid = knob_num("SIM_GRANDCHILD_SETSID", 0, 1, 0);
	if (k->grandchild_setsid && !k->grandchild)
		errx(EX_SIM, "SIM_GRANDCHILD_SETSID=1 needs SIM_GRANDCHILD=1");
}

/* Echoes the knobs in effect, so a test log shows why a service misbehaved. */
static void knobs_print(const char *name)
{
	char line[1024] = "";

	for (char **e = environ; *e; e++) {
		if (strncmp(*e, "SIM_", 4) != 0 || strchr(*e, '=')[1] == '\0')
			continue;
		strlcat(line, " ", sizeof(line));
		strlcat(line, *e, sizeof(line));
	}
	if (*line)
		printf("%s: pid=%d knobs:%s\n", name, (int)getpid(), line);
}

/* One write with O_APPEND, so records from successive restarts never mix. */
static void pidfile_append(const char *path, int64_t start_us)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "%d %" PRId64 "\n", (int)getpid(), start_us);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		err(EX_SIM, "SIM_PIDFILE: open %s", path);
	ssize_t w = write(fd, line, (size_t)n);
	if (w < 0)
		err(EX_SIM, "SIM_PIDFILE: write %s", path);
	if (w != n)
		errx(EX_SIM, "SIM_PIDFILE: write %s: short write", path);
	if (close(fd) < 0)
		err(EX_SIM, "SIM_PIDFILE: close %s", path);
}

/* Written to a temporary name and renamed, so a reader never sees it half done. */
static void pidfile_replace(const char *path, pid_t pid)
{
	char tmp[PATH_MAX], line[32];

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		errx(EX_SIM, "SIM_GRANDCHILD_PIDFILE: path too long: %s", path);
	int n = snprintf(line, sizeof(line), "%d\n", (int)pid);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		err(EX_SIM, "SIM_GRANDCHILD_PIDFILE: open %s", tmp);
	if (write(fd, line, (size_t)n) != n)
		err(EX_SIM, "SIM_GRANDCHILD_PIDFILE: write %s", tmp);
	if (close(fd) < 0)
		err(EX_SIM, "SIM_GRANDCHILD_PIDFILE: close %s", tmp);
	if (rename(tmp, path) < 0)
		err(EX_SIM, "SIM_GRANDCHILD_PIDFILE: rename %s to %s", tmp, path);
}

/* The helper process a real service might leave behind: same process group,
 * same descriptors, no interest in its parent's death. */
static void grandchild_spawn(const char *name, const char *pidfile, bool detach)
{
	int p[2];
	fflush(stdout);
	if (detach && pipe(p) < 0)
		err(EX_SIM, "SIM_GRANDCHILD_SETSID: pipe");
	pid_t pid = fork();
	if (pid < 0)
		err(EX_SIM, "SIM_GRANDCHILD: fork");
	if (pid == 0 && detach) {
		/* The daemon's double fork: a session of its own, reparented once the
		 * middle process exits, out of reach of a signal to our group. */
		pid_t g = fork();
		if (g == 0) {
			setsid();
			for (;;)
				pause();
		}
		(void)!write(p[1], &g, sizeof(g));
		_exit(g < 0 ? EX_SIM : 0);
	}
	if (pid == 0) {
		for (;;)
			pause();
	}
	if (detach) {
		close(p[1]);
		pid_t mid = pid;
		if (read(p[0], &pid, sizeof(pid)) != (ssize_t)sizeof(pid) || pid < 0)
			errx(EX_SIM, "SIM_GRANDCHILD_SETSID: the double fork failed");
		close(p[0]);
		waitpid(mid, NULL, 0);
	}
	printf("%s: grandchild pid=%d\n", name, (int)pid);
	if (pidfile)
		pidfile_replace(pidfile, pid);
}

static void sim_crash(const struct sim *s)
{
	int sig = s->k.crash_signal;

	if (sig == 0) {
		printf("%s: crashing as asked: exit %d\n", s->role->name, s->k.crash_code);
		exit(s->k.crash_code);
	}
	printf("%s: crashing as asked: signal %d (%s)\n", s->role->name, sig, strsignal(sig));
	fflush(stdout);
	/* The signal must kill us even if it is ignored (SIM_IGNORE_SIGTERM, an
	 * inherited SIG_IGN) or blocked (SIGUSR1 for the signalfd, an inherited mask). */
	if (sig != SIGKILL && signal(sig, SIG_DFL) == SIG_ERR)
		err(EX_SIM, "SIM_CRASH_SIGNAL: reset the disposition of signal %d", sig);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	if (sigprocmask(SIG_UNBLOCK, &set, NULL) < 0)
		err(EX_SIM, "SIM_CRASH_SIGNAL: unblock signal %d", sig);
	if (raise(sig) != 0)
		err(EX_SIM, "SIM_CRASH_SIGNAL: raise signal %d", sig);
	errx(EX_SIM, "SIM_CRASH_SIGNAL: still alive after raising signal %d", sig);
}

/* A supervisor that leaks an ignored or blocked stop signal into its children
 * cannot stop them gracefully; say so where its tests will see it. */
static void signals_check_inherited(const char *name)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
	sigset_t mask;

	if (sigprocmask(SIG_BLOCK, NULL, &mask) < 0)
		err(EX_SIM, "read the signal mask");
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction sa;
		if (sigaction(sigs[i], NULL, &sa) < 0)
			err(EX_SIM, "read the disposition of %s", sigabbrev_np(sigs[i]));
		if (sa.sa_handler == SIG_IGN)
			fprintf(stderr, "%s: warning: SIG%s is ignored (inherited disposition)\n",
				name, sigabbrev_np(sigs[i]));
		if (sigismember(&mask, sigs[i]) == 1)
			fprintf(stderr, "%s: warning: SIG%s is blocked (inherited signal mask)\n",
				name, sigabbrev_np(sigs[i]));
	}
}

static int signals_setup(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		err(EX_SIM, "block SIGUSR1");
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		err(EX_SIM, "signalfd for SIGUSR1");
	return fd;
}

/* mkdir -p of the socket's directory, private like the run directory. */
static void mkdir_parents(const char *path)
{
	char dir[SOCKPATH_MAX + 1];

	strlcpy(dir, path, sizeof(dir));
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = '\0';
	for (char *p = dir + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			err(EX_FAIL, "mkdir %s", dir);
		*p = c;
		if (c == '\0')
			break;
	}
}

static int sock_listen(const char *path)
{
	struct sockaddr_un sa;
	socklen_t salen;
	char why[256];
	struct stat st;

	if (sockpath_addr(&sa, &salen, path, why, sizeof(why)) < 0)
		errx(EX_FAIL, "%s", why);
	mkdir_parents(path);
	if (lstat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			errx(EX_FAIL, "socket path %s is a directory", path);
		if (unlink(path) < 0)
			err(EX_FAIL, "unlink %s", path);
	} else if (errno != ENOENT) {
		err(EX_FAIL, "stat %s", path);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		err(EX_FAIL, "socket for %s", path);
	if (bind(fd, (struct sockaddr *)&sa, salen) < 0)
		err(EX_FAIL, "bind %s", path);
	if (listen(fd, SOMAXCONN) < 0)
		err(EX_FAIL, "listen %s", path);
	return fd;
}

static void conn_close(struct conn *c)
{
	if (close(c->fd) < 0)
		warn("conn #%llu: close", c->id);
	c->fd = -1;
	free(c->body);
	c->body = NULL;
}

static enum mode sim_mode_now(const struct sim *s)
{
	if (s->hanging)
		return MODE_HANG;
	return s->k.mode == MODE_HANG ? MODE_HEALTHY : s->k.mode;
}

/* MODE_DEEP's reply: a frame of 500,000 one-element arrays around a nil. */
#define DEEP_LEVELS 500000
static const uint8_t *deep_reply(size_t *len)
{
	static uint8_t *frame;
	if (!frame) {
		frame = malloc(4 + DEEP_LEVELS);
		if (!frame)
			err(EX_FAIL, "malloc %d bytes", 4 + DEEP_LEVELS);
		uint32_t be = htonl(DEEP_LEVELS);
		memcpy(frame, &be, 4);
		memset(frame + 4, 0x91, DEEP_LEVELS - 1);
		frame[4 + DEEP_LEVELS - 1] = 0xc0;
	}
	*len = 4 + DEEP_LEVELS;
	return frame;
}

static void conn_reply(struct sim *s, struct conn *c, const struct wire_msg *m)
{
	static const uint8_t garbage[] = {0, 0, 0, 1, 0x2a};
	static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff};
	ssize_t n = -1;

	c->reply = c->out;
	switch (sim_mode_now(s)) {
	case MODE_HANG:
		c->state = CONN_HANG;
		c->deadline_us = -1;
		return;
	case MODE_CLOSE: conn_close(c); return;
	case MODE_GARBAGE:
		memcpy(c->out, garbage, sizeof(garbage));
		n = sizeof(garbage);
		break;
	case MODE_HUGE:
		memcpy(c->out, huge, sizeof(huge));
		n = sizeof(huge);
		break;
	case MODE_DEEP: {
		size_t len;
		c->reply = deep_reply(&len);
		n = (ssize_t)len;
		break;
	}
	case MODE_HEALTHY:
	case MODE_UNHEALTHY:
		/* Like the real services: dispatch on the payload alone. */
		if (strcmp(m->variant, "Health") != 0)
			n = wire_encode(s->service, "v1.err", m->corr_id, "Err", "unknown request",
					c->out, sizeof(c->out));
		else if (sim_mode_now(s) == MODE_UNHEALTHY)
			n = wire_encode(s->service, "v1.err", m->corr_id, "Err",
					"simulated failure", c->out, sizeof(c->out));
		else
			n = wire_encode_health_reply(s->service, m->corr_id, c->out,
						     sizeof(c->out));
		break;
	}
	if (n < 0) {
		warnx("conn #%llu: reply does not fit in %zu bytes", c->id, sizeof(c->out));
		conn_close(c);
		return;
	}
	c->out_len = (size_t)n;
	c->out_off = 0;
	c->state = CONN_WRITE;
}

/* The request is complete: decode it and choose the answer. */
static void conn_request(struct sim *s, struct conn *c)
{
	struct wire_msg m;
	char why[WIRE_WHY_MAX];

	if (wire_decode(c->body, c->body_len, &m, why, sizeof(why)) < 0) {
		/* The real services log and drop the connection without a reply. */
		warnx("conn #%llu: bad request: %s", c->id, why);
		conn_close(c);
		return;
	}
	free(c->body);
	c->body = NULL;
	conn_reply(s, c, &m);
}

/* Reads until the request is complete or the socket has nothing more.
 * Reads exactly one frame: a second one stays unread, so our close resets the
 * connection as the real services' does. */
static void conn_read(struct sim *s, struct conn *c)
{
	while (c->fd >= 0 && (c->state == CONN_READ_HDR || c->state == CONN_READ_BODY)) {
		uint8_t *dst;
		size_t want;
		if (c->state == CONN_READ_HDR) {
			dst = c->hdr + c->in_off;
			want = sizeof(c->hdr) - c->in_off;
		} else {
			dst = c->body + c->in_off;
			want = c->body_len - c->in_off;
		}
		ssize_t n = recv(c->fd, dst, want, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			warn("conn #%llu: recv", c->id);
			conn_close(c);
			return;
		}
		if (n == 0) {
			size_t got = c->in_off + (c->state == CONN_READ_BODY ? sizeof(c->hdr) : 0);
			if (got == 0)
				warnx("conn #%llu: client closed without sending a frame", c->id);
			else
				warnx("conn #%llu: client closed mid-frame, after %zu bytes", c->id,
				      got);
			conn_close(c);
			return;
		}
		c->in_off += (size_t)n;
		if (c->state == CONN_READ_HDR && c->in_off == sizeof(c->hdr)) {
			c->body_len = (uint32_t)c->hdr[0] << 24 | (uint32_t)c->hdr[1] << 16 |
				      (uint32_t)c->hdr[2] << 8 | c->hdr[3];
			if (c->body_len == 0 || c->body_len > WIRE_MAX_FRAME) {
				warnx("conn #%llu: rejected request frame of length %" PRIu32
				      " (allowed 1..%u)",
				      c->id, c->body_len, WIRE_MAX_FRAME);
				conn_close(c);
				return;
			}
			if (!(c->body = malloc(c->body_len))) {
				warn("conn #%llu: allocate %" PRIu32 " bytes for the request",
				     c->id, c->body_len);
				conn_close(c);
				return;
			}
			c->state = CONN_READ_BODY;
			c->in_off = 0;
		} else if (c->state == CONN_READ_BODY && c->in_off == c->body_len) {
			conn_request(s, c);
		}
	}
}

static void conn_write(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n =
		    send(c->fd, c->reply + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			warn("conn #%llu: send reply", c->id);
			conn_close(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	conn_close(c);
}

/* A hanging connection reads and drops whatever comes, only to notice the
 * client going away and free the slot. */
static void conn_drain(struct conn *c)
{
	uint8_t buf[4096];

	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		conn_close(c);
		return;
	}
}

static void conn_event(struct sim *s, struct conn *c)
{
	switch (c->state) {
	case CONN_READ_HDR:
	case CONN_READ_BODY: conn_read(s, c); break;
	case CONN_WRITE: conn_write(c); break;
	case CONN_HANG: conn_drain(c); break;
	}
	/* A request that completed above may have a reply ready to go now. */
	if (c->fd >= 0 && c->state == CONN_WRITE)
		conn_write(c);
}

static void sim_accept(struct sim *s, int64_t now_us)
{
	while (s->nconns < MAX_CONNS) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return;
			warn("accept on %s", s->path);
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				s->accept_resume_us = now_us + ACCEPT_PAUSE_US;
			return;
		}
		struct conn *c = &s->conns[s->nconns++];
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->id = ++s->next_id;
		c->state = CONN_READ_HDR;
		c->deadline_us = now_us + CONN_TIMEOUT_US;
	}
}

static void sim_signal(struct sim *s)
{
	struct signalfd_siginfo si;

	for (;;) {
		ssize_t n = read(s->sfd, &si, sizeof(si));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			err(EX_FAIL, "read signalfd");
		}
		if (n != sizeof(si))
			errx(EX_FAIL, "read signalfd: short read of %zd bytes", n);
		if (si.ssi_signo == SIGUSR1) {
			s->hanging = !s->hanging;
			printf("%s: SIGUSR1: hang mode %s\n", s->role->name,
			       s->hanging ? "on" : "off");
		}
	}
}

static void sim_expire(struct sim *s, int64_t now_us)
{
	for (int i = 0; i < s->nconns; i++) {
		struct conn *c = &s->conns[i];
		if (c->deadline_us < 0 || now_us < c->deadline_us)
			continue;
		if (c->state == CONN_WRITE)
			warnx("conn #%llu: client took no reply for %lld ms", c->id,
			      CONN_TIMEOUT_US / 1000);
		else
			warnx("conn #%llu: no complete request within %lld ms", c->id,
			      CONN_TIMEOUT_US / 1000);
		conn_close(c);
	}
}

/* Closed connections leave holes; fill them from the end. */
static void sim_compact(struct sim *s)
{
	for (int i = 0; i < s->nconns;) {
		if (s->conns[i].fd < 0)
			s->conns[i] = s->conns[--s->nconns];
		else
			i++;
	}
}

static void sim_run(struct sim *s)
{
	struct pollfd pfd[MAX_CONNS + 2];

	for (;;) {
		int64_t now = clock_mono_us();
		if (s->crash_us >= 0 && now >= s->crash_us)
			sim_crash(s);
		if (s->lfd < 0 && now >= s->listen_us) {
			s->lfd = sock_listen(s->path);
			printf("%s: listening on %s pid=%d\n", s->role->name, s->path,
			       (int)getpid());
		}
		sim_expire(s, now);
		sim_compact(s);

		int64_t deadline = s->crash_us;
		int np = 0, lidx = -1, cbase;
		pfd[np++] = (struct pollfd){.fd = s->sfd, .events = POLLIN};
		if (s->lfd < 0) {
			deadline = clock_earliest(deadline, s->listen_us);
		} else if (now < s->accept_resume_us) {
			deadline = clock_earliest(deadline, s->accept_resume_us);
		} else if (s->nconns < MAX_CONNS) {
			lidx = np;
			pfd[np++] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
		}
		cbase = np;
		for (int i = 0; i < s->nconns; i++) {
			struct conn *c = &s->conns[i];
			short ev = c->state == CONN_WRITE ? POLLOUT : POLLIN;
			pfd[np++] = (struct pollfd){.fd = c->fd, .events = ev};
			deadline = clock_earliest(deadline, c->deadline_us);
		}

		if (poll(pfd, (nfds_t)np, clock_poll_timeout(deadline, now)) < 0) {
			if (errno == EINTR)
				continue;
			err(EX_FAIL, "poll");
		}
		now = clock_mono_us();
		if (pfd[0].revents)
			sim_signal(s);
		for (int i = 0; i < s->nconns && cbase + i < np; i++)
			if (pfd[cbase + i].revents)
				conn_event(s, &s->conns[i]);
		if (lidx >= 0 && pfd[lidx].revents)
			sim_accept(s, now);
	}
}

/* `--name NAME [--sock-env VAR]`: a role of any name, for config-file services. */
static const struct role *role_from_args(int argc, char **argv)
{
	static struct role r;
	static char env[96], def[160];
	const char *name = NULL, *var = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--name") == 0)
			name = argv[i + 1];
		else if (strcmp(argv[i], "--sock-env") == 0)
			var = argv[i + 1];
		else
			errx(EX_SIM, "unknown argument %s (accepted: --name NAME --sock-env VAR)",
			     argv[i]);
	}
	if (!name || !name[0] || strlen(name) > 63)
		return NULL;
	if (var)
		strlcpy(env, var, sizeof(env));
	else
		svc_sock_env_name(name, env, sizeof(env));
	snprintf(def, sizeof(def), "/tmp/ron/%s.sock", name);
	r = (struct role){name, env, def};
	return &r;
}

static const struct role *role_find(const char *argv0)
{
	const char *base = argv0 ? strrchr(argv0, '/') : NULL;
	base = base ? base + 1 : argv0;
	for (size_t i = 0; base && i < sizeof(roles) / sizeof(roles[0]); i++)
		if (strcmp(base, roles[i].name) == 0)
			return &roles[i];
	return NULL;
}

int main(int argc, char **argv)
{
	static struct sim s;

	s.start_us = clock_mono_us();
	if (setvbuf(stdout, NULL, _IOLBF, 0) != 0)
		errx(EX_SIM, "make stdout line-buffered");
	s.role = argc > 1 ? role_from_args(argc, argv) : role_find(argc > 0 ? argv[0] : NULL);
	if (!s.role)
		errx(EX_SIM,
		     "started as \"%s\": run me as svc-index, svc-overlay or svc-storage "
		     "(a symlink to svc-sim), or with --name NAME",
		     argc > 0 ? argv[0] : "");
	wire_service_name(s.role->name, s.service, sizeof(s.service));
	s.path = getenv(s.role->sock_env);
	if (!s.path)
		s.path = s.role->sock_default;

	/* As the Rust runtime does before main: a log line to a reader that has
	 * gone (a dead monitor's pipe) must not kill the service. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		err(EX_SIM, "ignore SIGPIPE");
	knobs_read(&s.k);
	knobs_print(s.role->name);
	signals_check_inherited(s.role->name);
	if (s.k.pidfile)
		pidfile_append(s.k.pidfile, s.start_us);
	if (s.k.crash_after_ms == 0)
		sim_crash(&s);
	/* Before signals_setup: the grandchild inherits SIM_IGNORE_SIGTERM but
	 * not the blocked SIGUSR1. */
	if (s.k.ignore_sigterm && signal(SIGTERM, SIG_IGN) == SIG_ERR)
		err(EX_SIM, "SIM_IGNORE_SIGTERM: ignore SIGTERM");
	if (s.k.grandchild)
		grandchild_spawn(s.role->name, s.k.grandchild_pidfile, s.k.grandchild_setsid);
	s.sfd = signals_setup();

	s.hanging = s.k.mode == MODE_HANG;
	s.crash_us = s.k.crash_after_ms < 0 ? -1 : s.start_us + s.k.crash_after_ms * 1000;
	s.listen_us = s.start_us + s.k.start_delay_ms * 1000;
	s.accept_resume_us = -1;
	s.lfd = -1;
	sim_run(&s);
}
