/* Tests of the service table (common/services.c) and its config file (common/svcfile.c):
 * parsing, every validation error with the file:line and key it names, defaults,
 * precedence, the --check-config table, and ron-kernel --config F --check-config. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "fuzz/harness.h"
#include "services.h"
#include "sockpath.h"
#include "testlib.h"

#define WAIT_MS 20000
#define NOBODY	65534 /* a uid that owns nothing here, for the tests as root */

static struct config cfg;
static struct svc_table tab;
static char err[CFG_ERR_MAX * 2];

/* The caller's RON_ variables (a developer's shell, CI) must not change what the tests see. */
static void setup(void)
{
	tl_setup();
	for (int k = 0; k < CFG__COUNT; k++)
		unsetenv(cfg_table[k].env);
	config_defaults(&cfg);
	memset(&tab, 0, sizeof(tab));
	err[0] = '\0';
}

static void teardown(void)
{
	svctab_free(&tab);
	tl_teardown();
}

TestSuite(services, .init = setup, .fini = teardown, .timeout = 60);

/* What kernel/main.c's load() does with a file, without its environment and flags. */
static int parse(const char *text)
{
	if (svctab_read_text(&tab, &cfg, "t.conf", text, strlen(text), err, sizeof(err)) < 0)
		return -1;
	if (config_check(&cfg, err, sizeof(err)) < 0)
		return -1;
	return svctab_resolve(&tab, &cfg, err, sizeof(err));
}

/* text must fail with a message starting with `where` ("t.conf:3: ") and holding every
 * needle (NULL-terminated). */
static void bad(const char *text, const char *where, ...)
{
	svctab_free(&tab);
	config_defaults(&cfg);
	err[0] = '\0';
	cr_assert_eq(parse(text), -1, "accepted:\n%s", text);
	cr_assert_neq(err[0], '\0', "no message for:\n%s", text);
	cr_assert_null(strchr(err, '\n'), "more than one line: %s", err);
	cr_assert_eq(strncmp(err, where, strlen(where)), 0, "\"%s\" does not start with \"%s\"",
		     err, where);
	va_list ap;
	va_start(ap, where);
	for (const char *n = va_arg(ap, const char *); n; n = va_arg(ap, const char *))
		cr_assert_not_null(strstr(err, n), "\"%s\" does not say \"%s\"", err, n);
	va_end(ap);
}

static void good(const char *text)
{
	svctab_free(&tab);
	config_defaults(&cfg);
	cr_assert_eq(parse(text), 0, "refused: %s\n%s", err, text);
}

static const struct svc_def *svc(const char *name)
{
	int i = svctab_find(&tab, name);
	cr_assert_geq(i, 0, "no service %s", name);
	return &tab.v[i];
}

/* The printed table as a string (free it). */
static char *print_table(void)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	cr_assert_not_null(f);
	svctab_print(f, &tab, &cfg);
	cr_assert_eq(fclose(f), 0);
	return out;
}

/* The line of out that starts with start, in buf. */
static const char *line_starting(const char *out, const char *start, char *buf, size_t cap)
{
	for (const char *p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, start, strlen(start)) != 0)
			continue;
		size_t n = strcspn(p, "\n");
		snprintf(buf, cap, "%.*s", (int)n, p);
		return buf;
	}
	cr_assert_fail("no line starting \"%s\" in:\n%s", start, out);
	return NULL;
}

/* "start ... ; origin" is the first line starting so in out, after the text after (if any). */
static void assert_origin_after(const char *out, const char *after, const char *start,
				const char *origin)
{
	char line[2048], want[1100];
	if (after) {
		const char *at = strstr(out, after);
		cr_assert_not_null(at, "no \"%s\" in:\n%s", after, out);
		out = at;
	}
	line_starting(out, start, line, sizeof(line));
	snprintf(want, sizeof(want), "; %s", origin);
	size_t ln = strlen(line), wn = strlen(want);
	cr_assert(ln >= wn && strcmp(line + ln - wn, want) == 0, "\"%s\" does not end in \"%s\"",
		  line, want);
}

static void assert_origin(const char *out, const char *start, const char *origin)
{
	assert_origin_after(out, NULL, start, origin);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, mode), 0, "chmod %s", path);
}

/* --- the reader: sections, keys, lines --- */

Test(services, unknown_section_with_did_you_mean)
{
	bad("[kernal]\n", "t.conf:1: ", "unknown section [kernal]", "did you mean kernel?", NULL);
	bad("[service a]\nbin=a\n\n[servise b]\n", "t.conf:4: ", "unknown section [servise b]",
	    "[kernel], [service NAME]", NULL);
	bad("[zzzzzzzzzzzz]\n", "t.conf:1: ", "unknown section [zzzzzzzzzzzz]", NULL);
	cr_assert_null(strstr(err, "did you mean"), "%s", err);
}

Test(services, unknown_key_with_did_you_mean)
{
	bad("[service a]\nbin = a\nhelth_timeout_ms = 5\n",
	    "t.conf:3: ", "[service a]: unknown key helth_timeout_ms",
	    "did you mean health_timeout_ms?", NULL);
	bad("[service a]\nbni = a\n", "t.conf:2: ", "unknown key bni", "did you mean bin?", NULL);
	bad("[service a]\nBIN = a\n", "t.conf:2: ", "unknown key BIN", "did you mean bin?", NULL);
	bad("[KERNEL]\n", "t.conf:1: ", "unknown section [KERNEL]", "did you mean kernel?", NULL);
	bad("[service a]\nbin = a\nsoket = /x\n", "t.conf:3: ", "unknown key soket",
	    "did you mean socket?", NULL);
	bad("[kernel]\nrun_dri = /x\n[service a]\nbin=a\n",
	    "t.conf:2: ", "[kernel]: unknown key run_dri", "did you mean run_dir?", NULL);
	/* A kernel-only setting is not a service's, and the config file names no file. */
	bad("[service a]\nbin = a\nrun_dir = /x\n", "t.conf:3: ", "unknown key run_dir", NULL);
	bad("[kernel]\nconfig = /x\n[service a]\nbin=a\n", "t.conf:2: ", "unknown key config",
	    NULL);
	bad("[service a]\nbin = a\nqqqqqqqqqq = 1\n", "t.conf:3: ", "unknown key qqqqqqqqqq", NULL);
	cr_assert_null(strstr(err, "did you mean"), "%s", err);
}

Test(services, key_outside_any_section)
{
	bad("bin = /x\n[service a]\nbin = a\n", "t.conf:1: ", "bin outside any section", NULL);
	bad("; a comment\n\nhealth_interval_ms = 5\n",
	    "t.conf:3: ", "health_interval_ms outside any section", NULL);
}

Test(services, missing_bin)
{
	bad("[service a]\nsocket = /tmp/a.sock\n", "t.conf:1: ", "[service a]: bin is missing",
	    NULL);
	/* A section with no key at all still exists and lacks its bin. */
	bad("[service b]\nbin = b\n[service a]\n", "t.conf:3: ", "[service a]: bin is missing",
	    NULL);
	bad("[service a]\n[service b]\nbin = b\n", "t.conf:1: ", "[service a]: bin is missing",
	    NULL);
	bad("[service a]\nbin =\n", "t.conf:2: ", "[service a]: bin is empty", NULL);
}

