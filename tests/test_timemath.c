/* Time arithmetic on numbers from outside: the saturating helpers of common/clock.c,
 * and every field of a report at INT64_MIN, INT64_MAX, -1 and 0 through decode, the
 * kernel's table, its hand-over record and its metrics.  Under SANITIZE=1 an
 * overflow anywhere on the way aborts the test. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../kernel/kernel.h"
#include "../kernel/observe.h"
#include "clock.h"
#include "fuzz/harness.h"

TestSuite(timemath, .timeout = 30);

static const int64_t extremes[] = {INT64_MIN, INT64_MAX, -1, 0};
#define NEXTREMES (sizeof(extremes) / sizeof(extremes[0]))

Test(timemath, ms_to_us_saturates)
{
	const int64_t want[] = {INT64_MIN, INT64_MAX, -1000, 0};
	for (size_t i = 0; i < NEXTREMES; i++)
		cr_assert_eq(clock_ms_to_us(extremes[i]), want[i], "%lld ms",
			     (long long)extremes[i]);
	cr_assert_eq(clock_ms_to_us(INT64_MAX / 1000), INT64_MAX / 1000 * 1000);
	cr_assert_eq(clock_ms_to_us(INT64_MAX / 1000 + 1), INT64_MAX);
	cr_assert_eq(clock_ms_to_us(INT64_MIN / 1000 - 1), INT64_MIN);
}

Test(timemath, add_and_sub_saturate)
{
	for (size_t i = 0; i < NEXTREMES; i++)
		for (size_t j = 0; j < NEXTREMES; j++) {
			int64_t a = extremes[i], b = extremes[j];
			__int128 sum = (__int128)a + b, diff = (__int128)a - b;
			int64_t ws = sum > INT64_MAX   ? INT64_MAX
				     : sum < INT64_MIN ? INT64_MIN
						       : (int64_t)sum;
			int64_t wd = diff > INT64_MAX	? INT64_MAX
				     : diff < INT64_MIN ? INT64_MIN
							: (int64_t)diff;
			cr_assert_eq(clock_add_us(a, b), ws, "%lld + %lld", (long long)a,
				     (long long)b);
			cr_assert_eq(clock_sub_us(a, b), wd, "%lld - %lld", (long long)a,
				     (long long)b);
		}
}

Test(timemath, after_ms_is_a_deadline_that_never_wraps)
{
	const int64_t now = 5000000000;
	cr_assert_eq(clock_after_ms(now, 0), now);
	cr_assert_eq(clock_after_ms(now, -1), now - 1000);
	cr_assert_eq(clock_after_ms(now, INT64_MAX), INT64_MAX);
	cr_assert_eq(clock_after_ms(now, INT64_MIN), INT64_MIN + now);
	cr_assert_eq(clock_after_ms(-now, INT64_MIN), INT64_MIN);
	/* The fuzz finding: now + 30000795743898976 ms. */
	cr_assert_eq(clock_after_ms(now, 30000795743898976), INT64_MAX);
}

/* Every optional field a report carries: the int64 ones take any of the extremes,
 * the narrower ones are refused by decode when out of range. */
static const char *const fields[] = {"pid",	 "start",   "restarts", "uptime_ms",  "rtt_us",
				     "failures", "code",    "signal",	"delay_ms",   "mpid",
				     "ts",	 "mono_us", "due_us",	"healthy_ms", "streak",
				     "recorded", "seq",	    "passed"};
static const char *const events[][2] = {{"quarantined", "quarantined"}, {"check", "healthy"},
					{"ready", "healthy"},		{"spawned", "starting"},
					{"restarting", "backoff"},	{"exited", "stopping"},
					{"adopted", "degraded"}};

/* The rest of a full report, around the field under test. */
static const struct {
	const char *name;
	long long v;
} defaults[] = {{"pid", 42},	  {"start", 7},	       {"uptime_ms", 1000},
		{"rtt_us", 300},  {"delay_ms", 500},   {"mono_us", 4999000000},
		{"due_us", 1000}, {"healthy_ms", 900}, {"passed", 1}};

