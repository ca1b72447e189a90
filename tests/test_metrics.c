/* The metrics (kernel/metrics.c), the kernel -> ron-httpd feed (common/feed.c) and
 * RON_HTTP_ADDR parsing (common/httpaddr.c), as pure functions; the exposition is
 * also checked by promtool when it is installed. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "feed.h"
#include "httpaddr.h"
#include "observe.h"
#include "testlib.h"

TestSuite(metrics, .init = tl_setup, .fini = tl_teardown, .timeout = 30);

static struct report check(const char *svc, enum svc_state st, bool ok, int64_t rtt,
			   const char *reason)
{
	struct report r;
	report_init(&r, svc);
	r.event = EV_CHECK;
	r.state = st;
	r.ok = ok;
	r.rtt_us = rtt;
	snprintf(r.reason, sizeof(r.reason), "%s", reason);
	return r;
}

Test(metrics, check_results_from_reasons)
{
	cr_assert_eq(km_check_result(true, ""), KM_OK);
	cr_assert_eq(km_check_result(false, "timeout after 500 ms waiting for reply"), KM_TIMEOUT);
	cr_assert_eq(km_check_result(false, "connect: Connection refused"), KM_REFUSED);
	cr_assert_eq(km_check_result(false, "connect: No such file or directory"), KM_REFUSED);
	cr_assert_eq(km_check_result(false, "connection closed without a reply"), KM_CLOSED);
	cr_assert_eq(km_check_result(false, "recv: Connection reset by peer"), KM_CLOSED);
	cr_assert_eq(km_check_result(false, "payload is HealthDegraded, not HealthOk"),
		     KM_UNHEALTHY);
	cr_assert_eq(km_check_result(false, "body is not MessagePack"), KM_BAD_REPLY);
	cr_assert_str_eq(km_result_name(KM_BAD_REPLY), "bad_reply");
}

/* The value of the sample "name{labels}" in text, or -1 if there is none. */
static double sample(const char *text, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = text; (p = strstr(p, name)); p += n)
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

static void table(struct kernel_svc *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		kernel_svc_init(&s[i], names[i], NULL);
}

Test(metrics, counts_checks_not_heartbeats_and_restarts_never_drop)
{
	struct kernel_metrics m;
	struct kernel_svc s[1];
	static const char *const names[] = {"svc-index"};
	table(s, names, 1);
	cr_assert_eq(kernel_metrics_init(&m, 1700000000000), 0);
	struct report r = check("svc-index", ST_HEALTHY, true, 150, "");
	kernel_metrics_report(kernel_metrics_of(&m, "svc-index", 0), &r);
	r = check("svc-index", ST_DEGRADED, false, 500000, "timeout after 500 ms");
	kernel_metrics_report(kernel_metrics_of(&m, "svc-index", 0), &r);
	/* Heartbeats are no checks: no round trip, or while backing off. */
	r = check("svc-index", ST_DEGRADED, false, -1, "timeout after 500 ms");
	kernel_metrics_report(kernel_metrics_of(&m, "svc-index", 0), &r);
	r = check("svc-index", ST_BACKOFF, false, 500000, "timeout after 500 ms");
	kernel_metrics_report(kernel_metrics_of(&m, "svc-index", 0), &r);
	r.event = EV_RESTARTING;
	r.restarts = 4;
	kernel_metrics_report(kernel_metrics_of(&m, "svc-index", 0), &r);
	r.restarts = 1; /* a monitor that knows less must not take the counter back */
	kernel_metrics_report(kernel_metrics_of(&m, "svc-index", 0), &r);
	kernel_metrics_replaced(kernel_metrics_of(&m, "svc-index", 0), KM_FROZEN);
	char *t = kernel_metrics_render(&m, s, 1, 10000000, 1700000010000);
	cr_assert(t);
	cr_assert_eq(sample(t, "ron_health_checks_total{service=\"svc-index\",result=\"ok\"}"), 1);
	cr_assert_eq(sample(t, "ron_health_checks_total{service=\"svc-index\",result=\"timeout\"}"),
		     1);
	cr_assert_eq(sample(t, "ron_service_restarts_total{service=\"svc-index\"}"), 4);
	cr_assert_eq(
	    sample(t, "ron_monitor_replacements_total{service=\"svc-index\",reason=\"frozen\"}"),
	    1);
	cr_assert_eq(
	    sample(t, "ron_monitor_replacements_total{service=\"svc-index\",reason=\"lost\"}"), 0);
	/* 150 us is in le=0.00025 and above; 500 ms in le=0.5 and above. */
	const char *b = "ron_health_check_duration_seconds_bucket{service=\"svc-index\",le=";
	char name[200];
	static const struct {
		const char *le;
		double want;
	} want[] = {{"0.0001", 0}, {"0.00025", 1}, {"0.25", 1}, {"0.5", 2}, {"1", 2}, {"+Inf", 2}};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		snprintf(name, sizeof(name), "%s\"%s\"}", b, want[i].le);
		cr_assert_eq(sample(t, name), want[i].want, "%s", name);
	}
	cr_assert_eq(sample(t, "ron_health_check_duration_seconds_count{service=\"svc-index\"}"),
		     2);
	cr_assert_float_eq(
	    sample(t, "ron_health_check_duration_seconds_sum{service=\"svc-index\"}"), 0.50015,
	    1e-9);
	cr_assert_float_eq(sample(t, "ron_kernel_start_time_seconds"), 1700000000.0, 1e-3);
	free(t);
	kernel_metrics_free(&m);
}

