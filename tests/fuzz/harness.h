/* The fuzzed paths as plain functions, shared by the libFuzzer targets
 * (tests/fuzz/fuzz_*.c) and the Criterion regression test
 * (tests/test_fuzz_regress.c), so a crashing input is replayed through exactly
 * the code that found it.  Beyond the sanitizers, each checks invariants and
 * abort()s when one fails.  Header-only: the test binary links tests/ *.c only. */
#ifndef RON_FUZZ_HARNESS_H
#define RON_FUZZ_HARNESS_H
#include <errno.h>
#include <json.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cgroup.h"
#include "ctlreq.h"
#include "handover.h"
#include "health.h"
#include "kernel.h"
#include "machine.h"
#include "report.h"
#include "svcout.h"
#include "text.h"
#include "wire.h"

#include "fuzzcheck.h"
#include "jsoncheck.h"

/* A string a decoder filled: terminated inside its buffer. */
#define FUZZ_TERMINATED(buf) FUZZ_CHECK(memchr((buf), '\0', sizeof(buf)) != NULL, "%s", #buf)

/* The corr_id the simulated request carried; the WIRE.md vectors echo 0. */
#define FUZZ_SENT_CORR_ID 0
/* The service field the last direct decode found: the probe expects it echoed. */
static char fuzz_reply_service[WIRE_NAME_MAX];

/* --- reply frames ------------------------------------------------------------------------- */

/* The verdict as probe_read() in common/health.c reaches it, step by step with
 * the codec's functions: the length prefix, then exactly that many body bytes
 * (in a buffer of their own, so ASan sees any read past them), then decode and
 * check.  Bytes after the frame are never read by the client. */
static inline bool fuzz_reply_direct(const uint8_t *data, size_t size, char *why, size_t whylen)
{
	uint32_t len;
	struct wire_msg m;
	why[0] = '\0';
	fuzz_reply_service[0] = '\0';
	if (size < 4) {
		snprintf(why, whylen, "closed after %zu of 4 length bytes", size);
		return false;
	}
	if (wire_frame_length(data, &len, why, whylen) < 0) {
		FUZZ_CHECK(len == 0 || len > WIRE_MAX_FRAME, "length %u refused: %s", len, why);
		return false;
	}
	FUZZ_CHECK(len >= 1 && len <= WIRE_MAX_FRAME, "length %u accepted", len);
	if (size - 4 < len) {
		snprintf(why, whylen, "truncated: %zu of %u body bytes", size - 4, len);
		return false;
	}
	uint8_t *body = malloc(len);
	FUZZ_CHECK(body != NULL, "malloc %u", len);
	memcpy(body, data + 4, len);
	int rc = wire_decode(body, len, &m, why, whylen);
	free(body);
	FUZZ_TERMINATED(m.service);
	FUZZ_TERMINATED(m.method);
	FUZZ_TERMINATED(m.variant);
	if (rc < 0) {
		FUZZ_CHECK(why[0] != '\0', "wire_decode failed without a reason");
		return false;
	}
	snprintf(fuzz_reply_service, sizeof(fuzz_reply_service), "%s", m.service);
	/* The check itself, against the echoed id too, so the variant test is reached. */
	char why2[WIRE_WHY_MAX];
	bool variant_ok = wire_check_health_reply(&m, m.corr_id, why2, sizeof(why2)) == 0;
	FUZZ_CHECK(variant_ok == (strcmp(m.variant, "HealthOk") == 0), "variant %s", m.variant);
	if (wire_check_health_reply(&m, FUZZ_SENT_CORR_ID, why, whylen) < 0) {
		FUZZ_CHECK(why[0] != '\0', "check failed without a reason");
		return false;
	}
	FUZZ_CHECK(variant_ok && m.corr_id == FUZZ_SENT_CORR_ID, "healthy reply to the wrong id");
	return true;
}

/* The same bytes through the real client: a health_probe in its receiving phase
 * on one end of a socketpair, the input written to the other end in uneven
 * pieces (so the length prefix and the body arrive split), then EOF. */
