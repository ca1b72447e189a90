/* Unit tests of ron-kernel's pure logic: the pipe line splitter, the status table,
 * monitor restart delays and silence, and the text and JSON lines. */
#include <json.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../kernel/kernel.h"
#include "clock.h"

TestSuite(kernel_logic, .timeout = 30);

struct got {
	char lines[8][2048];
	bool overlong[8];
	int n;
};

static void collect(void *arg, const char *line, size_t len, bool overlong)
{
	struct got *g = arg;
	cr_assert_lt(g->n, 8);
	memcpy(g->lines[g->n], line, len < 2047 ? len : 2047);
	g->lines[g->n][len < 2047 ? len : 2047] = '\0';
	g->overlong[g->n++] = overlong;
}

Test(kernel_logic, lines_join_partial_reads)
{
	struct kernel_lines lb;
	struct got g = {0};
	kernel_lines_init(&lb);
	kernel_lines_feed(&lb, "ab", 2, collect, &g);
	cr_assert_eq(g.n, 0);
	kernel_lines_feed(&lb, "c\nde\n\nf", 7, collect, &g);
	cr_assert_eq(g.n, 3);
	cr_assert_str_eq(g.lines[0], "abc");
	cr_assert_str_eq(g.lines[1], "de");
	cr_assert_str_eq(g.lines[2], "");
	cr_assert_not_null(lb.buf, "a cut line waits in a buffer");
	kernel_lines_feed(&lb, "g\n", 2, collect, &g);
	cr_assert_eq(g.n, 4);
	cr_assert_str_eq(g.lines[3], "fg");
	/* Whole lines need no buffer: an idle monitor's costs nothing. */
	cr_assert_null(lb.buf);
	kernel_lines_feed(&lb, "h\ni\n", 4, collect, &g);
	cr_assert_eq(g.n, 6);
	cr_assert_null(lb.buf);
}

Test(kernel_logic, lines_drop_overlong_whole)
{
	struct kernel_lines lb;
	struct got g = {0};
	static char big[5000];
	memset(big, 'x', sizeof(big));
	kernel_lines_init(&lb);
	/* Over several reads, with the newline only in the last one. */
	kernel_lines_feed(&lb, big, 800, collect, &g);
	kernel_lines_feed(&lb, big, 800, collect, &g);
	cr_assert_eq(g.n, 1);
	cr_assert(g.overlong[0]);
	kernel_lines_feed(&lb, big, 3000, collect, &g);
	kernel_lines_feed(&lb, "xx\nok\n", 6, collect, &g);
	cr_assert_eq(g.n, 2, "the tail of an overlong line is not a line of its own");
	cr_assert_str_eq(g.lines[1], "ok");
	cr_assert_not(g.overlong[1]);
}

Test(kernel_logic, restart_delay_immediate_then_doubling)
{
	unsigned streak = 0;
	/* A monitor that lived long is replaced at once. */
	cr_assert_eq(kernel_mon_restart_delay_ms(&streak, 5000, 1000, 100, 1000), 0);
	/* Dying young again: 100, 200, 400, 800, capped at 1000. */
	cr_assert_eq(kernel_mon_restart_delay_ms(&streak, 10, 1000, 100, 1000), 100);
	cr_assert_eq(kernel_mon_restart_delay_ms(&streak, 10, 1000, 100, 1000), 200);
	cr_assert_eq(kernel_mon_restart_delay_ms(&streak, 10, 1000, 100, 1000), 400);
	cr_assert_eq(kernel_mon_restart_delay_ms(&streak, 10, 1000, 100, 1000), 800);
	cr_assert_eq(kernel_mon_restart_delay_ms(&streak, 10, 1000, 100, 1000), 1000);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(kernel_mon_restart_delay_ms(&streak, 10, 1000, 100, 1000), 1000);
	/* A stable one resets the streak. */
	cr_assert_eq(kernel_mon_restart_delay_ms(&streak, 1000, 1000, 100, 1000), 0);
	cr_assert_eq(kernel_mon_restart_delay_ms(&streak, 10, 1000, 100, 1000), 100);
}

/* A healthy service's monitor reports every REPORT_EVERY_CHECKS checks: the limit
 * leaves two intervals and a timeout beyond that. */
