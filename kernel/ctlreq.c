/* Parsing of control requests: {"cmd":"restart","services":["svc-index"]},
 * {"cmd":"signal","signal":"HUP","services":["all"]}, {"cmd":"status"}. */
#include <json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlreq.h"
#include "proc.h"

static const char *const cmd_names[] = {
    [CTL_STATUS] = "status",   [CTL_STOP] = "stop", [CTL_START] = "start",
    [CTL_RESTART] = "restart", [CTL_LIFT] = "lift", [CTL_SIGNAL] = "signal",
    [CTL_RELOAD] = "reload",
};
#define NCMDS (sizeof(cmd_names) / sizeof(cmd_names[0]))

const char *ctl_cmd_name(enum ctl_cmd c)
{
	return (unsigned)c < NCMDS ? cmd_names[c] : "?";
}

void ctl_req_free(struct ctl_req *req)
{
	for (int i = 0; i < req->nnames; i++)
		free(req->names[i]);
	free(req->names);
	memset(req, 0, sizeof(*req));
}

static int names_of(json_object *o, struct ctl_req *req, char *why, size_t whylen)
{
	json_object *names;
	const char *verb = cmd_names[req->cmd];
	if (!json_object_object_get_ex(o, "services", &names) ||
	    !json_object_is_type(names, json_type_array) || json_object_array_length(names) == 0) {
		snprintf(why, whylen, "%s: \"services\" must be a list of names (or \"all\")",
			 verb);
		return -1;
	}
	size_t n = json_object_array_length(names);
	if (n > 4096) {
		snprintf(why, whylen, "%s: more than 4096 names", verb);
		return -1;
	}
	req->names = calloc(n, sizeof(*req->names));
	if (!req->names) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(names, i);
		if (!json_object_is_type(e, json_type_string)) {
			snprintf(why, whylen, "%s: a service name must be a string", verb);
			return -1;
		}
		const char *name = json_object_get_string(e);
		if (strlen(name) > 63 || !name[0]) {
			snprintf(why, whylen, "%s: no service named %.63s%s", verb, name,
				 name[0] ? "..." : "\"\"");
			return -1;
		}
		if (!(req->names[req->nnames] = strdup(name))) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		req->nnames++;
	}
	return 0;
}

int ctl_signal_parse(const char *name, char *why, size_t whylen)
{
	int sig = sig_parse(name);
	/* KILL is the monitor's to send; a stop of any kind (STOP, or TSTP, TTIN, TTOU,
	 * which stop a process that does not catch them) freezes a service behind its
	 * monitor's back. */
	if (sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP || sig == SIGTSTP ||
	    sig == SIGTTIN || sig == SIGTTOU) {
		snprintf(why, whylen,
			 "signal %.32s: not a signal to send (HUP, USR1, TERM, ... or a "
			 "number; not KILL, STOP, TSTP, TTIN or TTOU)",
			 name);
		return -1;
	}
	return sig;
}

int ctl_req_parse(const char *text, size_t len, struct ctl_req *req, char *why, size_t whylen)
{
	memset(req, 0, sizeof(*req));
	json_tokener *tok = json_tokener_new();
	if (!tok) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	json_object *o = len <= 1u << 30 ? json_tokener_parse_ex(tok, text, (int)len) : NULL;
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	json_tokener_free(tok);
	int rc = -1;
	json_object *cmdo, *sigo;
	if (!o || jerr != json_tokener_success || !json_object_is_type(o, json_type_object)) {
		snprintf(why, whylen, "not a JSON object: %s",
			 jerr != json_tokener_success ? json_tokener_error_desc(jerr)
						      : "another type");
		goto out;
	}
	const char *cmd = json_object_object_get_ex(o, "cmd", &cmdo) &&
				  json_object_is_type(cmdo, json_type_string)
			      ? json_object_get_string(cmdo)
			      : NULL;
	if (!cmd) {
		snprintf(why, whylen,
			 "no \"cmd\" (status, stop, start, restart, lift, signal, reload)");
		goto out;
	}
	size_t c = 0;
	while (c < NCMDS && strcmp(cmd, cmd_names[c]) != 0)
		c++;
	if (c == NCMDS) {
		snprintf(
		    why, whylen,
		    "unknown command %.32s (status, stop, start, restart, lift, signal, reload)",
		    cmd);
		goto out;
	}
	req->cmd = (enum ctl_cmd)c;
	if (req->cmd == CTL_SIGNAL) {
		const char *sn = json_object_object_get_ex(o, "signal", &sigo) &&
					 json_object_is_type(sigo, json_type_string)
				     ? json_object_get_string(sigo)
				     : "";
		if ((req->sig = ctl_signal_parse(sn, why, whylen)) < 0)
			goto out;
	}
	if (req->cmd == CTL_STATUS || req->cmd == CTL_RELOAD || names_of(o, req, why, whylen) == 0)
		rc = 0;
out:
	json_object_put(o);
	if (rc < 0)
		ctl_req_free(req);
	return rc;
}
