/* The config file: INI read with inih, [kernel] settings into the config, one
 * record per [service NAME]; every error names file:line and the key. */
#include <bsd/string.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filekind.h"
#include "proc.h"
#include "services.h"

/* inih reads a line into a buffer of INI_MAX_LINE bytes, its NUL included, and
 * would take the rest of a longer one for a line of its own: we refuse such a line.
 * It is handed on without its "\n" or "\r\n" (inih strips blanks at the end
 * anyway), so that a line may use the whole buffer, in a CRLF file too. */
#define LINE_MAX_BYTES (INI_MAX_LINE - 1)

struct parse {
	struct svc_table *t;
	struct config *c;
	const char *name; /* the file, for messages */
	const char *text;
	size_t len, off;
	unsigned line;
	struct svc_def *cur; /* the service whose section we are in */
	bool in_kernel;
	bool key_seen;	   /* a key in this section: an indented line continues it */
	bool continuation; /* the line being parsed continues the last key */
	bool failed;
	char *err;
	size_t errlen;
};

const char *const svc_key_names[SK__COUNT] = {
    [SK_BIN] = "bin",
    [SK_ARGS] = "args",
    [SK_ENV] = "env",
    [SK_SOCKET] = "socket",
    [SK_SOCKET_ENV] = "socket_env",
    [SK_HEALTH] = "health",
    [SK_HEALTH_SERVICE] = "health_service",
    [SK_AFTER] = "after",
    [SK_USER] = "user",
    [SK_GROUP] = "group",
    [SK_WORKING_DIR] = "working_dir",
    [SK_STOP_SIGNAL] = "stop_signal",
    [SK_ENABLED] = "enabled",
    [SK_LOG_DIR] = "log_dir",
};