static inline bool fuzz_reply_probe(const uint8_t *data, size_t size, const char *expect, char *why,
				    size_t whylen)
{
	int sv[2];
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0,
		   "socketpair: %s", strerror(errno));
	struct health_probe p;
	memset(&p, 0, sizeof(p));
	p.fd = sv[0];
	p.phase = HEALTH_RECEIVING;
	p.corr_id = FUZZ_SENT_CORR_ID;
	snprintf(p.wire_name, sizeof(p.wire_name), "%s", expect);
	p.timeout_ms = 1000;
	p.start_us = 0;
	p.deadline_us = INT64_MAX;
	static const size_t pieces[] = {1, 2, 3, 5, 1, 64, 7, 4096};
	size_t off = 0, piece = 0;
	bool done = false;
	int64_t now = 1;
	while (!done && off < size) {
		size_t want = pieces[piece < 7 ? piece++ : 7];
		if (want > size - off)
			want = size - off;
		/* The probe drains the socket on every step, so a piece always fits. */
		ssize_t n = write(sv[1], data + off, want);
		FUZZ_CHECK(n > 0, "write: %s", strerror(errno));
		off += (size_t)n;
		done = health_probe_advance(&p, POLLIN, now++);
	}
	/* EOF: whatever is missing now never comes.  A read the fuzzer's own timer
	 * signal interrupts (EINTR) waits for the next wake-up, as in the monitor's loop:
	 * the EOF is still there then. */
	close(sv[1]);
	for (int i = 0; !done && i < 64; i++)
		done = health_probe_advance(&p, POLLIN | POLLHUP, now++);
	FUZZ_CHECK(done, "probe still waiting after EOF");
	FUZZ_CHECK(p.phase == HEALTH_DONE && p.fd < 0 && p.body == NULL, "probe not cleaned up");
	FUZZ_TERMINATED(p.result.reason);
	snprintf(why, whylen, "%s", p.result.reason);
	FUZZ_CHECK(p.result.ok == (p.result.reason[0] == '\0'), "ok=%d reason '%s'", p.result.ok,
		   p.result.reason);
	return p.result.ok;
}

/* One input: both paths, which must agree. */
static inline int fuzz_reply_one(const uint8_t *data, size_t size)
{
	char why_direct[WIRE_WHY_MAX], why_probe[WIRE_WHY_MAX + 64];
	bool direct = fuzz_reply_direct(data, size, why_direct, sizeof(why_direct));
	char service[WIRE_NAME_MAX];
	snprintf(service, sizeof(service), "%s", fuzz_reply_service);
	bool probe = fuzz_reply_probe(data, size, service, why_probe, sizeof(why_probe));
	FUZZ_CHECK(direct == probe, "codec says %s (%s), probe says %s (%s)",
		   direct ? "healthy" : "unhealthy", why_direct, probe ? "healthy" : "unhealthy",
		   why_probe);
	/* The same healthy reply to a request for another service is not healthy. */
	if (direct) {
		char other[WIRE_NAME_MAX + 2];
		snprintf(other, sizeof(other), "%sx", service);
		FUZZ_CHECK(!fuzz_reply_probe(data, size, other, why_probe, sizeof(why_probe)) &&
			       strstr(why_probe, "reply is for service"),
			   "a reply for %s passed a check of %s", service, other);
	}
	return direct;
}

/* --- status reports ----------------------------------------------------------------------- */

/* The kernel's table and what one fuzz input did to it. */
#define FUZZ_NSVC 3
struct fuzz_kernel {
	struct kernel_svc svc[FUZZ_NSVC];
	int64_t now_us;
	unsigned lines, decoded, applied;
};

