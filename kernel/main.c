/* ron-kernel: supervises svc-index, svc-overlay and svc-storage through one
 * ron-monitor each; start-up checks here, the event loop in loop.c. */
#include <bsd/libutil.h>
#include <bsd/string.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "kernel.h"
#include "sockpath.h"

static const struct {
	const char *name;
	enum cfg_key bin, sock;
} services[KERNEL_NSVC] = {
    {"svc-index", CFG_SVC_INDEX_BIN, CFG_INDEX_SOCK},
    {"svc-overlay", CFG_SVC_OVERLAY_BIN, CFG_OVERLAY_SOCK},
    {"svc-storage", CFG_SVC_STORAGE_BIN, CFG_STORAGE_SOCK},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ron-kernel [--SETTING=VALUE ...]\n"
		   "       ron-kernel --status | --check [--run-dir=PATH]\n"
		   "       ron-kernel --help | --version\n"
		   "\n"
		   "Supervises svc-index, svc-overlay and svc-storage, one ron-monitor each.\n"
		   "  --status   print the running kernel's status.json as a table\n"
		   "  --check    exit 0 only if a live kernel holds the pidfile and every\n"
		   "             service is healthy, else 1 with one line saying why\n"
		   "\n"
		   "Settings (flag, environment variable, meaning, default and range):\n");
	config_usage(f, CFG_KERNEL);
	fprintf(f, "\nExit: 0 after a clean shutdown; 1 --check: not running or not healthy,\n"
		   "or a start-up write failed; 64 unknown argument; 71 a system call failed at\n"
		   "start; 75 another ron-kernel holds the pidfile; 78 bad configuration or\n"
		   "unsafe directory.\n");
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

/* Every check that can refuse to start, before anything is started. */
static int check_dirs(struct kernel *k, char *why, size_t whylen)
{
	char w[CFG_STR_MAX + 128];
	if (kernel_dir_safe(k->run_dir, w, sizeof(w)) < 0) {
		snprintf(why, whylen, "RON_RUN_DIR=%s: %s", k->run_dir, w);
		return -1;
	}
	for (int i = 0; i < KERNEL_NSVC; i++) {
		const char *sock = config_str(&k->cfg, services[i].sock);
		struct sockaddr_un sa;
		socklen_t salen;
		char dir[CFG_STR_MAX];
		if (sockpath_addr(&sa, &salen, sock, w, sizeof(w)) < 0) {
			snprintf(why, whylen, "%s=%s: %s", cfg_table[services[i].sock].env, sock,
				 w);
			return -1;
		}
		kernel_dirname(sock, dir, sizeof(dir));
		if (kernel_dir_safe(dir, w, sizeof(w)) < 0) {
			snprintf(why, whylen, "%s=%s: %s", cfg_table[services[i].sock].env, sock,
				 w);
			return -1;
		}
	}
	return 0;
}

static void lock_pidfile(struct kernel *k)
{
	char path[CFG_STR_MAX + 32];
	pid_t other = 0;
	kernel_pidfile_path(k->run_dir, path, sizeof(path));
	k->pfh = pidfile_open(path, 0644, &other);
	if (!k->pfh) {
		if (errno == EEXIST)
			errx(KERNEL_EX_RUNNING,
			     "another ron-kernel (pid %d) is running: it holds %s", (int)other,
			     path);
		err(KERNEL_EX_CONFIG, "pidfile %s", path);
	}
	/* Monitors must not inherit the lock, or it would outlive a killed kernel. */
	int fd = pidfile_fileno(k->pfh);
	int fl = fcntl(fd, F_GETFD);
	if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		err(1, "FD_CLOEXEC on pidfile %s", path);
	if (pidfile_write(k->pfh) < 0)
		err(1, "write pidfile %s", path);
}

int main(int argc, char **argv)
{
	static struct kernel k;
	char why[CFG_ERR_MAX + CFG_STR_MAX];
	bool want_status = false, want_check = false;

	if (setvbuf(stdout, NULL, _IOLBF, 0) != 0)
		err(1, "make stdout line-buffered");
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
	if (config_load(&k.cfg, CFG_KERNEL, &argc, argv, why, CFG_ERR_MAX) < 0) {
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
		else if (strcmp(argv[i], "--check") == 0)
			want_check = true;
		else {
			warnx("unknown argument %s", argv[i]);
			usage(stderr);
			return KERNEL_EX_USAGE;
		}
	}
	k.run_dir = config_str(&k.cfg, CFG_RUN_DIR);
	if (want_check)
		return kernel_status_check(k.run_dir, stdout);
	if (want_status)
		return kernel_status_print(k.run_dir, stdout);

	k.pid = getpid();
	k.json = config_num(&k.cfg, CFG_LOG_FORMAT) == CFG_LOG_JSON;
	k.sigfd = -1;
	for (int i = 0; i < KERNEL_NSVC; i++)
		kernel_svc_init(&k.svc[i], services[i].name, services[i].bin, services[i].sock);
	if (check_dirs(&k, why, sizeof(why)) < 0)
		errx(KERNEL_EX_CONFIG, "%s", why);
	if (find_monitor(&k, why, sizeof(why)) < 0)
		errx(KERNEL_EX_CONFIG, "%s", why);
	lock_pidfile(&k);
	/* Services whose monitor dies are reparented to us, to be adopted and reaped. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		err(71, "prctl PR_SET_CHILD_SUBREAPER");
	if (kernel_notify_open(&k.notify, why, sizeof(why)) < 0)
		warnx("%s; not notifying systemd", why);
	/* Monitors and services inherit the resolved settings, not a re-parse of ours. */
	if (config_export_env(&k.cfg, CFG_KERNEL) < 0)
		err(71, "export the configuration to the environment");
	if (kernel_signals_init(&k, why, sizeof(why)) < 0)
		errx(71, "%s", why);

	struct kernel_field f[] = {KF_STR("version", KERNEL_VERSION), KF_NUM("pid", k.pid),
				   KF_STR("run_dir", k.run_dir), KF_STR("monitor", k.monitor_bin)};
	kernel_emit(&k, KL_INFO, "start", f, 4);
	kernel_stale_stop(&k);
	kernel_run(&k);

	pidfile_remove(k.pfh);
	struct kernel_field g[] = {KF_NUM("code", 0)};
	kernel_emit(&k, KL_INFO, "exit", g, 1);
	return 0;
}