static int failf(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int failf(struct parse *p, const char *fmt, ...)
{
	char msg[CFG_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!p->failed)
		snprintf(p->err, p->errlen, "%s:%u: %s", p->name, p->line, msg);
	p->failed = true;
	return 0;
}

static int new_service(struct parse *p, const char *name);
static void suggest(const char *name, bool service, char *buf, size_t cap);

/* inih's ini_find_chars_or_comment: the first of chars, or an inline comment (a ';'
 * after a blank), or end. */
static size_t find_chars_or_comment(const char *s, size_t i, size_t end, const char *chars)
{
	bool was_space = false;
	for (; i < end && !strchr(chars, s[i]) && !(was_space && s[i] == ';'); i++)
		was_space = isspace((unsigned char)s[i]);
	return i;
}

/* Each line is read here as inih reads it (ini.c: blanks are isspace(), then a
 * comment, a continuation, a [section] or a name[=:]value), so that sections are
 * noted as the reader passes their header (a section with no keys still exists and
 * is found to lack its bin), and a line inih would reject without calling the
 * handler is refused here, at its own line, before a later line can fail instead. */
static void classify(struct parse *p, const char *line, size_t n)
{
	size_t i = 0, end = n;
	if (p->line == 1 && n >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	while (i < n && isspace((unsigned char)line[i]))
		i++;
	while (end > i && isspace((unsigned char)line[end - 1]))
		end--;
	p->continuation = false;
	if (i == end || line[i] == ';' || line[i] == '#')
		return;
	if (i > 0 && p->key_seen) {
		p->continuation = true;
		return;
	}
	if (line[i] != '[') {
		size_t eq = find_chars_or_comment(line, i, end, "=:");
		if (eq == end || (line[eq] != '=' && line[eq] != ':'))
			failf(p, "not a section header, a key = value line or a comment");
		return;
	}
	size_t close = find_chars_or_comment(line, i + 1, end, "]");
	if (close == end || line[close] != ']') {
		failf(p, "a section header without its closing ]");
		return;
	}
	char section[INI_MAX_LINE];
	size_t len = close - i - 1;
	memcpy(section, line + i + 1, len);
	section[len] = '\0';
	size_t after = close + 1;
	while (after < end && isspace((unsigned char)line[after]))
		after++;
	if (after < end && line[after] != ';' && line[after] != '#') {
		failf(p, "[%s]: text after the section header (only a ; comment may follow)",
		      section);
		return;
	}
	p->cur = NULL;
	p->in_kernel = false;
	p->key_seen = false;
	if (strcmp(section, "kernel") == 0) {
		p->in_kernel = true;
	} else if (strncmp(section, "service ", 8) == 0) {
		const char *name = section + 8;
		while (*name == ' ')
			name++;
		new_service(p, name);
	} else {
		char hint[96];
		suggest(section, false, hint, sizeof(hint));
		failf(p, "unknown section [%s] (accepted: [kernel], [service NAME])%s", section,
		      hint);
	}
}

/* fgets over the text, counting lines, refusing one too long for inih. */
static char *reader(char *str, int num, void *stream)
{
	struct parse *p = stream;
	/* Newer inih reads on into a small buffer after a line that filled its own
	 * without a newline, to discard the rest: there is none, and the next line
	 * must not be taken for it. */
	if (p->failed || p->off >= p->len || num < 32)
		return NULL;
	const char *s = p->text + p->off;
	const char *nl = memchr(s, '\n', p->len - p->off);
	size_t n = nl ? (size_t)(nl - s) + 1 : p->len - p->off;
	p->line++;
	if (memchr(s, '\0', n)) {
		failf(p, "a NUL byte in the line");
		return NULL;
	}
	size_t body = n - (nl ? 1 : 0);
	if (body > 0 && s[body - 1] == '\r')
		body--;
	if (body > LINE_MAX_BYTES || body > (size_t)num - 1) {
		failf(p, "line longer than %d bytes (continue a long value on indented lines)",
		      LINE_MAX_BYTES);
		return NULL;
	}
	classify(p, s, n);
	if (p->failed)
		return NULL;
	memcpy(str, s, body);
	str[body] = '\0';
	p->off += n;
	return str;
}

static void consider(const char *name, const char *cand, const char **best, int *bestd)
{
	int dd = svc_distance(name, cand);
	if (dd < *bestd) {
		*bestd = dd;
		*best = cand;
	}
}

/* "; did you mean health_timeout_ms?" or "". */
static void suggest(const char *name, bool service, char *buf, size_t cap)
{
	const char *best = NULL;
	int bestd = 3;
	char keys[CFG__COUNT][64];
	if (service)
		for (int i = 0; i < SK__COUNT; i++)
			consider(name, svc_key_names[i], &best, &bestd);
	for (int k = 0; k < CFG__COUNT; k++) {
		if (service ? !(cfg_table[k].scope & (CFG_MONITOR | CFG_SERVICE)) : k == CFG_CONFIG)
			continue;
		config_file_key(k, keys[k], sizeof(keys[k]));
		consider(name, keys[k], &best, &bestd);
	}
	if (!service) {
		consider(name, "service", &best, &bestd);
		consider(name, "kernel", &best, &bestd);
	}
	buf[0] = '\0';
	if (best && (size_t)bestd < strlen(name))
		snprintf(buf, cap, "; did you mean %s?", best);
}

static char *dup_or_fail(struct parse *p, const char *v)
{
	char *s = strdup(v);
	if (!s)
		failf(p, "out of memory");
	return s;
}

static void set_str(struct parse *p, char **dst, const char *v)
{
	char *s = dup_or_fail(p, v);
	if (!s)
		return;
	free(*dst);
	*dst = s;
}

static bool parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false",
										    "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcmp(v, yes[i]) == 0)
			return *out = true, true;
		if (strcmp(v, no[i]) == 0)
			return *out = false, true;
	}
	return false;
}

