/* The kernel's side of monitoring: settings checked at start, counters fed from
 * the monitors' reports, the metrics text file on every status tick, and the
 * hooks that keep ron-httpd (httpfeed.c) fed and alive. */
#include <bsd/string.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#include "observe.h"

char *kernel_obs_render(struct kernel *k, int64_t now_us)
{
	k->obs->m.dropped_lines = k->out.dropped_total;
	return kernel_metrics_render(&k->obs->m, k->svc, k->nsvc, now_us, clock_wall_ms());
}

/* A new file every tick, put in place of the old one (freshfile.c): node_exporter's
 * textfile collector reads the old file or the new one, never a part, and the
 * directory's owner can plant nothing there that the kernel would open. */
static int file_write(struct kernel *k, int64_t now_us, char *why, size_t whylen)
{
	struct kernel_obs *o = k->obs;
	char *text = kernel_obs_render(k, now_us);
	if (!text) {
		snprintf(why, whylen, "out of memory rendering the metrics");
		return -1;
	}
	struct iovec iov = {text, strlen(text)};
	int rc = freshfile_write(o->dirfd, o->dir, o->name, o->tmp, &iov, 1, 0644, why, whylen);
	free(text);
	return rc;
}

static void file_tick(struct kernel *k, int64_t now_us)
{
	struct kernel_obs *o = k->obs;
	if (!o->file[0] || now_us < o->next_file_us)
		return;
	int64_t iv = clock_ms_to_us(config_num(&k->cfg, CFG_STATUS_INTERVAL_MS));
	o->next_file_us += iv;
	if (o->next_file_us <= now_us)
		o->next_file_us = now_us + iv;
	char why[CFG_STR_MAX * 3 + 128];
	if (file_write(k, now_us, why, sizeof(why)) == 0) {
		o->file_failing = false;
		return;
	}
	if (!o->file_failing) {
		struct kernel_field f[] = {KF_STR("file", o->file), KF_STR("reason", why)};
		kernel_emit(k, KL_WARN, "metrics_file_failed", f, 2);
	}
	o->file_failing = true;
}

/* The directory, opened once: every write goes through it, so the path cannot be
 * turned to another directory later; the name and ".NAME.tmp" in it, a name in the
 * same directory (so it can be put in place atomically) that the textfile
 * collector, which reads *.prom, passes over. */
static int file_check(struct kernel_obs *o, const char *file, char *why, size_t whylen)
{
	const char *slash = strrchr(file, '/');
	strlcpy(o->file, file, sizeof(o->file));
	kernel_dirname(file, o->dir, sizeof(o->dir));
	strlcpy(o->name, slash ? slash + 1 : file, sizeof(o->name));
	snprintf(o->tmp, sizeof(o->tmp), ".%s.tmp", o->name);
	if (!o->name[0] || strcmp(o->name, ".") == 0 || strcmp(o->name, "..") == 0) {
		snprintf(why, whylen, "RON_METRICS_FILE=%s: names a directory, not a file", file);
		return -1;
	}
	char w[CFG_STR_MAX + 128];
	o->dirfd = kernel_dir_open_shared(o->dir, w, sizeof(w));
	if (o->dirfd < 0) {
		snprintf(why, whylen, "RON_METRICS_FILE=%s: %s", file, w);
		return -1;
	}
	return 0;
}

static int http_check(struct kernel *k, char *why, size_t whylen)
{
	struct kernel_obs *o = k->obs;
	const char *addr = config_str(&k->cfg, CFG_HTTP_ADDR);
	char w[256];
	if (httpaddr_parse(addr, &o->addr, w, sizeof(w)) < 0) {
		snprintf(why, whylen, "RON_HTTP_ADDR=%s: %s", addr, w);
		return -1;
	}
	if (!o->addr.loopback && !config_num(&k->cfg, CFG_HTTP_PUBLIC)) {
		snprintf(why, whylen,
			 "RON_HTTP_ADDR=%s: not a loopback address; set RON_HTTP_PUBLIC=1 to serve "
			 "metrics and status to other hosts",
			 addr);
		return -1;
	}
	const char *user = config_str(&k->cfg, CFG_HTTP_USER);
	if (geteuid() == 0 && !getpwnam(user)) {
		snprintf(why, whylen, "RON_HTTP_USER=%s: no such user", user);
		return -1;
	}
	char self[CFG_STR_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0) {
		snprintf(why, whylen, "readlink /proc/self/exe: %s", strerror(errno));
		return -1;
	}
	self[n] = '\0';
	kernel_dirname(self, o->bin, sizeof(o->bin));
	strlcat(o->bin, "/ron-httpd", sizeof(o->bin));
	if (access(o->bin, X_OK) < 0) {
		snprintf(why, whylen,
			 "RON_HTTP_ADDR is set but ron-httpd is not next to ron-kernel: "
			 "%s: %s",
			 o->bin, strerror(errno));
		return -1;
	}
	return 0;
}

