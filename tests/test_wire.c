/* The ron-bus codec against WIRE.md's vectors, its tolerated variants and
 * every rejection reason. */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	unsigned v;
	int used;
	while (sscanf(hex, " %2x%n", &v, &used) == 1) {
		cr_assert_lt(n, cap);
		out[n++] = (uint8_t)v;
		hex += used;
	}
	return n;
}

static const char *const names[3] = {"svc-index", "svc-overlay", "svc-storage"};
static const char *const request_vec[3] = {
    "00 00 00 20 95 a9 73 76 63 2e 69 6e 64 65 78 a9 76 31 2e 68 65 61 6c 74 68 00 90 97 cc a6 "
    "48 65 61 6c 74 68",
    "00 00 00 22 95 ab 73 76 63 2e 6f 76 65 72 6c 61 79 a9 76 31 2e 68 65 61 6c 74 68 00 90 97 "
    "cc a6 48 65 61 6c 74 68",
    "00 00 00 22 95 ab 73 76 63 2e 73 74 6f 72 61 67 65 a9 76 31 2e 68 65 61 6c 74 68 00 90 97 "
    "cc a6 48 65 61 6c 74 68",
};
static const char *const reply_vec[3] = {
    "00 00 00 1e 95 a9 73 76 63 2e 69 6e 64 65 78 a5 76 31 2e 6f 6b 00 90 99 cc a8 48 65 61 6c "
    "74 68 4f 6b",
    "00 00 00 20 95 ab 73 76 63 2e 6f 76 65 72 6c 61 79 a5 76 31 2e 6f 6b 00 90 99 cc a8 48 65 "
    "61 6c 74 68 4f 6b",
    "00 00 00 20 95 ab 73 76 63 2e 73 74 6f 72 61 67 65 a5 76 31 2e 6f 6b 00 90 99 cc a8 48 65 "
    "61 6c 74 68 4f 6b",
};

static void assert_bytes_eq(const uint8_t *got, size_t ngot, const uint8_t *want, size_t nwant)
{
	cr_assert_eq(ngot, nwant, "length %zu, expected %zu", ngot, nwant);
	for (size_t i = 0; i < nwant; i++)
		cr_assert_eq(got[i], want[i], "byte %zu: %02x, expected %02x", i, got[i], want[i]);
}

Test(wire, service_name_maps_dash_to_dot)
{
	char s[WIRE_NAME_MAX];
	wire_service_name("svc-overlay", s, sizeof(s));
	cr_assert_str_eq(s, "svc.overlay");
}

Test(wire, encodes_request_vectors)
{
	for (int i = 0; i < 3; i++) {
		uint8_t want[64], got[128];
		char svc[WIRE_NAME_MAX];
		size_t nwant = unhex(request_vec[i], want, sizeof(want));
		wire_service_name(names[i], svc, sizeof(svc));
		ssize_t n = wire_encode_health_request(svc, 0, got, sizeof(got));
		cr_assert_gt(n, 0);
		assert_bytes_eq(got, (size_t)n, want, nwant);
	}
}

Test(wire, encodes_reply_vectors)
{
	for (int i = 0; i < 3; i++) {
		uint8_t want[64], got[128];
		char svc[WIRE_NAME_MAX];
		size_t nwant = unhex(reply_vec[i], want, sizeof(want));
		wire_service_name(names[i], svc, sizeof(svc));
		ssize_t n = wire_encode_health_reply(svc, 0, got, sizeof(got));
		cr_assert_gt(n, 0);
		assert_bytes_eq(got, (size_t)n, want, nwant);
	}
}

Test(wire, decodes_reply_vectors_as_healthy)
{
	for (int i = 0; i < 3; i++) {
		uint8_t frame[64];
		size_t n = unhex(reply_vec[i], frame, sizeof(frame));
		uint32_t len;
		char why[WIRE_WHY_MAX], svc[WIRE_NAME_MAX];
		struct wire_msg m;
		cr_assert_eq(wire_frame_length(frame, &len, why, sizeof(why)), 0);
		cr_assert_eq(len, n - 4);
		cr_assert_eq(wire_decode(frame + 4, len, &m, why, sizeof(why)), 0, "%s", why);
		wire_service_name(names[i], svc, sizeof(svc));
		cr_assert_str_eq(m.service, svc);
		cr_assert_str_eq(m.method, "v1.ok");
		cr_assert_eq(m.corr_id, 0);
		cr_assert_str_eq(m.variant, "HealthOk");
		cr_assert_eq(wire_check_health_reply(&m, 0, why, sizeof(why)), 0, "%s", why);
	}
}

