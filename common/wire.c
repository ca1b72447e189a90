/* The ron-bus codec: v1.health frames encoded and decoded with msgpack-c,
 * byte-exact with rmp-serde 1.3's defaults (WIRE.md). */
#include <arpa/inet.h>
#include <bsd/string.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "wire.h"

/* msgpack-c writes through a callback: ours fills a caller's fixed buffer. */
struct outbuf {
	uint8_t *p;
	size_t cap, len;
};

static int outbuf_write(void *data, const char *buf, size_t len)
{
	struct outbuf *o = data;
	if (len > o->cap - o->len)
		return -1;
	memcpy(o->p + o->len, buf, len);
	o->len += len;
	return 0;
}

static int pack_cstr(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n);
}

/* rmp-serde writes Vec<u8> as an array of integers, not as msgpack bin. */
static int pack_byte_array(msgpack_packer *pk, const uint8_t *b, size_t n)
{
	if (msgpack_pack_array(pk, n))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (msgpack_pack_uint8(pk, b[i]))
			return -1;
	return 0;
}

ssize_t wire_encode(const char *service, const char *method, uint64_t corr_id, const char *variant,
		    const char *detail, uint8_t *buf, size_t cap)
{
	uint8_t inner[WIRE_NAME_MAX * 4];
	struct outbuf in = {inner, sizeof(inner), 0};
	msgpack_packer pk;

	msgpack_packer_init(&pk, &in, outbuf_write);
	if (detail) {
		if (msgpack_pack_map(&pk, 1) || pack_cstr(&pk, variant) ||
		    msgpack_pack_array(&pk, 1) || pack_cstr(&pk, detail))
			return -1;
	} else if (pack_cstr(&pk, variant)) {
		return -1;
	}

	if (cap < 4)
		return -1;
	struct outbuf out = {buf + 4, cap - 4, 0};
	msgpack_packer_init(&pk, &out, outbuf_write);
	if (msgpack_pack_array(&pk, 5) || pack_cstr(&pk, service) || pack_cstr(&pk, method) ||
	    msgpack_pack_uint64(&pk, corr_id) || pack_byte_array(&pk, NULL, 0) ||
	    pack_byte_array(&pk, inner, in.len))
		return -1;
	uint32_t be = htonl((uint32_t)out.len);
	memcpy(buf, &be, 4);
	return (ssize_t)(out.len + 4);
}

ssize_t wire_encode_health_request(const char *service, uint64_t corr_id, uint8_t *buf, size_t cap)
{
	return wire_encode(service, "v1.health", corr_id, "Health", NULL, buf, cap);
}

ssize_t wire_encode_health_reply(const char *service, uint64_t corr_id, uint8_t *buf, size_t cap)
{
	return wire_encode(service, "v1.ok", corr_id, "HealthOk", NULL, buf, cap);
}

int wire_frame_length(const uint8_t hdr[4], uint32_t *len, char *why, size_t whylen)
{
	uint32_t be;
	memcpy(&be, hdr, 4);
	*len = ntohl(be);
	if (*len == 0) {
		snprintf(why, whylen, "empty frame (length 0)");
		return -1;
	}
	if (*len > WIRE_MAX_FRAME) {
		snprintf(why, whylen, "reply too large: %" PRIu32 " bytes (max %u)", *len,
			 WIRE_MAX_FRAME);
		return -1;
	}
	return 0;
}

/* A type with its article, for reasons: "an unsigned integer". */
static const char *type_name(msgpack_object_type t)
{
	switch (t) {
	case MSGPACK_OBJECT_NIL: return "nil";
	case MSGPACK_OBJECT_BOOLEAN: return "a bool";
	case MSGPACK_OBJECT_POSITIVE_INTEGER: return "an unsigned integer";
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "a negative integer";
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: return "a float";
	case MSGPACK_OBJECT_STR: return "a str";
	case MSGPACK_OBJECT_ARRAY: return "an array";
	case MSGPACK_OBJECT_MAP: return "a map";
	case MSGPACK_OBJECT_BIN: return "a bin";
	case MSGPACK_OBJECT_EXT: return "an ext";
	}
	return "an unknown type";
}

static bool str_is(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);
	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
	       memcmp(o->via.str.ptr, s, n) == 0;
}

