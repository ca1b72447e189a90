/* The status-report codec: names, encode/decode round trips, truncation,
 * and every way a line from a monitor can be rejected. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

static const char *const state_names[] = {
    "starting", "healthy", "degraded", "stopping", "backoff", "quarantined", "stopped", "down",
};

static const char *const event_names[] = {
    "spawned",	    "ready",	  "healthy",	   "degraded",	     "unhealthy",      "exited",
    "spawn_failed", "restarting", "quarantined",   "adopted",	     "stopping",       "stopped",
    "check",	    "down",	  "check_skipped", "spawn_deferred", "monitor_failed",
};

/* A line holding the required fields, to which a test appends its own. */
#define REQUIRED "\"v\":1,\"service\":\"svc-index\",\"event\":\"check\",\"state\":\"healthy\""

static void fill(struct report *r, enum report_event e, enum svc_state s)
{
	report_init(r, "svc-index");
	r->event = e;
	r->state = s;
	r->pid = 4242;
	r->start = 123456789ULL;
	r->restarts = 3;
	r->uptime_ms = 98765;
	r->rtt_us = 850;
	r->failures = 2;
	r->code = 137;
	r->signal = 9;
	r->delay_ms = 4000;
	snprintf(r->reason, sizeof(r->reason), "exited %s in %s", event_names[e], state_names[s]);
	r->ok = e % 2;
	r->mpid = 4200;
	r->ts = 1790000000123;
	r->mono_us = 123456789012;
}

static void assert_report_eq(const struct report *a, const struct report *b)
{
	cr_assert_eq(a->v, b->v);
	cr_assert_str_eq(a->service, b->service);
	cr_assert_eq(a->event, b->event);
	cr_assert_eq(a->state, b->state);
	cr_assert_eq(a->pid, b->pid);
	cr_assert_eq(a->start, b->start);
	cr_assert_eq(a->restarts, b->restarts);
	cr_assert_eq(a->uptime_ms, b->uptime_ms);
	cr_assert_eq(a->rtt_us, b->rtt_us);
	cr_assert_eq(a->failures, b->failures);
	cr_assert_eq(a->code, b->code);
	cr_assert_eq(a->signal, b->signal);
	cr_assert_eq(a->delay_ms, b->delay_ms);
	cr_assert_str_eq(a->reason, b->reason);
	cr_assert_eq(a->ok, b->ok);
	cr_assert_eq(a->mpid, b->mpid);
	cr_assert_eq(a->ts, b->ts);
	cr_assert_eq(a->mono_us, b->mono_us);
}

/* A well-formed line: shorter than the max, one newline, at the end. */
static void assert_line(const char *buf, int n)
{
	cr_assert_gt(n, 0);
	cr_assert_lt(n, REPORT_LINE_MAX);
	cr_assert_eq(strlen(buf), (size_t)n);
	cr_assert_eq(buf[n - 1], '\n');
	cr_assert_eq(memchr(buf, '\n', (size_t)n - 1), NULL, "raw newline inside: %s", buf);
}

static void round_trip(const struct report *in, struct report *out)
{
	char buf[REPORT_LINE_MAX], why[128] = "";
	int n = report_encode(in, buf, sizeof(buf));
	assert_line(buf, n);
	cr_assert_eq(report_decode(buf, (size_t)n, out, why, sizeof(why)), 0, "%s: %s", why, buf);
}

/* Decodes line (without its NUL) expecting failure with each of the given words in why. */
static void assert_rejected(const char *line, const char *word, const char *word2)
{
	struct report r, before;
	char why[256] = "";
	memset(&r, 0x5a, sizeof(r));
	before = r;
	size_t len = strlen(line);
	char *copy = malloc(len ? len : 1); /* exactly len bytes: ASan sees any over-read */
	cr_assert_not_null(copy);
	memcpy(copy, line, len);
	cr_assert_eq(report_decode(copy, len, &r, why, sizeof(why)), -1, "accepted: %s", line);
	free(copy);
	cr_assert_not_null(strstr(why, word), "why \"%s\" lacks \"%s\" for %s", why, word, line);
	if (word2)
		cr_assert_not_null(strstr(why, word2), "why \"%s\" lacks \"%s\" for %s", why, word2,
				   line);
	cr_assert_eq(memcmp(&r, &before, sizeof(r)), 0, "report changed on failure");
}

