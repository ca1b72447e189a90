/* Status reports: the JSON-lines codec between ron-monitor and ron-kernel.
 * Encoding always fits a line (the reason gives way); decoding trusts no byte. */
#include <errno.h>
#include <json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "report.h"

_Static_assert(sizeof(pid_t) == sizeof(int), "pid_t is read as an int");

/* PLAIN keeps the line free of raw newlines; NOSLASHESCAPE leaves paths readable. */
#define REPORT_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

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
}

/* Adds v (owned) as key; a NULL v is a failed allocation. */
static int add(struct json_object *o, const char *key, struct json_object *v)
{
	if (!v)
		return -1;
	if (json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

/* The report as a JSON object, the reason left to render(). */
static struct json_object *report_json(const struct report *r)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	int err = 0;
	err |= add(o, "v", json_object_new_int(r->v));
	err |= add(
	    o, "service",
	    json_object_new_string_len(r->service, (int)strnlen(r->service, sizeof(r->service))));
	err |= add(o, "event", json_object_new_string(event_names[r->event]));
	err |= add(o, "state", json_object_new_string(state_names[r->state]));
	err |= add(o, "pid", json_object_new_int(r->pid));
	err |= add(o, "start", json_object_new_uint64(r->start));
	err |= add(o, "restarts", json_object_new_int64(r->restarts));
	err |= add(o, "uptime_ms", json_object_new_int64(r->uptime_ms));
	err |= add(o, "rtt_us", json_object_new_int64(r->rtt_us));
	err |= add(o, "failures", json_object_new_int64(r->failures));
	err |= add(o, "code", json_object_new_int(r->code));
	err |= add(o, "signal", json_object_new_int(r->signal));
	err |= add(o, "delay_ms", json_object_new_int64(r->delay_ms));
	err |= add(o, "reason", json_object_new_string(""));
	err |= add(o, "ok", json_object_new_boolean(r->ok));
	err |= add(o, "mpid", json_object_new_int(r->mpid));
	err |= add(o, "ts", json_object_new_int64(r->ts));
	err |= add(o, "mono_us", json_object_new_int64(r->mono_us));
	err |= add(o, "due_us", json_object_new_int64(r->due_us));
	err |= add(o, "healthy_ms", json_object_new_int64(r->healthy_ms));
	err |= add(o, "streak", json_object_new_int64(r->streak));
	err |= add(o, "probation", json_object_new_boolean(r->probation));
	err |= add(o, "recorded", json_object_new_int64(r->recorded));
	err |= add(o, "seq", json_object_new_uint64(r->seq));
	if (err) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Renders o with the first k bytes of the reason (cut at a character
 * boundary); the text, or NULL if it leaves no room for "\n\0" in limit.
 * A fresh string each time: json_object_set_string_len() in json-c 0.16
 * leaks after a string is emptied (json-c issue #780). */
static const char *render(struct json_object *o, const char *reason, size_t n, size_t k,
			  size_t limit, size_t *len)
{
	/* Replacing a key keeps its place in the object. */
	if (add(o, "reason", json_object_new_string_len(reason, (int)utf8_prefix(reason, n, k))))
		return NULL;
	const char *s = json_object_to_json_string_length(o, REPORT_JSON_FLAGS, len);
	return s && *len + 1 < limit ? s : NULL;
}

int report_encode(const struct report *r, char *buf, size_t cap)
{
	if ((unsigned)r->event >= EV__COUNT || (unsigned)r->state >= ST__COUNT)
		return -1;
	size_t limit = cap < REPORT_LINE_MAX ? cap : REPORT_LINE_MAX;
	struct json_object *o = report_json(r);
	if (!o)
		return -1;
	size_t n = strnlen(r->reason, sizeof(r->reason)), len = 0;
	const char *s = render(o, r->reason, n, n, limit, &len);
	if (!s && render(o, r->reason, n, 0, limit, &len)) {
		/* Escapes make a reason's encoded length hard to predict, so
		 * search for the longest prefix that fits: fits(lo), !fits(hi). */
		size_t lo = 0, hi = n;
		while (hi - lo > 1) {
			size_t mid = lo + (hi - lo) / 2;
			if (render(o, r->reason, n, mid, limit, &len))
				lo = mid;
			else
				hi = mid;
		}
		s = render(o, r->reason, n, lo, limit, &len);
	}
	if (s) {
		memcpy(buf, s, len);
		buf[len++] = '\n';
		buf[len] = '\0';
	}
	json_object_put(o);
	return s ? (int)len : -1;
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
	if (rc > 0)
		text_copy(r->reason, sizeof(r->reason), json_object_get_string(v),
			  (size_t)json_object_get_string_len(v));
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
