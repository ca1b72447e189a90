/* Text from outside (a service's output, a name or reason in its reply) made safe to
 * print: valid UTF-8 with no control that a terminal or a line-based reader acts on. */
#ifndef RON_TEXT_H
#define RON_TEXT_H
#include <stdbool.h>
#include <stddef.h>

/* The length of the UTF-8 sequence at s (n bytes left), or 0 if it is not one: no
 * overlong forms, no surrogates, nothing above U+10FFFF. */
size_t text_utf8_len(const unsigned char *s, size_t n);

enum {
	TEXT_KEEP_TAB = 1, /* a tab passes (a line of output), else it is escaped */
	TEXT_KEEP_SGR = 2, /* ESC [ ... m (colour) passes: the destination is a terminal */
};
/* Copies in[0..n) to out, each C0 control (but a tab with TEXT_KEEP_TAB), DEL, C1
 * control (U+0080..U+009F) and byte that is not UTF-8 written as the text \xHH, an
 * escape sequence other than SGR (with TEXT_KEEP_SGR) losing its ESC that way.
 * Returns the length: at most 4 * n, which out must have room for. */
size_t text_escape(const char *in, size_t n, char *out, unsigned flags);
/* The same into a NUL-terminated buffer of cap bytes, cut (never inside an escape or
 * a character) to fit; returns dst. */
char *text_escape_str(const char *in, char *dst, size_t cap, unsigned flags);

#endif
