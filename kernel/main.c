/* ron-kernel: supervises the services of its table (svc-index, svc-overlay and
 * svc-storage, or those of a config file) through one ron-monitor each; start-up
 * checks here, the event loop in loop.c. */
#include <bsd/string.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "clock.h"
#include "kernel.h"
#include "proc.h"
#include "observe.h"
#include "sockpath.h"
#include "startup.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ron-kernel [--config=FILE] [--SETTING=VALUE ...]\n"
		"       ron-kernel --config=FILE --check-config\n"
		"       ron-kernel status [--json] [NAME...]\n"
		"       ron-kernel restart|stop|start|lift [--no-wait] [--timeout=S] NAME...|all\n"
		"       ron-kernel signal SIG NAME...|all\n"
		"       ron-kernel reload [--no-wait] [--timeout=S]\n"
		"       ron-kernel logs [-n N] [-f] [--since T] [NAME...]\n"
		"       ron-kernel --status [--json] | --check [--run-dir=PATH]\n"
		"       ron-kernel --help | --version\n"
		"\n"
		"Supervises the services of a config file, or without one svc-index,\n"
		"svc-overlay and svc-storage, one ron-monitor each.\n"
		"  --check-config  read and check the config file, print the resolved table\n"
		"                  (every value and where it came from) and exit\n"
		"  --status        the same as status\n"
		"  --check         exit 0 only if a live kernel holds the pidfile and every\n"
		"                  service meant to run is healthy, else 1 with one line why\n"
		"\n"
		"Commands to the running kernel, over $RON_RUN_DIR/control.sock; each waits\n"
		"(default: the service's stop + start timeouts + 2 s) until it is done:\n"
		"  status    the table; with names, each in full (state since, pid, command,\n"
		"            cgroup, last exit, last 10 lines); --json: status.json's schema\n"
		"  restart   stop, then start\n"
		"  stop      stop and keep down             start    start a down service\n"
		"  lift      end a quarantine               signal   send SIG to services\n"
		"  reload    re-read the config file and apply the difference\n"
		"  logs      the services' last lines (-n, default 10), read from the log\n"
		"            files; -f follows, --since 10m|1h|2026-12-07T19:00Z; 4 unknown name\n"
		"  Exit: 0 done; 1 not reached (one line says where it stands); 64 usage or\n"
		"  unknown name; 69 kernel not running; 77 refused.  status: 0 all that\n"
		"  should run healthy; 3 some not; 4 unknown name; 69 not running (stale).\n"
		"\n"
		"Settings (flag, environment variable, meaning, default and range); a flag\n"
		"wins over the variable, the variable over the file's [kernel] section, and\n"
		"that over the default.  A service's own setting in the file wins over all:\n");
	config_usage(f, CFG_KERNEL);
	fprintf(f, "\nExit: 0 after a clean shutdown; 1 --check: not running or not healthy,\n"
		   "or a start-up write failed; 64 unknown argument; 71 a system call failed at\n"
		   "start; 75 another ron-kernel holds the pidfile or a service's socket lock\n"
		   "(<socket>.lock); 78 bad configuration or unsafe directory.\n");
}

/* ron-monitor next to our own binary, unless RON_MONITOR_BIN says otherwise. */
static int find_monitor(struct kernel *k, char *why, size_t whylen)
{
	const char *bin = config_str(&k->cfg, CFG_MONITOR_BIN);
	if (bin[0]) {
		strlcpy(k->monitor_bin, bin, sizeof(k->monitor_bin));
		/* A bare name is looked up on PATH by execvp, as the services are. */
		if (!strchr(bin, '/') || access(bin, X_OK) == 0)
			return 0;
		snprintf(why, whylen, "RON_MONITOR_BIN=%s: %s", bin, strerror(errno));
		return -1;
	}
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0) {
		snprintf(why, whylen, "readlink /proc/self/exe: %s", strerror(errno));
		return -1;
	}
	self[n] = '\0';
	kernel_dirname(self, k->monitor_bin, sizeof(k->monitor_bin));
	strlcat(k->monitor_bin, "/ron-monitor", sizeof(k->monitor_bin));
	if (access(k->monitor_bin, X_OK) == 0)
		return 0;
	snprintf(why, whylen,
		 "ron-monitor not found next to ron-kernel: %s: %s (set RON_MONITOR_BIN)",
		 k->monitor_bin, strerror(errno));
	return -1;
}

