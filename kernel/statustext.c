/* The status table as JSON text (status.json's schema, docs/output.md), written
 * straight into one buffer: the one rendering of it.  status.json and ron-httpd's
 * /status take the text as it is; the control socket's reply parses it.  No tree of
 * objects is built, so a table of hundreds of services costs one growing buffer per
 * write, not tens of thousands of small allocations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kernel.h"
#include "textbuf.h"

static const char *mon_phase_name(enum kernel_mon_phase p)
{
	switch (p) {
	case KMON_RUNNING: return "running";
	case KMON_WAITING: return "restarting";
	case KMON_HELD: return "held";
	default: return "down";
	}
}

/* One field, indented for its depth, with the comma the next one needs. */
static void key(struct textbuf *f, int depth, const char *k, bool *first)
{
	if (!*first)
		tb_putc(f, ',');
	tb_putc(f, '\n');
	tb_spaces(f, depth * 2);
	tb_putc(f, '"');
	tb_puts(f, k);
	tb_mem(f, "\":", 2);
	*first = false;
}

static void kstr(struct textbuf *f, int depth, const char *k, const char *v, bool *first)
{
	key(f, depth, k, first);
	tb_json_str(f, v);
}

static void knum(struct textbuf *f, int depth, const char *k, long long v, bool *first)
{
	key(f, depth, k, first);
	tb_num(f, v);
}

static void kbool(struct textbuf *f, int depth, const char *k, bool v, bool *first)
{
	key(f, depth, k, first);
	tb_puts(f, v ? "true" : "false");
}

/* A monotonic time as wall-clock ms, for a reader in another process; 0 for none. */
static int64_t wall_of(int64_t mono_us, int64_t now_us, int64_t wall_ms)
{
	if (mono_us <= 0)
		return 0;
	return wall_ms - (now_us > mono_us ? (now_us - mono_us) / 1000 : 0);
}

static void command(struct textbuf *f, const struct svc_def *d, bool *first)
{
	key(f, 3, "command", first);
	tb_putc(f, '[');
	for (int i = -1; d && i < d->nargs; i++) {
		if (i >= 0)
			tb_putc(f, ',');
		tb_json_str(f, i < 0 ? d->bin : d->args[i]);
	}
	tb_putc(f, ']');
}

/* "code 3", "signal KILL" or "" (none yet), and when. */
static void last_exit(struct textbuf *f, const struct kernel_svc *s, int64_t now_us, int64_t wall,
		      bool *first)
{
	char what[48] = "";
	if (s->exit_at_us && s->exit_signal > 0)
		snprintf(what, sizeof(what), "signal %s",
			 sigabbrev_np(s->exit_signal) ? sigabbrev_np(s->exit_signal) : "?");
	else if (s->exit_at_us)
		snprintf(what, sizeof(what), "code %d", s->exit_code);
	kstr(f, 3, "last_exit", what, first);
	knum(f, 3, "last_exit_ms", wall_of(s->exit_at_us, now_us, wall), first);
}

/* The restarts of the last hour, wall-clock ms, oldest first. */
static void recent(struct textbuf *f, const struct kernel_svc *s, int64_t now_us, int64_t wall,
		   bool *first)
{
	key(f, 3, "restart_times_ms", first);
	tb_putc(f, '[');
	bool any = false;
	for (unsigned i = 0; i < s->nrecent; i++) {
		if (now_us - s->recent_us[i] > (int64_t)KERNEL_RECENT_MS * 1000)
			continue;
		if (any)
			tb_putc(f, ',');
		tb_num(f, (long long)wall_of(s->recent_us[i], now_us, wall));
		any = true;
	}
	tb_putc(f, ']');
}

