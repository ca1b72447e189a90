/* Unit tests of the kernel's text buffer (kernel/textbuf.c): the numbers and JSON
 * strings status.json is made of, checked against json-c reading them back. */
#include <json.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../kernel/textbuf.h"

TestSuite(textbuf, .timeout = 30);

static char *taken(struct textbuf *b)
{
	size_t len = 0;
	char *t = tb_take(b, &len);
	cr_assert(t, "tb_take failed");
	cr_assert_eq(strlen(t), len);
	return t;
}

Test(textbuf, numbers_are_printf_s)
{
	long long v[] = {0, 7, -1, 10, 999, -12345, 1796693086237LL, LLONG_MAX, LLONG_MIN};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct textbuf b;
		tb_init(&b, 0);
		tb_num(&b, v[i]);
		char *t = taken(&b), want[32];
		snprintf(want, sizeof(want), "%lld", v[i]);
		cr_assert_str_eq(t, want);
		free(t);
	}
}

/* Every byte but NUL, alone and between letters, reads back as itself. */
Test(textbuf, every_byte_survives_a_json_round_trip)
{
	for (int c = 1; c < 256; c++) {
		char in[4] = {'a', (char)c, 'b', 0};
		struct textbuf b;
		tb_init(&b, 0);
		tb_json_str(&b, in);
		char *t = taken(&b);
		if (c < 0x80) { /* json-c checks UTF-8 only as a whole; ASCII is enough */
			json_object *o = json_tokener_parse(t);
			cr_assert(o && json_object_is_type(o, json_type_string), "byte %d: %s", c,
				  t);
			cr_assert_str_eq(json_object_get_string(o), in, "byte %d", c);
			json_object_put(o);
		}
		for (const char *p = t; *p; p++)
			cr_assert((unsigned char)*p >= 0x20 && *p != 0x7f, "byte %d raw in %s", c,
				  t);
		free(t);
	}
}

Test(textbuf, escapes_are_the_short_ones_where_json_has_them)
{
	struct textbuf b;
	tb_init(&b, 0);
	tb_json_str(&b, "q\"b\\n\nr\rt\tu\x01/");
	char *t = taken(&b);
	cr_assert_str_eq(t, "\"q\\\"b\\\\n\\nr\\rt\\tu\\u0001/\"");
	free(t);
}

/* Growth from nothing past many doublings keeps every byte in order. */
Test(textbuf, a_long_text_grows_intact)
{
	struct textbuf b;
	tb_init(&b, 0);
	for (int i = 0; i < 20000; i++) {
		tb_num(&b, i);
		tb_putc(&b, ',');
		tb_spaces(&b, i % 3);
	}
	char *t = taken(&b);
	const char *p = t;
	for (int i = 0; i < 20000; i++) {
		char *end;
		cr_assert_eq(strtol(p, &end, 10), i);
		cr_assert_eq(*end, ',');
		p = end + 1 + i % 3;
	}
	cr_assert_eq(*p, '\0');
	free(t);
}

Test(textbuf, an_empty_buffer_is_an_empty_string)
{
	struct textbuf b;
	tb_init(&b, 100);
	char *t = taken(&b);
	cr_assert_str_eq(t, "");
	free(t);
}

/* A size no allocation can meet fails the buffer: later appends do nothing, and
 * tb_take gives NULL rather than a table with a hole in it. */
Test(textbuf, an_impossible_size_fails_and_stays_failed)
{
	/* One that would wrap the length, one past the largest capacity doubling makes. */
	size_t sizes[] = {SIZE_MAX - 2, SIZE_MAX / 2 + 10};
	for (size_t i = 0; i < 2; i++) {
		struct textbuf b;
		tb_init(&b, 0);
		tb_puts(&b, "kept?");
		tb_mem(&b, "x", sizes[i]);
		cr_assert(b.failed, "size %zu", sizes[i]);
		tb_puts(&b, "more");
		cr_assert_eq(b.len, 5, "an append after the failure changed the text");
		size_t len = 7;
		cr_assert_null(tb_take(&b, &len));
		cr_assert_null(b.p);
	}
}