Test(wire, decodes_request_vectors)
{
	uint8_t frame[64];
	size_t n = unhex(request_vec[2], frame, sizeof(frame));
	char why[WIRE_WHY_MAX];
	struct wire_msg m;
	cr_assert_eq(wire_decode(frame + 4, n - 4, &m, why, sizeof(why)), 0, "%s", why);
	cr_assert_str_eq(m.method, "v1.health");
	cr_assert_str_eq(m.variant, "Health");
}

/* corr_id is echoed in the smallest form; WIRE.md gives three widths. */
Test(wire, corr_id_widths_round_trip)
{
	const uint64_t ids[] = {0, 7, 127, 128, 300, 1ull << 32, UINT64_MAX};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		uint8_t buf[128];
		char why[WIRE_WHY_MAX];
		struct wire_msg m;
		ssize_t n = wire_encode_health_reply("svc.storage", ids[i], buf, sizeof(buf));
		cr_assert_gt(n, 0);
		cr_assert_eq(wire_decode(buf + 4, (size_t)n - 4, &m, why, sizeof(why)), 0, "%s",
			     why);
		cr_assert_eq(m.corr_id, ids[i]);
		cr_assert_eq(wire_check_health_reply(&m, ids[i], why, sizeof(why)), 0, "%s", why);
	}
}

