/* Escaping text from outside before anyone prints it. */
#include <string.h>

#include "text.h"

static bool in_range(unsigned char c, unsigned char lo, unsigned char hi)
{
	return c >= lo && c <= hi;
}

size_t text_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t need;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c < 0x80)
		return 1;
	if (in_range(c, 0xc2, 0xdf))
		need = 2;
	else if (in_range(c, 0xe0, 0xef)) {
		need = 3;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (in_range(c, 0xf0, 0xf4)) {
		need = 4;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else
		return 0;
	if (n < need || !in_range(s[1], lo, hi))
		return 0;
	for (size_t i = 2; i < need; i++)
		if (!in_range(s[i], 0x80, 0xbf))
			return 0;
	return need;
}

/* The length of an SGR sequence (ESC [ digits and ; ... m) at s, or 0. */
static size_t sgr_len(const unsigned char *s, size_t n)
{
	if (n < 3 || s[0] != 0x1b || s[1] != '[')
		return 0;
	size_t i = 2;
	while (i < n && (in_range(s[i], '0', '9') || s[i] == ';' || s[i] == ':'))
		i++;
	return i < n && s[i] == 'm' ? i + 1 : 0;
}

static size_t put_hex(char *out, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	out[0] = '\\';
	out[1] = 'x';
	out[2] = hex[c >> 4];
	out[3] = hex[c & 15];
	return 4;
}

/* How many bytes of in[i..n) pass as they are (u > 0), or 0 if in[i] is escaped. */
static size_t passes(const unsigned char *s, size_t n, unsigned flags)
{
	unsigned char c = s[0];
	if (c == '\t')
		return flags & TEXT_KEEP_TAB ? 1 : 0;
	if (c == 0x1b)
		return flags & TEXT_KEEP_SGR ? sgr_len(s, n) : 0;
	if (c < 0x20 || c == 0x7f)
		return 0;
	if (c < 0x80)
		return 1;
	size_t u = text_utf8_len(s, n);
	/* U+0080..U+009F, C2 80..C2 9F: C1 controls (U+009B is a CSI to some terminals). */
	if (u == 2 && c == 0xc2 && s[1] <= 0x9f)
		return 0;
	return u;
}

size_t text_escape(const char *in, size_t n, char *out, unsigned flags)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		size_t u = passes(s + i, n - i, flags);
		if (u) {
			memcpy(out + o, s + i, u);
			o += u;
			i += u;
			continue;
		}
		/* A C1 control goes as both of its bytes. */
		size_t k = s[i] == 0xc2 && i + 1 < n && in_range(s[i + 1], 0x80, 0x9f) ? 2 : 1;
		for (size_t j = 0; j < k; j++)
			o += put_hex(out + o, s[i + j]);
		i += k;
	}
	return o;
}

char *text_escape_str(const char *in, char *dst, size_t cap, unsigned flags)
{
	if (cap == 0)
		return dst;
	const unsigned char *s = (const unsigned char *)in;
	size_t n = strlen(in), o = 0;
	char tmp[8];
	for (size_t i = 0; i < n;) {
		size_t u = passes(s + i, n - i, flags);
		size_t k = u								 ? u
			   : s[i] == 0xc2 && i + 1 < n && in_range(s[i + 1], 0x80, 0x9f) ? 2
											 : 1;
		size_t w = u ? u : text_escape(in + i, k, tmp, flags);
		if (o + w + 1 > cap)
			break;
		memcpy(dst + o, u ? in + i : tmp, w);
		o += w;
		i += k;
	}
	dst[o] = '\0';
	return dst;
}
