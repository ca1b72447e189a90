/* The one status table of `ron-kernel status` and `--status`, printed from the
 * status JSON (the kernel's reply or status.json), and its systemctl-like verdict. */
#include <json.h>
#include <stdio.h>
#include <string.h>

#include "kernel.h"

#define STATE_W 12

const char *kernel_row_str(json_object *o, const char *key)
{
	json_object *v;
	const char *s = json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
	return s ? s : "";
}

long long kernel_row_int(json_object *o, const char *key, long long dflt)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) ? (long long)json_object_get_int64(v) : dflt;
}

static json_object *rows_of(json_object *o)
{
	json_object *a;
	if (!json_object_object_get_ex(o, "services", &a) ||
	    !json_object_is_type(a, json_type_array))
		return NULL;
	return a;
}

void kernel_fmt_duration(long long ms, char *buf, size_t cap)
{
	if (ms < 0)
		snprintf(buf, cap, "-");
	else if (ms < 60000)
		snprintf(buf, cap, "%lld.%llds", ms / 1000, (ms % 1000) / 100);
	else if (ms < 3600000)
		snprintf(buf, cap, "%lldm%02llds", ms / 60000, (ms % 60000) / 1000);
	else
		snprintf(buf, cap, "%lldh%02lldm", ms / 3600000, (ms % 3600000) / 60000);
}

/* Whether the row is one of the names asked for (none asked: every row). */
static bool row_named(json_object *e, char *const *names, int n)
{
	bool named = n == 0;
	for (int i = 0; i < n && !named; i++)
		named = strcmp(names[i], "all") == 0 ||
			strcmp(names[i], kernel_row_str(e, "service")) == 0;
	return named;
}

json_object *kernel_status_row(json_object *o, const char *name)
{
	json_object *a = rows_of(o);
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		json_object *e = json_object_array_get_idx(a, i);
		if (strcmp(kernel_row_str(e, "service"), name) == 0)
			return e;
	}
	return NULL;
}

/* A measured value or "-": a service not running has no uptime, one never checked
 * (or checked by liveness only) no round trip. */
static void row_cells(json_object *e, char *up, char *rtt, char *procs, char *mon, size_t cap)
{
	long long pid = kernel_row_int(e, "pid", 0), r = kernel_row_int(e, "rtt_us", -1);
	long long p = kernel_row_int(e, "procs", -1), mpid = kernel_row_int(e, "mpid", 0);
	kernel_fmt_duration(pid > 0 ? kernel_row_int(e, "uptime_ms", -1) : -1, up, cap);
	snprintf(rtt, cap, "-");
	if (pid > 0 && r > 0)
		snprintf(rtt, cap, "%lld.%03lldms", r / 1000, r % 1000);
	snprintf(procs, cap, "-");
	if (p >= 0)
		snprintf(procs, cap, "%lld", p);
	snprintf(mon, cap, "-");
	if (mpid > 0)
		snprintf(mon, cap, "%lld", mpid);
}

static void row_print(FILE *out, json_object *e, int w, bool color)
{
	char up[32], rtt[32], procs[32], mon[32], state[64], pid[32] = "-";
	const char *st = kernel_row_str(e, "state");
	row_cells(e, up, rtt, procs, mon, sizeof(up));
	if (kernel_row_int(e, "pid", 0) > 0)
		snprintf(pid, sizeof(pid), "%lld", kernel_row_int(e, "pid", 0));
	kernel_color_state(st, color, state, sizeof(state));
	/* The padding counts what shows, not the colour's escape bytes. */
	int pad = STATE_W - (int)strlen(st);
	fprintf(out, "%-*s %s%*s %8s %5s %9s %8lld %10s %8s  %s\n", w, kernel_row_str(e, "service"),
		state, pad > 0 ? pad : 0, "", pid, procs, up, kernel_row_int(e, "restarts", 0), rtt,
		mon, kernel_row_str(e, "reason"));
}

void kernel_status_table(FILE *out, json_object *o, char *const *names, int n, bool color)
{
	json_object *a = rows_of(o);
	int w = 12; /* the SERVICE column fits the longest name */
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		int len = (int)strlen(kernel_row_str(json_object_array_get_idx(a, i), "service"));
		w = len > w ? len : w;
	}
	fprintf(out, "%-*s %-*s %8s %5s %9s %8s %10s %8s  %s\n", w, "SERVICE", STATE_W, "STATE",
		"PID", "PROCS", "UPTIME", "RESTARTS", "RTT", "MONITOR", "REASON");
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		json_object *e = json_object_array_get_idx(a, i);
		if (row_named(e, names, n))
			row_print(out, e, w, color);
	}
}

/* Healthy, or down because the operator stopped it (a table without want_down is
 * from before the field: down was then only ever asked for). */
static bool row_fine(json_object *e)
{
	const char *st = kernel_row_str(e, "state");
	if (strcmp(st, "healthy") == 0)
		return true;
	json_object *v;
	bool asked = !json_object_object_get_ex(e, "want_down", &v) || json_object_get_boolean(v);
	return asked && (strcmp(st, "down") == 0 || strcmp(st, "stopped") == 0);
}

int kernel_status_verdict(json_object *o, char *const *names, int n)
{
	json_object *a = rows_of(o);
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		json_object *e = json_object_array_get_idx(a, i);
		if (row_named(e, names, n) && !row_fine(e))
			return KERNEL_STATUS_NOT_FINE;
	}
	return 0;
}