Test(services, names)
{
	static const char *const badnames[] = {"A",   "Svc", "-a",  ".a",	"_a",
					       "a/b", "a b", "a;b", "\xc3\xa4", "a\\b"};
	char text[512], why[256];
	for (size_t i = 0; i < sizeof(badnames) / sizeof(badnames[0]); i++) {
		snprintf(text, sizeof(text), "[service x]\nbin = x\n[service %s]\nbin = y\n",
			 badnames[i]);
		bad(text, "t.conf:3: ", "bad service name", "[a-z0-9][a-z0-9._-]{0,62}", NULL);
		cr_assert_eq(svc_name_check(badnames[i], why, sizeof(why)), -1, "%s", badnames[i]);
	}
	bad("[service ]\nbin = x\n", "t.conf:1: ", "bad service name \"\"", NULL);
	char n63[64], n64[65];
	memset(n63, 'a', 63);
	n63[63] = '\0';
	memset(n64, 'b', 64);
	n64[64] = '\0';
	snprintf(text, sizeof(text), "[service %s]\nbin = x\n", n64);
	bad(text, "t.conf:1: ", "bad service name", n64, NULL);
	cr_assert_eq(svc_name_check(n64, why, sizeof(why)), -1);
	/* 63 bytes is a name; its derived socket variable would not fit, so it names one. */
	snprintf(text, sizeof(text), "[service %s]\nbin = x\n", n63);
	bad(text, "t.conf:1: ", "socket_env", "set socket_env", NULL);
	snprintf(text, sizeof(text), "[service %s]\nbin = x\nsocket_env = RON_LONG_SOCK\n", n63);
	good(text);
	cr_assert_str_eq(tab.v[0].name, n63);
	static const char *const goodnames[] = {"a", "0", "9lives", "a.b_c-d", "svc-x", "a-"};
	for (size_t i = 0; i < sizeof(goodnames) / sizeof(goodnames[0]); i++)
		cr_assert_eq(svc_name_check(goodnames[i], why, sizeof(why)), 0, "%s: %s",
			     goodnames[i], why);
}

Test(services, same_name_twice)
{
	bad("[service a]\nbin = a\n\n[service a]\nbin = b\n",
	    "t.conf:4: ", "[service a]: a second service named a (the first is at line 1)", NULL);
}

Test(services, same_socket)
{
	bad("[service a]\nbin = a\nsocket = /tmp/x.sock\n[service b]\nbin = b\n"
	    "socket = /tmp/x.sock\n",
	    "t.conf:6: ", "[service b]: socket /tmp/x.sock is also a's", NULL);
	/* A derived socket meets a configured one: the message points at b's header. */
	bad("[kernel]\nrun_dir = /tmp/r\n[service a]\nbin = a\nsocket = /tmp/r/b.sock\n"
	    "[service b]\nbin = b\n",
	    "t.conf:6: ", "[service b]: socket /tmp/r/b.sock is also a's", NULL);
	/* A disabled service shares nothing. */
	good("[service a]\nbin = a\nsocket = /tmp/x.sock\n[service b]\nbin = b\n"
	     "socket = /tmp/x.sock\nenabled = no\n");
}

Test(services, same_socket_env)
{
	bad("[service a]\nbin = a\nsocket_env = RON_X\n[service b]\nbin = b\n\nsocket_env = "
	    "RON_X\n",
	    "t.conf:7: ", "[service b]: socket_env RON_X is also a's", NULL);
	/* "index" derives the variable the seed svc-index has. */
	bad("[service svc-index]\n[service index]\nbin = i\n",
	    "t.conf:2: ", "[service index]: socket_env RON_INDEX_SOCK is also svc-index's", NULL);
}

/* A service's cgroup is a directory beside cgroup v2's interface files. */
Test(services, names_of_cgroup_interface_files_are_refused)
{
	static const char *const names[] = {"cgroup.procs", "memory.max", "cpu.weight",
					    "io.max",	    "pids.max",	  "cgroup.kill"};
	char text[128], want[128];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(text, sizeof(text), "[service %s]\nbin = b\nhealth = none\n", names[i]);
		snprintf(want, sizeof(want), "bad service name \"%s\"", names[i]);
		bad(text, "t.conf:1: ", want, "cgroup interface files", NULL);
	}
	good("[service cpu-bound]\nbin = b\nhealth = none\n[service memoryhog]\nbin = b\n"
	     "health = none\n[service io]\nbin = b\nhealth = none\n[service my.cpu.x]\nbin = "
	     "b\nhealth = none\n");
}

/* Exported to every service and monitor, and set in the kernel's own environment. */
/* A health = none service without a socket has nothing to tell in a variable. */
Test(services, socket_env_without_a_socket_is_refused)
{
	bad("[service a]\nbin = /bin/sleep\nhealth = none\nsocket_env = RON_A_S\n",
	    "t.conf:4: ", "[service a]: socket_env = RON_A_S, but the service has no socket",
	    "remove socket_env, or set socket", NULL);
	good("[service a]\nbin = /bin/sleep\nhealth = none\nsocket_env = RON_A_S\nsocket = "
	     "/tmp/ron-t/a.sock\n");
}

Test(services, socket_env_that_processes_rely_on_is_refused)
{
	static const char *const vars[] = {"PATH", "HOME", "LD_PRELOAD", "LD_LIBRARY_PATH",
					   "NOTIFY_SOCKET"};
	char text[128], want[128];
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		snprintf(text, sizeof(text), "[service a]\nbin = a\nsocket_env = %s\n", vars[i]);
		snprintf(want, sizeof(want), "socket_env %s is a variable every process relies on",
			 vars[i]);
		bad(text, "t.conf:3: ", want, NULL);
	}
	bad("[service a]\nbin = a\nsocket_env = RON_HEALTH_TIMEOUT_MS\n",
	    "t.conf:3: ", "socket_env RON_HEALTH_TIMEOUT_MS is ron-kernel's own setting", NULL);
	bad("[service a]\nbin = a\nsocket_env = RON_RUN_DIR\n",
	    "t.conf:3: ", "socket_env RON_RUN_DIR is ron-kernel's own setting", NULL);
	/* Made from the name, it says so (and where: the service's header). */
	bad("[service index]\nbin = i\n",
	    "t.conf:1: ", "socket_env RON_INDEX_SOCK is ron-kernel's own setting",
	    "made from the service's name", NULL);
	/* A seed service's own variable is its own. */
	good("[service svc-index]\nsocket_env = RON_INDEX_SOCK\n");
	good("[service a]\nbin = a\nsocket_env = PATHS\n");
}

Test(services, after_unknown_self_and_disabled)
{
	bad("[service a]\nbin = a\nafter = b zz\n[service b]\nbin = b\n",
	    "t.conf:3: ", "[service a]: after=zz: no service named zz", NULL);
	bad("[service a]\nbin = a\nafter = a\n", "t.conf:3: ", "after=a", "cannot wait for itself",
	    NULL);
	bad("[service a]\nbin = a\nafter = b\n[service b]\nbin = b\nenabled = no\n",
	    "t.conf:3: ", "after=b: b is not enabled", NULL);
}