/* A valid environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
static bool env_name_ok(const char *s, size_t n)
{
	if (n == 0 || n >= SVC_ENV_MAX || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!(ch == '_' || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9')))
			return false;
	}
	return true;
}

static int push(struct parse *p, char ***v, int *n, const char *s)
{
	char **nv = realloc(*v, sizeof(**v) * (size_t)(*n + 2));
	if (!nv)
		return failf(p, "out of memory");
	*v = nv;
	if (!(nv[*n] = dup_or_fail(p, s)))
		return 0;
	nv[++*n] = NULL;
	return 1;
}

static int service_key(struct parse *p, const char *key, const char *v, bool continued)
{
	struct svc_def *d = p->cur;
	int sk = -1;
	for (int i = 0; i < SK__COUNT; i++)
		if (strcmp(svc_key_names[i], key) == 0)
			sk = i;
	if (sk < 0) {
		int k = config_find_file_key(key);
		if (k < 0 || !(cfg_table[k].scope & (CFG_MONITOR | CFG_SERVICE))) {
			char hint[96];
			suggest(key, true, hint, sizeof(hint));
			return failf(p, "[service %s]: unknown key %s%s", d->name, key, hint);
		}
		if (continued)
			return failf(p, "[service %s]: %s cannot continue on an indented line",
				     d->name, key);
		if (d->set[k])
			return failf(p, "[service %s]: %s is set twice (first at line %u)", d->name,
				     key, d->num_line[k]);
		/* A scratch config validates the value with the table's own rules. */
		static struct config scratch;
		char why[CFG_ERR_MAX];
		if (config_set(&scratch, k, v, CFG_SRC_FILE, why, sizeof(why)) < 0)
			return failf(p, "[service %s]: %s", d->name, why);
		d->num[k] = scratch.num[k];
		d->set[k] = true;
		d->num_line[k] = p->line;
		return 1;
	}
	/* Only args and env go on over indented lines; env alone may be repeated. */
	if (continued && sk != SK_ARGS && sk != SK_ENV)
		return failf(p, "[service %s]: %s cannot continue on an indented line", d->name,
			     key);
	if (!continued && sk != SK_ENV && d->key_line[sk])
		return failf(p, "[service %s]: %s is set twice (first at line %u)", d->name, key,
			     d->key_line[sk]);
	if (!continued)
		d->key_line[sk] = p->line;
	char why[256];
	switch ((enum svc_key)sk) {
	case SK_BIN:
		if (!*v)
			return failf(p, "[service %s]: bin is empty", d->name);
		if (strlen(v) >= CFG_STR_MAX)
			return failf(p, "[service %s]: bin too long", d->name);
		set_str(p, &d->bin, v);
		break;
	case SK_ARGS:
		if (!continued) {
			for (int i = 0; i < d->nargs; i++)
				free(d->args[i]);
			d->nargs = 0;
		}
		if (svc_split_args(v, &d->args, &d->nargs, why, sizeof(why)) < 0)
			return failf(p, "[service %s]: args=%s: %s", d->name, v, why);
		break;
	case SK_ENV: {
		const char *eq = strchr(v, '=');
		if (!eq || !env_name_ok(v, (size_t)(eq - v)))
			return failf(p,
				     "[service %s]: env=%s: not NAME=VALUE with NAME of letters, "
				     "digits and _ (at most %d bytes)",
				     d->name, v, SVC_ENV_MAX - 1);
		unsigned *lines = realloc(d->env_line, sizeof(*lines) * (size_t)(d->nenv + 1));
		if (!lines)
			return failf(p, "out of memory");
		d->env_line = lines;
		lines[d->nenv] = p->line;
		return push(p, &d->env, &d->nenv, v);
	}
	case SK_SOCKET: set_str(p, &d->sock, v); break;
	case SK_SOCKET_ENV:
		if (!env_name_ok(v, strlen(v)))
			return failf(p,
				     "[service %s]: socket_env=%s: not a variable name (letters, "
				     "digits and _, at most %d bytes)",
				     d->name, v, SVC_ENV_MAX - 1);
		strlcpy(d->sock_env, v, sizeof(d->sock_env));
		break;
	case SK_HEALTH:
		if (strcmp(v, "v1.health") == 0)
			d->health = SVC_HEALTH_V1;
		else if (strcmp(v, "none") == 0)
			d->health = SVC_HEALTH_NONE;
		else
			return failf(p, "[service %s]: health=%s: not one of v1.health, none",
				     d->name, v);
		break;
	case SK_HEALTH_SERVICE:
		if (!*v || strlen(v) >= SVC_NAME_MAX)
			return failf(p, "[service %s]: health_service=%s: 1 to %d bytes", d->name,
				     v, SVC_NAME_MAX - 1);
		strlcpy(d->health_service, v, sizeof(d->health_service));
		break;
	case SK_AFTER: {
		for (int i = 0; i < d->nafter; i++)
			free(d->after_names[i]);
		d->nafter = 0;
		char *copy = dup_or_fail(p, v), *save = NULL;
		if (!copy)
			return 0;
		for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
			if (!push(p, &d->after_names, &d->nafter, w))
				break;
		free(copy);
		break;
	}
	case SK_USER:
	case SK_GROUP:
		if (!*v)
			return failf(p, "[service %s]: %s is empty", d->name, key);
		set_str(p, sk == SK_USER ? &d->user : &d->group, v);
		break;
	case SK_WORKING_DIR:
		if (v[0] != '/')
			return failf(p, "[service %s]: working_dir=%s: not an absolute path",
				     d->name, v);
		set_str(p, &d->working_dir, v);
		break;
	case SK_LOG_DIR:
		if (v[0] != '/' || strlen(v) >= CFG_STR_MAX)
			return failf(
			    p, "[service %s]: log_dir=%s: not an absolute path of at most %d bytes",
			    d->name, v, CFG_STR_MAX - 1);
		set_str(p, &d->log_dir, v);
		break;
	case SK_STOP_SIGNAL: {
		int sig = sig_parse(v);
		if (sig <= 0 || sig >= NSIG || sig == SIGSTOP)
			return failf(p,
				     "[service %s]: stop_signal=%s: not a signal (TERM, INT, "
				     "QUIT, HUP, KILL, USR1, ... or a number)",
				     d->name, v);
		d->stop_signal = sig;
		break;
	}
	case SK_ENABLED:
		if (!parse_bool(v, &d->enabled))
			return failf(p, "[service %s]: enabled=%s: not one of yes, no, true, false",
				     d->name, v);
		break;
	case SK__COUNT: break;
	}
	return p->failed ? 0 : 1;
}