Test(kernel_logic, silence_is_report_every_checks_plus_two_intervals_and_a_timeout)
{
	int64_t limit = ((REPORT_EVERY_CHECKS + 2) * 1000 + 500) * 1000;
	cr_assert_eq(kernel_mon_silence_limit_us(1000, 500), limit);
	cr_assert_not(kernel_mon_silent(0, limit, 1000, 500));
	cr_assert(kernel_mon_silent(0, limit + 1, 1000, 500));
}

static struct report rep(const char *svc, enum report_event ev, enum svc_state st, pid_t pid)
{
	struct report r;
	report_init(&r, svc);
	r.event = ev;
	r.state = st;
	r.pid = pid;
	r.start = pid ? 777 : 0;
	r.mono_us = 10000000; /* written when the tests below read it */
	return r;
}

/* A heartbeat waits in its pipe until the status tick: its uptime is as of when the
 * monitor wrote it, not when we read it. */
Test(kernel_logic, uptime_counts_from_the_report_not_from_its_reading)
{
	struct kernel_svc s;
	kernel_svc_init(&s, "svc-index", NULL);
	struct report r = rep("svc-index", EV_CHECK, ST_HEALTHY, 42);
	r.uptime_ms = 1000;
	r.mono_us = 5000000;
	kernel_svc_apply(&s, &r, 15000000); /* read 10 s late */
	cr_assert_eq(kernel_svc_uptime_ms(&s, 15000000), 11000);
	/* A wild time (reports are outside input) counts from the reading. */
	r.mono_us = 99000000000LL;
	kernel_svc_apply(&s, &r, 15000000);
	cr_assert_eq(kernel_svc_uptime_ms(&s, 15000000), 1000);
}

Test(kernel_logic, table_reports_changes)
{
	struct kernel_svc s;
	kernel_svc_init(&s, "svc-index", NULL);
	struct report r = rep("svc-index", EV_SPAWNED, ST_STARTING, 42);
	r.uptime_ms = 5;
	unsigned ch = kernel_svc_apply(&s, &r, 10000000);
	cr_assert(ch & KCH_STATE);
	cr_assert(ch & KCH_PID);
	cr_assert_eq(s.pid, 42);
	cr_assert_eq(kernel_svc_uptime_ms(&s, 11000000), 1005);

	r = rep("svc-index", EV_READY, ST_HEALTHY, 42);
	r.rtt_us = 321;
	ch = kernel_svc_apply(&s, &r, 10000000);
	cr_assert_eq(ch, KCH_STATE | KCH_FIRST_HEALTHY);
	cr_assert_eq(s.rtt_us, 321);

	/* A check without a round trip keeps the last one. */
	r = rep("svc-index", EV_CHECK, ST_HEALTHY, 42);
	ch = kernel_svc_apply(&s, &r, 10000000);
	cr_assert_eq(ch, 0);
	cr_assert_eq(s.rtt_us, 321);

	r = rep("svc-index", EV_EXITED, ST_BACKOFF, 0);
	ch = kernel_svc_apply(&s, &r, 10000000);
	cr_assert_eq(ch, KCH_STATE | KCH_PID);
	cr_assert_eq(kernel_svc_uptime_ms(&s, 11000000), 0);

	r = rep("svc-index", EV_READY, ST_HEALTHY, 43);
	ch = kernel_svc_apply(&s, &r, 10000000);
	cr_assert_not(ch & KCH_FIRST_HEALTHY, "only the first healthy counts for READY=1");
}

Test(kernel_logic, summary_names_the_unhealthy)
{
	struct kernel_svc s[3];
	kernel_svc_init(&s[0], "svc-index", NULL);
	kernel_svc_init(&s[1], "svc-overlay", NULL);
	kernel_svc_init(&s[2], "svc-storage", NULL);
	s[0].state = s[2].state = ST_HEALTHY;
	s[1].state = ST_QUARANTINED;
	s[1].reported = true;
	char buf[256];
	kernel_summary(s, 3, buf, sizeof(buf));
	cr_assert_str_eq(buf, "2/3 healthy; svc-overlay quarantined");
	cr_assert_not(kernel_all_healthy(s, 3));
	s[1].state = ST_HEALTHY;
	kernel_summary(s, 3, buf, sizeof(buf));
	cr_assert_str_eq(buf, "3/3 healthy");
	cr_assert(kernel_all_healthy(s, 3));
}