static int get_str(const msgpack_object *o, const char *field, char *out, size_t outlen, char *why,
		   size_t whylen)
{
	if (o->type != MSGPACK_OBJECT_STR) {
		snprintf(why, whylen, "envelope field %s is %s, expected str", field,
			 type_name(o->type));
		return -1;
	}
	if (o->via.str.size >= outlen) {
		snprintf(why, whylen, "envelope field %s is too long (%" PRIu32 " bytes)", field,
			 o->via.str.size);
		return -1;
	}
	/* msgpack-c gives an empty str a NULL ptr, which memcpy must not see. */
	if (o->via.str.size)
		memcpy(out, o->via.str.ptr, o->via.str.size);
	out[o->via.str.size] = '\0';
	return 0;
}

/* A Vec<u8> field: an array of integers 0..255 (rmp-serde) or msgpack bin.
 * On success *bytes is malloc'd (NULL when empty) and *n its length. */
static int get_bytes(const msgpack_object *o, const char *field, uint8_t **bytes, size_t *n,
		     char *why, size_t whylen)
{
	*bytes = NULL;
	*n = 0;
	if (o->type == MSGPACK_OBJECT_BIN) {
		*n = o->via.bin.size;
		if (*n == 0)
			return 0;
		if (!(*bytes = malloc(*n)))
			goto nomem;
		memcpy(*bytes, o->via.bin.ptr, *n);
		return 0;
	}
	if (o->type != MSGPACK_OBJECT_ARRAY) {
		snprintf(why, whylen, "envelope field %s is %s, expected bytes", field,
			 type_name(o->type));
		return -1;
	}
	*n = o->via.array.size;
	if (*n == 0)
		return 0;
	if (!(*bytes = malloc(*n)))
		goto nomem;
	for (size_t i = 0; i < *n; i++) {
		const msgpack_object *e = &o->via.array.ptr[i];
		if (e->type != MSGPACK_OBJECT_POSITIVE_INTEGER || e->via.u64 > 255) {
			snprintf(why, whylen, "envelope field %s: element %zu is not a byte", field,
				 i);
			free(*bytes);
			*bytes = NULL;
			return -1;
		}
		(*bytes)[i] = (uint8_t)e->via.u64;
	}
	return 0;
nomem:
	snprintf(why, whylen, WIRE_NOMEM " decoding %s", field);
	return -1;
}

/* Big-endian n-byte length at b (n = 1, 2 or 4). */
static uint64_t be_len(const uint8_t *b, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v = v << 8 | b[i];
	return v;
}

/* One object's head at b: how many bytes it takes before its elements, how many
 * bytes of data follow the head (str, bin, ext, numbers), and how many elements
 * it holds (containers; 0 for anything else). */
struct mp_head {
	size_t head;
	uint64_t data, elems;
	bool container;
};

static bool mp_head_read(const uint8_t *b, size_t n, struct mp_head *h)
{
	static const uint8_t fixed[] = {[0xc0 - 0xc0] = 0, [0xc2 - 0xc0] = 0, [0xc3 - 0xc0] = 0,
					[0xca - 0xc0] = 4, [0xcb - 0xc0] = 8, [0xcc - 0xc0] = 1,
					[0xcd - 0xc0] = 2, [0xce - 0xc0] = 4, [0xcf - 0xc0] = 8,
					[0xd0 - 0xc0] = 1, [0xd1 - 0xc0] = 2, [0xd2 - 0xc0] = 4,
					[0xd3 - 0xc0] = 8, [0xd4 - 0xc0] = 2, [0xd5 - 0xc0] = 3,
					[0xd6 - 0xc0] = 5, [0xd7 - 0xc0] = 9, [0xd8 - 0xc0] = 17};
	uint8_t t = b[0];
	*h = (struct mp_head){1, 0, 0, false};
	if (t <= 0x7f || t >= 0xe0)
		return true;
	if (t <= 0x9f) {
		h->container = true;
		h->elems = t <= 0x8f ? 2u * (t & 0x0f) : t & 0x0fu;
		return true;
	}
	if (t <= 0xbf) {
		h->data = t & 0x1f;
		return true;
	}
	if (t == 0xc1)
		return false;
	if (t <= 0xc3 || (t >= 0xca && t <= 0xd8)) {
		h->data = fixed[t - 0xc0];
		return true;
	}
	/* bin8/16/32, ext8/16/32, str8/16/32, array16/32, map16/32: a length follows. */
	static const uint8_t lenbytes[] = {1, 2, 4, 1, 2, 4};
	unsigned lb = t <= 0xc9 ? lenbytes[t - 0xc4] : t <= 0xdb ? 1u << (t - 0xd9) : 2u << (t & 1);
	if (n < 1 + (size_t)lb)
		return false;
	uint64_t len = be_len(b + 1, lb);
	h->head = 1 + lb + (t >= 0xc7 && t <= 0xc9); /* an ext's type byte */
	h->container = t >= 0xdc;
	if (h->container)
		h->elems = t >= 0xde ? 2 * len : len;
	else
		h->data = len;
	return true;
}

