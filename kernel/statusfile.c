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

json_object *kernel_status_json(const struct kernel_status_meta *m, const struct kernel_svc *svcs,
				int n, int64_t now_us)
{
	char *text = kernel_status_text(m, svcs, n, now_us, NULL);
	json_object *o = text ? json_tokener_parse(text) : NULL;
	free(text);
	if (!o)
		errno = ENOMEM;
	return o;
}

int kernel_status_write(int dirfd, const char *run_dir, const struct kernel_status_meta *m,
			const struct kernel_svc *svcs, int n, int64_t now_us, char *why,
			size_t whylen)
{
	size_t len;
	char *text = kernel_status_text(m, svcs, n, now_us, &len);
	if (!text) {
		snprintf(why, whylen, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	/* The text, then its newline.  A new file every time (freshfile.c says what
	 * that costs): a reader that holds status.json keeps the table it opened. */
	struct iovec iov[2] = {{text, len}, {"\n", 1}};
	int rc = freshfile_write(dirfd, run_dir, "status.json", ".status.json.next", iov, 2, 0644,
				 why, whylen);
	free(text);
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
