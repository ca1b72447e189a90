/* libFuzzer target: a service's output pipe as the kernel reads it (kernel/svcline.c):
 * the bytes cut into lines and pieces at split points taken from the input, escapes
 * removed, each piece formatted as text, JSON and a log line.  Checks that no byte
 * is lost or invented, no piece passes the limit, and every JSON object parses back
 * to the piece it was made from. */
#include <json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "svcout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	size_t bytes, ends;
};

static void check_piece(void *arg, const char *line, size_t len, unsigned part, bool more)
{
	static char out[SVCLINE_OUT_MAX], plain[SVCLINE_MAX];
	struct seen *s = arg;
	if (len > SVCLINE_MAX || (more && part == 0))
		abort();
	s->bytes += len;
	s->ends += !more;
	size_t n = svcline_strip_ansi(line, len, plain);
	if (n > len)
		abort();
	struct svcline_meta m = {"svc-x",	42, part & 1 ? SVC_STDERR : SVC_STDOUT, part, more,
				 1700000000000, 20};
	size_t o = svcline_fmt_json(&m, plain, n, out);
	if (o > SVCLINE_OUT_MAX || out[o - 1] != '\n')
		abort();
	json_tokener *t = json_tokener_new();
	json_object *j = json_tokener_parse_ex(t, out, (int)o - 1);
	if (!j || json_tokener_get_error(t) != json_tokener_success)
		abort();
	json_object *v, *e;
	if (!json_object_object_get_ex(j, "line", &v))
		abort();
	/* Unescaped, the line is the piece itself, NUL bytes and all. */
	if (!json_object_object_get_ex(j, "escaped", &e) &&
	    ((size_t)json_object_get_string_len(v) != n ||
	     memcmp(json_object_get_string(v), plain, n) != 0))
		abort();
	json_object_put(j);
	json_tokener_free(t);
	if (svcline_fmt_text(&m, plain, n, out) > SVCLINE_OUT_MAX)
		abort();
	if (svcline_fmt_file(&m, plain, n, out) > SVCLINE_OUT_MAX)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	/* The first two bytes: how the pipe cuts the rest into reads. */
	size_t step = 1 + ((size_t)data[0] << 8 | data[1]) % 4096;
	data += 2;
	size -= 2;
	struct svcline l;
	struct seen s = {0, 0};
	svcline_init(&l);
	for (size_t off = 0; off < size; off += step)
		svcline_feed(&l, (const char *)data + off, size - off < step ? size - off : step,
			     check_piece, &s);
	size_t newlines = 0;
	for (size_t i = 0; i < size; i++)
		newlines += data[i] == '\n';
	svcline_flush(&l, check_piece, &s);
	svcline_free(&l);
	if (s.bytes + newlines != size)
		abort();
	return 0;
}