/* What `status NAME` shows beyond the table: since when, what runs, where. */
static void detail(struct textbuf *f, const struct kernel_status_meta *m,
		   const struct kernel_svc *s, int64_t now_us, int64_t wall, bool *first)
{
	const struct svc_def *d = s->def;
	char cg[CGROUP_PATH_MAX + REPORT_NAME_MAX] = "";
	if (m->cg_base)
		snprintf(cg, sizeof(cg), "%s/%s", m->cg_base, s->name);
	const char *log = d && d->log_dir ? d->log_dir : m->log_dir ? m->log_dir : "";
	if (!log[0] && m->run_log)
		log = m->run_log;
	knum(f, 3, "state_since_ms", wall_of(s->state_since_us, now_us, wall), first);
	command(f, d, first);
	kstr(f, 3, "user", d && d->user ? d->user : "", first);
	kstr(f, 3, "group", d && d->group ? d->group : "", first);
	kstr(f, 3, "cgroup", cg, first);
	last_exit(f, s, now_us, wall, first);
	kstr(f, 3, "log_dir", log, first);
	recent(f, s, now_us, wall, first);
}

static void row(struct textbuf *f, const struct kernel_status_meta *m, const struct kernel_svc *s,
		int64_t now_us, int64_t wall)
{
	bool first = true;
	tb_puts(f, "    {");
	kstr(f, 3, "service", s->name, &first);
	kstr(f, 3, "state", svc_state_name(s->state), &first);
	knum(f, 3, "pid", s->pid, &first);
	knum(f, 3, "start", (long long)s->start, &first);
	knum(f, 3, "uptime_ms", kernel_svc_uptime_ms(s, now_us), &first);
	knum(f, 3, "restarts", s->restarts, &first);
	knum(f, 3, "rtt_us", s->rtt_us, &first);
	knum(f, 3, "failures", s->failures, &first);
	knum(f, 3, "procs", s->procs, &first);
	kstr(f, 3, "reason", s->reason, &first);
	kstr(f, 3, "monitor", mon_phase_name(s->mon), &first);
	kbool(f, 3, "want_down", s->want_down, &first);
	knum(f, 3, "mpid", s->mon == KMON_RUNNING ? s->mpid : 0, &first);
	knum(f, 3, "mstart", s->mon == KMON_RUNNING ? (long long)s->mstart : 0, &first);
	knum(f, 3, "monitors_replaced", s->mon_replaced, &first);
	kbool(f, 3, "monitor_degraded", s->mon_degraded, &first);
	kbool(f, 3, "untracked", s->untracked, &first);
	detail(f, m, s, now_us, wall, &first);
	tb_puts(f, "\n    }");
}

char *kernel_status_text(const struct kernel_status_meta *m, const struct kernel_svc *svcs, int n,
			 int64_t now_us, size_t *len)
{
	/* The last table's length: the next is about as long, so one allocation. */
	static size_t last;
	char ts[40], summary[256];
	struct textbuf b, *f = &b;
	tb_init(f, last + last / 8);
	int64_t wall = clock_wall_ms();
	clock_iso8601(wall, ts, sizeof(ts));
	kernel_summary(svcs, n, summary, sizeof(summary));
	bool first = true;
	tb_putc(f, '{');
	knum(f, 1, "v", 1, &first);
	knum(f, 1, "kernel_pid", m->kernel_pid, &first);
	knum(f, 1, "kernel_start", (long long)m->kernel_start, &first);
	kstr(f, 1, "boot_id", m->boot_id ? m->boot_id : "", &first);
	kstr(f, 1, "state", m->state, &first);
	kstr(f, 1, "updated", ts, &first);
	knum(f, 1, "updated_ms", wall, &first);
	/* The heartbeat --check judges by: a clock step moves updated_ms, never this. */
	knum(f, 1, "mono_ms", clock_mono_us() / 1000, &first);
	knum(f, 1, "status_interval_ms", m->status_interval_ms, &first);
	knum(f, 1, "output_dropped", (long long)m->output_dropped, &first);
	kstr(f, 1, "summary", summary, &first);
	key(f, 1, "services", &first);
	tb_putc(f, '[');
	for (int i = 0; i < n; i++) {
		tb_puts(f, i ? ",\n" : "\n");
		row(f, m, &svcs[i], now_us, wall);
	}
	tb_puts(f, n ? "\n  ]\n}" : "]\n}");
	size_t n_text = 0;
	char *text = tb_take(f, &n_text);
	if (text)
		last = n_text;
	if (len)
		*len = n_text;
	return text;
}