int wire_scan(const uint8_t *b, size_t n, unsigned max, unsigned *depth)
{
	/* left[d]: elements still to come in the container open at depth d + 1; owed:
	 * all of them, each of which takes a byte at least. */
	uint64_t left[WIRE_DEPTH_MAX + 1], owed = 0;
	unsigned d = 0;
	size_t off = 0;
	if (max > WIRE_DEPTH_MAX)
		max = WIRE_DEPTH_MAX;
	*depth = 0;
	do {
		struct mp_head h;
		if (off >= n || !mp_head_read(b + off, n - off, &h))
			break;
		if (h.head > n - off || h.data > n - off - h.head)
			break;
		off += h.head + h.data;
		if (d > 0) {
			left[d - 1]--;
			owed--;
		}
		if (h.container && d == max) {
			*depth = max + 1;
			return 0;
		}
		if (h.container && d + 1 > *depth)
			*depth = d + 1;
		if (h.elems > 0) {
			owed += h.elems;
			if (owed > n - off)
				return -1;
			left[d++] = h.elems;
		}
		while (d > 0 && left[d - 1] == 0)
			d--;
	} while (d > 0);
	return 0;
}

/* Refuses, before msgpack-c reads them, bytes it would take too deep a stack for
 * (it says "out of memory") or reserve memory for elements that are not there. */
static int shape_check(const uint8_t *b, size_t n, const char *what, const char *truncated,
		       char *why, size_t whylen)
{
	unsigned depth;
	if (wire_scan(b, n, WIRE_DEPTH_MAX, &depth) < 0) {
		snprintf(why, whylen, "%s", truncated);
		return -1;
	}
	if (depth > WIRE_DEPTH_MAX) {
		snprintf(why, whylen, "%s nested deeper than %d levels", what, WIRE_DEPTH_MAX);
		return -1;
	}
	return 0;
}

/* The payload is itself MessagePack: a unit variant as its name, or a
 * one-entry map {name: value} (a variant with data, or {"Health": nil}). */
static int decode_variant(const uint8_t *b, size_t n, char *out, size_t outlen, char *why,
			  size_t whylen)
{
	msgpack_unpacked u;
	size_t off = 0;
	int rc = -1;

	msgpack_unpacked_init(&u);
	if (n == 0) {
		snprintf(why, whylen, "payload is empty");
		goto out;
	}
	if (shape_check(b, n, "reply payload", "payload is not MessagePack", why, whylen) < 0)
		goto out;
	switch (msgpack_unpack_next(&u, (const char *)b, n, &off)) {
	case MSGPACK_UNPACK_SUCCESS: break;
	case MSGPACK_UNPACK_NOMEM_ERROR:
		snprintf(why, whylen, WIRE_NOMEM " decoding the payload");
		goto out;
	default: snprintf(why, whylen, "payload is not MessagePack"); goto out;
	}
	const msgpack_object *v = &u.data;
	if (v->type == MSGPACK_OBJECT_MAP) {
		if (v->via.map.size != 1) {
			snprintf(why, whylen,
				 "payload is a map of %" PRIu32 " entries, not a variant",
				 v->via.map.size);
			goto out;
		}
		v = &v->via.map.ptr[0].key;
	}
	if (v->type != MSGPACK_OBJECT_STR) {
		snprintf(why, whylen, "payload is %s, not an enum variant", type_name(v->type));
		goto out;
	}
	if (v->via.str.size >= outlen) {
		snprintf(why, whylen, "payload variant name is too long (%" PRIu32 " bytes)",
			 v->via.str.size);
		goto out;
	}
	if (v->via.str.size)
		memcpy(out, v->via.str.ptr, v->via.str.size);
	out[v->via.str.size] = '\0';
	rc = 0;
out:
	msgpack_unpacked_destroy(&u);
	return rc;
}