static int report_line(char *buf, size_t len, const char *event, const char *state,
		       const char *field, int64_t v)
{
	int n = snprintf(buf, len,
			 "{\"v\":1,\"service\":\"svc-index\",\"event\":\"%s\","
			 "\"state\":\"%s\",\"%s\":%lld",
			 event, state, field, (long long)v);
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		if (strcmp(defaults[i].name, field) != 0)
			n += snprintf(buf + n, len - (size_t)n, ",\"%s\":%lld", defaults[i].name,
				      defaults[i].v);
	return n + snprintf(buf + n, len - (size_t)n, ",\"reason\":\"r\"}\n");
}

/* What the kernel keeps of one accepted report must be in range, and must go on:
 * its hand-over record is one a monitor accepts (when the report names its process
 * consistently: a pid without a start time is no process to hand over). */
static void check_row(const struct report *r, const char *line)
{
	bool identified = r->pid >= 0 && (r->pid > 0) == (r->start > 0);
	const int64_t now = 5000000000; /* 5000 s of monotonic time */
	struct kernel_svc s;
	kernel_svc_init(&s, "svc-index", NULL);
	kernel_svc_apply(&s, r, now);
	int64_t up = kernel_svc_uptime_ms(&s, now);
	cr_assert(up >= 0 && up <= now / 1000, "uptime %lld from %s", (long long)up, line);
	if (r->event == EV_QUARANTINED && r->delay_ms >= 0)
		cr_assert(s.quarantine_end_us >= now &&
			      s.quarantine_end_us <= now + HANDOVER_DUE_MAX,
			  "quarantine ends at %lld from %s", (long long)s.quarantine_end_us, line);
	cr_assert(s.due_at_us == -1 || s.due_at_us <= now + 1000000 + HANDOVER_DUE_MAX,
		  "due at %lld from %s", (long long)s.due_at_us, line);

	struct handover h, back;
	char text[HANDOVER_TEXT_MAX], why[256] = "";
	kernel_handover_build(&s, now, &h);
	int n = handover_encode(&h, text, sizeof(text));
	cr_assert(n > 0 || !identified, "no record from %s", line);
	cr_assert(n <= 0 || handover_decode(text, (size_t)n, &back, why, sizeof(why)) == 0,
		  "the record of %s refused: %s: %s", line, why, text);

	struct km_svc m;
	memset(&m, 0, sizeof(m));
	kernel_metrics_report(&m, r);
	kernel_metrics_report(&m, r);
	cr_assert_geq(m.sum_us, 0, "round-trip sum %lld from %s", (long long)m.sum_us, line);
	kernel_svc_free(&s);
}

Test(timemath, every_report_field_at_the_extremes)
{
	char line[REPORT_LINE_MAX], why[256];
	int accepted = 0;
	for (size_t e = 0; e < sizeof(events) / sizeof(events[0]); e++)
		for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++)
			for (size_t x = 0; x < NEXTREMES; x++) {
				int n = report_line(line, sizeof(line), events[e][0], events[e][1],
						    fields[f], extremes[x]);
				cr_assert(n > 0 && (size_t)n < sizeof(line));
				/* The path the fuzz target takes: decode, apply, format. */
				fuzz_reports_one((const uint8_t *)line, (size_t)n);
				struct report r;
				if (report_decode(line, (size_t)n, &r, why, sizeof(why)) < 0) {
					cr_assert(strstr(why, fields[f]), "%s refused for %s", line,
						  why);
					continue;
				}
				accepted++;
				check_row(&r, line);
			}
	/* Every int64 field takes all four values; the rest at least 0. */
	cr_assert_geq(accepted, 7 * (8 * 4 + 10), "only %d accepted", accepted);
}

/* The finding itself: a quarantined report whose delay is beyond any clock. */
Test(timemath, huge_quarantine_delay_is_a_days_quarantine)
{
	const int64_t now = 5000000000;
	struct kernel_svc s;
	struct report r;
	kernel_svc_init(&s, "svc-index", NULL);
	report_init(&r, "svc-index");
	r.event = EV_QUARANTINED;
	r.state = ST_QUARANTINED;
	r.delay_ms = 30000795743898976;
	kernel_svc_apply(&s, &r, now);
	cr_assert_eq(s.quarantine_end_us, now + HANDOVER_DUE_MAX);
	r.delay_ms = 60000;
	kernel_svc_apply(&s, &r, now);
	cr_assert_eq(s.quarantine_end_us, now + 60000000);
}
