/* The hand-over record: encoding and decoding, every malformed-record error, and
 * the kernel building one from a monitor's reports. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "handover.h"
#include "kernel.h"

static struct handover sample(void)
{
	struct handover h;
	memset(&h, 0, sizeof(h));
	strcpy(h.service, "svc-index");
	h.state = ST_DEGRADED;
	h.mono_us = 5000000000;
	h.pid = 4242;
	h.start = 123456;
	h.uptime_ms = 7000;
	h.healthy_ms = 6500;
	h.failures = 2;
	h.restarts = 3;
	h.rtt_us = 180;
	h.due_us = 250000;
	h.streak = 1;
	h.probation = true;
	h.recorded = 4;
	h.ntimes = 3;
	h.restarts_ago_ms[0] = 7000;
	h.restarts_ago_ms[1] = 9000;
	h.restarts_ago_ms[2] = 9000;
	return h;
}

static char text[HANDOVER_TEXT_MAX];

Test(handover, round_trip)
{
	struct handover h = sample(), back;
	char why[256] = "";
	int n = handover_encode(&h, text, sizeof(text));
	cr_assert_gt(n, 0);
	cr_assert_eq((size_t)n, strlen(text));
	cr_assert_eq(handover_decode(text, (size_t)n, &back, why, sizeof(why)), 0, "%s: %s", why,
		     text);
	cr_assert_eq(memcmp(&h, &back, sizeof(h)), 0, "%s", text);
}

Test(handover, round_trip_every_state_and_a_full_history)
{
	static struct handover h, back;
	char why[256] = "";
	for (int s = 0; s < ST__COUNT; s++) {
		h = sample();
		h.state = (enum svc_state)s;
		if (s == ST_BACKOFF || s == ST_QUARANTINED) {
			h.pid = 0;
			h.start = 0;
			h.uptime_ms = 0;
			h.healthy_ms = -1;
		}
		if (s == ST_STARTING)
			h.healthy_ms = -1;
		h.ntimes = HANDOVER_TIMES_MAX;
		h.recorded = 5000;
		for (int i = 0; i < HANDOVER_TIMES_MAX; i++)
			h.restarts_ago_ms[i] = i * 1000;
		int n = handover_encode(&h, text, sizeof(text));
		if (s == ST_STOPPED || s == ST_DOWN) {
			cr_assert_eq(n, -1, "a stopped or held-down service is not handed over");
			continue;
		}
		cr_assert_gt(n, 0, "%s", svc_state_name(h.state));
		cr_assert_eq(handover_decode(text, (size_t)n, &back, why, sizeof(why)), 0, "%s",
			     why);
		cr_assert_eq(memcmp(&h, &back, sizeof(h)), 0, "%s", svc_state_name(h.state));
	}
}

Test(handover, stopping_after_sigkill_has_no_deadline)
{
	struct handover h = sample(), back;
	char why[256];
	h.state = ST_STOPPING;
	h.due_us = -1;
	int n = handover_encode(&h, text, sizeof(text));
	cr_assert_gt(n, 0);
	cr_assert_eq(handover_decode(text, (size_t)n, &back, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(back.due_us, -1);
}

Test(handover, encode_refuses_a_small_buffer)
{
	struct handover h = sample();
	char small[64];
	cr_assert_eq(handover_encode(&h, small, sizeof(small)), -1);
}

/* Replaces the first "from" in the sample's text by "to" and expects why to hold want. */
static void bad(const char *from, const char *to, const char *want)
{
	struct handover h = sample(), out;
	char buf[4096], why[256] = "";
	int n = handover_encode(&h, text, sizeof(text));
	cr_assert_gt(n, 0);
	const char *p = strstr(text, from);
	cr_assert(p, "no %s in %s", from, text);
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - text), text, to, p + strlen(from));
	cr_assert_eq(handover_decode(buf, strlen(buf), &out, why, sizeof(why)), -1, "accepted: %s",
		     buf);
	cr_assert(strstr(why, want), "%s: why is \"%s\", want \"%s\"", buf, why, want);
}

