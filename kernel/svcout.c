/* Service output in the kernel's event loop.  Two pipes per service (stdout and
 * stderr apart, so the stream of a line is never guessed), made once and kept for
 * the kernel's life: the kernel holds both ends, every monitor of the service gets
 * the same write ends at fds 7 and 8 and hands them to the service as its 1 and 2.
 * A monitor's death therefore closes nothing the service writes to: no SIGPIPE, no
 * EOF, no line lost.  The read ends are non-blocking and read a bounded amount per
 * turn, so a service that floods slows only itself (its pipe fills, its writes
 * wait); over its rate limit its lines are dropped and counted. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "kernel.h"
#include "observe.h"
#include "svcout.h"
#include "text.h"

/* Reads of one stream in one turn of the loop: a flood waits for the next turn. */
#define READ_CHUNK     65536
#define READS_PER_TURN 4
/* At exit, what a stream may still hold (its writer may be a grandchild that goes on). */
#define EXIT_READ_MAX (1 << 20)
/* A drop notice per service and kind at most this often. */
#define NOTICE_US 1000000
/* How long a failed log file waits before it is tried again. */
#define LOG_RETRY_US   1000000
#define DRAIN_STALL_MS 1000

enum drop_kind { DROP_RATE, DROP_QUEUE, DROP__COUNT };

struct svcout {
	int rfd[SVC__STREAMS], wfd[SVC__STREAMS];
	struct svcline lines[SVC__STREAMS];
	struct svc_rate rate;
	unsigned long long dropped[DROP__COUNT]; /* since the last notice */
	int64_t drop_since_us[DROP__COUNT];
	struct logfile *log;
	bool log_failed;
	unsigned long long log_dropped;
	int64_t log_retry_us;
	bool watched; /* the read ends are in the kernel's epoll set */
	/* Its last SVCOUT_TAIL_LINES lines, escaped and cut, for the status page: only
	 * while ron-httpd serves one, allocated at the first line. */
	char (*tail)[SVCOUT_TAIL_LEN];
	unsigned ntail, tail_next;
};

/* What every service shares: stderr as a queue of its own, the choices made once. */
struct svcout_kernel {
	struct kernel_outq err;
	enum cfg_service_output mode;
	bool color_err, color_out; /* the destination is a terminal and NO_COLOR is unset */
	int width;
	char buf[SVCLINE_OUT_MAX], plain[SVCLINE_MAX], safe[SVCLINE_MAX * 4];
	int ndropping; /* (service, kind) pairs with drops not yet told: 0 spares the scans */
	char run_log[CFG_STR_MAX + 8]; /* RUN_DIR/log: where logs go when log_dir is unset */
	bool keep_tail;		       /* RON_HTTP_ADDR is set: the status page shows tails */
};
static struct svcout_kernel so_k;

int kernel_svcout_init(struct kernel *k, char *why, size_t whylen)
{
	struct svcout_kernel *g = &so_k;
	/* A log file past RLIMIT_FSIZE must fail a write (EFBIG), not kill the kernel. */
	if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR) {
		snprintf(why, whylen, "ignore SIGXFSZ: %s", strerror(errno));
		return -2;
	}
	g->mode = (enum cfg_service_output)config_num(&k->cfg, CFG_SERVICE_OUTPUT);
	const char *nc = getenv("NO_COLOR");
	bool color = !(nc && nc[0]);
	g->color_err = color && isatty(STDERR_FILENO);
	g->color_out = color && isatty(STDOUT_FILENO);
	if (kernel_outq_init(&g->err, (size_t)config_num(&k->cfg, CFG_OUTPUT_QUEUE_BYTES)) < 0) {
		snprintf(why, whylen, "allocate the stderr queue: %s", strerror(errno));
		return -2;
	}
	if (kernel_outq_open(&g->err, STDERR_FILENO) < 0)
		warn("standard error");
	snprintf(g->run_log, sizeof(g->run_log), "%s/%s", k->run_dir, SVCOUT_RUN_LOG);
	g->keep_tail = config_str(&k->cfg, CFG_HTTP_ADDR)[0] != '\0';
	return 0;
}

