/* The ron-bus wire format (shared/design WIRE.md): u32 big-endian length +
 * a MessagePack 5-array envelope, encoded and decoded with msgpack-c. */
#ifndef RON_WIRE_H
#define RON_WIRE_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WIRE_MAX_FRAME (1u << 20) /* the protocol's max_frame: 1 MiB */
#define WIRE_NAME_MAX  64
#define WIRE_WHY_MAX   160
/* How every reason for a decoder's own allocation failure begins: the decoder ran
 * short, which says nothing about the bytes. */
#define WIRE_NOMEM "out of memory"
/* The deepest nesting of containers a reply (its envelope, and its payload on its
 * own) may have.  The real replies are 3 deep; msgpack-c's unpacker keeps a stack
 * of 32, and reports one that runs out as if memory had. */
#define WIRE_DEPTH_MAX 32

/* A decoded envelope.  `variant` is the payload's enum variant name
 * ("Health", "HealthOk", "Err", ...), whether written as a string or as a
 * one-entry map {variant: value}. */
struct wire_msg {
	char service[WIRE_NAME_MAX];
	char method[WIRE_NAME_MAX];
	uint64_t corr_id;
	char variant[WIRE_NAME_MAX];
};

/* Encodes one whole frame (length prefix included) into buf.  The payload is
 * the unit variant `variant`, or with detail != NULL the variant carrying
 * [detail] ({"Err": ["..."]}).  Returns the frame length, or -1 if it does
 * not fit in cap. */
ssize_t wire_encode(const char *service, const char *method, uint64_t corr_id, const char *variant,
		    const char *detail, uint8_t *buf, size_t cap);
ssize_t wire_encode_health_request(const char *service, uint64_t corr_id, uint8_t *buf, size_t cap);
ssize_t wire_encode_health_reply(const char *service, uint64_t corr_id, uint8_t *buf, size_t cap);

/* Reads a frame's length prefix; 0 when it is 1..WIRE_MAX_FRAME, else -1 and why. */
int wire_frame_length(const uint8_t hdr[4], uint32_t *len, char *why, size_t whylen);

/* Decodes a frame body (no prefix) into m; 0, or -1 with a reason naming what
 * was wrong.  Trailing bytes after the envelope are ignored, as upstream does.
 * A body or payload nested deeper than WIRE_DEPTH_MAX is malformed, one that
 * declares more elements than it holds truncated. */
/* Walks the first MessagePack object in b without decoding it: *depth is how deep
 * it nests its containers (0 for a scalar), counted up to max + 1.  -1 when its
 * containers declare more elements than the bytes after them could hold (a byte
 * each at least), which msgpack-c would reserve memory for before finding out. */
int wire_scan(const uint8_t *b, size_t n, unsigned max, unsigned *depth);
int wire_decode(const uint8_t *body, size_t len, struct wire_msg *m, char *why, size_t whylen);

/* 0 if m is a healthy reply to corr_id, else -1 and why. */
int wire_check_health_reply(const struct wire_msg *m, uint64_t corr_id, char *why, size_t whylen);

/* The envelope's service name for a process name: "svc-index" -> "svc.index". */
void wire_service_name(const char *name, char *out, size_t outlen);

#endif