Test(kernel_logic, text_values_quoted_when_needed)
{
	char buf[128];
	kernel_fmt_text_value("plain", buf, sizeof(buf));
	cr_assert_str_eq(buf, "plain");
	kernel_fmt_text_value("", buf, sizeof(buf));
	cr_assert_str_eq(buf, "\"\"");
	kernel_fmt_text_value("a b=\"c\"\\\n", buf, sizeof(buf));
	cr_assert_str_eq(buf, "\"a b=\\\"c\\\"\\\\\\n\"");
	/* Truncation still closes the quote. */
	kernel_fmt_text_value("a b c d e f g h", buf, 8);
	cr_assert_eq(buf[strlen(buf) - 1], '"');
}

Test(kernel_logic, text_line_shape)
{
	char buf[512];
	struct kernel_field f[] = {KF_STR("service", "svc-index"), KF_NUM("pid", 42),
				   KF_STR("reason", "spawn failed: x")};
	/* 2026-11-27T01:23:19.123Z */
	int n = kernel_fmt_line(false, 1795742599123LL, KL_WARN, "exited", f, 3, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert_str_eq(buf, "2026-11-27T01:23:19.123Z warn event=exited service=svc-index pid=42 "
			      "reason=\"spawn failed: x\"\n");
	/* Too small a buffer still gives one whole line. */
	n = kernel_fmt_line(false, 0, KL_INFO, "exited", f, 3, buf, 20);
	cr_assert_eq(n, 19);
	cr_assert_eq(buf[18], '\n');
}

Test(kernel_logic, json_line_parses_with_same_fields)
{
	char buf[512];
	struct kernel_field f[] = {KF_STR("service", "svc-index"), KF_NUM("pid", 42)};
	kernel_fmt_line(true, 1795742599123LL, KL_INFO, "ready", f, 2, buf, sizeof(buf));
	cr_assert_eq(buf[strlen(buf) - 1], '\n');
	json_object *o = json_tokener_parse(buf);
	cr_assert(o, "not JSON: %s", buf);
	json_object *v;
	cr_assert(json_object_object_get_ex(o, "ts", &v));
	cr_assert_str_eq(json_object_get_string(v), "2026-11-27T01:23:19.123Z");
	cr_assert(json_object_object_get_ex(o, "level", &v));
	cr_assert_str_eq(json_object_get_string(v), "info");
	cr_assert(json_object_object_get_ex(o, "pid", &v));
	cr_assert_eq(json_object_get_int(v), 42);
	json_object_put(o);
}

Test(kernel_logic, report_lines)
{
	char buf[1024];
	struct report r = rep("svc-storage", EV_EXITED, ST_BACKOFF, 99);
	r.signal = 9;
	r.uptime_ms = 1500;
	r.mpid = 7;
	cr_assert_gt(kernel_fmt_report(false, 0, &r, buf, sizeof(buf)), 0);
	cr_assert(strstr(buf, " warn event=exited service=svc-storage state=backoff pid=99 "
			      "signal=SIGKILL uptime_ms=1500 mpid=7"),
		  "%s", buf);
	r = rep("svc-storage", EV_CHECK, ST_HEALTHY, 99);
	cr_assert_eq(kernel_fmt_report(false, 0, &r, buf, sizeof(buf)), 0,
		     "a passing check prints nothing");
	r = rep("svc-storage", EV_SPAWN_FAILED, ST_BACKOFF, 0);
	snprintf(r.reason, sizeof(r.reason),
		 "spawn failed: svc-storage: No such file or directory");
	kernel_fmt_report(false, 0, &r, buf, sizeof(buf));
	cr_assert(strstr(buf, " error event=spawn_failed "), "%s", buf);
	cr_assert(strstr(buf, "reason=\"spawn failed: svc-storage: No such file or directory\""));
}

Test(kernel_logic, status_line_names_every_service)
{
	struct kernel_svc s[3];
	const char *names[] = {"svc-index", "svc-overlay", "svc-storage"};
	for (int i = 0; i < 3; i++) {
		kernel_svc_init(&s[i], names[i], NULL);
		s[i].state = ST_HEALTHY;
		s[i].pid = 100 + i;
		s[i].since_us = 0;
		s[i].rtt_us = 250;
	}
	char buf[KERNEL_LINE_MAX];
	kernel_fmt_status(false, 0, s, 3, 16, 2000000, buf, sizeof(buf));
	for (int i = 0; i < 3; i++) {
		char want[128];
		snprintf(want, sizeof(want),
			 "%s.state=healthy %s.pid=%d %s.uptime_ms=2000 %s.restarts=0 %s.rtt_us=250",
			 names[i], names[i], 100 + i, names[i], names[i], names[i]);
		cr_assert(strstr(buf, want), "%s not in %s", want, buf);
	}
	kernel_fmt_status(true, 0, s, 3, 16, 2000000, buf, sizeof(buf));
	json_object *o = json_tokener_parse(buf), *a;
	cr_assert(o);
	cr_assert(json_object_object_get_ex(o, "services", &a));
	cr_assert_eq(json_object_array_length(a), 3);
	json_object_put(o);
}

Test(kernel_logic, status_line_omits_a_round_trip_not_measured)
{
	struct kernel_svc s[3];
	const char *names[] = {"heartbeat", "fresh", "checked"};
	const int64_t rtt[] = {-1, 0, 250};
	for (int i = 0; i < 3; i++) {
		kernel_svc_init(&s[i], names[i], NULL);
		s[i].state = ST_STARTING;
		s[i].rtt_us = rtt[i];
	}
	char buf[KERNEL_LINE_MAX];
	kernel_fmt_status(false, 0, s, 3, 16, 2000000, buf, sizeof(buf));
	cr_assert_null(strstr(buf, "heartbeat.rtt_us"), "%s", buf);
	cr_assert_null(strstr(buf, "fresh.rtt_us"), "%s", buf);
	cr_assert(strstr(buf, "checked.rtt_us=250"), "%s", buf);
	kernel_fmt_status(true, 0, s, 3, 16, 2000000, buf, sizeof(buf));
	json_object *o = json_tokener_parse(buf), *a, *v;
	cr_assert(o && json_object_object_get_ex(o, "services", &a), "%s", buf);
	cr_assert_not(json_object_object_get_ex(json_object_array_get_idx(a, 0), "rtt_us", &v));
	cr_assert_not(json_object_object_get_ex(json_object_array_get_idx(a, 1), "rtt_us", &v));
	cr_assert(json_object_object_get_ex(json_object_array_get_idx(a, 2), "rtt_us", &v));
	json_object_put(o);
}

Test(kernel_logic, suggest_the_closest_command_or_flag)
{
	bool flag;
	cr_assert_str_eq(kernel_suggest("stauts", &flag), "status");
	cr_assert_not(flag);
	cr_assert_str_eq(kernel_suggest("restrat", &flag), "restart");
	cr_assert_str_eq(kernel_suggest("--chek", &flag), "check");
	cr_assert(flag);
	cr_assert_str_eq(kernel_suggest("--status-intervl-ms=9", &flag), "status-interval-ms");
	cr_assert_null(kernel_suggest("frobnicate", &flag));
	cr_assert_null(kernel_suggest("-x", &flag));
}

Test(kernel_logic, dirname)
{
	char buf[64];
	kernel_dirname("/a/b/c.sock", buf, sizeof(buf));
	cr_assert_str_eq(buf, "/a/b");
	kernel_dirname("/c.sock", buf, sizeof(buf));
	cr_assert_str_eq(buf, "/");
	kernel_dirname("c.sock", buf, sizeof(buf));
	cr_assert_str_eq(buf, ".");
}

/* The output queue: whole lines out, in order across the ring's end; drops
 * counted by kind; once dropping, nothing more until half the queue is free. */
Test(kernel_logic, outq_ring_and_drops)
{
	struct kernel_outq q;
	char chunk[64];
	cr_assert_eq(kernel_outq_init(&q, 40), 0);
	cr_assert(kernel_outq_push(&q, KOUT_EVENT, "aaaaaaaaa\n", 10));
	cr_assert(kernel_outq_push(&q, KOUT_EVENT, "bbbbbbbbb\n", 10));
	cr_assert(kernel_outq_push(&q, KOUT_STATUS, "ccccccccc\n", 10));
	/* Whole lines only: 25 bytes asked, 20 given. */
	cr_assert_eq(kernel_outq_peek(&q, chunk, 25), 20);
	cr_assert_eq(memcmp(chunk, "aaaaaaaaa\nbbbbbbbbb\n", 20), 0);
	kernel_outq_consume(&q, 20);
	/* Wraps around the end of the ring. */
	cr_assert(kernel_outq_push(&q, KOUT_EVENT, "ddddddddddddddd\n", 16));
	cr_assert(kernel_outq_push(&q, KOUT_EVENT, "eeeeeeeeeeeee\n", 14));
	cr_assert_eq(q.len, 40);
	cr_assert_eq(kernel_outq_peek(&q, chunk, sizeof(chunk)), 40);
	cr_assert_eq(memcmp(chunk, "ccccccccc\nddddddddddddddd\neeeeeeeeeeeee\n", 40), 0);

	/* Full: dropped and counted by kind. */
	cr_assert_not(kernel_outq_push(&q, KOUT_STATUS, "f\n", 2));
	cr_assert_not(kernel_outq_push(&q, KOUT_EVENT, "g\n", 2));
	cr_assert_eq(q.dropped[KOUT_STATUS], 1);
	cr_assert_eq(q.dropped[KOUT_EVENT], 1);
	cr_assert_eq(q.dropped_total, 2);
	cr_assert(q.drop_since_ms > 0);
	cr_assert_not(kernel_outq_drops_pending(&q));
	/* Room for a line, but not half the queue free: still dropping. */
	kernel_outq_consume(&q, 10);
	cr_assert_not(kernel_outq_push(&q, KOUT_EVENT, "h\n", 2));
	cr_assert_eq(q.dropped_total, 3);
	kernel_outq_consume(&q, 16);
	cr_assert(kernel_outq_drops_pending(&q));
	kernel_outq_drops_taken(&q);
	cr_assert_eq(q.dropped[KOUT_EVENT] + q.dropped[KOUT_STATUS], 0);
	cr_assert_eq(q.dropped_total, 3, "the total since start stays");
	cr_assert(kernel_outq_push(&q, KOUT_EVENT, "i\n", 2));
	cr_assert_eq(kernel_outq_peek(&q, chunk, sizeof(chunk)), 16);
	cr_assert_eq(memcmp(chunk, "eeeeeeeeeeeee\ni\n", 16), 0);
	kernel_outq_free(&q);
}

/* A line longer than the chunk is written in pieces rather than never. */
Test(kernel_logic, outq_long_line_in_pieces)
{
	struct kernel_outq q;
	char chunk[8];
	cr_assert_eq(kernel_outq_init(&q, 64), 0);
	cr_assert(kernel_outq_push(&q, KOUT_EVENT, "0123456789abcdef\n", 17));
	cr_assert_eq(kernel_outq_peek(&q, chunk, sizeof(chunk)), 8);
	cr_assert_eq(memcmp(chunk, "01234567", 8), 0);
	kernel_outq_free(&q);
}

/* The kernel's own pause: lateness is measured past the sleep it allowed itself. */
Test(kernel_logic, loop_lateness_and_pause)
{
	cr_assert_eq(clock_lateness(1000, 5000, 4000), 0, "woken early");
	cr_assert_eq(clock_lateness(1000, 5000, 5200), 200);
	cr_assert_eq(clock_lateness(1000, -1, 1300), 300, "no sleep allowed");
	cr_assert_eq(clock_lateness(1000, 500, 1300), 300, "a deadline already past");
	/* Half of the silence limit is a pause. */
	int64_t limit = kernel_mon_silence_limit_us(300, 200);
	cr_assert_eq(limit, ((REPORT_EVERY_CHECKS + 2) * 300 + 200) * 1000);
	cr_assert_not(kernel_loop_paused(limit / 2, limit));
	cr_assert(kernel_loop_paused(limit / 2 + 1, limit));
	cr_assert(kernel_loop_paused(10000000, limit));
}

static void three(struct kernel_svc *s)
{
	const char *names[] = {"svc-index", "svc-overlay", "svc-storage"};
	for (int i = 0; i < 3; i++) {
		kernel_svc_init(&s[i], names[i], NULL);
		s[i].reported = true;
		s[i].state = ST_HEALTHY;
		s[i].pid = 100 + i;
		s[i].rtt_us = 250;
	}
	s[2].state = ST_BACKOFF;
	s[2].pid = 0;
	s[2].restarts = 2;
}

/* For a person: the summary, then "name state uptime" per service, restarts once
 * there are any; no key=value. */
Test(kernel_logic, compact_status_line_is_one_short_group_per_service)
{
	struct kernel_svc s[3];
	three(s);
	char buf[KERNEL_LINE_MAX];
	kernel_fmt_status_line(CFG_STLINE_COMPACT, false, false, 0, s, 3, 16, 192000000, buf,
			       sizeof(buf));
	cr_assert_str_eq(buf, "1970-01-01T00:00:00.000Z warn event=status 2/3 healthy"
			      " | svc-index healthy 3m12s | svc-overlay healthy 3m12s"
			      " | svc-storage backoff restarts 2\n");
	/* Past status_detail the healthy ones are counted, not named. */
	kernel_fmt_status_line(CFG_STLINE_COMPACT, false, false, 0, s, 3, 1, 192000000, buf,
			       sizeof(buf));
	cr_assert(strstr(buf, "2/3 healthy | svc-storage backoff restarts 2 | 2 more healthy\n"),
		  "%s", buf);
	/* Coloured on a colour terminal, the state word only. */
	kernel_fmt_status_line(CFG_STLINE_COMPACT, false, true, 0, s, 3, 16, 192000000, buf,
			       sizeof(buf));
	cr_assert(strstr(buf, " | svc-index \033[32mhealthy\033[0m 3m12s"), "%s", buf);
	/* JSON is for machines: compact is the full object there. */
	kernel_fmt_status_line(CFG_STLINE_COMPACT, true, false, 0, s, 3, 16, 192000000, buf,
			       sizeof(buf));
	json_object *o = json_tokener_parse(buf), *a;
	cr_assert(o && json_object_object_get_ex(o, "services", &a), "%s", buf);
	json_object_put(o);
}

Test(kernel_logic, summary_status_line_is_the_summary_alone)
{
	struct kernel_svc s[3];
	three(s);
	char buf[KERNEL_LINE_MAX];
	kernel_fmt_status_line(CFG_STLINE_SUMMARY, false, false, 0, s, 3, 16, 1000000, buf,
			       sizeof(buf));
	cr_assert_str_eq(buf, "1970-01-01T00:00:00.000Z warn event=status "
			      "summary=\"2/3 healthy; svc-storage backoff\"\n");
	kernel_fmt_status_line(CFG_STLINE_SUMMARY, true, false, 0, s, 3, 16, 1000000, buf,
			       sizeof(buf));
	json_object *o = json_tokener_parse(buf), *v;
	cr_assert(o, "%s", buf);
	cr_assert_not(json_object_object_get_ex(o, "services", &v), "%s", buf);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(o, "summary")),
			 "2/3 healthy; svc-storage backoff");
	json_object_put(o);
}