/* A line into the tail, the oldest out; a line that does not fit is cut. */
static void tail_add(struct kernel *k, struct svcout *o, const char *line, size_t len)
{
	if (!so_k.keep_tail ||
	    (!o->tail && !(o->tail = calloc(SVCOUT_TAIL_LINES, SVCOUT_TAIL_LEN))))
		return;
	if (len >= SVCOUT_TAIL_LEN)
		len = SVCOUT_TAIL_LEN - 1;
	memcpy(o->tail[o->tail_next], line, len);
	o->tail[o->tail_next][len] = '\0';
	o->tail_next = (o->tail_next + 1) % SVCOUT_TAIL_LINES;
	if (o->ntail < SVCOUT_TAIL_LINES)
		o->ntail++;
	kernel_obs_output(k);
}

int kernel_svcout_tail(const struct kernel_svc *s, const char **lines, int max)
{
	const struct svcout *o = s->out;
	if (!o || !o->tail)
		return 0;
	int n = (int)o->ntail < max ? (int)o->ntail : max;
	for (int i = 0; i < n; i++)
		lines[i] = o->tail[(o->tail_next + SVCOUT_TAIL_LINES - (unsigned)n + (unsigned)i) %
				   SVCOUT_TAIL_LINES];
	return n;
}

void kernel_svcout_settings(struct kernel *k)
{
	so_k.mode = (enum cfg_service_output)config_num(&k->cfg, CFG_SERVICE_OUTPUT);
}

void kernel_svcout_log_moved(struct kernel_svc *s)
{
	/* The next line opens the file in the new directory. */
	if (s->out && s->out->log) {
		logfile_close(s->out->log);
		s->out->log = NULL;
	}
}

const char *kernel_svcout_run_log(void)
{
	return so_k.run_log;
}

static const char *log_dir_of(const struct kernel *k, const struct kernel_svc *s)
{
	const char *d = s->def->log_dir ? s->def->log_dir : config_str(&k->cfg, CFG_LOG_DIR);
	return d[0] ? d : so_k.run_log;
}

/* The run directory's logs are a small budget of their own: files of at most
 * SVCOUT_RUN_LOG_BYTES (or log_max_bytes if smaller), one rotated file kept. */
static long long log_max_of(const struct kernel *k, const struct kernel_svc *s)
{
	long long m = svc_num(s->def, &k->cfg, CFG_LOG_MAX_BYTES);
	return log_dir_of(k, s) == so_k.run_log && m > SVCOUT_RUN_LOG_BYTES ? SVCOUT_RUN_LOG_BYTES
									    : m;
}

static long long log_keep_of(const struct kernel *k, const struct kernel_svc *s)
{
	long long n = svc_num(s->def, &k->cfg, CFG_LOG_KEEP);
	return log_dir_of(k, s) == so_k.run_log && n > 1 ? 1 : n;
}

static void log_failed(struct kernel *k, struct kernel_svc *s, const char *why, int64_t now_us)
{
	struct svcout *o = s->out;
	o->log_dropped++;
	o->log_retry_us = now_us + LOG_RETRY_US;
	if (o->log_failed)
		return;
	o->log_failed = true;
	struct kernel_field f[] = {KF_STR("service", s->name), KF_STR("reason", why)};
	kernel_emit(k, KL_ERROR, "log_failed", f, 2);
}

static void log_line(struct kernel *k, struct kernel_svc *s, const char *line, size_t len,
		     int64_t now_us, int64_t wall_ms)
{
	struct svcout *o = s->out;
	char why[CFG_STR_MAX + 200];
	if (o->log_failed && now_us < o->log_retry_us) {
		o->log_dropped++;
		return;
	}
	/* Made when first needed, inside the run directory: its owner and 0700 hold. */
	if (!o->log && log_dir_of(k, s) == so_k.run_log &&
	    mkdirat(k->run_fd, SVCOUT_RUN_LOG, 0700) < 0 && errno != EEXIST) {
		snprintf(why, sizeof(why), "mkdir %s: %s", so_k.run_log, strerror(errno));
		log_failed(k, s, why, now_us);
		return;
	}
	if (!o->log && !(o->log = logfile_open(log_dir_of(k, s), s->name, why, sizeof(why)))) {
		log_failed(k, s, why, now_us);
		return;
	}
	if (logfile_write(o->log, line, len, log_max_of(k, s), log_keep_of(k, s), wall_ms, why,
			  sizeof(why)) < 0) {
		log_failed(k, s, why, now_us);
		return;
	}
	if (o->log_failed) {
		o->log_failed = false;
		struct kernel_field f[] = {KF_STR("service", s->name),
					   KF_NUM("dropped", o->log_dropped)};
		kernel_emit(k, KL_INFO, "log_resumed", f, 2);
		o->log_dropped = 0;
	}
}