/* Decodes literal text and expects why to hold want. */
static void bad_text(const char *t, size_t len, const char *want)
{
	struct handover out;
	char why[256] = "";
	cr_assert_eq(handover_decode(t, len, &out, why, sizeof(why)), -1);
	cr_assert(strstr(why, want), "why is \"%s\", want \"%s\"", why, want);
}

Test(handover, rejects_what_is_not_a_record)
{
	bad_text("", 0, "not JSON");
	bad_text("{\"v\":1", 6, "not JSON");
	bad_text("[1,2]", 5, "not an object: array");
	bad_text("42", 2, "not an object: int");
	bad_text("{}\0{}", 5, "NUL byte at offset 2");
	bad_text("{} {}", 5, "not JSON");
	static char big[HANDOVER_TEXT_MAX + 10];
	memset(big, ' ', sizeof(big));
	bad_text(big, sizeof(big), "record too long");
}

Test(handover, every_missing_field_is_named)
{
	static const char *const f[] = {"v",	    "service",	 "state",     "mono_us",
					"pid",	    "start",	 "uptime_ms", "healthy_ms",
					"failures", "restarts",	 "rtt_us",    "due_us",
					"streak",   "probation", "recorded",  "restarts_ago_ms"};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		char from[40], to[40], want[64];
		/* A misspelt field is named as unknown before it is missed. */
		snprintf(from, sizeof(from), "\"%s\":", f[i]);
		snprintf(to, sizeof(to), "\"x%s\":", f[i]);
		snprintf(want, sizeof(want), "unknown field \"x%s\"", f[i]);
		bad(from, to, want);
	}
	bad_text("{}", 2, "field \"v\": missing");
	bad_text("{\"v\":1}", 7, "field \"service\": missing");
	const char *nostate = "{\"v\":1,\"service\":\"a\"}";
	bad_text(nostate, strlen(nostate), "field \"state\": missing");
}

Test(handover, fields_missing_one_by_one)
{
	/* Each prefix of the field list, as a record of its own: the first absent one is named. */
	static const char *const f[] = {
	    "mono_us", "pid",	 "start",  "uptime_ms", "healthy_ms", "failures",	"restarts",
	    "rtt_us",  "due_us", "streak", "probation", "recorded",   "restarts_ago_ms"};
	static const char *const v[] = {"1",  "0", "0", "0",	 "-1", "0", "0",
					"-1", "0", "0", "false", "0",  "[]"};
	char buf[1024], want[64];
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		int n =
		    snprintf(buf, sizeof(buf), "{\"v\":1,\"service\":\"a\",\"state\":\"backoff\"");
		for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++)
			if (k != i)
				n += snprintf(buf + n, sizeof(buf) - (size_t)n, ",\"%s\":%s", f[k],
					      v[k]);
		snprintf(buf + n, sizeof(buf) - (size_t)n, "}");
		snprintf(want, sizeof(want), "field \"%s\": missing", f[i]);
		bad_text(buf, strlen(buf), want);
	}
}

Test(handover, wrong_types_are_named)
{
	bad("\"v\":1", "\"v\":\"1\"", "field \"v\": expected int, got string");
	bad("\"service\":\"svc-index\"", "\"service\":7", "field \"service\": expected string");
	bad("\"state\":\"degraded\"", "\"state\":2", "field \"state\": expected string");
	bad("\"pid\":4242", "\"pid\":4242.5", "field \"pid\": expected int, got double");
	bad("\"start\":123456", "\"start\":null", "field \"start\": expected int, got null");
	bad("\"probation\":true", "\"probation\":1", "field \"probation\": expected boolean");
	bad("\"restarts_ago_ms\":[7000,9000,9000]", "\"restarts_ago_ms\":{\"a\":1}",
	    "field \"restarts_ago_ms\": expected array, got object");
	bad("\"restarts_ago_ms\":[7000", "\"restarts_ago_ms\":[\"7000\"",
	    "field \"restarts_ago_ms[0]\": expected int, got string");
}

