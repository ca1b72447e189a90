/* The service table: the seed services, defaults filled in from the kernel's
 * settings, checks across services (names, sockets, users, start order), and the
 * resolved table printed for ron-kernel --check-config. */
#include <bsd/string.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "services.h"
#include "sockpath.h"
#include "wire.h"

static const struct {
	const char *name;
	enum cfg_key bin, sock;
} seeds[] = {
    {"svc-index", CFG_SVC_INDEX_BIN, CFG_INDEX_SOCK},
    {"svc-overlay", CFG_SVC_OVERLAY_BIN, CFG_OVERLAY_SOCK},
    {"svc-storage", CFG_SVC_STORAGE_BIN, CFG_STORAGE_SOCK},
};
#define NSEEDS (sizeof(seeds) / sizeof(seeds[0]))

int svc_name_check(const char *name, char *why, size_t whylen)
{
	size_t n = strlen(name);
	bool ok = n >= 1 && n < SVC_NAME_MAX &&
		  (islower((unsigned char)name[0]) || isdigit((unsigned char)name[0]));
	for (size_t i = 1; ok && i < n; i++) {
		unsigned char ch = (unsigned char)name[i];
		ok = islower(ch) || isdigit(ch) || ch == '.' || ch == '_' || ch == '-';
	}
	if (!ok) {
		snprintf(why, whylen,
			 "bad service name \"%.80s\" (accepted: [a-z0-9][a-z0-9._-]{0,%d})", name,
			 SVC_NAME_MAX - 2);
		return -1;
	}
	/* A service's cgroup is a directory of that name beside cgroup v2's interface
	 * files, which are all CONTROLLER.FILE. */
	static const char *const cgroup_prefixes[] = {
	    "cgroup", "cpu", "cpuset", "io", "irq", "memory", "hugetlb", "pids", "rdma", "misc"};
	for (size_t i = 0; i < sizeof(cgroup_prefixes) / sizeof(cgroup_prefixes[0]); i++) {
		size_t pl = strlen(cgroup_prefixes[i]);
		if (strncmp(name, cgroup_prefixes[i], pl) == 0 && name[pl] == '.') {
			snprintf(
			    why, whylen,
			    "bad service name \"%s\": %s.* names cgroup interface files, and a "
			    "service's cgroup is a directory of its name",
			    name, cgroup_prefixes[i]);
			return -1;
		}
	}
	return 0;
}

int svc_sock_env_check(const char *var, const char *own, char *why, size_t whylen)
{
	/* What every process needs as it is, or what the dynamic linker reads. */
	static const char *const critical[] = {
	    "PATH",	      "HOME",	       "SHELL",	     "USER",
	    "LOGNAME",	      "IFS",	       "TMPDIR",     "TZ",
	    "LANG",	      "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID",
	    "LISTEN_FDNAMES", PROC_KERNEL_MARK};
	for (size_t i = 0; i < sizeof(critical) / sizeof(critical[0]); i++)
		if (strcmp(var, critical[i]) == 0)
			goto refuse;
	if (strncmp(var, "LD_", 3) == 0 || strncmp(var, "LC_", 3) == 0)
		goto refuse;
	/* The kernel's and the monitors' own settings, but for a seed service's own socket. */
	for (int k = 0; k < CFG__COUNT; k++)
		if (strcmp(var, cfg_table[k].env) == 0 && (!own || strcmp(var, own) != 0)) {
			snprintf(
			    why, whylen,
			    "socket_env %s is ron-kernel's own setting, which the kernel and its "
			    "monitors would read as the socket's path",
			    var);
			return -1;
		}
	return 0;
refuse:
	snprintf(why, whylen,
		 "socket_env %s is a variable every process relies on: exported to every "
		 "service, it would replace theirs",
		 var);
	return -1;
}

void svc_sock_env_name(const char *name, char *out, size_t len)
{
	const char *base = strncmp(name, "svc-", 4) == 0 ? name + 4 : name;
	snprintf(out, len, "RON_%s_SOCK", base);
	for (char *p = out; *p; p++)
		*p = (*p == '-' || *p == '.') ? '_' : (char)toupper((unsigned char)*p);
}

