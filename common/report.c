/* Status reports: the JSON-lines codec between ron-monitor and ron-kernel.
 * Encoding always fits a line (the reason gives way); decoding trusts no byte. */
#include <errno.h>
#include <json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "report.h"
#include "text.h"

_Static_assert(sizeof(pid_t) == sizeof(int), "pid_t is read as an int");

static const char *const state_names[ST__COUNT] = {
    [ST_STARTING] = "starting", [ST_HEALTHY] = "healthy", [ST_DEGRADED] = "degraded",
    [ST_STOPPING] = "stopping", [ST_BACKOFF] = "backoff", [ST_QUARANTINED] = "quarantined",
    [ST_STOPPED] = "stopped",	[ST_DOWN] = "down",
};

static const char *const event_names[EV__COUNT] = {
    [EV_SPAWNED] = "spawned",
    [EV_READY] = "ready",
    [EV_HEALTHY] = "healthy",
    [EV_DEGRADED] = "degraded",
    [EV_UNHEALTHY] = "unhealthy",
    [EV_EXITED] = "exited",
    [EV_SPAWN_FAILED] = "spawn_failed",
    [EV_RESTARTING] = "restarting",
    [EV_QUARANTINED] = "quarantined",
    [EV_ADOPTED] = "adopted",
    [EV_STOPPING] = "stopping",
    [EV_STOPPED] = "stopped",
    [EV_CHECK] = "check",
    [EV_DOWN] = "down",
    [EV_CHECK_SKIPPED] = "check_skipped",
    [EV_SPAWN_DEFERRED] = "spawn_deferred",
    [EV_MONITOR_FAILED] = "monitor_failed",
};

const char *svc_state_name(enum svc_state s)
{
	return (unsigned)s < ST__COUNT ? state_names[s] : "?";
}

const char *report_event_name(enum report_event e)
{
	return (unsigned)e < EV__COUNT ? event_names[e] : "?";
}

/* Index of the name s (len bytes, which may hold a NUL) in names, or -1. */
static int name_index(const char *const *names, int count, const char *s, size_t len)
{
	for (int i = 0; i < count; i++)
		if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
			return i;
	return -1;
}

int svc_state_parse(const char *s)
{
	return s ? name_index(state_names, ST__COUNT, s, strlen(s)) : -1;
}

int report_event_parse(const char *s)
{
	return s ? name_index(event_names, EV__COUNT, s, strlen(s)) : -1;
}

/* The longest prefix of s[0..n) no longer than max that does not split a
 * UTF-8 sequence (at most 3 continuation bytes are given back). */
static size_t utf8_prefix(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	size_t k = max;
	for (int i = 0; i < 3 && k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80; i++)
		k--;
	return k;
}

/* Copies text (up to n bytes, stopping at a NUL) into dst, NUL-terminated. */
static void text_copy(char *dst, size_t cap, const char *src, size_t n)
{
	size_t k = utf8_prefix(src, strnlen(src, n), cap - 1);
	memcpy(dst, src, k);
	dst[k] = '\0';
}

void report_init(struct report *r, const char *service)
{
	memset(r, 0, sizeof(*r));
	r->v = REPORT_SCHEMA;
	if (service)
		text_copy(r->service, sizeof(r->service), service, strlen(service));
	r->event = EV_SPAWNED;
	r->state = ST_STARTING;
	r->rtt_us = -1;
	r->code = -1;
	r->delay_ms = -1;
	r->due_us = -1;
	r->healthy_ms = -1;
	r->passed = -1;
}

/* The encoder writes the line itself: it runs for every report a monitor sends,
 * and building and freeing a json-c object for each cost a monitor more than
 * the rest of a health check together.  It writes what json-c writes with
 * JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE (the decoder and the
 * tests hold both to that): no blanks, '"' '\\' and controls escaped. */
struct out {
	char *p;
	size_t len, cap;
	bool over;
};

