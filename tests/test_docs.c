/* The README and docs/ pages: every relative link names a file that exists, and every
 * #anchor a heading of the page it points into (GitHub's rule: lower case, spaces as
 * '-', other punctuation dropped); the README stays a guide of at most 500 lines. */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <criterion/criterion.h>

#include "testlib.h"

TestSuite(docs, .init = tl_setup, .fini = tl_teardown, .timeout = 30);

#define PAGE_MAX (512 * 1024)

static char *read_page(const char *rel)
{
	char path[1200];
	snprintf(path, sizeof(path), "%s/%s", tl_src_dir(), rel);
	char *buf = malloc(PAGE_MAX);
	cr_assert(buf);
	ssize_t n = tl_read_file(path, buf, PAGE_MAX - 1);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/* GitHub's anchor of a heading's text. */
static void slug(const char *text, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		unsigned char c = (unsigned char)text[i];
		if (isalnum(c) || c == '-' || c == '_')
			out[o++] = (char)tolower(c);
		else if (c == ' ')
			out[o++] = '-';
	}
	out[o] = '\0';
}

/* Whether the page has a heading whose anchor is anchor (code blocks skipped). */
static bool has_anchor(const char *page, const char *anchor)
{
	bool code = false;
	for (const char *p = page; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, "```", 3) == 0)
			code = !code;
		if (code || *p != '#')
			continue;
		const char *t = p;
		while (*t == '#')
			t++;
		while (*t == ' ')
			t++;
		char s[256];
		slug(t, strcspn(t, "\n"), s, sizeof(s));
		if (strcmp(s, anchor) == 0)
			return true;
	}
	return false;
}

/* The directory part of rel ("docs/" of "docs/x.md", "" of "README.md"). */
static void dir_of(const char *rel, char *out, size_t cap)
{
	const char *slash = strrchr(rel, '/');
	snprintf(out, cap, "%.*s", slash ? (int)(slash - rel + 1) : 0, rel);
}

/* Resolves target relative to the page's directory, "../" steps included. */
static void resolve(const char *dir, const char *target, size_t n, char *out, size_t cap)
{
	char buf[1200];
	snprintf(buf, sizeof(buf), "%s%.*s", dir, (int)n, target);
	char *p;
	while ((p = strstr(buf, "/../"))) {
		char *start = p;
		while (start > buf && start[-1] != '/')
			start--;
		memmove(start, p + 4, strlen(p + 4) + 1);
	}
	if (strncmp(buf, "docs/../", 8) == 0)
		memmove(buf, buf + 8, strlen(buf + 8) + 1);
	snprintf(out, cap, "%s", buf);
}

static int check_page(const char *rel)
{
	char *page = read_page(rel);
	cr_assert(page, "cannot read %s", rel);
	char dir[600];
	dir_of(rel, dir, sizeof(dir));
	int links = 0;
	bool code = false;
	for (const char *line = page; line && *line;
	     line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (strncmp(line, "```", 3) == 0)
			code = !code;
		const char *eol = line + strcspn(line, "\n");
		for (const char *p = line; !code && (p = strstr(p, "](")) && p < eol; p += 2) {
			const char *t = p + 2;
			size_t n = strcspn(t, ")");
			if (strncmp(t, "http://", 7) == 0 || strncmp(t, "https://", 8) == 0)
				continue;
			const char *hash = memchr(t, '#', n);
			size_t flen = hash ? (size_t)(hash - t) : n;
			char file[1200], anchor[256] = "";
			if (flen)
				resolve(dir, t, flen, file, sizeof(file));
			else
				snprintf(file, sizeof(file), "%s", rel);
			if (hash)
				snprintf(anchor, sizeof(anchor), "%.*s", (int)(n - flen - 1),
					 hash + 1);
			char *target = read_page(file);
			cr_expect(target, "%s: link to %.*s: no file %s", rel, (int)n, t, file);
			if (target && anchor[0])
				cr_expect(has_anchor(target, anchor),
					  "%s: link to %.*s: no heading #%s in %s", rel, (int)n, t,
					  anchor, file);
			free(target);
			links++;
		}
	}
	free(page);
	return links;
}

Test(docs, every_link_resolves)
{
	int links = check_page("README.md");
	cr_assert_gt(links, 10, "the README links to its reference");
	char path[1200];
	snprintf(path, sizeof(path), "%s/docs", tl_src_dir());
	DIR *d = opendir(path);
	cr_assert(d);
	for (struct dirent *e; (e = readdir(d));) {
		size_t n = strlen(e->d_name);
		if (n < 4 || strcmp(e->d_name + n - 3, ".md") != 0)
			continue;
		char rel[600];
		snprintf(rel, sizeof(rel), "docs/%s", e->d_name);
		check_page(rel);
	}
	closedir(d);
}

Test(docs, the_readme_is_a_guide_of_at_most_500_lines)
{
	char *page = read_page("README.md");
	cr_assert(page);
	int lines = 0;
	for (const char *p = page; *p; p++)
		lines += *p == '\n';
	cr_assert_leq(lines, 500, "README.md has %d lines", lines);
	/* The two commands of the first screen come first. */
	const char *run = strstr(page, "make run"), *contents = strstr(page, "## ");
	cr_assert(run && contents && run < contents, "make run is not on the first screen");
	free(page);
}
