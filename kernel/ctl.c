/* The command-line client of the control socket: ron-kernel status | restart |
 * stop | start | lift | signal SIG | reload, each waiting (like sv -w) until the
 * service reached the state asked for, or its deadline passed. */
#include <bsd/string.h>
#include <errno.h>
#include <ini.h>
#include <json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "ctlreq.h"
#include "kernel.h"
#include "sockpath.h"

#define CTL_POLL_MS	  20
#define CTL_IO_TIMEOUT_MS 10000

/* Exit statuses of the commands (sysexits.h). */
#define CTL_EX_OK	   0
#define CTL_EX_NOT_REACHED 1
#define CTL_EX_USAGE	   64
#define CTL_EX_UNAVAILABLE 69
#define CTL_EX_NOPERM	   77

static const char *const commands[] = {"status", "restart", "stop", "start", "lift",
				       "signal", "reload",  "logs", NULL};

const char *kernel_ctl_command(int i)
{
	return i >= 0 && i < (int)(sizeof(commands) / sizeof(commands[0])) ? commands[i] : NULL;
}

bool kernel_ctl_is_command(const char *word)
{
	for (int i = 0; commands[i]; i++)
		if (strcmp(word, commands[i]) == 0)
			return true;
	return false;
}

struct peek {
	char *buf;
	size_t cap;
};

static int peek_run_dir(void *user, const char *section, const char *name, const char *value)
{
	struct peek *p = user;
	if (strcmp(section, "kernel") == 0 && strcmp(name, "run_dir") == 0)
		strlcpy(p->buf, value, p->cap);
	return 1;
}

int kernel_ctl_file_run_dir(const char *path, char *buf, size_t cap, char *why, size_t whylen)
{
	struct peek p = {buf, cap};
	char label[CFG_STR_MAX + 16];
	snprintf(label, sizeof(label), "config file %s", path);
	struct stat st;
	int fd = svctab_open_file(path, label, &st, why, whylen);
	if (fd < 0)
		return -1;
	FILE *f = fdopen(fd, "r");
	if (!f) {
		snprintf(why, whylen, "%s: fdopen: %s", label, strerror(errno));
		close(fd);
		return -1;
	}
	/* What does not parse is for the kernel to name, in its reply. */
	(void)ini_parse_file(f, peek_run_dir, &p);
	fclose(f);
	return 0;
}

json_object *kernel_ctl_ask(const char *run_dir, json_object *req, int *rc, bool quiet)
{
	char path[CFG_STR_MAX + 32], why[128];
	struct sockaddr_un sa;
	socklen_t salen;
	kernel_control_path(run_dir, path, sizeof(path));
	if (sockpath_addr(&sa, &salen, path, why, sizeof(why)) < 0) {
		fprintf(stderr, "ron-kernel: control socket %s: %s\n", path, why);
		*rc = CTL_EX_UNAVAILABLE;
		return NULL;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, salen) < 0) {
		int e = errno;
		if (e == EACCES || e == EPERM) {
			fprintf(stderr, "ron-kernel: refused: %s: %s\n", path, strerror(e));
			*rc = CTL_EX_NOPERM;
		} else {
			if (!quiet)
				fprintf(stderr, "ron-kernel: not running (%s: %s)\n", path,
					strerror(e));
			*rc = CTL_EX_UNAVAILABLE;
		}
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	const char *text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(text), off = 0;
	char *buf = malloc(len + 2);
	if (!buf) {
		close(fd);
		*rc = CTL_EX_UNAVAILABLE;
		return NULL;
	}
	memcpy(buf, text, len);
	buf[len++] = '\n';
	while (off < len) {
		/* A kernel that refuses us closes at once: no SIGPIPE for that. */
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		off += (size_t)n;
	}
	free(buf);
	json_tokener *tok = json_tokener_new();
	json_object *reply = NULL;
	int64_t deadline = clock_mono_us() + CTL_IO_TIMEOUT_MS * 1000LL;
	char chunk[65536];
	bool eof = false;
	while (tok && !reply && !eof) {
		struct pollfd p = {fd, POLLIN, 0};
		int pr = poll(&p, 1, clock_poll_timeout(deadline, clock_mono_us()));
		if (pr == 0)
			break;
		ssize_t n = pr < 0 ? -1 : read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			eof = true;
			break;
		}
		reply = json_tokener_parse_ex(tok, chunk, (int)n);
		if (!reply && json_tokener_get_error(tok) != json_tokener_continue)
			break;
	}
	if (tok)
		json_tokener_free(tok);
	close(fd);
	if (!reply) {
		/* A kernel that closes without a word has refused us (not its user). */
		fprintf(stderr, "ron-kernel: %s\n",
			eof && off == len ? "refused: the kernel closed the connection (only "
					    "root and the kernel's user may control it)"
					  : "no reply from the kernel");
		*rc = eof ? CTL_EX_NOPERM : CTL_EX_UNAVAILABLE;
	}
	return reply;
}

