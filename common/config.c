/* The settings table and everything derived from it: parsing, checks, --help, export. */
#include <bsd/string.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "sockpath.h"

static const char *const log_formats[] = {"text", "json", NULL};
static const char *const service_outputs[] = {"prefix", "raw", "none", NULL};
static const char *const status_lines[] = {"auto", "full", "compact", "summary", "off", NULL};
static const char *const containments[] = {"auto", "cgroup", "pgroup", NULL};

#define STR_LEN (CFG_STR_MAX - 1)

/* Scopes: a kernel-only setting is CFG_KERNEL; CFG_BOTH ones the monitor reads too. */
const struct cfg_setting cfg_table[CFG__COUNT] = {
    [CFG_SVC_INDEX_BIN] = {"RON_SVC_INDEX_BIN", "svc-index-bin", CFG_STRING, "svc-index", 1,
			   STR_LEN, NULL, false, CFG_KERNEL,
			   "svc-index program, looked up on PATH"},
    [CFG_SVC_OVERLAY_BIN] = {"RON_SVC_OVERLAY_BIN", "svc-overlay-bin", CFG_STRING, "svc-overlay", 1,
			     STR_LEN, NULL, false, CFG_KERNEL,
			     "svc-overlay program, looked up on PATH"},
    [CFG_SVC_STORAGE_BIN] = {"RON_SVC_STORAGE_BIN", "svc-storage-bin", CFG_STRING, "svc-storage", 1,
			     STR_LEN, NULL, false, CFG_KERNEL,
			     "svc-storage program, looked up on PATH"},
    [CFG_INDEX_SOCK] = {"RON_INDEX_SOCK", "index-sock", CFG_PATH, "/tmp/ron/svc-index.sock", 1,
			SOCKPATH_MAX, NULL, false, CFG_KERNEL,
			"svc-index socket; the service reads this variable too"},
    [CFG_OVERLAY_SOCK] = {"RON_OVERLAY_SOCK", "overlay-sock", CFG_PATH, "/tmp/ron/svc-overlay.sock",
			  1, SOCKPATH_MAX, NULL, false, CFG_KERNEL,
			  "svc-overlay socket; the service reads this variable too"},
    [CFG_STORAGE_SOCK] = {"RON_STORAGE_SOCK", "storage-sock", CFG_PATH, "/tmp/ron/svc-storage.sock",
			  1, SOCKPATH_MAX, NULL, false, CFG_KERNEL,
			  "svc-storage socket; the service reads this variable too"},
    [CFG_RUN_DIR] =
	{"RON_RUN_DIR", "run-dir", CFG_PATH, "/run/ron", 1, STR_LEN, NULL, true, CFG_KERNEL,
	 "run directory (pidfile, status.json); a user's: $XDG_RUNTIME_DIR/ron or /tmp/ron-UID"},
    [CFG_MONITOR_BIN] = {"RON_MONITOR_BIN", "monitor-bin", CFG_STRING, "", 0, STR_LEN, NULL, false,
			 CFG_KERNEL, "ron-monitor program; empty: the one next to ron-kernel"},
    [CFG_CONFIG] = {"RON_CONFIG", "config", CFG_PATH, "", 0, STR_LEN, NULL, false, CFG_KERNEL,
		    "services and settings; unset: " CFG_DEFAULT_CONFIG
		    " if it exists; empty: seeds"},
    [CFG_LOG_FORMAT] = {"RON_LOG_FORMAT", "log-format", CFG_ENUM, "text", 0, 1, log_formats, false,
			CFG_KERNEL, "event and status line format"},
    [CFG_STATUS_INTERVAL_MS] = {"RON_STATUS_INTERVAL_MS", "status-interval-ms", CFG_MS, "5000", 100,
				3600000, NULL, false, CFG_KERNEL, "time between status lines"},
    [CFG_STATUS_DETAIL] = {"RON_STATUS_DETAIL", "status-detail", CFG_COUNT, "16", 0, 1024, NULL,
			   false, CFG_KERNEL,
			   "services a status line names; beyond it, counts and the unhealthy"},
    [CFG_STATUS_LINE] = {"RON_STATUS_LINE", "status-line", CFG_ENUM, "auto", 0, 4, status_lines,
			 false, CFG_KERNEL,
			 "the periodic status line: auto (compact on a terminal, else full), "
			 "full (key=value), compact, summary, off"},
    [CFG_HEALTH_INTERVAL_MS] = {"RON_HEALTH_INTERVAL_MS", "health-interval-ms", CFG_MS, "1000", 10,
				3600000, NULL, false, CFG_BOTH, "time between health checks"},
    [CFG_HEALTH_TIMEOUT_MS] = {"RON_HEALTH_TIMEOUT_MS", "health-timeout-ms", CFG_MS, "500", 1,
			       600000, NULL, false, CFG_BOTH,
			       "deadline of one health check; less than the interval"},
    [CFG_HEALTH_FAILURES] = {"RON_HEALTH_FAILURES", "health-failures", CFG_COUNT, "3", 1, 100, NULL,
			     false, CFG_BOTH,
			     "consecutive failed checks that make a service unhealthy"},
    [CFG_START_TIMEOUT_MS] = {"RON_START_TIMEOUT_MS", "start-timeout-ms", CFG_MS, "10000", 10,
			      3600000, NULL, false, CFG_BOTH,
			      "time a new service has to answer its first check"},
    [CFG_STOP_TIMEOUT_MS] = {"RON_STOP_TIMEOUT_MS", "stop-timeout-ms", CFG_MS, "5000", 10, 600000,
			     NULL, false, CFG_BOTH,
			     "time from SIGTERM to SIGKILL when stopping a service"},
    [CFG_BACKOFF_MIN_MS] = {"RON_BACKOFF_MIN_MS", "backoff-min-ms", CFG_MS, "250", 0, 3600000, NULL,
			    false, CFG_BOTH,
			    "first delay of a restart streak; at most the maximum"},
    [CFG_BACKOFF_MAX_MS] = {"RON_BACKOFF_MAX_MS", "backoff-max-ms", CFG_MS, "30000", 0, 3600000,
			    NULL, false, CFG_BOTH, "cap of the doubling restart delay"},
    [CFG_RESTART_CAP] = {"RON_RESTART_CAP", "restart-cap", CFG_COUNT, "5", 1, 1000, NULL, false,
			 CFG_BOTH, "more restarts than this within the window quarantine"},
    [CFG_RESTART_WINDOW_MS] = {"RON_RESTART_WINDOW_MS", "restart-window-ms", CFG_MS, "60000", 100,
			       86400000, NULL, false, CFG_BOTH,
			       "window in which restarts are counted"},
    [CFG_STABLE_MS] = {"RON_STABLE_MS", "stable-ms", CFG_MS, "1000", 0, 3600000, NULL, false,
		       CFG_BOTH, "healthy this long, a service's next crash restarts at once"},
    [CFG_QUARANTINE_MS] = {"RON_QUARANTINE_MS", "quarantine-ms", CFG_MS, "300000", 100, 86400000,
			   NULL, false, CFG_BOTH,
			   "time before a quarantined service is retried once"},
    [CFG_OUTPUT_QUEUE_BYTES] = {"RON_OUTPUT_QUEUE_BYTES", "output-queue-bytes", CFG_COUNT,
				"1048576", 4096, 1073741824, NULL, false, CFG_KERNEL,
				"lines waiting for a slow reader of stdout; beyond, dropped"},
    [CFG_SERVICE_OUTPUT] =
	{"RON_SERVICE_OUTPUT", "service-output", CFG_ENUM, "prefix", 0, 2, service_outputs, false,
	 CFG_KERNEL, "services' lines on stderr (text mode): NAME[PID]: prefixed, raw, none"},
    [CFG_OUTPUT_RATE] = {"RON_OUTPUT_RATE", "output-rate", CFG_COUNT, "1000", 0, 1000000000, NULL,
			 false, CFG_KERNEL | CFG_SERVICE,
			 "lines per second a service may write; over it dropped; 0: no limit"},
    [CFG_OUTPUT_BURST] = {"RON_OUTPUT_BURST", "output-burst", CFG_COUNT, "10000", 1, 1000000000,
			  NULL, false, CFG_KERNEL | CFG_SERVICE,
			  "lines a service may write at once above its rate"},
    [CFG_LOG_DIR] = {"RON_LOG_DIR", "log-dir", CFG_PATH, "", 0, STR_LEN, NULL, true, CFG_KERNEL,
		     "directory of per-service log files NAME/current; empty: none"},
    [CFG_LOG_MAX_BYTES] = {"RON_LOG_MAX_BYTES", "log-max-bytes", CFG_COUNT, "10485760", 4096,
			   1099511627776LL, NULL, false, CFG_KERNEL | CFG_SERVICE,
			   "size at which a log file is rotated"},
    [CFG_LOG_KEEP] = {"RON_LOG_KEEP", "log-keep", CFG_COUNT, "5", 0, 10000, NULL, false,
		      CFG_KERNEL | CFG_SERVICE, "rotated log files kept per service"},
    [CFG_METRICS_FILE] = {"RON_METRICS_FILE", "metrics-file", CFG_PATH, "", 0, STR_LEN, NULL, true,
			  CFG_KERNEL,
			  "Prometheus text file, replaced every status tick; empty: none"},
    [CFG_HTTP_ADDR] =
	{"RON_HTTP_ADDR", "http-addr", CFG_STRING, "", 0, 64, NULL, false, CFG_KERNEL,
	 "HOST:PORT ron-httpd serves /metrics, /status, /healthz, /readyz, /livez on; empty: none"},
    [CFG_HTTP_PUBLIC] = {"RON_HTTP_PUBLIC", "http-public", CFG_COUNT, "0", 0, 1, NULL, false,
			 CFG_KERNEL, "1 allows a RON_HTTP_ADDR that is not a loopback address"},
    [CFG_HTTP_USER] = {"RON_HTTP_USER", "http-user", CFG_STRING, "nobody", 1, 64, NULL, false,
		       CFG_KERNEL, "user ron-httpd runs as when started by root"},
    [CFG_HTTP_TIMEOUT_MS] = {"RON_HTTP_TIMEOUT_MS", "http-timeout-ms", CFG_MS, "10000", 1000,
			     600000, NULL, false, CFG_KERNEL,
			     "time from accept a client has to send a request and take the answer"},
    [CFG_HTTP_CONNECTIONS] =
	{"RON_HTTP_CONNECTIONS", "http-connections", CFG_COUNT, "256", 1, 4096, NULL, false,
	 CFG_KERNEL, "connections at once; more wait; beyond 1/4 from one address: refused"},
    [CFG_CONTAINMENT] = {"RON_CONTAINMENT", "containment", CFG_ENUM, "auto", 0, 2, containments,
			 false, CFG_KERNEL,
			 "one cgroup v2 per service (else exit 78), process groups, or auto"},
};

