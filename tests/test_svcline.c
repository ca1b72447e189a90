/* Unit tests of service output as lines (kernel/svcline.c): cutting, long lines in
 * marked pieces, partial last lines, ANSI removal, the three formats, invalid UTF-8
 * in JSON, the rate limit. */
#include <json.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "svcout.h"

TestSuite(svcline, .timeout = 30);

struct got {
	char *text[200];
	size_t len[200];
	unsigned part[200];
	bool more[200];
	int n;
};

static void collect(void *arg, const char *line, size_t len, unsigned part, bool more)
{
	struct got *g = arg;
	cr_assert_lt(g->n, 200);
	g->text[g->n] = malloc(len + 1);
	memcpy(g->text[g->n], line, len);
	g->text[g->n][len] = '\0';
	g->len[g->n] = len;
	g->part[g->n] = part;
	g->more[g->n] = more;
	g->n++;
}

static void got_free(struct got *g)
{
	for (int i = 0; i < g->n; i++)
		free(g->text[i]);
	g->n = 0;
}

Test(svcline, lines_are_joined_across_reads_and_handed_on_whole)
{
	struct svcline l;
	struct got g = {0};
	svcline_init(&l);
	svcline_feed(&l, "one\ntw", 6, collect, &g);
	svcline_feed(&l, "o\n\nthr", 6, collect, &g);
	cr_assert_eq(g.n, 3);
	cr_assert_str_eq(g.text[0], "one");
	cr_assert_str_eq(g.text[1], "two");
	cr_assert_str_eq(g.text[2], "");
	cr_assert_eq(g.part[1], 0);
	cr_assert_not(g.more[1]);
	/* The partial last line comes out only when its writer is gone. */
	svcline_flush(&l, collect, &g);
	cr_assert_eq(g.n, 4);
	cr_assert_str_eq(g.text[3], "thr");
	svcline_flush(&l, collect, &g);
	cr_assert_eq(g.n, 4, "a second flush has nothing left");
	got_free(&g);
	svcline_free(&l);
}

Test(svcline, a_line_of_exactly_the_limit_is_one_line)
{
	struct svcline l;
	struct got g = {0};
	char *big = malloc(SVCLINE_MAX + 1);
	memset(big, 'a', SVCLINE_MAX);
	big[SVCLINE_MAX] = '\n';
	svcline_init(&l);
	/* In two reads, so the limit is met in the buffer, the newline in the next read. */
	svcline_feed(&l, big, SVCLINE_MAX, collect, &g);
	cr_assert_eq(g.n, 0);
	svcline_feed(&l, big + SVCLINE_MAX, 1, collect, &g);
	cr_assert_eq(g.n, 1);
	cr_assert_eq(g.len[0], SVCLINE_MAX);
	cr_assert_eq(g.part[0], 0);
	got_free(&g);
	svcline_free(&l);
	free(big);
}

Test(svcline, a_megabyte_line_comes_in_marked_pieces_none_lost)
{
	struct svcline l;
	struct got g = {0};
	size_t n = 1 << 20;
	char *big = malloc(n + 8);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	memcpy(big + n, "\nnext\n", 6);
	svcline_init(&l);
	/* Fed in odd-sized reads, as a pipe gives them. */
	for (size_t off = 0; off < n + 6; off += 4093)
		svcline_feed(&l, big + off, off + 4093 < n + 6 ? 4093 : n + 6 - off, collect, &g);
	cr_assert_eq(g.n, 65, "1 MiB in %d-byte pieces, then the next line", SVCLINE_MAX);
	size_t total = 0;
	for (int i = 0; i < 64; i++) {
		cr_assert_eq(g.part[i], (unsigned)i + 1);
		cr_assert_eq(g.more[i], i < 63, "piece %d", i + 1);
		cr_assert_eq(memcmp(g.text[i], big + total, g.len[i]), 0, "piece %d", i + 1);
		total += g.len[i];
	}
	cr_assert_eq(total, n);
	cr_assert_str_eq(g.text[64], "next");
	cr_assert_eq(g.part[64], 0);
	got_free(&g);
	svcline_free(&l);
	free(big);
}

Test(svcline, a_long_partial_line_flushed_at_exit_ends_its_pieces)
{
	struct svcline l;
	struct got g = {0};
	char *big = malloc(SVCLINE_MAX + 10);
	memset(big, 'x', SVCLINE_MAX + 10);
	svcline_init(&l);
	svcline_feed(&l, big, SVCLINE_MAX + 10, collect, &g);
	cr_assert_eq(g.n, 1);
	cr_assert(g.more[0]);
	svcline_flush(&l, collect, &g);
	cr_assert_eq(g.n, 2);
	cr_assert_eq(g.len[1], 10);
	cr_assert_eq(g.part[1], 2);
	cr_assert_not(g.more[1]);
	got_free(&g);
	svcline_free(&l);
	free(big);
}

static void strip_is(const char *in, const char *want)
{
	char out[256];
	size_t n = svcline_strip_ansi(in, strlen(in), out);
	out[n] = '\0';
	cr_assert_str_eq(out, want, "strip of %s", in);
}

