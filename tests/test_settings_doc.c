/* One source of truth for settings: every row of cfg_table, as --help prints it, must
 * appear in the settings table of docs/settings.md and in the ENVIRONMENT of the man pages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <criterion/criterion.h>

#include "config.h"
#include "testlib.h"

TestSuite(settings_doc, .init = tl_setup, .fini = tl_teardown, .timeout = 30);

static char *read_src(const char *name)
{
	static char bufs[3][262144];
	static int next;
	char *buf = bufs[next++ % 3];
	char path[700];
	snprintf(path, sizeof(path), "%s/%s", tl_src_dir(), name);
	ssize_t n = tl_read_file(path, buf, sizeof(bufs[0]));
	cr_assert_geq(n, 0, "cannot read %s", path);
	cr_assert_lt((size_t)n, sizeof(bufs[0]) - 1, "%s is too long for this test", path);
	return buf;
}

/* What --help says of one setting: its default ("empty" for none) and accepted values. */
struct usage {
	char def[CFG_STR_MAX];
	char acc[256];
};

static void usage_of(int k, struct usage *u)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	cr_assert(f);
	config_usage(f, CFG_KERNEL | CFG_MONITOR);
	fclose(f);
	char needle[128];
	snprintf(needle, sizeof(needle), "  %s  ", cfg_table[k].env);
	char *line = strstr(text, needle);
	cr_assert(line, "--help does not list %s", cfg_table[k].env);
	char *eol = strchr(line, '\n');
	*eol = '\0';
	char *open = strstr(line, "[default ");
	char *close = strrchr(line, ']');
	char *semi = open ? strstr(open, "; ") : NULL;
	cr_assert(open && close && semi && semi < close, "cannot read --help line: %s", line);
	snprintf(u->def, sizeof(u->def), "%.*s", (int)(semi - open - 9), open + 9);
	snprintf(u->acc, sizeof(u->acc), "%.*s", (int)(close - semi - 2), semi + 2);
	free(text);
}

/* The line of text that starts with prefix (at a line start), or NULL. */
static const char *line_starting(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, n) == 0)
			return p;
	return NULL;
}

static void copy_line(const char *p, char *buf, size_t cap)
{
	size_t n = strcspn(p, "\n");
	snprintf(buf, cap, "%.*s", (int)n, p);
}

/* Splits a markdown table row into trimmed cells; returns how many. */
static int row_cells(const char *row, char cells[][CFG_STR_MAX], int max)
{
	char line[4096];
	copy_line(row, line, sizeof(line));
	int n = 0;
	char *p = line + 1; /* past the leading '|' */
	while (n < max) {
		char *bar = strchr(p, '|');
		if (!bar)
			break;
		*bar = '\0';
		while (*p == ' ')
			p++;
		size_t len = strlen(p);
		while (len && p[len - 1] == ' ')
			p[--len] = '\0';
		snprintf(cells[n++], CFG_STR_MAX, "%s", p);
		p = bar + 1;
	}
	return n;
}

Test(settings_doc, readme_table_lists_every_setting_as_help_does)
{
	const char *readme = read_src("docs/settings.md");
	for (int k = 0; k < CFG__COUNT; k++) {
		const struct cfg_setting *s = &cfg_table[k];
		struct usage u;
		usage_of(k, &u);
		char prefix[96], want[CFG_STR_MAX + 4];
		snprintf(prefix, sizeof(prefix), "| `%s` |", s->env);
		const char *row = line_starting(readme, prefix);
		cr_assert(row, "docs/settings.md: no row for %s in the settings table", s->env);
		char cells[8][CFG_STR_MAX];
		int n = row_cells(row, cells, 8);
		cr_assert_geq(n, 6, "docs/settings.md: the row of %s has %d cells, not 6", s->env,
			      n);
		snprintf(want, sizeof(want), "`--%s`", s->flag);
		cr_expect_str_eq(cells[1], want, "docs/settings.md: %s: flag %s, cfg_table says %s",
				 s->env, cells[1], want);
		if (strcmp(u.def, "empty") == 0)
			snprintf(want, sizeof(want), "empty");
		else
			snprintf(want, sizeof(want), "`%s`", u.def);
		cr_expect_str_eq(cells[2], want, "docs/settings.md: %s: default %s, --help says %s",
				 s->env, cells[2], want);
		cr_expect_str_eq(cells[3], u.acc,
				 "docs/settings.md: %s: accepted \"%s\", --help says \"%s\"",
				 s->env, cells[3], u.acc);
		const char *who = s->scope & CFG_MONITOR ? "kernel, monitor" : "kernel";
		cr_expect_str_eq(cells[4], who,
				 "docs/settings.md: %s: read by \"%s\", cfg_table says \"%s\"",
				 s->env, cells[4], who);
	}
}

