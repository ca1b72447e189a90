/* ron-kernel logs [-n N] [-f] [--since T] [NAME...]: the services' log files read
 * straight from the disk, printed as the live stream prints them ("NAME[PID]: line"),
 * several services merged by the time each line carries; -f follows like tail -F. */
#include <dirent.h>
#include <json.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kernel.h"
#include "svcout.h"

#define LOGS_EX_OK	    0
#define LOGS_EX_UNKNOWN	    4
#define LOGS_EX_USAGE	    64
#define LOGS_EX_UNAVAILABLE 69
/* A rename inotify did not tell (another file system): looked at this often anyway. */
#define LOGS_RECHECK_MS 1000
#define LOGS_TS_LEN	24 /* 2026-01-01T00:00:00.123Z */

/* One service's log directory, and for -f the `current` being read. */
struct logsrc {
	const char *name;
	int dirfd;
	int fd; /* current, read up to the last whole line */
	dev_t dev;
	ino_t ino;
	char *part; /* a line not yet ended */
	size_t plen;
};

struct logline {
	char *text; /* "TS PID stream: line", without the newline */
	const char *name;
	size_t seq;
};

struct lines {
	struct logline *v;
	size_t n, cap;
};

/* A service whose log is elsewhere than the default root: its own log_dir, learnt
 * from status.json (only the kernel reads the config file's sections). */
struct logwhere {
	char *name, *dir;
};

struct logmap {
	struct logwhere *v;
	int n;
};

static int usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "ron-kernel: logs: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nusage: ron-kernel logs [-n N] [-f] [--since T] [NAME...]\n");
	return LOGS_EX_USAGE;
}

static void lines_add(struct lines *l, const char *name, const char *s, size_t len)
{
	if (len < LOGS_TS_LEN + 2)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct logline *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return;
		l->v = v;
		l->cap = cap;
	}
	char *t = strndup(s, len);
	if (!t)
		return;
	l->v[l->n] = (struct logline){t, name, l->n};
	l->n++;
}

static void lines_clear(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].text);
	l->n = 0;
}

/* By time; lines of one moment keep the order they were read in. */
static int line_cmp(const void *a, const void *b)
{
	const struct logline *x = a, *y = b;
	int c = strncmp(x->text, y->text, LOGS_TS_LEN);
	return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* "TS PID stream: text" -> "NAME[PID]: text"; a piece after the first has '+'. */
static void line_print(const struct logline *l)
{
	const char *pid = l->text + LOGS_TS_LEN + 1;
	size_t plen = strcspn(pid, " ");
	const char *stream = pid + plen + (pid[plen] ? 1 : 0);
	size_t slen = strcspn(stream, ":+");
	if (!stream[slen]) {
		printf("%s: %s\n", l->name, l->text);
		return;
	}
	const char *text = stream + slen + 1;
	printf("%s[%.*s]%c %s\n", l->name, (int)plen, pid, stream[slen], text + (*text == ' '));
}

/* The whole lines of buf into l; what follows the last newline is left in *rest. */
static size_t lines_cut(struct lines *l, const char *name, const char *buf, size_t n)
{
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		if (buf[i] != '\n')
			continue;
		lines_add(l, name, buf + start, i - start);
		start = i + 1;
	}
	return start;
}

static void src_read(struct logsrc *s, int fd, struct lines *l)
{
	char buf[65536];
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		char *all = realloc(s->part, s->plen + (size_t)r);
		if (!all)
			return;
		memcpy(all + s->plen, buf, (size_t)r);
		size_t used = lines_cut(l, s->name, all, s->plen + (size_t)r);
		s->plen = s->plen + (size_t)r - used;
		memmove(all, all + used, s->plen);
		s->part = all;
	}
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The rotated files, oldest first (their names sort by time). */
static void src_read_rotated(struct logsrc *s, struct lines *l)
{
	int dfd = dup(s->dirfd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return;
	}
	char **names = NULL;
	size_t n = 0;
	for (struct dirent *e; (e = readdir(d));) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] != '@' || len < 3 || strcmp(e->d_name + len - 2, ".s") != 0)
			continue;
		char **v = realloc(names, (n + 1) * sizeof(*names));
		if (!v || !(v[n] = strdup(e->d_name))) {
			names = v ? v : names;
			break;
		}
		names = v;
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		int fd = openat(s->dirfd, names[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0) {
			src_read(s, fd, l);
			close(fd);
			s->plen = 0; /* a rotated file ends with a whole line */
		}
		free(names[i]);
	}
	free(names);
}