static void dropped(struct svcout *o, enum drop_kind kind, int64_t now_us)
{
	if (!o->dropped[kind]) {
		o->drop_since_us[kind] = now_us;
		so_k.ndropping++;
	}
	o->dropped[kind]++;
}

struct piece_ctx {
	struct kernel *k;
	struct kernel_svc *s;
	enum svc_stream stream;
	int64_t now_us, wall_ms;
};

static void on_piece(void *arg, const char *line, size_t len, unsigned part, bool more)
{
	struct piece_ctx *c = arg;
	struct kernel *k = c->k;
	struct kernel_svc *s = c->s;
	struct svcout *o = s->out;
	struct svcout_kernel *g = &so_k;
	if (!svc_rate_take(&o->rate, svc_num(s->def, &k->cfg, CFG_OUTPUT_RATE),
			   svc_num(s->def, &k->cfg, CFG_OUTPUT_BURST), c->now_us)) {
		dropped(o, DROP_RATE, c->now_us);
		return;
	}
	const char *plain = line;
	size_t plen = len;
	if (memchr(line, 0x1b, len)) {
		plen = svcline_strip_ansi(line, len, g->plain);
		plain = g->plain;
	}
	struct svcline_meta m = {s->name, s->pid, c->stream, part, more, c->wall_ms, g->width};
	size_t n = 0;
	if (k->json) {
		struct kernel_outq *q = &k->out;
		n = g->color_out ? svcline_fmt_json(&m, line, len, g->buf)
				 : svcline_fmt_json(&m, plain, plen, g->buf);
		/* Half the queue stays for the kernel's own events and status lines. */
		if (q->broken || q->dropping || q->len + n > q->cap / 2)
			dropped(o, DROP_QUEUE, c->now_us);
		else
			kernel_outq_push(q, KOUT_EVENT, g->buf, n);
	} else if (g->mode != CFG_SVCOUT_NONE) {
		/* On a terminal colours pass, and no other control reaches it (a cursor
		 * move, a clipboard write, a \r that hides our prefix from a reader). */
		const char *l = g->safe;
		size_t ln = g->color_err
				? text_escape(line, len, g->safe, TEXT_KEEP_TAB | TEXT_KEEP_SGR)
				: text_escape(plain, plen, g->safe, TEXT_KEEP_TAB);
		if (g->mode == CFG_SVCOUT_PREFIX) {
			n = svcline_fmt_text(&m, l, ln, g->buf);
		} else {
			memcpy(g->buf, l, ln);
			g->buf[ln] = '\n';
			n = ln + 1;
		}
		if (g->err.broken || !kernel_outq_push(&g->err, KOUT_EVENT, g->buf, n))
			dropped(o, DROP_QUEUE, c->now_us);
	}
	size_t sn = text_escape(plain, plen, g->safe, TEXT_KEEP_TAB);
	if (part == 0)
		tail_add(k, o, g->safe, sn);
	n = svcline_fmt_file(&m, g->safe, sn, g->buf);
	log_line(k, s, g->buf, n, c->now_us, c->wall_ms);
}

static void err_flush(bool writable)
{
	struct kernel_outq *q = &so_k.err;
	int e;
	kernel_outq_write(q, writable, &e);
	if (e)
		warnx("standard error: %s; service output is dropped from now on", strerror(e));
	/* Drops are told per service (output_dropped); the queue only has to stop dropping. */
	if (kernel_outq_drops_pending(q))
		kernel_outq_drops_taken(q);
}

static void err_flush_ctx(void *ctx, bool writable)
{
	(void)ctx;
	err_flush(writable);
}

