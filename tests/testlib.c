/* Test helpers: temporary directories, child processes, deadline waits. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "clock.h"
#include "testlib.h"

extern char **environ;

static char dir[256];
static pid_t children[64];
static int nchildren;

void tl_setup(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/ron-test.XXXXXX", base && *base ? base : "/tmp");
	cr_assert(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
	nchildren = 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

/* Kills what is left in one cgroup and removes it, waiting a moment for the dying. */
static void cgroup_remove(const char *path)
{
	char file[PATH_MAX + 16];
	if (snprintf(file, sizeof(file), "%s/cgroup.kill", path) >= (int)sizeof(file))
		return;
	int fd = open(file, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)!write(fd, "1", 1);
		close(fd);
	}
	for (int i = 0; i < 1000 && rmdir(path) < 0 && errno == EBUSY; i++)
		nanosleep(&(struct timespec){0, 1000000}, NULL);
}

/* A kernel killed by a test leaves its cgroups behind (kernel/contain.c records
 * them in RUN_DIR/cgroup): they go with the test's directory. */
static void cgroups_remove(void)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		char rec[PATH_MAX], base[PATH_MAX];
		if (e->d_name[0] == '.' ||
		    snprintf(rec, sizeof(rec), "%s/%s/cgroup", dir, e->d_name) >= (int)sizeof(rec))
			continue;
		ssize_t n = tl_read_file(rec, base, sizeof(base) - 1);
		if (n <= 0)
			continue;
		base[n] = '\0';
		base[strcspn(base, "\n")] = '\0';
		if (strncmp(base, "/sys/fs/cgroup/", 15) != 0 || !strstr(base, "/ron-kernel.") ||
		    strstr(base, ".."))
			continue;
		DIR *c = opendir(base);
		for (struct dirent *l; c && (l = readdir(c));) {
			char leaf[PATH_MAX + 256];
			if (l->d_type == DT_DIR && l->d_name[0] != '.' &&
			    snprintf(leaf, sizeof(leaf), "%s/%s", base, l->d_name) <
				(int)sizeof(leaf))
				cgroup_remove(leaf);
		}
		if (c)
			closedir(c);
		rmdir(base);
	}
	closedir(d);
}

