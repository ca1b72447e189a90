/* The hand-over record's codec.  Decoding trusts no byte: every field is
 * required, typed and range-checked, and the rules that tie fields together
 * (a pid exactly in the states that have a service, ...) are checked after,
 * each failure naming the field. */
#include <json.h>
#include <limits.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "handover.h"
#include "services.h"

#define HANDOVER_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

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

bool handover_state_has_pid(enum svc_state s)
{
	return s == ST_STARTING || s == ST_HEALTHY || s == ST_DEGRADED || s == ST_STOPPING;
}

/* The rules between fields, on a record whose fields each decoded. */
static int check(const struct handover *h, char *why, size_t whylen)
{
	size_t n = strnlen(h->service, sizeof(h->service));
	if (n == 0)
		return fail(why, whylen, "field \"service\": empty");
	if (n == sizeof(h->service))
		return fail(why, whylen, "field \"service\": longer than %zu bytes",
			    sizeof(h->service) - 1);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)h->service[i] < 0x20 || h->service[i] == 0x7f)
			return fail(why, whylen, "field \"service\": control character 0x%02x",
				    (unsigned char)h->service[i]);
	/* A service's name, as the config file allows it: the reports a monitor resumed
	 * from the record sends must fit their line. */
	char nwhy[160];
	if (svc_name_check(h->service, nwhy, sizeof(nwhy)) < 0)
		return fail(why, whylen, "field \"service\": %s", nwhy);
	if ((unsigned)h->state >= ST__COUNT || h->state == ST_STOPPED || h->state == ST_DOWN)
		return fail(why, whylen, "field \"state\": %s cannot be handed over",
			    svc_state_name(h->state));
	if (h->mono_us < 0 || h->mono_us > HANDOVER_MONO_MAX)
		return fail(why, whylen, "field \"mono_us\": %lld outside 0..%lld",
			    (long long)h->mono_us, HANDOVER_MONO_MAX);
	bool running = handover_state_has_pid(h->state);
	if (running && h->pid <= 0)
		return fail(why, whylen, "field \"pid\": must be > 0 when %s",
			    svc_state_name(h->state));
	if (!running && h->pid != 0)
		return fail(why, whylen, "field \"pid\": must be 0 when %s",
			    svc_state_name(h->state));
	if (h->pid < 0)
		return fail(why, whylen, "field \"pid\": negative");
	if ((h->pid > 0) != (h->start > 0))
		return fail(why, whylen, "field \"start\": must be > 0 exactly when \"pid\" is");
	if (h->uptime_ms < 0 || (h->pid == 0 && h->uptime_ms != 0))
		return fail(why, whylen, "field \"uptime_ms\": %lld out of range",
			    (long long)h->uptime_ms);
	if (h->healthy_ms < -1 || h->healthy_ms > h->uptime_ms)
		return fail(why, whylen, "field \"healthy_ms\": %lld outside -1..uptime_ms",
			    (long long)h->healthy_ms);
	if (h->state == ST_STARTING && h->healthy_ms != -1)
		return fail(why, whylen, "field \"healthy_ms\": must be -1 when starting");
	if ((h->state == ST_HEALTHY || h->state == ST_DEGRADED) && h->healthy_ms < 0)
		return fail(why, whylen, "field \"healthy_ms\": must be >= 0 when %s",
			    svc_state_name(h->state));
	if (h->rtt_us < -1)
		return fail(why, whylen, "field \"rtt_us\": below -1");
	int64_t due_min = h->state == ST_STOPPING ? -1 : 0;
	if (h->due_us < due_min || h->due_us > HANDOVER_DUE_MAX)
		return fail(why, whylen, "field \"due_us\": %lld outside %lld..%lld",
			    (long long)h->due_us, (long long)due_min, HANDOVER_DUE_MAX);
	if (h->recorded < h->ntimes)
		return fail(why, whylen, "field \"recorded\": %u, fewer than the %u restart times",
			    h->recorded, h->ntimes);
	if (h->ntimes > HANDOVER_TIMES_MAX)
		return fail(why, whylen, "field \"restarts_ago_ms\": more than %d entries",
			    HANDOVER_TIMES_MAX);
	for (unsigned i = 0; i < h->ntimes; i++) {
		int64_t a = h->restarts_ago_ms[i];
		if (a < 0 || a > HANDOVER_AGE_MAX)
			return fail(why, whylen,
				    "field \"restarts_ago_ms\": entry %u: %lld outside 0..%lld", i,
				    (long long)a, HANDOVER_AGE_MAX);
		if (i > 0 && a < h->restarts_ago_ms[i - 1])
			return fail(why, whylen,
				    "field \"restarts_ago_ms\": entry %u: not newest first", i);
	}
	return 0;
}

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

