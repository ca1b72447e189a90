/* A growing text buffer for the tables the kernel renders on every tick (status.json
 * above all): plain appends with no format string to interpret, so hundreds of rows
 * cost copies, not printf calls.  A failed allocation is remembered, and later
 * appends do nothing; tb_take() then gives NULL. */
#ifndef RON_TEXTBUF_H
#define RON_TEXTBUF_H
#include <stdbool.h>
#include <stddef.h>

struct textbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

/* An empty buffer with room for about hint bytes (0: a small start). */
void tb_init(struct textbuf *b, size_t hint);
void tb_mem(struct textbuf *b, const void *s, size_t n);
void tb_puts(struct textbuf *b, const char *s);
void tb_putc(struct textbuf *b, char c);
void tb_spaces(struct textbuf *b, int n);
void tb_num(struct textbuf *b, long long v);
/* s as a JSON string: quotes, backslashes and controls escaped, '/' as it is. */
void tb_json_str(struct textbuf *b, const char *s);
/* The NUL-terminated text for the caller to free, its length in *len; NULL if any
 * append failed (the buffer is freed then). */
char *tb_take(struct textbuf *b, size_t *len);

#endif
