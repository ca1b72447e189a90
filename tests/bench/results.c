/* The results in three forms from the same figures: a table on stdout, results.json
 * (json-c) for tools, results.md for the README; each names the machine and settings. */
#include <errno.h>
#include <json.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

static const char *const group_title[12] = {
    "",		  "floor",     "recovery", "monitor isolation", "hang detection", "start-up",
    "clean stop", "idle cost", "memory",   "crash loop",	"scale",	  "service output",
};

/* Counts as integers when they are; times and sizes with a precision that fits them. */
static void fmt_val(double v, const char *unit, char *buf, size_t len)
{
	if ((strcmp(unit, "count") == 0 || strcmp(unit, "kB") == 0) && v == (double)(long long)v)
		snprintf(buf, len, "%lld", (long long)v);
	else if (v < 10)
		snprintf(buf, len, "%.2f", v);
	else if (v < 100)
		snprintf(buf, len, "%.1f", v);
	else
		snprintf(buf, len, "%.0f", v);
}

static double floor_median(void)
{
	struct summary s;
	return fig_summary(&figures[F_FLOOR], &s) && s.median > 0 ? s.median : 0;
}

/* The ratio column: "1.9x", or "" for what is no latency or has no floor to compare to. */
static void fmt_ratio(const struct figure *f, double v, char *buf, size_t len)
{
	double fl = floor_median();
	if (!f->latency || fl <= 0)
		snprintf(buf, len, "%s", "");
	else if (v / fl < 100)
		snprintf(buf, len, "%.1fx", v / fl);
	else
		snprintf(buf, len, "%.0fx", v / fl);
}

/* Run, machine and settings; in Markdown as a list. */
static void print_header(FILE *f, const struct bench_info *in, bool md)
{
	const struct bench_plan *p = in->plan;
	const char *item = md ? "- " : "", *sub = md ? "  - " : "  ";
	fprintf(f, "%sron-kernel bench: %s run (`%s`), %s, %.0f s%s\n", md ? "**" : "",
		in->quick ? "quick (BENCH_QUICK=1)" : "full", in->command, in->date, in->seconds,
		md ? "**\n" : "");
	fprintf(f, "%smachine: nproc=%ld, Linux %s, %s; load average %s at start, %s at end\n",
		item, in->nproc, in->kernel, in->cpu, in->load_start, in->load_end);
	fprintf(f, "%skernel defaults in effect: %s\n", item, in->defaults);
	fprintf(f, "%snon-default settings:\n", item);
	for (int i = 0; i < in->nsettings; i++)
		fprintf(f, "%s%s: %s\n", sub,
			in->settings[i].group ? group_title[in->settings[i].group]
					      : "every scenario",
			in->settings[i].text);
	fprintf(f,
		"%srepetitions: floor %d, start-up/stop %d, kills %d, monitor kills %d + stops "
		"%d, hangs %d, idle %d s, crash loops %d, output bursts %d x %ld lines of %d "
		"bytes per mode\n",
		item, p->floor_reps, p->startup_reps, p->recovery_kills, p->monitor_kills,
		p->monitor_stops, p->hang_reps, p->idle_s, p->crash_reps, p->output_runs,
		p->output_lines, OUTPUT_LINE_BYTES);
}

