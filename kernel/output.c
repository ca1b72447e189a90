/* Where the kernel's lines go: events and status lines to stdout, the table to
 * status.json, the summary to systemd; one place so the three never disagree. */
#include <err.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "clock.h"
#include "kernel.h"
#include "proc.h"

void kernel_print(struct kernel *k, const char *line)
{
	if (k->color) {
		char buf[KERNEL_LINE_MAX * 2];
		kernel_color_line(line, buf, sizeof(buf));
		fputs(buf, stdout);
	} else {
		fputs(line, stdout);
	}
}

void kernel_emit(struct kernel *k, enum kernel_level level, const char *event,
		 const struct kernel_field *f, int nf)
{
	char line[KERNEL_LINE_MAX];
	if (kernel_fmt_line(k->json, clock_wall_ms(), level, event, f, nf, line, sizeof(line)) > 0)
		kernel_print(k, line);
}

void kernel_emit_status(struct kernel *k, int64_t now_us)
{
	char line[KERNEL_LINE_MAX];
	if (kernel_fmt_status(k->json, clock_wall_ms(), k->svc, k->nsvc,
			      (int)config_num(&k->cfg, CFG_STATUS_DETAIL), now_us, line,
			      sizeof(line)) > 0)
		kernel_print(k, line);
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
		struct kernel_field f[] = {
		    KF_STR("service", s->name),
		    KF_STR("state", svc_state_name(s->state)),
		    KF_NUM("pid", s->pid),
		    KF_NUM("uptime_ms", kernel_svc_uptime_ms(s, now_us)),
		    KF_NUM("restarts", s->restarts),
		    KF_NUM("rtt_us", s->rtt_us),
		    KF_NUM("failures", s->failures),
		    KF_STR("monitor", mon),
		    KF_NUM("mpid", s->mon == KMON_RUNNING ? s->mpid : 0),
		    KF_NUM("monitors_replaced", s->mon_replaced),
		    KF_STR("reason", s->reason),
		};
		kernel_emit(k, KL_INFO, "service", f, (int)(sizeof(f) / sizeof(f[0])));
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
	};
}

void kernel_publish(struct kernel *k, int64_t now_us)
{
	char why[CFG_STR_MAX + 64], summary[256];
	struct kernel_status_meta m = kernel_status_meta(k, k->stopping ? "stopping" : "running");
	if (kernel_status_write(k->run_dir, &m, k->svc, k->nsvc, now_us, why, sizeof(why)) < 0)
		warnx("status.json: %s", why);
	k->dirty = false;

	kernel_summary(k->svc, k->nsvc, summary, sizeof(summary));
	if (strcmp(summary, k->last_summary) != 0) {
		char msg[300];
		snprintf(msg, sizeof(msg), "STATUS=%s", summary);
		if (kernel_notify_send(&k->notify, msg) < 0)
			warn("sd_notify STATUS");
		snprintf(k->last_summary, sizeof(k->last_summary), "%s", summary);
	}
}
