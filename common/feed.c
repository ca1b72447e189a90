/* Snapshots from the kernel to ron-httpd over a pipe: framing only, the bodies
 * are opaque text rendered by the kernel. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"

int feed_encode(int code, const char *const body[FEED_NBODY], char **out, size_t *outlen)
{
	size_t l[FEED_NBODY], total = 0;
	for (int i = 0; i < FEED_NBODY; i++)
		total += l[i] = strlen(body[i]);
	char hdr[FEED_HEADER_MAX];
	int h = snprintf(hdr, sizeof(hdr), "ronfeed 2 %d %zu %zu %zu %zu %zu\n", code, l[0], l[1],
			 l[2], l[3], l[4]);
	total += (size_t)h;
	char *p = malloc(total);
	if (!p)
		return -1;
	memcpy(p, hdr, (size_t)h);
	size_t off = (size_t)h;
	for (int i = 0; i < FEED_NBODY; i++) {
		memcpy(p + off, body[i], l[i]);
		off += l[i];
	}
	*out = p;
	*outlen = total;
	return 0;
}

void feed_reader_init(struct feed_reader *r)
{
	memset(r, 0, sizeof(*r));
}

void feed_reader_free(struct feed_reader *r)
{
	free(r->buf);
	feed_reader_init(r);
}

int feed_reader_add(struct feed_reader *r, const char *data, size_t n)
{
	if (r->len + n > r->cap) {
		size_t cap = r->cap ? r->cap : 65536;
		while (cap < r->len + n)
			cap *= 2;
		char *p = realloc(r->buf, cap);
		if (!p)
			return -1;
		r->buf = p;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, data, n);
	r->len += n;
	return 0;
}

/* A decimal of at most 10 digits, then one space or the newline. */
static const char *number(const char *p, const char *end, uint64_t *v, char stop)
{
	const char *start = p;
	*v = 0;
	while (p < end && isdigit((unsigned char)*p) && p - start < 10)
		*v = *v * 10 + (uint64_t)(*p++ - '0');
	if (p == start || p >= end || *p != stop)
		return NULL;
	return p + 1;
}

static void consume(struct feed_reader *r, size_t n)
{
	memmove(r->buf, r->buf + n, r->len - n);
	r->len -= n;
}

void feed_snap_free(struct feed_snap *s)
{
	for (int i = 0; i < FEED_NBODY; i++) {
		free(s->body[i]);
		s->body[i] = NULL;
		s->len[i] = 0;
	}
}

int feed_reader_next(struct feed_reader *r, struct feed_snap *s, char *why, size_t whylen)
{
	if (r->len == 0)
		return 0;
	char *nl = memchr(r->buf, '\n', r->len < FEED_HEADER_MAX ? r->len : FEED_HEADER_MAX);
	if (!nl) {
		if (r->len >= FEED_HEADER_MAX) {
			snprintf(why, whylen, "no header line in the first %d bytes",
				 FEED_HEADER_MAX);
			return -1;
		}
		return 0;
	}
	static const char magic[] = "ronfeed 2 ";
	const char *end = nl + 1, *p = r->buf;
	uint64_t code, len[FEED_NBODY];
	if (r->len < sizeof(magic) - 1 || memcmp(p, magic, sizeof(magic) - 1) != 0) {
		snprintf(why, whylen, "header does not start with \"%s\"", magic);
		return -1;
	}
	if ((size_t)(end - p) == sizeof(FEED_BEAT) - 1 &&
	    memcmp(p, FEED_BEAT, (size_t)(end - p)) == 0) {
		consume(r, (size_t)(end - p));
		return 2;
	}
	p += sizeof(magic) - 1;
	if (!(p = number(p, end, &code, ' ')) || code < 100 || code > 599) {
		snprintf(why, whylen, "bad status code in the header");
		return -1;
	}
	for (int i = 0; i < FEED_NBODY; i++) {
		char stop = i < FEED_NBODY - 1 ? ' ' : '\n';
		if (!(p = number(p, end, &len[i], stop)) || len[i] > FEED_BODY_MAX) {
			snprintf(why, whylen, "bad body length %d in the header", i + 1);
			return -1;
		}
	}
	size_t hlen = (size_t)(end - r->buf);
	size_t total = hlen;
	for (int i = 0; i < FEED_NBODY; i++)
		total += (size_t)len[i];
	if (r->len < total)
		return 0;
	memset(s, 0, sizeof(*s));
	s->code = (int)code;
	size_t off = hlen;
	for (int i = 0; i < FEED_NBODY; i++) {
		s->body[i] = malloc((size_t)len[i] + 1);
		if (!s->body[i]) {
			feed_snap_free(s);
			snprintf(why, whylen, "out of memory for a %" PRIu64 "-byte body", len[i]);
			return -1;
		}
		memcpy(s->body[i], r->buf + off, (size_t)len[i]);
		s->body[i][len[i]] = '\0';
		s->len[i] = (size_t)len[i];
		off += (size_t)len[i];
	}
	consume(r, total);
	return 1;
}