/* A line the kernel prints: one line, ending in its only newline; JSON parses. */
static inline void fuzz_check_out_line(bool json, const char *buf, int n, size_t cap)
{
	FUZZ_CHECK(n > 0 && (size_t)n < cap, "length %d", n);
	FUZZ_CHECK(strlen(buf) == (size_t)n, "length %d, strlen %zu", n, strlen(buf));
	FUZZ_CHECK(memchr(buf, '\n', (size_t)n - 1) == NULL && buf[n - 1] == '\n',
		   "not one line: %s", buf);
	/* Valid UTF-8 with no control a terminal or a reader acts on, whatever a report
	 * carried (text_escape's rules, tabs included). */
	for (int i = 0; i < n - 1;) {
		const unsigned char *c = (const unsigned char *)buf + i;
		size_t u = text_utf8_len(c, (size_t)(n - 1 - i));
		FUZZ_CHECK(u > 0, "not UTF-8 at byte %d: %s", i, buf);
		FUZZ_CHECK(c[0] >= 0x20 && c[0] != 0x7f, "control 0x%02x at byte %d: %s", c[0], i,
			   buf);
		FUZZ_CHECK(!(u == 2 && c[0] == 0xc2 && c[1] <= 0x9f), "C1 control at byte %d: %s",
			   i, buf);
		i += (int)u;
	}
	if (!json)
		return;
	FUZZ_CHECK(fj_object(buf, (size_t)n), "not a JSON object: %s", buf);
}

/* What decode accepted, encode must write back the same (the reason may be cut short). */
static inline void fuzz_check_round_trip(const struct report *r)
{
	char line[REPORT_LINE_MAX], why[256];
	struct report back;
	int n = report_encode(r, line, sizeof(line));
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(line) && line[n - 1] == '\n', "encode: %d", n);
	FUZZ_CHECK(report_decode(line, (size_t)n, &back, why, sizeof(why)) == 0,
		   "own line refused: %s: %s", why, line);
	FUZZ_CHECK(strcmp(back.service, r->service) == 0 && back.event == r->event &&
		       back.state == r->state && back.pid == r->pid && back.start == r->start &&
		       back.restarts == r->restarts && back.uptime_ms == r->uptime_ms &&
		       back.rtt_us == r->rtt_us && back.failures == r->failures &&
		       back.code == r->code && back.signal == r->signal &&
		       back.delay_ms == r->delay_ms && back.ok == r->ok && back.mpid == r->mpid &&
		       back.passed == r->passed && back.ts == r->ts && back.mono_us == r->mono_us,
		   "round trip changed a field: %s", line);
	FUZZ_CHECK(strncmp(back.reason, r->reason, strlen(back.reason)) == 0,
		   "round trip changed the reason: %s", line);
}

/* on_line() of kernel/monitors.c without its I/O (pidfd checks, stdout, sd_notify):
 * decode, route to the row the report names, apply, format. */
static inline void fuzz_on_line(void *arg, const char *line, size_t len, bool overlong)
{
	struct fuzz_kernel *k = arg;
	struct report r;
	char why[256];
	k->lines++;
	if (overlong)
		return;
	FUZZ_CHECK(len <= KERNEL_LINES_CAP, "line of %zu bytes", len);
	why[0] = '\0';
	if (report_decode(line, len, &r, why, sizeof(why)) < 0) {
		FUZZ_CHECK(why[0] != '\0' && memchr(why, '\0', sizeof(why)), "no reason");
		return;
	}
	k->decoded++;
	FUZZ_TERMINATED(r.service);
	FUZZ_TERMINATED(r.reason);
	FUZZ_CHECK((unsigned)r.event < EV__COUNT && (unsigned)r.state < ST__COUNT, "enum");
	FUZZ_CHECK(r.service[0] != '\0', "empty service accepted");
	fuzz_check_round_trip(&r);
	struct kernel_svc *s = NULL;
	for (int i = 0; i < FUZZ_NSVC; i++)
		if (strcmp(r.service, k->svc[i].name) == 0)
			s = &k->svc[i];
	if (!s)
		return;
	k->applied++;
	k->now_us += 1000;
	unsigned ch = kernel_svc_apply(s, &r, k->now_us);
	FUZZ_CHECK(s->reported && s->state == r.state && s->pid == r.pid, "row not updated");
	FUZZ_CHECK(!(ch & KCH_FIRST_HEALTHY) || r.state == ST_HEALTHY, "first healthy");
	FUZZ_TERMINATED(s->reason);
	FUZZ_CHECK(kernel_svc_uptime_ms(s, k->now_us) >= 0, "negative uptime");

	char out[KERNEL_LINE_MAX];
	const int64_t wall_ms = 1795000000000; /* 2026-11-18: a fixed clock, reproducible output */
	for (int json = 0; json < 2; json++) {
		int n = kernel_fmt_report(json, wall_ms, &r, out, sizeof(out));
		if (r.event == EV_CHECK)
			FUZZ_CHECK(n == 0, "a check printed a line");
		else
			fuzz_check_out_line(json, out, n, sizeof(out));
	}
}