/* Passing checks come in reports that say how many they stand for. */
Test(metrics, passing_checks_counted_as_the_monitor_says)
{
	struct kernel_metrics m;
	struct kernel_svc s[1];
	static const char *const names[] = {"svc-index"};
	table(s, names, 1);
	cr_assert_eq(kernel_metrics_init(&m, 0), 0);
	struct km_svc *c = kernel_metrics_of(&m, "svc-index", 0);
	struct report r = check("svc-index", ST_HEALTHY, true, 200, "");
	r.passed = 2; /* this one and a quiet one before it */
	kernel_metrics_report(c, &r);
	r = check("svc-index", ST_DEGRADED, false, 500000, "timeout after 500 ms");
	r.passed = 1; /* a quiet pass, then this failure */
	kernel_metrics_report(c, &r);
	r = check("svc-index", ST_HEALTHY, true, -1, "");
	r.passed = 0; /* a heartbeat after nothing */
	kernel_metrics_report(c, &r);
	cr_assert_eq(c->checks[KM_OK], 3);
	cr_assert_eq(c->checks[KM_TIMEOUT], 1);
	/* One round trip per report that carries one. */
	cr_assert_eq(c->observed, 2);
	cr_assert_eq(c->sum_us, 500200);
	kernel_metrics_free(&m);
}

/* A reload drops and adds rows: counters follow the name, not the row. */
Test(metrics, counters_follow_the_service_not_the_row)
{
	struct kernel_metrics m;
	struct kernel_svc a[2], b[2];
	static const char *const before[] = {"svc-a", "svc-b"}, *const after[] = {"svc-b", "svc-c"};
	table(a, before, 2);
	table(b, after, 2);
	cr_assert_eq(kernel_metrics_init(&m, 0), 0);
	struct report r = check("svc-b", ST_HEALTHY, true, 100, "");
	r.restarts = 7;
	kernel_metrics_report(kernel_metrics_of(&m, "svc-b", 1), &r);
	char *t = kernel_metrics_render(&m, a, 2, 1000000, 1700000000000);
	cr_assert_eq(sample(t, "ron_service_restarts_total{service=\"svc-b\"}"), 7);
	free(t);
	t = kernel_metrics_render(&m, b, 2, 1000000, 1700000000000);
	cr_assert_eq(sample(t, "ron_service_restarts_total{service=\"svc-b\"}"), 7, "%s", t);
	cr_assert_eq(sample(t, "ron_service_restarts_total{service=\"svc-c\"}"), 0);
	cr_assert_eq(sample(t, "ron_service_restarts_total{service=\"svc-a\"}"), -1,
		     "a service no longer in the table is not shown");
	free(t);
	/* Many services: the counters' table grows without losing any. */
	for (int i = 0; i < 100; i++) {
		char name[32];
		snprintf(name, sizeof(name), "svc-%d", i);
		kernel_metrics_replaced(kernel_metrics_of(&m, name, i), KM_LOST);
	}
	cr_assert_eq(kernel_metrics_of(&m, "svc-b", 0)->restarts, 7);
	cr_assert_eq(kernel_metrics_of(&m, "svc-42", 0)->replaced[KM_LOST], 1);
	kernel_metrics_free(&m);
}