static const char *str_of(json_object *o, const char *key)
{
	json_object *v;
	const char *s = json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
	return s ? s : "";
}

static int64_t int_of(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

enum verb { V_RESTART, V_STOP, V_START, V_LIFT, V_SIGNAL, V_RELOAD };

/* Has the service reached what the verb asked for? */
static bool reached(enum verb v, json_object *row, json_object *before)
{
	const char *st = str_of(row, "state");
	switch (v) {
	case V_STOP: return strcmp(st, "down") == 0;
	case V_RESTART:
	case V_RELOAD: /* a changed service: its new process, as for restart */
		if (before && int_of(before, "pid") > 0 &&
		    int_of(row, "pid") == int_of(before, "pid") &&
		    int_of(row, "start") == int_of(before, "start"))
			return false; /* still the old process */
		return strcmp(st, "healthy") == 0;
	default: return strcmp(st, "healthy") == 0;
	}
}

static const char *done_word(enum verb v)
{
	switch (v) {
	case V_RESTART: return "restarted";
	case V_STOP: return "stopped";
	case V_LIFT: return "lifted";
	case V_RELOAD: return "reloaded";
	default: return "started";
	}
}

/* What to say when the service already was where the verb would take it (its row
 * as the kernel accepted the command), or NULL. */
static const char *already_word(enum verb v, json_object *before)
{
	const char *st = before ? str_of(before, "state") : "";
	if (v == V_LIFT && strcmp(st, "healthy") == 0)
		return "already healthy, nothing to lift";
	if (v == V_START && int_of(before, "pid") > 0 && strcmp(st, "stopping") != 0)
		return "already running";
	return NULL;
}

/* What a service that did not reach the verb's goal missed: a restarted or reloaded
 * one still healthy as its old process has no new one yet. */
static const char *missed_word(enum verb v, json_object *row, json_object *before)
{
	if (v == V_STOP)
		return "not down";
	if ((v == V_RESTART || v == V_RELOAD) && before && int_of(before, "pid") > 0 &&
	    int_of(row, "pid") == int_of(before, "pid") &&
	    int_of(row, "start") == int_of(before, "start"))
		return "no new process";
	return "not healthy";
}

/* Waits until every named service reached its state; prints one line each. */
static int wait_for(const char *run_dir, enum verb v, json_object *accepted, char **names, int n,
		    bool *gone, int64_t timeout_ms)
{
	int64_t deadline = clock_mono_us() + timeout_ms * 1000;
	json_object *req = json_object_new_object(), *status = NULL;
	json_object_object_add(req, "cmd", json_object_new_string("status"));
	int rc = CTL_EX_OK;
	for (;;) {
		json_object_put(status);
		status = kernel_ctl_ask(run_dir, req, &rc, false);
		if (!status)
			break;
		bool all = true;
		for (int i = 0; i < n && all; i++) {
			json_object *row = kernel_status_row(status, names[i]);
			all = gone && gone[i]
				  ? !row
				  : row && reached(v, row, kernel_status_row(accepted, names[i]));
		}
		if (all || clock_mono_us() >= deadline)
			break;
		/* The client looks again shortly; the kernel's loop is never made to wait. */
		poll(NULL, 0, CTL_POLL_MS);
	}
	for (int i = 0; status && i < n; i++) {
		json_object *row = kernel_status_row(status, names[i]);
		if (gone && gone[i]) {
			if (row) {
				printf("%s: still running %.1f s after it was removed\n", names[i],
				       (double)timeout_ms / 1000);
				rc = CTL_EX_NOT_REACHED;
			} else {
				printf("%s: removed\n", names[i]);
			}
			continue;
		}
		if (!row) {
			printf("%s: gone from the table\n", names[i]);
			rc = CTL_EX_NOT_REACHED;
			continue;
		}
		const char *reason = str_of(row, "reason");
		const char *already = already_word(v, kernel_status_row(accepted, names[i]));
		if (reached(v, row, kernel_status_row(accepted, names[i])) && already) {
			printf("%s: %s\n", names[i], already);
			continue;
		}
		if (reached(v, row, kernel_status_row(accepted, names[i]))) {
			if (int_of(row, "pid") > 0)
				printf("%s: %s, pid %lld, %s\n", names[i], done_word(v),
				       (long long)int_of(row, "pid"), str_of(row, "state"));
			else
				printf("%s: %s\n", names[i], str_of(row, "state"));
			continue;
		}
		rc = CTL_EX_NOT_REACHED;
		printf("%s: %s after %.1f s: %s, pid %lld%s%s\n", names[i],
		       missed_word(v, row, kernel_status_row(accepted, names[i])),
		       (double)timeout_ms / 1000, str_of(row, "state"),
		       (long long)int_of(row, "pid"), reason[0] ? ": " : "", reason);
	}
	json_object_put(status);
	json_object_put(req);
	return rc;
}

/* The default wait: what the slowest named service may take to stop and start. */
static int64_t default_timeout(enum verb v, json_object *accepted)
{
	json_object *a;
	int64_t t = 10000;
	if (!json_object_object_get_ex(accepted, "services", &a))
		return t;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *e = json_object_array_get_idx(a, i);
		int64_t need = int_of(e, "start_timeout_ms") + 2000;
		if (v == V_STOP)
			need = int_of(e, "stop_timeout_ms") + 2000;
		else if (v == V_RESTART || v == V_RELOAD)
			need += int_of(e, "stop_timeout_ms");
		t = need > t ? need : t;
	}
	return t;
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "ron-kernel: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nusage: ron-kernel status [NAME...]\n"
			"       ron-kernel restart|stop|start|lift [--no-wait] [--timeout=S] "
			"NAME...|all\n"
			"       ron-kernel signal SIG NAME...|all\n"
			"       ron-kernel reload [--no-wait] [--timeout=S]\n");
	return CTL_EX_USAGE;
}