/* The run directory: every check that can refuse to start comes before anything is
 * started; the services' own are admit()'s, below. */
static int check_run_dir(struct kernel *k, char *why, size_t whylen)
{
	char w[CFG_STR_MAX + 128];
	k->run_fd = kernel_dir_open(k->run_dir, w, sizeof(w));
	if (k->run_fd < 0) {
		snprintf(why, whylen, "RON_RUN_DIR=%s: %s", k->run_dir, w);
		return -1;
	}
	return 0;
}

/* --check-config: the resolved table, then every check start-up makes that needs
 * nothing started, each failure on a line of its own; 78 if there was one. */
static int check_config(struct kernel *k)
{
	svctab_print(stdout, &k->tab, &k->cfg);
	fflush(stdout);
	char why[CFG_ERR_MAX + CFG_STR_MAX * 2], w[CFG_STR_MAX + 128];
	int bad = 0;
	if (kernel_dir_check(k->run_dir, w, sizeof(w)) < 0) {
		warnx("RON_RUN_DIR=%s: %s", k->run_dir, w);
		bad++;
	}
	struct kernel_admit_pass p = {&k->tab, &k->cfg, k->run_dir, .all = true, .dry = true};
	for (int t = 0; t < k->tab.n; t++) {
		struct kernel_admission a;
		bool held;
		if (k->tab.v[t].enabled &&
		    kernel_admit(k, &p, t, &a, &held, why, sizeof(why)) < 0) {
			warnx("%s", why);
			bad++;
		}
	}
	return bad ? KERNEL_EX_CONFIG : 0;
}

/* Every service admitted, or the first refusal (exits: nothing has started). */
static void admit_all(struct kernel *k)
{
	struct kernel_admission *a = calloc((size_t)k->nsvc + 1, sizeof(*a));
	if (!a)
		err(71, "allocate the admissions of %d services", k->nsvc);
	struct kernel_admit_pass p = {&k->tab, &k->cfg, k->run_dir, .all = true, .pend = a};
	for (int i = 0; i < k->nsvc; i++, p.npend++) {
		char why[CFG_ERR_MAX + CFG_STR_MAX * 2];
		bool held;
		int t = svctab_find(&k->tab, k->svc[i].name);
		if (kernel_admit(k, &p, t, &a[i], &held, why, sizeof(why)) < 0) {
			unlinkat(k->run_fd, KERNEL_PIDFILE, 0);
			errx(held ? KERNEL_EX_RUNNING : KERNEL_EX_CONFIG, "%s", why);
		}
		k->svc[i].lockfd = a[i].lockfd;
	}
	free(a);
}

/* The resolved settings, a file's [kernel] section under the environment and the
 * flags; then the service table, from the file or from the seed variables. */
