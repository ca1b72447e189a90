/* A control request, parsed: the one JSON line a client sends, checked field by
 * field with no kernel state, so it can be fuzzed alone. */
#ifndef RON_CTLREQ_H
#define RON_CTLREQ_H
#include <stdbool.h>
#include <stddef.h>

enum ctl_cmd { CTL_STATUS, CTL_STOP, CTL_START, CTL_RESTART, CTL_LIFT, CTL_SIGNAL, CTL_RELOAD };

struct ctl_req {
	enum ctl_cmd cmd;
	int sig;      /* CTL_SIGNAL */
	char **names; /* the services named; "all" is kept as a name */
	int nnames;
};

const char *ctl_cmd_name(enum ctl_cmd c);
/* The number of a signal to send (a name such as HUP or a number), or -1 with why. */
int ctl_signal_parse(const char *name, char *why, size_t whylen);
/* 0 with req filled (free it with ctl_req_free), or -1 with why: not JSON, not an
 * object, no or unknown "cmd", no "services" list (or not strings, or a name
 * longer than 63 bytes), a "signal" that is not one to send (KILL, STOP excluded). */
int ctl_req_parse(const char *text, size_t len, struct ctl_req *req, char *why, size_t whylen);
void ctl_req_free(struct ctl_req *req);

#endif
