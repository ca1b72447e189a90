/* Every input the fuzz targets found crashing, fed again through the same code
 * (tests/fuzz/harness.h), plus the seed corpora, so the sanitized test run
 * (SANITIZE=1) checks them too.  Findings are described in docs/hardening.md. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <criterion/criterion.h>

#include "fuzz/harness.h"
#include "fuzz/harness_http.h"
#include "testlib.h"

TestSuite(fuzz_regress, .timeout = 60);

/* Finding 1 (fuzz-reports): a report with "uptime_ms": INT64_MAX overflowed
 * now_us - uptime_ms * 1000 in kernel_svc_apply (kernel/table.c), undefined
 * behaviour that aborts a SANITIZE=1 kernel.  Fixed by clamping the uptime. */
static const char finding1[] =
    "{\"v\":1,\"service\":\"svc-storage\",\"event\":\"ready\",\"state\":\"healthy\",\"pid\":"
    "2147483647,\"start\":18446744073709551615,\"restarts\":4294967295,\"uptime_ms\":"
    "9223372036854775807,\"rtt_us\":-9223372036854775808,\"failures\":4294967295,\"code\":"
    "-2147483648,\"signal\":2147483647,\"delay_ms\":-1,\"reason\":\"ready in 1 ms\",\"ok\":"
    "false,\"mpid\":30065,\"ts\":-9223372036854775808,\"mono_us\":9223372036854775807}\n";

Test(fuzz_regress, finding1_huge_uptime_in_a_report)
{
	fuzz_reports_one((const uint8_t *)finding1, sizeof(finding1) - 1);
}

Test(fuzz_regress, finding1_uptime_is_clamped_both_ways)
{
	const int64_t now = 5000000000; /* 5000 s of monotonic time */
	const int64_t uptimes[] = {INT64_MAX, INT64_MIN, -1, 4999999, 5000000, 5000001};
	for (size_t i = 0; i < sizeof(uptimes) / sizeof(uptimes[0]); i++) {
		struct kernel_svc s;
		struct report r;
		kernel_svc_init(&s, "svc-index", NULL);
		report_init(&r, "svc-index");
		r.pid = 42;
		r.state = ST_HEALTHY;
		r.uptime_ms = uptimes[i];
		kernel_svc_apply(&s, &r, now);
		int64_t up = kernel_svc_uptime_ms(&s, now);
		cr_assert(up >= 0 && up <= now / 1000, "uptime %lld ms from %lld", (long long)up,
			  (long long)uptimes[i]);
		if (uptimes[i] >= 0 && uptimes[i] <= now / 1000)
			cr_assert_eq(up, uptimes[i]);
	}
}

/* Finding 2 (fuzz-reply): an empty str in an envelope (service "") reached
 * memcpy(out, NULL, 0) in get_str (common/wire.c): msgpack-c gives an empty
 * str a NULL pointer.  Undefined behaviour that aborts a SANITIZE=1 monitor on
 * such a reply.  Fixed by not copying zero bytes (also in decode_variant). */
static const uint8_t finding2[] = {0x00, 0x00, 0x00, 0x20, 0x95, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0,
				   0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0,
				   0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0,
				   0xa0, 0xab, 0x73, 0x76, 0x63, 0x2e, 0x73, 0x74, 0x6f, 0x72, 0x61,
				   0x67, 0x65, 0xa5, 0x76, 0x31, 0x2e, 0x6f, 0x6b, 0x07, 0x90, 0xff,
				   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0b, 0x00, 0x00, 0x00};

Test(fuzz_regress, finding2_empty_strings_in_an_envelope)
{
	cr_assert_eq(fuzz_reply_one(finding2, sizeof(finding2)), 0);
}