/* Opens current if it is a file other than the one being read; true if it is new. */
static bool src_reopen(struct logsrc *s)
{
	struct stat st;
	if (fstatat(s->dirfd, "current", &st, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	if (s->fd >= 0 && st.st_dev == s->dev && st.st_ino == s->ino)
		return false;
	int fd = openat(s->dirfd, "current", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	s->fd = fd;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	return true;
}

/* What was added since the last look, across a rotation: the old file's rest first. */
static void src_poll(struct logsrc *s, struct lines *l)
{
	if (s->fd >= 0)
		src_read(s, s->fd, l);
	int old = s->fd;
	if (!src_reopen(s))
		return;
	if (old >= 0) {
		src_read(s, old, l);
		close(old);
	}
	s->plen = 0;
	src_read(s, s->fd, l);
}

/* 10s, 10m, 1h, 2d ago, or an ISO time in UTC (2026-12-07T19:00[:00][Z]); false if
 * it is neither.  out is the time as the log files write it. */
static bool since_parse(const char *arg, char *out, size_t cap)
{
	char *end;
	time_t t;
	long long v = strtoll(arg, &end, 10);
	static const struct {
		char c;
		long long s;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	if (end != arg && v >= 0 && end[0] && !end[1] && !strchr(arg, '-')) {
		size_t i = 0;
		while (i < 4 && units[i].c != end[0])
			i++;
		if (i == 4)
			return false;
		t = time(NULL) - (time_t)(v * units[i].s);
	} else {
		struct tm tm = {0};
		const char *p = strptime(arg, "%Y-%m-%d", &tm);
		if (!p)
			return false;
		if (*p == 'T' || *p == ' ') {
			const char *q = strptime(p + 1, "%H:%M:%S", &tm);
			p = q ? q : strptime(p + 1, "%H:%M", &tm);
			if (!p)
				return false;
		}
		if (*p == 'Z')
			p++;
		if (*p)
			return false;
		t = timegm(&tm);
	}
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	return true;
}

struct logs_opts {
	long long n;
	bool follow;
	char since[40];
	char **names;
	int nnames;
};

static int opts_parse(int argc, char **argv, struct logs_opts *o)
{
	o->n = 10;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		if (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0) {
			o->follow = true;
			continue;
		}
		if (strcmp(a, "-n") == 0 || strcmp(a, "--since") == 0) {
			if (i + 1 >= argc)
				return usage("%s needs a value", a);
			v = argv[++i];
		} else if (strncmp(a, "--since=", 8) == 0) {
			v = a + 8;
			a = "--since";
		} else if (a[0] == '-') {
			return usage("unknown option %s", a);
		} else {
			o->names[o->nnames++] = argv[i];
			continue;
		}
		if (strcmp(a, "-n") == 0) {
			char *end;
			o->n = strtoll(v, &end, 10);
			if (end == v || *end || o->n < 0)
				return usage("-n %s: a number of lines, 0 or more", v);
		} else if (!since_parse(v, o->since, sizeof(o->since))) {
			return usage(
			    "--since %s: 10s, 10m, 1h, 2d or a time like 2026-12-07T19:00Z", v);
		}
	}
	return LOGS_EX_OK;
}

/* Where the logs are: RON_LOG_DIR's when set, else the run directory's own. */
static void logs_root(const char *run_dir, char *buf, size_t cap)
{
	const char *d = getenv("RON_LOG_DIR");
	if (d && d[0])
		snprintf(buf, cap, "%s", d);
	else
		snprintf(buf, cap, "%s/%s", run_dir, SVCOUT_RUN_LOG);
}

/* Every service with a log directory, sorted; n of them. */
static char **logs_known(int root, int *n)
{
	*n = 0;
	int dfd = root >= 0 ? dup(root) : -1;
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return NULL;
	}
	char **v = NULL;
	for (struct dirent *e; (e = readdir(d));) {
		struct stat st;
		if (e->d_name[0] == '.' || fstatat(root, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		char **nv = realloc(v, (size_t)(*n + 1) * sizeof(*v));
		if (!nv || !(nv[*n] = strdup(e->d_name))) {
			v = nv ? nv : v;
			break;
		}
		v = nv;
		(*n)++;
	}
	closedir(d);
	if (*n > 1)
		qsort(v, (size_t)*n, sizeof(*v), name_cmp);
	return v;
}

static bool name_known(const char *name, char **known, int nk)
{
	for (int i = 0; i < nk; i++)
		if (strcmp(name, known[i]) == 0)
			return true;
	return false;
}

static void name_unknown(const char *name, const char *root, char **known, int nk)
{
	const char *best = NULL;
	int bestd = INT_MAX;
	for (int i = 0; i < nk; i++) {
		int d = svc_distance(name, known[i]);
		if (d < bestd) {
			bestd = d;
			best = known[i];
		}
	}
	fprintf(stderr, "ron-kernel: no logs of a service named %s in %s", name, root);
	if (best && bestd <= 3)
		fprintf(stderr, "; did you mean %s?", best);
	fprintf(stderr, "\nron-kernel: logs of:");
	for (int i = 0; i < nk; i++)
		fprintf(stderr, " %s", known[i]);
	fprintf(stderr, "%s\n", nk ? "" : " none yet");
}

/* Sorted by time, since dropped, the last n printed (all of them for n < 0). */
static void lines_flush(struct lines *l, const char *since, long long n)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), line_cmp);
	size_t from = 0;
	while (since[0] && from < l->n && strncmp(l->v[from].text, since, LOGS_TS_LEN) < 0)
		from++;
	if (n >= 0 && l->n - from > (size_t)n)
		from = l->n - (size_t)n;
	for (size_t i = from; i < l->n; i++)
		line_print(&l->v[i]);
	fflush(stdout);
	lines_clear(l);
}

static void logs_follow(struct logsrc *src, int ns, struct lines *l, const char *since)
{
	int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	for (int i = 0; in >= 0 && i < ns; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", src[i].dirfd);
		inotify_add_watch(in, path, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM);
	}
	for (;;) {
		struct pollfd p = {in, POLLIN, 0};
		if (poll(&p, in >= 0 ? 1 : 0, LOGS_RECHECK_MS) < 0 && errno != EINTR)
			break;
		char ev[4096];
		while (in >= 0 && read(in, ev, sizeof(ev)) > 0)
			;
		for (int i = 0; i < ns; i++)
			src_poll(&src[i], l);
		lines_flush(l, since, -1);
		if (ferror(stdout))
			break;
	}
	if (in >= 0)
		close(in);
}

static const char *dir_of(const struct logmap *m, const char *name, const char *rootpath)
{
	for (int i = 0; m && i < m->n; i++)
		if (strcmp(m->v[i].name, name) == 0)
			return m->v[i].dir;
	return rootpath;
}

/* NAME's log directory: below its own log_dir when it has one, else below root. */
static int src_open(int root, const char *rootpath, const struct logmap *m, const char *name)
{
	const char *dir = dir_of(m, name, rootpath);
	if (dir == rootpath)
		return openat(root, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char path[CFG_STR_MAX + REPORT_NAME_MAX + 2];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static int logs_run(int root, const char *rootpath, const struct logmap *m, struct logs_opts *o,
		    char **known, int nk)
{
	char **names = o->nnames ? o->names : known;
	int ns = o->nnames ? o->nnames : nk;
	for (int i = 0; i < o->nnames; i++)
		if (!name_known(o->names[i], known, nk)) {
			name_unknown(o->names[i], rootpath, known, nk);
			return LOGS_EX_UNKNOWN;
		}
	if (ns == 0 && !o->follow) {
		printf("no logs yet in %s\n", rootpath);
		return LOGS_EX_OK;
	}
	struct logsrc *src = calloc((size_t)ns + 1, sizeof(*src));
	struct lines l = {0};
	if (!src)
		return LOGS_EX_UNAVAILABLE;
	for (int i = 0; i < ns; i++) {
		src[i].name = names[i];
		src[i].fd = -1;
		src[i].dirfd = src_open(root, rootpath, m, names[i]);
		if (src[i].dirfd < 0) {
			fprintf(stderr, "ron-kernel: open %s/%s: %s\n",
				dir_of(m, names[i], rootpath), names[i], strerror(errno));
			continue;
		}
		src_read_rotated(&src[i], &l);
		src_reopen(&src[i]);
		if (src[i].fd >= 0)
			src_read(&src[i], src[i].fd, &l);
	}
	lines_flush(&l, o->since, o->n);
	if (o->follow)
		logs_follow(src, ns, &l, o->since);
	for (int i = 0; i < ns; i++) {
		if (src[i].fd >= 0)
			close(src[i].fd);
		if (src[i].dirfd >= 0)
			close(src[i].dirfd);
		free(src[i].part);
	}
	free(src);
	free(l.v);
	return LOGS_EX_OK;
}

/* The services status.json says log elsewhere than rootpath, into m, and added to the
 * known names when their directory is there.  Without a status.json, none. */
static void logs_elsewhere(const char *run_dir, const char *rootpath, struct logmap *m,
			   char ***known, int *nk)
{
	bool alive;
	long long age;
	char why[CFG_STR_MAX + 128];
	json_object *o = kernel_status_load(run_dir, &alive, &age, why, sizeof(why)), *a, *v;
	if (!o || !json_object_object_get_ex(o, "services", &a)) {
		json_object_put(o);
		return;
	}
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *e = json_object_array_get_idx(a, i);
		const char *name =
		    json_object_object_get_ex(e, "service", &v) ? json_object_get_string(v) : NULL;
		const char *dir =
		    json_object_object_get_ex(e, "log_dir", &v) ? json_object_get_string(v) : NULL;
		if (!name || !dir || !dir[0] || strcmp(dir, rootpath) == 0)
			continue;
		struct logwhere *w = realloc(m->v, (size_t)(m->n + 1) * sizeof(*w));
		char **k = realloc(*known, (size_t)(*nk + 1) * sizeof(**known));
		if (w)
			m->v = w;
		if (k)
			*known = k;
		if (!w || !k || !(w[m->n].name = strdup(name)))
			break;
		if (!(w[m->n].dir = strdup(dir))) {
			free(w[m->n].name);
			break;
		}
		m->n++;
		char path[CFG_STR_MAX + REPORT_NAME_MAX + 2];
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		if (!name_known(name, *known, *nk) && access(path, F_OK) == 0 &&
		    (k[*nk] = strdup(name)))
			(*nk)++;
	}
	json_object_put(o);
}

int kernel_logs_tail(const char *dir, const char *name, long long n)
{
	int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	if (root < 0 || fstatat(root, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
		if (root >= 0)
			close(root);
		return -1;
	}
	char *names[] = {(char *)name};
	struct logs_opts o = {.n = n, .names = names, .nnames = 1};
	logs_run(root, dir, NULL, &o, names, 1);
	close(root);
	return 0;
}

int kernel_ctl_logs(const char *run_dir, int argc, char **argv)
{
	struct logs_opts o = {0};
	o.names = calloc((size_t)argc + 1, sizeof(*o.names));
	if (!o.names)
		return LOGS_EX_UNAVAILABLE;
	int rc = opts_parse(argc, argv, &o);
	if (rc != LOGS_EX_OK) {
		free(o.names);
		return rc;
	}
	char rootpath[CFG_STR_MAX + 8];
	logs_root(run_dir, rootpath, sizeof(rootpath));
	int root = open(rootpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0 && errno != ENOENT) {
		fprintf(stderr, "ron-kernel: open %s: %s\n", rootpath, strerror(errno));
		free(o.names);
		return LOGS_EX_UNAVAILABLE;
	}
	int nk;
	char **known = logs_known(root, &nk);
	struct logmap m = {0};
	logs_elsewhere(run_dir, rootpath, &m, &known, &nk);
	rc = logs_run(root, rootpath, &m, &o, known, nk);
	for (int i = 0; i < nk; i++)
		free(known[i]);
	free(known);
	for (int i = 0; i < m.n; i++) {
		free(m.v[i].name);
		free(m.v[i].dir);
	}
	free(m.v);
	free(o.names);
	if (root >= 0)
		close(root);
	return rc;
}