Test(handover, want_down_goes_over_and_a_record_without_want_means_up)
{
	struct handover h = sample(), back;
	char why[256] = "";
	h.want_down = true;
	int n = handover_encode(&h, text, sizeof(text));
	cr_assert_gt(n, 0);
	cr_assert(strstr(text, "\"want\":\"down\""), "%s", text);
	cr_assert_eq(handover_decode(text, (size_t)n, &back, why, sizeof(why)), 0, "%s", why);
	cr_assert(back.want_down);
	/* A record of a monitor from before the field: the service is wanted up. */
	char *w = strstr(text, ",\"want\":\"down\"");
	memmove(w, w + strlen(",\"want\":\"down\""), strlen(w + strlen(",\"want\":\"down\"")) + 1);
	cr_assert_eq(handover_decode(text, strlen(text), &back, why, sizeof(why)), 0, "%s: %s", why,
		     text);
	cr_assert_not(back.want_down);
	bad("\"want\":\"up\"", "\"want\":\"sideways\"", "field \"want\": neither up nor down");
	bad("\"want\":\"up\"", "\"want\":false", "field \"want\": expected string");
}

Test(handover, values_out_of_range_are_named)
{
	bad("\"v\":1", "\"v\":2", "field \"v\": unsupported version 2");
	bad("\"service\":\"svc-index\"", "\"service\":\"\"", "field \"service\": empty");
	char longname[REPORT_NAME_MAX + 16], want[64];
	memset(longname, 'a', REPORT_NAME_MAX);
	longname[REPORT_NAME_MAX] = '\0';
	char to[REPORT_NAME_MAX + 32];
	snprintf(to, sizeof(to), "\"service\":\"%s\"", longname);
	snprintf(want, sizeof(want), "field \"service\": longer than %d bytes",
		 REPORT_NAME_MAX - 1);
	bad("\"service\":\"svc-index\"", to, want);
	bad("\"service\":\"svc-index\"", "\"service\":\"svc\\n\"",
	    "field \"service\": control character 0x0a");
	bad("\"service\":\"svc-index\"", "\"service\":\"svc\\u0000x\"",
	    "field \"service\": control character 0x00");
	bad("\"state\":\"degraded\"", "\"state\":\"sleepy\"", "field \"state\": not a state name");
	bad("\"state\":\"degraded\"", "\"state\":\"stopped\"",
	    "field \"state\": stopped cannot be handed over");
	bad("\"state\":\"degraded\"", "\"state\":\"down\"",
	    "field \"state\": down cannot be handed over");
	bad("\"mono_us\":5000000000", "\"mono_us\":-1", "field \"mono_us\": -1 outside");
	bad("\"pid\":4242", "\"pid\":-3", "field \"pid\": -3 outside");
	bad("\"pid\":4242", "\"pid\":4294967296", "field \"pid\": 4294967296 outside");
	bad("\"pid\":4242", "\"pid\":0", "field \"pid\": must be > 0 when degraded");
	bad("\"start\":123456", "\"start\":-5", "field \"start\": negative");
	bad("\"start\":123456", "\"start\":0", "field \"start\": must be > 0 exactly when");
	bad("\"uptime_ms\":7000", "\"uptime_ms\":-1", "field \"uptime_ms\": -1 outside");
	bad("\"healthy_ms\":6500", "\"healthy_ms\":-2", "field \"healthy_ms\": -2 outside");
	bad("\"healthy_ms\":6500", "\"healthy_ms\":8000",
	    "field \"healthy_ms\": 8000 outside -1..uptime_ms");
	bad("\"healthy_ms\":6500", "\"healthy_ms\":-1",
	    "field \"healthy_ms\": must be >= 0 when degraded");
	bad("\"state\":\"degraded\"", "\"state\":\"starting\"",
	    "field \"healthy_ms\": must be -1 when starting");
	bad("\"failures\":2", "\"failures\":4294967296", "field \"failures\": 4294967296 outside");
	bad("\"restarts\":3", "\"restarts\":-1", "field \"restarts\": -1 outside");
	bad("\"rtt_us\":180", "\"rtt_us\":-2", "field \"rtt_us\": -2 outside");
	bad("\"due_us\":250000", "\"due_us\":-1", "field \"due_us\": -1 outside 0..");
	bad("\"due_us\":250000", "\"due_us\":86400000001", "field \"due_us\": 86400000001 outside");
	bad("\"due_us\":250000", "\"due_us\":99999999999999999999",
	    "field \"due_us\": out of range");
	bad("\"streak\":1", "\"streak\":-1", "field \"streak\": -1 outside");
	bad("\"recorded\":4", "\"recorded\":2", "field \"recorded\": 2, fewer than the 3");
	bad("\"restarts_ago_ms\":[7000", "\"restarts_ago_ms\":[-7000",
	    "field \"restarts_ago_ms[0]\": -7000 outside");
	bad("\"restarts_ago_ms\":[7000", "\"restarts_ago_ms\":[86400001",
	    "field \"restarts_ago_ms[0]\": 86400001 outside");
	bad("\"restarts_ago_ms\":[7000,9000", "\"restarts_ago_ms\":[9500,9000",
	    "field \"restarts_ago_ms\": entry 1: not newest first");
}

