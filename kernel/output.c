/* Where the kernel's lines go: events and status lines to stdout, the table to
 * status.json, the summary to systemd; one place so the three never disagree. */
#include <err.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "clock.h"
#include "kernel.h"
#include "observe.h"
#include "svcout.h"
#include "proc.h"

void kernel_print(struct kernel *k, const char *line)
{
	kernel_out_line(k, KOUT_EVENT, line, (int)strlen(line));
}

/* How long the reader may take nothing at exit before the rest is given up. */
#define DRAIN_STALL_MS 1000

void kernel_out_line(struct kernel *k, enum kernel_out_kind kind, const char *line, int len)
{
	if (len <= 0)
		return;
	char buf[KERNEL_LINE_MAX * 2];
	if (k->color) {
		kernel_color_line(line, buf, sizeof(buf));
		line = buf;
		len = (int)strlen(buf);
	}
	bool was_dropping = k->out.dropping;
	/* status.json, written regardless, tells of a drop as it starts. */
	if (!kernel_outq_push(&k->out, kind, line, (size_t)len) && !was_dropping)
		k->dirty = true;
	kernel_out_flush(k, false);
}

void kernel_out_flush(struct kernel *k, bool writable)
{
	struct kernel_outq *q = &k->out;
	int err;
	kernel_outq_write(q, writable, &err);
	if (err)
		warnx("standard output: %s; event and status lines are dropped from now on "
		      "(status.json stays current)",
		      strerror(err));
	if (!kernel_outq_drops_pending(q))
		return;
	char since[40], line[KERNEL_LINE_MAX];
	clock_iso8601(q->drop_since_ms, since, sizeof(since));
	unsigned long long events = q->dropped[KOUT_EVENT], status = q->dropped[KOUT_STATUS];
	struct kernel_field f[] = {KF_NUM("lines", events + status), KF_NUM("events", events),
				   KF_NUM("status", status), KF_STR("since", since),
				   KF_STR("reason", "standard output could not keep up")};
	kernel_outq_drops_taken(q);
	k->dirty = true;
	int n = kernel_fmt_line(k->json, clock_wall_ms(), KL_WARN, "output_dropped", f, 5, line,
				sizeof(line));
	if (n > 0)
		kernel_out_line(k, KOUT_EVENT, line, n);
}

static void out_flush(void *ctx, bool writable)
{
	kernel_out_flush(ctx, writable);
}

void kernel_out_drain(struct kernel *k)
{
	struct kernel_outq *q = &k->out;
	if (!kernel_outq_drain(q, out_flush, k, DRAIN_STALL_MS))
		warnx("standard output: the reader took nothing for %d ms; %zu bytes of "
		      "event lines not written",
		      DRAIN_STALL_MS, q->len);
	if (q->dropped_total)
		warnx("standard output: %llu lines dropped in all (it could not keep up)",
		      q->dropped_total);
}

void kernel_emit(struct kernel *k, enum kernel_level level, const char *event,
		 const struct kernel_field *f, int nf)
{
	char line[KERNEL_LINE_MAX];
	int n = kernel_fmt_line(k->json, clock_wall_ms(), level, event, f, nf, line, sizeof(line));
	if (n > 0)
		kernel_out_line(k, KOUT_EVENT, line, n);
	else if (k->json)
		kernel_nomem(k, "JSON event lines");
}

void kernel_nomem(struct kernel *k, const char *what)
{
	k->nomem_skipped++;
	if (k->nomem)
		return;
	k->nomem = true;
	/* Built without json-c, which is what just failed; what is always our own literal. */
	char ts[40], line[256];
	clock_iso8601(clock_wall_ms(), ts, sizeof(ts));
	int n = k->json ? snprintf(line, sizeof(line),
				   "{\"ts\":\"%s\",\"level\":\"error\",\"event\":"
				   "\"out_of_memory\",\"what\":\"%s\",\"reason\":\"skipping "
				   "until memory is back\"}\n",
				   ts, what)
			: snprintf(line, sizeof(line),
				   "%s error event=out_of_memory what=\"%s\" reason=\"skipping "
				   "until memory is back\"\n",
				   ts, what);
	kernel_out_line(k, KOUT_EVENT, line, n);
}

void kernel_nomem_over(struct kernel *k)
{
	if (!k->nomem)
		return;
	k->nomem = false;
	struct kernel_field f[] = {KF_NUM("skipped", k->nomem_skipped)};
	k->nomem_skipped = 0;
	kernel_emit(k, KL_INFO, "memory_recovered", f, 1);
}

static void emit_kind(struct kernel *k, enum kernel_out_kind kind, enum kernel_level level,
		      const char *event, const struct kernel_field *f, int nf)
{
	char line[KERNEL_LINE_MAX];
	kernel_out_line(
	    k, kind, line,
	    kernel_fmt_line(k->json, clock_wall_ms(), level, event, f, nf, line, sizeof(line)));
}

/* The status line in the form asked for; asked for by hand (SIGUSR1) when the
 * periodic one is off, the full one. */
