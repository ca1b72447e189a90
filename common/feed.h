/* The kernel -> ron-httpd pipe: a stream of snapshots, each a header line
 * "ronfeed 1 CODE HLEN SLEN MLEN\n" and then three bodies: the /healthz text
 * (served with CODE), status.json and the metrics text.  The newest complete
 * snapshot is what ron-httpd serves; it keeps nothing else. */
#ifndef RON_FEED_H
#define RON_FEED_H
#include <stddef.h>

#define FEED_HEADER_MAX 96
#define FEED_BODY_MAX	(64u << 20) /* per body */

struct feed_snap {
	int code; /* 200 or 503 */
	char *body[3];
	size_t len[3];
};
enum { FEED_HEALTHZ, FEED_STATUS, FEED_METRICS };

/* One snapshot in a malloc'd buffer (*out, *outlen); -1 if out of memory. */
int feed_encode(int code, const char *healthz, const char *status, const char *metrics, char **out,
		size_t *outlen);

struct feed_reader {
	char *buf;
	size_t len, cap;
};
void feed_reader_init(struct feed_reader *r);
void feed_reader_free(struct feed_reader *r);
/* Appends bytes; -1 if out of memory. */
int feed_reader_add(struct feed_reader *r, const char *data, size_t n);
/* 1 with the oldest complete snapshot moved into *s (its bodies malloc'd and
 * NUL-terminated; feed_snap_free them), 0 while it is incomplete, -1 with why on a
 * stream that cannot be a feed. */
int feed_reader_next(struct feed_reader *r, struct feed_snap *s, char *why, size_t whylen);
void feed_snap_free(struct feed_snap *s);

#endif
