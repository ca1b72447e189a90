/* The files the kernel reads and writes where others can reach them: a FIFO or
 * another file planted at a name it uses must neither freeze it nor be written,
 * and a reader of status.json or of the metrics file holds a file that never
 * changes under it.  Every wait has a deadline, so a kernel frozen in open() is a
 * failure, not a stuck suite. */
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "kconf.h"
#include "testlib.h"

/* Shorter than KC_WAIT_MS: a frozen kernel shows within it. */
#define FREEZE_MS 10000

TestSuite(files, .init = tl_setup, .fini = tl_teardown, .timeout = 120);

struct out {
	int status;
	char out[16384], err[4096];
};

/* ron-kernel ARGS... in the environment env; within FREEZE_MS or the test fails. */
static void run_env(struct out *o, char *const args[], char *const env[])
{
	char *argv[16] = {RON_BUILD_DIR "/ron-kernel"};
	int n = 1;
	for (int i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	o->status = tl_run(argv, env, o->out, sizeof(o->out), o->err, sizeof(o->err), FREEZE_MS);
}

/* The same with kc_env(extra): none of the runner's settings. */
static void run(struct out *o, char *const args[], char *const extra[])
{
	run_env(o, args, kc_env(extra));
}

#define EXIT_IS(o, code)                                                                           \
	cr_assert(WIFEXITED((o).status) && WEXITSTATUS((o).status) == (code),                      \
		  "exit %d, want %d\nstdout: %s\nstderr: %s",                                      \
		  WIFEXITED((o).status) ? WEXITSTATUS((o).status) : -1, code, (o).out, (o).err)

static char *run_dir_env(void)
{
	static char buf[700];
	snprintf(buf, sizeof(buf), "RON_RUN_DIR=%s", tl_path("run"));
	return buf;
}

/* Two svc-sim services, a and b (b with its own lines), on this test's kernel. */
static void start(struct kc *k, const char *b_extra, char *const extra[])
{
	char a[512], b[512], line[4096];
	sim_section(a, sizeof(a), "a", NULL);
	sim_section(b, sizeof(b), "b", b_extra);
	kc_write(k, "%s\n%s\n", a, b);
	kc_start(k, extra);
	EXPECT(k, line, "event=all_ready");
}

/* The kernel answers its control socket: `ron-kernel status` with the run directory. */
static void answers(void)
{
	struct out o;
	run(&o, (char *[]){"status", NULL}, (char *[]){run_dir_env(), NULL});
	EXIT_IS(o, 0);
	cr_assert(strstr(o.out, "a "), "%s", o.out);
}

/* Before: the config file was opened blocking, and a FIFO there never answered. */
Test(files, fifo_as_config_file_is_refused_by_check_config)
{
	const char *conf = tl_path("kernel.conf");
	cr_assert_eq(mkfifo(conf, 0644), 0);
	struct out o;
	run(&o, (char *[]){"--config", (char *)conf, "--check-config", NULL}, NULL);
	EXIT_IS(o, 78);
	cr_assert(strstr(o.err, conf) && strstr(o.err, "not a regular file: a FIFO"), "%s", o.err);
}

Test(files, fifo_as_config_file_on_reload_is_refused_and_the_kernel_runs_on)
{
	struct kc k;
	struct out o;
	char line[4096];
	start(&k, NULL, NULL);
	cr_assert_eq(unlink(k.conf), 0);
	cr_assert_eq(mkfifo(k.conf, 0644), 0);
	/* Through the control socket: the kernel reads the file and refuses it. */
	run(&o, (char *[]){"reload", NULL}, (char *[]){run_dir_env(), NULL});
	EXIT_IS(o, 1);
	cr_assert(strstr(o.out, k.conf) && strstr(o.out, "not a regular file: a FIFO"), "%s",
		  o.out);
	EXPECT(&k, line, "event=reload_failed", "not a regular file: a FIFO");
	answers();
	/* The client itself reads the file for the run directory: it must not hang either,
	 * nor ask the kernel of the default run directory instead. */
	run(&o, (char *[]){"--config", k.conf, "status", NULL}, NULL);
	EXIT_IS(o, 78);
	cr_assert(strstr(o.err, k.conf) && strstr(o.err, "not a regular file: a FIFO"), "%s",
		  o.err);
	kc_stop(&k);
}

/* --- readers that hold a file over several ticks ------------------------------------- */

static char *metrics_env(void)
{
	static char buf[700];
	snprintf(buf, sizeof(buf), "RON_METRICS_FILE=%s", tl_path("metrics/ron.prom"));
	return buf;
}

#define READERS 6
#define CHUNK	128

struct reader {
	int fd;
	struct stat st0;
	char *buf;
	size_t len, cap;
	bool done;
};

struct tick {
	const char *path;
	char last[64];
};

/* A new status.json by name: its mono_ms differs from the last one seen. */
static bool ticked(void *arg)
{
	struct tick *t = arg;
	char buf[65536];
	ssize_t n = tl_read_file(t->path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	char *m = strstr(buf, "\"mono_ms\"");
	if (!m)
		return false;
	char now[64];
	snprintf(now, sizeof(now), "%.40s", m);
	if (strcmp(now, t->last) == 0)
		return false;
	strcpy(t->last, now);
	return true;
}

static void reader_open(struct reader *r, const char *path)
{
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(r->fd, 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(fstat(r->fd, &r->st0), 0);
	r->cap = 65536;
	r->buf = malloc(r->cap);
	cr_assert(r->buf);
}

/* One chunk more, as a slow reader (a script, a scraper) takes it. */
static void reader_step(struct reader *r)
{
	if (r->fd < 0 || r->done)
		return;
	ssize_t n = read(r->fd, r->buf + r->len, r->len + CHUNK < r->cap ? CHUNK : 0);
	cr_assert_geq(n, 0, "read: %s", strerror(errno));
	r->len += (size_t)n;
	r->done = n == 0;
}

/* What the reader read is one whole file, and the file it holds is still that file. */
static void reader_check(struct reader *r, const char *what, int i, bool json, int *changed,
			 int *invalid)
{
	struct stat st;
	cr_assert_eq(fstat(r->fd, &st), 0);
	char *again = malloc(r->cap);
	cr_assert(again);
	ssize_t n = pread(r->fd, again, r->cap, 0);
	cr_assert_geq(n, 0);
	bool same = (size_t)n == r->len && memcmp(again, r->buf, r->len) == 0 &&
		    st.st_size == r->st0.st_size && st.st_mtim.tv_sec == r->st0.st_mtim.tv_sec &&
		    st.st_mtim.tv_nsec == r->st0.st_mtim.tv_nsec;
	bool valid = r->len > 0 && r->buf[r->len - 1] == '\n';
	if (json) {
		json_tokener *tok = json_tokener_new();
		json_object *o = json_tokener_parse_ex(tok, r->buf, (int)r->len);
		valid = valid && o && json_tokener_get_parse_end(tok) + 1 >= r->len;
		json_object_put(o);
		json_tokener_free(tok);
	}
	if (!same)
		(*changed)++;
	if (!valid) {
		(*invalid)++;
		cr_log_warn("%s reader %d read %zu bytes that are not a whole file", what, i,
			    r->len);
	}
	free(again);
	free(r->buf);
	close(r->fd);
}

/* Before: status.json was the previous inode rewritten in place and swapped back
 * by name, so every reader that held it past a tick saw it change. */
Test(files, slow_readers_never_see_their_file_change)
{
	cr_assert_eq(mkdir(tl_path("metrics"), 0755), 0);
	struct kc k;
	start(&k, "env = SIM_CRASH_AFTER_MS=250",
	      (char *[]){metrics_env(), "RON_STATUS_INTERVAL_MS=100", NULL});
	const char *paths[2] = {tl_path("run/status.json"), tl_path("metrics/ron.prom")};
	static struct reader r[2][READERS];
	struct tick t = {paths[0], ""};
	/* Reader i opens at tick i and reads a chunk per tick until its end. */
	for (int tick = 0;; tick++) {
		cr_assert_lt(tick, 400, "readers not done after %d ticks", tick);
		bool all = true;
		for (int f = 0; f < 2; f++)
			for (int i = 0; i < READERS; i++) {
				if (i == tick)
					reader_open(&r[f][i], paths[f]);
				if (i <= tick)
					reader_step(&r[f][i]);
				all = all && i <= tick && r[f][i].done;
			}
		if (all)
			break;
		cr_assert(tl_wait_for(ticked, &t, FREEZE_MS), "no status tick");
	}
	int changed[2] = {0, 0}, invalid[2] = {0, 0};
	for (int f = 0; f < 2; f++)
		for (int i = 0; i < READERS; i++)
			reader_check(&r[f][i], f ? "metrics" : "status.json", i, f == 0,
				     &changed[f], &invalid[f]);
	cr_assert(changed[0] + invalid[0] + changed[1] + invalid[1] == 0,
		  "status.json: %d of %d readers saw their file change, %d read no whole file; "
		  "metrics: %d changed, %d not whole",
		  changed[0], READERS, invalid[0], changed[1], invalid[1]);
	kc_stop(&k);
}

/* --- what is planted in the metrics directory ----------------------------------------- */

static ino_t inode_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

struct inode_wait {
	const char *path;
	ino_t old;
};

static bool inode_changed(void *arg)
{
	struct inode_wait *w = arg;
	ino_t now = inode_of(w->path);
	return now && now != w->old;
}

static bool is_fifo(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISFIFO(st.st_mode);
}

/* Before: the kernel opened .ron.prom.tmp for writing, blocking, and froze there. */
Test(files, fifo_at_the_metrics_temp_name_freezes_nothing)
{
	cr_assert_eq(mkdir(tl_path("metrics"), 0755), 0);
	struct kc k;
	char line[4096];
	start(&k, NULL, (char *[]){metrics_env(), "RON_STATUS_INTERVAL_MS=100", NULL});
	const char *tmp = tl_path("metrics/.ron.prom.tmp");
	cr_assert_eq(mkfifo(tmp, 0644), 0, "mkfifo %s: %s", tmp, strerror(errno));
	cr_assert(tl_expect(&k.r, line, sizeof(line), FREEZE_MS, "event=metrics_file_failed",
			    ".ron.prom.tmp", "a FIFO", NULL),
		  "no metrics_file_failed naming the FIFO:\n%s", k.r.log);
	answers();
	cr_assert(is_fifo(tmp), "the FIFO was not left alone");
	/* Gone again: the file is replaced on the next tick. */
	struct inode_wait w = {tl_path("metrics/ron.prom"), inode_of(tl_path("metrics/ron.prom"))};
	cr_assert_eq(unlink(tmp), 0);
	cr_assert(tl_wait_for(inode_changed, &w, FREEZE_MS), "the file was not written again");
	kc_stop(&k);
}

/* The same FIFO there before the kernel starts: refused as a setting, at once. */
Test(files, fifo_at_the_metrics_temp_name_at_start_is_refused)
{
	cr_assert_eq(mkdir(tl_path("metrics"), 0755), 0);
	cr_assert_eq(mkfifo(tl_path("metrics/.ron.prom.tmp"), 0644), 0);
	struct out o;
	run_env(&o, (char *[]){NULL}, tl_kernel_env("run", NULL, (char *[]){metrics_env(), NULL}));
	EXIT_IS(o, 78);
	cr_assert(strstr(o.err, ".ron.prom.tmp") && strstr(o.err, "a FIFO"), "%s", o.err);
}

/* node_exporter's textfile directory may be another user's: written, not trusted;
 * what anyone may change, or a symlink, is refused. */
Test(files, metrics_directory_rules)
{
	struct out o;
	char *env[] = {metrics_env(), NULL};
	cr_assert_eq(mkdir(tl_path("metrics"), 0755), 0);
	/* A leftover of ours (a kernel killed mid-write) is cleared. */
	int fd = open(tl_path("metrics/.ron.prom.tmp"), O_WRONLY | O_CREAT | O_EXCL, 0644);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(chown(tl_path("metrics"), 65534, 65534), 0);
	struct kc k;
	start(&k, NULL, (char *[]){metrics_env(), NULL});
	struct stat st;
	cr_assert_eq(lstat(tl_path("metrics/ron.prom"), &st), 0);
	cr_assert(S_ISREG(st.st_mode) && st.st_uid == geteuid());
	cr_assert_neq(access(tl_path("metrics/.ron.prom.tmp"), F_OK), 0, "leftover kept");
	kc_stop(&k);
	cr_assert_neq(access(tl_path("metrics/.ron.prom.tmp"), F_OK), 0, "temporary file left");

	/* A regular file planted by the directory's owner is not ours to remove. */
	fd = open(tl_path("metrics/.ron.prom.tmp"), O_WRONLY | O_CREAT | O_EXCL, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fchown(fd, 65534, 65534), 0);
	close(fd);
	run_env(&o, (char *[]){NULL}, tl_kernel_env("run", NULL, env));
	EXIT_IS(o, 78);
	cr_assert(strstr(o.err, "uid 65534"), "%s", o.err);
	cr_assert_eq(access(tl_path("metrics/.ron.prom.tmp"), F_OK), 0, "someone's file removed");
	cr_assert_eq(unlink(tl_path("metrics/.ron.prom.tmp")), 0);

	cr_assert_eq(chmod(tl_path("metrics"), 0777), 0);
	run_env(&o, (char *[]){NULL}, tl_kernel_env("run", NULL, env));
	EXIT_IS(o, 78);
	cr_assert(strstr(o.err, "writable by others"), "%s", o.err);
	/* Sticky, as /tmp: others cannot touch what is ours. */
	cr_assert_eq(chmod(tl_path("metrics"), 01777), 0);
	start(&k, NULL, (char *[]){metrics_env(), NULL});
	kc_stop(&k);

	/* Above it, another user's directory is taken (Debian's /var/lib/prometheus is the
	 * exporter's): the walk refuses symlinks and holds what it opened, so nothing is
	 * swapped in later.  One that anyone may change is refused. */
	char deep[700];
	snprintf(deep, sizeof(deep), "RON_METRICS_FILE=%s", tl_path("other/m/ron.prom"));
	cr_assert_eq(mkdir(tl_path("other"), 0755), 0);
	cr_assert_eq(mkdir(tl_path("other/m"), 0755), 0);
	cr_assert_eq(chown(tl_path("other"), 65534, 65534), 0);
	cr_assert_eq(chown(tl_path("other/m"), 65534, 65534), 0);
	start(&k, NULL, (char *[]){deep, NULL});
	kc_stop(&k);
	cr_assert_eq(chmod(tl_path("other"), 0777), 0);
	run_env(&o, (char *[]){NULL}, tl_kernel_env("run", NULL, (char *[]){deep, NULL}));
	EXIT_IS(o, 78);
	cr_assert(strstr(o.err, "writable by others"), "%s", o.err);

	cr_assert_eq(rename(tl_path("metrics"), tl_path("real")), 0);
	cr_assert_eq(symlink(tl_path("real"), tl_path("metrics")), 0);
	run_env(&o, (char *[]){NULL}, tl_kernel_env("run", NULL, env));
	EXIT_IS(o, 78);
	cr_assert(strstr(o.err, "symbolic link"), "%s", o.err);
}