/* Cross-field rules: a < b (strict) or a <= b. */
static const struct {
	enum cfg_key a, b;
	bool strict;
} cfg_rules[] = {
    {CFG_HEALTH_TIMEOUT_MS, CFG_HEALTH_INTERVAL_MS, true},
    {CFG_BACKOFF_MIN_MS, CFG_BACKOFF_MAX_MS, false},
};

/* Values longer than this are shortened in messages, so the reason still fits. */
#define SHOWN_MAX 200

static bool is_number(enum cfg_type t)
{
	return t == CFG_MS || t == CFG_COUNT;
}

static bool in_scope(const struct cfg_setting *s, unsigned scope)
{
	return (s->scope & scope) != 0;
}

/* The name a value is known by where it came from: "--flag" or "RON_VAR". */
static void name_of(enum cfg_key key, enum cfg_source src, char *buf, size_t len)
{
	if (src == CFG_SRC_FLAG)
		snprintf(buf, len, "--%s", cfg_table[key].flag);
	else if (src == CFG_SRC_FILE)
		config_file_key(key, buf, len);
	else
		snprintf(buf, len, "%s", cfg_table[key].env);
}

/* As name_of, with "FILE:LINE: " before a key from the config file. */
static void where_of(const struct config *c, enum cfg_key key, char *buf, size_t len)
{
	char name[64];
	name_of(key, c->src[key], name, sizeof(name));
	if (c->src[key] == CFG_SRC_FILE && c->file)
		snprintf(buf, len, "%s:%u: %s", c->file, c->line[key], name);
	else
		snprintf(buf, len, "%s", name);
}