static int do_reload(const char *run_dir, bool wait, int64_t timeout_ms)
{
	int rc = CTL_EX_OK;
	json_object *before = NULL, *req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("status"));
	if (wait && !(before = kernel_ctl_ask(run_dir, req, &rc, false))) {
		json_object_put(req);
		return rc;
	}
	json_object_put(req);
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("reload"));
	json_object *reply = kernel_ctl_ask(run_dir, req, &rc, false);
	json_object_put(req);
	if (!reply) {
		json_object_put(before);
		return rc;
	}
	json_object *okv, *a;
	if (!json_object_object_get_ex(reply, "ok", &okv) || !json_object_get_boolean(okv)) {
		printf("reload refused: %s\n", str_of(reply, "error"));
		json_object_put(reply);
		json_object_put(before);
		return CTL_EX_NOT_REACHED;
	}
	static const char *const parts[] = {"added", "removed", "changed", "unchanged", "kept"};
	char *names[SVC_MAX * 2];
	bool gone[SVC_MAX * 2];
	int n = 0;
	for (size_t p = 0; p < 5; p++) {
		if (!json_object_object_get_ex(reply, parts[p], &a))
			continue;
		printf("%s:", parts[p]);
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			const char *s = json_object_get_string(json_object_array_get_idx(a, i));
			printf(p == 4 ? " %s;" : " %s", s);
			if (p < 3 && n < SVC_MAX * 2) {
				gone[n] = p == 1;
				names[n++] = (char *)s;
			}
		}
		printf("%s\n", json_object_array_length(a) ? "" : " none");
	}
	if (wait && n > 0) {
		if (timeout_ms < 0)
			timeout_ms = default_timeout(V_RELOAD, before);
		rc = wait_for(run_dir, V_RELOAD, before, names, n, gone, timeout_ms);
	}
	json_object_put(reply);
	json_object_put(before);
	return rc;
}

