/* `ron-kernel status NAME` (the detail view) and `status --json` through a real
 * kernel: what the view says after a service was killed and restarted, and the JSON
 * parsed and checked, row by row, against the schema docs/output.md documents. */
#include <json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "kconf.h"
#include "testlib.h"

TestSuite(statusview, .init = tl_setup, .fini = tl_teardown, .timeout = 120);

static void ctl(struct kc *k, struct kc_out *o, char *const args[])
{
	kc_ctl_at(k->conf, o, args);
}

static void sv_start(struct kc *k)
{
	char a[512], b[512], line[4096];
	sim_section(a, sizeof(a), "a", NULL);
	sim_section(b, sizeof(b), "b", NULL);
	kc_write(k, "%s\n%s\n", a, b);
	kc_start(k, NULL);
	EXPECT(k, line, "event=all_ready");
	cr_assert(tl_wait_for(kc_all_healthy, NULL, KC_WAIT_MS), "status.json not all healthy");
}

struct restarted {
	pid_t old;
};

static bool a_restarted(void *arg)
{
	const struct restarted *r = arg;
	char state[32];
	pid_t pid;
	return kc_row("a", state, sizeof(state), &pid) && strcmp(state, "healthy") == 0 &&
	       pid > 0 && pid != r->old;
}

#define HAS(o, text) cr_assert(strstr((o).out, text), "no \"%s\" in:\n%s", text, (o).out)

Test(statusview, status_name_shows_the_service_in_full)
{
	struct kc k;
	struct kc_out o;
	char want[1024];
	sv_start(&k);
	pid_t old = kc_pid("a");
	cr_assert_eq(kill(old, SIGKILL), 0);
	struct restarted r = {old};
	cr_assert(tl_wait_for(a_restarted, &r, KC_WAIT_MS), "a was not restarted:\n%s", k.r.log);
	pid_t now = kc_pid("a");

	ctl(&k, &o, (char *[]){"status", "a", NULL});
	KC_EXIT_IS(o, 0);
	HAS(o, "* a: healthy since ");
	snprintf(want, sizeof(want), "Main PID: %d\n", (int)now);
	HAS(o, want);
	snprintf(want, sizeof(want), "Command: %s/sim/svc-sim --name a\n", RON_BUILD_DIR);
	HAS(o, want);
	HAS(o, "User: the kernel's");
	cr_assert(strstr(o.out, "CGroup: ") || strstr(o.out, "Group: process group "), "%s", o.out);
	HAS(o, " (1 process)");
	HAS(o, "Restarts: 1; last exit signal KILL, ");
	HAS(o, "Health: answered in ");
	snprintf(want, sizeof(want), "Log: %s/run/log/a/current\n", tl_dir());
	HAS(o, want);
	/* The last lines of output, the killed process's and the new one's. */
	snprintf(want, sizeof(want), "\na[%d]: ", (int)old);
	HAS(o, want);
	snprintf(want, sizeof(want), "\na[%d]: ", (int)now);
	HAS(o, want);
	cr_assert_null(strstr(o.out, "* b:"), "b was not asked for:\n%s", o.out);

	/* Two names: both in full, in the order asked; the table has them all. */
	ctl(&k, &o, (char *[]){"status", "b", "a", NULL});
	KC_EXIT_IS(o, 0);
	char *b = strstr(o.out, "* b: healthy since "), *a = strstr(o.out, "* a: healthy since ");
	cr_assert(a && b && b < a, "%s", o.out);
	ctl(&k, &o, (char *[]){"status", NULL});
	KC_EXIT_IS(o, 0);
	cr_assert(strstr(o.out, "SERVICE") && !strstr(o.out, "Main PID"), "%s", o.out);

	/* Stopped by hand: down as asked, nothing running, no check. */
	ctl(&k, &o, (char *[]){"stop", "b", NULL});
	KC_EXIT_IS(o, 0);
	ctl(&k, &o, (char *[]){"status", "b", NULL});
	KC_EXIT_IS(o, 0);
	HAS(o, "* b: down since ");
	HAS(o, "Main PID: none running");
	HAS(o, "Health: not checked: not running");
	HAS(o, "; last exit signal TERM, ");
	kc_stop(&k);
}

/* The schema of docs/output.md: the table after the line starting with heading, as
 * "name type" pairs; n of them. */
struct field {
	char name[40], type[16];
};

static int doc_fields(const char *heading, struct field *f, int max)
{
	static char text[65536];
	char path[700];
	snprintf(path, sizeof(path), "%s/docs/output.md", tl_src_dir());
	ssize_t len = tl_read_file(path, text, sizeof(text) - 1);
	cr_assert_gt(len, 0, "cannot read %s", path);
	text[len] = '\0';
	const char *p = strstr(text, heading);
	cr_assert(p, "docs/output.md has no \"%s\"", heading);
	p = strstr(p, "|---|");
	cr_assert(p, "no table after \"%s\"", heading);
	p = strchr(p, '\n') + 1;
	int n = 0;
	while (*p == '|' && n < max) {
		cr_assert_eq(sscanf(p, "| `%39[^`]` | %15s |", f[n].name, f[n].type), 2,
			     "a row that is not \"| `name` | type |\": %.60s", p);
		n++;
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
	}
	return n;
}

static const char *type_name(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_int: return "number";
	case json_type_string: return "string";
	case json_type_boolean: return "boolean";
	case json_type_array: return "array";
	default: return "other";
	}
}

