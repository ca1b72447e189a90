/* Unit tests of the one status table of `status` and `--status`: its cells from the
 * status JSON, and the systemctl-like verdict (0 fine, 3 not). */
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../kernel/kernel.h"

TestSuite(statustable, .timeout = 30);

static json_object *table(const char *rows)
{
	char text[4096];
	snprintf(text, sizeof(text), "{\"kernel_pid\":1,\"services\":[%s]}", rows);
	json_object *o = json_tokener_parse(text);
	cr_assert(o, "bad JSON: %s", text);
	return o;
}

/* The table printed, in a static buffer. */
static const char *printed(json_object *o, char *const *names, int n)
{
	static char buf[8192];
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	cr_assert(f);
	kernel_status_table(f, o, names, n, false);
	fclose(f);
	return buf;
}

#define ROW(name, state, extra)                                                                    \
	"{\"service\":\"" name "\",\"state\":\"" state "\",\"pid\":7,\"uptime_ms\":79400,"         \
	"\"restarts\":0,\"procs\":1,\"mpid\":6,\"reason\":\"r\"" extra "}"

Test(statustable, uptime_in_minutes_and_unmeasured_rtt_as_a_dash)
{
	json_object *o = table(ROW("a", "healthy", ",\"rtt_us\":-1") "," ROW(
	    "b", "starting", ",\"rtt_us\":0") "," ROW("c", "healthy", ",\"rtt_us\":1234"));
	const char *t = printed(o, NULL, 0);
	cr_assert(strstr(t, "SERVICE      STATE             PID PROCS    UPTIME RESTARTS"), "%s",
		  t);
	cr_assert(strstr(t, "1m19s"), "%s", t);
	cr_assert_null(strstr(t, "79.4s"), "%s", t);
	cr_assert(strstr(t, "1.234ms"), "%s", t);
	cr_assert_null(strstr(t, "-0.001ms"), "%s", t);
	cr_assert_null(strstr(t, "0.000ms"), "%s", t);
	const char *b = strstr(t, "\nb ");
	cr_assert(b && strstr(b, "         -        6  r"), "%s", t);
	json_object_put(o);
}

Test(statustable, only_the_names_asked_for)
{
	json_object *o = table(ROW("a", "healthy", "") "," ROW("b", "healthy", ""));
	char *names[] = {"b"};
	const char *t = printed(o, names, 1);
	cr_assert_null(strstr(t, "\na "), "%s", t);
	cr_assert(strstr(t, "\nb "), "%s", t);
	json_object_put(o);
}

Test(statustable, verdict_is_3_unless_every_service_meant_to_run_is_healthy)
{
	static const char *const bad[] = {"quarantined", "degraded", "starting", "backoff",
					  "stopping"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char rows[1024];
		snprintf(rows, sizeof(rows),
			 ROW("a", "healthy", "") ",{\"service\":\"b\","
						 "\"state\":\"%s\"}",
			 bad[i]);
		json_object *o = table(rows);
		cr_assert_eq(kernel_status_verdict(o, NULL, 0), 3, "%s", bad[i]);
		char *a[] = {"a"}, *b[] = {"b"};
		cr_assert_eq(kernel_status_verdict(o, a, 1), 0, "only a asked for");
		cr_assert_eq(kernel_status_verdict(o, b, 1), 3, "%s", bad[i]);
		json_object_put(o);
	}
}

Test(statustable, a_service_stopped_by_the_operator_is_fine_one_down_otherwise_not)
{
	json_object *o = table(ROW("a", "healthy", "") "," ROW("b", "down", ",\"want_down\":true"));
	cr_assert_eq(kernel_status_verdict(o, NULL, 0), 0);
	json_object_put(o);
	o = table(ROW("a", "healthy", "") "," ROW("b", "down", ",\"want_down\":false"));
	cr_assert_eq(kernel_status_verdict(o, NULL, 0), 3);
	json_object_put(o);
}
