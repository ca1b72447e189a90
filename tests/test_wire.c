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