Test(report, state_names_round_trip)
{
	cr_assert_eq(sizeof(state_names) / sizeof(state_names[0]), ST__COUNT);
	for (int s = 0; s < ST__COUNT; s++) {
		cr_assert_str_eq(svc_state_name((enum svc_state)s), state_names[s]);
		cr_assert_eq(svc_state_parse(state_names[s]), s);
	}
	cr_assert_eq(svc_state_parse("running"), -1);
	cr_assert_eq(svc_state_parse(""), -1);
	cr_assert_eq(svc_state_parse("Healthy"), -1);
	cr_assert_eq(svc_state_parse(NULL), -1);
	cr_assert_not_null(svc_state_name(ST__COUNT));
	cr_assert_not_null(svc_state_name((enum svc_state) - 1));
}

Test(report, event_names_round_trip)
{
	cr_assert_eq(sizeof(event_names) / sizeof(event_names[0]), EV__COUNT);
	for (int e = 0; e < EV__COUNT; e++) {
		cr_assert_str_eq(report_event_name((enum report_event)e), event_names[e]);
		cr_assert_eq(report_event_parse(event_names[e]), e);
	}
	cr_assert_eq(report_event_parse("spawn-failed"), -1);
	cr_assert_eq(report_event_parse("check "), -1);
	cr_assert_eq(report_event_parse(NULL), -1);
	cr_assert_not_null(report_event_name(EV__COUNT));
}

Test(report, init_sets_none_values)
{
	struct report r;
	memset(&r, 0x5a, sizeof(r));
	report_init(&r, "svc-overlay");
	cr_assert_eq(r.v, REPORT_SCHEMA);
	cr_assert_str_eq(r.service, "svc-overlay");
	cr_assert_eq(r.pid, 0);
	cr_assert_eq(r.start, 0);
	cr_assert_eq(r.restarts, 0);
	cr_assert_eq(r.uptime_ms, 0);
	cr_assert_eq(r.rtt_us, -1);
	cr_assert_eq(r.failures, 0);
	cr_assert_eq(r.code, -1);
	cr_assert_eq(r.signal, 0);
	cr_assert_eq(r.delay_ms, -1);
	cr_assert_str_eq(r.reason, "");
	cr_assert_eq(r.ok, false);
	cr_assert_eq(r.mpid, 0);
	cr_assert_eq(r.ts, 0);
	cr_assert_eq(r.mono_us, 0);
	report_init(&r, NULL);
	cr_assert_str_eq(r.service, "");
}

Test(report, init_truncates_service_at_a_character)
{
	struct report r;
	char name[100];
	memset(name, 'x', sizeof(name));
	name[sizeof(name) - 1] = '\0';
	report_init(&r, name);
	cr_assert_eq(strlen(r.service), REPORT_NAME_MAX - 1);
	/* 62 ASCII bytes then a two-byte character that would straddle the end. */
	snprintf(name, sizeof(name), "%.31s%.31s\xc3\xa9tail", "1234567890123456789012345678901",
		 "1234567890123456789012345678901");
	report_init(&r, name);
	cr_assert_eq(strlen(r.service), REPORT_NAME_MAX - 2);
}

Test(report, round_trip_every_event_and_state)
{
	for (int e = 0; e < EV__COUNT; e++)
		for (int s = 0; s < ST__COUNT; s++) {
			struct report in, out;
			fill(&in, (enum report_event)e, (enum svc_state)s);
			memset(&out, 0x5a, sizeof(out));
			round_trip(&in, &out);
			assert_report_eq(&in, &out);
		}
}

Test(report, round_trip_none_values)
{
	struct report in, out;
	report_init(&in, "svc-storage");
	round_trip(&in, &out);
	assert_report_eq(&in, &out);
}