/* One input: the bytes of a monitor's status pipe, read in uneven pieces. */
static inline void fuzz_reports_one(const uint8_t *data, size_t size)
{
	static const char *const names[FUZZ_NSVC] = {"svc-index", "svc-overlay", "svc-storage"};
	static struct fuzz_kernel k;
	memset(&k, 0, sizeof(k));
	for (int i = 0; i < FUZZ_NSVC; i++)
		kernel_svc_init(&k.svc[i], names[i], NULL);
	k.now_us = 1000000000;

	/* Piece sizes from a little LCG seeded by the length: reproducible, and varied. */
	uint32_t x = (uint32_t)size * 2654435761u + 1;
	size_t off = 0;
	while (off < size) {
		x = x * 1103515245u + 12345u;
		size_t piece = 1 + (x >> 16) % 700;
		if (piece > size - off)
			piece = size - off;
		kernel_lines_feed(&k.svc[0].lines, (const char *)data + off, piece, fuzz_on_line,
				  &k);
		FUZZ_CHECK(k.svc[0].lines.len <= KERNEL_LINES_CAP, "line buffer overrun");
		FUZZ_CHECK(k.svc[0].lines.len == 0 || k.svc[0].lines.buf,
			   "a waiting line, no buffer");
		off += piece;
	}

	char out[KERNEL_LINE_MAX], summary[256];
	const int64_t wall_ms = 1795000000000;
	for (int json = 0; json < 4; json++) {
		/* Every service named, and (detail 1) only the unhealthy ones. */
		int n = kernel_fmt_status(json & 1, wall_ms, k.svc, FUZZ_NSVC, json < 2 ? 16 : 1,
					  k.now_us, out, sizeof(out));
		fuzz_check_out_line(json & 1, out, n, sizeof(out));
	}
	kernel_summary(k.svc, FUZZ_NSVC, summary, sizeof(summary));
	FUZZ_TERMINATED(summary);
	FUZZ_CHECK(k.decoded <= k.lines && k.applied <= k.decoded, "counts");
	for (int i = 0; i < FUZZ_NSVC; i++)
		kernel_svc_free(&k.svc[i]);
}

/* --- config files ------------------------------------------------------------------------ */

#include <signal.h>

#include "services.h"

#define FUZZ_CONFIG_NAME "fuzz.conf"

/* An error message: non-empty, terminated in its buffer (which was filled with 'x'
 * first), and, whatever failed, naming the file first; when it names a line, one
 * of the input's. */
static inline void fuzz_check_config_err(const char *err, size_t cap, unsigned nlines)
{
	FUZZ_CHECK(memchr(err, '\0', cap) != NULL, "error not terminated");
	FUZZ_CHECK(err[0] != '\0', "failed without a message");
	size_t nl = strlen(FUZZ_CONFIG_NAME);
	FUZZ_CHECK(strncmp(err, FUZZ_CONFIG_NAME ":", nl + 1) == 0, "not about the file: %s", err);
	FUZZ_CHECK(strchr(err, '\n') == NULL, "more than one line: %s", err);
	if (err[nl + 1] >= '0' && err[nl + 1] <= '9') {
		unsigned long line = strtoul(err + nl + 1, NULL, 10);
		FUZZ_CHECK(line >= 1 && line <= nlines, "line %lu of %u: %s", line, nlines, err);
	}
}