static int load(struct kernel *k, int *argc, char **argv, char *why, size_t whylen)
{
	/* What reload builds on again: the flags and the variables as given, before the
	 * export below overwrites the variables with the resolved values. */
	k->argc0 = *argc;
	k->argv0 = calloc((size_t)*argc + 1, sizeof(*k->argv0));
	if (!k->argv0)
		err(71, "keep the command line");
	memcpy(k->argv0, argv, sizeof(*argv) * (size_t)*argc);
	for (int key = 0; key < CFG__COUNT; key++) {
		const char *v = getenv(cfg_table[key].env);
		if (v && !(k->env0[key] = strdup(v)))
			err(71, "keep the environment");
	}
	config_defaults(&k->cfg);
	enum cfg_source src;
	const char *file = config_peek(CFG_CONFIG, *argc, argv, &src);
	/* Named nowhere (an empty RON_CONFIG names none): the system's, if there is one. */
	if (!file && (file = config_default_file()))
		src = CFG_SRC_DEFAULT;
	if (file && config_set(&k->cfg, CFG_CONFIG, file, src, why, whylen) < 0)
		return -1;
	char label[CFG_STR_MAX + 16];
	if (src == CFG_SRC_DEFAULT)
		snprintf(label, sizeof(label), "%s", file ? file : "");
	else
		snprintf(label, sizeof(label), "%s%s=%s", src == CFG_SRC_FLAG ? "--" : "",
			 src == CFG_SRC_FLAG ? cfg_table[CFG_CONFIG].flag
					     : cfg_table[CFG_CONFIG].env,
			 file ? file : "");
	if (file && file[0] && svctab_read_file(&k->tab, &k->cfg, file, label, why, whylen) < 0)
		return -1;
	if (config_from_env(&k->cfg, CFG_KERNEL, why, whylen) < 0 ||
	    config_parse_args(&k->cfg, CFG_KERNEL, argc, argv, why, whylen) < 0 ||
	    config_check(&k->cfg, why, whylen) < 0)
		return -1;
	if (file && file[0])
		return svctab_resolve(&k->tab, &k->cfg, why, whylen);
	return svctab_seed(&k->tab, &k->cfg, why, whylen);
}

/* Every service's socket variable reaches every service (svc-overlay finds the
 * others only so); a service's own env lines, applied by its monitor, win. */
static int export_sockets(const struct kernel *k)
{
	for (int i = 0; i < k->nsvc; i++) {
		const struct svc_def *d = k->svc[i].def;
		if (d->sock[0] && setenv(d->sock_env, d->sock, 1) < 0)
			return -1;
	}
	return 0;
}

static void table_init(struct kernel *k)
{
	k->nsvc = svctab_enabled(&k->tab);
	k->svc = calloc((size_t)k->nsvc, sizeof(*k->svc));
	k->slot = calloc((size_t)k->tab.n, sizeof(*k->slot));
	if (!k->svc || !k->slot)
		err(71, "allocate the table of %d services", k->nsvc);
	for (int i = 0, n = 0; i < k->tab.n; i++) {
		k->slot[i] = -1;
		if (!k->tab.v[i].enabled)
			continue;
		k->slot[i] = n;
		kernel_svc_init(&k->svc[n++], k->tab.v[i].name, &k->tab.v[i]);
	}
}

static void lock_pidfile(struct kernel *k)
{
	char path[CFG_STR_MAX + 32];
	pid_t other = 0;
	kernel_pidfile_path(k->run_dir, path, sizeof(path));
	k->pid_fd = kernel_pidfile_lock(k->run_fd, &other);
	if (k->pid_fd < 0) {
		if (errno == EEXIST)
			errx(KERNEL_EX_RUNNING,
			     "another ron-kernel (pid %d) is running: it holds %s", (int)other,
			     path);
		err(KERNEL_EX_CONFIG, "pidfile %s", path);
	}
}

/* A command for the running kernel (the first word that is not a setting) needs
 * only the run directory: a config file that does not parse must not keep
 * `ron-kernel reload` from reaching the kernel, which names what is wrong. */
