/* Test helpers for a kernel run on a config file (kconf.h). */
#include <errno.h>
#include <json.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "kconf.h"

#define WAIT_MS KC_WAIT_MS

/* Writes the config file: a [kernel] section with this test's run directory and
 * short timings, then the text given (printf-style). */
void kc_write(struct kc *k, const char *fmt, ...)
{
	snprintf(k->conf, sizeof(k->conf), "%s/kernel.conf", tl_dir());
	FILE *f = fopen(k->conf, "w");
	cr_assert(f, "open %s: %s", k->conf, strerror(errno));
	fprintf(f,
		"[kernel]\n"
		"run_dir = %s/run\n"
		"health_interval_ms = 300\n"
		"health_timeout_ms = 200\n"
		"status_interval_ms = 500\n"
		"stop_timeout_ms = 2000\n"
		"backoff_min_ms = 50\n"
		"backoff_max_ms = 1000\n"
		"stable_ms = 500\n\n",
		tl_dir());
	va_list ap;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	cr_assert_eq(fclose(f), 0);
}

/* The environment: nothing of the runner's RON_* or SIM_* settings leaks in. */
char **kc_env(char *const extra[])
{
	static char bufs[40][600];
	static char *env[48];
	int n = 0;
	static const char *const unset[] = {"RON_RUN_DIR",	     "RON_HEALTH_INTERVAL_MS",
					    "RON_HEALTH_TIMEOUT_MS", "RON_STATUS_INTERVAL_MS",
					    "RON_STOP_TIMEOUT_MS",   "RON_START_TIMEOUT_MS",
					    "RON_LOG_FORMAT",	     "RON_MONITOR_BIN",
					    "RON_RESTART_CAP",	     "RON_CONFIG",
					    "RON_STATUS_DETAIL",     "NOTIFY_SOCKET",
					    "WATCHDOG_USEC",	     "SIM_MODE",
					    "SIM_START_DELAY_MS",    "SIM_EXIT_ON_START",
					    "SIM_IGNORE_SIGTERM",    "RON_INDEX_SOCK",
					    "RON_OVERLAY_SOCK",	     "RON_STORAGE_SOCK"};
	for (size_t i = 0; i < sizeof(unset) / sizeof(unset[0]); i++) {
		snprintf(bufs[n], sizeof(bufs[n]), "%s=", unset[i]);
		env[n] = bufs[n];
		n++;
	}
	for (int i = 0; extra && extra[i]; i++)
		env[n++] = extra[i];
	env[n] = NULL;
	return env;
}

void kc_start(struct kc *k, char *const extra[])
{
	char *argv[] = {RON_BUILD_DIR "/ron-kernel", "--config", k->conf, NULL};
	int out;
	k->pid = tl_spawn(argv, kc_env(extra), &out, NULL);
	tl_lines_init(&k->r, out);
}

void kc_stop(struct kc *k)
{
	int st;
	cr_assert_eq(kill(k->pid, SIGTERM), 0);
	cr_assert(tl_wait_exit(k->pid, WAIT_MS, &st), "kernel did not exit:\n%s", k->r.log);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "kernel exit status %#x:\n%s", st,
		  k->r.log);
}

/* A service's state and pid from status.json. */
bool kc_row(const char *name, char *state, size_t cap, pid_t *pid)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/run/status.json", tl_dir());
	json_object *o = json_object_from_file(path), *a, *v;
	bool found = false;
	if (o && json_object_object_get_ex(o, "services", &a)) {
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			json_object *e = json_object_array_get_idx(a, i);
			if (!json_object_object_get_ex(e, "service", &v) ||
			    strcmp(json_object_get_string(v), name) != 0)
				continue;
			json_object_object_get_ex(e, "state", &v);
			snprintf(state, cap, "%s", json_object_get_string(v));
			json_object_object_get_ex(e, "pid", &v);
			*pid = json_object_get_int(v);
			found = true;
		}
	}
	json_object_put(o);
	return found;
}

pid_t kc_pid(const char *name)
{
	char state[32];
	pid_t pid = 0;
	cr_assert(kc_row(name, state, sizeof(state), &pid), "%s not in status.json", name);
	return pid;
}

bool kc_in_state(void *arg)
{
	struct kc_want *w = arg;
	char state[32];
	pid_t pid;
	return kc_row(w->name, state, sizeof(state), &pid) && strcmp(state, w->state) == 0;
}

int kc_rows(void)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/run/status.json", tl_dir());
	json_object *o = json_object_from_file(path), *a;
	int n = o && json_object_object_get_ex(o, "services", &a) ? (int)json_object_array_length(a)
								  : -1;
	json_object_put(o);
	return n;
}

/* Position in the kernel's output of the first line holding both needles, or -1. */
long kc_pos(struct kc *k, const char *a, const char *b)
{
	for (const char *p = k->r.log; (p = strstr(p, a)); p++) {
		const char *eol = strchr(p, '\n'), *bol = p;
		while (bol > k->r.log && bol[-1] != '\n')
			bol--;
		char line[4096];
		size_t n = eol ? (size_t)(eol - bol) : strlen(bol);
		snprintf(line, sizeof(line), "%.*s", (int)n, bol);
		if (strstr(line, b))
			return (long)(bol - k->r.log);
	}
	return -1;
}

/* "[service NAME]" of svc-sim under that name, plus extra lines. */
void sim_section(char *buf, size_t cap, const char *name, const char *extra)
{
	snprintf(buf, cap, "[service %s]\nbin = %s/sim/svc-sim\nargs = --name %s\n%s\n", name,
		 RON_BUILD_DIR, name, extra ? extra : "");
}

bool kc_all_healthy(void *arg)
{
	(void)arg;
	char path[700];
	snprintf(path, sizeof(path), "%s/run/status.json", tl_dir());
	json_object *o = json_object_from_file(path), *a, *v;
	bool all =
	    o && json_object_object_get_ex(o, "services", &a) && json_object_array_length(a) > 0;
	for (size_t i = 0; all && i < json_object_array_length(a); i++) {
		json_object *e = json_object_array_get_idx(a, i);
		all = json_object_object_get_ex(e, "state", &v) &&
		      strcmp(json_object_get_string(v), "healthy") == 0;
	}
	json_object_put(o);
	return all;
}

void kc_ctl_at(const char *conf, struct kc_out *o, char *const args[])
{
	char *argv[24] = {RON_BUILD_DIR "/ron-kernel", "--config", (char *)conf};
	int n = 3;
	for (int i = 0; args[i] && n < 23; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	o->status =
	    tl_run(argv, kc_env(NULL), o->out, sizeof(o->out), o->err, sizeof(o->err), KC_WAIT_MS);
}
