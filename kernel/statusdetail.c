/* `ron-kernel status NAME`: one service in full, as `systemctl status` shows a unit:
 * its state and since when, what runs (pid, command line, user, cgroup or process
 * group), its restarts and last exit, why it is as it is, its health check, its
 * monitor, and the last lines of its output.  Printed from a row of the status JSON
 * (statusfile.c), so it reads the same live and from status.json. */
#include <json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "kernel.h"

#define DETAIL_LOG_LINES 10

/* "2026-12-07 22:40:01 UTC; 3m12s ago" in local time; "" for 0 (not known). */
static void when(long long wall_ms, char *buf, size_t cap)
{
	buf[0] = '\0';
	if (wall_ms <= 0)
		return;
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;
	char at[48], ago[32];
	localtime_r(&t, &tm);
	strftime(at, sizeof(at), "%Y-%m-%d %H:%M:%S %Z", &tm);
	long long d = clock_wall_ms() - wall_ms;
	kernel_fmt_duration(d < 0 ? 0 : d, ago, sizeof(ago));
	snprintf(buf, cap, "%s; %s ago", at, ago);
}

static void print_command(FILE *out, json_object *e)
{
	json_object *a;
	fprintf(out, "%12s:", "Command");
	if (json_object_object_get_ex(e, "command", &a) && json_object_is_type(a, json_type_array))
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			const char *w = json_object_get_string(json_object_array_get_idx(a, i));
			/* A word with a space is quoted, so the line reads as a command. */
			fprintf(out, strpbrk(w, " \t\"") || !w[0] ? " '%s'" : " %s", w);
		}
	fputc('\n', out);
}

static void print_what_runs(FILE *out, json_object *e)
{
	long long pid = kernel_row_int(e, "pid", 0), procs = kernel_row_int(e, "procs", -1);
	if (pid > 0)
		fprintf(out, "%12s: %lld\n", "Main PID", pid);
	else
		fprintf(out, "%12s: none running\n", "Main PID");
	print_command(out, e);
	const char *user = kernel_row_str(e, "user"), *group = kernel_row_str(e, "group");
	fprintf(out, "%12s: %s%s%s\n", "User", user[0] ? user : "the kernel's",
		group[0] ? ", group " : "", group);
	char n[48] = "";
	if (procs >= 0)
		snprintf(n, sizeof(n), " (%lld process%s)", procs, procs == 1 ? "" : "es");
	if (kernel_row_str(e, "cgroup")[0])
		fprintf(out, "%12s: %s%s\n", "CGroup", kernel_row_str(e, "cgroup"), n);
	else if (pid > 0)
		fprintf(out, "%12s: process group %lld%s\n", "Group", pid, n);
}

static void print_history(FILE *out, json_object *e)
{
	char at[96];
	when(kernel_row_int(e, "last_exit_ms", 0), at, sizeof(at));
	fprintf(out, "%12s: %lld", "Restarts", kernel_row_int(e, "restarts", 0));
	if (kernel_row_str(e, "last_exit")[0])
		fprintf(out, "; last exit %s, %s", kernel_row_str(e, "last_exit"), at);
	fputc('\n', out);
	if (kernel_row_str(e, "reason")[0])
		fprintf(out, "%12s: %s\n", "Reason", kernel_row_str(e, "reason"));
	long long rtt = kernel_row_int(e, "rtt_us", -1), fails = kernel_row_int(e, "failures", 0);
	if (kernel_row_int(e, "pid", 0) <= 0)
		fprintf(out, "%12s: not checked: not running\n", "Health");
	else if (rtt > 0)
		fprintf(out, "%12s: answered in %lld.%03lld ms; %lld failed in a row\n", "Health",
			rtt / 1000, rtt % 1000, fails);
	else
		fprintf(out, "%12s: no answer measured yet; %lld failed in a row\n", "Health",
			fails);
	long long mpid = kernel_row_int(e, "mpid", 0);
	fprintf(out, "%12s: %s", "Monitor", kernel_row_str(e, "monitor"));
	if (mpid > 0)
		fprintf(out, ", pid %lld", mpid);
	if (kernel_row_int(e, "monitors_replaced", 0) > 0)
		fprintf(out, ", replaced %lld times", kernel_row_int(e, "monitors_replaced", 0));
	fputc('\n', out);
}

void kernel_status_detail(FILE *out, json_object *e, bool color)
{
	char state[64], since[96];
	const char *st = kernel_row_str(e, "state");
	kernel_color_state(st, color, state, sizeof(state));
	when(kernel_row_int(e, "state_since_ms", 0), since, sizeof(since));
	fprintf(out, "%s %s: %s%s%s\n", color ? "\u25cf" : "*", kernel_row_str(e, "service"), state,
		since[0] ? " since " : "", since);
	print_what_runs(out, e);
	print_history(out, e);
	const char *dir = kernel_row_str(e, "log_dir");
	if (dir[0])
		fprintf(out, "%12s: %s/%s/current\n", "Log", dir, kernel_row_str(e, "service"));
	fputc('\n', out);
	fflush(out);
	if (!dir[0] || kernel_logs_tail(dir, kernel_row_str(e, "service"), DETAIL_LOG_LINES) < 0)
		fprintf(out, "no output kept%s%s\n", dir[0] ? " in " : "", dir);
}