/* One input: a config file as load() in kernel/main.c reads it (the file, the
 * rules between settings, the table as a whole), then --check-config's output. */
static inline int fuzz_config_one(const uint8_t *data, size_t size)
{
	static struct config c;
	struct svc_table t;
	char err[CFG_ERR_MAX];
	unsigned nlines = 1;
	for (size_t i = 0; i + 1 < size; i++)
		nlines += data[i] == '\n';
	config_defaults(&c);
	memset(&t, 0, sizeof(t));
	memset(err, 'x', sizeof(err));
	int ok = svctab_read_text(&t, &c, FUZZ_CONFIG_NAME, (const char *)data, size, err,
				  sizeof(err)) == 0;
	if (ok) {
		/* The rules between two settings, one of them (at least) from the file:
		 * config.c names each by where it came from, the file's first or not. */
		memset(err, 'x', sizeof(err));
		if (config_check(&c, err, sizeof(err)) < 0) {
			FUZZ_CHECK(memchr(err, '\0', sizeof(err)) && err[0], "config_check");
			FUZZ_CHECK(strstr(err, FUZZ_CONFIG_NAME ":") != NULL, "%s", err);
			svctab_free(&t);
			return 0;
		}
	}
	if (ok) {
		memset(err, 'x', sizeof(err));
		ok = svctab_resolve(&t, &c, err, sizeof(err)) == 0;
	}
	if (!ok) {
		fuzz_check_config_err(err, sizeof(err), nlines);
		svctab_free(&t);
		return 0;
	}
	FUZZ_CHECK(t.n >= 1 && t.n <= SVC_MAX && svctab_enabled(&t) >= 1, "%d services", t.n);
	for (int i = 0; i < t.n; i++) {
		const struct svc_def *d = &t.v[i];
		char why[128];
		FUZZ_TERMINATED(d->name);
		FUZZ_CHECK(svc_name_check(d->name, why, sizeof(why)) == 0, "%s", why);
		FUZZ_CHECK(svctab_find(&t, d->name) == i, "%s twice", d->name);
		FUZZ_CHECK(d->line >= 1 && d->line <= nlines, "%s at line %u", d->name, d->line);
		FUZZ_CHECK(d->bin && d->bin[0], "%s without a bin", d->name);
		FUZZ_CHECK(d->sock, "%s without a socket string", d->name);
		FUZZ_CHECK(d->sock[0] == '/' || (!d->sock[0] && d->health == SVC_HEALTH_NONE),
			   "%s: socket %s", d->name, d->sock);
		FUZZ_CHECK(!d->sock[0] == !d->sock_env[0], "%s: socket %s, socket_env %s", d->name,
			   d->sock, d->sock_env);
		FUZZ_TERMINATED(d->sock_env);
		FUZZ_TERMINATED(d->health_service);
		FUZZ_CHECK(d->health_service[0], "%s: no health_service", d->name);
		FUZZ_CHECK(d->stop_signal > 0 && d->stop_signal < NSIG, "%s: signal %d", d->name,
			   d->stop_signal);
		FUZZ_CHECK(d->nargs >= 0 && (d->nargs == 0 || d->args[d->nargs] == NULL),
			   "%s: args", d->name);
		FUZZ_CHECK(d->nenv >= 0 && (d->nenv == 0 || d->env[d->nenv] == NULL), "%s: env",
			   d->name);
		for (int j = 0; j < d->nenv; j++)
			FUZZ_CHECK(strchr(d->env[j], '=') != NULL, "%s: env %s", d->name,
				   d->env[j]);
		for (int j = 0; j < d->nafter; j++) {
			int k = d->after[j];
			FUZZ_CHECK(k >= 0 && k < t.n && k != i && t.v[k].enabled, "%s: after %d",
				   d->name, k);
			FUZZ_CHECK(strcmp(t.v[k].name, d->after_names[j]) == 0, "%s: after %s",
				   d->name, d->after_names[j]);
		}
		for (int k = 0; k < CFG__COUNT; k++)
			FUZZ_CHECK(!d->set[k] || (cfg_table[k].scope & CFG_MONITOR), "%s: key %d",
				   d->name, k);
		FUZZ_CHECK(svc_num(d, &c, CFG_HEALTH_TIMEOUT_MS) <
			       svc_num(d, &c, CFG_HEALTH_INTERVAL_MS),
			   "%s: health timeout not below the interval", d->name);
		FUZZ_CHECK(svc_num(d, &c, CFG_BACKOFF_MIN_MS) <= svc_num(d, &c, CFG_BACKOFF_MAX_MS),
			   "%s: backoff", d->name);
		for (int j = 0; j < i; j++) {
			const struct svc_def *o = &t.v[j];
			if (!d->enabled || !o->enabled)
				continue;
			FUZZ_CHECK(!d->sock[0] || strcmp(d->sock, o->sock) != 0, "socket %s shared",
				   d->sock);
			FUZZ_CHECK(!d->sock_env[0] || strcmp(d->sock_env, o->sock_env) != 0,
				   "socket_env %s shared", d->sock_env);
		}
	}
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	FUZZ_CHECK(f != NULL, "open_memstream: %s", strerror(errno));
	svctab_print(f, &t, &c);
	FUZZ_CHECK(fclose(f) == 0, "fclose");
	FUZZ_CHECK(out && strlen(out) == outlen, "output of %zu bytes", outlen);
	for (int i = 0; i < t.n; i++) {
		char head[SVC_NAME_MAX + 16];
		snprintf(head, sizeof(head), "\n[service %s]", t.v[i].name);
		FUZZ_CHECK(strstr(out, head) != NULL, "%s not printed", t.v[i].name);
	}
	free(out);
	svctab_free(&t);
	return 1;
}