int handover_encode(const struct handover *h, char *buf, size_t cap)
{
	if (check(h, NULL, 0) < 0)
		return -1;
	struct json_object *o = json_object_new_object(), *t = json_object_new_array();
	if (!o || !t) {
		json_object_put(o);
		json_object_put(t);
		return -1;
	}
	int err = 0;
	for (unsigned i = 0; i < h->ntimes; i++)
		err |= json_object_array_add(t, json_object_new_int64(h->restarts_ago_ms[i]));
	err |= add(o, "v", json_object_new_int(HANDOVER_VERSION));
	err |= add(o, "service", json_object_new_string(h->service));
	err |= add(o, "state", json_object_new_string(svc_state_name(h->state)));
	err |= add(o, "mono_us", json_object_new_int64(h->mono_us));
	err |= add(o, "pid", json_object_new_int(h->pid));
	err |= add(o, "start", json_object_new_uint64(h->start));
	err |= add(o, "uptime_ms", json_object_new_int64(h->uptime_ms));
	err |= add(o, "healthy_ms", json_object_new_int64(h->healthy_ms));
	err |= add(o, "failures", json_object_new_int64(h->failures));
	err |= add(o, "restarts", json_object_new_int64(h->restarts));
	err |= add(o, "rtt_us", json_object_new_int64(h->rtt_us));
	err |= add(o, "due_us", json_object_new_int64(h->due_us));
	err |= add(o, "streak", json_object_new_int64(h->streak));
	err |= add(o, "probation", json_object_new_boolean(h->probation));
	err |= add(o, "recorded", json_object_new_int64(h->recorded));
	err |= add(o, "restarts_ago_ms", t);
	err |= add(o, "want", json_object_new_string(h->want_down ? "down" : "up"));
	size_t len = 0;
	const char *s =
	    err ? NULL : json_object_to_json_string_length(o, HANDOVER_JSON_FLAGS, &len);
	int rc = -1;
	if (s && len < cap && len < HANDOVER_TEXT_MAX) {
		memcpy(buf, s, len + 1);
		rc = (int)len;
	}
	json_object_put(o);
	return rc;
}

/* --- decoding ----------------------------------------------------------------------------- */

static struct json_object *need(struct json_object *o, const char *name, enum json_type t,
				char *why, size_t whylen)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, name, &v)) {
		fail(why, whylen, "field \"%s\": missing", name);
		return NULL;
	}
	if (!json_object_is_type(v, t)) {
		fail(why, whylen, "field \"%s\": expected %s, got %s", name, json_type_to_name(t),
		     json_type_to_name(json_object_get_type(v)));
		return NULL;
	}
	return v;
}

/* An integer in lo..hi (json-c clamps above INT64_MAX, so hi < INT64_MAX). */
static int int_in(struct json_object *v, const char *name, int64_t lo, int64_t hi, int64_t *out,
		  char *why, size_t whylen)
{
	int64_t i = json_object_get_int64(v);
	if (i < lo || i > hi) {
		if (i == INT64_MAX)
			return fail(why, whylen, "field \"%s\": out of range (max %lld)", name,
				    (long long)hi);
		return fail(why, whylen, "field \"%s\": %lld outside %lld..%lld", name,
			    (long long)i, (long long)lo, (long long)hi);
	}
	*out = i;
	return 0;
}