void results_print(FILE *f, const struct bench_info *in)
{
	print_header(f, in, false);
	fprintf(f, "\n %-2s %-45s %-6s %4s %9s %9s %9s %9s %8s\n", "#", "figure", "unit", "n",
		"min", "median", "p90", "max", "med/flr");
	for (int i = 0; i < F__COUNT; i++) {
		const struct figure *fg = &figures[i];
		if (!fg->name)
			continue; /* a scale size not run */
		struct summary s;
		if (!fig_summary(fg, &s)) {
			fprintf(f, " %-2d %-45s %-6s %4s %9s %9s %9s %9s %8s\n", fg->group,
				fg->name, fg->unit, "0", "-", "-", "-", "-", "");
			continue;
		}
		char mn[32], md[32], p9[32], mx[32], r[32];
		fmt_val(s.min, fg->unit, mn, sizeof(mn));
		fmt_val(s.median, fg->unit, md, sizeof(md));
		fmt_val(s.p90, fg->unit, p9, sizeof(p9));
		fmt_val(s.max, fg->unit, mx, sizeof(mx));
		fmt_ratio(fg, s.median, r, sizeof(r));
		fprintf(f, " %-2d %-45s %-6s %4zu %9s %9s %9s %9s %8s\n", fg->group, fg->name,
			fg->unit, s.n, mn, md, p9, mx, r);
	}
	bool header = false;
	for (int i = 0; i < F__COUNT; i++) {
		if (!figures[i].name || (!figures[i].note[0] && !figures[i].failed[0]))
			continue;
		if (!header)
			fprintf(f, "\nnotes:\n");
		header = true;
		if (figures[i].failed[0])
			fprintf(f, "  %s: NOT MEASURED: %s\n", figures[i].name, figures[i].failed);
		if (figures[i].note[0])
			fprintf(f, "  %s: %s\n", figures[i].name, figures[i].note);
	}
}

static json_object *jnum(double v)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%.3f", v);
	return json_object_new_double_s(v, buf);
}

static json_object *json_figure(const struct figure *fg)
{
	json_object *o = json_object_new_object();
	struct summary s;
	json_object_object_add(o, "group", json_object_new_int(fg->group));
	json_object_object_add(o, "scenario", json_object_new_string(group_title[fg->group]));
	json_object_object_add(o, "name", json_object_new_string(fg->name));
	json_object_object_add(o, "unit", json_object_new_string(fg->unit));
	if (!fig_summary(fg, &s)) {
		json_object_object_add(o, "n", json_object_new_int(0));
		json_object_object_add(o, "error", json_object_new_string(fg->failed));
		return o;
	}
	json_object_object_add(o, "n", json_object_new_int64((int64_t)s.n));
	json_object_object_add(o, "min", jnum(s.min));
	json_object_object_add(o, "median", jnum(s.median));
	json_object_object_add(o, "p90", jnum(s.p90));
	json_object_object_add(o, "max", jnum(s.max));
	double fl = floor_median();
	if (fg->latency && fl > 0) {
		json_object *r = json_object_new_object();
		json_object_object_add(r, "min", jnum(s.min / fl));
		json_object_object_add(r, "median", jnum(s.median / fl));
		json_object_object_add(r, "p90", jnum(s.p90 / fl));
		json_object_object_add(r, "max", jnum(s.max / fl));
		json_object_object_add(o, "ratio_to_floor", r);
	}
	if (fg->note[0])
		json_object_object_add(o, "note", json_object_new_string(fg->note));
	json_object *all = json_object_new_array();
	for (size_t i = 0; i < fg->n; i++)
		json_object_array_add(all, jnum(fg->v[i]));
	json_object_object_add(o, "samples", all);
	return o;
}

