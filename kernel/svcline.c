/* Service output as lines: the cutting of pipe bytes into bounded lines, the
 * removal of terminal escapes, the three line formats and the rate limit.  No
 * I/O, so the fuzz target and the unit tests call it directly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "text.h"
#include "svcout.h"

void svcline_init(struct svcline *l)
{
	l->buf = NULL;
	l->len = 0;
	l->part = 0;
}

void svcline_free(struct svcline *l)
{
	free(l->buf);
	svcline_init(l);
}

/* The number of the piece that ends a line: 0 when the line was never cut. */
static unsigned last_part(const struct svcline *l)
{
	return l->part ? l->part + 1 : 0;
}

void svcline_feed(struct svcline *l, const char *data, size_t n, svcline_fn *fn, void *arg)
{
	while (n > 0) {
		if (l->len == SVCLINE_MAX) {
			/* Full: the next byte says whether the line ends here or goes on. */
			if (data[0] == '\n') {
				fn(arg, l->buf, l->len, last_part(l), false);
				l->part = 0;
				data++;
				n--;
			} else {
				fn(arg, l->buf, l->len, ++l->part, true);
			}
			l->len = 0;
			continue;
		}
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;
		if (l->len == 0 && take > SVCLINE_MAX) {
			/* data[SVCLINE_MAX] is inside the line: a piece, straight from data. */
			fn(arg, data, SVCLINE_MAX, ++l->part, true);
			data += SVCLINE_MAX;
			n -= SVCLINE_MAX;
			continue;
		}
		if (l->len == 0 && nl) {
			fn(arg, data, take, last_part(l), false);
			l->part = 0;
			data += take + 1;
			n -= take + 1;
			continue;
		}
		if (!l->buf && !(l->buf = malloc(SVCLINE_MAX))) {
			/* No room to wait for the rest: what there is goes on as a piece. */
			fn(arg, data, take, ++l->part, true);
			data += take;
			n -= take;
			continue;
		}
		size_t room = SVCLINE_MAX - l->len, c = take < room ? take : room;
		memcpy(l->buf + l->len, data, c);
		l->len += c;
		data += c;
		n -= c;
		if (c == take && nl) {
			fn(arg, l->buf, l->len, last_part(l), false);
			l->len = 0;
			l->part = 0;
			data++;
			n--;
		}
	}
}

void svcline_flush(struct svcline *l, svcline_fn *fn, void *arg)
{
	if (l->len == 0 && l->part == 0)
		return;
	/* A line cut at exactly SVCLINE_MAX still gets its closing (empty) piece. */
	fn(arg, l->buf ? l->buf : "", l->len, last_part(l), false);
	l->len = 0;
	l->part = 0;
}

static bool in_range(unsigned char c, unsigned char lo, unsigned char hi)
{
	return c >= lo && c <= hi;
}

size_t svcline_strip_ansi(const char *in, size_t n, char *out)
{
	size_t o = 0, i = 0;
	while (i < n) {
		const unsigned char *s = (const unsigned char *)in;
		if (s[i] != 0x1b) {
			out[o++] = in[i++];
			continue;
		}
		size_t j = i + 1;
		if (j >= n) {
			i = j;
			break;
		}
		unsigned char c = s[j];
		if (c == '[') {
			/* CSI: parameters, intermediates, one final byte (ESC[1;31m, ESC[2K). */
			for (j++; j < n && in_range(s[j], 0x30, 0x3f); j++)
				;
			for (; j < n && in_range(s[j], 0x20, 0x2f); j++)
				;
			if (j < n && in_range(s[j], 0x40, 0x7e))
				j++;
		} else if (c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_') {
			/* A string (OSC title, hyperlink; DCS ...) up to BEL or ESC \. */
			for (j++; j < n; j++) {
				if (s[j] == 0x07) {
					j++;
					break;
				}
				if (s[j] == 0x1b && j + 1 < n && s[j + 1] == '\\') {
					j += 2;
					break;
				}
			}
		} else if (in_range(c, 0x20, 0x2f)) {
			/* ESC ( B and the like: intermediates, then a final byte. */
			for (j++; j < n && in_range(s[j], 0x20, 0x2f); j++)
				;
			if (j < n && in_range(s[j], 0x30, 0x7e))
				j++;
		} else if (in_range(c, 0x30, 0x7e)) {
			j++; /* two bytes: ESC 7, ESC M, ESC c ... */
		}
		i = j;
	}
	return o;
}