Test(metrics, every_metric_has_help_and_type)
{
	struct kernel_metrics m;
	struct kernel_svc s[2];
	static const char *const names[] = {"svc-index", "odd\"name\\x"};
	table(s, names, 2);
	s[0].state = ST_HEALTHY;
	cr_assert_eq(kernel_metrics_init(&m, 0), 0);
	char *t = kernel_metrics_render(&m, s, 2, 1000000, 1700000000000);
	static const char *const families[] = {
	    "ron_service_up gauge",
	    "ron_service_state gauge",
	    "ron_service_restarts_total counter",
	    "ron_service_start_time_seconds gauge",
	    "ron_health_checks_total counter",
	    "ron_health_check_duration_seconds histogram",
	    "ron_monitor_replacements_total counter",
	    "ron_service_quarantined gauge",
	    "ron_output_dropped_lines_total counter",
	    "ron_kernel_start_time_seconds gauge",
	    "ron_build_info gauge",
	};
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		char type[128], help[128];
		snprintf(type, sizeof(type), "# TYPE %s\n", families[i]);
		snprintf(help, sizeof(help), "# HELP %.*s ", (int)strcspn(families[i], " "),
			 families[i]);
		cr_assert(strstr(t, type), "no %s", type);
		cr_assert(strstr(t, help), "no %s", help);
	}
	cr_assert_eq(sample(t, "ron_service_up{service=\"svc-index\"}"), 1);
	cr_assert_eq(sample(t, "ron_service_state{service=\"svc-index\",state=\"healthy\"}"), 1);
	cr_assert_eq(sample(t, "ron_service_state{service=\"svc-index\",state=\"starting\"}"), 0);
	/* A quote and a backslash in a label value are escaped. */
	cr_assert_eq(sample(t, "ron_service_up{service=\"odd\\\"name\\\\x\"}"), 0, "%s", t);
	free(t);
	kernel_metrics_free(&m);
}

/* promtool check metrics on text: its exit status, its complaints in out. */
static int promtool(const char *text, char *out, size_t outlen)
{
	const char *path = tl_path("metrics.prom");
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs(text, f);
	fclose(f);
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	FILE *p = popen(cmd, "r");
	cr_assert(p);
	size_t n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	return pclose(p);
}

Test(metrics, promtool_accepts_the_exposition)
{
	if (!tl_have_command("promtool"))
		cr_skip_test("promtool is not installed (Debian package prometheus; "
			     "scripts/install-deps installs it): the exposition was NOT checked");
	struct kernel_metrics m;
	struct kernel_svc s[3];
	static const char *const names[] = {"svc-index", "svc-overlay", "svc-storage"};
	table(s, names, 3);
	cr_assert_eq(kernel_metrics_init(&m, 1700000000000), 0);
	struct report r = check("svc-index", ST_HEALTHY, true, 300, "");
	kernel_metrics_report(kernel_metrics_of(&m, "svc-index", 0), &r);
	char *t = kernel_metrics_render(&m, s, 3, 1000000, 1700000000000);
	char out[8192];
	int st = promtool(t, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "promtool check metrics:\n%s", out);
	cr_assert_eq(out[0], '\0', "promtool has remarks:\n%s", out);
	free(t);
	kernel_metrics_free(&m);
}

Test(metrics, feed_round_trip_byte_by_byte)
{
	char *buf;
	size_t len;
	const char *const body[FEED_NBODY] = {"1/3 healthy\n", "not ready: 1/3 healthy\n",
					      "{\"v\":1}", "ron_build_info 1\n", "<p>page</p>"};
	cr_assert_eq(feed_encode(503, body, &buf, &len), 0);
	struct feed_reader r;
	struct feed_snap s;
	char why[128];
	feed_reader_init(&r);
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < len; i++) {
			cr_assert_eq(feed_reader_next(&r, &s, why, sizeof(why)), 0);
			cr_assert_eq(feed_reader_add(&r, buf + i, 1), 0);
		}
		cr_assert_eq(feed_reader_next(&r, &s, why, sizeof(why)), 1);
		cr_assert_eq(s.code, 503);
		cr_assert_str_eq(s.body[FEED_HEALTHZ], "1/3 healthy\n");
		cr_assert_str_eq(s.body[FEED_READYZ], "not ready: 1/3 healthy\n");
		cr_assert_str_eq(s.body[FEED_PAGE], "<p>page</p>");
		cr_assert_str_eq(s.body[FEED_STATUS], "{\"v\":1}");
		cr_assert_str_eq(s.body[FEED_METRICS], "ron_build_info 1\n");
		cr_assert_eq(s.len[FEED_METRICS], strlen("ron_build_info 1\n"));
		feed_snap_free(&s);
	}
	/* Two at once: both come out, in order. */
	cr_assert_eq(feed_reader_add(&r, buf, len), 0);
	cr_assert_eq(feed_reader_add(&r, buf, len), 0);
	cr_assert_eq(feed_reader_next(&r, &s, why, sizeof(why)), 1);
	feed_snap_free(&s);
	cr_assert_eq(feed_reader_next(&r, &s, why, sizeof(why)), 1);
	feed_snap_free(&s);
	cr_assert_eq(feed_reader_next(&r, &s, why, sizeof(why)), 0);
	/* A beat between two snapshots, split across reads, comes out as a beat. */
	cr_assert_eq(feed_reader_add(&r, FEED_BEAT, 5), 0);
	cr_assert_eq(feed_reader_next(&r, &s, why, sizeof(why)), 0);
	cr_assert_eq(feed_reader_add(&r, FEED_BEAT + 5, strlen(FEED_BEAT) - 5), 0);
	cr_assert_eq(feed_reader_add(&r, buf, len), 0);
	cr_assert_eq(feed_reader_next(&r, &s, why, sizeof(why)), 2);
	cr_assert_eq(feed_reader_next(&r, &s, why, sizeof(why)), 1);
	cr_assert_str_eq(s.body[FEED_STATUS], "{\"v\":1}");
	feed_snap_free(&s);
	cr_assert_eq(r.len, 0);
	feed_reader_free(&r);
	free(buf);
}