Test(report, round_trip_extreme_numbers)
{
	struct report in, out;
	fill(&in, EV_EXITED, ST_BACKOFF);
	in.pid = INT_MAX;
	in.start = ULLONG_MAX;
	in.restarts = UINT_MAX;
	in.uptime_ms = INT64_MAX;
	in.rtt_us = INT64_MIN;
	in.failures = UINT_MAX;
	in.code = INT_MIN;
	in.signal = INT_MAX;
	in.delay_ms = INT64_MIN;
	in.mpid = INT_MAX;
	in.ts = INT64_MAX;
	in.mono_us = INT64_MIN;
	round_trip(&in, &out);
	assert_report_eq(&in, &out);
}

Test(report, reason_with_newlines_quotes_and_controls_round_trips)
{
	struct report in, out;
	fill(&in, EV_UNHEALTHY, ST_DEGRADED);
	snprintf(in.reason, sizeof(in.reason), "%s",
		 "line one\nline two\r\n\t\"quoted\" back\\slash /a/path \x01\x1f\x7f "
		 "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x90\xa7 {\"v\":2}");
	round_trip(&in, &out);
	/* Decoded, every control is the text \xHH, so no reader of the kernel's lines
	 * meets one; UTF-8 passes. */
	cr_assert_str_eq(out.reason,
			 "line one\\x0aline two\\x0d\\x0a\\x09\"quoted\" back\\slash /a/path "
			 "\\x01\\x1f\\x7f caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x90\xa7 {\"v\":2}");
	/* Encoded again, it comes back the same. */
	struct report again;
	round_trip(&out, &again);
	assert_report_eq(&out, &again);
}

/* A C1 control (U+009B is a CSI to some terminals) and bytes that are not UTF-8 are
 * escaped too: the kernel's JSON lines stay valid UTF-8. */
Test(report, reason_with_c1_controls_and_invalid_utf8_is_escaped)
{
	struct report in, out;
	fill(&in, EV_UNHEALTHY, ST_DEGRADED);
	snprintf(in.reason, sizeof(in.reason), "%s",
		 "payload is \xc2\x9b"
		 "31m\xff\xfe, not HealthOk");
	round_trip(&in, &out);
	cr_assert_str_eq(out.reason, "payload is \\xc2\\x9b31m\\xff\\xfe, not HealthOk");
}

Test(report, long_reason_is_truncated_at_a_character)
{
	struct report in, out;
	fill(&in, EV_SPAWN_FAILED, ST_BACKOFF);
	in.start = ULLONG_MAX;
	in.uptime_ms = INT64_MIN;
	in.ts = INT64_MIN;
	in.mono_us = INT64_MIN;
	in.rtt_us = INT64_MIN;
	in.delay_ms = INT64_MIN;
	/* 'x' then 2-byte characters: any cut that splits one is off by one byte. */
	in.reason[0] = 'x';
	for (size_t i = 1; i + 2 < sizeof(in.reason); i += 2)
		memcpy(in.reason + i, "\xc3\xa9", 2);
	in.reason[sizeof(in.reason) - 1] = '\0';

	char buf[REPORT_LINE_MAX + 100], why[128] = "";
	int n = report_encode(&in, buf, sizeof(buf));
	assert_line(buf, n);
	cr_assert_gt(n, REPORT_LINE_MAX - 4, "reason cut more than needed: %d bytes", n);
	cr_assert_eq(report_decode(buf, (size_t)n, &out, why, sizeof(why)), 0, "%s", why);
	size_t k = strlen(out.reason);
	cr_assert_lt(k, strlen(in.reason));
	cr_assert_eq(k % 2, 1, "cut inside a character");
	cr_assert_eq(strncmp(out.reason, in.reason, k), 0);
}