static int kernel_key(struct parse *p, const char *key, const char *v)
{
	int k = config_find_file_key(key);
	if (k < 0 || k == CFG_CONFIG) {
		char hint[96];
		suggest(key, false, hint, sizeof(hint));
		return failf(p, "[kernel]: unknown key %s%s", key, hint);
	}
	if (p->c->src[k] == CFG_SRC_FILE)
		return failf(p, "[kernel]: %s is set twice (first at line %u)", key, p->c->line[k]);
	char why[CFG_ERR_MAX];
	if (config_set(p->c, k, v, CFG_SRC_FILE, why, sizeof(why)) < 0)
		return failf(p, "[kernel]: %s", why);
	p->c->line[k] = p->line;
	return 1;
}

static int new_service(struct parse *p, const char *name)
{
	char why[128];
	if (svc_name_check(name, why, sizeof(why)) < 0)
		return failf(p, "[service %s]: %s", name, why);
	int other = svctab_find(p->t, name);
	if (other >= 0)
		return failf(p, "[service %s]: a second service named %s (the first is at line %u)",
			     name, name, p->t->v[other].line);
	if (p->t->n >= SVC_MAX)
		return failf(p, "[service %s]: more than %d services", name, SVC_MAX);
	struct svc_def *nv = realloc(p->t->v, sizeof(*nv) * (size_t)(p->t->n + 1));
	if (!nv)
		return failf(p, "out of memory");
	p->t->v = nv;
	struct svc_def *d = &nv[p->t->n++];
	memset(d, 0, sizeof(*d));
	strlcpy(d->name, name, sizeof(d->name));
	d->line = p->line;
	d->enabled = true;
	d->stop_signal = SIGTERM;
	d->seed_bin = d->seed_sock = CFG__COUNT;
	p->cur = d;
	return 1;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	(void)section; /* known already, from the reader */
	if (p->failed)
		return 0;
	p->key_seen = true;
	if (p->in_kernel)
		return p->continuation
			   ? failf(p, "[kernel]: %s cannot continue on an indented line", name)
			   : kernel_key(p, name, value);
	if (!p->cur)
		return failf(p, "%s outside any section ([kernel] or [service NAME])", name);
	return service_key(p, name, value, p->continuation);
}