Test(fuzz_regress, finding2_empty_service_and_variant_decode)
{
	/* service "" in a healthy reply; then a payload that is the empty variant. */
	const uint8_t fixed[] = {0x95, 0xa0, 0xa5, 'v', '1', '.', 'o', 'k', 0x00, 0x90, 0x99,
				 0xcc, 0xa8, 'H',  'e', 'a', 'l', 't', 'h', 'O',  'k'};
	const uint8_t empty_variant[] = {0x95, 0xa0, 0xa0, 0x00, 0x90, 0x91, 0xcc, 0xa0};
	struct wire_msg m;
	char why[WIRE_WHY_MAX] = "";
	cr_assert_eq(wire_decode(fixed, sizeof(fixed), &m, why, sizeof(why)), 0, "%s", why);
	cr_assert_str_eq(m.service, "");
	cr_assert_eq(wire_check_health_reply(&m, 0, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(wire_decode(empty_variant, sizeof(empty_variant), &m, why, sizeof(why)), 0,
		     "%s", why);
	cr_assert_str_eq(m.variant, "");
	cr_assert_eq(wire_check_health_reply(&m, 0, why, sizeof(why)), -1);
	cr_assert_str_eq(why, "payload is , not HealthOk");
}

/* Finding 3 (fuzz-reply): msgpack-c reserves 24 bytes per element a container
 * header declares before reading any, so this 30-byte body asked for a 61 GB
 * allocation (array32 of 0x97cca648 elements as the payload): natively a failed or
 * untouched reservation, under ASan an abort.  Fixed by wire_scan (common/wire.c),
 * which refuses a body whose containers declare more elements than bytes remain
 * before msgpack-c sees it: the body is truncated. */
static const uint8_t finding3[] = {0x00, 0x00, 0x00, 0x1e, 0x95, 0xab, 0x73, 0xff, 0x63, 0x2e, 0x73,
				   0x74, 0x6f, 0x72, 0x61, 0x67, 0x65, 0xa5, 0x76, 0x31, 0x2e, 0x6f,
				   0x6b, 0x00, 0x90, 0xdd, 0x97, 0xcc, 0xa6, 0x48, 0x65, 0x61, 0x17,
				   0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17,
				   0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x6c, 0x74, 0x68};

Test(fuzz_regress, finding3_huge_declared_array_fails_the_check)
{
	char why[WIRE_WHY_MAX];
	cr_assert_not(fuzz_reply_direct(finding3, sizeof(finding3), why, sizeof(why)));
	cr_assert_str_eq(why, "truncated body: 30 bytes end inside the envelope");
	cr_assert_eq(fuzz_reply_one(finding3, sizeof(finding3)), 0);
}

/* Finding 4 (fuzz-reports): a quarantined report with "delay_ms":
 * 30000795743898976 overflowed now_us + delay_ms * 1000 in kernel_svc_apply
 * (kernel/table.c).  Fixed by the saturating helpers of common/clock.c, and the
 * quarantine cut to a day.  The input is also in the reports corpus, replayed below. */
static const char finding4[] =
    "{\"v\":1,\"service\":\"svc-index\",\"event\":\"quarantined\",\"state\":"
    "\"quarantined\",\"pid\":0,\"restarts\":5,\"delay_ms\":30000795743898976,\"reason\":"
    "\"5 restarts in 60 s\"}\n";

Test(fuzz_regress, finding4_huge_quarantine_delay_in_a_report)
{
	fuzz_reports_one((const uint8_t *)finding4, sizeof(finding4) - 1);
}

/* The seed corpora, wherever the tree is: the first parent of the build directory
 * that holds tests/fuzz/corpus. */
static bool corpus_dir(const char *target, char *out, size_t len)
{
	char dir[PATH_MAX / 2];
	snprintf(dir, sizeof(dir), "%s", RON_BUILD_DIR);
	for (;;) {
		struct stat st;
		snprintf(out, len, "%s/tests/fuzz/corpus/%s", dir, target);
		if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
			return true;
		char *slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			return false;
		*slash = '\0';
	}
}

static int replay(const char *target, void (*one)(const uint8_t *, size_t))
{
	char dir[PATH_MAX], path[PATH_MAX + 256];
	static uint8_t data[1 << 20];
	cr_assert(corpus_dir(target, dir, sizeof(dir)), "no tests/fuzz/corpus/%s above %s", target,
		  RON_BUILD_DIR);
	DIR *d = opendir(dir);
	cr_assert(d, "%s", dir);
	int n = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		cr_assert(f, "%s", path);
		size_t len = fread(data, 1, sizeof(data), f);
		fclose(f);
		one(data, len);
		n++;
	}
	closedir(d);
	return n;
}

static void reply_one(const uint8_t *data, size_t len)
{
	fuzz_reply_one(data, len);
}

Test(fuzz_regress, reply_seed_corpus)
{
	cr_assert_geq(replay("reply", reply_one), 20);
}

Test(fuzz_regress, reports_seed_corpus)
{
	cr_assert_geq(replay("reports", fuzz_reports_one), 20);
}

static void handover_one(const uint8_t *data, size_t len)
{
	fuzz_handover_one(data, len);
}

Test(fuzz_regress, handover_seed_corpus)
{
	cr_assert_geq(replay("handover", handover_one), 10);
}

Test(fuzz_regress, ctlreq_seed_corpus)
{
	cr_assert_geq(replay("ctlreq", fuzz_ctlreq_one), 6);
}

Test(fuzz_regress, feed_seed_corpus)
{
	cr_assert_geq(replay("feed", fuzz_feed_one), 5);
}

Test(fuzz_regress, httpaddr_seed_corpus)
{
	cr_assert_geq(replay("httpaddr", fuzz_httpaddr_one), 10);
}

Test(fuzz_regress, svcout_seed_corpus)
{
	cr_assert_geq(replay("svcout", fuzz_svcout_one), 5);
}

/* The WIRE.md reply vectors are healthy through both paths of the harness. */
Test(fuzz_regress, wire_vectors_are_healthy)
{
	char dir[PATH_MAX], path[PATH_MAX + 64];
	uint8_t data[256];
	cr_assert(corpus_dir("reply", dir, sizeof(dir)));
	const char *names[] = {"reply-index-corr0",	    "reply-overlay-corr0",
			       "reply-storage-corr0",	    "reply-map-envelope-bin",
			       "reply-unit-map-variant",    "reply-trailing-in-frame",
			       "reply-trailing-after-frame"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		ssize_t n = tl_read_file(path, (char *)data, sizeof(data));
		cr_assert_gt(n, 0, "%s", path);
		cr_assert_eq(fuzz_reply_one(data, (size_t)n), 1, "%s not healthy", names[i]);
	}
}

Test(fuzz_regress, cgroup_seed_corpus)
{
	cr_assert_geq(replay("cgroup", fuzz_cgroup_one), 8);
}

/* The fuzz targets' allocation-free JSON check takes what json-c's strict parser takes
 * and refuses what RFC 8259 does (json-c also takes "1."), and unescapes a field as
 * json-c does. */
static bool json_c_object(const char *t)
{
	json_tokener *tok = json_tokener_new();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	json_object *o = json_tokener_parse_ex(tok, t, (int)strlen(t) + 1);
	bool ok = json_tokener_get_error(tok) == json_tokener_success && o &&
		  json_object_is_type(o, json_type_object);
	json_object_put(o);
	json_tokener_free(tok);
	return ok;
}

Test(fuzz_regress, jsoncheck_agrees_with_json_c)
{
	static const char *const valid[] = {
	    "{}", "{\"a\":1}", " {\"a\" : [1, 2.5e-3, -0, true, false, null, {\"b\":\"c\"}]}\n",
	    "{\"s\":\"\\u00e9\\ud83d\\ude00\\n\\t\\\"\\\\\\/\"}"};
	static const char *const invalid[] = {"{\"a\":1,}",
					      "{\"a\"}",
					      "{a:1}",
					      "{\"a\":01}",
					      "{\"a\":1.}",
					      "{\"a\":-}",
					      "{\"a\":\"\x01\"}",
					      "{\"a\":\"\\x\"}",
					      "{\"a\":\"\\u12\"}",
					      "{\"a\":tru}",
					      "{\"a\":1}x",
					      "[1]",
					      "\"s\"",
					      "{\"a\":[1,]}",
					      "{\"a\":1e}",
					      "{\"a\":\"open}",
					      ""};
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		cr_assert(json_c_object(valid[i]), "json-c refuses %s", valid[i]);
		cr_assert(fj_object(valid[i], strlen(valid[i])), "refused: %s", valid[i]);
	}
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		cr_assert_not(fj_object(invalid[i], strlen(invalid[i])), "taken: %s", invalid[i]);
	const char *t = "{\"x\":{\"line\":\"no\"},\"line\":\"a\\u0000b\\u00e9\\ud83d\\ude00\"}";
	char got[64];
	size_t n;
	bool found, flagged;
	cr_assert(fj_object_field(t, strlen(t), "line", got, sizeof(got), &n, &found, "escaped",
				  &flagged));
	cr_assert(found && !flagged);
	cr_assert_eq(n, 3 + 2 + 4);
	cr_assert_eq(memcmp(got, "a\0b\xc3\xa9\xf0\x9f\x98\x80", n), 0);
}
