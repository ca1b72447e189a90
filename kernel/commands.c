/* What the control socket's requests do: status, and the commands on services
 * (stop, start, restart, lift, signal), passed to each service's monitor over its
 * command pipe.  Every name is checked before anything is done. */
#include <bsd/string.h>
#include <errno.h>
#include <json.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctlreq.h"
#include "kernel.h"
#include "proc.h"

json_object *kernel_reply_error(const char *fmt, ...)
{
	char msg[CFG_ERR_MAX + 512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object *o = json_object_new_object();
	if (!o)
		return NULL; /* the caller answers with its fixed out-of-memory reply */
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return o;
}

struct kernel_svc *kernel_svc_find(struct kernel *k, const char *name)
{
	for (int i = 0; i < k->nsvc; i++)
		if (strcmp(k->svc[i].name, name) == 0)
			return &k->svc[i];
	return NULL;
}

/* "no service named svc-indx; did you mean svc-index?" */
static json_object *unknown(struct kernel *k, const char *name)
{
	const char *best = NULL;
	int bestd = 3;
	for (int i = 0; i < k->nsvc; i++) {
		int d = svc_distance(name, k->svc[i].name);
		if (d < bestd) {
			bestd = d;
			best = k->svc[i].name;
		}
	}
	if (best)
		return kernel_reply_error("no service named %.63s; did you mean %s?", name, best);
	return kernel_reply_error("no service named %.63s", name);
}

static void add_int(json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

/* A service's row in a reply: what a waiting client needs to judge the outcome. */
static json_object *svc_row(const struct kernel *k, const struct kernel_svc *s, int64_t now_us)
{
	json_object *e = json_object_new_object();
	if (!e)
		return NULL;
	json_object_object_add(e, "service", json_object_new_string(s->name));
	json_object_object_add(e, "state", json_object_new_string(svc_state_name(s->state)));
	add_int(e, "pid", s->pid);
	add_int(e, "start", (int64_t)s->start);
	add_int(e, "uptime_ms", kernel_svc_uptime_ms(s, now_us));
	add_int(e, "restarts", s->restarts);
	add_int(e, "rtt_us", s->rtt_us);
	json_object_object_add(e, "reason", json_object_new_string(s->reason));
	add_int(e, "mpid", s->mon == KMON_RUNNING ? s->mpid : 0);
	add_int(e, "start_timeout_ms", svc_num(s->def, &k->cfg, CFG_START_TIMEOUT_MS));
	add_int(e, "stop_timeout_ms", svc_num(s->def, &k->cfg, CFG_STOP_TIMEOUT_MS));
	return e;
}

int kernel_svc_command(struct kernel *k, struct kernel_svc *s, const char *cmd, char *why,
		       size_t whylen)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "%s\n", cmd);
	if (s->mon != KMON_RUNNING || s->cmdfd < 0) {
		snprintf(why, whylen, "its monitor is %s; try again",
			 s->mon == KMON_WAITING ? "being replaced" : "not running");
		return -1;
	}
	ssize_t w;
	do
		w = write(s->cmdfd, line, (size_t)n);
	while (w < 0 && errno == EINTR);
	if (w == n)
		return 0;
	snprintf(why, whylen, "its monitor %d does not read its commands: %s", (int)s->mpid,
		 w < 0 ? strerror(errno) : "short write");
	return -1;
}

enum verb { V_STOP, V_START, V_RESTART, V_LIFT, V_SIGNAL };
static const char *const verbs[] = {"stop", "start", "restart", "lift", "signal"};

/* One service: what the kernel does itself for a service without a monitor (held
 * for its dependencies), else the monitor's command. */