void tl_teardown(void)
{
	for (int i = 0; i < nchildren; i++) {
		if (children[i] <= 0)
			continue;
		kill(-children[i], SIGKILL);
		kill(children[i], SIGKILL);
		waitpid(children[i], NULL, 0);
	}
	nchildren = 0;
	if (dir[0]) {
		/* After the kernels are gone, so none can start a service behind the sweep:
		 * services live in process groups (or cgroups) of their own, out of the reach
		 * of the kill above, but carry a RON_RUN_DIR below this test's directory. */
		tl_kill_run_dir_procs();
		cgroups_remove();
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
}

const char *tl_dir(void)
{
	return dir;
}

const char *tl_path(const char *name)
{
	static char bufs[8][512];
	static int next;
	char *b = bufs[next++ % 8];
	snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
	return b;
}

pid_t tl_spawn(char *const argv[], char *const env[], int *out_fd, int *err_fd)
{
	int out[2] = {-1, -1}, err[2] = {-1, -1};
	if (out_fd)
		cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	if (err_fd)
		cr_assert_eq(pipe2(err, O_CLOEXEC), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		setpgid(0, 0);
		for (int i = 0; env && env[i]; i++) {
			char kv[1024];
			snprintf(kv, sizeof(kv), "%s", env[i]);
			char *eq = strchr(kv, '=');
			if (!eq)
				continue;
			*eq = '\0';
			if (eq[1])
				setenv(kv, eq + 1, 1);
			else
				unsetenv(kv);
		}
		if (out_fd)
			dup2(out[1], 1);
		if (err_fd)
			dup2(err[1], 2);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	if (out_fd) {
		close(out[1]);
		*out_fd = out[0];
	}
	if (err_fd) {
		close(err[1]);
		*err_fd = err[0];
	}
	if (nchildren < (int)(sizeof(children) / sizeof(children[0])))
		children[nchildren++] = pid;
	return pid;
}

void tl_forget(pid_t pid)
{
	for (int i = 0; i < nchildren; i++)
		if (children[i] == pid)
			children[i] = 0;
}

bool tl_wait_exit(pid_t pid, int timeout_ms, int *status)
{
	int64_t deadline = clock_mono_us() + (int64_t)timeout_ms * 1000;
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid) {
			tl_forget(pid);
			return true;
		}
		if (r < 0 || clock_mono_us() >= deadline)
			return false;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

bool tl_wait_for(bool (*cond)(void *), void *arg, int timeout_ms)
{
	int64_t deadline = clock_mono_us() + (int64_t)timeout_ms * 1000;
	for (;;) {
		if (cond(arg))
			return true;
		if (clock_mono_us() >= deadline)
			return false;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

bool tl_pid_alive(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	ssize_t n = tl_read_file(path, buf, sizeof(buf));
	if (n <= 0)
		return false;
	/* A zombie has exited, whoever will reap it. */
	char *rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

void tl_lines_init(struct tl_lines *r, int fd)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
}

bool tl_next_line(struct tl_lines *r, char *line, size_t len, int timeout_ms)
{
	int64_t deadline = clock_mono_us() + (int64_t)timeout_ms * 1000;
	for (;;) {
		char *nl = memchr(r->buf, '\n', r->len);
		if (nl) {
			size_t n = (size_t)(nl - r->buf);
			if (line) {
				size_t c = n < len - 1 ? n : len - 1;
				memcpy(line, r->buf, c);
				line[c] = '\0';
			}
			memmove(r->buf, nl + 1, r->len - n - 1);
			r->len -= n + 1;
			return true;
		}
		if (r->eof || r->len == sizeof(r->buf))
			return false;
		struct pollfd pfd = {r->fd, POLLIN, 0};
		int rc = poll(&pfd, 1, clock_poll_timeout(deadline, clock_mono_us()));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return false;
		ssize_t n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
		if (n <= 0) {
			r->eof = true;
			continue;
		}
		size_t room = sizeof(r->log) - 1 - r->loglen;
		size_t c = (size_t)n < room ? (size_t)n : room;
		memcpy(r->log + r->loglen, r->buf + r->len, c);
		r->loglen += c;
		r->log[r->loglen] = '\0';
		r->len += (size_t)n;
	}
}

bool tl_expect(struct tl_lines *r, char *line, size_t len, int timeout_ms, ...)
{
	int64_t deadline = clock_mono_us() + (int64_t)timeout_ms * 1000;
	char tmp[4096];
	char *dst = line ? line : tmp;
	size_t dlen = line ? len : sizeof(tmp);
	for (;;) {
		int left = clock_poll_timeout(deadline, clock_mono_us());
		if (!tl_next_line(r, dst, dlen, left))
			return false;
		va_list ap;
		va_start(ap, timeout_ms);
		bool all = true;
		for (const char *needle; (needle = va_arg(ap, const char *));)
			if (!strstr(dst, needle))
				all = false;
		va_end(ap);
		if (all)
			return true;
	}
}

/* Appends what fd has now to buf; false at EOF. */
static bool drain(int fd, char *buf, size_t len, size_t *off)
{
	char scratch[4096];
	size_t room = len - 1 - *off;
	ssize_t n = read(fd, room ? buf + *off : scratch, room ? room : sizeof(scratch));
	if (n < 0 && errno == EINTR)
		return true;
	if (n <= 0)
		return false;
	if (room)
		*off += (size_t)n;
	return true;
}

int tl_run(char *const argv[], char *const env[], char *out, size_t outlen, char *err,
	   size_t errlen, int timeout_ms)
{
	int fds[2], st;
	size_t off[2] = {0, 0};
	char *bufs[2] = {out, err};
	size_t lens[2] = {outlen, errlen};
	pid_t pid = tl_spawn(argv, env, &fds[0], &fds[1]);
	int64_t deadline = clock_mono_us() + (int64_t)timeout_ms * 1000;
	/* Read while it runs, so a chatty child never blocks on a full pipe. */
	while (fds[0] >= 0 || fds[1] >= 0) {
		struct pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
		int rc = poll(p, 2, clock_poll_timeout(deadline, clock_mono_us()));
		cr_assert(rc != 0, "%s did not finish within %d ms", argv[0], timeout_ms);
		if (rc < 0)
			continue;
		for (int i = 0; i < 2; i++)
			if (p[i].revents && !drain(fds[i], bufs[i], lens[i], &off[i])) {
				close(fds[i]);
				fds[i] = -1;
			}
	}
	out[off[0]] = '\0';
	err[off[1]] = '\0';
	int left = clock_poll_timeout(deadline, clock_mono_us());
	cr_assert(tl_wait_exit(pid, left, &st), "%s did not exit within %d ms", argv[0],
		  timeout_ms);
	return st;
}

const char *tl_src_dir(void)
{
	static char src[512];
	snprintf(src, sizeof(src), "%s", RON_BUILD_DIR);
	for (;;) {
		char probe[600];
		struct stat st;
		snprintf(probe, sizeof(probe), "%s/common/config.c", src);
		if (stat(probe, &st) == 0)
			return src;
		char *slash = strrchr(src, '/');
		cr_assert(slash && slash != src, "no source tree above %s", RON_BUILD_DIR);
		*slash = '\0';
	}
}

/* Processes with an environment entry equal to kv, or starting with it if prefix. */
static int procs_matching(const char *kv, bool prefix, pid_t *pids, int max)
{
	static char env[65536];
	int n = 0;
	DIR *d = opendir("/proc");
	cr_assert(d, "opendir /proc: %s", strerror(errno));
	for (struct dirent *e; (e = readdir(d));) {
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid <= 0 || pid == getpid() || !tl_pid_alive(pid))
			continue;
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
		ssize_t len = tl_read_file(path, env, sizeof(env));
		for (ssize_t off = 0; off < len; off += (ssize_t)strlen(env + off) + 1)
			if (prefix ? strncmp(env + off, kv, strlen(kv)) == 0
				   : strcmp(env + off, kv) == 0) {
				if (n < max)
					pids[n] = pid;
				n++;
				break;
			}
	}
	closedir(d);
	return n;
}

int tl_procs_with_env(const char *kv, pid_t *pids, int max)
{
	return procs_matching(kv, false, pids, max);
}

void tl_kill_run_dir_procs(void)
{
	char want[600];
	pid_t pids[256];
	snprintf(want, sizeof(want), "RON_RUN_DIR=%s/", dir);
	/* Until a scan finds none: a monitor that was spawning when its kernel died may
	 * leave a service the scan before could not see yet. */
	int64_t deadline = clock_mono_us() + 3000000;
	for (;;) {
		int n = procs_matching(want, true, pids, 256);
		if (n == 0 || clock_mono_us() >= deadline)
			return;
		for (int i = 0; i < n && i < 256; i++)
			kill(pids[i], SIGKILL);
		poll(NULL, 0, 20);
	}
}

ssize_t tl_read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t off = 0;
	for (;;) {
		ssize_t n = read(fd, buf + off, len - 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
		if (off == len - 1)
			break;
	}
	close(fd);
	buf[off] = '\0';
	return (ssize_t)off;
}

bool tl_have_command(const char *name)
{
	const char *path = getenv("PATH");
	char dirs[4096], file[4200];
	snprintf(dirs, sizeof(dirs), "%s", path ? path : "/usr/bin:/bin");
	for (char *save, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(file, sizeof(file), "%s/%s", d, name);
		if (access(file, X_OK) == 0)
			return true;
	}
	return false;
}

const char *const tl_seed_names[3] = {"svc-index", "svc-overlay", "svc-storage"};
const char *const tl_seed_sock_vars[3] = {"RON_INDEX_SOCK", "RON_OVERLAY_SOCK", "RON_STORAGE_SOCK"};

char **tl_kernel_env(const char *run_dir, const char *sock_dir, char *const extra[])
{
	static char bufs[64][1200];
	static char *env[80];
	int n = 0;
#define ADD(...) (snprintf(bufs[n], sizeof(bufs[n]), __VA_ARGS__), env[n] = bufs[n], n++)
	ADD("RON_RUN_DIR=%s/%s", tl_dir(), run_dir);
	for (int i = 0; i < 3; i++) {
		if (sock_dir)
			ADD("%s=%s/%s/%s.sock", tl_seed_sock_vars[i], tl_dir(), sock_dir,
			    tl_seed_names[i]);
		else
			ADD("%s=%s/%s.sock", tl_seed_sock_vars[i], tl_dir(), tl_seed_names[i]);
		char var[64];
		snprintf(var, sizeof(var), "RON_SVC_%s_BIN", tl_seed_names[i] + 4);
		for (char *p = var; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
		ADD("%s=%s/sim/%s", var, RON_BUILD_DIR, tl_seed_names[i]);
	}
	const char *path = getenv("PATH");
	ADD("PATH=%s/sim:%s", RON_BUILD_DIR, path ? path : "/usr/bin:/bin");
	ADD("RON_HEALTH_INTERVAL_MS=300");
	ADD("RON_HEALTH_TIMEOUT_MS=200");
	ADD("RON_STATUS_INTERVAL_MS=500");
	ADD("RON_STOP_TIMEOUT_MS=%d", TL_STOP_MS);
	ADD("RON_START_TIMEOUT_MS=5000");
	ADD("RON_BACKOFF_MIN_MS=50");
	ADD("RON_BACKOFF_MAX_MS=1000");
	ADD("RON_STABLE_MS=500");
	static const char *const unset[] = {"RON_LOG_FORMAT",	   "RON_MONITOR_BIN",
					    "RON_RESTART_CAP",	   "RON_RESTART_WINDOW_MS",
					    "RON_QUARANTINE_MS",   "RON_HEALTH_FAILURES",
					    "NOTIFY_SOCKET",	   "WATCHDOG_USEC",
					    "WATCHDOG_PID",	   "SIM_MODE",
					    "SIM_CRASH_AFTER_MS",  "SIM_EXIT_ON_START",
					    "SIM_START_DELAY_MS",  "SIM_IGNORE_SIGTERM",
					    "SIM_GRANDCHILD",	   "SIM_PIDFILE",
					    "RON_CONFIG",	   "RON_CONTAINMENT",
					    "RON_METRICS_FILE",	   "RON_HTTP_ADDR",
					    "RON_HTTP_PUBLIC",	   "RON_HTTP_USER",
					    "RON_HTTP_TIMEOUT_MS", "RON_HTTP_CONNECTIONS"};
	for (size_t i = 0; i < sizeof(unset) / sizeof(unset[0]); i++)
		ADD("%s=", unset[i]);
	for (int i = 0; extra && extra[i] && n < 79; i++)
		ADD("%s", extra[i]);
#undef ADD
	env[n] = NULL;
	return env;
}

bool tl_status_row(const char *run_dir, const char *name, struct tl_row *row)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/%s/status.json", tl_dir(), run_dir);
	json_object *o = json_object_from_file(path), *a, *v;
	if (!o)
		return false;
	bool found = false;
	if (json_object_object_get_ex(o, "services", &a)) {
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			json_object *e = json_object_array_get_idx(a, i);
			if (!json_object_object_get_ex(e, "service", &v) ||
			    strcmp(json_object_get_string(v), name) != 0)
				continue;
			json_object_object_get_ex(e, "state", &v);
			snprintf(row->state, sizeof(row->state), "%s", json_object_get_string(v));
			json_object_object_get_ex(e, "pid", &v);
			row->pid = json_object_get_int(v);
			json_object_object_get_ex(e, "mpid", &v);
			row->mpid = json_object_get_int(v);
			found = true;
		}
	}
	json_object_put(o);
	return found;
}

bool tl_seed_all_healthy(void *arg)
{
	(void)arg;
	for (int i = 0; i < 3; i++) {
		struct tl_row r;
		if (!tl_status_row("run", tl_seed_names[i], &r) ||
		    strcmp(r.state, "healthy") != 0 || r.pid <= 0 || r.mpid <= 0)
			return false;
	}
	return true;
}

void tl_apply_env(char *const env[])
{
	for (int i = 0; env[i]; i++) {
		const char *eq = strchr(env[i], '=');
		if (!eq)
			continue;
		if (eq[1] == '\0') {
			char name[128];
			snprintf(name, sizeof(name), "%.*s", (int)(eq - env[i]), env[i]);
			unsetenv(name);
		} else {
			putenv(env[i]);
		}
	}
}

bool tl_notify_wait(int fd, const char *want, char *log, size_t loglen, int timeout_ms)
{
	int64_t deadline = clock_mono_us() + (int64_t)timeout_ms * 1000;
	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, clock_poll_timeout(deadline, clock_mono_us())) <= 0)
			return false;
		char msg[512];
		ssize_t n = recv(fd, msg, sizeof(msg) - 1, 0);
		if (n <= 0)
			continue;
		msg[n] = '\0';
		strncat(log, msg, loglen - strlen(log) - 2);
		strcat(log, "|");
		if (strncmp(msg, want, strlen(want)) == 0)
			return true;
	}
}