/* --- hand-over records ----------------------------------------------------------------- */

static inline int fuzz_mon_spawn(void *ctx, pid_t *pid, unsigned long long *start, char *why,
				 size_t whylen)
{
	*pid = 77;
	*start = 7;
	return 0;
}
static inline void fuzz_mon_signal(void *ctx, int sig) {}
static inline void fuzz_mon_probe(void *ctx) {}
static inline void fuzz_mon_cancel(void *ctx) {}
static inline void fuzz_mon_report(void *ctx, const struct report *r)
{
	char line[REPORT_LINE_MAX];
	FUZZ_CHECK((unsigned)r->state < ST__COUNT, "state %d", (int)r->state);
	FUZZ_CHECK(report_encode(r, line, sizeof(line)) > 0, "a report of a resumed monitor");
}
static inline void fuzz_mon_finish(void *ctx) {}

/* A --handover argument as ron-monitor reads it: decoded and checked; a record it
 * accepts encodes back to the same, and a monitor resumed from it (the service alive
 * or gone) runs its deadlines without undefined behaviour. */
static inline void fuzz_handover_one(const uint8_t *data, size_t size)
{
	static struct handover h, back;
	static char text[HANDOVER_TEXT_MAX];
	char why[256];
	why[0] = '\0';
	if (handover_decode((const char *)data, size, &h, why, sizeof(why)) < 0) {
		FUZZ_CHECK(why[0] != '\0' && memchr(why, '\0', sizeof(why)), "no reason");
		return;
	}
	FUZZ_TERMINATED(h.service);
	FUZZ_CHECK((unsigned)h.state < ST__COUNT && h.state != ST_STOPPED, "state %d",
		   (int)h.state);
	FUZZ_CHECK(h.ntimes <= HANDOVER_TIMES_MAX, "%u times", h.ntimes);
	int n = handover_encode(&h, text, sizeof(text));
	FUZZ_CHECK(n > 0, "an accepted record does not encode");
	FUZZ_CHECK(handover_decode(text, (size_t)n, &back, why, sizeof(why)) == 0,
		   "own record refused: %s: %s", why, text);
	FUZZ_CHECK(memcmp(&h, &back, sizeof(h)) == 0, "round trip changed a field: %s", text);

	static const struct mon_cfg cfg = {
	    .policy = {.backoff_min_ms = 100,
		       .backoff_max_ms = 30000,
		       .stable_ms = 1000,
		       .window_ms = 60000,
		       .quarantine_ms = 300000,
		       .cap = 5},
	    .health_interval_ms = 1000,
	    .health_timeout_ms = 500,
	    .start_timeout_ms = 10000,
	    .stop_timeout_ms = 5000,
	    .health_failures = 3,
	};
	struct mon_ops ops = {NULL,	      fuzz_mon_spawn,  fuzz_mon_signal,
			      fuzz_mon_probe, fuzz_mon_cancel, fuzz_mon_report,
			      fuzz_mon_finish};
	static struct mon m;
	for (int gone = 0; gone < 2; gone++) {
		int64_t now = h.mono_us + 1000;
		mon_init(&m, &cfg, &ops, h.service, 0, 1);
		mon_handle(&m, &(struct mon_event){
				   .kind = MEV_RESUME, .now_us = now, .h = &h, .gone = gone});
		for (int i = 0; i < 4 && m.state != ST_STOPPED; i++) {
			int64_t d = mon_deadline(&m);
			if (d < 0)
				break;
			now = d > now ? d : now;
			mon_handle(&m, &(struct mon_event){.kind = MEV_TIMER, .now_us = now});
			if (m.probing)
				mon_handle(&m, &(struct mon_event){.kind = MEV_HEALTH_FAILED,
								   .now_us = now,
								   .rtt_us = 1,
								   .reason = "fuzz"});
		}
	}
}