Test(report, reason_of_escapes_is_truncated)
{
	struct report in, out;
	fill(&in, EV_EXITED, ST_STOPPED);
	/* Each control byte becomes \u00XX: six times its size on the line. */
	memset(in.reason, '\x01', sizeof(in.reason) - 1);
	in.reason[sizeof(in.reason) - 1] = '\0';
	char buf[REPORT_LINE_MAX], why[128] = "";
	int n = report_encode(&in, buf, sizeof(buf));
	assert_line(buf, n);
	cr_assert_gt(n, REPORT_LINE_MAX - 8, "reason cut more than needed: %d bytes", n);
	cr_assert_eq(report_decode(buf, (size_t)n, &out, why, sizeof(why)), 0, "%s", why);
	/* Decoded, each is the text \x01, cut at an escape, never inside one. */
	size_t len = strlen(out.reason);
	cr_assert_gt(len, 0);
	cr_assert_eq(len % 4, 0, "%s", out.reason);
	for (size_t i = 0; i < len; i += 4)
		cr_assert_eq(strncmp(out.reason + i, "\\x01", 4), 0, "%s", out.reason);
}

Test(report, small_buffer_truncates_reason_or_fails)
{
	struct report in, out;
	char buf[REPORT_LINE_MAX], why[128] = "";
	fill(&in, EV_CHECK, ST_HEALTHY);
	in.reason[0] = '\0';
	int bare = report_encode(&in, buf, sizeof(buf));
	assert_line(buf, bare);
	snprintf(in.reason, sizeof(in.reason), "health check failed: connection refused");

	/* Room for the line with an empty reason, plus 5 bytes of reason. */
	int n = report_encode(&in, buf, (size_t)bare + 6);
	cr_assert_eq(n, bare + 5);
	assert_line(buf, n);
	cr_assert_eq(report_decode(buf, (size_t)n, &out, why, sizeof(why)), 0, "%s", why);
	cr_assert_str_eq(out.reason, "healt");

	cr_assert_eq(report_encode(&in, buf, (size_t)bare + 1), bare);
	cr_assert_eq(report_encode(&in, buf, (size_t)bare), -1);
	cr_assert_eq(report_encode(&in, buf, 1), -1);
	cr_assert_eq(report_encode(&in, NULL, 0), -1);
}

Test(report, encode_rejects_unnamed_enums)
{
	struct report in;
	char buf[REPORT_LINE_MAX];
	fill(&in, EV_CHECK, ST_HEALTHY);
	in.event = EV__COUNT;
	cr_assert_eq(report_encode(&in, buf, sizeof(buf)), -1);
	fill(&in, EV_CHECK, ST_HEALTHY);
	in.state = (enum svc_state) - 1;
	cr_assert_eq(report_encode(&in, buf, sizeof(buf)), -1);
}