static int get_int(struct json_object *o, const char *name, int64_t lo, int64_t hi, int64_t *out,
		   char *why, size_t whylen)
{
	struct json_object *v = need(o, name, json_type_int, why, whylen);
	return v ? int_in(v, name, lo, hi, out, why, whylen) : -1;
}

static const char *const fields[] = {
    "v",	 "service",    "state",	   "mono_us",	      "pid",	"start",
    "uptime_ms", "healthy_ms", "failures", "restarts",	      "rtt_us", "due_us",
    "streak",	 "probation",  "recorded", "restarts_ago_ms", "want",
};

/* "want" is optional: a record of a monitor from before it wants the service up. */
static int decode_want(struct json_object *o, struct handover *h, char *why, size_t whylen)
{
	struct json_object *v;
	h->want_down = false;
	if (!json_object_object_get_ex(o, "want", &v))
		return 0;
	if (!(v = need(o, "want", json_type_string, why, whylen)))
		return -1;
	const char *s = json_object_get_string(v);
	if ((size_t)json_object_get_string_len(v) != strlen(s) ||
	    (strcmp(s, "up") != 0 && strcmp(s, "down") != 0))
		return fail(why, whylen, "field \"want\": neither up nor down");
	h->want_down = strcmp(s, "down") == 0;
	return 0;
}

static int decode_object(struct json_object *o, struct handover *h, char *why, size_t whylen)
{
	int64_t i;
	struct json_object *v;
	json_object_object_foreach(o, key, val)
	{
		(void)val;
		bool known = false;
		for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
			known |= strcmp(key, fields[k]) == 0;
		if (!known) {
			char shown[40];
			size_t n = 0;
			for (const char *p = key; *p && n + 4 < sizeof(shown); p++)
				shown[n++] = *p >= 0x20 && *p < 0x7f && *p != '"' ? *p : '?';
			shown[n] = '\0';
			return fail(why, whylen, "unknown field \"%s\"", shown);
		}
	}
	if (get_int(o, "v", INT64_MIN, INT64_MAX - 1, &i, why, whylen) < 0)
		return -1;
	if (i != HANDOVER_VERSION)
		return fail(why, whylen, "field \"v\": unsupported version %lld (this is %d)",
			    (long long)i, HANDOVER_VERSION);
	if (!(v = need(o, "service", json_type_string, why, whylen)))
		return -1;
	size_t n = (size_t)json_object_get_string_len(v);
	if (n >= sizeof(h->service))
		return fail(why, whylen, "field \"service\": longer than %zu bytes",
			    sizeof(h->service) - 1);
	if (memchr(json_object_get_string(v), '\0', n))
		return fail(why, whylen, "field \"service\": control character 0x00");
	memcpy(h->service, json_object_get_string(v), n);
	h->service[n] = '\0';
	if (!(v = need(o, "state", json_type_string, why, whylen)))
		return -1;
	int st = (size_t)json_object_get_string_len(v) == strlen(json_object_get_string(v))
		     ? svc_state_parse(json_object_get_string(v))
		     : -1;
	if (st < 0)
		return fail(why, whylen, "field \"state\": not a state name");
	h->state = (enum svc_state)st;
	if (get_int(o, "mono_us", 0, HANDOVER_MONO_MAX, &h->mono_us, why, whylen) < 0)
		return -1;
	if (get_int(o, "pid", 0, INT_MAX, &i, why, whylen) < 0)
		return -1;
	h->pid = (pid_t)i;
	if (!(v = need(o, "start", json_type_int, why, whylen)))
		return -1;
	if (json_object_get_int64(v) < 0)
		return fail(why, whylen, "field \"start\": negative");
	h->start = json_object_get_uint64(v);
	if (get_int(o, "uptime_ms", 0, INT64_MAX / 1000, &h->uptime_ms, why, whylen) < 0 ||
	    get_int(o, "healthy_ms", -1, INT64_MAX / 1000, &h->healthy_ms, why, whylen) < 0)
		return -1;
	if (get_int(o, "failures", 0, UINT_MAX, &i, why, whylen) < 0)
		return -1;
	h->failures = (unsigned)i;
	if (get_int(o, "restarts", 0, UINT_MAX, &i, why, whylen) < 0)
		return -1;
	h->restarts = (unsigned)i;
	if (get_int(o, "rtt_us", -1, INT64_MAX - 1, &h->rtt_us, why, whylen) < 0 ||
	    get_int(o, "due_us", -1, HANDOVER_DUE_MAX, &h->due_us, why, whylen) < 0)
		return -1;
	if (get_int(o, "streak", 0, UINT_MAX, &i, why, whylen) < 0)
		return -1;
	h->streak = (unsigned)i;
	if (!(v = need(o, "probation", json_type_boolean, why, whylen)))
		return -1;
	h->probation = json_object_get_boolean(v);
	if (get_int(o, "recorded", 0, UINT_MAX, &i, why, whylen) < 0)
		return -1;
	h->recorded = (unsigned)i;
	if (!(v = need(o, "restarts_ago_ms", json_type_array, why, whylen)))
		return -1;
	size_t nt = json_object_array_length(v);
	if (nt > HANDOVER_TIMES_MAX)
		return fail(why, whylen, "field \"restarts_ago_ms\": %zu entries, max %d", nt,
			    HANDOVER_TIMES_MAX);
	for (size_t k = 0; k < nt; k++) {
		struct json_object *e = json_object_array_get_idx(v, k);
		char name[48];
		snprintf(name, sizeof(name), "restarts_ago_ms[%zu]", k);
		if (!json_object_is_type(e, json_type_int))
			return fail(why, whylen, "field \"%s\": expected int, got %s", name,
				    json_type_to_name(json_object_get_type(e)));
		if (int_in(e, name, 0, HANDOVER_AGE_MAX, &h->restarts_ago_ms[k], why, whylen) < 0)
			return -1;
	}
	h->ntimes = (unsigned)nt;
	if (decode_want(o, h, why, whylen) < 0)
		return -1;
	return check(h, why, whylen);
}