static void words_join(const char *const *w, char *buf, size_t len)
{
	buf[0] = '\0';
	for (; *w; w++) {
		if (buf[0])
			strlcat(buf, ", ", len);
		strlcat(buf, *w, len);
	}
}

/* "1..600000 ms", "1..100", "text, json", "at most 107 bytes", "absolute path" ... */
static void accepted(const struct cfg_setting *s, char *buf, size_t len)
{
	switch (s->type) {
	case CFG_MS: snprintf(buf, len, "%lld..%lld ms", s->min, s->max); break;
	case CFG_COUNT: snprintf(buf, len, "%lld..%lld", s->min, s->max); break;
	case CFG_ENUM: words_join(s->words, buf, len); break;
	case CFG_PATH:
	case CFG_STRING:
		snprintf(buf, len, "%sat most %lld bytes", s->absolute ? "absolute path, " : "",
			 s->max);
		break;
	}
}

static int fail(char *err, size_t errlen, enum cfg_key key, enum cfg_source src, const char *value,
		const char *why)
{
	const struct cfg_setting *s = &cfg_table[key];
	char name[64], acc[128];
	name_of(key, src, name, sizeof(name));
	accepted(s, acc, sizeof(acc));
	if (!value[0]) {
		snprintf(err, errlen, "%s is empty (accepted: %s)", name, acc);
		return -1;
	}
	int n = (int)strlen(value);
	int shown = n > SHOWN_MAX ? SHOWN_MAX : n;
	if (s->type == CFG_ENUM)
		snprintf(err, errlen, "%s=%.*s%s: not one of %s", name, shown, value,
			 shown < n ? "..." : "", acc);
	else
		snprintf(err, errlen, "%s=%.*s%s: %s (accepted: %s)", name, shown, value,
			 shown < n ? "..." : "", why, acc);
	return -1;
}