/* auto: compact on a terminal with text lines, full on a pipe or with JSON. */
Test(kernel_logic, status_line_auto_is_compact_only_on_a_text_terminal)
{
	static struct kernel k;
	config_defaults(&k.cfg);
	const struct {
		bool tty, json;
		enum cfg_status_line want;
	} c[] = {{true, false, CFG_STLINE_COMPACT},
		 {false, false, CFG_STLINE_FULL},
		 {true, true, CFG_STLINE_FULL}};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		k.tty = c[i].tty;
		k.json = c[i].json;
		cr_assert_eq(kernel_status_line_mode(&k), c[i].want, "case %zu", i);
	}
	char why[CFG_ERR_MAX];
	cr_assert_eq(config_set(&k.cfg, CFG_STATUS_LINE, "off", CFG_SRC_ENV, why, sizeof(why)), 0,
		     "%s", why);
	k.tty = true;
	k.json = false;
	cr_assert_eq(kernel_status_line_mode(&k), CFG_STLINE_OFF);
}

/* The status page as the kernel renders it: what came from a service (its reason
 * here, markup and quotes) is escaped, so it is text on the page. */
Test(kernel_logic, the_status_page_escapes_what_a_service_says)
{
	static struct kernel k;
	struct kernel_svc s[1];
	kernel_svc_init(&s[0], "a", NULL);
	s[0].reported = true;
	s[0].state = ST_DEGRADED;
	s[0].pid = 42;
	snprintf(s[0].reason, sizeof(s[0].reason), "%s",
		 "<script>alert(\"x\")</script><img src=x onerror='y'>&");
	k.svc = s;
	k.nsvc = 1;
	char *html = kernel_page_render(&k, 5000000);
	cr_assert(html);
	cr_assert(
	    strstr(
		html,
		"<td class=reason><span class=why>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
		"&lt;img src=x onerror=&#39;y&#39;&gt;&amp;</span></td>"),
	    "%s", html);
	cr_assert_null(strstr(html, "<script>alert"), "%s", html);
	cr_assert_null(strstr(html, "<img"), "%s", html);
	/* The state first, as a word and a class; the summary in the title. */
	cr_assert(strstr(html, "<td class=state><span class=\"badge st-degraded\">degraded</span>"),
		  "%s", html);
	cr_assert(strstr(html, "<title>0/1 healthy; a degraded \xc2\xb7 ron-kernel</title>"), "%s",
		  html);
	free(html);
}