int handover_decode(const char *text, size_t len, struct handover *h, char *why, size_t whylen)
{
	if (len >= HANDOVER_TEXT_MAX)
		return fail(why, whylen, "record too long: %zu bytes, max %d", len,
			    HANDOVER_TEXT_MAX - 1);
	const char *nul = len ? memchr(text, '\0', len) : NULL;
	if (nul)
		return fail(why, whylen, "not JSON: NUL byte at offset %zu", (size_t)(nul - text));
	struct json_tokener *tok = json_tokener_new();
	if (!tok)
		return fail(why, whylen, "out of memory parsing the record");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	char *copy = malloc(len + 1);
	if (!copy) {
		json_tokener_free(tok);
		return fail(why, whylen, "out of memory parsing the record");
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	/* Handing the tokener the NUL too ends a bare number or literal. */
	struct json_object *o = json_tokener_parse_ex(tok, copy, (int)len + 1);
	enum json_tokener_error err = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	free(copy);
	int rc;
	if (err != json_tokener_success)
		rc = fail(why, whylen, "not JSON: %s at offset %zu", json_tokener_error_desc(err),
			  end);
	else if (!json_object_is_type(o, json_type_object))
		rc = fail(why, whylen, "not an object: %s",
			  json_type_to_name(json_object_get_type(o)));
	else {
		struct handover *t = calloc(1, sizeof(*t));
		rc = t ? decode_object(o, t, why, whylen)
		       : fail(why, whylen, "out of memory parsing the record");
		if (rc == 0)
			*h = *t;
		free(t);
	}
	json_object_put(o);
	return rc;
}