int results_write_json(const char *path, const struct bench_info *in, char *why, size_t whylen)
{
	const struct bench_plan *p = in->plan;
	json_object *o = json_object_new_object(), *m = json_object_new_object(),
		    *pl = json_object_new_object(), *st = json_object_new_array(),
		    *figs = json_object_new_array();
	json_object_object_add(o, "mode", json_object_new_string(in->quick ? "quick" : "full"));
	json_object_object_add(o, "command", json_object_new_string(in->command));
	json_object_object_add(o, "date", json_object_new_string(in->date));
	json_object_object_add(o, "seconds", jnum(in->seconds));
	json_object_object_add(m, "nproc", json_object_new_int64(in->nproc));
	json_object_object_add(m, "kernel", json_object_new_string(in->kernel));
	json_object_object_add(m, "cpu", json_object_new_string(in->cpu));
	json_object_object_add(m, "loadavg_start", json_object_new_string(in->load_start));
	json_object_object_add(m, "loadavg_end", json_object_new_string(in->load_end));
	json_object_object_add(o, "machine", m);
	json_object_object_add(o, "defaults", json_object_new_string(in->defaults));
	for (int i = 0; i < in->nsettings; i++) {
		json_object *e = json_object_new_object();
		json_object_object_add(
		    e, "scenario",
		    json_object_new_string(
			in->settings[i].group ? group_title[in->settings[i].group] : "all"));
		json_object_object_add(e, "setting", json_object_new_string(in->settings[i].text));
		json_object_array_add(st, e);
	}
	json_object_object_add(o, "settings", st);
	const struct {
		const char *k;
		int v;
	} reps[] = {{"floor", p->floor_reps},
		    {"startup_stop", p->startup_reps},
		    {"recovery_kills", p->recovery_kills},
		    {"monitor_kills", p->monitor_kills},
		    {"monitor_stops", p->monitor_stops},
		    {"hangs", p->hang_reps},
		    {"idle_s", p->idle_s},
		    {"crash_loops", p->crash_reps},
		    {"output_bursts", p->output_runs},
		    {"output_lines", (int)p->output_lines},
		    {"output_line_bytes", OUTPUT_LINE_BYTES},
		    {"poll_us", BENCH_POLL_US},
		    {"client_us", BENCH_CLIENT_US}};
	for (size_t i = 0; i < sizeof(reps) / sizeof(reps[0]); i++)
		json_object_object_add(pl, reps[i].k, json_object_new_int(reps[i].v));
	json_object_object_add(o, "plan", pl);
	for (int i = 0; i < F__COUNT; i++)
		if (figures[i].name)
			json_object_array_add(figs, json_figure(&figures[i]));
	json_object_object_add(o, "figures", figs);
	int rc = json_object_to_file_ext(path, o,
					 JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (rc < 0)
		snprintf(why, whylen, "write %s: %s", path, json_util_get_last_err());
	json_object_put(o);
	return rc < 0 ? -1 : 0;
}

int results_write_md(const char *path, const struct bench_info *in, char *why, size_t whylen)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		snprintf(why, whylen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	fprintf(f, "<!-- written by ron-bench (`%s`); numbers from one run on one machine -->\n",
		in->command);
	print_header(f, in, true);
	fprintf(f, "\n| # | figure | unit | n | min | median | p90 | max | median / floor |\n");
	fprintf(f, "|---|---|---|--:|--:|--:|--:|--:|--:|\n");
	for (int i = 0; i < F__COUNT; i++) {
		const struct figure *fg = &figures[i];
		if (!fg->name)
			continue; /* a scale size not run */
		struct summary s;
		if (!fig_summary(fg, &s)) {
			fprintf(f, "| %d | %s | %s | 0 | - | - | - | - | not measured |\n",
				fg->group, fg->name, fg->unit);
			continue;
		}
		char mn[32], md[32], p9[32], mx[32], r[32];
		fmt_val(s.min, fg->unit, mn, sizeof(mn));
		fmt_val(s.median, fg->unit, md, sizeof(md));
		fmt_val(s.p90, fg->unit, p9, sizeof(p9));
		fmt_val(s.max, fg->unit, mx, sizeof(mx));
		fmt_ratio(fg, s.median, r, sizeof(r));
		fprintf(f, "| %d | %s | %s | %zu | %s | %s | %s | %s | %s |\n", fg->group, fg->name,
			fg->unit, s.n, mn, md, p9, mx, r);
	}
	fprintf(f, "\n");
	for (int i = 0; i < F__COUNT; i++) {
		if (figures[i].failed[0])
			fprintf(f, "- %s: **not measured**: %s\n", figures[i].name,
				figures[i].failed);
		if (figures[i].note[0])
			fprintf(f, "- %s: %s\n", figures[i].name, figures[i].note);
	}
	bool bad = ferror(f);
	if (fclose(f) != 0 || bad) {
		snprintf(why, whylen, "write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}