/* Every key of o documented with its type, and every documented key there. */
static void check_schema(json_object *o, const struct field *f, int n, const char *what)
{
	for (int i = 0; i < n; i++) {
		json_object *v;
		cr_assert(json_object_object_get_ex(o, f[i].name, &v), "%s has no %s:\n%s", what,
			  f[i].name, json_object_to_json_string(o));
		cr_assert_str_eq(type_name(v), f[i].type, "%s.%s", what, f[i].name);
	}
	json_object_object_foreach(o, key, val)
	{
		(void)val;
		bool documented = false;
		for (int i = 0; i < n && !documented; i++)
			documented = strcmp(key, f[i].name) == 0;
		cr_assert(documented, "%s has %s, which docs/output.md does not document", what,
			  key);
	}
}

static json_object *parsed(struct kc_out *o)
{
	json_object *j = json_tokener_parse(o->out);
	cr_assert(j, "not JSON:\n%s", o->out);
	return j;
}

static int rows(json_object *j)
{
	json_object *a;
	cr_assert(json_object_object_get_ex(j, "services", &a));
	return (int)json_object_array_length(a);
}

static json_object *row(json_object *j, int i)
{
	json_object *a;
	cr_assert(json_object_object_get_ex(j, "services", &a));
	return json_object_array_get_idx(a, i);
}

Test(statusview, status_json_is_the_documented_schema)
{
	struct field top[32], svc[48];
	int ntop = doc_fields("The kernel (every time", top, 32);
	int nsvc = doc_fields("A row (one per service)", svc, 48);
	cr_assert_geq(ntop, 12);
	cr_assert_geq(nsvc, 25);
	struct kc k;
	struct kc_out o;
	sv_start(&k);
	ctl(&k, &o, (char *[]){"status", "--json", NULL});
	KC_EXIT_IS(o, 0);
	json_object *j = parsed(&o);
	check_schema(j, top, ntop, "status --json");
	cr_assert_eq(rows(j), 2);
	for (int i = 0; i < 2; i++)
		check_schema(row(j, i), svc, nsvc, "a row");
	cr_assert_str_eq(json_object_get_string(json_object_object_get(j, "source")), "kernel");
	cr_assert_str_eq(json_object_get_string(json_object_object_get(row(j, 0), "state")),
			 "healthy");
	json_object_put(j);

	/* Names: only their rows.  An unhealthy one: exit 3, as the table's. */
	ctl(&k, &o, (char *[]){"status", "--json", "b", NULL});
	KC_EXIT_IS(o, 0);
	j = parsed(&o);
	cr_assert_eq(rows(j), 1);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(row(j, 0), "service")), "b");
	json_object_put(j);
	ctl(&k, &o, (char *[]){"status", "--json", "nope", NULL});
	KC_EXIT_IS(o, 4);

	/* The kernel gone: status.json, the same schema, marked stale; exit 69. */
	kc_stop(&k);
	ctl(&k, &o, (char *[]){"--status", "--json", NULL});
	KC_EXIT_IS(o, 69);
	j = parsed(&o);
	check_schema(j, top, ntop, "--status --json of a stopped kernel");
	check_schema(row(j, 1), svc, nsvc, "a stale row");
	cr_assert_str_eq(json_object_get_string(json_object_object_get(j, "source")),
			 "status.json");
	cr_assert(json_object_get_boolean(json_object_object_get(j, "stale")));
	json_object_put(j);
}

static bool status_rewritten(void *arg)
{
	long long *seen = arg;
	char path[700];
	snprintf(path, sizeof(path), "%s/run/status.json", tl_dir());
	json_object *o = json_object_from_file(path), *v;
	long long mono = o && json_object_object_get_ex(o, "mono_ms", &v)
			     ? (long long)json_object_get_int64(v)
			     : 0;
	json_object_put(o);
	if (mono && mono != seen[1]) {
		seen[1] = mono;
		seen[0]++;
	}
	return seen[0] >= 4;
}

/* off: no status line on the tick (the tick still runs: status.json is rewritten), but
 * one asked for with SIGUSR1 is printed, in full. */
Test(statusview, status_line_off_prints_none_until_asked)
{
	struct kc k;
	char line[4096];
	sim_section(line, sizeof(line), "a", NULL);
	kc_write(&k, "%s", line);
	kc_start(&k, (char *[]){"RON_STATUS_LINE=off", NULL});
	EXPECT(&k, line, "event=all_ready");
	long long seen[2] = {0, 0};
	cr_assert(tl_wait_for(status_rewritten, seen, KC_WAIT_MS), "status.json not rewritten");
	/* Whatever the kernel has printed by now. */
	while (tl_next_line(&k.r, line, sizeof(line), 0))
		;
	cr_assert_null(strstr(k.r.log, "event=status"), "a status line with off:\n%s", k.r.log);
	cr_assert_eq(kill(k.pid, SIGUSR1), 0);
	EXPECT(&k, line, "event=status", "a.state=healthy");
	kc_stop(&k);
}

Test(statusview, status_line_summary_is_the_summary_alone)
{
	struct kc k;
	char line[4096];
	sim_section(line, sizeof(line), "a", NULL);
	kc_write(&k, "%s", line);
	kc_start(&k, (char *[]){"RON_STATUS_LINE=summary", NULL});
	EXPECT(&k, line, "event=status", "summary=\"1/1 healthy\"");
	cr_assert(strstr(line, "event=status summary=\"1/1 healthy\"") && !strstr(line, "a.state"),
		  "%s", line);
	kc_stop(&k);
}
