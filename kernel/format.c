/* The lines a person (or a log shipper) reads on stdout: one event per line and
 * the aggregated status line, as key=value text or as one JSON object. */
#include <bsd/string.h>
#include <json.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "kernel.h"
#include "proc.h"

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static const char *const level_names[] = {
    [KL_INFO] = "info", [KL_WARN] = "warn", [KL_ERROR] = "error"};

const char *kernel_level_name(enum kernel_level l)
{
	return (unsigned)l <= KL_ERROR ? level_names[l] : "info";
}

void kernel_fmt_text_value(const char *v, char *buf, size_t cap)
{
	bool quote = v[0] == '\0';
	for (const char *p = v; *p && !quote; p++)
		quote =
		    *p == ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p < 0x20;
	if (!quote) {
		strlcpy(buf, v, cap);
		return;
	}
	size_t o = 0;
	/* Room is kept for an escape pair, the closing quote and the NUL. */
	if (cap < 4) {
		if (cap)
			buf[0] = '\0';
		return;
	}
	buf[o++] = '"';
	for (const char *p = v; *p && o + 4 < cap; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else if (c < 0x20) {
			buf[o++] = '?';
		} else {
			buf[o++] = (char)c;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

/* Ends what is in buf (len bytes so far, maybe truncated) with a newline. */
static int finish(char *buf, size_t cap, size_t len)
{
	if (cap < 2) {
		if (cap)
			buf[0] = '\0';
		return 0;
	}
	if (len > cap - 2)
		len = cap - 2;
	buf[len++] = '\n';
	buf[len] = '\0';
	return (int)len;
}

/* Adds v (owned) under key; a NULL o or v (memory ran out) clears *ok. */
static void jadd(json_object *o, const char *key, json_object *v, bool *ok)
{
	if (!*ok || !o || !v || json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		*ok = false;
	}
}

/* The line, or 0 and no line when memory ran out on the way. */
static int fmt_json(json_object *o, bool ok, char *buf, size_t cap)
{
	const char *s = ok && o ? json_object_to_json_string_ext(o, JSON_FLAGS) : NULL;
	size_t n = s ? strlcpy(buf, s, cap) : 0;
	json_object_put(o);
	if (!s) {
		if (cap)
			buf[0] = '\0';
		return 0;
	}
	return finish(buf, cap, n);
}

static json_object *json_head(int64_t wall_ms, enum kernel_level level, const char *event, bool *ok)
{
	char ts[40];
	clock_iso8601(wall_ms, ts, sizeof(ts));
	json_object *o = json_object_new_object();
	*ok = o != NULL;
	jadd(o, "ts", json_object_new_string(ts), ok);
	jadd(o, "level", json_object_new_string(kernel_level_name(level)), ok);
	jadd(o, "event", json_object_new_string(event), ok);
	return o;
}

static size_t text_head(int64_t wall_ms, enum kernel_level level, const char *event, char *buf,
			size_t cap)
{
	char ts[40];
	clock_iso8601(wall_ms, ts, sizeof(ts));
	int n = snprintf(buf, cap, "%s %s event=%s", ts, kernel_level_name(level), event);
	return n < 0 ? 0 : (size_t)n;
}

static void text_add(char *buf, size_t cap, size_t *len, const char *key,
		     const struct kernel_field *f)
{
	char val[REPORT_REASON_MAX * 2 + 8];
	if (f->str)
		kernel_fmt_text_value(f->str, val, sizeof(val));
	else
		snprintf(val, sizeof(val), "%lld", f->num);
	if (*len >= cap)
		return;
	int n = snprintf(buf + *len, cap - *len, " %s=%s", key, val);
	if (n > 0)
		*len += (size_t)n;
}

int kernel_fmt_line(bool json, int64_t wall_ms, enum kernel_level level, const char *event,
		    const struct kernel_field *f, int nf, char *buf, size_t cap)
{
	if (json) {
		bool ok;
		json_object *o = json_head(wall_ms, level, event, &ok);
		for (int i = 0; i < nf; i++)
			jadd(o, f[i].key,
			     f[i].str ? json_object_new_string(f[i].str)
				      : json_object_new_int64(f[i].num),
			     &ok);
		return fmt_json(o, ok, buf, cap);
	}
	size_t len = text_head(wall_ms, level, event, buf, cap);
	for (int i = 0; i < nf; i++)
		text_add(buf, cap, &len, f[i].key, &f[i]);
	return finish(buf, cap, len);
}

/* How loud a report is. */
static enum kernel_level report_level(const struct report *r)
{
	switch (r->event) {
	case EV_EXITED:
		return r->state == ST_STOPPING || r->state == ST_STOPPED ? KL_INFO : KL_WARN;
	case EV_DEGRADED:
	case EV_UNHEALTHY:
	case EV_RESTARTING: return KL_WARN;
	case EV_CHECK_SKIPPED:
	case EV_SPAWN_DEFERRED: return KL_WARN;
	case EV_SPAWN_FAILED:
	case EV_MONITOR_FAILED:
	case EV_QUARANTINED: return KL_ERROR;
	default: return KL_INFO;
	}
}

int kernel_fmt_report(bool json, int64_t wall_ms, const struct report *r, char *buf, size_t cap)
{
	struct kernel_field f[12];
	int n = 0;
	char sig[32] = "";
	f[n++] = KF_STR("service", r->service);
	f[n++] = KF_STR("state", svc_state_name(r->state));
	switch (r->event) {
	case EV_CHECK: return 0;
	case EV_SPAWNED:
		f[n++] = KF_NUM("pid", r->pid);
		f[n++] = KF_NUM("restarts", r->restarts);
		break;
	case EV_READY:
	case EV_HEALTHY:
		f[n++] = KF_NUM("pid", r->pid);
		if (r->rtt_us >= 0) /* none for a service checked by liveness only */
			f[n++] = KF_NUM("rtt_us", r->rtt_us);
		break;
	case EV_DEGRADED:
	case EV_UNHEALTHY:
		f[n++] = KF_NUM("pid", r->pid);
		f[n++] = KF_NUM("failures", r->failures);
		break;
	case EV_EXITED:
	case EV_STOPPED:
		if (r->pid > 0)
			f[n++] = KF_NUM("pid", r->pid);
		if (r->code >= 0)
			f[n++] = KF_NUM("code", r->code);
		if (r->signal > 0) {
			strlcpy(sig, sig_name(r->signal), sizeof(sig));
			f[n++] = KF_STR("signal", sig);
		}
		if (r->event == EV_EXITED)
			f[n++] = KF_NUM("uptime_ms", r->uptime_ms);
		break;
	case EV_RESTARTING:
	case EV_QUARANTINED:
		f[n++] = KF_NUM("delay_ms", r->delay_ms);
		f[n++] = KF_NUM("restarts", r->restarts);
		break;
	case EV_ADOPTED:
		f[n++] = KF_NUM("pid", r->pid);
		f[n++] = KF_NUM("uptime_ms", r->uptime_ms);
		f[n++] = KF_NUM("restarts", r->restarts);
		break;
	case EV_STOPPING: f[n++] = KF_NUM("pid", r->pid); break;
	case EV_DOWN: break;
	case EV_CHECK_SKIPPED:
	case EV_SPAWN_DEFERRED: f[n++] = KF_NUM("pid", r->pid); break;
	case EV_SPAWN_FAILED:
	case EV_MONITOR_FAILED:
	case EV__COUNT: break;
	}
	f[n++] = KF_NUM("mpid", r->mpid);
	if (r->reason[0])
		f[n++] = KF_STR("reason", r->reason);
	return kernel_fmt_line(json, wall_ms, report_level(r), report_event_name(r->event), f, n,
			       buf, cap);
}

int kernel_fmt_status(bool json, int64_t wall_ms, const struct kernel_svc *svcs, int n, int detail,
		      int64_t now_us, char *buf, size_t cap)
{
	char summary[256], counts[256];
	kernel_summary(svcs, n, summary, sizeof(summary));
	enum kernel_level level = kernel_all_healthy(svcs, n) ? KL_INFO : KL_WARN;
	/* Past the detail limit a line naming every service would be unreadable: the
	 * counts say how many are fine, and only the others are named. */
	bool brief = n > detail;
	kernel_state_counts(svcs, n, counts, sizeof(counts));
	if (json) {
		bool ok;
		json_object *o = json_head(wall_ms, level, "status", &ok);
		jadd(o, "summary", json_object_new_string(summary), &ok);
		if (brief)
			jadd(o, "counts", json_object_new_string(counts), &ok);
		json_object *a = json_object_new_array();
		for (int i = 0; ok && a && i < n; i++) {
			const struct kernel_svc *s = &svcs[i];
			if (brief && s->state == ST_HEALTHY)
				continue;
			json_object *e = json_object_new_object();
			bool eok = e != NULL;
			jadd(e, "service", json_object_new_string(s->name), &eok);
			jadd(e, "state", json_object_new_string(svc_state_name(s->state)), &eok);
			jadd(e, "pid", json_object_new_int(s->pid), &eok);
			jadd(e, "uptime_ms", json_object_new_int64(kernel_svc_uptime_ms(s, now_us)),
			     &eok);
			jadd(e, "restarts", json_object_new_int64(s->restarts), &eok);
			if (s->rtt_us > 0) /* none before a check measured one */
				jadd(e, "rtt_us", json_object_new_int64(s->rtt_us), &eok);
			jadd(e, "mpid", json_object_new_int(s->mpid), &eok);
			if (s->mon_degraded)
				jadd(e, "monitor", json_object_new_string("degraded"), &eok);
			if (s->untracked)
				jadd(e, "tracked", json_object_new_boolean(0), &eok);
			if (!eok || json_object_array_add(a, e) < 0) {
				json_object_put(e);
				ok = false;
			}
		}
		jadd(o, "services", a, &ok);
		return fmt_json(o, ok, buf, cap);
	}
	size_t len = text_head(wall_ms, level, "status", buf, cap);
	struct kernel_field sf = KF_STR("summary", summary);
	text_add(buf, cap, &len, "summary", &sf);
	if (brief) {
		struct kernel_field cf = KF_STR("counts", counts);
		text_add(buf, cap, &len, "counts", &cf);
	}
	for (int i = 0; i < n && len < cap; i++) {
		const struct kernel_svc *s = &svcs[i];
		if (brief && s->state == ST_HEALTHY)
			continue;
		int w = snprintf(buf + len, cap - len,
				 " %s.state=%s %s.pid=%d %s.uptime_ms=%lld %s.restarts=%u", s->name,
				 svc_state_name(s->state), s->name, (int)s->pid, s->name,
				 (long long)kernel_svc_uptime_ms(s, now_us), s->name, s->restarts);
		if (w > 0)
			len += (size_t)w;
		/* None before a check measured one. */
		if (s->rtt_us > 0 && len < cap &&
		    (w = snprintf(buf + len, cap - len, " %s.rtt_us=%lld", s->name,
				  (long long)s->rtt_us)) > 0)
			len += (size_t)w;
		/* The service as it last was; its monitor's own trouble beside it. */
		if (s->mon_degraded && len < cap &&
		    (w = snprintf(buf + len, cap - len, " %s.monitor=degraded", s->name)) > 0)
			len += (size_t)w;
		if (s->untracked && len < cap &&
		    (w = snprintf(buf + len, cap - len, " %s.tracked=no", s->name)) > 0)
			len += (size_t)w;
	}
	return finish(buf, cap, len);
}

/* ANSI SGR codes: a state or level word gets one, the line's rest none. */
static const char *state_color(const char *w, size_t n)
{
	static const struct {
		const char *word, *sgr;
	} colors[] = {
	    {"healthy", "32"}, {"degraded", "33"},    {"starting", "33"}, {"stopping", "33"},
	    {"backoff", "33"}, {"quarantined", "31"}, {"stopped", "2"},	  {"down", "2"},
	    {"warn", "33"},    {"error", "31;1"},
	};
	for (size_t i = 0; i < sizeof(colors) / sizeof(colors[0]); i++)
		if (strlen(colors[i].word) == n && strncmp(colors[i].word, w, n) == 0)
			return colors[i].sgr;
	return NULL;
}

void kernel_color_state(const char *state, bool color, char *buf, size_t cap)
{
	const char *sgr = color ? state_color(state, strlen(state)) : NULL;
	if (sgr)
		snprintf(buf, cap, "\033[%sm%s\033[0m", sgr, state);
	else
		snprintf(buf, cap, "%s", state);
}

/* Appends w (n bytes), coloured when it is a word with a colour. */
static void put_word(char *buf, size_t cap, size_t *o, const char *w, size_t n)
{
	const char *sgr = state_color(w, n);
	int k = sgr ? snprintf(buf + *o, cap - *o, "\033[%sm%.*s\033[0m", sgr, (int)n, w)
		    : snprintf(buf + *o, cap - *o, "%.*s", (int)n, w);
	if (k > 0)
		*o = *o + (size_t)k < cap ? *o + (size_t)k : cap - 1;
}

void kernel_color_line(const char *line, char *buf, size_t cap)
{
	size_t o = 0;
	buf[0] = '\0';
	/* The level is the second word of a text line; states follow "state=". */
	const char *p = strchr(line, ' ');
	if (!p || cap < 2) {
		snprintf(buf, cap, "%s", line);
		return;
	}
	put_word(buf, cap, &o, line, (size_t)(p - line + 1));
	p++;
	size_t lw = strcspn(p, " ");
	put_word(buf, cap, &o, p, lw);
	p += lw;
	while (*p && o + 1 < cap) {
		const char *s = strstr(p, "state=");
		if (!s || (s > line && s[-1] != ' ' && s[-1] != '.')) {
			if (!s) {
				put_word(buf, cap, &o, p, strlen(p));
				break;
			}
			put_word(buf, cap, &o, p, (size_t)(s - p) + 6);
			p = s + 6;
			continue;
		}
		put_word(buf, cap, &o, p, (size_t)(s - p) + 6);
		p = s + 6;
		size_t n = strcspn(p, " \n");
		put_word(buf, cap, &o, p, n);
		p += n;
	}
}