Test(report, decode_without_newline_and_with_only_required_fields)
{
	const char *line = "{" REQUIRED "}";
	size_t len = strlen(line);
	char *copy = malloc(len); /* not NUL-terminated */
	cr_assert_not_null(copy);
	memcpy(copy, line, len);
	struct report r, none;
	char why[128] = "";
	cr_assert_eq(report_decode(copy, len, &r, why, sizeof(why)), 0, "%s", why);
	free(copy);
	report_init(&none, "svc-index");
	none.event = EV_CHECK;
	none.state = ST_HEALTHY;
	assert_report_eq(&r, &none);

	const char *crlf = "{" REQUIRED ",\"pid\":7}\r\n";
	cr_assert_eq(report_decode(crlf, strlen(crlf), &r, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(r.pid, 7);
}

Test(report, decode_ignores_unknown_fields)
{
	const char *line = "{" REQUIRED ",\"extra\":{\"a\":[1,2]},\"pid\":9}\n";
	struct report r;
	char why[128] = "";
	cr_assert_eq(report_decode(line, strlen(line), &r, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(r.pid, 9);
}

Test(report, decode_truncates_a_foreign_long_reason)
{
	char line[REPORT_LINE_MAX], reason[300], why[128] = "";
	struct report r;
	memset(reason, 0, sizeof(reason));
	for (size_t i = 0; i < 120; i++)
		memcpy(reason + 2 * i, "\xc3\xa9", 2);
	int n = snprintf(line, sizeof(line), "{" REQUIRED ",\"reason\":\"%s\"}", reason);
	cr_assert_lt(n, REPORT_LINE_MAX);
	cr_assert_eq(report_decode(line, (size_t)n, &r, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(strlen(r.reason), REPORT_REASON_MAX - 2);
	cr_assert_eq(strncmp(r.reason, reason, REPORT_REASON_MAX - 2), 0);
}

Test(report, rejects_what_is_not_a_json_object)
{
	assert_rejected("", "not JSON", NULL);
	assert_rejected("\n", "not JSON", NULL);
	assert_rejected("hello", "not JSON", NULL);
	assert_rejected("{\"v\":1", "not JSON", NULL);
	assert_rejected("{\"v\":1,}", "not JSON", NULL);
	assert_rejected("{\"v\":1 /* comment */}", "not JSON", NULL);
	assert_rejected("{" REQUIRED "} x", "not JSON", "offset");
	assert_rejected("{" REQUIRED "}{" REQUIRED "}", "not JSON", NULL);
	assert_rejected("{" REQUIRED "}\n{" REQUIRED "}\n", "not JSON", NULL);
	assert_rejected("[1,2]", "not an object", "array");
	assert_rejected("42", "not an object", "int");
	assert_rejected("\"check\"", "not an object", "string");
	assert_rejected("null", "not an object", "null");
	assert_rejected("true\n", "not an object", "boolean");
}

Test(report, rejects_missing_or_unsupported_schema_version)
{
	assert_rejected("{\"service\":\"a\",\"event\":\"check\",\"state\":\"healthy\"}",
			"schema version missing", NULL);
	assert_rejected("{\"v\":2,\"service\":\"a\",\"event\":\"check\",\"state\":\"healthy\"}",
			"unsupported schema version 2", NULL);
	assert_rejected("{\"v\":0}", "unsupported schema version 0", NULL);
	assert_rejected("{\"v\":\"1\",\"service\":\"a\",\"event\":\"check\",\"state\":\"healthy\"}",
			"\"v\"", "string");
	assert_rejected("{\"v\":1.0}", "\"v\"", "double");
	assert_rejected("{\"v\":null}", "\"v\"", "null");
}

Test(report, rejects_missing_required_fields)
{
	assert_rejected("{\"v\":1,\"event\":\"check\",\"state\":\"healthy\"}", "missing",
			"\"service\"");
	assert_rejected("{\"v\":1,\"service\":\"a\",\"state\":\"healthy\"}", "missing",
			"\"event\"");
	assert_rejected("{\"v\":1,\"service\":\"a\",\"event\":\"check\"}", "missing", "\"state\"");
	assert_rejected("{}", "schema version missing", NULL);
}

Test(report, rejects_unknown_event_and_state_names)
{
	assert_rejected("{\"v\":1,\"service\":\"a\",\"event\":\"exploded\",\"state\":\"healthy\"}",
			"unknown event", "\"exploded\"");
	assert_rejected("{\"v\":1,\"service\":\"a\",\"event\":\"check\",\"state\":\"sleeping\"}",
			"unknown state", "\"sleeping\"");
	/* A NUL inside the JSON string must not make "check" out of "check\0x". */
	assert_rejected(
	    "{\"v\":1,\"service\":\"a\",\"event\":\"check\\u0000x\",\"state\":\"healthy\"}",
	    "unknown event", NULL);
	assert_rejected("{\"v\":1,\"service\":\"a\",\"event\":\"\",\"state\":\"healthy\"}",
			"unknown event", NULL);
	/* A name that cannot be quoted as is in a log line is shown tamed. */
	assert_rejected(
	    "{\"v\":1,\"service\":\"a\",\"event\":\"a\\nb\\\"c\",\"state\":\"healthy\"}",
	    "unknown event \"a?b?c\"", NULL);
}

Test(report, rejects_fields_of_the_wrong_type)
{
	assert_rejected("{\"v\":1,\"service\":7,\"event\":\"check\",\"state\":\"healthy\"}",
			"\"service\"", "int");
	assert_rejected("{\"v\":1,\"service\":\"a\",\"event\":3,\"state\":\"healthy\"}",
			"\"event\"", "int");
	assert_rejected("{\"v\":1,\"service\":\"a\",\"event\":\"check\",\"state\":[]}", "\"state\"",
			"array");
	assert_rejected("{" REQUIRED ",\"pid\":\"12\"}", "\"pid\"", "string");
	assert_rejected("{" REQUIRED ",\"start\":1.5}", "\"start\"", "double");
	assert_rejected("{" REQUIRED ",\"restarts\":true}", "\"restarts\"", "boolean");
	assert_rejected("{" REQUIRED ",\"uptime_ms\":{}}", "\"uptime_ms\"", "object");
	assert_rejected("{" REQUIRED ",\"rtt_us\":null}", "\"rtt_us\"", "null");
	assert_rejected("{" REQUIRED ",\"failures\":\"2\"}", "\"failures\"", NULL);
	assert_rejected("{" REQUIRED ",\"code\":1e2}", "\"code\"", NULL);
	assert_rejected("{" REQUIRED ",\"signal\":\"KILL\"}", "\"signal\"", NULL);
	assert_rejected("{" REQUIRED ",\"delay_ms\":false}", "\"delay_ms\"", NULL);
	assert_rejected("{" REQUIRED ",\"reason\":5}", "\"reason\"", "int");
	assert_rejected("{" REQUIRED ",\"ok\":1}", "\"ok\"", "int");
	assert_rejected("{" REQUIRED ",\"mpid\":[1]}", "\"mpid\"", NULL);
	assert_rejected("{" REQUIRED ",\"ts\":\"now\"}", "\"ts\"", NULL);
	assert_rejected("{" REQUIRED ",\"mono_us\":NaN}", "\"mono_us\"", NULL);
}

Test(report, rejects_bad_service_names)
{
	assert_rejected("{\"v\":1,\"service\":"
			"\"0123456789012345678901234567890123456789012345678901234567890123\","
			"\"event\":\"check\",\"state\":\"healthy\"}",
			"service name too long", NULL);
	assert_rejected("{\"v\":1,\"service\":\"\",\"event\":\"check\",\"state\":\"healthy\"}",
			"service name is empty", NULL);
	assert_rejected("{\"v\":1,\"service\":\"a\\nb\",\"event\":\"check\",\"state\":\"healthy\"}",
			"service name", "control");
	assert_rejected(
	    "{\"v\":1,\"service\":\"a\\u0000\",\"event\":\"check\",\"state\":\"healthy\"}",
	    "service name", "control");

	/* The longest name that fits is accepted. */
	char line[256], why[128] = "";
	struct report r;
	int n = snprintf(line, sizeof(line),
			 "{\"v\":1,\"service\":\"%0*d\",\"event\":\"check\",\"state\":\"healthy\"}",
			 REPORT_NAME_MAX - 1, 0);
	cr_assert_eq(report_decode(line, (size_t)n, &r, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(strlen(r.service), REPORT_NAME_MAX - 1);
}

Test(report, rejects_negative_and_out_of_range_numbers)
{
	assert_rejected("{" REQUIRED ",\"pid\":-1}", "\"pid\"", "negative");
	assert_rejected("{" REQUIRED ",\"mpid\":-5}", "\"mpid\"", "negative");
	assert_rejected("{" REQUIRED ",\"start\":-1}", "\"start\"", "negative");
	assert_rejected("{" REQUIRED ",\"restarts\":-1}", "\"restarts\"", "negative");
	assert_rejected("{" REQUIRED ",\"pid\":2147483648}", "\"pid\"", "out of range");
	assert_rejected("{" REQUIRED ",\"restarts\":4294967296}", "\"restarts\"", "out of range");
	assert_rejected("{" REQUIRED ",\"failures\":18446744073709551615}", "\"failures\"",
			"out of range");
	assert_rejected("{" REQUIRED ",\"code\":-2147483649}", "\"code\"", "out of range");
	assert_rejected("{" REQUIRED ",\"signal\":2147483648}", "\"signal\"", "out of range");
	assert_rejected("{" REQUIRED ",\"ts\":9223372036854775808}", "\"ts\"", "out of range");
}

Test(report, rejects_overlong_lines_and_nul_bytes)
{
	char line[REPORT_LINE_MAX + 10];
	memset(line, ' ', sizeof(line));
	memcpy(line, "{" REQUIRED "}", strlen("{" REQUIRED "}"));
	line[sizeof(line) - 1] = '\0';
	assert_rejected(line, "line too long", NULL);

	const char nul[] =
	    "{\"v\":1,\"service\":\"a\0b\",\"event\":\"check\",\"state\":\"healthy\"}";
	struct report r;
	char why[128] = "";
	cr_assert_eq(report_decode(nul, sizeof(nul) - 1, &r, why, sizeof(why)), -1);
	cr_assert_not_null(strstr(why, "NUL"), "%s", why);
	/* A valid line followed by a NUL: the tokener would stop at the NUL. */
	const char tail[] = "{" REQUIRED "}\0garbage";
	cr_assert_eq(report_decode(tail, sizeof(tail) - 1, &r, why, sizeof(why)), -1);
	cr_assert_not_null(strstr(why, "NUL"), "%s", why);
}

Test(report, why_may_be_absent_or_short)
{
	struct report r;
	char why[8];
	cr_assert_eq(report_decode("[]", 2, &r, NULL, 0), -1);
	cr_assert_eq(report_decode("[]", 2, &r, why, 0), -1);
	cr_assert_eq(report_decode("{\"v\":2}", 7, &r, why, sizeof(why)), -1);
	cr_assert_eq(strlen(why), sizeof(why) - 1);
	cr_assert_eq(report_decode(NULL, 0, &r, why, sizeof(why)), -1);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Whatever decode accepts must encode again into a line decode accepts. */
static void decode_garbage(const char *bytes, size_t len)
{
	char *copy = malloc(len ? len : 1);
	cr_assert_not_null(copy);
	memcpy(copy, bytes, len);
	struct report r, again;
	char why[128], buf[REPORT_LINE_MAX];
	if (report_decode(copy, len, &r, why, sizeof(why)) == 0) {
		int n = report_encode(&r, buf, sizeof(buf));
		assert_line(buf, n);
		cr_assert_eq(report_decode(buf, (size_t)n, &again, why, sizeof(why)), 0, "%s", why);
		/* Escaping can lengthen the line, and then the reason gives way. */
		cr_assert_eq(strncmp(again.reason, r.reason, strlen(again.reason)), 0);
		memcpy(again.reason, r.reason, sizeof(r.reason));
		assert_report_eq(&r, &again);
	} else {
		cr_assert_gt(strlen(why), 0);
	}
	free(copy);
}

Test(report, garbage_is_rejected_without_crashing)
{
	char bytes[REPORT_LINE_MAX + 64];
	for (int i = 0; i < 5000; i++) {
		size_t len = rng() % sizeof(bytes);
		for (size_t j = 0; j < len; j++)
			bytes[j] = (char)rng();
		decode_garbage(bytes, len);
	}
	/* Random bytes are almost never JSON: mutate valid lines instead. */
	struct report in;
	char line[REPORT_LINE_MAX];
	static const char alphabet[] = "{}[]\":,\\ntfu0123456789-.e\x00\xc3\xa9\n ";
	for (int i = 0; i < 20000; i++) {
		fill(&in, (enum report_event)(i % EV__COUNT), (enum svc_state)(i % ST__COUNT));
		int n = report_encode(&in, line, sizeof(line));
		assert_line(line, n);
		for (int k = 1 + (int)(rng() % 4); k > 0; k--) {
			size_t at = rng() % (size_t)n;
			switch (rng() % 3) {
			case 0: line[at] = alphabet[rng() % (sizeof(alphabet) - 1)]; break;
			case 1: line[at] = (char)rng(); break;
			case 2: n = (int)at; break;
			}
			if (n == 0)
				break;
		}
		decode_garbage(line, (size_t)n);
	}
}