static bool ctl_command(int argc, char **argv, int *rc)
{
	static struct config c;
	char why[CFG_ERR_MAX], run_dir[CFG_STR_MAX];
	char **v = calloc((size_t)argc + 1, sizeof(*v));
	int n = argc;
	if (!v)
		return false;
	memcpy(v, argv, sizeof(*v) * (size_t)argc);
	config_defaults(&c);
	/* A bad setting is for the full load below to report. */
	if (config_from_env(&c, CFG_KERNEL, why, sizeof(why)) < 0 ||
	    config_parse_args(&c, CFG_KERNEL, &n, v, why, sizeof(why)) < 0 || n < 2 ||
	    !kernel_ctl_is_command(v[1])) {
		free(v);
		return false;
	}
	strlcpy(run_dir, config_str(&c, CFG_RUN_DIR), sizeof(run_dir));
	/* The kernel's file, found as the kernel finds it. */
	enum cfg_source src;
	const char *file = config_peek(CFG_CONFIG, argc, argv, &src);
	if (!file)
		file = config_default_file();
	/* A file that cannot be read names no run directory: asking the kernel of the
	 * default one instead could reach another kernel than the one meant. */
	if (c.src[CFG_RUN_DIR] == CFG_SRC_DEFAULT && file && file[0] &&
	    kernel_ctl_file_run_dir(file, run_dir, sizeof(run_dir), why, sizeof(why)) < 0)
		errx(KERNEL_EX_CONFIG, "%s", why);
	*rc = kernel_ctl_main(run_dir, n - 1, v + 1);
	free(v);
	return true;
}

