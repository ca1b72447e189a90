/* The v1.health client over a Unix stream socket: one request, one reply,
 * never blocking past its deadline.  A probe is a small state machine that an
 * event loop drives; health_check() runs one to completion. */
#ifndef RON_HEALTH_H
#define RON_HEALTH_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "wire.h"

struct health_result {
	bool ok;
	/* Not ok for the caller's own shortage (EMFILE, ENOMEM...): no verdict on the service. */
	bool local;
	int64_t rtt_us;			/* start of the probe to the verdict */
	pid_t peer_pid;			/* who answered (SO_PEERCRED), 0 if unknown */
	char reason[WIRE_WHY_MAX + 64]; /* empty when ok */
};

enum health_phase { HEALTH_IDLE, HEALTH_CONNECTING, HEALTH_SENDING, HEALTH_RECEIVING, HEALTH_DONE };

struct health_probe {
	enum health_phase phase;
	int fd;
	uint64_t corr_id;
	char wire_name[WIRE_NAME_MAX]; /* the request's service field, echoed in the reply */
	int timeout_ms; /* quoted by a timeout's reason; the caller may set the deadline apart */
	int64_t start_us, deadline_us;
	uint8_t out[128];
	size_t out_len, out_off;
	uint8_t hdr[4];
	uint8_t *body; /* allocated once the length prefix is known to be sane */
	uint32_t body_len;
	size_t in_off;
	struct health_result result;
};

/* Starts a probe; wire_name is the request's service field as sent ("svc.index"),
 * which the reply must echo.  A reply's sender is in result.peer_pid: whether it is
 * the service's own process is for the caller to judge.
 * Returns true if it finished at once (bad path, connect refused, ...), with the
 * verdict in p->result. */
bool health_probe_start(struct health_probe *p, const char *sock_path, const char *wire_name,
			uint64_t corr_id, int timeout_ms, int64_t now_us);
/* The fd and poll events to wait for while the probe is pending. */
int health_probe_fd(const struct health_probe *p);
short health_probe_events(const struct health_probe *p);
/* Advances on poll revents, or on the deadline having passed; true once done. */
bool health_probe_advance(struct health_probe *p, short revents, int64_t now_us);
/* Abandons a pending probe, closing its socket. */
void health_probe_cancel(struct health_probe *p);

/* Runs a probe to completion under poll(); returns r->ok.  service is the
 * service's name ("svc-index"), sent as its wire name ("svc.index"). */
bool health_check(const char *sock_path, const char *service, uint64_t corr_id, int timeout_ms,
		  struct health_result *r);

#endif