Test(svcline, ansi_escapes_are_removed)
{
	strip_is("\033[1;31mred\033[0m plain", "red plain");
	strip_is("\033[2K\033[1Gline", "line");
	strip_is("\033]0;title\007text", "text");
	strip_is("\033]8;;http://x\033\\link\033]8;;\033\\", "link");
	strip_is("\033(Bcharset", "charset");
	strip_is("a\033Mb\033", "ab");
	strip_is("no escapes at all", "no escapes at all");
	strip_is("\033[38;5;196", "");
}

static json_object *parse(const char *s, size_t n)
{
	cr_assert_eq(s[n - 1], '\n');
	json_tokener *t = json_tokener_new();
	json_object *o = json_tokener_parse_ex(t, s, (int)n - 1);
	cr_assert(o && json_tokener_get_error(t) == json_tokener_success, "not JSON: %.*s", (int)n,
		  s);
	json_tokener_free(t);
	return o;
}

static const char *field(json_object *o, const char *key)
{
	json_object *v;
	cr_assert(json_object_object_get_ex(o, key, &v), "no %s", key);
	return json_object_get_string(v);
}

Test(svcline, json_has_every_field_and_escapes_what_is_not_utf8)
{
	static char out[SVCLINE_OUT_MAX];
	struct svcline_meta m = {"svc-index", 4242, SVC_STDERR, 0, false, 1700000000123, 0};
	const char line[] = "caf\xc3\xa9 \"q\" \\ tab\t bad\xff end \xe2\x82 \x01";
	size_t n = svcline_fmt_json(&m, line, sizeof(line) - 1, out);
	json_object *o = parse(out, n);
	cr_assert_str_eq(field(o, "level"), "info");
	cr_assert_str_eq(field(o, "event"), "output");
	cr_assert_str_eq(field(o, "service"), "svc-index");
	cr_assert_str_eq(field(o, "pid"), "4242");
	cr_assert_str_eq(field(o, "stream"), "stderr");
	cr_assert_str_eq(field(o, "ts"), "2023-11-14T22:13:20.123Z");
	cr_assert_str_eq(field(o, "line"),
			 "caf\xc3\xa9 \"q\" \\ tab\t bad\\xff end \\xe2\\x82 \x01");
	cr_assert_str_eq(field(o, "escaped"), "true");
	json_object *v;
	cr_assert_not(json_object_object_get_ex(o, "part", &v), "a whole line has no part");
	json_object_put(o);

	/* Surrogates and overlong forms are not UTF-8 either. */
	m.part = 3;
	m.more = true;
	n = svcline_fmt_json(&m, "\xed\xa0\x80 \xc0\xaf ok", 10, out);
	o = parse(out, n);
	cr_assert_str_eq(field(o, "line"), "\\xed\\xa0\\x80 \\xc0\\xaf ok");
	cr_assert_str_eq(field(o, "part"), "3");
	cr_assert_str_eq(field(o, "more"), "true");
	json_object_put(o);

	n = svcline_fmt_json(&m, "plain", 5, out);
	o = parse(out, n);
	cr_assert_not(json_object_object_get_ex(o, "escaped", &v));
	json_object_put(o);
}

Test(svcline, text_prefix_is_padded_and_pieces_are_marked)
{
	char out[512];
	struct svcline_meta m = {"svc-index", 4242, SVC_STDOUT, 0, false, 0, 20};
	size_t n = svcline_fmt_text(&m, "hello", 5, out);
	cr_assert_eq(n, 27);
	cr_assert_eq(memcmp(out, "svc-index[4242]:     hello\n", n), 0, "%.*s", (int)n, out);
	m.service = "a";
	m.pid = 7;
	n = svcline_fmt_text(&m, "x", 1, out);
	cr_assert_eq(memcmp(out, "a[7]:                x\n", n), 0, "%.*s", (int)n, out);
	m.part = 2;
	n = svcline_fmt_text(&m, "y", 1, out);
	cr_assert_eq(memcmp(out, "a[7]+                y\n", n), 0, "%.*s", (int)n, out);
	m.part = 0;
	m.stream = SVC_STDERR;
	m.wall_ms = 1700000000123;
	n = svcline_fmt_file(&m, "z", 1, out);
	cr_assert_eq(memcmp(out, "2023-11-14T22:13:20.123Z 7 stderr: z\n", n), 0, "%.*s", (int)n,
		     out);
}

Test(svcline, rate_limit_allows_the_burst_then_the_rate)
{
	struct svc_rate r = {0};
	int64_t t = 1000000;
	int ok = 0;
	for (int i = 0; i < 50; i++)
		ok += svc_rate_take(&r, 10, 20, t);
	cr_assert_eq(ok, 20, "the burst");
	cr_assert_not(svc_rate_take(&r, 10, 20, t + 50000), "half a token after 50 ms");
	cr_assert(svc_rate_take(&r, 10, 20, t + 100000), "one token after 100 ms at 10/s");
	ok = 0;
	for (int i = 0; i < 50; i++)
		ok += svc_rate_take(&r, 10, 20, t + 100000000);
	cr_assert_eq(ok, 20, "refilled to the burst, not beyond");
	struct svc_rate u = {0};
	for (int i = 0; i < 100000; i++)
		cr_assert(svc_rate_take(&u, 0, 1, t), "rate 0: no limit");
}