/* Reads up to max bytes of one stream; returns false once it is dry. */
static bool read_stream(struct kernel *k, struct kernel_svc *s, enum svc_stream st, size_t max)
{
	static char buf[READ_CHUNK];
	struct svcout *o = s->out;
	struct piece_ctx c = {k, s, st, clock_mono_us(), clock_wall_ms()};
	size_t got = 0;
	while (got < max) {
		ssize_t n = read(o->rfd[st], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN)
				warn("read the %s pipe of %s", svc_stream_name(st), s->name);
			return false;
		}
		svcline_feed(&o->lines[st], buf, (size_t)n, on_piece, &c);
		got += (size_t)n;
		if ((size_t)n < sizeof(buf))
			return false;
	}
	return true;
}

static void width_update(struct kernel *k)
{
	int w = 0;
	for (int i = 0; i < k->nsvc; i++) {
		int n = (int)strlen(k->svc[i].name);
		w = n > w ? n : w;
	}
	/* "[4194304]:" fits the largest pid Linux gives. */
	so_k.width = w + 10;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

bool kernel_svcout_take(struct kernel *k, struct kernel_svc *s, int64_t now_us)
{
	return !s->out || svc_rate_take(&s->out->rate, svc_num(s->def, &k->cfg, CFG_OUTPUT_RATE),
					svc_num(s->def, &k->cfg, CFG_OUTPUT_BURST), now_us);
}

bool kernel_svcout_fds(struct kernel *k, struct kernel_svc *s, int *out_fd, int *err_fd)
{
	width_update(k);
	if (!s->out) {
		struct svcout *o = calloc(1, sizeof(*o));
		if (!o) {
			warn("allocate the output of %s", s->name);
			return false;
		}
		for (int i = 0; i < SVC__STREAMS; i++) {
			o->rfd[i] = o->wfd[i] = -1;
			svcline_init(&o->lines[i]);
		}
		for (int i = 0; i < SVC__STREAMS; i++) {
			int p[2] = {-1, -1};
			/* Only our read end is non-blocking: the service's writes wait as ever. */
			if (pipe2(p, O_CLOEXEC) < 0 || fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
				warn("%s pipe of %s; it writes where its monitor does",
				     svc_stream_name((enum svc_stream)i), s->name);
				close_fd(&p[0]);
				close_fd(&p[1]);
				for (int j = 0; j < SVC__STREAMS; j++) {
					close_fd(&o->rfd[j]);
					close_fd(&o->wfd[j]);
				}
				free(o);
				return false;
			}
			o->rfd[i] = p[0];
			o->wfd[i] = p[1];
		}
		s->out = o;
		kernel_svcout_sync(k, s);
	}
	*out_fd = s->out->wfd[SVC_STDOUT];
	*err_fd = s->out->wfd[SVC_STDERR];
	return true;
}

void kernel_svcout_exited(struct kernel *k, struct kernel_svc *s)
{
	struct svcout *o = s->out;
	if (!o)
		return;
	for (int st = 0; st < SVC__STREAMS; st++) {
		read_stream(k, s, (enum svc_stream)st, EXIT_READ_MAX);
		struct piece_ctx c = {k, s, (enum svc_stream)st, clock_mono_us(), clock_wall_ms()};
		svcline_flush(&o->lines[st], on_piece, &c);
	}
	err_flush(false);
	kernel_out_flush(k, false);
}

void kernel_svcout_free(struct kernel *k, struct kernel_svc *s)
{
	struct svcout *o = s->out;
	if (!o)
		return;
	kernel_svcout_exited(k, s);
	for (int d = 0; d < DROP__COUNT; d++)
		if (o->dropped[d])
			so_k.ndropping--;
	for (int i = 0; i < SVC__STREAMS; i++) {
		if (o->watched)
			kernel_ev_unwatch(k, o->rfd[i]);
		close_fd(&o->rfd[i]);
		close_fd(&o->wfd[i]);
		svcline_free(&o->lines[i]);
	}
	free(o->tail);
	logfile_close(o->log);
	free(o);
	s->out = NULL;
}

int kernel_svcout_pollfds(struct kernel *k, struct pollfd *p, struct kernel_svc **who)
{
	(void)k;
	int n = 0;
	err_flush(false);
	if (kernel_outq_wants_poll(&so_k.err)) {
		who[n] = NULL;
		p[n++] = (struct pollfd){so_k.err.fd, POLLOUT, 0};
	}
	return n;
}

void kernel_svcout_sync(struct kernel *k, struct kernel_svc *s)
{
	struct svcout *o = s->out;
	if (!o)
		return;
	bool want =
	    !(s->pid == 0 && !k->stopping && (s->state == ST_STARTING || s->state == ST_BACKOFF));
	if (want == o->watched)
		return;
	for (int st = 0; st < SVC__STREAMS; st++) {
		if (want)
			kernel_ev_watch(k, s, o->rfd[st], st + 1);
		else
			kernel_ev_unwatch(k, o->rfd[st]);
	}
	o->watched = want;
}

void kernel_svcout_rewatch(struct kernel *k)
{
	for (int i = 0; i < k->nsvc; i++) {
		struct kernel_svc *s = &k->svc[i];
		if (s->out && s->out->watched)
			for (int st = 0; st < SVC__STREAMS; st++)
				kernel_ev_rewatch(k, s, s->out->rfd[st], st + 1);
		kernel_svcout_sync(k, s);
	}
}

static bool read_any;

void kernel_svcout_ready(struct kernel *k, struct kernel_svc *s, enum svc_stream st)
{
	struct svcout *o = s->out;
	if (!o || !o->watched || o->rfd[st] < 0)
		return;
	read_stream(k, s, st, READ_CHUNK * READS_PER_TURN);
	read_any = true;
}

void kernel_svcout_events(struct kernel *k, const struct pollfd *p, struct kernel_svc **who, int n)
{
	(void)who;
	for (int i = 0; i < n; i++)
		if (p[i].revents)
			err_flush(true);
	if (read_any) {
		read_any = false;
		err_flush(false);
		if (k->json)
			kernel_out_flush(k, false);
	}
	kernel_svcout_timers(k, clock_mono_us());
}

static void notice(struct kernel *k, struct kernel_svc *s, enum drop_kind kind)
{
	struct svcout *o = s->out;
	char reason[96];
	if (kind == DROP_RATE)
		snprintf(reason, sizeof(reason), "over the rate limit (%lld lines/s, burst %lld)",
			 svc_num(s->def, &k->cfg, CFG_OUTPUT_RATE),
			 svc_num(s->def, &k->cfg, CFG_OUTPUT_BURST));
	else
		snprintf(reason, sizeof(reason), "%s could not keep up",
			 k->json ? "standard output" : "standard error");
	struct kernel_field f[] = {KF_STR("service", s->name), KF_NUM("lines", o->dropped[kind]),
				   KF_STR("reason", reason)};
	kernel_emit(k, KL_WARN, "output_dropped", f, 3);
	o->dropped[kind] = 0;
	so_k.ndropping--;
}

void kernel_svcout_timers(struct kernel *k, int64_t now_us)
{
	for (int i = 0; so_k.ndropping > 0 && i < k->nsvc; i++) {
		struct svcout *o = k->svc[i].out;
		for (int d = 0; o && d < DROP__COUNT; d++)
			if (o->dropped[d] && now_us >= o->drop_since_us[d] + NOTICE_US)
				notice(k, &k->svc[i], (enum drop_kind)d);
	}
}

int64_t kernel_svcout_deadline(const struct kernel *k)
{
	int64_t t = -1;
	for (int i = 0; so_k.ndropping > 0 && i < k->nsvc; i++) {
		const struct svcout *o = k->svc[i].out;
		for (int d = 0; o && d < DROP__COUNT; d++)
			if (o->dropped[d])
				t = clock_earliest(t, o->drop_since_us[d] + NOTICE_US);
	}
	return t;
}

void kernel_svcout_finish(struct kernel *k)
{
	for (int i = 0; i < k->nsvc; i++) {
		struct kernel_svc *s = &k->svc[i];
		kernel_svcout_exited(k, s);
		for (int d = 0; s->out && d < DROP__COUNT; d++)
			if (s->out->dropped[d])
				notice(k, s, (enum drop_kind)d);
	}
	struct kernel_outq *q = &so_k.err;
	if (!kernel_outq_drain(q, err_flush_ctx, NULL, DRAIN_STALL_MS))
		warnx("standard error: the reader took nothing for %d ms; %zu bytes of "
		      "service output not written",
		      DRAIN_STALL_MS, q->len);
	for (int i = 0; i < k->nsvc; i++)
		if (k->svc[i].out) {
			logfile_close(k->svc[i].out->log);
			k->svc[i].out->log = NULL;
		}
}
