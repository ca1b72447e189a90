/* The periodic status line in the form RON_STATUS_LINE asks for.  `full` is the
 * key=value line (or JSON object) of kernel_fmt_status, for files, pipes and log
 * shippers; `compact` is for a person at a terminal: the summary, then one short
 * "name state uptime" group per service; `summary` is the summary alone; `off`
 * prints nothing on the tick.  `auto`, the default, is compact on a terminal with
 * text lines and full everywhere else. */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "kernel.h"

enum cfg_status_line kernel_status_line_mode(const struct kernel *k)
{
	enum cfg_status_line m = (enum cfg_status_line)config_num(&k->cfg, CFG_STATUS_LINE);
	if (m == CFG_STLINE_AUTO)
		return k->tty && !k->json ? CFG_STLINE_COMPACT : CFG_STLINE_FULL;
	/* JSON lines are for machines: compact is a text form. */
	if (m == CFG_STLINE_COMPACT && k->json)
		return CFG_STLINE_FULL;
	return m;
}

/* " | svc-index healthy 3m12s", with " restarts N" once it has any. */
static size_t group(const struct kernel_svc *s, bool color, int64_t now_us, char *buf, size_t cap)
{
	char state[64], up[32] = "";
	kernel_color_state(s->reported ? svc_state_name(s->state) : "starting", color, state,
			   sizeof(state));
	if (s->pid > 0) {
		up[0] = ' ';
		kernel_fmt_duration(kernel_svc_uptime_ms(s, now_us), up + 1, sizeof(up) - 1);
	}
	char more[32] = "";
	if (s->restarts)
		snprintf(more, sizeof(more), " restarts %u", s->restarts);
	int n = snprintf(buf, cap, " | %s %s%s%s", s->name, state, up, more);
	return n < 0 ? 0 : (size_t)n;
}

static int compact(bool color, int64_t wall_ms, const struct kernel_svc *svcs, int n, int detail,
		   int64_t now_us, char *buf, size_t cap)
{
	char summary[256];
	kernel_summary(svcs, n, summary, sizeof(summary));
	summary[strcspn(summary, ";")] = '\0'; /* the count: the groups name the rest */
	char ts[40];
	clock_iso8601(wall_ms, ts, sizeof(ts));
	bool ok = kernel_all_healthy(svcs, n);
	int w = snprintf(buf, cap, "%s %s event=status %s", ts, ok ? "info" : "warn", summary);
	size_t len = w < 0 ? 0 : (size_t)w;
	/* Past the detail limit, the healthy ones are only counted. */
	bool brief = n > detail;
	int healthy = 0;
	for (int i = 0; i < n && len < cap; i++) {
		if (brief && svcs[i].state == ST_HEALTHY) {
			healthy++;
			continue;
		}
		len += group(&svcs[i], color, now_us, buf + len, cap - len);
	}
	if (healthy && len < cap) {
		w = snprintf(buf + len, cap - len, " | %d more healthy", healthy);
		len += w < 0 ? 0 : (size_t)w;
	}
	if (len > cap - 2)
		len = cap - 2;
	buf[len++] = '\n';
	buf[len] = '\0';
	return (int)len;
}

int kernel_fmt_status_line(enum cfg_status_line mode, bool json, bool color, int64_t wall_ms,
			   const struct kernel_svc *svcs, int n, int detail, int64_t now_us,
			   char *buf, size_t cap)
{
	if (mode == CFG_STLINE_COMPACT && !json && cap > 2)
		return compact(color, wall_ms, svcs, n, detail, now_us, buf, cap);
	if (mode == CFG_STLINE_SUMMARY) {
		char summary[256];
		kernel_summary(svcs, n, summary, sizeof(summary));
		struct kernel_field f[] = {KF_STR("summary", summary)};
		enum kernel_level level = kernel_all_healthy(svcs, n) ? KL_INFO : KL_WARN;
		return kernel_fmt_line(json, wall_ms, level, "status", f, 1, buf, cap);
	}
	return kernel_fmt_status(json, wall_ms, svcs, n, detail, now_us, buf, cap);
}
