/* The growing text buffer of textbuf.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "textbuf.h"

static bool room(struct textbuf *b, size_t n)
{
	if (b->failed)
		return false;
	if (n >= SIZE_MAX - b->len) { /* len + n + 1 would wrap */
		b->failed = true;
		return false;
	}
	size_t need = b->len + n + 1;
	if (need <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need && cap <= SIZE_MAX / 2)
		cap *= 2;
	char *p = cap < need ? NULL : realloc(b->p, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void tb_init(struct textbuf *b, size_t hint)
{
	*b = (struct textbuf){0};
	if (hint)
		room(b, hint);
}

void tb_mem(struct textbuf *b, const void *s, size_t n)
{
	if (!room(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

void tb_puts(struct textbuf *b, const char *s)
{
	tb_mem(b, s, strlen(s));
}

void tb_putc(struct textbuf *b, char c)
{
	if (room(b, 1))
		b->p[b->len++] = c;
}

void tb_spaces(struct textbuf *b, int n)
{
	if (n <= 0 || !room(b, (size_t)n))
		return;
	memset(b->p + b->len, ' ', (size_t)n);
	b->len += (size_t)n;
}

void tb_num(struct textbuf *b, long long v)
{
	char d[24], *e = d + sizeof(d), *p = e;
	/* Digits of the magnitude, as unsigned so that LLONG_MIN has one. */
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	tb_mem(b, p, (size_t)(e - p));
}

void tb_json_str(struct textbuf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	tb_putc(b, '"');
	const unsigned char *p = (const unsigned char *)s, *run = p;
	for (;; p++) {
		unsigned char c = *p;
		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
			continue;
		tb_mem(b, run, (size_t)(p - run));
		run = p + 1;
		if (!c)
			break;
		char esc[6] = {'\\', 0};
		size_t n = 2;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		tb_mem(b, esc, n);
	}
	tb_putc(b, '"');
}

char *tb_take(struct textbuf *b, size_t *len)
{
	if (!room(b, 0)) {
		free(b->p);
		*b = (struct textbuf){0};
		return NULL;
	}
	b->p[b->len] = '\0';
	char *p = b->p;
	if (len)
		*len = b->len;
	*b = (struct textbuf){0};
	return p;
}