void kernel_emit_status(struct kernel *k, int64_t now_us)
{
	char line[KERNEL_LINE_MAX];
	enum cfg_status_line mode = kernel_status_line_mode(k);
	if (mode == CFG_STLINE_OFF)
		mode = CFG_STLINE_FULL;
	kernel_out_line(k, KOUT_STATUS, line,
			kernel_fmt_status_line(mode, k->json, k->color, clock_wall_ms(), k->svc,
					       k->nsvc, (int)config_num(&k->cfg, CFG_STATUS_DETAIL),
					       now_us, line, sizeof(line)));
}

void kernel_emit_full(struct kernel *k, int64_t now_us)
{
	kernel_emit_status(k, now_us);
	for (int i = 0; i < k->nsvc; i++) {
		const struct kernel_svc *s = &k->svc[i];
		const char *mon = s->mon == KMON_RUNNING   ? "running"
				  : s->mon == KMON_WAITING ? "restarting"
				  : s->mon == KMON_HELD	   ? "held"
							   : "down";
		struct kernel_field f[11];
		int n = 0;
		f[n++] = KF_STR("service", s->name);
		f[n++] = KF_STR("state", svc_state_name(s->state));
		f[n++] = KF_NUM("pid", s->pid);
		f[n++] = KF_NUM("uptime_ms", kernel_svc_uptime_ms(s, now_us));
		f[n++] = KF_NUM("restarts", s->restarts);
		if (s->rtt_us > 0) /* none before a check measured one */
			f[n++] = KF_NUM("rtt_us", s->rtt_us);
		f[n++] = KF_NUM("failures", s->failures);
		f[n++] = KF_STR("monitor", mon);
		f[n++] = KF_NUM("mpid", s->mon == KMON_RUNNING ? s->mpid : 0);
		f[n++] = KF_NUM("monitors_replaced", s->mon_replaced);
		f[n++] = KF_STR("reason", s->reason);
		emit_kind(k, KOUT_STATUS, KL_INFO, "service", f, n);
	}
}

int kernel_wait_fields(int wstatus, struct kernel_field *f, char *sigbuf, size_t siglen)
{
	if (WIFEXITED(wstatus)) {
		f[0] = KF_NUM("code", WEXITSTATUS(wstatus));
		return 1;
	}
	if (WIFSIGNALED(wstatus)) {
		snprintf(sigbuf, siglen, "%s", sig_name(WTERMSIG(wstatus)));
		f[0] = KF_STR("signal", sigbuf);
		return 1;
	}
	return 0;
}

struct kernel_status_meta kernel_status_meta(const struct kernel *k, const char *state)
{
	return (struct kernel_status_meta){
	    .kernel_pid = k->pid,
	    .state = state,
	    .status_interval_ms = config_num(&k->cfg, CFG_STATUS_INTERVAL_MS),
	    .kernel_start = k->start,
	    .boot_id = k->boot_id,
	    .output_dropped = k->out.dropped_total,
	    .cg_base = k->containment == KCONT_CGROUP ? k->cg_base : NULL,
	    .log_dir = config_str(&k->cfg, CFG_LOG_DIR),
	    .run_log = kernel_svcout_run_log(),
	};
}

/* CPU time of this thread, so a preempted write on a busy machine is not counted. */
static int64_t cpu_us(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A write that cost more than this is the next one's delay nine times over (at most
 * a tenth of the kernel's time in status.json); a cheaper one is not delayed at all. */
#define PUBLISH_DEFER_US 1000

void kernel_publish(struct kernel *k, int64_t now_us)
{
	char why[CFG_STR_MAX + 64], summary[256];
	int64_t c0 = cpu_us();
	struct kernel_status_meta m = kernel_status_meta(k, k->stopping ? "stopping" : "running");
	kernel_contain_count(k, false);
	if (kernel_status_write(k->run_fd, k->run_dir, &m, k->svc, k->nsvc, now_us, why,
				sizeof(why)) < 0) {
		if (errno == ENOMEM) {
			/* Kept dirty: the next wake-up tries again. */
			kernel_nomem(k, "status.json");
			return;
		}
		warnx("status.json: %s", why);
	} else {
		kernel_nomem_over(k);
	}
	k->dirty = false;
	k->publish_at_us = 0;
	kernel_obs_publish(k, now_us);
	k->publish_cost_us = cpu_us() - c0;
	k->next_publish_us =
	    k->publish_cost_us >= PUBLISH_DEFER_US ? now_us + 10 * k->publish_cost_us : 0;

	kernel_summary(k->svc, k->nsvc, summary, sizeof(summary));
	if (strcmp(summary, k->last_summary) != 0) {
		char msg[300];
		snprintf(msg, sizeof(msg), "STATUS=%s", summary);
		if (kernel_notify_send(&k->notify, msg) < 0)
			warn("sd_notify STATUS");
		snprintf(k->last_summary, sizeof(k->last_summary), "%s", summary);
	}
}