/* --- control requests ---------------------------------------------------------------------- */

/* One input: the line a client of control.sock sends.  A parsed request holds a known
 * command, a signal to send only for "signal", and names of 1..63 bytes. */
static inline void fuzz_ctlreq_one(const uint8_t *data, size_t size)
{
	struct ctl_req req;
	char why[CFG_ERR_MAX];
	why[0] = '\0';
	if (ctl_req_parse((const char *)data, size, &req, why, sizeof(why)) < 0) {
		FUZZ_TERMINATED(why);
		FUZZ_CHECK(why[0] != '\0', "a refusal without a reason");
		FUZZ_CHECK(req.names == NULL && req.nnames == 0, "a refusal kept names");
		return;
	}
	FUZZ_CHECK(strcmp(ctl_cmd_name(req.cmd), "?") != 0, "unknown command accepted");
	FUZZ_CHECK((req.cmd == CTL_SIGNAL) == (req.sig > 0), "signal without a command or back");
	FUZZ_CHECK(req.sig != SIGKILL && req.sig != SIGSTOP && req.sig != SIGTSTP &&
		       req.sig != SIGTTIN && req.sig != SIGTTOU,
		   "KILL or a stop accepted");
	bool named = req.cmd != CTL_STATUS && req.cmd != CTL_RELOAD;
	FUZZ_CHECK(named == (req.nnames > 0), "names where none belong, or none where needed");
	for (int i = 0; i < req.nnames; i++) {
		size_t n = strlen(req.names[i]);
		FUZZ_CHECK(n >= 1 && n <= 63, "a name of a bad length");
	}
	ctl_req_free(&req);
}

/* --- service output ----------------------------------------------------------------------- */

/* The bytes of a service's output pipe as the kernel reads them (kernel/svcline.c): the
 * first two input bytes choose how the pipe cuts the rest into reads; every piece has
 * its escapes removed and is formatted as text, JSON and a log line.  No byte is lost
 * or invented, no piece passes the limit, every JSON object parses back to its piece. */
struct fuzz_svcout_seen {
	size_t bytes, ends;
};