int svc_split_args(const char *s, char ***v, int *n, char *why, size_t whylen)
{
	size_t len = strlen(s);
	char *word = malloc(len + 1);
	if (!word) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	const char *p = s;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		size_t w = 0;
		bool quoted = false;
		for (; *p && (quoted || (*p != ' ' && *p != '\t')); p++) {
			if (*p == '"') {
				quoted = !quoted;
				continue;
			}
			if (quoted && *p == '\\' && (p[1] == '"' || p[1] == '\\'))
				p++;
			word[w++] = *p;
		}
		if (quoted) {
			snprintf(why, whylen, "a \" is not closed");
			free(word);
			return -1;
		}
		word[w] = '\0';
		char **nv = realloc(*v, sizeof(**v) * (size_t)(*n + 2));
		char *copy = nv ? strdup(word) : NULL;
		if (nv)
			*v = nv;
		if (!copy) {
			snprintf(why, whylen, "out of memory");
			free(word);
			return -1;
		}
		nv[(*n)++] = copy;
		nv[*n] = NULL;
	}
	free(word);
	return 0;
}

int svc_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la >= SVC_NAME_MAX || lb >= SVC_NAME_MAX)
		return 99;
	int d[SVC_NAME_MAX][SVC_NAME_MAX];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			int sub = d[i - 1][j - 1] + (tolower((unsigned char)a[i - 1]) !=
						     tolower((unsigned char)b[j - 1]));
			int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
			d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
	return d[la][lb];
}

int svctab_find(const struct svc_table *t, const char *name)
{
	for (int i = 0; i < t->n; i++)
		if (strcmp(t->v[i].name, name) == 0)
			return i;
	return -1;
}

int svctab_enabled(const struct svc_table *t)
{
	int n = 0;
	for (int i = 0; i < t->n; i++)
		n += t->v[i].enabled;
	return n;
}

long long svc_num(const struct svc_def *d, const struct config *c, enum cfg_key key)
{
	return d->set[key] ? d->num[key] : config_num(c, key);
}

static void seed_of(struct svc_def *d)
{
	d->seed_bin = d->seed_sock = CFG__COUNT;
	for (size_t i = 0; i < NSEEDS; i++)
		if (strcmp(d->name, seeds[i].name) == 0) {
			d->seed_bin = seeds[i].bin;
			d->seed_sock = seeds[i].sock;
		}
}

int svctab_seed(struct svc_table *t, const struct config *c, char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	t->v = calloc(NSEEDS, sizeof(*t->v));
	if (!t->v) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	t->n = NSEEDS;
	for (size_t i = 0; i < NSEEDS; i++) {
		struct svc_def *d = &t->v[i];
		strlcpy(d->name, seeds[i].name, sizeof(d->name));
		d->enabled = true;
		d->stop_signal = SIGTERM;
	}
	return svctab_resolve(t, c, err, errlen);
}