static void out_mem(struct out *o, const char *s, size_t n)
{
	if (o->over || o->len + n >= o->cap) {
		o->over = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void out_fmt(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_fmt(struct out *o, const char *fmt, ...)
{
	if (o->over)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		o->over = true;
	else
		o->len += (size_t)n;
}

/* The escaped form of byte c, as json-c writes it, in esc; its length. */
static size_t json_escape_byte(unsigned char c, char esc[7])
{
	static const char hex[] = "0123456789abcdef";
	const char *two = NULL;
	switch (c) {
	case '"': two = "\\\""; break;
	case '\\': two = "\\\\"; break;
	case '\b': two = "\\b"; break;
	case '\f': two = "\\f"; break;
	case '\n': two = "\\n"; break;
	case '\r': two = "\\r"; break;
	case '\t': two = "\\t"; break;
	default:
		if (c < 0x20) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			return 6;
		}
		esc[0] = (char)c;
		return 1;
	}
	memcpy(esc, two, 2);
	return 2;
}

static void out_str(struct out *o, const char *s, size_t n)
{
	char esc[7];
	out_mem(o, "\"", 1);
	for (size_t i = 0; i < n; i++)
		out_mem(o, esc, json_escape_byte((unsigned char)s[i], esc));
	out_mem(o, "\"", 1);
}

int report_encode(const struct report *r, char *buf, size_t cap)
{
	if ((unsigned)r->event >= EV__COUNT || (unsigned)r->state >= ST__COUNT)
		return -1;
	size_t limit = cap < REPORT_LINE_MAX ? cap : REPORT_LINE_MAX;
	char head[REPORT_LINE_MAX], tail[REPORT_LINE_MAX];
	struct out h = {head, 0, sizeof(head), false}, t = {tail, 0, sizeof(tail), false};

	out_fmt(&h, "{\"v\":%d,\"service\":", r->v);
	out_str(&h, r->service, strnlen(r->service, sizeof(r->service)));
	out_fmt(&h,
		",\"event\":\"%s\",\"state\":\"%s\",\"pid\":%d,\"start\":%llu,\"restarts\":%lld,"
		"\"uptime_ms\":%lld,\"rtt_us\":%lld,\"failures\":%lld,\"code\":%d,\"signal\":%d,"
		"\"delay_ms\":%lld,\"reason\":",
		event_names[r->event], state_names[r->state], (int)r->pid, r->start,
		(long long)r->restarts, (long long)r->uptime_ms, (long long)r->rtt_us,
		(long long)r->failures, r->code, r->signal, (long long)r->delay_ms);
	out_fmt(&t,
		",\"ok\":%s,\"mpid\":%d,\"ts\":%lld,\"mono_us\":%lld,\"due_us\":%lld,"
		"\"healthy_ms\":%lld,\"streak\":%lld,\"probation\":%s,\"recorded\":%lld,"
		"\"seq\":%llu,\"passed\":%lld}\n",
		r->ok ? "true" : "false", (int)r->mpid, (long long)r->ts, (long long)r->mono_us,
		(long long)r->due_us, (long long)r->healthy_ms, (long long)r->streak,
		r->probation ? "true" : "false", (long long)r->recorded, r->seq,
		(long long)r->passed);
	if (h.over || t.over || h.len + t.len + 2 >= limit)
		return -1;

	/* The reason takes what is left (its quotes and the NUL included), cut where
	 * utf8_prefix() may cut it: the longest such prefix whose escapes fit. */
	size_t n = strnlen(r->reason, sizeof(r->reason));
	size_t room = limit - h.len - t.len - 3, cum[REPORT_REASON_MAX + 1];
	char esc[7];
	cum[0] = 0;
	for (size_t i = 0; i < n; i++)
		cum[i + 1] = cum[i] + json_escape_byte((unsigned char)r->reason[i], esc);
	size_t k = n;
	while (cum[utf8_prefix(r->reason, n, k)] > room)
		k--;
	k = utf8_prefix(r->reason, n, k);

	struct out o = {buf, 0, cap, false};
	out_mem(&o, head, h.len);
	out_str(&o, r->reason, k);
	out_mem(&o, tail, t.len);
	if (o.over)
		return -1;
	buf[o.len] = '\0';
	return (int)o.len;
}

static int fail(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t whylen, const char *fmt, ...)
{
	if (why && whylen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* A peer's string made safe to quote in a log line: printable ASCII only, cut short. */
static const char *printable(char *dst, size_t cap, const char *s, size_t len)
{
	size_t i, k = 0;
	for (i = 0; i < len && k + 4 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[k++] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char)c : '?';
	}
	if (i < len) {
		memcpy(dst + k, "...", 3);
		k += 3;
	}
	dst[k] = '\0';
	return dst;
}

/* Looks up name: 1 if present with type t, 0 if absent, -1 (with why) if of another type. */
static int field(struct json_object *o, const char *name, enum json_type t, struct json_object **v,
		 char *why, size_t whylen)
{
	if (!json_object_object_get_ex(o, name, v))
		return 0;
	if (!json_object_is_type(*v, t))
		return fail(why, whylen, "field \"%s\": expected %s, got %s", name,
			    json_type_to_name(t), json_type_to_name(json_object_get_type(*v)));
	return 1;
}

/* A required string field naming one of names: its index, or -1 with why. */
static int named_field(struct json_object *o, const char *name, const char *const *names, int count,
		       char *why, size_t whylen)
{
	struct json_object *v;
	int rc = field(o, name, json_type_string, &v, why, whylen);
	if (rc <= 0)
		return rc < 0 ? -1 : fail(why, whylen, "missing field \"%s\"", name);
	const char *s = json_object_get_string(v);
	size_t len = (size_t)json_object_get_string_len(v);
	int i = name_index(names, count, s, len);
	if (i < 0) {
		char shown[48];
		return fail(why, whylen, "unknown %s \"%s\"", name,
			    printable(shown, sizeof(shown), s, len));
	}
	return i;
}

static int decode_service(struct json_object *o, struct report *r, char *why, size_t whylen)
{
	struct json_object *v;
	int rc = field(o, "service", json_type_string, &v, why, whylen);
	if (rc <= 0)
		return rc < 0 ? -1 : fail(why, whylen, "missing field \"service\"");
	const char *s = json_object_get_string(v);
	size_t len = (size_t)json_object_get_string_len(v);
	if (len == 0)
		return fail(why, whylen, "service name is empty");
	if (len >= sizeof(r->service))
		return fail(why, whylen, "service name too long: %zu bytes, max %zu", len,
			    sizeof(r->service) - 1);
	/* The name goes into log lines and socket paths. */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return fail(why, whylen, "service name has a control character (0x%02x)",
				    (unsigned char)s[i]);
	memcpy(r->service, s, len);
	r->service[len] = '\0';
	return 0;
}

enum kind { K_INT, K_PID, K_UINT, K_I64, K_U64, K_BOOL };

static const struct optional {
	const char *name;
	enum kind kind;
	size_t off;
} optionals[] = {
    {"pid", K_PID, offsetof(struct report, pid)},
    {"start", K_U64, offsetof(struct report, start)},
    {"restarts", K_UINT, offsetof(struct report, restarts)},
    {"uptime_ms", K_I64, offsetof(struct report, uptime_ms)},
    {"rtt_us", K_I64, offsetof(struct report, rtt_us)},
    {"failures", K_UINT, offsetof(struct report, failures)},
    {"code", K_INT, offsetof(struct report, code)},
    {"signal", K_INT, offsetof(struct report, signal)},
    {"delay_ms", K_I64, offsetof(struct report, delay_ms)},
    {"ok", K_BOOL, offsetof(struct report, ok)},
    {"mpid", K_PID, offsetof(struct report, mpid)},
    {"ts", K_I64, offsetof(struct report, ts)},
    {"mono_us", K_I64, offsetof(struct report, mono_us)},
    {"due_us", K_I64, offsetof(struct report, due_us)},
    {"healthy_ms", K_I64, offsetof(struct report, healthy_ms)},
    {"streak", K_UINT, offsetof(struct report, streak)},
    {"probation", K_BOOL, offsetof(struct report, probation)},
    {"recorded", K_UINT, offsetof(struct report, recorded)},
    {"seq", K_U64, offsetof(struct report, seq)},
    {"passed", K_I64, offsetof(struct report, passed)},
};

/* Reads one optional field into r; absent leaves r's "none" value. */
static int decode_optional(struct json_object *o, const struct optional *f, struct report *r,
			   char *why, size_t whylen)
{
	struct json_object *v;
	void *dst = (char *)r + f->off;
	int rc = field(o, f->name, f->kind == K_BOOL ? json_type_boolean : json_type_int, &v, why,
		       whylen);
	if (rc <= 0)
		return rc;
	if (f->kind == K_BOOL) {
		*(bool *)dst = json_object_get_boolean(v);
		return 0;
	}
	int64_t i = json_object_get_int64(v);
	uint64_t u = json_object_get_uint64(v);
	if (i < 0 && f->kind != K_INT && f->kind != K_I64)
		return fail(why, whylen, "field \"%s\" is negative: %lld", f->name, (long long)i);
	/* json-c clamps the signed view of a value above INT64_MAX. */
	bool above_i64 = i == INT64_MAX && u > (uint64_t)INT64_MAX;
	switch (f->kind) {
	case K_U64: *(unsigned long long *)dst = u; return 0;
	case K_I64:
		if (above_i64)
			break;
		*(int64_t *)dst = i;
		return 0;
	case K_UINT:
		if (above_i64 || i > UINT_MAX)
			break;
		*(unsigned *)dst = (unsigned)i;
		return 0;
	case K_INT:
	case K_PID:
		if (above_i64 || i < INT_MIN || i > INT_MAX)
			break;
		*(int *)dst = (int)i;
		return 0;
	case K_BOOL: break;
	}
	if (above_i64)
		return fail(why, whylen, "field \"%s\" out of range: %llu", f->name,
			    (unsigned long long)u);
	return fail(why, whylen, "field \"%s\" out of range: %lld", f->name, (long long)i);
}

/* Every field of a parsed object into r (which holds the "none" values). */
static int decode_object(struct json_object *o, struct report *r, char *why, size_t whylen)
{
	struct json_object *v;
	int rc = field(o, "v", json_type_int, &v, why, whylen);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return fail(why, whylen, "schema version missing (no field \"v\")");
	if (json_object_get_int64(v) != REPORT_SCHEMA)
		return fail(why, whylen, "unsupported schema version %lld",
			    (long long)json_object_get_int64(v));
	if (decode_service(o, r, why, whylen) < 0)
		return -1;
	int e = named_field(o, "event", event_names, EV__COUNT, why, whylen);
	if (e < 0)
		return -1;
	r->event = (enum report_event)e;
	int s = named_field(o, "state", state_names, ST__COUNT, why, whylen);
	if (s < 0)
		return -1;
	r->state = (enum svc_state)s;
	for (size_t i = 0; i < sizeof(optionals) / sizeof(optionals[0]); i++)
		if (decode_optional(o, &optionals[i], r, why, whylen) < 0)
			return -1;
	rc = field(o, "reason", json_type_string, &v, why, whylen);
	if (rc < 0)
		return -1;
	/* A reason may carry a service's bytes: what the kernel prints of it is escaped. */
	if (rc > 0) {
		char raw[sizeof(r->reason)];
		text_copy(raw, sizeof(raw), json_object_get_string(v),
			  (size_t)json_object_get_string_len(v));
		text_escape_str(raw, r->reason, sizeof(r->reason), 0);
	}
	return 0;
}

int report_decode(const char *line, size_t len, struct report *r, char *why, size_t whylen)
{
	char text[REPORT_LINE_MAX + 1];
	if (len >= REPORT_LINE_MAX)
		return fail(why, whylen, "line too long: %zu bytes, max %d", len,
			    REPORT_LINE_MAX - 1);
	if (len > 0 && line[len - 1] == '\n')
		len--;
	const char *nul = len > 0 ? memchr(line, '\0', len) : NULL;
	if (nul)
		return fail(why, whylen, "not JSON: NUL byte at offset %zu", (size_t)(nul - line));
	if (len > 0)
		memcpy(text, line, len);
	text[len] = '\0';

	/* A failure with errno ENOMEM was the reader's shortage, not a bad line. */
	errno = 0;
	struct json_tokener *tok = json_tokener_new();
	if (!tok) {
		errno = ENOMEM;
		return fail(why, whylen, "out of memory parsing a report");
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	/* Handing the tokener the NUL too ends a bare number or literal. */
	struct json_object *o = json_tokener_parse_ex(tok, text, (int)len + 1);
	enum json_tokener_error err = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);

	int rc;
	if (err != json_tokener_success)
		rc = fail(why, whylen, "not JSON: %s at offset %zu", json_tokener_error_desc(err),
			  end);
	/* Strict mode already refuses trailing bytes; this holds if that changes. */
	else if (end < len && strspn(text + end, " \t\r\n") < len - end)
		rc = fail(why, whylen, "not JSON: trailing data at offset %zu", end);
	else if (!o && errno == ENOMEM)
		rc = fail(why, whylen, "out of memory parsing a report");
	else if (!json_object_is_type(o, json_type_object))
		rc = fail(why, whylen, "not an object: %s",
			  json_type_to_name(json_object_get_type(o)));
	else {
		struct report t;
		report_init(&t, NULL);
		rc = decode_object(o, &t, why, whylen);
		if (rc == 0)
			*r = t;
	}
	json_object_put(o);
	if (rc < 0 && errno != ENOMEM)
		errno = EINVAL;
	return rc;
}