static inline void fuzz_svcout_piece(void *arg, const char *line, size_t len, unsigned part,
				     bool more)
{
	static char out[SVCLINE_OUT_MAX], plain[SVCLINE_MAX];
	struct fuzz_svcout_seen *s = arg;
	FUZZ_CHECK(len <= SVCLINE_MAX, "a piece of %zu bytes", len);
	FUZZ_CHECK(!more || part > 0, "more set on a whole line");
	s->bytes += len;
	s->ends += !more;
	size_t n = svcline_strip_ansi(line, len, plain);
	FUZZ_CHECK(n <= len, "stripping made %zu bytes of %zu", n, len);
	struct svcline_meta m = {"svc-x",	42, part & 1 ? SVC_STDERR : SVC_STDOUT, part, more,
				 1700000000000, 20};
	size_t o = svcline_fmt_json(&m, plain, n, out);
	FUZZ_CHECK(o <= SVCLINE_OUT_MAX && o > 0 && out[o - 1] == '\n', "JSON of %zu bytes", o);
	static char got[SVCLINE_OUT_MAX];
	size_t glen;
	bool found, escaped;
	FUZZ_CHECK(fj_object_field(out, o - 1, "line", got, sizeof(got), &glen, &found, "escaped",
				   &escaped),
		   "not JSON: %.*s", (int)o, out);
	FUZZ_CHECK(found, "no line in %.*s", (int)o, out);
	/* Unescaped, the line is the piece itself, NUL bytes and all. */
	FUZZ_CHECK(escaped || (glen == n && memcmp(got, plain, n) == 0),
		   "the line of %.*s is not its piece", (int)o, out);
	FUZZ_CHECK(svcline_fmt_text(&m, plain, n, out) <= SVCLINE_OUT_MAX, "text too long");
	FUZZ_CHECK(svcline_fmt_file(&m, plain, n, out) <= SVCLINE_OUT_MAX, "file line too long");
}

static inline void fuzz_svcout_one(const uint8_t *data, size_t size)
{
	if (size < 2)
		return;
	size_t step = 1 + ((size_t)data[0] << 8 | data[1]) % 4096;
	data += 2;
	size -= 2;
	struct svcline l;
	struct fuzz_svcout_seen s = {0, 0};
	svcline_init(&l);
	for (size_t off = 0; off < size; off += step)
		svcline_feed(&l, (const char *)data + off, size - off < step ? size - off : step,
			     fuzz_svcout_piece, &s);
	size_t newlines = 0;
	for (size_t i = 0; i < size; i++)
		newlines += data[i] == '\n';
	svcline_flush(&l, fuzz_svcout_piece, &s);
	svcline_free(&l);
	FUZZ_CHECK(s.bytes + newlines == size, "%zu bytes and %zu newlines of %zu", s.bytes,
		   newlines, size);
}

/* --- /proc/self/mountinfo and /proc/PID/cgroup ------------------------------------------- */

/* Both parsers on the same text: whatever they return is a terminated string that
 * fits, and a /proc/PID/cgroup path starts with '/'.  A cap too small fails cleanly. */
static inline void fuzz_cgroup_one(const uint8_t *data, size_t size)
{
	char mnt[CGROUP_PATH_MAX], path[CGROUP_PATH_MAX], tiny[4];
	const char *text = (const char *)data;
	if (cgroup_parse_mountinfo(text, size, mnt, sizeof(mnt)) == 0) {
		FUZZ_CHECK(memchr(mnt, '\0', sizeof(mnt)) != NULL, "mount point not terminated");
		FUZZ_CHECK(mnt[0] != '\0', "empty mount point accepted");
	}
	if (cgroup_parse_proc(text, size, path, sizeof(path)) == 0) {
		FUZZ_CHECK(memchr(path, '\0', sizeof(path)) != NULL, "path not terminated");
		FUZZ_CHECK(path[0] == '/', "path %s does not start with /", path);
		FUZZ_CHECK(strchr(path, '\n') == NULL, "path holds a newline");
	}
	if (cgroup_parse_proc(text, size, tiny, sizeof(tiny)) == 0)
		FUZZ_CHECK(strlen(tiny) < sizeof(tiny), "overflow");
	if (cgroup_parse_mountinfo(text, size, tiny, sizeof(tiny)) == 0)
		FUZZ_CHECK(strlen(tiny) < sizeof(tiny), "overflow");
}

#endif