int main(int argc, char **argv)
{
	static struct kernel k = {.epfd = -1, .hb_epfd = -1}; /* none until the loop opens them */
	char why[4096];
	bool want_status = false, want_check = false, want_check_config = false, json = false;

	/* Before anything opens a file: a closed stdout would make the pidfile fd 1. */
	if (startup_stdio() < 0)
		return 71;
	if (setvbuf(stdout, NULL, _IOLBF, 0) != 0)
		err(1, "make stdout line-buffered");
	/* The tables written on every tick (status.json, the feed) are hundreds of kB at
	 * hundreds of services and live for one write: mapped and given back each time,
	 * not left in the heap as free memory between ticks.  A fixed threshold also
	 * keeps glibc from raising it after the first such free. */
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("ron-kernel %s\n", KERNEL_VERSION);
			return 0;
		}
		if (strcmp(argv[i], "--check") == 0)
			want_check = true;
	}
	int rc;
	if (ctl_command(argc, argv, &rc))
		return rc;
	if (load(&k, &argc, argv, why, sizeof(why)) < 0) {
		/* A probe answers 0 or 1, whatever went wrong. */
		if (want_check) {
			printf("bad configuration: %s\n", why);
			return 1;
		}
		errx(KERNEL_EX_CONFIG, "%s", why);
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--status") == 0)
			want_status = true;
		else if (strcmp(argv[i], "--json") == 0 && want_status)
			json = true;
		else if (strcmp(argv[i], "--check") == 0)
			want_check = true;
		else if (strcmp(argv[i], "--check-config") == 0)
			want_check_config = true;
		else {
			kernel_unknown_argument(stderr, argv[i]);
			return KERNEL_EX_USAGE;
		}
	}
	k.run_dir = config_str(&k.cfg, CFG_RUN_DIR);
	if (want_check)
		return kernel_status_check(k.run_dir, stdout);
	if (want_status)
		return kernel_ctl_status(k.run_dir, NULL, 0, json);
	if (want_check_config)
		return check_config(&k);

	k.pid = getpid();
	/* Without both, a probe could not tell us from a process that took our pid. */
	if (proc_start_ticks(k.pid, &k.start) < 0)
		errx(71, "read our own start time from /proc/%d/stat", (int)k.pid);
	if (proc_boot_id(k.boot_id, sizeof(k.boot_id)) < 0)
		k.boot_id[0] = '\0';
	k.json = config_num(&k.cfg, CFG_LOG_FORMAT) == CFG_LOG_JSON;
	const char *no_color = getenv("NO_COLOR");
	k.tty = isatty(STDOUT_FILENO);
	k.color = !k.json && k.tty && !(no_color && no_color[0]);
	if (kernel_outq_init(&k.out, (size_t)config_num(&k.cfg, CFG_OUTPUT_QUEUE_BYTES)) < 0)
		err(71, "allocate the output queue (RON_OUTPUT_QUEUE_BYTES=%s)",
		    config_str(&k.cfg, CFG_OUTPUT_QUEUE_BYTES));
	if (kernel_outq_open(&k.out, STDOUT_FILENO) < 0)
		warn("standard output");
	int so = kernel_svcout_init(&k, why, sizeof(why));
	if (so < 0)
		errx(so == -1 ? KERNEL_EX_CONFIG : 71, "%s", why);
	k.sigfd = -1;
	table_init(&k);
	if (check_run_dir(&k, why, sizeof(why)) < 0)
		errx(KERNEL_EX_CONFIG, "%s", why);
	if (find_monitor(&k, why, sizeof(why)) < 0)
		errx(KERNEL_EX_CONFIG, "%s", why);
	struct rlimit lim;
	if (startup_nofile(&lim) < 0)
		warn("raise RLIMIT_NOFILE");
	/* Each service costs the kernel its status and command pipes and two pidfds. */
	startup_nofile_warning(&lim, KERNEL_FDS_BASE + KERNEL_FDS_PER_SVC * (unsigned long)k.nsvc,
			       why, sizeof(why));
	if (why[0])
		warnx("%s", why);
	int orc = kernel_obs_check(&k, why, sizeof(why));
	if (orc)
		errx(orc, "%s", why);
	lock_pidfile(&k);
	admit_all(&k);
	if (kernel_contain_init(&k, why, sizeof(why)) < 0) {
		unlinkat(k.run_fd, KERNEL_PIDFILE, 0);
		errx(KERNEL_EX_CONFIG, "%s", why);
	}
	if (kernel_control_open(&k, why, sizeof(why)) < 0)
		errx(71, "%s", why);
	/* Services whose monitor dies are reparented to us, to be adopted and reaped. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		err(71, "prctl PR_SET_CHILD_SUBREAPER");
	if (kernel_notify_open(&k.notify, why, sizeof(why)) < 0)
		warnx("%s; not notifying systemd", why);
	/* Monitors and services inherit the resolved settings, not a re-parse of ours. */
	snprintf(k.mark, sizeof(k.mark), "%s=%d.%llu", PROC_KERNEL_MARK, (int)k.pid, k.start);
	if (config_export_env(&k.cfg, CFG_KERNEL) < 0 || export_sockets(&k) < 0 ||
	    setenv(PROC_KERNEL_MARK, strchr(k.mark, '=') + 1, 1) < 0)
		err(71, "export the configuration to the environment");
	if (kernel_signals_init(&k, why, sizeof(why)) < 0)
		errx(71, "%s", why);
	int src = kernel_obs_start(&k, why, sizeof(why));
	if (src) {
		unlinkat(k.run_fd, KERNEL_PIDFILE, 0);
		errx(src, "%s", why);
	}

	struct kernel_field f[9] = {KF_STR("version", KERNEL_VERSION), KF_NUM("pid", k.pid),
				    KF_STR("run_dir", k.run_dir), KF_STR("monitor", k.monitor_bin),
				    KF_NUM("services", k.nsvc)};
	int nf = 5;
	if (k.tab.path[0])
		f[nf++] = KF_STR("config", k.tab.path);
	bool cg = k.containment == KCONT_CGROUP;
	f[nf++] = KF_STR("containment", cg ? "cgroup" : "pgroup");
	f[nf++] = cg ? KF_STR("path", k.cg_base) : KF_STR("reason", k.cg_why);
	kernel_emit(&k, KL_INFO, "start", f, nf);
	kernel_obs_announce(&k, clock_mono_us());
	kernel_contain_report(&k);
	kernel_stale_stop(&k);
	kernel_run(&k);
	kernel_obs_stop(&k);
	kernel_contain_fini(&k);

	if (unlinkat(k.run_fd, KERNEL_PIDFILE, 0) < 0)
		warn("remove %s/%s", k.run_dir, KERNEL_PIDFILE);
	close(k.pid_fd);
	kernel_socklocks_release(&k);
	struct kernel_field g[] = {KF_NUM("code", 0)};
	kernel_emit(&k, KL_INFO, "exit", g, 1);
	kernel_out_drain(&k);
	kernel_outq_free(&k.out);
	return 0;
}