Test(handover, a_service_where_none_runs_is_refused)
{
	struct handover h = sample();
	char why[256] = "";
	h.state = ST_BACKOFF;
	h.healthy_ms = -1;
	/* Encoding refuses what decoding would. */
	cr_assert_eq(handover_encode(&h, text, sizeof(text)), -1);
	h.pid = 0;
	h.start = 0;
	h.uptime_ms = 0;
	int n = handover_encode(&h, text, sizeof(text));
	cr_assert_gt(n, 0);
	struct handover out;
	char buf[4096];
	const char *p = strstr(text, "\"pid\":0");
	cr_assert(p);
	snprintf(buf, sizeof(buf), "%.*s\"pid\":9%s", (int)(p - text), text, p + 7);
	cr_assert_eq(handover_decode(buf, strlen(buf), &out, why, sizeof(why)), -1);
	cr_assert(strstr(why, "field \"pid\": must be 0 when backoff"), "%s", why);
}

Test(handover, too_many_restart_times)
{
	static char buf[HANDOVER_TEXT_MAX];
	int n = snprintf(buf, sizeof(buf),
			 "{\"v\":1,\"service\":\"a\",\"state\":\"backoff\",\"mono_us\":1,"
			 "\"pid\":0,\"start\":0,\"uptime_ms\":0,\"healthy_ms\":-1,\"failures\":0,"
			 "\"restarts\":0,\"rtt_us\":-1,\"due_us\":0,\"streak\":0,"
			 "\"probation\":false,\"recorded\":2000,\"restarts_ago_ms\":[0");
	for (int i = 0; i < HANDOVER_TIMES_MAX; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, ",0");
	snprintf(buf + n, sizeof(buf) - (size_t)n, "]}");
	bad_text(buf, strlen(buf), "field \"restarts_ago_ms\": 1001 entries, max 1000");
}

Test(handover, why_may_be_absent)
{
	struct handover out;
	cr_assert_eq(handover_decode("{}", 2, &out, NULL, 0), -1);
}

/* --- the kernel's side: a record from the reports ------------------------------------------ */

static struct kernel_svc svc;

static struct report rep(enum report_event ev, enum svc_state st, int64_t mono_us)
{
	struct report r;
	report_init(&r, "svc-index");
	r.event = ev;
	r.state = st;
	r.mono_us = mono_us;
	return r;
}

