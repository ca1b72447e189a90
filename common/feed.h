/* The kernel -> ron-httpd pipe: a stream of frames.  A snapshot is a header line
 * "ronfeed 2 CODE HLEN RLEN SLEN MLEN PLEN\n" and then five bodies: the /healthz
 * and /readyz texts (both served with CODE), status.json, the metrics text and the
 * status page's HTML.  A beat,
 * "ronfeed 2 beat\n", says only that the kernel's loop is turning: the kernel sends
 * one each FEED_BEAT_MS it has sent nothing else, and ron-httpd's /livez fails when
 * none has come for FEED_SILENT_MS.  The newest complete snapshot is what ron-httpd
 * serves; it keeps nothing else. */
#ifndef RON_FEED_H
#define RON_FEED_H
#include <stddef.h>

#define FEED_HEADER_MAX 96
#define FEED_BODY_MAX	(64u << 20) /* per body */
#define FEED_BEAT	"ronfeed 2 beat\n"
#define FEED_BEAT_MS	1000
#define FEED_SILENT_MS	5000

enum { FEED_HEALTHZ, FEED_READYZ, FEED_STATUS, FEED_METRICS, FEED_PAGE, FEED_NBODY };

struct feed_snap {
	int code; /* 200 or 503 */
	char *body[FEED_NBODY];
	size_t len[FEED_NBODY];
};

/* One snapshot of the bodies, in FEED_HEALTHZ.. order, in a malloc'd buffer (*out,
 * *outlen); -1 if out of memory. */
int feed_encode(int code, const char *const body[FEED_NBODY], char **out, size_t *outlen);

struct feed_reader {
	char *buf;
	size_t len, cap;
};
void feed_reader_init(struct feed_reader *r);
void feed_reader_free(struct feed_reader *r);
/* Appends bytes; -1 if out of memory. */
int feed_reader_add(struct feed_reader *r, const char *data, size_t n);
/* 1 with the oldest complete snapshot moved into *s (its bodies malloc'd and
 * NUL-terminated; feed_snap_free them), 2 for a beat (consumed, *s untouched), 0
 * while the next frame is incomplete, -1 with why on a stream that cannot be a feed. */
int feed_reader_next(struct feed_reader *r, struct feed_snap *s, char *why, size_t whylen);
void feed_snap_free(struct feed_snap *s);

#endif