/* Decimal digits only: no '+', no blanks, no base prefix, no trailing characters.  A '-'
 * before digits is reported as out of range, which says more than "not a number". */
static int parse_number(const struct cfg_setting *s, const char *v, long long *out,
			const char **why)
{
	const char *p = v[0] == '-' ? v + 1 : v;
	if (!*p) {
		*why = "not a number";
		return -1;
	}
	for (; *p; p++) {
		if (!isdigit((unsigned char)*p)) {
			*why = "not a number";
			return -1;
		}
	}
	errno = 0;
	long long n = strtoll(v, NULL, 10);
	if (v[0] == '-' || errno == ERANGE || n < s->min || n > s->max) {
		*why = "out of range";
		return -1;
	}
	*out = n;
	return 0;
}

int config_set(struct config *c, enum cfg_key key, const char *value, enum cfg_source src,
	       char *err, size_t errlen)
{
	if ((unsigned)key >= CFG__COUNT) {
		snprintf(err, errlen, "unknown setting %d", (int)key);
		return -1;
	}
	const struct cfg_setting *s = &cfg_table[key];
	size_t len = strlen(value);
	long long n = 0;
	const char *why = NULL;

	switch (s->type) {
	case CFG_MS:
	case CFG_COUNT:
		if (parse_number(s, value, &n, &why) < 0)
			return fail(err, errlen, key, src, value, why);
		break;
	case CFG_ENUM:
		for (n = 0; s->words[n] && strcmp(s->words[n], value) != 0; n++)
			;
		if (!s->words[n])
			return fail(err, errlen, key, src, value, NULL);
		break;
	case CFG_PATH:
	case CFG_STRING:
		if (len == 0 && s->min > 0) {
			char name[64];
			name_of(key, src, name, sizeof(name));
			snprintf(err, errlen, "%s is empty", name);
			return -1;
		}
		if ((long long)len > s->max) {
			char w[64];
			snprintf(w, sizeof(w), "too long: %zu bytes", len);
			return fail(err, errlen, key, src, value, w);
		}
		/* Empty where it may be: "none", not a relative path. */
		if (s->absolute && value[0] != '/' && !(len == 0 && s->min == 0))
			return fail(err, errlen, key, src, value, "not an absolute path");
		break;
	}
	c->num[key] = n;
	if (is_number(s->type))
		snprintf(c->str[key], sizeof(c->str[key]), "%lld", n);
	else
		strlcpy(c->str[key], value, sizeof(c->str[key]));
	c->src[key] = src;
	return 0;
}

/* A user's run directory, as systemd's user services have theirs: $XDG_RUNTIME_DIR/ron
 * when that names an absolute directory, else /tmp/ron-UID; root's is the table's. */