int kernel_ctl_main(const char *run_dir, int argc, char **argv)
{
	const char *cmd = argv[0];
	bool wait = true;
	int64_t timeout_ms = -1;
	char **names = calloc((size_t)argc + 1, sizeof(*names));
	int n = 0;
	const char *sig = NULL;
	bool json = false;
	if (!names)
		return CTL_EX_UNAVAILABLE;
	if (strcmp(cmd, "logs") == 0) {
		free(names);
		return kernel_ctl_logs(run_dir, argc, argv);
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--no-wait") == 0) {
			wait = false;
		} else if (strncmp(argv[i], "--timeout=", 10) == 0) {
			char *end;
			double s = strtod(argv[i] + 10, &end);
			if (*end || end == argv[i] + 10 || s <= 0 || s > 86400)
				return usage_error("%s: a number of seconds, 0..86400", argv[i]);
			timeout_ms = (int64_t)(s * 1000);
		} else if (strcmp(argv[i], "--json") == 0 && strcmp(cmd, "status") == 0) {
			json = true;
		} else if (argv[i][0] == '-') {
			return usage_error("unknown option %s", argv[i]);
		} else if (strcmp(cmd, "signal") == 0 && !sig) {
			sig = argv[i];
		} else {
			names[n++] = argv[i];
		}
	}
	int rc = CTL_EX_OK;
	if (strcmp(cmd, "status") == 0) {
		rc = kernel_ctl_status(run_dir, names, n, json);
		free(names);
		return rc;
	}
	if (strcmp(cmd, "reload") == 0) {
		if (n)
			return usage_error("reload takes no names: %s", names[0]);
		rc = do_reload(run_dir, wait, timeout_ms);
		free(names);
		return rc;
	}
	json_object *req = json_object_new_object(), *a = json_object_new_array();
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	if (strcmp(cmd, "signal") == 0 && !sig) {
		json_object_put(req);
		json_object_put(a);
		free(names);
		return usage_error("signal needs a signal and names%s", "");
	}
	char sigwhy[160];
	if (sig && ctl_signal_parse(sig, sigwhy, sizeof(sigwhy)) < 0) {
		json_object_put(req);
		json_object_put(a);
		free(names);
		return usage_error("%s", sigwhy);
	}
	if (n == 0) {
		json_object_put(req);
		json_object_put(a);
		free(names);
		return usage_error("%s needs service names (or all)", cmd);
	}
	for (int i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(names[i]));
	json_object_object_add(req, "services", a);
	if (sig)
		json_object_object_add(req, "signal", json_object_new_string(sig));
	json_object *reply = kernel_ctl_ask(run_dir, req, &rc, false);
	json_object_put(req);
	if (!reply) {
		free(names);
		return rc;
	}
	json_object *okv, *rows;
	bool ok = json_object_object_get_ex(reply, "ok", &okv) && json_object_get_boolean(okv);
	if (!ok && !json_object_object_get_ex(reply, "services", &rows)) {
		const char *e = str_of(reply, "error");
		fprintf(stderr, "ron-kernel: %s\n", e);
		rc = strncmp(e, "no service named", 16) == 0 ? CTL_EX_USAGE : CTL_EX_NOT_REACHED;
		json_object_put(reply);
		free(names);
		return rc;
	}
	/* The names the kernel acted on ("all" expanded), and those it could not. */
	json_object_object_get_ex(reply, "services", &rows);
	int m = 0;
	char **acted = calloc(json_object_array_length(rows) + 1, sizeof(*acted));
	for (size_t i = 0; acted && i < json_object_array_length(rows); i++) {
		json_object *e = json_object_array_get_idx(rows, i);
		json_object *ev;
		if (json_object_object_get_ex(e, "error", &ev)) {
			printf("%s: %s\n", str_of(e, "service"), json_object_get_string(ev));
			rc = CTL_EX_NOT_REACHED;
			continue;
		}
		acted[m++] = (char *)str_of(e, "service");
	}
	enum verb v = strcmp(cmd, "restart") == 0 ? V_RESTART
		      : strcmp(cmd, "stop") == 0  ? V_STOP
		      : strcmp(cmd, "start") == 0 ? V_START
		      : strcmp(cmd, "lift") == 0  ? V_LIFT
						  : V_SIGNAL;
	if (v == V_SIGNAL || !wait) {
		for (int i = 0; i < m; i++)
			printf("%s: %s\n", acted[i], v == V_SIGNAL ? "signalled" : "accepted");
	} else if (m > 0) {
		if (timeout_ms < 0)
			timeout_ms = default_timeout(v, reply);
		int wrc = wait_for(run_dir, v, reply, acted, m, NULL, timeout_ms);
		if (wrc != CTL_EX_OK)
			rc = wrc;
	}
	free(acted);
	json_object_put(reply);
	free(names);
	return rc;
}