Test(services, after_cycle_is_named)
{
	bad("[service a]\nbin = a\nafter = b\n[service b]\nbin = b\nafter = c\n"
	    "[service c]\nbin = c\nafter = a\n",
	    "t.conf:9: ", "[service c]: after: a cycle: a -> b -> c -> a", NULL);
	/* A cycle that does not start at the first service; d only leads into it. */
	bad("[service d]\nbin = d\nafter = x\n[service x]\nbin = x\nafter = y\n"
	    "[service y]\nbin = y\nafter = x\n",
	    "t.conf:9: ", "a cycle: x -> y -> x", NULL);
	cr_assert_null(strstr(err, "d ->"), "%s", err);
	/* A diamond is no cycle. */
	good("[service a]\nbin = a\n[service b]\nbin = b\nafter = a\n[service c]\nbin = c\n"
	     "after = a\n[service d]\nbin = d\nafter = b c\n");
	const struct svc_def *d = svc("d");
	cr_assert_eq(d->nafter, 2);
	cr_assert_eq(d->after[0], svctab_find(&tab, "b"));
	cr_assert_eq(d->after[1], svctab_find(&tab, "c"));
}

/* Runs body in a child that has given up root (uid and gid NOBODY); returns its exit
 * status, its message in msg. */
static int as_nobody(int (*body)(char *msg, size_t cap), char *msg, size_t cap)
{
	int pfd[2];
	cr_assert_eq(pipe(pfd), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(pfd[0]);
		char m[CFG_ERR_MAX * 2] = "";
		int rc = 99;
		if (setresgid(NOBODY, NOBODY, NOBODY) < 0 || setresuid(NOBODY, NOBODY, NOBODY) < 0)
			snprintf(m, sizeof(m), "setresuid: %s", strerror(errno));
		else
			rc = body(m, sizeof(m));
		ssize_t w = write(pfd[1], m, strlen(m) + 1);
		(void)w;
		_exit(rc);
	}
	close(pfd[1]);
	size_t got = 0;
	ssize_t n;
	while (got + 1 < cap && (n = read(pfd[0], msg + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	msg[got] = '\0';
	close(pfd[0]);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st), "child status %d", st);
	return WEXITSTATUS(st);
}

static int parse_user_line(char *msg, size_t cap)
{
	int rc = parse("[service a]\nbin = a\nuser = root\n");
	snprintf(msg, cap, "%s", err);
	return rc < 0 ? 1 : 0;
}

Test(services, user_needs_root)
{
	char msg[CFG_ERR_MAX * 2];
	int rc;
	if (geteuid() == 0) {
		rc = as_nobody(parse_user_line, msg, sizeof(msg));
	} else {
		rc = parse_user_line(msg, sizeof(msg));
	}
	cr_assert_eq(rc, 1, "accepted user= without root: %s", msg);
	const char *want = "t.conf:3: [service a]: user=root needs ron-kernel to run as root";
	cr_assert(strncmp(msg, want, strlen(want)) == 0, "%s", msg);
	cr_assert_not_null(strstr(msg, "runs as uid"), "%s", msg);
}

/* Refused as root or not: a group alone still ran the service as uid 0. */
Test(services, group_without_user_is_refused)
{
	bad("[service a]\nbin = a\ngroup = nogroup\n",
	    "t.conf:3: ", "[service a]: group=nogroup without user: the service would run as root",
	    NULL);
	if (geteuid() == 0)
		good("[service a]\nbin = a\nuser = root\ngroup = nogroup\n");
}

Test(services, user_that_does_not_exist)
{
	if (geteuid() != 0) {
		bad("[service a]\nbin = a\nuser = ron-no-such-user\n",
		    "t.conf:3: ", "user=ron-no-such-user needs ron-kernel to run as root", NULL);
		return;
	}
	bad("[service a]\nbin = a\nuser = ron-no-such-user\n",
	    "t.conf:3: ", "[service a]: user=ron-no-such-user: no such user", NULL);
	bad("[service a]\nbin = a\nuser = root\ngroup = ron-no-such-group\n",
	    "t.conf:4: ", "[service a]: group=ron-no-such-group: no such group", NULL);
	bad("[service a]\nbin = a\nuser = nobody\n\ngroup = ron-no-such-group\n",
	    "t.conf:5: ", "group=ron-no-such-group: no such group", NULL);
	bad("[service a]\nbin = a\nuser =\n", "t.conf:3: ", "user is empty", NULL);
	/* A real user: its uid, and its own group unless one is named. */
	good("[service a]\nbin = a\nuser = nobody\n[service b]\nbin = b\nuser = nobody\n"
	     "group = root\n");
	cr_assert_eq(svc("a")->uid, NOBODY);
	cr_assert_eq(svc("a")->gid, NOBODY);
	cr_assert_eq(svc("b")->uid, NOBODY);
	cr_assert_eq(svc("b")->gid, 0);
}

/* --- the file itself --- */

static int read_root_file(char *msg, size_t cap)
{
	int rc =
	    svctab_read_file(&tab, &cfg, tl_path("c.conf"), "--config=c.conf", err, sizeof(err));
	snprintf(msg, cap, "%s", err);
	return rc < 0 ? 1 : 0;
}

Test(services, file_not_readable)
{
	cr_assert_eq(svctab_read_file(&tab, &cfg, tl_path("none.conf"), "RON_CONFIG=none.conf", err,
				      sizeof(err)),
		     -1);
	cr_assert_str_eq(err, "RON_CONFIG=none.conf: open: No such file or directory");
	cr_assert_eq(svctab_read_file(&tab, &cfg, tl_dir(), "--config=DIR", err, sizeof(err)), -1);
	cr_assert_str_eq(err, "--config=DIR: not a regular file: a directory");
	/* A FIFO with no writer: refused at once, never waited on. */
	cr_assert_eq(mkfifo(tl_path("fifo.conf"), 0600), 0);
	cr_assert_eq(
	    svctab_read_file(&tab, &cfg, tl_path("fifo.conf"), "--config=FIFO", err, sizeof(err)),
	    -1);
	cr_assert_str_eq(err, "--config=FIFO: not a regular file: a FIFO");
	write_file(tl_path("c.conf"), "[service a]\nbin = a\n", 0600);
	char msg[CFG_ERR_MAX * 2];
	int rc;
	if (geteuid() == 0) {
		cr_assert_eq(chmod(tl_dir(), 0755), 0);
		rc = as_nobody(read_root_file, msg, sizeof(msg));
	} else {
		cr_assert_eq(chmod(tl_path("c.conf"), 0), 0);
		rc = read_root_file(msg, sizeof(msg));
	}
	cr_assert_eq(rc, 1, "read a file of mode 0600 (root's) or 0: %s", msg);
	cr_assert_str_eq(msg, "--config=c.conf: open: Permission denied");
}

Test(services, file_writable_by_others_as_root)
{
	if (geteuid() != 0)
		cr_skip_test("these checks apply to a kernel running as root; this runs as uid %u",
			     (unsigned)geteuid());
	const char *p = tl_path("c.conf");
	const char *text = "[service a]\nbin = a\n";
	write_file(p, text, 0666);
	cr_assert_eq(svctab_read_file(&tab, &cfg, p, "--config=c.conf", err, sizeof(err)), -1);
	cr_assert_str_eq(err, "--config=c.conf: writable by others (mode 0666); refused as root");
	cr_assert_eq(chmod(p, 0620), 0);
	cr_assert_eq(svctab_read_file(&tab, &cfg, p, "--config=c.conf", err, sizeof(err)), -1);
	cr_assert_str_eq(err,
			 "--config=c.conf: writable by its group (mode 0620); refused as root");
	cr_assert_eq(chmod(p, 0644), 0);
	cr_assert_eq(chown(p, NOBODY, 0), 0);
	cr_assert_eq(svctab_read_file(&tab, &cfg, p, "--config=c.conf", err, sizeof(err)), -1);
	cr_assert_str_eq(err, "--config=c.conf: owned by uid 65534, not root; refused as root");
	cr_assert_eq(chown(p, 0, 0), 0);
	cr_assert_eq(svctab_read_file(&tab, &cfg, p, "--config=c.conf", err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(tab.n, 1);
	cr_assert_str_eq(tab.path, p);
}

Test(services, more_than_1024_services)
{
	size_t cap = (SVC_MAX + 1) * 40 + 64;
	char *text = malloc(cap);
	cr_assert_not_null(text);
	size_t o = 0;
	for (int i = 0; i < SVC_MAX; i++)
		o += (size_t)snprintf(text + o, cap - o, "[service s%d]\nbin = b\n", i);
	good(text);
	cr_assert_eq(tab.n, SVC_MAX);
	cr_assert_eq(svctab_enabled(&tab), SVC_MAX);
	snprintf(text + o, cap - o, "[service s%d]\nbin = b\n", SVC_MAX);
	char where[32];
	snprintf(where, sizeof(where), "t.conf:%d: ", 2 * SVC_MAX + 1);
	bad(text, where, "[service s1024]: more than 1024 services", NULL);
	free(text);
}

Test(services, line_longer_than_inih_takes)
{
	const int max = INI_MAX_LINE - 1; /* 199, as README.md and ron-kernel(8) say */
	char text[INI_MAX_LINE * 2 + 64];
	/* The longest line inih reads whole is accepted... */
	int n = snprintf(text, sizeof(text), "[service a]\nbin = a\nargs = ");
	memset(text + n, 'x', (size_t)(max - 7));
	strcpy(text + n + max - 7, "\n");
	good(text);
	cr_assert_eq(svc("a")->nargs, 1);
	cr_assert_eq(strlen(svc("a")->args[0]), (size_t)max - 7);
	/* ...one byte more is refused at its line, also as the last line without a newline. */
	memset(text + n, 'x', (size_t)(max - 6));
	strcpy(text + n + max - 6, "\n");
	char msg[64];
	snprintf(msg, sizeof(msg), "line longer than %d bytes", max);
	bad(text, "t.conf:3: ", msg, "indented lines", NULL);
	text[strlen(text) - 1] = '\0';
	bad(text, "t.conf:3: ", msg, NULL);
	/* A CRLF line has the same limit. */
	memset(text + n, 'y', (size_t)(max - 7));
	strcpy(text + n + max - 7, "\r\nenv = A=1\r\n");
	good(text);
	cr_assert_eq(strlen(svc("a")->args[0]), (size_t)max - 7);
	cr_assert_str_eq(svc("a")->env[0], "A=1");
}

Test(services, lines_inih_would_refuse)
{
	bad("[service a\nbin = a\n", "t.conf:1: ", "without its closing ]", NULL);
	bad("[service a ;]\nbin = a\n", "t.conf:1: ", "without its closing ]", NULL);
	/* Reported at the line itself, not at a later line that fails too. */
	bad("[service a]\nbin = a\njust words\nnot_a_key = 1\n",
	    "t.conf:3: ", "not a section header, a key = value line or a comment", NULL);
	bad("[service a] bin = a\n", "t.conf:1: ", "[service a]: text after the section header",
	    NULL);
	/* parse() uses strlen: feed the NUL through read_text directly. */
	static const char nul[] = "[service a]\nbin = a\nargs = x\0y\n";
	svctab_free(&tab);
	cr_assert_eq(svctab_read_text(&tab, &cfg, "t.conf", nul, sizeof(nul) - 1, err, sizeof(err)),
		     -1);
	cr_assert_str_eq(err, "t.conf:3: a NUL byte in the line");
	/* Blanks are what inih calls blanks: a header after a form feed is a header when
	 * no key precedes it in its section... */
	good("[kernel]\n\f[service b]\nbin = b\n");
	cr_assert_eq(tab.n, 1);
	cr_assert_str_eq(svc("b")->bin, "b");
	/* ...and else it continues that key, as inih reads it. */
	bad("[service a]\nbin = a\n\f[service b]\nbin = b\n",
	    "t.conf:3: ", "[service a]: bin cannot continue on an indented line", NULL);
	/* ...and so is one after a lone carriage return ahead of any key. */
	good("\r[service a]\nbin = a\n");
	cr_assert_eq(tab.n, 1);
	/* A comment after a header, CRLF lines, a UTF-8 BOM, ':' for '='. */
	good("\xEF\xBB\xBF[service a] ; the first\r\nbin : /bin/a\r\n\r\n[kernel]\r\n"
	     "run_dir=/tmp/x ; inline\r\n");
	cr_assert_str_eq(svc("a")->bin, "/bin/a");
	cr_assert_str_eq(config_str(&cfg, CFG_RUN_DIR), "/tmp/x");
	cr_assert_eq(svc("a")->line, 1);
	cr_assert_eq(cfg.line[CFG_RUN_DIR], 5);
}

Test(services, no_service_section)
{
	bad("", "t.conf: no [service NAME] section", NULL);
	bad("[kernel]\nrun_dir = /tmp/x\n", "t.conf: no [service NAME] section", NULL);
	bad("[service a]\nbin = a\nenabled = no\n", "t.conf: every service is disabled", NULL);
}

/* --- values --- */

Test(services, bad_values_of_typed_keys)
{
#define SVC "[service a]\nbin = a\n"
	bad(SVC "health = v2\n", "t.conf:3: ", "[service a]: health=v2: not one of v1.health, none",
	    NULL);
	bad(SVC "stop_signal = STOP\n", "t.conf:3: ", "stop_signal=STOP: not a signal", NULL);
	bad(SVC "stop_signal = NOPE\n", "t.conf:3: ", "stop_signal=NOPE: not a signal", NULL);
	bad(SVC "stop_signal = 0\n", "t.conf:3: ", "stop_signal=0", NULL);
	bad(SVC "stop_signal = 65\n", "t.conf:3: ", "stop_signal=65", NULL);
	bad(SVC "stop_signal = -15\n", "t.conf:3: ", "stop_signal=-15", NULL);
	bad(SVC "enabled = maybe\n", "t.conf:3: ", "enabled=maybe: not one of yes, no, true, false",
	    NULL);
	bad(SVC "working_dir = var/lib\n",
	    "t.conf:3: ", "working_dir=var/lib: not an absolute path", NULL);
	bad(SVC "working_dir =\n", "t.conf:3: ", "working_dir=: not an absolute path", NULL);
	bad(SVC "env = NOEQUALS\n", "t.conf:3: ", "env=NOEQUALS: not NAME=VALUE", NULL);
	bad(SVC "env = 1A=x\n", "t.conf:3: ", "env=1A=x: not NAME=VALUE", NULL);
	bad(SVC "env = =x\n", "t.conf:3: ", "env==x: not NAME=VALUE", NULL);
	bad(SVC "env = A-B=x\n", "t.conf:3: ", "env=A-B=x", NULL);
	bad(SVC "socket_env = 1X\n", "t.conf:3: ", "socket_env=1X: not a variable name", NULL);
	bad(SVC "socket_env = A.B\n", "t.conf:3: ", "socket_env=A.B: not a variable name", NULL);
	bad(SVC "socket_env =\n", "t.conf:3: ", "socket_env=: not a variable name", NULL);
	char text[512], long_var[SVC_ENV_MAX + 1];
	memset(long_var, 'V', SVC_ENV_MAX);
	long_var[SVC_ENV_MAX] = '\0';
	snprintf(text, sizeof(text), SVC "socket_env = %s\n", long_var);
	bad(text, "t.conf:3: ", "not a variable name", "at most 63 bytes", NULL);
	bad(SVC "health_service =\n", "t.conf:3: ", "health_service=: 1 to 63 bytes", NULL);
	bad(SVC "args = one \"two\n", "t.conf:3: ", "args=one \"two: a \" is not closed", NULL);
	bad(SVC "socket = tmp/a.sock\n", "t.conf:3: ", "socket=tmp/a.sock: not an absolute path",
	    NULL);
	char longsock[SOCKPATH_MAX + 16];
	memset(longsock, 's', sizeof(longsock) - 1);
	longsock[0] = '/';
	longsock[sizeof(longsock) - 1] = '\0';
	snprintf(text, sizeof(text), SVC "socket = %s\n", longsock);
	bad(text, "t.conf:3: ", "socket=/sss", "too long", NULL);
	bad(SVC "socket =\n", "t.conf:3: ", "socket is empty", "health = none", NULL);
	/* A number set for one service: the table's own rules and ranges. */
	bad(SVC "health_timeout_ms = abc\n", "t.conf:3: ",
	    "[service a]: health_timeout_ms=abc: not a number (accepted: 1..600000 ms)", NULL);
	bad(SVC "health_timeout_ms = 0\n",
	    "t.conf:3: ", "health_timeout_ms=0: out of range (accepted: 1..600000 ms)", NULL);
	bad(SVC "health_failures = 101\n",
	    "t.conf:3: ", "health_failures=101: out of range (accepted: 1..100)", NULL);
	bad(SVC "restart_cap =\n", "t.conf:3: ", "restart_cap is empty", NULL);
	bad(SVC "health_interval_ms = 1e3\n", "t.conf:3: ", "health_interval_ms=1e3: not a number",
	    NULL);
	/* And in [kernel]. */
	bad("[kernel]\nhealth_interval_ms = abc\n" SVC, "t.conf:2: ",
	    "[kernel]: health_interval_ms=abc: not a number (accepted: 10..3600000 ms)", NULL);
	bad("[kernel]\nlog_format = xml\n" SVC,
	    "t.conf:2: ", "log_format=xml: not one of text, json", NULL);
	bad("[kernel]\nrun_dir = relative\n" SVC, "t.conf:2: ", "run_dir=relative",
	    "not an absolute path", NULL);
	/* Only args and env go on over indented lines. */
	bad("[service a]\nbin = a\n  more\n", "t.conf:3: ", "bin cannot continue", NULL);
	bad(SVC "health_timeout_ms = 5\n  6\n", "t.conf:4: ", "health_timeout_ms cannot continue",
	    NULL);
	bad("[kernel]\nrun_dir = /a\n  /b\n" SVC, "t.conf:3: ", "[kernel]: run_dir cannot continue",
	    NULL);
	bad(SVC "env = A=1\n  oops\n", "t.conf:4: ", "env=oops: not NAME=VALUE", NULL);
#undef SVC
}

Test(services, health_timeout_below_interval_per_service)
{
	/* The service's own timeout against the kernel's interval (1000 by default). */
	bad("[service a]\nbin = a\nhealth_timeout_ms = 1000\n", "t.conf:3: ",
	    "[service a]: health_timeout_ms=1000 must be less than health_interval_ms=1000", NULL);
	/* Its own interval against the kernel's timeout: the line of what it set. */
	bad("[kernel]\nhealth_timeout_ms = 300\n[service a]\nbin = a\n\nhealth_interval_ms = 300\n",
	    "t.conf:6: ", "health_timeout_ms=300 must be less than health_interval_ms=300", NULL);
	bad("[service a]\nbin = a\nbackoff_min_ms = 50000\n",
	    "t.conf:3: ", "backoff_min_ms=50000 must be at most backoff_max_ms=30000", NULL);
	/* Both set: fine when the service's pair holds, whatever the kernel's are. */
	good("[kernel]\nhealth_interval_ms = 100\nhealth_timeout_ms = 50\n[service a]\nbin = a\n"
	     "health_interval_ms = 5000\nhealth_timeout_ms = 4999\n");
	cr_assert_eq(svc_num(svc("a"), &cfg, CFG_HEALTH_TIMEOUT_MS), 4999);
	/* In [kernel], config_check's message names the file's line. */
	bad("[kernel]\nhealth_interval_ms = 100\nhealth_timeout_ms = 100\n[service a]\nbin = a\n",
	    "t.conf:3: health_timeout_ms", "health_interval_ms", NULL);
}

Test(services, key_set_twice)
{
	bad("[service a]\nbin = a\nsocket = /tmp/a\n\nbin = b\n",
	    "t.conf:5: ", "[service a]: bin is set twice (first at line 2)", NULL);
	bad("[service a]\nbin = a\nhealth_timeout_ms = 5\nhealth_timeout_ms = 6\n",
	    "t.conf:4: ", "health_timeout_ms is set twice (first at line 3)", NULL);
	bad("[service a]\nbin = a\nargs = x\nargs = y\n",
	    "t.conf:4: ", "args is set twice (first at line 3)", NULL);
	bad("[service a]\nbin = a\nafter =\nafter =\n", "t.conf:4: ", "after is set twice", NULL);
	bad("[kernel]\nrun_dir = /a\nrun_dir = /b\n[service a]\nbin = a\n",
	    "t.conf:3: ", "[kernel]: run_dir is set twice (first at line 2)", NULL);
	/* [kernel] twice is one section read in two parts; a key still only once. */
	bad("[kernel]\nrun_dir = /a\n[service a]\nbin = a\n[kernel]\nrun_dir = /b\n",
	    "t.conf:6: ", "run_dir is set twice (first at line 2)", NULL);
}

/* --- what a good file gives --- */

Test(services, args_split_and_quoted)
{
	good(
	    "[service a]\nbin = a\n"
	    "args = plain \"two words\" \"say \\\"hi\\\"\" back\\slash \"a\\\\b\" \"\" x\"y z\"\n");
	const struct svc_def *d = svc("a");
	static const char *const want[] = {"plain", "two words", "say \"hi\"", "back\\slash",
					   "a\\b",  "",		 "xy z"};
	cr_assert_eq(d->nargs, 7, "%d args", d->nargs);
	for (int i = 0; i < 7; i++)
		cr_assert_str_eq(d->args[i], want[i], "arg %d", i);
	cr_assert_null(d->args[7]);

	char **v = NULL, why[64];
	int n = 0;
	cr_assert_eq(svc_split_args("  \t ", &v, &n, why, sizeof(why)), 0);
	cr_assert_eq(n, 0);
	cr_assert_eq(svc_split_args("a\t\"b c\"", &v, &n, why, sizeof(why)), 0);
	cr_assert_eq(svc_split_args("d", &v, &n, why, sizeof(why)), 0);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(v[1], "b c");
	cr_assert_str_eq(v[2], "d");
	cr_assert_null(v[3]);
	cr_assert_eq(svc_split_args("\"\\\"", &v, &n, why, sizeof(why)), -1);
	cr_assert_str_eq(why, "a \" is not closed");
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

Test(services, continuation_lines_and_repeated_env)
{
	good("[service a]\nbin = a\n"
	     "args = --data /var/lib/x\n"
	     "    --name \"a b\"\n"
	     "\t--last\n"
	     "; a comment does not end it\n"
	     "  --after-comment\n"
	     "env = A=1\n"
	     "  B=2\n"
	     "env = C=three words\n"
	     "env = A=again\n");
	const struct svc_def *d = svc("a");
	static const char *const args[] = {"--data", "/var/lib/x", "--name",
					   "a b",    "--last",	   "--after-comment"};
	cr_assert_eq(d->nargs, 6, "%d args", d->nargs);
	for (int i = 0; i < 6; i++)
		cr_assert_str_eq(d->args[i], args[i]);
	static const char *const env[] = {"A=1", "B=2", "C=three words", "A=again"};
	cr_assert_eq(d->nenv, 4);
	for (int i = 0; i < 4; i++)
		cr_assert_str_eq(d->env[i], env[i]);
	cr_assert_null(d->env[4]);
	cr_assert_eq(d->key_line[SK_ARGS], 3);
	cr_assert_eq(d->key_line[SK_ENV], 11);
}

Test(services, seed_names_keep_their_variables)
{
	cr_assert_eq(setenv("RON_SVC_INDEX_BIN", "/opt/ron/idx", 1), 0);
	cr_assert_eq(setenv("RON_INDEX_SOCK", "/tmp/cfgt/idx.sock", 1), 0);
	static const char text[] = "[service svc-index]\n[service svc-storage]\nbin = /s\n";
	cr_assert_eq(svctab_read_text(&tab, &cfg, "t.conf", text, strlen(text), err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(config_from_env(&cfg, CFG_KERNEL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(svctab_resolve(&tab, &cfg, err, sizeof(err)), 0, "%s", err);
	const struct svc_def *d = svc("svc-index");
	cr_assert_str_eq(d->bin, "/opt/ron/idx");
	cr_assert_str_eq(d->sock, "/tmp/cfgt/idx.sock");
	cr_assert_str_eq(d->sock_env, "RON_INDEX_SOCK");
	cr_assert_str_eq(d->health_service, "svc.index");
	d = svc("svc-storage");
	cr_assert_str_eq(d->bin, "/s");
	cr_assert_str_eq(d->sock, "/tmp/ron/svc-storage.sock");
	cr_assert_str_eq(d->sock_env, "RON_STORAGE_SOCK");
	char *out = print_table();
	assert_origin(out, "bin = /opt/ron/idx", "env RON_SVC_INDEX_BIN");
	assert_origin(out, "socket = /tmp/cfgt/idx.sock", "env RON_INDEX_SOCK");
	assert_origin(out, "bin = /s", "t.conf:3");
	assert_origin(out, "socket = /tmp/ron/svc-storage.sock", "default");
	free(out);
}

Test(services, seed_table_without_a_file)
{
	cr_assert_eq(setenv("RON_OVERLAY_SOCK", "/tmp/cfgt/o.sock", 1), 0);
	cr_assert_eq(config_from_env(&cfg, CFG_KERNEL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(svctab_seed(&tab, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(tab.n, 3);
	cr_assert_str_eq(tab.v[0].name, "svc-index");
	cr_assert_str_eq(tab.v[1].sock, "/tmp/cfgt/o.sock");
	cr_assert_str_eq(tab.v[2].bin, "svc-storage");
	cr_assert_eq(tab.v[0].line, 0);
	char *out = print_table();
	cr_assert_not_null(strstr(out, "; no config file: ok, 3 services"), "%s", out);
	free(out);
	/* A seed socket that cannot be one is named by its variable. */
	svctab_free(&tab);
	cr_assert_eq(
	    config_set(&cfg, CFG_INDEX_SOCK, "relative.sock", CFG_SRC_ENV, err, sizeof(err)), 0);
	cr_assert_eq(svctab_seed(&tab, &cfg, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "RON_INDEX_SOCK=relative.sock: not an absolute path");
}

Test(services, derived_defaults_for_other_names)
{
	good("[kernel]\nrun_dir = /tmp/cfgt-run\n[service svc-foo]\nbin = foo\n"
	     "[service my.svc-2]\nbin = two\n[service c]\nbin = c\nsocket = /tmp/c.sock\n"
	     "socket_env = C_SOCKET\nhealth_service = custom.name\n");
	const struct svc_def *d = svc("svc-foo");
	cr_assert_str_eq(d->sock, "/tmp/cfgt-run/svc-foo.sock");
	cr_assert_str_eq(d->sock_env, "RON_FOO_SOCK");
	cr_assert_str_eq(d->health_service, "svc.foo");
	cr_assert_eq(d->health, SVC_HEALTH_V1);
	cr_assert_eq(d->stop_signal, SIGTERM);
	cr_assert(d->enabled);
	cr_assert_null(d->user);
	cr_assert_null(d->working_dir);
	cr_assert_eq(d->nargs, 0);
	d = svc("my.svc-2");
	cr_assert_str_eq(d->sock, "/tmp/cfgt-run/my.svc-2.sock");
	cr_assert_str_eq(d->sock_env, "RON_MY_SVC_2_SOCK");
	d = svc("c");
	cr_assert_str_eq(d->sock, "/tmp/c.sock");
	cr_assert_str_eq(d->sock_env, "C_SOCKET");
	cr_assert_str_eq(d->health_service, "custom.name");
	char out[64];
	svc_sock_env_name("svc-index", out, sizeof(out));
	cr_assert_str_eq(out, "RON_INDEX_SOCK");
	svc_sock_env_name("my.svc-2", out, sizeof(out));
	cr_assert_str_eq(out, "RON_MY_SVC_2_SOCK");
	/* A run directory too long for the socket under it. */
	char text[1400], dir[SOCKPATH_MAX + 2];
	memset(dir, 'd', sizeof(dir) - 1);
	dir[0] = '/';
	dir[sizeof(dir) - 1] = '\0';
	snprintf(text, sizeof(text), "[kernel]\nrun_dir = %.150s\n[service a]\nbin = a\n", dir);
	bad(text, "t.conf:3: ", "[service a]: socket=/ddd", "too long", NULL);
}

Test(services, health_none_and_other_values)
{
	good("[service a]\nbin = a\nhealth = none\n"
	     "[service b]\nbin = b\nhealth = none\nsocket = /tmp/b.sock\n"
	     "[service c]\nbin = c\nstop_signal = SIGINT\nenabled = off\nworking_dir = /var\n"
	     "[service d]\nbin = d\nstop_signal = 9\nhealth = v1.health\nenabled = true\n");
	const struct svc_def *d = svc("a");
	cr_assert_eq(d->health, SVC_HEALTH_NONE);
	cr_assert_str_eq(d->sock, "");
	cr_assert_str_eq(d->sock_env, "");
	d = svc("b");
	cr_assert_str_eq(d->sock, "/tmp/b.sock");
	cr_assert_str_eq(d->sock_env, "RON_B_SOCK");
	d = svc("c");
	cr_assert_eq(d->stop_signal, SIGINT);
	cr_assert_not(d->enabled);
	cr_assert_str_eq(d->working_dir, "/var");
	d = svc("d");
	cr_assert_eq(d->stop_signal, SIGKILL);
	cr_assert(d->enabled);
	cr_assert_eq(svctab_enabled(&tab), 3);
	char *out = print_table();
	cr_assert_not_null(strstr(out, "ok, 3 services (and 1 disabled)"), "%s", out);
	assert_origin(out, "socket = ", "default: none");
	assert_origin(out, "stop_signal = INT", "t.conf:10");
	assert_origin(out, "stop_signal = KILL", "t.conf:15");
	assert_origin(out, "enabled = no", "t.conf:11");
	assert_origin(out, "stop_signal = TERM", "default");
	free(out);
}

Test(services, per_service_setting_wins)
{
	good("[kernel]\nhealth_interval_ms = 2000\nhealth_timeout_ms = 700\n"
	     "[service a]\nbin = a\nhealth_timeout_ms = 1500\nrestart_cap = 9\n"
	     "[service b]\nbin = b\n");
	const struct svc_def *a = svc("a"), *b = svc("b");
	cr_assert_eq(svc_num(a, &cfg, CFG_HEALTH_TIMEOUT_MS), 1500);
	cr_assert_eq(svc_num(a, &cfg, CFG_RESTART_CAP), 9);
	cr_assert_eq(svc_num(a, &cfg, CFG_HEALTH_INTERVAL_MS), 2000);
	cr_assert_eq(svc_num(b, &cfg, CFG_HEALTH_TIMEOUT_MS), 700);
	cr_assert_eq(svc_num(b, &cfg, CFG_RESTART_CAP), 5);
	cr_assert_eq(a->num_line[CFG_HEALTH_TIMEOUT_MS], 6);
	char *out = print_table();
	assert_origin(out, "health_timeout_ms = 700", "t.conf:3");
	assert_origin_after(out, "[service a]", "health_timeout_ms = 1500", "t.conf:6");
	assert_origin_after(out, "[service b]", "health_timeout_ms = 700", "[kernel]: t.conf:3");
	assert_origin_after(out, "[service a]", "restart_cap = 9", "t.conf:7");
	assert_origin_after(out, "[service b]", "restart_cap = 5", "[kernel]: default");
	free(out);
}

/* load() of kernel/main.c: the file, then the environment, then the flags. */
Test(services, precedence_flag_env_file_default)
{
	static const char text[] = "[kernel]\n"
				   "health_interval_ms = 2000\n"
				   "status_interval_ms = 3000\n"
				   "run_dir = /tmp/from-file\n"
				   "[service a]\nbin = a\n";
	cr_assert_eq(setenv("RON_HEALTH_INTERVAL_MS", "4000", 1), 0);
	cr_assert_eq(setenv("RON_STATUS_INTERVAL_MS", "4500", 1), 0);
	cr_assert_eq(setenv("RON_STABLE_MS", "77", 1), 0);
	char *argv[] = {"ron-kernel", "--health-interval-ms=5000", "--check-config", NULL};
	int argc = 3;
	cr_assert_eq(svctab_read_text(&tab, &cfg, "t.conf", text, strlen(text), err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(config_from_env(&cfg, CFG_KERNEL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_parse_args(&cfg, CFG_KERNEL, &argc, argv, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(config_check(&cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(svctab_resolve(&tab, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(argc, 2);
	cr_assert_eq(config_num(&cfg, CFG_HEALTH_INTERVAL_MS), 5000);
	cr_assert_eq(cfg.src[CFG_HEALTH_INTERVAL_MS], CFG_SRC_FLAG);
	cr_assert_eq(config_num(&cfg, CFG_STATUS_INTERVAL_MS), 4500);
	cr_assert_eq(cfg.src[CFG_STATUS_INTERVAL_MS], CFG_SRC_ENV);
	cr_assert_str_eq(config_str(&cfg, CFG_RUN_DIR), "/tmp/from-file");
	cr_assert_eq(cfg.src[CFG_RUN_DIR], CFG_SRC_FILE);
	cr_assert_eq(config_num(&cfg, CFG_HEALTH_TIMEOUT_MS), 500);
	cr_assert_eq(cfg.src[CFG_HEALTH_TIMEOUT_MS], CFG_SRC_DEFAULT);
	/* The file's run_dir is the derived socket's. */
	cr_assert_str_eq(svc("a")->sock, "/tmp/from-file/a.sock");
	char *out = print_table();
	assert_origin(out, "health_interval_ms = 5000", "flag --health-interval-ms");
	assert_origin(out, "status_interval_ms = 4500", "env RON_STATUS_INTERVAL_MS");
	assert_origin(out, "run_dir = /tmp/from-file", "t.conf:4");
	assert_origin(out, "health_timeout_ms = 500", "default");
	/* The service's monitor settings show the kernel's origin. */
	assert_origin(out, "stable_ms = 77", "env RON_STABLE_MS");
	assert_origin_after(out, "[service a]", "stable_ms = 77", "[kernel]: env RON_STABLE_MS");
	free(out);
}

Test(services, twelve_services_printed_with_origins)
{
	static const char text[] =
	    "; twelve services: the three simulated roles, more of them, health = none\n"
	    "[kernel]\nrun_dir = /tmp/cfgt12\n"
	    "[service svc-index]\nbin = /sim/svc-index\n"
	    "[service svc-overlay]\nbin = /sim/svc-overlay\nafter = svc-index svc-storage\n"
	    "[service svc-storage]\nbin = /sim/svc-storage\n"
	    "[service idx-2]\nbin = /sim/svc-index\nenv = RON_SIM_ROLE=index\n"
	    "[service idx-3]\nbin = /sim/svc-index\nafter = idx-2\n"
	    "[service store-2]\nbin = /sim/svc-storage\nsocket = /tmp/cfgt12/s2.sock\n"
	    "[service store-3]\nbin = /sim/svc-storage\nhealth_timeout_ms = 200\n"
	    "[service ovl-2]\nbin = /sim/svc-overlay\nafter = store-2\n"
	    "[service sleeper]\nbin = /bin/sleep\nargs = 3600\nhealth = none\n"
	    "[service ticker]\nbin = /bin/sh\nargs = -c \"while :; do sleep 1; done\"\n"
	    "health = none\nstop_signal = INT\n"
	    "[service logger]\nbin = /bin/cat\nhealth = none\nworking_dir = /\n"
	    "[service last.one]\nbin = /bin/true\nhealth = none\nafter = sleeper\n";
	good(text);
	cr_assert_eq(tab.n, 12);
	cr_assert_eq(svctab_enabled(&tab), 12);
	const struct svc_def *d = svc("ticker");
	cr_assert_eq(d->nargs, 2);
	cr_assert_str_eq(d->args[1], "while :; do sleep 1; done");
	cr_assert_eq(svc("svc-overlay")->nafter, 2);
	char *out = print_table();
	cr_assert(strncmp(out, "; t.conf: ok, 12 services\n", 26) == 0, "%s", out);
	for (int i = 0; i < tab.n; i++) {
		char head[96], at[32];
		snprintf(head, sizeof(head), "[service %s]", tab.v[i].name);
		snprintf(at, sizeof(at), "t.conf:%u", tab.v[i].line);
		assert_origin(out, head, at);
	}
	assert_origin(out, "run_dir = /tmp/cfgt12", "t.conf:3");
	assert_origin(out, "socket = /tmp/cfgt12/idx-2.sock", "default: RON_RUN_DIR/NAME.sock");
	assert_origin(out, "socket_env = RON_IDX_2_SOCK", "default");
	assert_origin(out, "health_service = idx.2", "default: from the name");
	assert_origin(out, "env = RON_SIM_ROLE=index", "t.conf:13");
	assert_origin(out, "args = 3600", "t.conf:28");
	assert_origin(out, "args = -c \"while :; do sleep 1; done\"", "t.conf:32");
	assert_origin(out, "after = svc-index svc-storage", "t.conf:8");
	assert_origin(out, "health = none", "t.conf:29");
	assert_origin(out, "user = ", "default: the kernel's");
	assert_origin_after(out, "[service store-3]", "health_timeout_ms = 200", "t.conf:22");
	assert_origin_after(out, "[service store-2]", "health_timeout_ms = 500",
			    "[kernel]: default");
	free(out);
}

/* --- through the real binary --- */

static int check_config(const char *conf, char *const extra_argv[], char *out, size_t outlen,
			char *errout, size_t errlen)
{
	char *argv[16];
	int n = 0;
	argv[n++] = TL_BIN("ron-kernel");
	argv[n++] = "--config";
	argv[n++] = (char *)conf;
	for (int i = 0; extra_argv && extra_argv[i]; i++)
		argv[n++] = extra_argv[i];
	argv[n++] = "--check-config";
	argv[n] = NULL;
	char run[1100];
	snprintf(run, sizeof(run), "RON_RUN_DIR=%s/run", tl_dir());
	/* The seed programs are looked up on PATH: the simulated ones are there. */
	char *env[] = {run, "PATH=" RON_BUILD_DIR "/sim:/usr/bin:/bin", NULL};
	return tl_run(argv, env, out, outlen, errout, errlen, WAIT_MS);
}

Test(services, check_config_good_file)
{
	const char *conf = tl_path("good.conf");
	write_file(conf,
		   "[kernel]\nhealth_interval_ms = 2000\n"
		   "[service svc-index]\n"
		   "[service worker]\nbin = /bin/sleep\nargs = 3600\nhealth = none\n",
		   0644);
	static char out[65536], errout[4096];
	char *extra[] = {"--status-interval-ms=700", NULL};
	int st = check_config(conf, extra, out, sizeof(out), errout, sizeof(errout));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d, stderr: %s", st, errout);
	cr_assert_str_eq(errout, "");
	char head[1200];
	snprintf(head, sizeof(head), "; %s: ok, 2 services\n", conf);
	cr_assert(strncmp(out, head, strlen(head)) == 0, "%s", out);
	char at[1200];
	snprintf(at, sizeof(at), "%s:3", conf);
	assert_origin(out, "[service svc-index]", at);
	snprintf(at, sizeof(at), "%s:4", conf);
	assert_origin(out, "[service worker]", at);
	snprintf(at, sizeof(at), "%s:2", conf);
	assert_origin(out, "health_interval_ms = 2000", at);
	assert_origin(out, "status_interval_ms = 700", "flag --status-interval-ms");
	assert_origin(out, "run_dir = ", "env RON_RUN_DIR");
	assert_origin(out, "bin = svc-index", "default");
	char run_sock[1200];
	snprintf(run_sock, sizeof(run_sock), "socket = /tmp/ron/svc-index.sock");
	assert_origin(out, run_sock, "default");
	/* Nothing was started: no run directory was made. */
	struct stat sb;
	cr_assert_eq(stat(tl_path("run"), &sb), -1);
}

Test(services, check_config_bad_file)
{
	static const struct {
		const char *text, *line, *key;
	} cases[] = {
	    {"[service a]\nbin = a\nhelth = none\n", ":3: ", "unknown key helth"},
	    {"[service a]\nbin = a\nafter = b\n[service b]\nbin = b\nafter = a\n",
	     ":6: ", "a cycle: a -> b -> a"},
	    {"[service a]\nsocket = /tmp/a.sock\n", ":1: ", "bin is missing"},
	    {"[kernel]\nhealth_timeout_ms = abc\n[service a]\nbin = a\n",
	     ":2: ", "health_timeout_ms=abc"},
	};
	const char *conf = tl_path("bad.conf");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file(conf, cases[i].text, 0644);
		static char out[65536], errout[4096];
		int st = check_config(conf, NULL, out, sizeof(out), errout, sizeof(errout));
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 78, "case %zu: status %d: %s", i, st,
			  errout);
		cr_assert_str_eq(out, "", "case %zu printed: %s", i, out);
		char want[1200];
		snprintf(want, sizeof(want), "ron-kernel: %s%s", conf, cases[i].line);
		cr_assert(strncmp(errout, want, strlen(want)) == 0, "case %zu: %s", i, errout);
		cr_assert_not_null(strstr(errout, cases[i].key), "case %zu: %s", i, errout);
		char *nl = strchr(errout, '\n');
		cr_assert(nl && nl[1] == '\0', "case %zu: not one line: %s", i, errout);
	}
	/* A file that is not there names the flag. */
	static char out[4096], errout[4096];
	int st = check_config(tl_path("none.conf"), NULL, out, sizeof(out), errout, sizeof(errout));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 78, "status %d", st);
	cr_assert_not_null(strstr(errout, "--config="), "%s", errout);
	cr_assert_not_null(strstr(errout, "No such file or directory"), "%s", errout);
}

/* --- the fuzz target's seeds, through the same code, in every test run --- */

Test(services, fuzz_seed_corpus)
{
	char dir[1100];
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/config", tl_src_dir());
	DIR *dp = opendir(dir);
	cr_assert_not_null(dp, "%s: %s", dir, strerror(errno));
	int n = 0, accepted = 0;
	for (struct dirent *e; (e = readdir(dp));) {
		if (e->d_name[0] == '.')
			continue;
		char path[1400];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		static char buf[65536];
		ssize_t len = tl_read_file(path, buf, sizeof(buf));
		cr_assert_geq(len, 0, "%s", path);
		accepted += fuzz_config_one((const uint8_t *)buf, (size_t)len);
		n++;
	}
	closedir(dp);
	cr_assert_geq(n, 6);
	cr_assert_geq(accepted, 2);
}