static void default_run_dir(struct config *c)
{
	if (geteuid() == 0)
		return;
	char dir[CFG_STR_MAX];
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg && xdg[0] == '/' && strlen(xdg) + 4 < sizeof(dir))
		snprintf(dir, sizeof(dir), "%s/ron", xdg);
	else
		snprintf(dir, sizeof(dir), "/tmp/ron-%u", (unsigned)geteuid());
	config_set(c, CFG_RUN_DIR, dir, CFG_SRC_DEFAULT, NULL, 0);
}

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	for (int k = 0; k < CFG__COUNT; k++)
		config_set(c, k, cfg_table[k].def, CFG_SRC_DEFAULT, NULL, 0);
	default_run_dir(c);
}

const char *config_default_file(void)
{
	return access(CFG_DEFAULT_CONFIG, F_OK) == 0 ? CFG_DEFAULT_CONFIG : NULL;
}

int config_from_env(struct config *c, unsigned scope, char *err, size_t errlen)
{
	for (int k = 0; k < CFG__COUNT; k++) {
		if (!in_scope(&cfg_table[k], scope))
			continue;
		const char *v = getenv(cfg_table[k].env);
		if (v && config_set(c, k, v, CFG_SRC_ENV, err, errlen) < 0)
			return -1;
	}
	return 0;
}

void config_file_key(enum cfg_key key, char *buf, size_t cap)
{
	const char *v = cfg_table[key].env;
	strlcpy(buf, strncmp(v, "RON_", 4) == 0 ? v + 4 : v, cap);
	for (char *p = buf; *p; p++)
		*p = (char)tolower((unsigned char)*p);
}

int config_find_file_key(const char *name)
{
	char k[64];
	for (int i = 0; i < CFG__COUNT; i++) {
		config_file_key(i, k, sizeof(k));
		if (strcmp(k, name) == 0)
			return i;
	}
	return -1;
}

const char *config_peek(enum cfg_key key, int argc, char **argv, enum cfg_source *src)
{
	const char *flag = cfg_table[key].flag, *found = NULL;
	size_t n = strlen(flag);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0)
			break;
		if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, flag, n) != 0)
			continue;
		if (a[2 + n] == '=')
			found = a + 3 + n;
		else if (a[2 + n] == '\0' && i + 1 < argc)
			found = argv[++i];
	}
	*src = found ? CFG_SRC_FLAG : CFG_SRC_ENV;
	return found ? found : getenv(cfg_table[key].env);
}

void config_origin(const struct config *c, enum cfg_key key, const char *file, char *buf,
		   size_t cap)
{
	switch (c->src[key]) {
	case CFG_SRC_DEFAULT: strlcpy(buf, "default", cap); break;
	case CFG_SRC_ENV: snprintf(buf, cap, "env %s", cfg_table[key].env); break;
	case CFG_SRC_FLAG: snprintf(buf, cap, "flag --%s", cfg_table[key].flag); break;
	case CFG_SRC_FILE: snprintf(buf, cap, "%s:%u", file ? file : "?", c->line[key]); break;
	}
}

int config_find_flag(const char *name)
{
	for (int k = 0; k < CFG__COUNT; k++)
		if (strcmp(cfg_table[k].flag, name) == 0)
			return k;
	return -1;
}

/* The key of "--flag" or "--flag=value" in scope, with *value set to the text after '='
 * (NULL without one); -1 if arg is no such flag. */
static int match_flag(const char *arg, unsigned scope, const char **value)
{
	if (strncmp(arg, "--", 2) != 0)
		return -1;
	arg += 2;
	const char *eq = strchr(arg, '=');
	size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
	for (int k = 0; k < CFG__COUNT; k++) {
		const struct cfg_setting *s = &cfg_table[k];
		if (in_scope(s, scope) && strlen(s->flag) == n && strncmp(s->flag, arg, n) == 0) {
			*value = eq ? eq + 1 : NULL;
			return k;
		}
	}
	return -1;
}

