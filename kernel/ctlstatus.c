/* `ron-kernel status [--json] [NAME...]` and `ron-kernel --status`: the one table
 * (no name, or `all`), or each service named in full (statusdetail.c); live from the
 * kernel when it answers, else from status.json, marked stale with its age.  --json
 * prints the status JSON itself, status.json's schema, with only the rows asked for. */
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel.h"

#define CTL_EX_UNKNOWN	   4 /* systemctl's "no such unit" */
#define CTL_EX_UNAVAILABLE 69

/* The colours of a terminal: only there, and never with NO_COLOR. */
static bool use_color(void)
{
	const char *nc = getenv("NO_COLOR");
	return isatty(STDOUT_FILENO) && !(nc && nc[0]);
}

/* "no service named svc-indx; did you mean svc-index?" for each name not in o. */
static bool names_known(json_object *o, char *const *names, int n)
{
	json_object *a;
	bool known = true;
	if (!json_object_object_get_ex(o, "services", &a))
		a = NULL;
	for (int i = 0; i < n; i++) {
		if (strcmp(names[i], "all") == 0 || kernel_status_row(o, names[i]))
			continue;
		const char *best = NULL;
		int bestd = 3;
		for (size_t j = 0; a && j < json_object_array_length(a); j++) {
			const char *s = kernel_row_str(json_object_array_get_idx(a, j), "service");
			int d = svc_distance(names[i], s);
			if (d < bestd) {
				bestd = d;
				best = s;
			}
		}
		fprintf(stderr, "ron-kernel: no service named %s%s%s%s\n", names[i],
			best ? "; did you mean " : "", best ? best : "", best ? "?" : "");
		known = false;
	}
	return known;
}

/* The table, or with names other than `all` each of them in full. */
static void show(json_object *o, char *const *names, int n)
{
	bool all = n == 0;
	for (int i = 0; i < n; i++)
		all = all || strcmp(names[i], "all") == 0;
	if (all) {
		kernel_status_table(stdout, o, names, n, use_color());
		return;
	}
	for (int i = 0; i < n; i++) {
		if (i)
			putchar('\n');
		json_object *e = kernel_status_row(o, names[i]);
		if (e)
			kernel_status_detail(stdout, e, use_color());
	}
}

/* The status JSON with only the rows asked for, and where it came from. */
static void show_json(json_object *o, char *const *names, int n, const char *source, bool stale)
{
	json_object *a, *keep = json_object_new_array();
	bool all = n == 0;
	for (int i = 0; i < n; i++)
		all = all || strcmp(names[i], "all") == 0;
	if (json_object_object_get_ex(o, "services", &a) && keep) {
		for (size_t j = 0; j < json_object_array_length(a); j++) {
			json_object *e = json_object_array_get_idx(a, j);
			bool named = all;
			for (int i = 0; i < n && !named; i++)
				named = strcmp(names[i], kernel_row_str(e, "service")) == 0;
			/* The kernel's answer has what the commands wait by besides. */
			json_object_object_del(e, "start_timeout_ms");
			json_object_object_del(e, "stop_timeout_ms");
			if (named)
				json_object_array_add(keep, json_object_get(e));
		}
		json_object_object_add(o, "services", keep);
	} else {
		json_object_put(keep);
	}
	json_object_object_del(o, "ok");
	json_object_object_add(o, "source", json_object_new_string(source));
	json_object_object_add(o, "stale", json_object_new_boolean(stale));
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						   JSON_C_TO_STRING_NOSLASHESCAPE));
}

static int status_live(json_object *o, char *const *names, int n, bool json)
{
	if (!names_known(o, names, n))
		return CTL_EX_UNKNOWN;
	int rc = kernel_status_verdict(o, names, n);
	if (json) {
		show_json(o, names, n, "kernel", false);
		return rc;
	}
	printf("ron-kernel pid %lld: %s; %s\n",
	       (long long)json_object_get_int64(json_object_object_get(o, "kernel_pid")),
	       kernel_row_str(o, "state"), kernel_row_str(o, "summary"));
	show(o, names, n);
	return rc;
}

/* The kernel did not answer: status.json says what it last knew. */
static int status_from_file(const char *run_dir, int ask_rc, char *const *names, int n, bool json)
{
	char why[CFG_STR_MAX + 128], age[32];
	bool alive = false;
	long long age_ms = -1;
	json_object *o = kernel_status_load(run_dir, &alive, &age_ms, why, sizeof(why));
	if (!o) {
		fprintf(stderr, "%s\n", why);
		return ask_rc;
	}
	kernel_fmt_duration(age_ms, age, sizeof(age));
	int rc = ask_rc;
	if (json) {
		rc = !names_known(o, names, n) ? CTL_EX_UNKNOWN
		     : alive		       ? kernel_status_verdict(o, names, n)
					       : CTL_EX_UNAVAILABLE;
		if (rc != CTL_EX_UNKNOWN)
			show_json(o, names, n, "status.json", !alive);
		json_object_put(o);
		return rc;
	}
	if (alive) {
		/* Running, but not ours to ask (or not answering): its file is near-live. */
		printf("ron-kernel pid %lld: %s; %s; from status.json, updated %s ago\n",
		       (long long)json_object_get_int64(json_object_object_get(o, "kernel_pid")),
		       kernel_row_str(o, "state"), kernel_row_str(o, "summary"), age);
		rc = names_known(o, names, n) ? kernel_status_verdict(o, names, n) : CTL_EX_UNKNOWN;
	} else {
		printf("%s\nstale: the last status.json, written %s ago (%s; %s):\n", why, age,
		       kernel_row_str(o, "state"), kernel_row_str(o, "summary"));
		(void)names_known(o, names, n);
		rc = CTL_EX_UNAVAILABLE;
	}
	show(o, names, n);
	json_object_put(o);
	return rc;
}

int kernel_ctl_status(const char *run_dir, char *const *names, int n, bool json)
{
	int rc = 0;
	json_object *req = json_object_new_object();
	if (!req)
		return CTL_EX_UNAVAILABLE;
	json_object_object_add(req, "cmd", json_object_new_string("status"));
	json_object *o = kernel_ctl_ask(run_dir, req, &rc, true);
	json_object_put(req);
	if (!o)
		return status_from_file(run_dir, rc, names, n, json);
	rc = status_live(o, names, n, json);
	json_object_put(o);
	return rc;
}