/* "file:12: [service x]: " before a message about a service's key. */
static int svc_fail(const struct svc_table *t, const struct svc_def *d, unsigned line, char *err,
		    size_t errlen, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int svc_fail(const struct svc_table *t, const struct svc_def *d, unsigned line, char *err,
		    size_t errlen, const char *fmt, ...)
{
	char msg[CFG_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (t->path[0])
		snprintf(err, errlen, "%s:%u: [service %s]: %s", t->path, line ? line : d->line,
			 d->name, msg);
	else
		snprintf(err, errlen, "%s: %s", d->name, msg);
	return -1;
}

static int fill_defaults(struct svc_table *t, struct svc_def *d, const struct config *c, char *err,
			 size_t errlen)
{
	seed_of(d);
	if (!d->bin) {
		if (d->seed_bin == CFG__COUNT)
			return svc_fail(t, d, 0, err, errlen, "bin is missing (required)");
		d->bin = strdup(config_str(c, d->seed_bin));
	}
	if (!d->sock && d->seed_sock != CFG__COUNT) {
		d->sock = strdup(config_str(c, d->seed_sock));
	} else if (!d->sock && d->health == SVC_HEALTH_V1) {
		char path[CFG_STR_MAX + SVC_NAME_MAX + 8];
		snprintf(path, sizeof(path), "%s/%s.sock", config_str(c, CFG_RUN_DIR), d->name);
		d->sock = strdup(path);
	} else if (!d->sock) {
		d->sock = strdup("");
	}
	if (!d->bin || !d->sock)
		return svc_fail(t, d, 0, err, errlen, "out of memory");
	/* A variable naming no socket would be exported empty, and tell nothing. */
	if (d->sock_env[0] && !d->sock[0])
		return svc_fail(t, d, d->key_line[SK_SOCKET_ENV], err, errlen,
				"socket_env = %s, but the service has no socket (health = none "
				"and no socket key): remove socket_env, or set socket",
				d->sock_env);
	if (!d->sock_env[0] && d->sock[0]) {
		if (d->seed_sock != CFG__COUNT)
			strlcpy(d->sock_env, cfg_table[d->seed_sock].env, sizeof(d->sock_env));
		else {
			char env[SVC_NAME_MAX + 16];
			svc_sock_env_name(d->name, env, sizeof(env));
			if (strlen(env) >= sizeof(d->sock_env))
				return svc_fail(t, d, 0, err, errlen,
						"socket_env: %s, made from the name, is longer "
						"than %d bytes; set socket_env",
						env, SVC_ENV_MAX - 1);
			strlcpy(d->sock_env, env, sizeof(d->sock_env));
		}
	}
	if (!d->health_service[0])
		wire_service_name(d->name, d->health_service, sizeof(d->health_service));
	return 0;
}

/* After the check that no two services share one: that names the other service. */
static int check_sock_env(struct svc_table *t, struct svc_def *d, char *err, size_t errlen)
{
	char why[200];
	const char *own = d->seed_sock != CFG__COUNT ? cfg_table[d->seed_sock].env : NULL;
	if (!d->sock_env[0] || svc_sock_env_check(d->sock_env, own, why, sizeof(why)) == 0)
		return 0;
	return svc_fail(t, d, d->key_line[SK_SOCKET_ENV], err, errlen, "%s%s", why,
			d->key_line[SK_SOCKET_ENV] ? ""
						   : " (made from the service's name: set "
						     "socket_env to another)");
}

static int check_socket(struct svc_table *t, struct svc_def *d, char *err, size_t errlen)
{
	if (d->health == SVC_HEALTH_V1 && !d->sock[0])
		return svc_fail(t, d, d->key_line[SK_SOCKET], err, errlen,
				"socket is empty; a v1.health check needs one (or health = none)");
	if (!d->sock[0])
		return 0;
	char why[256];
	struct sockaddr_un sa;
	socklen_t salen;
	if (d->sock[0] != '/')
		snprintf(why, sizeof(why), "not an absolute path");
	else if (sockpath_addr(&sa, &salen, d->sock, why, sizeof(why)) == 0)
		return 0;
	/* A seed socket nobody wrote in a file came from its variable: name that. */
	if (d->seed_sock != CFG__COUNT && !d->key_line[SK_SOCKET] && !t->path[0])
		snprintf(err, errlen, "%s=%s: %s", cfg_table[d->seed_sock].env, d->sock, why);
	else
		svc_fail(t, d, d->key_line[SK_SOCKET], err, errlen, "socket=%s: %s", d->sock, why);
	return -1;
}

/* getpwnam(3): these errors, like none, may mean only that the name is not there. */
static bool not_found(int e)
{
	return e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM;
}

static int check_user(struct svc_table *t, struct svc_def *d, char *err, size_t errlen)
{
	if (!d->user && !d->group)
		return 0;
	unsigned line = d->key_line[d->user ? SK_USER : SK_GROUP];
	/* A group alone would still run the service as root, which the file does not say. */
	if (!d->user)
		return svc_fail(t, d, line, err, errlen,
				"group=%s without user: the service would run as root (uid 0) in "
				"that group; set user too (user = root if that is what you mean)",
				d->group);
	if (geteuid() != 0)
		return svc_fail(t, d, line, err, errlen,
				"%s=%s needs ron-kernel to run as root (it runs as uid %u)",
				d->user ? "user" : "group", d->user ? d->user : d->group,
				(unsigned)geteuid());
	if (d->user) {
		errno = 0;
		struct passwd *pw = getpwnam(d->user);
		if (!pw)
			return svc_fail(t, d, line, err, errlen, "user=%s: %s", d->user,
					not_found(errno) ? "no such user" : strerror(errno));
		d->uid = pw->pw_uid;
		d->gid = pw->pw_gid;
	} else {
		d->uid = 0;
	}
	if (d->group) {
		errno = 0;
		struct group *gr = getgrnam(d->group);
		if (!gr)
			return svc_fail(t, d, d->key_line[SK_GROUP], err, errlen, "group=%s: %s",
					d->group,
					not_found(errno) ? "no such group" : strerror(errno));
		d->gid = gr->gr_gid;
	}
	return 0;
}

static int check_settings(struct svc_table *t, struct svc_def *d, const struct config *c, char *err,
			  size_t errlen)
{
	static const struct {
		enum cfg_key a, b;
		bool strict;
	} rules[] = {
	    {CFG_HEALTH_TIMEOUT_MS, CFG_HEALTH_INTERVAL_MS, true},
	    {CFG_BACKOFF_MIN_MS, CFG_BACKOFF_MAX_MS, false},
	};
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		enum cfg_key a = rules[i].a, b = rules[i].b;
		long long va = svc_num(d, c, a), vb = svc_num(d, c, b);
		if (!d->set[a] && !d->set[b])
			continue; /* config_check has seen them */
		if (rules[i].strict ? va < vb : va <= vb)
			continue;
		char ka[64], kb[64];
		config_file_key(a, ka, sizeof(ka));
		config_file_key(b, kb, sizeof(kb));
		return svc_fail(t, d, d->set[a] ? d->num_line[a] : d->num_line[b], err, errlen,
				"%s=%lld must be %s %s=%lld", ka, va,
				rules[i].strict ? "less than" : "at most", kb, vb);
	}
	return 0;
}

/* Depth-first search for a cycle through `after`; names it "a -> b -> a". */
static int find_cycle(struct svc_table *t, int i, int *mark, int *stack, int depth, char *err,
		      size_t errlen)
{
	mark[i] = 1;
	stack[depth] = i;
	struct svc_def *d = &t->v[i];
	for (int j = 0; j < d->nafter; j++) {
		int k = d->after[j];
		if (mark[k] == 2)
			continue;
		if (mark[k] == 1) {
			char path[CFG_ERR_MAX] = "";
			int from = depth;
			while (from > 0 && stack[from] != k)
				from--;
			for (int s = from; s <= depth; s++) {
				strlcat(path, t->v[stack[s]].name, sizeof(path));
				strlcat(path, " -> ", sizeof(path));
			}
			strlcat(path, t->v[k].name, sizeof(path));
			return svc_fail(t, d, d->key_line[SK_AFTER], err, errlen,
					"after: a cycle: %s", path);
		}
		if (find_cycle(t, k, mark, stack, depth + 1, err, errlen) < 0)
			return -1;
	}
	mark[i] = 2;
	return 0;
}

static int resolve_after(struct svc_table *t, char *err, size_t errlen)
{
	for (int i = 0; i < t->n; i++) {
		struct svc_def *d = &t->v[i];
		free(d->after);
		d->after = d->nafter ? calloc((size_t)d->nafter, sizeof(int)) : NULL;
		if (d->nafter && !d->after)
			return svc_fail(t, d, 0, err, errlen, "out of memory");
		for (int j = 0; j < d->nafter; j++) {
			int k = svctab_find(t, d->after_names[j]);
			if (k < 0)
				return svc_fail(t, d, d->key_line[SK_AFTER], err, errlen,
						"after=%s: no service named %s", d->after_names[j],
						d->after_names[j]);
			if (k == i)
				return svc_fail(t, d, d->key_line[SK_AFTER], err, errlen,
						"after=%s: a service cannot wait for itself",
						d->after_names[j]);
			if (!t->v[k].enabled)
				return svc_fail(t, d, d->key_line[SK_AFTER], err, errlen,
						"after=%s: %s is not enabled", d->after_names[j],
						d->after_names[j]);
			d->after[j] = k;
		}
	}
	int *mark = calloc((size_t)t->n, sizeof(int)), *stack = calloc((size_t)t->n, sizeof(int));
	int rc = 0;
	if (!mark || !stack) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	for (int i = 0; rc == 0 && i < t->n; i++)
		if (!mark[i])
			rc = find_cycle(t, i, mark, stack, 0, err, errlen);
	free(mark);
	free(stack);
	return rc;
}

int svctab_resolve(struct svc_table *t, const struct config *c, char *err, size_t errlen)
{
	for (int i = 0; i < t->n; i++) {
		struct svc_def *d = &t->v[i];
		if (fill_defaults(t, d, c, err, errlen) < 0 ||
		    check_socket(t, d, err, errlen) < 0 || check_user(t, d, err, errlen) < 0 ||
		    check_settings(t, d, c, err, errlen) < 0)
			return -1;
	}
	for (int i = 0; i < t->n; i++) {
		struct svc_def *d = &t->v[i];
		if (!d->enabled)
			continue;
		for (int j = 0; j < i; j++) {
			struct svc_def *o = &t->v[j];
			if (!o->enabled)
				continue;
			if (d->sock[0] && strcmp(d->sock, o->sock) == 0)
				return svc_fail(t, d, d->key_line[SK_SOCKET], err, errlen,
						"socket %s is also %s's; two services cannot share "
						"a socket",
						d->sock, o->name);
			if (d->sock_env[0] && strcmp(d->sock_env, o->sock_env) == 0)
				return svc_fail(t, d, d->key_line[SK_SOCKET_ENV], err, errlen,
						"socket_env %s is also %s's", d->sock_env, o->name);
		}
	}
	for (int i = 0; i < t->n; i++)
		if (t->v[i].enabled && check_sock_env(t, &t->v[i], err, errlen) < 0)
			return -1;
	if (svctab_enabled(t) == 0) {
		snprintf(err, errlen, "%s: every service is disabled", t->path[0] ? t->path : "");
		return -1;
	}
	return resolve_after(t, err, errlen);
}

static void free_list(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void svctab_free(struct svc_table *t)
{
	for (int i = 0; t->v && i < t->n; i++) {
		struct svc_def *d = &t->v[i];
		free(d->bin);
		free(d->sock);
		free_list(d->args, d->nargs);
		free_list(d->env, d->nenv);
		free(d->env_line);
		free_list(d->after_names, d->nafter);
		free(d->after);
		free(d->user);
		free(d->group);
		free(d->working_dir);
		free(d->log_dir);
	}
	free(t->v);
	memset(t, 0, sizeof(*t));
}

/* --- ron-kernel --check-config --- */

#define VALUE_COL 40

static void print_kv(FILE *f, const char *key, const char *value, const char *origin)
{
	int n = fprintf(f, "%s = %s", key, value);
	fprintf(f, "%*s ; %s\n", n < VALUE_COL ? VALUE_COL - n : 0, "", origin);
}

/* One arg as the file would write it: quoted when it holds a blank or a quote. */
static void arg_quote(const char *a, char *buf, size_t cap)
{
	if (a[0] && !strpbrk(a, " \t\"\\")) {
		strlcpy(buf, a, cap);
		return;
	}
	size_t o = 0;
	if (o + 1 < cap)
		buf[o++] = '"';
	for (; *a && o + 3 < cap; a++) {
		if (*a == '"' || *a == '\\')
			buf[o++] = '\\';
		buf[o++] = *a;
	}
	if (o + 1 < cap)
		buf[o++] = '"';
	buf[o] = '\0';
}

static void key_origin(const struct svc_table *t, const struct svc_def *d, enum svc_key k,
		       const char *otherwise, char *buf, size_t cap)
{
	if (d->key_line[k])
		snprintf(buf, cap, "%s:%u", t->path, d->key_line[k]);
	else
		strlcpy(buf, otherwise, cap);
}

static void print_service(FILE *f, const struct svc_table *t, const struct svc_def *d,
			  const struct config *c)
{
	char o[CFG_STR_MAX + 64], v[CFG_STR_MAX * 2];
	fprintf(f, "\n[service %s]", d->name);
	if (d->line)
		fprintf(f, "%*s ; %s:%u",
			(int)(VALUE_COL - 10 - strlen(d->name)) > 0
			    ? (int)(VALUE_COL - 10 - strlen(d->name))
			    : 0,
			"", t->path, d->line);
	fputc('\n', f);
	char seed_o[CFG_STR_MAX + 64];
	if (d->seed_bin != CFG__COUNT)
		config_origin(c, d->seed_bin, t->path, seed_o, sizeof(seed_o));
	else
		strlcpy(seed_o, "default", sizeof(seed_o));
	key_origin(t, d, SK_BIN, seed_o, o, sizeof(o));
	print_kv(f, "bin", d->bin, o);
	v[0] = '\0';
	for (int i = 0; i < d->nargs; i++) {
		char q[CFG_STR_MAX];
		arg_quote(d->args[i], q, sizeof(q));
		if (i)
			strlcat(v, " ", sizeof(v));
		strlcat(v, q, sizeof(v));
	}
	key_origin(t, d, SK_ARGS, "default", o, sizeof(o));
	print_kv(f, "args", v, o);
	for (int i = 0; i < d->nenv; i++) {
		char where[CFG_STR_MAX + 16];
		snprintf(where, sizeof(where), "%s:%u", t->path, d->env_line ? d->env_line[i] : 0);
		print_kv(f, "env", d->env[i], where);
	}
	if (d->seed_sock != CFG__COUNT)
		config_origin(c, d->seed_sock, t->path, seed_o, sizeof(seed_o));
	else
		strlcpy(seed_o, d->sock[0] ? "default: RON_RUN_DIR/NAME.sock" : "default: none",
			sizeof(seed_o));
	key_origin(t, d, SK_SOCKET, seed_o, o, sizeof(o));
	print_kv(f, "socket", d->sock, o);
	key_origin(t, d, SK_SOCKET_ENV, "default", o, sizeof(o));
	print_kv(f, "socket_env", d->sock_env, o);
	key_origin(t, d, SK_HEALTH, "default", o, sizeof(o));
	print_kv(f, "health", d->health == SVC_HEALTH_NONE ? "none" : "v1.health", o);
	key_origin(t, d, SK_HEALTH_SERVICE, "default: from the name", o, sizeof(o));
	print_kv(f, "health_service", d->health_service, o);
	v[0] = '\0';
	for (int i = 0; i < d->nafter; i++) {
		if (i)
			strlcat(v, " ", sizeof(v));
		strlcat(v, d->after_names[i], sizeof(v));
	}
	key_origin(t, d, SK_AFTER, "default: start at once", o, sizeof(o));
	print_kv(f, "after", v, o);
	key_origin(t, d, SK_USER, "default: the kernel's", o, sizeof(o));
	print_kv(f, "user", d->user ? d->user : "", o);
	key_origin(t, d, SK_GROUP, d->user ? "default: the user's" : "default: the kernel's", o,
		   sizeof(o));
	print_kv(f, "group", d->group ? d->group : "", o);
	key_origin(t, d, SK_WORKING_DIR, "default: the kernel's", o, sizeof(o));
	print_kv(f, "working_dir", d->working_dir ? d->working_dir : "", o);
	key_origin(t, d, SK_STOP_SIGNAL, "default", o, sizeof(o));
	const char *sig = sig_name(d->stop_signal);
	print_kv(f, "stop_signal", strncmp(sig, "SIG", 3) == 0 ? sig + 3 : sig, o);
	key_origin(t, d, SK_ENABLED, "default", o, sizeof(o));
	print_kv(f, "enabled", d->enabled ? "yes" : "no", o);
	key_origin(t, d, SK_LOG_DIR, "default: [kernel] log_dir", o, sizeof(o));
	print_kv(f, "log_dir", d->log_dir ? d->log_dir : config_str(c, CFG_LOG_DIR), o);
	for (int k = 0; k < CFG__COUNT; k++) {
		if (!(cfg_table[k].scope & (CFG_MONITOR | CFG_SERVICE)))
			continue;
		char key[64], num[32];
		config_file_key(k, key, sizeof(key));
		snprintf(num, sizeof(num), "%lld", svc_num(d, c, k));
		if (d->set[k])
			snprintf(o, sizeof(o), "%s:%u", t->path, d->num_line[k]);
		else {
			char ko[CFG_STR_MAX + 32];
			config_origin(c, k, t->path, ko, sizeof(ko));
			snprintf(o, sizeof(o), "[kernel]: %s", ko);
		}
		print_kv(f, key, num, o);
	}
}

void svctab_print(FILE *f, const struct svc_table *t, const struct config *c)
{
	int en = svctab_enabled(t);
	fprintf(f, "; %s: ok, %d service%s", t->path[0] ? t->path : "no config file", en,
		en == 1 ? "" : "s");
	if (en < t->n)
		fprintf(f, " (and %d disabled)", t->n - en);
	fprintf(f, "\n; every value with where it came from: flag > env > file > default\n");
	fprintf(f, "\n[kernel]\n");
	for (int k = 0; k < CFG__COUNT; k++) {
		if (k == CFG_CONFIG || (cfg_table[k].scope & CFG_KERNEL) == 0)
			continue;
		char key[64], o[CFG_STR_MAX + 32];
		config_file_key(k, key, sizeof(key));
		config_origin(c, k, t->path, o, sizeof(o));
		print_kv(f, key, config_str(c, k), o);
	}
	for (int i = 0; i < t->n; i++)
		print_service(f, t, &t->v[i], c);
}