int config_parse_args(struct config *c, unsigned scope, int *argc, char **argv, char *err,
		      size_t errlen)
{
	int in = 1, out = 1;
	while (in < *argc) {
		if (strcmp(argv[in], "--") == 0) {
			while (in < *argc)
				argv[out++] = argv[in++];
			break;
		}
		const char *value;
		int k = match_flag(argv[in], scope, &value);
		if (k < 0) {
			argv[out++] = argv[in++];
			continue;
		}
		if (!value) {
			if (in + 1 >= *argc) {
				snprintf(err, errlen, "--%s needs a value", cfg_table[k].flag);
				return -1;
			}
			value = argv[++in];
		}
		if (config_set(c, k, value, CFG_SRC_FLAG, err, errlen) < 0)
			return -1;
		in++;
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

int config_check(const struct config *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(cfg_rules) / sizeof(cfg_rules[0]); i++) {
		enum cfg_key a = cfg_rules[i].a, b = cfg_rules[i].b;
		bool strict = cfg_rules[i].strict;
		if (strict ? c->num[a] < c->num[b] : c->num[a] <= c->num[b])
			continue;
		char na[CFG_STR_MAX + 96], nb[CFG_STR_MAX + 96];
		where_of(c, a, na, sizeof(na));
		where_of(c, b, nb, sizeof(nb));
		snprintf(err, errlen, "%s=%lld must be %s %s=%lld", na, c->num[a],
			 strict ? "less than" : "at most", nb, c->num[b]);
		return -1;
	}
	return 0;
}

int config_load(struct config *c, unsigned scope, int *argc, char **argv, char *err, size_t errlen)
{
	config_defaults(c);
	if (config_from_env(c, scope, err, errlen) < 0)
		return -1;
	if (config_parse_args(c, scope, argc, argv, err, errlen) < 0)
		return -1;
	return config_check(c, err, errlen);
}

/* The VALUE of --flag=VALUE: "MS", "N", "PATH", "PROG", or the words as "text|json". */
static void metavar(const struct cfg_setting *s, char *buf, size_t len)
{
	const char *m = "PROG";
	switch (s->type) {
	case CFG_MS: m = "MS"; break;
	case CFG_COUNT: m = "N"; break;
	case CFG_PATH: m = "PATH"; break;
	case CFG_STRING: break;
	case CFG_ENUM:
		buf[0] = '\0';
		for (const char *const *w = s->words; *w; w++) {
			if (w != s->words)
				strlcat(buf, "|", len);
			strlcat(buf, *w, len);
		}
		return;
	}
	strlcpy(buf, m, len);
}

void config_usage(FILE *f, unsigned scope)
{
	int wflag = 0, wenv = 0, whelp = 0;
	char opt[192], acc[128];
	for (int k = 0; k < CFG__COUNT; k++) {
		const struct cfg_setting *s = &cfg_table[k];
		if (!in_scope(s, scope))
			continue;
		metavar(s, acc, sizeof(acc));
		int n = snprintf(opt, sizeof(opt), "--%s=%s", s->flag, acc);
		if (n > wflag)
			wflag = n;
		if ((int)strlen(s->env) > wenv)
			wenv = (int)strlen(s->env);
		if ((int)strlen(s->help) > whelp)
			whelp = (int)strlen(s->help);
	}
	for (int k = 0; k < CFG__COUNT; k++) {
		const struct cfg_setting *s = &cfg_table[k];
		if (!in_scope(s, scope))
			continue;
		metavar(s, acc, sizeof(acc));
		snprintf(opt, sizeof(opt), "--%s=%s", s->flag, acc);
		accepted(s, acc, sizeof(acc));
		fprintf(f, "  %-*s  %-*s  %-*s  [default %s; %s]\n", wflag, opt, wenv, s->env,
			whelp, s->help, s->def[0] ? s->def : "empty", acc);
	}
}

int config_export_env(const struct config *c, unsigned scope)
{
	for (int k = 0; k < CFG__COUNT; k++) {
		const struct cfg_setting *s = &cfg_table[k];
		if (!in_scope(s, scope))
			continue;
		char num[32];
		const char *v = c->str[k];
		if (is_number(s->type)) {
			snprintf(num, sizeof(num), "%lld", c->num[k]);
			v = num;
		}
		if (setenv(s->env, v, 1) < 0)
			return -1;
	}
	return 0;
}

long long config_num(const struct config *c, enum cfg_key key)
{
	return c->num[key];
}

const char *config_str(const struct config *c, enum cfg_key key)
{
	return c->str[key];
}
