/* $RON_RUN_DIR/status.json: the kernel's table for other processes, replaced
 * atomically; read back by --status, --check and by the next kernel's start. */
#include <bsd/string.h>
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#include "kernel.h"
#include "proc.h"

#define JSON_FLAGS (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE)

static const char *mon_phase_name(enum kernel_mon_phase p)
{
	switch (p) {
	case KMON_RUNNING: return "running";
	case KMON_WAITING: return "restarting";
	case KMON_HELD: return "held";
	default: return "down";
	}
}

/* Adds v (owned) under k; false if v or the adding failed for want of memory. */
static bool add(json_object *o, const char *k, json_object *v)
{
	if (!o || !v || json_object_object_add(o, k, v) < 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

static bool add_int(json_object *o, const char *k, int64_t v)
{
	return add(o, k, json_object_new_int64(v));
}

static bool add_str(json_object *o, const char *k, const char *v)
{
	return add(o, k, json_object_new_string(v));
}

/* A monotonic time as wall-clock ms, for a reader in another process; 0 for none. */
static int64_t wall_of(int64_t mono_us, int64_t now_us, int64_t wall_ms)
{
	if (mono_us <= 0)
		return 0;
	return wall_ms - (now_us > mono_us ? (now_us - mono_us) / 1000 : 0);
}

static bool add_command(json_object *e, const struct svc_def *d)
{
	json_object *a = json_object_new_array();
	if (!d)
		return add(e, "command", a);
	bool ok = a && json_object_array_add(a, json_object_new_string(d->bin)) == 0;
	for (int i = 0; ok && i < d->nargs; i++)
		ok = json_object_array_add(a, json_object_new_string(d->args[i])) == 0;
	if (!ok) {
		json_object_put(a);
		return false;
	}
	return add(e, "command", a);
}

/* "code 3", "signal KILL" or "" (none yet). */
static bool add_exit(json_object *e, const struct kernel_svc *s, int64_t now_us, int64_t wall)
{
	char what[48] = "";
	if (s->exit_at_us && s->exit_signal > 0)
		snprintf(what, sizeof(what), "signal %s",
			 sigabbrev_np(s->exit_signal) ? sigabbrev_np(s->exit_signal) : "?");
	else if (s->exit_at_us)
		snprintf(what, sizeof(what), "code %d", s->exit_code);
	return add_str(e, "last_exit", what) &&
	       add_int(e, "last_exit_ms", wall_of(s->exit_at_us, now_us, wall));
}

/* The restarts of the last hour, wall-clock ms, oldest first. */
static bool add_recent(json_object *e, const struct kernel_svc *s, int64_t now_us, int64_t wall)
{
	json_object *a = json_object_new_array();
	bool ok = a != NULL;
	for (unsigned i = 0; ok && i < s->nrecent; i++)
		if (now_us - s->recent_us[i] <= (int64_t)KERNEL_RECENT_MS * 1000)
			ok = json_object_array_add(a, json_object_new_int64(wall_of(
							  s->recent_us[i], now_us, wall))) == 0;
	if (!ok) {
		json_object_put(a);
		return false;
	}
	return add(e, "restart_times_ms", a);
}

/* What `status NAME` shows beyond the table: since when, what runs, where. */
static bool add_detail(json_object *e, const struct kernel_status_meta *m,
		       const struct kernel_svc *s, int64_t now_us, int64_t wall)
{
	const struct svc_def *d = s->def;
	char cg[CGROUP_PATH_MAX + REPORT_NAME_MAX] = "";
	if (m->cg_base)
		snprintf(cg, sizeof(cg), "%s/%s", m->cg_base, s->name);
	const char *log = d && d->log_dir ? d->log_dir : m->log_dir ? m->log_dir : "";
	if (!log[0] && m->run_log)
		log = m->run_log;
	return add_int(e, "state_since_ms", wall_of(s->state_since_us, now_us, wall)) &&
	       add_command(e, d) && add_str(e, "user", d && d->user ? d->user : "") &&
	       add_str(e, "group", d && d->group ? d->group : "") && add_str(e, "cgroup", cg) &&
	       add_exit(e, s, now_us, wall) && add_str(e, "log_dir", log) &&
	       add_recent(e, s, now_us, wall);
}

json_object *kernel_status_json(const struct kernel_status_meta *m, const struct kernel_svc *svcs,
				int n, int64_t now_us)
{
	json_object *o = json_object_new_object();
	char ts[40], summary[256];
	int64_t wall = clock_wall_ms();
	clock_iso8601(wall, ts, sizeof(ts));
	kernel_summary(svcs, n, summary, sizeof(summary));
	bool ok = add_int(o, "v", 1);
	ok = ok && add_int(o, "kernel_pid", m->kernel_pid);
	ok = ok && add_int(o, "kernel_start", (int64_t)m->kernel_start);
	ok = ok && add_str(o, "boot_id", m->boot_id ? m->boot_id : "");
	ok = ok && add_str(o, "state", m->state);
	ok = ok && add_str(o, "updated", ts);
	ok = ok && add_int(o, "updated_ms", wall);
	/* The heartbeat --check judges by: a clock step moves updated_ms, never this. */
	ok = ok && add_int(o, "mono_ms", clock_mono_us() / 1000);
	ok = ok && add_int(o, "status_interval_ms", m->status_interval_ms);
	ok = ok && add_int(o, "output_dropped", (int64_t)m->output_dropped);
	ok = ok && add_str(o, "summary", summary);
	json_object *a = json_object_new_array();
	for (int i = 0; ok && a && i < n; i++) {
		const struct kernel_svc *s = &svcs[i];
		json_object *e = json_object_new_object();
		ok = add_str(e, "service", s->name);
		ok = ok && add_str(e, "state", svc_state_name(s->state));
		ok = ok && add_int(e, "pid", s->pid);
		ok = ok && add_int(e, "start", (int64_t)s->start);
		ok = ok && add_int(e, "uptime_ms", kernel_svc_uptime_ms(s, now_us));
		ok = ok && add_int(e, "restarts", s->restarts);
		ok = ok && add_int(e, "rtt_us", s->rtt_us);
		ok = ok && add_int(e, "failures", s->failures);
		ok = ok && add_int(e, "procs", s->procs);
		ok = ok && add_str(e, "reason", s->reason);
		ok = ok && add_str(e, "monitor", mon_phase_name(s->mon));
		ok = ok && add(e, "want_down", json_object_new_boolean(s->want_down));
		ok = ok && add_int(e, "mpid", s->mon == KMON_RUNNING ? s->mpid : 0);
		ok = ok && add_int(e, "mstart", s->mon == KMON_RUNNING ? (int64_t)s->mstart : 0);
		ok = ok && add_int(e, "monitors_replaced", s->mon_replaced);
		ok = ok && add(e, "monitor_degraded", json_object_new_boolean(s->mon_degraded));
		ok = ok && add(e, "untracked", json_object_new_boolean(s->untracked));
		ok = ok && add_detail(e, m, s, now_us, wall);
		if (!ok || json_object_array_add(a, e) < 0) {
			json_object_put(e);
			ok = false;
		}
	}
	if (!ok || !add(o, "services", a)) {
		if (ok)
			a = NULL; /* add() released it */
		json_object_put(a);
		json_object_put(o);
		errno = ENOMEM;
		return NULL;
	}
	return o;
}

int kernel_status_write(int dirfd, const char *run_dir, const struct kernel_status_meta *m,
			const struct kernel_svc *svcs, int n, int64_t now_us, char *why,
			size_t whylen)
{
	json_object *o = kernel_status_json(m, svcs, n, now_us);
	const char *text = o ? json_object_to_json_string_ext(o, JSON_FLAGS) : NULL;
	if (!text) {
		snprintf(why, whylen, "out of memory");
		json_object_put(o);
		errno = ENOMEM;
		return -1;
	}
	/* The text, then its newline.  A new file every time (freshfile.c says what
	 * that costs): a reader that holds status.json keeps the table it opened. */
	struct iovec iov[2] = {{(void *)text, strlen(text)}, {"\n", 1}};
	int rc = freshfile_write(dirfd, run_dir, "status.json", ".status.json.next", iov, 2, 0644,
				 why, whylen);
	json_object_put(o);
	return rc;
}

static json_object *status_read(const char *run_dir)
{
	char path[CFG_STR_MAX + 32];
	snprintf(path, sizeof(path), "%s/status.json", run_dir);
	json_object *o = json_object_from_file(path);
	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* status.json of the run directory open as dirfd, by descriptor, never by path. */
static json_object *status_read_at(int dirfd)
{
	int fd = openat(dirfd, "status.json", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	json_object *o = json_object_from_fd(fd);
	close(fd);
	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static int64_t get_int(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static const char *get_str(json_object *o, const char *k)
{
	json_object *v;
	const char *s = json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
	return s ? s : "";
}

static json_object *get_services(json_object *o)
{
	json_object *a;
	if (!json_object_object_get_ex(o, "services", &a) ||
	    !json_object_is_type(a, json_type_array))
		return NULL;
	return a;
}

int kernel_status_stale(int dirfd, struct kernel_stale *out, int max)
{
	json_object *o = status_read_at(dirfd);
	if (!o)
		return 0;
	/* A pid and start time mean nothing in another boot; without the boot id
	 * nothing in the file can be proven ours. */
	char boot[64];
	if (proc_boot_id(boot, sizeof(boot)) < 0 || strcmp(get_str(o, "boot_id"), boot) != 0) {
		json_object_put(o);
		return 0;
	}
	int n = 0;
	json_object *a = get_services(o);
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		json_object *e = json_object_array_get_idx(a, i);
		const char *name = get_str(e, "service");
		/* Monitors first: stopped, they stop their own services gracefully. */
		if (n < max && get_int(e, "mpid") > 0) {
			snprintf(out[n].what, sizeof(out[n].what), "monitor of %.63s", name);
			out[n].pid = (pid_t)get_int(e, "mpid");
			out[n].start = (unsigned long long)get_int(e, "mstart");
			n++;
		}
		if (n < max && get_int(e, "pid") > 0) {
			snprintf(out[n].what, sizeof(out[n].what), "%.63s", name);
			out[n].pid = (pid_t)get_int(e, "pid");
			out[n].start = (unsigned long long)get_int(e, "start");
			n++;
		}
	}
	json_object_put(o);
	return n;
}

/* Whether the kernel that wrote status.json o still runs: 1 with *pid, or 0 and why.
 * Decided from the pid, its start time and the boot id recorded there, never by
 * a lock: a probe holding even a shared lock on the pidfile could make a kernel
 * starting at that moment think another one runs. */
static int kernel_alive(json_object *o, pid_t *pid, char *why, size_t whylen)
{
	char boot[64];
	unsigned long long ticks;
	*pid = (pid_t)get_int(o, "kernel_pid");
	unsigned long long start = (unsigned long long)get_int(o, "kernel_start");
	const char *recorded = get_str(o, "boot_id");
	if (*pid <= 0 || start == 0) {
		snprintf(why, whylen, "ron-kernel is not running: status.json names no kernel");
		return 0;
	}
	if (recorded[0] && proc_boot_id(boot, sizeof(boot)) == 0 && strcmp(boot, recorded) != 0) {
		snprintf(why, whylen,
			 "ron-kernel is not running: status.json of pid %d is from an earlier boot",
			 (int)*pid);
		return 0;
	}
	if (proc_start_ticks(*pid, &ticks) < 0 || ticks != start) {
		snprintf(why, whylen, "ron-kernel is not running: pid %d has exited", (int)*pid);
		return 0;
	}
	return 1;
}

/* Milliseconds since status.json o was written: on the monotonic clock when it is
 * from this boot, else (only for show) by its wall-clock stamp. */
static int64_t status_age_ms(json_object *o)
{
	char boot[64];
	if (proc_boot_id(boot, sizeof(boot)) == 0 && strcmp(boot, get_str(o, "boot_id")) == 0)
		return clock_mono_us() / 1000 - get_int(o, "mono_ms");
	return clock_wall_ms() - get_int(o, "updated_ms");
}

json_object *kernel_status_load(const char *run_dir, bool *alive, long long *age_ms, char *why,
				size_t whylen)
{
	pid_t pid = 0;
	json_object *o = status_read(run_dir);
	if (!o) {
		snprintf(why, whylen, "ron-kernel is not running: no readable %s/status.json",
			 run_dir);
		return NULL;
	}
	*alive = kernel_alive(o, &pid, why, whylen);
	*age_ms = status_age_ms(o);
	return o;
}

int kernel_status_check(const char *run_dir, FILE *out)
{
	char why[CFG_STR_MAX + 128];
	pid_t pid = 0;
	json_object *o = status_read(run_dir);
	if (!o) {
		fprintf(out, "ron-kernel is not running: no readable %s/status.json\n", run_dir);
		return 1;
	}
	if (!kernel_alive(o, &pid, why, sizeof(why))) {
		fprintf(out, "%s\n", why);
		json_object_put(o);
		return 1;
	}
	int rc = 1;
	/* Alive and from this boot: the monotonic heartbeat is comparable. */
	int64_t age = clock_mono_us() / 1000 - get_int(o, "mono_ms");
	int64_t interval = get_int(o, "status_interval_ms");
	json_object *a = get_services(o);
	if (strcmp(get_str(o, "state"), "running") != 0) {
		fprintf(out, "ron-kernel pid %d is %s\n", (int)pid, get_str(o, "state"));
	} else if (age > 3 * interval + 1000) {
		/* The kernel rewrites it every status interval: silence means it is stuck. */
		fprintf(out,
			"ron-kernel pid %d is stuck: no heartbeat in status.json for %lld ms\n",
			(int)pid, (long long)age);
	} else if (!a || json_object_array_length(a) == 0) {
		fprintf(out, "status.json names no services\n");
	} else {
		rc = 0;
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			json_object *e = json_object_array_get_idx(a, i);
			/* A service stopped by hand is not meant to run: not a failure. */
			if (strcmp(get_str(e, "state"), "healthy") == 0 ||
			    strcmp(get_str(e, "state"), "down") == 0)
				continue;
			const char *reason = get_str(e, "reason");
			fprintf(out, "%s is %s%s%s\n", get_str(e, "service"), get_str(e, "state"),
				reason[0] ? ": " : "", reason);
			rc = 1;
			break;
		}
		if (rc == 0)
			fprintf(out, "ok: ron-kernel pid %d, %s\n", (int)pid,
				get_str(o, "summary"));
	}
	json_object_put(o);
	return rc;
}