Test(settings_doc, readme_table_lists_nothing_else)
{
	const char *readme = read_src("docs/settings.md");
	for (const char *p = readme; (p = line_starting(p, "| `RON_")); p++) {
		char env[96];
		size_t n = strcspn(p + 3, "`");
		snprintf(env, sizeof(env), "%.*s", (int)n, p + 3);
		bool known = false;
		for (int k = 0; k < CFG__COUNT; k++)
			known |= strcmp(cfg_table[k].env, env) == 0;
		cr_expect(known, "docs/settings.md documents %s, which is not in cfg_table", env);
	}
}

/* In a man page's ENVIRONMENT list: ".It Ev RON_X Pq Fl -flag Ns = Ns ..." followed, before
 * the next item, by the line "Default: D; accepted: A." */
static void check_man_entry(const char *page, const char *text, int k)
{
	const struct cfg_setting *s = &cfg_table[k];
	struct usage u;
	usage_of(k, &u);
	char prefix[160], line[CFG_STR_MAX + 64], want[CFG_STR_MAX + 300];
	snprintf(prefix, sizeof(prefix), ".It Ev %s Pq Fl -%s Ns = Ns ", s->env, s->flag);
	const char *item = line_starting(text, prefix);
	cr_assert(item, "%s: no \"%s\" item for %s", page, prefix, s->env);
	snprintf(want, sizeof(want), "Default: %s; accepted: %s.", u.def, u.acc);
	for (const char *p = strchr(item, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
		if (strncmp(p + 1, ".It", 3) == 0 || strncmp(p + 1, ".El", 3) == 0)
			break;
		if (strncmp(p + 1, "Default:", 8) != 0)
			continue;
		copy_line(p + 1, line, sizeof(line));
		cr_expect_str_eq(line, want, "%s: %s: \"%s\", --help says \"%s\"", page, s->env,
				 line, want);
		return;
	}
	cr_assert_fail("%s: the item of %s has no line \"%s\"", page, s->env, want);
}

/* Every setting item of the page names a setting of that scope. */
static void check_man_extra(const char *page, const char *text, unsigned scope)
{
	for (const char *p = text; (p = line_starting(p, ".It Ev RON_")); p++) {
		char line[256];
		copy_line(p, line, sizeof(line));
		if (!strstr(line, " Pq Fl -"))
			continue; /* not a setting, such as the sockets ron-monitor reads */
		char env[96];
		snprintf(env, sizeof(env), "%.*s", (int)strcspn(p + 7, " \n"), p + 7);
		bool ok = false;
		for (int k = 0; k < CFG__COUNT; k++)
			ok |= strcmp(cfg_table[k].env, env) == 0 && (cfg_table[k].scope & scope);
		cr_expect(ok, "%s documents the setting %s, which is not one of its cfg_table",
			  page, env);
	}
}

Test(settings_doc, kernel_man_page_lists_every_setting)
{
	const char *text = read_src("docs/ron-kernel.8");
	for (int k = 0; k < CFG__COUNT; k++)
		check_man_entry("docs/ron-kernel.8", text, k);
	check_man_extra("docs/ron-kernel.8", text, CFG_KERNEL);
}

Test(settings_doc, monitor_man_page_lists_its_settings)
{
	const char *text = read_src("docs/ron-monitor.8");
	for (int k = 0; k < CFG__COUNT; k++)
		if (cfg_table[k].scope & CFG_MONITOR)
			check_man_entry("docs/ron-monitor.8", text, k);
	check_man_extra("docs/ron-monitor.8", text, CFG_MONITOR);
}