Test(handover, kernel_keeps_the_deadline_and_history_of_the_reports)
{
	kernel_svc_init(&svc, "svc-index", NULL);
	int64_t t = 100000000; /* 100 s */
	struct report r = rep(EV_SPAWNED, ST_STARTING, t);
	r.pid = 50;
	r.start = 77;
	r.uptime_ms = 0;
	r.due_us = 10000000;
	kernel_svc_apply(&svc, &r, t);
	struct handover h;
	kernel_handover_build(&svc, t + 400000, &h);
	cr_assert_eq(h.state, ST_STARTING);
	cr_assert_eq(h.pid, 50);
	cr_assert_eq(h.start, 77u);
	cr_assert_eq(h.due_us, 9600000, "the start deadline keeps its moment: %lld",
		     (long long)h.due_us);
	cr_assert_eq(h.healthy_ms, -1);
	cr_assert_eq(h.uptime_ms, 400);

	/* Two crashes, each a restart the policy recorded. */
	r = rep(EV_RESTARTING, ST_BACKOFF, t + 1000000);
	r.recorded = 1;
	r.streak = 1;
	r.due_us = 100000;
	r.restarts = 1;
	kernel_svc_apply(&svc, &r, t + 1000000);
	r = rep(EV_RESTARTING, ST_BACKOFF, t + 2000000);
	r.recorded = 2;
	r.streak = 2;
	r.due_us = 200000;
	r.restarts = 2;
	kernel_svc_apply(&svc, &r, t + 2000000);
	/* A check report repeats the count: nothing new. */
	r = rep(EV_CHECK, ST_BACKOFF, t + 2100000);
	r.recorded = 2;
	r.streak = 2;
	r.due_us = 100000;
	r.restarts = 2;
	kernel_svc_apply(&svc, &r, t + 2100000);
	kernel_handover_build(&svc, t + 2150000, &h);
	cr_assert_eq(h.state, ST_BACKOFF);
	cr_assert_eq(h.pid, 0);
	cr_assert_eq(h.due_us, 50000);
	cr_assert_eq(h.streak, 2);
	cr_assert_eq(h.recorded, 2);
	cr_assert_eq(h.ntimes, 2);
	cr_assert_eq(h.restarts_ago_ms[0], 150);
	cr_assert_eq(h.restarts_ago_ms[1], 1150);
	cr_assert_eq(h.restarts, 2);
	int n = handover_encode(&h, text, sizeof(text));
	cr_assert_gt(n, 0);

	/* A quarantine ends: the history is cleared. */
	r = rep(EV_RESTARTING, ST_BACKOFF, t + 3000000);
	r.recorded = 0;
	r.probation = true;
	r.due_us = 0;
	kernel_svc_apply(&svc, &r, t + 3000000);
	kernel_handover_build(&svc, t + 3000000, &h);
	cr_assert_eq(h.ntimes, 0);
	cr_assert_eq(h.recorded, 0);
	cr_assert(h.probation);
}

Test(handover, kernel_record_of_a_reported_pid_that_is_not_running_says_down)
{
	kernel_svc_init(&svc, "svc-index", NULL);
	struct report r = rep(EV_STOPPING, ST_STOPPING, 1000000);
	r.pid = 0; /* a monitor's nonsense: stopping nothing */
	r.due_us = -1;
	kernel_svc_apply(&svc, &r, 1000000);
	struct handover h;
	kernel_handover_build(&svc, 1000000, &h);
	cr_assert_eq(h.state, ST_BACKOFF);
	cr_assert_gt(handover_encode(&h, text, sizeof(text)), 0);
}

Test(handover, kernel_tolerates_wild_report_times)
{
	kernel_svc_init(&svc, "svc-index", NULL);
	struct report r = rep(EV_READY, ST_HEALTHY, INT64_MAX);
	r.pid = 9;
	r.start = 9;
	r.uptime_ms = INT64_MAX;
	r.healthy_ms = INT64_MAX;
	r.due_us = INT64_MAX;
	r.recorded = 4000000000u;
	kernel_svc_apply(&svc, &r, 5000000);
	r = rep(EV_RESTARTING, ST_BACKOFF, -5);
	r.recorded = 4000000001u;
	kernel_svc_apply(&svc, &r, 6000000);
	struct handover h;
	kernel_handover_build(&svc, 7000000, &h);
	cr_assert_gt(handover_encode(&h, text, sizeof(text)), 0, "the record stays encodable");
}