int kernel_obs_check(struct kernel *k, char *why, size_t whylen)
{
	struct kernel_obs *o = calloc(1, sizeof(*o));
	if (!o || kernel_metrics_init(&o->m, clock_wall_ms()) < 0) {
		free(o);
		snprintf(why, whylen, "out of memory for the metrics");
		return 71;
	}
	k->obs = o;
	o->lfd = o->feedfd = o->hpidfd = o->dirfd = -1;
	o->outfd[0] = o->outfd[1] = -1;
	o->hrestart_at_us = -1;
	const char *file = config_str(&k->cfg, CFG_METRICS_FILE);
	if (file[0] && file_check(o, file, why, whylen) < 0)
		return KERNEL_EX_CONFIG;
	if (config_str(&k->cfg, CFG_HTTP_ADDR)[0] && http_check(k, why, whylen) < 0)
		return KERNEL_EX_CONFIG;
	return 0;
}

int kernel_obs_start(struct kernel *k, char *why, size_t whylen)
{
	struct kernel_obs *o = k->obs;
	int64_t now = clock_mono_us();
	if (o->file[0]) {
		char w[CFG_STR_MAX * 3 + 128];
		/* A file that cannot be written is a setting to fix, not a run-time event. */
		if (file_write(k, now, w, sizeof(w)) < 0) {
			snprintf(why, whylen, "RON_METRICS_FILE=%s: %s", o->file, w);
			return KERNEL_EX_CONFIG;
		}
		o->next_file_us = clock_after_ms(now, config_num(&k->cfg, CFG_STATUS_INTERVAL_MS));
	}
	if (!config_str(&k->cfg, CFG_HTTP_ADDR)[0])
		return 0;
	int rc = kernel_httpd_bind(k, why, whylen);
	if (rc)
		return rc;
	o->http = true;
	return 0;
}

void kernel_obs_announce(struct kernel *k, int64_t now_us)
{
	struct kernel_obs *o = k->obs;
	if (!o || !o->http)
		return;
	struct kernel_field f[] = {KF_STR("addr", o->addr_text)};
	kernel_emit(k, KL_INFO, "http_listening", f, 1);
	if (kernel_httpd_spawn(k, now_us) < 0)
		o->hrestart_at_us = now_us + 1000000;
}

void kernel_obs_tick(struct kernel *k, int64_t now_us)
{
	if (!k->obs)
		return;
	file_tick(k, now_us);
	kernel_httpd_timers(k, now_us);
	kernel_httpd_feed(k, now_us);
}

int64_t kernel_obs_deadline(const struct kernel *k)
{
	const struct kernel_obs *o = k->obs;
	if (!o)
		return -1;
	int64_t d = o->file[0] ? o->next_file_us : -1;
	d = clock_earliest(d, k->stopping ? -1 : o->hrestart_at_us);
	/* A snapshot ron-httpd has not taken yet: try again soon. */
	if (o->pending)
		d = clock_earliest(d, clock_mono_us() + 100000);
	d = clock_earliest(d, kernel_httpd_snapshot_due(o));
	return d;
}

void kernel_obs_publish(struct kernel *k, int64_t now_us)
{
	if (!k->obs || !k->obs->http)
		return;
	k->obs->due = true;
	kernel_httpd_feed(k, now_us);
}

void kernel_obs_output(struct kernel *k)
{
	if (k->obs && k->obs->http)
		k->obs->tail_due = true;
}

void kernel_obs_report(struct kernel *k, const struct kernel_svc *s, const struct report *r)
{
	if (k->obs)
		kernel_metrics_report(kernel_metrics_of(&k->obs->m, s->name, (int)(s - k->svc)), r);
}

void kernel_obs_mon_lost(struct kernel *k, const struct kernel_svc *s)
{
	if (k->obs)
		kernel_metrics_replaced(kernel_metrics_of(&k->obs->m, s->name, (int)(s - k->svc)),
					s->mon_frozen ? KM_FROZEN : KM_LOST);
}

bool kernel_obs_reaped(struct kernel *k, pid_t pid, int wstatus, int64_t now_us)
{
	return k->obs && kernel_httpd_reaped(k, pid, wstatus, now_us);
}

void kernel_obs_stop(struct kernel *k)
{
	if (!k->obs)
		return;
	kernel_httpd_stop(k);
	if (k->obs->dirfd >= 0 && close(k->obs->dirfd) < 0)
		warn("close the directory of %s", k->obs->file);
	kernel_metrics_free(&k->obs->m);
	free(k->obs);
	k->obs = NULL;
}