Test(wire, corr_id_encodings_match_wire_md)
{
	uint8_t buf[128];
	ssize_t n = wire_encode_health_reply("svc.storage", 7, buf, sizeof(buf));
	cr_assert_eq(n, 0x20 + 4);
	cr_assert_eq(buf[4 + 1 + 12 + 6], 0x07);

	n = wire_encode_health_reply("svc.storage", 300, buf, sizeof(buf));
	cr_assert_eq(n, 0x22 + 4);
	const uint8_t w300[] = {0xcd, 0x01, 0x2c};
	assert_bytes_eq(buf + 4 + 1 + 12 + 6, 3, w300, 3);

	n = wire_encode_health_reply("svc.storage", UINT64_MAX, buf, sizeof(buf));
	cr_assert_eq(n, 0x28 + 4);
	const uint8_t wmax[] = {0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	assert_bytes_eq(buf + 4 + 1 + 12 + 6, 9, wmax, 9);
}

/* Builds a body with msgpack-c so the tolerated forms are produced by the
 * library, not written by hand. */
struct body {
	msgpack_sbuffer sb;
	msgpack_packer pk;
};

static void body_init(struct body *b)
{
	msgpack_sbuffer_init(&b->sb);
	msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
}

static void put_str(struct body *b, const char *s)
{
	msgpack_pack_str(&b->pk, strlen(s));
	msgpack_pack_str_body(&b->pk, s, strlen(s));
}

static void put_bin(struct body *b, const uint8_t *p, size_t n)
{
	msgpack_pack_bin(&b->pk, n);
	msgpack_pack_bin_body(&b->pk, p, n);
}

static void put_int_array(struct body *b, const uint8_t *p, size_t n)
{
	msgpack_pack_array(&b->pk, n);
	for (size_t i = 0; i < n; i++)
		msgpack_pack_uint8(&b->pk, p[i]);
}

static const uint8_t health_ok[] = {0xa8, 'H', 'e', 'a', 'l', 't', 'h', 'O', 'k'};
/* {"HealthOk": nil} */
static const uint8_t health_ok_map[] = {0x81, 0xa8, 'H', 'e', 'a', 'l', 't', 'h', 'O', 'k', 0xc0};
/* {"Err": ["boom"]} */
static const uint8_t err_payload[] = {0x81, 0xa3, 'E', 'r', 'r', 0x91, 0xa4, 'b', 'o', 'o', 'm'};

static int decode_body(struct body *b, struct wire_msg *m, char *why, size_t whylen)
{
	int rc = wire_decode((const uint8_t *)b->sb.data, b->sb.size, m, why, whylen);
	msgpack_sbuffer_destroy(&b->sb);
	return rc;
}

Test(wire, accepts_map_envelope)
{
	struct body b;
	struct wire_msg m;
	char why[WIRE_WHY_MAX];
	body_init(&b);
	msgpack_pack_map(&b.pk, 5);
	put_str(&b, "payload");
	put_int_array(&b, health_ok, sizeof(health_ok));
	put_str(&b, "corr_id");
	msgpack_pack_uint64(&b.pk, 42);
	put_str(&b, "service");
	put_str(&b, "svc.index");
	put_str(&b, "method");
	put_str(&b, "v1.ok");
	put_str(&b, "token");
	put_int_array(&b, NULL, 0);
	cr_assert_eq(decode_body(&b, &m, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(wire_check_health_reply(&m, 42, why, sizeof(why)), 0, "%s", why);
}

Test(wire, accepts_bin_token_and_payload_and_unit_map_variant)
{
	struct body b;
	struct wire_msg m;
	char why[WIRE_WHY_MAX];
	body_init(&b);
	msgpack_pack_array(&b.pk, 5);
	put_str(&b, "svc.index");
	put_str(&b, "v1.ok");
	msgpack_pack_uint64(&b.pk, 9);
	put_bin(&b, (const uint8_t *)"t", 1);
	put_bin(&b, health_ok_map, sizeof(health_ok_map));
	cr_assert_eq(decode_body(&b, &m, why, sizeof(why)), 0, "%s", why);
	cr_assert_str_eq(m.variant, "HealthOk");
	cr_assert_eq(wire_check_health_reply(&m, 9, why, sizeof(why)), 0, "%s", why);
}

Test(wire, accepts_trailing_bytes)
{
	uint8_t frame[80];
	size_t n = unhex(reply_vec[0], frame, sizeof(frame));
	frame[n] = 0xc0;
	frame[n + 1] = 0x01;
	char why[WIRE_WHY_MAX];
	struct wire_msg m;
	cr_assert_eq(wire_decode(frame + 4, n - 4 + 2, &m, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(wire_check_health_reply(&m, 0, why, sizeof(why)), 0, "%s", why);
}

Test(wire, rejects_length_zero_and_oversized_frames)
{
	char why[WIRE_WHY_MAX];
	uint32_t len;
	const uint8_t zero[4] = {0, 0, 0, 0}, huge[4] = {0xff, 0xff, 0xff, 0xff};
	const uint8_t max[4] = {0, 0x10, 0, 0}, over[4] = {0, 0x10, 0, 1};
	cr_assert_eq(wire_frame_length(zero, &len, why, sizeof(why)), -1);
	cr_assert(strstr(why, "empty frame"), "%s", why);
	cr_assert_eq(wire_frame_length(huge, &len, why, sizeof(why)), -1);
	cr_assert(strstr(why, "reply too large: 4294967295 bytes"), "%s", why);
	cr_assert_eq(wire_frame_length(max, &len, why, sizeof(why)), 0);
	cr_assert_eq(wire_frame_length(over, &len, why, sizeof(why)), -1);
	cr_assert(strstr(why, "1048577"), "%s", why);
}

Test(wire, rejects_truncated_body_at_every_length)
{
	uint8_t frame[64];
	size_t n = unhex(reply_vec[1], frame, sizeof(frame));
	for (size_t cut = 1; cut < n - 4; cut++) {
		char why[WIRE_WHY_MAX];
		struct wire_msg m;
		cr_assert_eq(wire_decode(frame + 4, cut, &m, why, sizeof(why)), -1, "cut %zu", cut);
		cr_assert(strstr(why, "truncated"), "cut %zu: %s", cut, why);
	}
}

static void expect_reject(struct body *b, const char *needle)
{
	struct wire_msg m;
	char why[WIRE_WHY_MAX];
	cr_assert_eq(decode_body(b, &m, why, sizeof(why)), -1, "accepted, wanted '%s'", needle);
	cr_assert(strstr(why, needle), "reason '%s' lacks '%s'", why, needle);
}

Test(wire, rejects_non_envelope)
{
	struct body b;
	body_init(&b);
	put_str(&b, "hello");
	expect_reject(&b, "envelope is a str, expected an array or map");
	body_init(&b);
	msgpack_pack_uint64(&b.pk, 5);
	expect_reject(&b, "envelope is an unsigned integer");
}

Test(wire, rejects_not_msgpack)
{
	const uint8_t junk[] = {0xc1, 0x00};
	struct wire_msg m;
	char why[WIRE_WHY_MAX];
	cr_assert_eq(wire_decode(junk, sizeof(junk), &m, why, sizeof(why)), -1);
	cr_assert(strstr(why, "not MessagePack"), "%s", why);
}

Test(wire, rejects_wrong_arity)
{
	for (int n = 0; n <= 7; n++) {
		if (n == 5)
			continue;
		struct body b;
		body_init(&b);
		msgpack_pack_array(&b.pk, (size_t)n);
		for (int i = 0; i < n; i++)
			msgpack_pack_nil(&b.pk);
		char want[48];
		snprintf(want, sizeof(want), "envelope has %d elements, expected 5", n);
		expect_reject(&b, want);
	}
}

static void envelope_with(struct body *b, int bad_field)
{
	body_init(b);
	msgpack_pack_array(&b->pk, 5);
	if (bad_field == 0)
		msgpack_pack_uint64(&b->pk, 1);
	else
		put_str(b, "svc.index");
	if (bad_field == 1)
		msgpack_pack_nil(&b->pk);
	else
		put_str(b, "v1.ok");
	if (bad_field == 2)
		put_str(b, "seven");
	else
		msgpack_pack_uint64(&b->pk, 7);
	if (bad_field == 3)
		msgpack_pack_true(&b->pk);
	else
		put_int_array(b, NULL, 0);
	if (bad_field == 4)
		put_str(b, "HealthOk");
	else
		put_int_array(b, health_ok, sizeof(health_ok));
}

Test(wire, rejects_wrong_field_types)
{
	const char *want[5] = {
	    "service is an unsigned integer, expected str",
	    "method is nil, expected str",
	    "corr_id is a str, expected an unsigned integer",
	    "token is a bool, expected bytes",
	    "payload is a str, expected bytes",
	};
	for (int i = 0; i < 5; i++) {
		struct body b;
		envelope_with(&b, i);
		expect_reject(&b, want[i]);
	}
}

Test(wire, rejects_negative_corr_id_and_non_byte_elements)
{
	struct body b;
	body_init(&b);
	msgpack_pack_array(&b.pk, 5);
	put_str(&b, "svc.index");
	put_str(&b, "v1.ok");
	msgpack_pack_int64(&b.pk, -1);
	put_int_array(&b, NULL, 0);
	put_int_array(&b, health_ok, sizeof(health_ok));
	expect_reject(&b, "corr_id is a negative integer");

	body_init(&b);
	msgpack_pack_array(&b.pk, 5);
	put_str(&b, "svc.index");
	put_str(&b, "v1.ok");
	msgpack_pack_uint64(&b.pk, 0);
	put_int_array(&b, NULL, 0);
	msgpack_pack_array(&b.pk, 1);
	msgpack_pack_uint64(&b.pk, 256);
	expect_reject(&b, "payload: element 0 is not a byte");
}

Test(wire, rejects_map_missing_field)
{
	struct body b;
	body_init(&b);
	msgpack_pack_map(&b.pk, 1);
	put_str(&b, "service");
	put_str(&b, "svc.index");
	expect_reject(&b, "envelope map lacks field method");
}

Test(wire, names_the_payload_that_is_not_health_ok)
{
	struct body b;
	struct wire_msg m;
	char why[WIRE_WHY_MAX];
	body_init(&b);
	msgpack_pack_array(&b.pk, 5);
	put_str(&b, "svc.index");
	put_str(&b, "v1.err");
	msgpack_pack_uint64(&b.pk, 3);
	put_int_array(&b, NULL, 0);
	put_int_array(&b, err_payload, sizeof(err_payload));
	cr_assert_eq(decode_body(&b, &m, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(wire_check_health_reply(&m, 3, why, sizeof(why)), -1);
	cr_assert_str_eq(why, "payload is Err, not HealthOk");
}

Test(wire, rejects_corr_id_mismatch)
{
	uint8_t buf[128];
	char why[WIRE_WHY_MAX];
	struct wire_msg m;
	ssize_t n = wire_encode_health_reply("svc.index", 8, buf, sizeof(buf));
	cr_assert_eq(wire_decode(buf + 4, (size_t)n - 4, &m, why, sizeof(why)), 0);
	cr_assert_eq(wire_check_health_reply(&m, 7, why, sizeof(why)), -1);
	cr_assert_str_eq(why, "corr_id mismatch: sent 7, got 8");
}

Test(wire, rejects_payload_that_is_not_a_variant)
{
	const uint8_t number[] = {0x05}, junk[] = {0xc1};
	struct body b;
	body_init(&b);
	msgpack_pack_array(&b.pk, 5);
	put_str(&b, "svc.index");
	put_str(&b, "v1.ok");
	msgpack_pack_uint64(&b.pk, 0);
	put_int_array(&b, NULL, 0);
	put_int_array(&b, number, 1);
	expect_reject(&b, "payload is an unsigned integer, not an enum variant");

	body_init(&b);
	msgpack_pack_array(&b.pk, 5);
	put_str(&b, "svc.index");
	put_str(&b, "v1.ok");
	msgpack_pack_uint64(&b.pk, 0);
	put_int_array(&b, NULL, 0);
	put_int_array(&b, junk, 1);
	expect_reject(&b, "payload is not MessagePack");
}

Test(wire, err_variant_encodes_with_detail)
{
	uint8_t buf[128];
	char why[WIRE_WHY_MAX];
	struct wire_msg m;
	ssize_t n = wire_encode("svc.index", "v1.err", 1, "Err", "boom", buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert_eq(wire_decode(buf + 4, (size_t)n - 4, &m, why, sizeof(why)), 0, "%s", why);
	cr_assert_str_eq(m.variant, "Err");
}

Test(wire, encode_refuses_small_buffer)
{
	uint8_t buf[16];
	cr_assert_eq(wire_encode_health_request("svc.index", 0, buf, sizeof(buf)), -1);
}

/* wire_scan's depth, or -1 when it finds elements missing. */
static int wire_depth(const uint8_t *b, size_t n, unsigned max)
{
	unsigned d;
	return wire_scan(b, n, max, &d) < 0 ? -1 : (int)d;
}

/* Nesting: the real replies are 2 deep as an envelope and 1 as a payload; the
 * scan counts every MessagePack type's bytes, so what follows a string, a bin or
 * an ext is never taken for a container. */
Test(wire, depth_of_the_vectors_and_of_every_type)
{
	for (int i = 0; i < 3; i++) {
		uint8_t v[64];
		size_t n = unhex(reply_vec[i], v, sizeof(v));
		cr_assert_eq(wire_depth(v + 4, n - 4, WIRE_DEPTH_MAX), 2, "%s", names[i]);
	}
	cr_assert_eq(wire_depth(health_ok_map, sizeof(health_ok_map), WIRE_DEPTH_MAX), 1);
	cr_assert_eq(wire_depth(err_payload, sizeof(err_payload), WIRE_DEPTH_MAX), 2);
	const uint8_t scalar[] = {0x2a}, empty[] = {0x90};
	cr_assert_eq(wire_depth(scalar, 1, WIRE_DEPTH_MAX), 0);
	cr_assert_eq(wire_depth(empty, 1, WIRE_DEPTH_MAX), 1);
	/* One array of every kind of element, each holding bytes that look like arrays. */
	const uint8_t every[] = {0xdc, 0x00, 0x0e,	 /* array16 of 14 */
				 0xa2, 0x91, 0x91,	 /* fixstr "\x91\x91" */
				 0xd9, 0x01, 0x91,	 /* str8 */
				 0xda, 0x00, 0x01, 0x91, /* str16 */
				 0xc4, 0x01, 0x91,	 /* bin8 */
				 0xc7, 0x01, 0x05, 0x91, /* ext8: length, type, data */
				 0xd4, 0x05, 0x91,	 /* fixext1 */
				 0xd8, 0x05, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91,
				 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, /* fixext16 */
				 0xcb, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, /* float64 */
				 0xcd, 0x91, 0x91,				       /* uint16 */
				 0xd3, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, /* int64 */
				 0xc0, 0xc3,			     /* nil, true */
				 0xde, 0x00, 0x01, 0x01, 0x91, 0x02, /* map16 {1: [2]} */
				 0xdd, 0x00, 0x00, 0x00, 0x00};	     /* array32 of 0 */
	cr_assert_eq(wire_depth(every, sizeof(every), WIRE_DEPTH_MAX), 3);
}

/* A body of `levels` one-element arrays around a nil. */
static size_t nested(uint8_t *buf, size_t levels)
{
	memset(buf, 0x91, levels);
	buf[levels] = 0xc0;
	return levels + 1;
}

Test(wire, depth_is_counted_up_to_the_limit_and_one_past_it)
{
	static uint8_t b[500001];
	cr_assert_eq(wire_depth(b, nested(b, 32), WIRE_DEPTH_MAX), 32);
	cr_assert_eq(wire_depth(b, nested(b, 33), WIRE_DEPTH_MAX), 33);
	cr_assert_eq(wire_depth(b, nested(b, 500000), WIRE_DEPTH_MAX), 33);
	cr_assert_eq(wire_depth(b, nested(b, 500000), 3), 4);
	/* Cut short, it owes what never comes; past the limit, depth is found first. */
	cr_assert_eq(wire_depth(b, 10, WIRE_DEPTH_MAX), -1);
	cr_assert_eq(wire_depth(b, 40, WIRE_DEPTH_MAX), 33);
}

/* Elements declared but not there: msgpack-c would reserve 24 bytes for each. */
Test(wire, containers_that_declare_more_than_the_bytes_hold_are_truncated)
{
	const uint8_t array32[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x91, 0x91};
	const uint8_t map16[] = {0xde, 0x00, 0x03, 0x01, 0x02, 0x03, 0x04, 0x05};
	const uint8_t fits[] = {0xde, 0x00, 0x03, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06};
	/* Two open containers owe 3 + 2 elements and 4 bytes remain. */
	const uint8_t owed[] = {0x93, 0x01, 0x92, 0x01, 0x02};
	const uint8_t owed_short[] = {0x93, 0x92, 0x01, 0x02};
	cr_assert_eq(wire_depth(array32, sizeof(array32), WIRE_DEPTH_MAX), -1);
	cr_assert_eq(wire_depth(map16, sizeof(map16), WIRE_DEPTH_MAX), -1);
	cr_assert_eq(wire_depth(fits, sizeof(fits), WIRE_DEPTH_MAX), 1);
	cr_assert_eq(wire_depth(owed, sizeof(owed), WIRE_DEPTH_MAX), -1);
	cr_assert_eq(wire_depth(owed_short, sizeof(owed_short), WIRE_DEPTH_MAX), -1);
	/* The 5-byte body that asked msgpack-c for 12.9 GB. */
	const uint8_t huge[] = {0xdd, 0x20, 0x00, 0x00, 0x00};
	struct wire_msg m;
	char why[WIRE_WHY_MAX];
	cr_assert_eq(wire_decode(huge, sizeof(huge), &m, why, sizeof(why)), -1);
	cr_assert_str_eq(why, "truncated body: 5 bytes end inside the envelope");
}

Test(wire, body_nested_deeper_than_the_limit_is_malformed)
{
	static uint8_t b[500001];
	struct wire_msg m;
	char why[WIRE_WHY_MAX];
	size_t n = nested(b, 500000);
	cr_assert_eq(wire_decode(b, n, &m, why, sizeof(why)), -1);
	cr_assert_str_eq(why, "reply nested deeper than 32 levels");
	cr_assert(strncmp(why, WIRE_NOMEM, strlen(WIRE_NOMEM)) != 0);
	/* 33 is one too many; at 32 msgpack-c decodes it, and it is just no envelope. */
	cr_assert_eq(wire_decode(b, nested(b, 33), &m, why, sizeof(why)), -1);
	cr_assert_str_eq(why, "reply nested deeper than 32 levels");
	cr_assert_eq(wire_decode(b, nested(b, 32), &m, why, sizeof(why)), -1);
	cr_assert_str_eq(why, "envelope has 1 elements, expected 5");
}

Test(wire, payload_nested_deeper_than_the_limit_is_malformed)
{
	uint8_t deep[41];
	size_t n = nested(deep, 40);
	struct body b;
	body_init(&b);
	msgpack_pack_array(&b.pk, 5);
	put_str(&b, "svc.index");
	put_str(&b, "v1.ok");
	msgpack_pack_uint64(&b.pk, 0);
	put_int_array(&b, NULL, 0);
	put_bin(&b, deep, n);
	expect_reject(&b, "reply payload nested deeper than 32 levels");

	/* The same payload 32 deep is decoded, and is no variant. */
	body_init(&b);
	msgpack_pack_array(&b.pk, 5);
	put_str(&b, "svc.index");
	put_str(&b, "v1.ok");
	msgpack_pack_uint64(&b.pk, 0);
	put_int_array(&b, NULL, 0);
	put_bin(&b, deep + 8, n - 8);
	expect_reject(&b, "payload is an array, not an enum variant");
}