Test(metrics, feed_refuses_what_is_no_feed)
{
	static const struct {
		const char *in, *why;
	} bad[] = {
	    {"GET / HTTP/1.1\r\n", "does not start"},
	    {"ronfeed 1 200 0 0 0\n", "does not start"},
	    {"ronfeed 2 99 0 0 0 0 0\n", "status code"},
	    {"ronfeed 2 beats\n", "status code"},
	    {"ronfeed 2 200 0 0 0 0\n", "body length 4"},
	    {"ronfeed 2 200 0 x 0 0 0\n", "body length 2"},
	    {"ronfeed 2 200 0 0 0 0 99999999999\n", "body length 5"},
	    {"ronfeed 2 200 0 0 0 0 67108865\n", "body length 5"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct feed_reader r;
		struct feed_snap s;
		char why[128] = "";
		feed_reader_init(&r);
		cr_assert_eq(feed_reader_add(&r, bad[i].in, strlen(bad[i].in)), 0);
		cr_assert_eq(feed_reader_next(&r, &s, why, sizeof(why)), -1, "%s", bad[i].in);
		cr_assert(strstr(why, bad[i].why), "%s: %s", bad[i].in, why);
		feed_reader_free(&r);
	}
	/* No newline within the header's bound. */
	struct feed_reader r;
	struct feed_snap s;
	char why[128], junk[200];
	memset(junk, 'a', sizeof(junk));
	feed_reader_init(&r);
	cr_assert_eq(feed_reader_add(&r, junk, sizeof(junk)), 0);
	cr_assert_eq(feed_reader_next(&r, &s, why, sizeof(why)), -1);
	cr_assert(strstr(why, "no header line"), "%s", why);
	feed_reader_free(&r);
}

Test(metrics, http_addresses)
{
	static const struct {
		const char *in;
		bool loopback;
		const char *shown;
	} good[] = {
	    {"127.0.0.1:9464", true, "127.0.0.1:9464"},	 {"localhost:0", true, "127.0.0.1:0"},
	    {"127.1.2.3:80", true, "127.1.2.3:80"},	 {"[::1]:9464", true, "[::1]:9464"},
	    {"0.0.0.0:9464", false, "0.0.0.0:9464"},	 {"[::]:1", false, "[::]:1"},
	    {"10.0.0.5:65535", false, "10.0.0.5:65535"},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct httpaddr a;
		char why[128], shown[80];
		cr_assert_eq(httpaddr_parse(good[i].in, &a, why, sizeof(why)), 0, "%s: %s",
			     good[i].in, why);
		cr_assert_eq(a.loopback, good[i].loopback, "%s", good[i].in);
		httpaddr_format(&a, shown, sizeof(shown));
		cr_assert_str_eq(shown, good[i].shown);
	}
	static const struct {
		const char *in, *why;
	} bad[] = {
	    {"", "expected HOST:PORT"},
	    {"127.0.0.1", "expected HOST:PORT"},
	    {"127.0.0.1:", "no port"},
	    {"127.0.0.1:65536", "out of range"},
	    {"127.0.0.1:9x", "not a number"},
	    {"127.0.0.1:-1", "not a number"},
	    {"example.com:80", "not a numeric IPv4"},
	    {"::1:80", "in brackets"},
	    {"[::1]80", "expected [IPV6]:PORT"},
	    {"[127.0.0.1]:80", "not a numeric IPv4"},
	    {":80", "(empty)"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct httpaddr a;
		char why[128] = "";
		cr_assert_eq(httpaddr_parse(bad[i].in, &a, why, sizeof(why)), -1, "%s", bad[i].in);
		cr_assert(strstr(why, bad[i].why), "%s: %s", bad[i].in, why);
	}
}