const char *svc_stream_name(enum svc_stream s)
{
	return s == SVC_STDOUT ? "stdout" : "stderr";
}

/* The same second is formatted once, not once per line. */
static const char *iso8601(int64_t wall_ms)
{
	static char buf[40];
	static int64_t last = -1;
	if (wall_ms != last) {
		clock_iso8601(wall_ms, buf, sizeof(buf));
		last = wall_ms;
	}
	return buf;
}

size_t svcline_fmt_text(const struct svcline_meta *m, const char *line, size_t len, char *out)
{
	int p = snprintf(out, 128, "%.63s[%d]%c", m->service, (int)m->pid, m->part > 1 ? '+' : ':');
	size_t o = p > 0 ? (size_t)p : 0;
	while ((int)o < m->width && o < 120)
		out[o++] = ' ';
	out[o++] = ' ';
	memcpy(out + o, line, len);
	o += len;
	out[o++] = '\n';
	return o;
}

size_t svcline_fmt_file(const struct svcline_meta *m, const char *line, size_t len, char *out)
{
	int p = snprintf(out, 128, "%s %d %s%c ", iso8601(m->wall_ms), (int)m->pid,
			 svc_stream_name(m->stream), m->part > 1 ? '+' : ':');
	size_t o = p > 0 ? (size_t)p : 0;
	memcpy(out + o, line, len);
	o += len;
	out[o++] = '\n';
	return o;
}

static const char hex[] = "0123456789abcdef";

/* A JSON string's contents; returns the length written, *escaped set if a byte was
 * not UTF-8. */
static size_t json_text(const char *in, size_t n, char *out, bool *escaped)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (c >= 0x80) {
			size_t u = text_utf8_len(s + i, n - i);
			if (u) {
				memcpy(out + o, s + i, u);
				o += u;
				i += u;
				continue;
			}
			/* The text \xHH: readable, and never taken for the character U+00HH. */
			*escaped = true;
			out[o++] = '\\';
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
			i++;
			continue;
		}
		i++;
		switch (c) {
		case '"': memcpy(out + o, "\\\"", 2), o += 2; continue;
		case '\\': memcpy(out + o, "\\\\", 2), o += 2; continue;
		case '\b': memcpy(out + o, "\\b", 2), o += 2; continue;
		case '\f': memcpy(out + o, "\\f", 2), o += 2; continue;
		case '\n': memcpy(out + o, "\\n", 2), o += 2; continue;
		case '\r': memcpy(out + o, "\\r", 2), o += 2; continue;
		case '\t': memcpy(out + o, "\\t", 2), o += 2; continue;
		}
		if (c < 0x20 || c == 0x7f) {
			memcpy(out + o, "\\u00", 4);
			o += 4;
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	return o;
}

size_t svcline_fmt_json(const struct svcline_meta *m, const char *line, size_t len, char *out)
{
	bool escaped = false;
	size_t o = 0, cap = 256;
	int p = snprintf(out, cap,
			 "{\"ts\":\"%s\",\"level\":\"info\",\"event\":\"output\",\"service\":\"",
			 iso8601(m->wall_ms));
	o = (size_t)p;
	/* Names are [a-z0-9._-]: nothing to escape, but never trusted blindly. */
	o += json_text(m->service, strnlen(m->service, 63), out + o, &escaped);
	p = snprintf(out + o, cap, "\",\"pid\":%d,\"stream\":\"%s\",\"line\":\"", (int)m->pid,
		     svc_stream_name(m->stream));
	o += (size_t)p;
	o += json_text(line, len, out + o, &escaped);
	out[o++] = '"';
	if (m->part) {
		p = snprintf(out + o, cap, ",\"part\":%u,\"more\":%s", m->part,
			     m->more ? "true" : "false");
		o += (size_t)p;
	}
	if (escaped) {
		memcpy(out + o, ",\"escaped\":true", 15);
		o += 15;
	}
	out[o++] = '}';
	out[o++] = '\n';
	return o;
}

bool svc_rate_take(struct svc_rate *r, long long rate, long long burst, int64_t now_us)
{
	if (rate <= 0)
		return true;
	if (r->last_us == 0) {
		r->tokens = (double)burst;
	} else if (now_us > r->last_us) {
		r->tokens += (double)(now_us - r->last_us) * (double)rate / 1e6;
		if (r->tokens > (double)burst)
			r->tokens = (double)burst;
	}
	r->last_us = now_us;
	if (r->tokens < 1.0)
		return false;
	r->tokens -= 1.0;
	return true;
}