static const char *const field_names[5] = {"service", "method", "corr_id", "token", "payload"};

/* Gathers the five envelope fields, positional or keyed by name. */
static int envelope_fields(const msgpack_object *env, const msgpack_object *f[5], char *why,
			   size_t whylen)
{
	if (env->type == MSGPACK_OBJECT_ARRAY) {
		if (env->via.array.size != 5) {
			snprintf(why, whylen, "envelope has %" PRIu32 " elements, expected 5",
				 env->via.array.size);
			return -1;
		}
		for (int i = 0; i < 5; i++)
			f[i] = &env->via.array.ptr[i];
		return 0;
	}
	if (env->type != MSGPACK_OBJECT_MAP) {
		snprintf(why, whylen, "envelope is %s, expected an array or map",
			 type_name(env->type));
		return -1;
	}
	for (int i = 0; i < 5; i++) {
		f[i] = NULL;
		for (uint32_t k = 0; k < env->via.map.size; k++)
			if (str_is(&env->via.map.ptr[k].key, field_names[i]))
				f[i] = &env->via.map.ptr[k].val;
		if (!f[i]) {
			snprintf(why, whylen, "envelope map lacks field %s", field_names[i]);
			return -1;
		}
	}
	return 0;
}

int wire_decode(const uint8_t *body, size_t len, struct wire_msg *m, char *why, size_t whylen)
{
	msgpack_unpacked u;
	const msgpack_object *f[5];
	uint8_t *token = NULL, *payload = NULL;
	size_t ntoken, npayload, off = 0;
	int rc = -1;

	memset(m, 0, sizeof(*m));
	msgpack_unpacked_init(&u);
	char truncated[80];
	snprintf(truncated, sizeof(truncated), "truncated body: %zu bytes end inside the envelope",
		 len);
	if (shape_check(body, len, "reply", truncated, why, whylen) < 0)
		goto out;
	switch (msgpack_unpack_next(&u, (const char *)body, len, &off)) {
	case MSGPACK_UNPACK_SUCCESS: break;
	case MSGPACK_UNPACK_CONTINUE:
		snprintf(why, whylen, "truncated body: %zu bytes end inside the envelope", len);
		goto out;
	case MSGPACK_UNPACK_NOMEM_ERROR:
		snprintf(why, whylen, WIRE_NOMEM " decoding the body");
		goto out;
	default: snprintf(why, whylen, "body is not MessagePack"); goto out;
	}
	if (envelope_fields(&u.data, f, why, whylen))
		goto out;
	if (get_str(f[0], "service", m->service, sizeof(m->service), why, whylen) ||
	    get_str(f[1], "method", m->method, sizeof(m->method), why, whylen))
		goto out;
	if (f[2]->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		snprintf(why, whylen, "envelope field corr_id is %s, expected an unsigned integer",
			 type_name(f[2]->type));
		goto out;
	}
	m->corr_id = f[2]->via.u64;
	if (get_bytes(f[3], "token", &token, &ntoken, why, whylen) ||
	    get_bytes(f[4], "payload", &payload, &npayload, why, whylen))
		goto out;
	rc = decode_variant(payload, npayload, m->variant, sizeof(m->variant), why, whylen);
out:
	free(token);
	free(payload);
	msgpack_unpacked_destroy(&u);
	return rc;
}

int wire_check_health_reply(const struct wire_msg *m, uint64_t corr_id, char *why, size_t whylen)
{
	if (m->corr_id != corr_id) {
		snprintf(why, whylen, "corr_id mismatch: sent %" PRIu64 ", got %" PRIu64, corr_id,
			 m->corr_id);
		return -1;
	}
	if (strcmp(m->variant, "HealthOk") != 0) {
		char name[WIRE_NAME_MAX * 4];
		snprintf(why, whylen, "payload is %s, not HealthOk",
			 text_escape_str(m->variant, name, sizeof(name), 0));
		return -1;
	}
	return 0;
}

void wire_service_name(const char *name, char *out, size_t outlen)
{
	strlcpy(out, name, outlen);
	char *dash = strchr(out, '-');
	if (dash)
		*dash = '.';
}