static int apply(struct kernel *k, struct kernel_svc *s, enum verb v, int sig, int64_t now_us,
		 char *why, size_t whylen)
{
	char cmd[32];
	if (s->mon == KMON_HELD || (s->mon == KMON_DOWN && s->want_down)) {
		switch (v) {
		case V_STOP:
			s->want_down = true;
			s->mon = KMON_DOWN;
			s->state = ST_DOWN;
			s->reported = true;
			strlcpy(s->reason, "stopped as asked; kept down", sizeof(s->reason));
			k->dirty = true;
			k->release_due = true;
			return 0;
		case V_START:
		case V_RESTART:
			s->want_down = false;
			s->reason[0] = '\0';
			return kernel_mon_start(k, s, now_us) < 0
				   ? (snprintf(why, whylen, "its monitor could not be started"), -1)
				   : 0;
		default: snprintf(why, whylen, "not started yet"); return -1;
		}
	}
	if (v == V_SIGNAL && s->pid <= 0) {
		snprintf(why, whylen, "not running (%s): no process to signal",
			 svc_state_name(s->state));
		return -1;
	}
	if (v == V_SIGNAL)
		snprintf(cmd, sizeof(cmd), "signal %d", sig);
	else
		strlcpy(cmd, verbs[v], sizeof(cmd));
	if (kernel_svc_command(k, s, cmd, why, whylen) < 0)
		return -1;
	if (v == V_STOP)
		s->want_down = true;
	else if (v == V_START || v == V_RESTART)
		s->want_down = false;
	return 0;
}

static json_object *do_services(struct kernel *k, const struct ctl_req *req, int64_t now_us)
{
	enum verb v = (enum verb)(req->cmd - CTL_STOP);
	bool all = false;
	/* Every name is checked before anything is done. */
	for (int i = 0; i < req->nnames; i++) {
		if (strcmp(req->names[i], "all") == 0)
			all = true;
		else if (!kernel_svc_find(k, req->names[i]))
			return unknown(k, req->names[i]);
	}
	if (k->stopping)
		return kernel_reply_error("ron-kernel is shutting down");
	json_object *o = json_object_new_object(), *rows = json_object_new_array();
	if (!o || !rows) {
		json_object_put(o);
		json_object_put(rows);
		return NULL;
	}
	bool ok = true;
	for (int i = 0; i < k->nsvc; i++) {
		struct kernel_svc *s = &k->svc[i];
		bool named = all;
		for (int j = 0; j < req->nnames && !named; j++)
			named = strcmp(req->names[j], s->name) == 0;
		if (!named)
			continue;
		char why[256] = "";
		json_object *row = svc_row(k, s, now_us);
		if (apply(k, s, v, req->sig, now_us, why, sizeof(why)) < 0) {
			ok = false;
			json_object_object_add(row, "error", json_object_new_string(why));
		}
		json_object_array_add(rows, row);
	}
	struct kernel_field f[] = {KF_STR("command", verbs[v]),
				   KF_NUM("services", (long long)json_object_array_length(rows))};
	kernel_emit(k, KL_INFO, "control", f, 2);
	json_object_object_add(o, "ok", json_object_new_boolean(ok));
	json_object_object_add(o, "services", rows);
	return o;
}

static json_object *do_status(struct kernel *k, int64_t now_us)
{
	/* Someone is looking: every count as of now, not as of each service's last event. */
	kernel_contain_count(k, true);
	struct kernel_status_meta m = kernel_status_meta(k, k->stopping ? "stopping" : "running");
	json_object *o = kernel_status_json(&m, k->svc, k->nsvc, now_us), *a;
	if (!o)
		return kernel_reply_error("out of memory");
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	/* Each row also says how long its service may take to stop and to start. */
	if (json_object_object_get_ex(o, "services", &a))
		for (int i = 0; i < k->nsvc && i < (int)json_object_array_length(a); i++) {
			json_object *e = json_object_array_get_idx(a, (size_t)i);
			add_int(e, "start_timeout_ms",
				svc_num(k->svc[i].def, &k->cfg, CFG_START_TIMEOUT_MS));
			add_int(e, "stop_timeout_ms",
				svc_num(k->svc[i].def, &k->cfg, CFG_STOP_TIMEOUT_MS));
		}
	return o;
}

json_object *kernel_control_request(struct kernel *k, const char *text, size_t len, int64_t now_us)
{
	struct ctl_req req;
	char why[CFG_ERR_MAX];
	if (ctl_req_parse(text, len, &req, why, sizeof(why)) < 0)
		return kernel_reply_error("%s", why);
	json_object *reply;
	switch (req.cmd) {
	case CTL_STATUS: reply = do_status(k, now_us); break;
	case CTL_RELOAD: reply = kernel_reload(k, now_us); break;
	default: reply = do_services(k, &req, now_us); break;
	}
	ctl_req_free(&req);
	return reply ? reply : kernel_reply_error("out of memory");
}