int svctab_read_text(struct svc_table *t, struct config *c, const char *name, const char *text,
		     size_t len, char *err, size_t errlen)
{
	struct parse p = {
	    .t = t, .c = c, .name = name, .text = text, .len = len, .err = err, .errlen = errlen};
	strlcpy(t->path, name, sizeof(t->path));
	c->file = t->path;
	int rc = ini_parse_stream(reader, &p, handler, &p);
	if (p.failed)
		return -1;
	if (rc > 0) {
		p.line = (unsigned)rc;
		failf(&p, "not a section header, a key = value line or a comment");
		return -1;
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot parse (out of memory)", name);
		return -1;
	}
	if (t->n == 0) {
		snprintf(err, errlen, "%s: no [service NAME] section", name);
		return -1;
	}
	return 0;
}

int svctab_open_file(const char *path, const char *label, struct stat *st, char *err, size_t errlen)
{
	/* O_NONBLOCK: a FIFO put at the path opens at once (and is refused below)
	 * instead of waiting for a writer with the kernel's loop stopped behind it. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: open: %s", label, strerror(errno));
		return -1;
	}
	if (fstat(fd, st) < 0) {
		snprintf(err, errlen, "%s: stat: %s", label, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		snprintf(err, errlen, "%s: not a regular file: %s", label,
			 filekind_name(st->st_mode));
		close(fd);
		return -1;
	}
	return fd;
}

/* Root runs what the file names, as any user: only root may be able to change it. */
static int owner_check(const struct stat *st, const char *label, char *err, size_t errlen)
{
	if (geteuid() != 0)
		return 0;
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "%s: writable by %s (mode %04o); refused as root", label,
			 st->st_mode & S_IWOTH ? "others" : "its group",
			 (unsigned)(st->st_mode & 07777));
		return -1;
	}
	if (st->st_uid != 0) {
		snprintf(err, errlen, "%s: owned by uid %u, not root; refused as root", label,
			 (unsigned)st->st_uid);
		return -1;
	}
	return 0;
}

/* The size bytes of fd, malloc'd; NULL with err. */
static char *read_whole(int fd, size_t size, const char *label, char *err, size_t errlen)
{
	char *buf = malloc(size + 1);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", label);
		return NULL;
	}
	size_t got = 0;
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: read: %s", label,
				 n < 0 ? strerror(errno) : "shorter than its size (changed?)");
			free(buf);
			return NULL;
		}
		got += (size_t)n;
	}
	return buf;
}

int svctab_read_file(struct svc_table *t, struct config *c, const char *path, const char *label,
		     char *err, size_t errlen)
{
	struct stat st;
	int fd = svctab_open_file(path, label, &st, err, errlen);
	if (fd < 0)
		return -1;
	char *buf = NULL;
	if (owner_check(&st, label, err, errlen) == 0) {
		if (st.st_size > 16 * 1024 * 1024)
			snprintf(err, errlen, "%s: larger than 16 MiB", label);
		else
			buf = read_whole(fd, (size_t)st.st_size, label, err, errlen);
	}
	close(fd);
	if (!buf)
		return -1;
	int rc = svctab_read_text(t, c, path, buf, (size_t)st.st_size, err, errlen);
	free(buf);
	return rc;
}
