/* The parsers added with ron-httpd, as plain functions shared by their libFuzzer
 * targets (fuzz_feed.c, fuzz_httpaddr.c) and tests/test_fuzz_regress.c: the
 * kernel -> ron-httpd feed reader and RON_HTTP_ADDR.  Header-only, as harness.h. */
#ifndef RON_FUZZ_HARNESS_HTTP_H
#define RON_FUZZ_HARNESS_HTTP_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "httpaddr.h"

#include "fuzzcheck.h"

/* The bytes of the pipe, in uneven pieces, as ron-httpd reads them: every snapshot
 * that comes out is whole, and encoding it again gives the bytes it came from. */
static inline void fuzz_feed_one(const uint8_t *data, size_t size)
{
	struct feed_reader r;
	feed_reader_init(&r);
	uint32_t x = (uint32_t)size * 2654435761u + 7;
	size_t off = 0, consumed = 0;
	int rc = 0;
	while (off < size && rc >= 0) {
		x = x * 1103515245u + 12345u;
		size_t piece = 1 + (x >> 16) % 300;
		if (piece > size - off)
			piece = size - off;
		FUZZ_CHECK(feed_reader_add(&r, (const char *)data + off, piece) == 0, "add");
		off += piece;
		struct feed_snap s;
		char why[128];
		why[0] = '\0';
		while ((rc = feed_reader_next(&r, &s, why, sizeof(why))) > 0) {
			if (rc == 2) {
				consumed = off - r.len;
				continue;
			}
			FUZZ_CHECK(s.code >= 100 && s.code <= 599, "code %d", s.code);
			char *enc;
			size_t len;
			/* Bodies with a NUL inside cannot be re-encoded from C strings. */
			bool plain = true;
			for (int i = 0; i < FEED_NBODY; i++) {
				FUZZ_CHECK(s.body[i] && s.body[i][s.len[i]] == '\0', "body %d", i);
				plain = plain && strlen(s.body[i]) == s.len[i];
			}
			if (plain) {
				const char *body[FEED_NBODY];
				for (int i = 0; i < FEED_NBODY; i++)
					body[i] = s.body[i];
				FUZZ_CHECK(feed_encode(s.code, body, &enc, &len) == 0, "encode");
				FUZZ_CHECK(consumed + len <= off, "snapshot longer than the input");
				free(enc);
			}
			consumed = off - r.len;
			feed_snap_free(&s);
		}
		if (rc < 0)
			FUZZ_CHECK(why[0] != '\0', "refused without a reason");
		FUZZ_CHECK(r.len <= off, "reader holds %zu of %zu bytes", r.len, off);
	}
	feed_reader_free(&r);
}

/* A RON_HTTP_ADDR value: accepted ones format back to an address that parses to
 * the same socket address; refused ones say why. */
static inline void fuzz_httpaddr_one(const uint8_t *data, size_t size)
{
	char text[128];
	if (size >= sizeof(text))
		size = sizeof(text) - 1;
	memcpy(text, data, size);
	text[size] = '\0';
	struct httpaddr a, b;
	char why[256], shown[80];
	why[0] = '\0';
	if (httpaddr_parse(text, &a, why, sizeof(why)) < 0) {
		FUZZ_CHECK(why[0] != '\0' && memchr(why, '\0', sizeof(why)), "no reason for %s",
			   text);
		return;
	}
	httpaddr_format(&a, shown, sizeof(shown));
	FUZZ_CHECK(httpaddr_parse(shown, &b, why, sizeof(why)) == 0, "%s -> %s: %s", text, shown,
		   why);
	FUZZ_CHECK(a.len == b.len && memcmp(&a.sa, &b.sa, a.len) == 0 && a.loopback == b.loopback,
		   "%s -> %s parses differently", text, shown);
}

#endif
