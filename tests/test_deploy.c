/* deploy/: the Kubernetes manifest parsed (libyaml) and the fields the README relies
 * on checked against what ron-kernel does; the container build file read for its
 * stages, health check and user.  No container engine is needed. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <yaml.h>

#include "config.h"
#include "httpaddr.h"
#include "testlib.h"

TestSuite(deploy, .init = tl_setup, .fini = tl_teardown, .timeout = 30);

static yaml_document_t doc;

static void load(const char *name)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/%s", tl_src_dir(), name);
	FILE *f = fopen(path, "r");
	cr_assert(f, "cannot open %s", path);
	yaml_parser_t p;
	cr_assert(yaml_parser_initialize(&p));
	yaml_parser_set_input_file(&p, f);
	cr_assert(yaml_parser_load(&p, &doc), "%s: YAML error at line %zu: %s", path,
		  p.problem_mark.line + 1, p.problem ? p.problem : "?");
	cr_assert(yaml_document_get_root_node(&doc), "%s is empty", path);
	yaml_parser_delete(&p);
	fclose(f);
}

/* The node at a path of mapping keys and sequence indexes ("0"); NULL-terminated. */
static yaml_node_t *at(yaml_node_t *n, ...)
{
	va_list ap;
	va_start(ap, n);
	for (const char *k; n && (k = va_arg(ap, const char *));) {
		yaml_node_t *next = NULL;
		if (n->type == YAML_MAPPING_NODE) {
			for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
			     pr < n->data.mapping.pairs.top; pr++) {
				yaml_node_t *key = yaml_document_get_node(&doc, pr->key);
				if (key->type == YAML_SCALAR_NODE &&
				    strcmp((char *)key->data.scalar.value, k) == 0)
					next = yaml_document_get_node(&doc, pr->value);
			}
		} else if (n->type == YAML_SEQUENCE_NODE) {
			long i = atol(k);
			yaml_node_item_t *items = n->data.sequence.items.start;
			if (i >= 0 && items + i < n->data.sequence.items.top)
				next = yaml_document_get_node(&doc, items[i]);
		}
		n = next;
	}
	va_end(ap);
	return n;
}

static const char *scalar(yaml_node_t *n, const char *what)
{
	cr_assert(n && n->type == YAML_SCALAR_NODE, "the manifest has no %s", what);
	return (const char *)n->data.scalar.value;
}

/* The value of the container's environment variable name, or NULL. */
static const char *env_of(yaml_node_t *c, const char *name)
{
	yaml_node_t *env = at(c, "env", NULL);
	for (int i = 0; env && i < 64; i++) {
		char idx[8];
		snprintf(idx, sizeof(idx), "%d", i);
		yaml_node_t *e = at(env, idx, NULL);
		if (!e)
			break;
		if (strcmp(scalar(at(e, "name", NULL), "env name"), name) == 0)
			return scalar(at(e, "value", NULL), name);
	}
	return NULL;
}

static void probe_on(yaml_node_t *c, const char *probe, const char *path, const char *port_name)
{
	yaml_node_t *p = at(c, probe, NULL);
	cr_assert(p, "no %s", probe);
	if (at(p, "exec", NULL)) {
		const char *cmd = scalar(at(p, "exec", "command", "0", NULL), "exec command");
		const char *arg = scalar(at(p, "exec", "command", "1", NULL), "exec argument");
		cr_assert(strstr(cmd, "ron-kernel") && strcmp(arg, "--check") == 0, "%s runs %s %s",
			  probe, cmd, arg);
		return;
	}
	cr_assert_str_eq(scalar(at(p, "httpGet", "path", NULL), "probe path"), path, "%s", probe);
	cr_assert_str_eq(scalar(at(p, "httpGet", "port", NULL), "probe port"), port_name, "%s",
			 probe);
}

Test(deploy, kubernetes_manifest)
{
	load("deploy/kubernetes.yaml");
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	const char *kind = scalar(at(root, "kind", NULL), "kind");
	cr_assert(strcmp(kind, "DaemonSet") == 0 || strcmp(kind, "Deployment") == 0, "kind %s",
		  kind);
	yaml_node_t *tmpl = at(root, "spec", "template", NULL);
	yaml_node_t *c = at(tmpl, "spec", "containers", "0", NULL);
	cr_assert(c, "no container");

	/* The HTTP address: one ron-kernel accepts, on the container port Prometheus and
	 * the probes use. */
	const char *addr = env_of(c, "RON_HTTP_ADDR");
	cr_assert(addr, "RON_HTTP_ADDR is not set: no /metrics or /healthz");
	struct httpaddr a;
	char why[128];
	cr_assert_eq(httpaddr_parse(addr, &a, why, sizeof(why)), 0, "RON_HTTP_ADDR=%s: %s", addr,
		     why);
	const char *pub = env_of(c, "RON_HTTP_PUBLIC");
	cr_assert(
	    a.loopback || (pub && strcmp(pub, "1") == 0),
	    "RON_HTTP_ADDR=%s is not loopback: ron-kernel refuses it without RON_HTTP_PUBLIC=1",
	    addr);
	cr_assert(!a.loopback, "a loopback RON_HTTP_ADDR cannot be probed by the kubelet");
	int port = atoi(strrchr(addr, ':') + 1);
	const char *port_name = scalar(at(c, "ports", "0", "name", NULL), "port name");
	cr_assert_eq(atoi(scalar(at(c, "ports", "0", "containerPort", NULL), "containerPort")),
		     port);

	yaml_node_t *ann = at(tmpl, "metadata", "annotations", NULL);
	cr_assert_str_eq(scalar(at(ann, "prometheus.io/scrape", NULL), "scrape annotation"),
			 "true");
	cr_assert_eq(atoi(scalar(at(ann, "prometheus.io/port", NULL), "port annotation")), port);
	cr_assert_str_eq(scalar(at(ann, "prometheus.io/path", NULL), "path annotation"),
			 "/metrics");

	/* Ready while the services are; alive while the kernel is, so that no service's
	 * trouble gets the pod killed, and a stuck kernel does within a minute. */
	probe_on(c, "readinessProbe", "/readyz", port_name);
	probe_on(c, "livenessProbe", "/livez", port_name);
	long period = atol(scalar(at(c, "livenessProbe", "periodSeconds", NULL), "period")),
	     fails = atol(scalar(at(c, "livenessProbe", "failureThreshold", NULL), "threshold"));
	cr_assert(period * fails >= 10 && period * fails <= 60,
		  "the liveness probe restarts a stuck kernel after %ld s, not within 10..60 s",
		  period * fails);

	/* The grace period covers a whole stop: the stop timeout, 2 s for the monitors'
	 * last reports and 2 s to reap what SIGKILL left (kernel/loop.c). */
	const char *stop = env_of(c, "RON_STOP_TIMEOUT_MS");
	long stop_ms = atol(stop ? stop : cfg_table[CFG_STOP_TIMEOUT_MS].def);
	long grace =
	    atol(scalar(at(tmpl, "spec", "terminationGracePeriodSeconds", NULL), "grace period"));
	cr_assert_gt(grace * 1000, stop_ms + 4000,
		     "terminationGracePeriodSeconds %ld is not above the stop (%ld ms + 4 s)",
		     grace, stop_ms);

	/* The run directory sits on a writable volume (the root file system is not). */
	const char *run = env_of(c, "RON_RUN_DIR");
	const char *mount = scalar(at(c, "volumeMounts", "0", "mountPath", NULL), "volume mount");
	cr_assert(run && strncmp(run, mount, strlen(mount)) == 0 && run[strlen(mount)] == '/',
		  "RON_RUN_DIR=%s is not under the volume at %s", run ? run : "(unset)", mount);
	cr_assert_str_eq(
	    scalar(at(tmpl, "spec", "securityContext", "runAsNonRoot", NULL), "runAsNonRoot"),
	    "true");
	yaml_document_delete(&doc);
}

/* Item i of the sequence under key, or NULL. */
static yaml_node_t *item(yaml_node_t *n, const char *key, int i)
{
	char idx[12];
	snprintf(idx, sizeof(idx), "%d", i);
	return at(n, key, idx, NULL);
}

/* The volume of the run directory, its mount path and the init container that makes
 * it sticky: argv of that container's command into cmd (NULL-terminated). */
static const char *run_volume(yaml_node_t *tmpl, char *cmd[], int max)
{
	yaml_node_t *c = at(tmpl, "spec", "containers", "0", NULL);
	const char *vol = scalar(at(c, "volumeMounts", "0", "name", NULL), "volume name");
	const char *mount = scalar(at(c, "volumeMounts", "0", "mountPath", NULL), "mount path");
	yaml_node_t *v = at(tmpl, "spec", "volumes", "0", NULL);
	cr_assert_str_eq(scalar(at(v, "name", NULL), "volume"), vol);
	cr_assert(at(v, "emptyDir", NULL), "the run directory's volume is not an emptyDir");
	cr_assert_null(at(v, "emptyDir", "medium", NULL),
		       "the emptyDir has a medium: the manifest should work on a disk-backed one");
	yaml_node_t *init = at(tmpl, "spec", "initContainers", "0", NULL);
	cr_assert(init, "no init container to make the emptyDir safe for the run directory");
	cr_assert_str_eq(scalar(at(init, "volumeMounts", "0", "name", NULL), "init volume"), vol);
	cr_assert_str_eq(scalar(at(init, "volumeMounts", "0", "mountPath", NULL), "init mount"),
			 mount);
	cr_assert_str_eq(scalar(at(init, "securityContext", "capabilities", "drop", "0", NULL),
				"init capabilities"),
			 "ALL");
	int n = 0;
	for (yaml_node_t *a; n < max - 1 && (a = item(init, "command", n)); n++)
		cmd[n] = (char *)scalar(a, "command");
	cmd[n] = NULL;
	cr_assert_gt(n, 0, "the init container has no command");
	return mount;
}

/* ron-kernel --check-config as nobody, its run directory and sockets below vol. */
static int check_as_nobody(const char *vol, char *err, size_t errlen)
{
	static char env[8][700];
	const char *fmt[] = {"RON_RUN_DIR=%s/kernel", "RON_INDEX_SOCK=%s/kernel/i.sock",
			     "RON_OVERLAY_SOCK=%s/kernel/o.sock",
			     "RON_STORAGE_SOCK=%s/kernel/s.sock"};
	char *envp[10];
	int n = 0;
	for (; n < 4; n++) {
		snprintf(env[n], sizeof(env[n]), fmt[n], vol);
		envp[n] = env[n];
	}
	envp[n++] = "RON_CONFIG=";
	envp[n++] = "RON_SVC_INDEX_BIN=" RON_BUILD_DIR "/sim/svc-index";
	envp[n++] = "RON_SVC_OVERLAY_BIN=" RON_BUILD_DIR "/sim/svc-overlay";
	envp[n++] = "RON_SVC_STORAGE_BIN=" RON_BUILD_DIR "/sim/svc-storage";
	envp[n++] = "PATH=/usr/bin:/bin";
	envp[n] = NULL;
	char *argv[] = {"/usr/bin/setpriv",
			"--reuid=65534",
			"--regid=65534",
			"--clear-groups",
			RON_BUILD_DIR "/ron-kernel",
			"--check-config",
			NULL};
	char out[16384];
	int st = tl_run(argv, envp, out, sizeof(out), err, errlen, 30000);
	cr_assert(WIFEXITED(st), "ron-kernel --check-config: status %#x", st);
	return WEXITSTATUS(st);
}

/* A disk-backed emptyDir is 0777 and root's: a non-root kernel refuses to make its run
 * directory there (anyone in the pod could swap it), and accepts it once the
 * manifest's init container has run on it. */
Test(deploy, a_disk_backed_emptydir_is_made_safe_by_the_init_container)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to make a directory as the kubelet does");
	load("deploy/kubernetes.yaml");
	yaml_node_t *tmpl = at(yaml_document_get_root_node(&doc), "spec", "template", NULL);
	char *cmd[8];
	const char *mount = run_volume(tmpl, cmd, 8);
	/* nobody must reach the volume through the test's own directory. */
	cr_assert_eq(chmod(tl_dir(), 0711), 0);
	char vol[600];
	snprintf(vol, sizeof(vol), "%s", tl_path("emptydir"));
	cr_assert_eq(mkdir(vol, 0777), 0);
	cr_assert_eq(chmod(vol, 0777), 0); /* past the umask, as the kubelet does */

	char err[8192];
	cr_assert_eq(check_as_nobody(vol, err, sizeof(err)), 78, "a 0777 parent passed: %s", err);
	cr_assert(strstr(err, "unsafe directory") && strstr(err, "writable by others"), "%s", err);

	/* The init container's command, on this directory in place of its mount path. */
	for (int i = 0; cmd[i]; i++)
		if (strcmp(cmd[i], mount) == 0)
			cmd[i] = vol;
	char out[1024];
	int st = tl_run(cmd, NULL, out, sizeof(out), err, sizeof(err), 30000);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the init container's command: %s", err);
	cr_assert_eq(check_as_nobody(vol, err, sizeof(err)), 0,
		     "refused after the init container: %s", err);
	yaml_document_delete(&doc);
}

Test(deploy, container_build_file)
{
	char path[700], text[16384];
	snprintf(path, sizeof(path), "%s/deploy/Containerfile", tl_src_dir());
	ssize_t n = tl_read_file(path, text, sizeof(text) - 1);
	cr_assert_gt(n, 0, "cannot read %s", path);
	text[n] = '\0';
	int stages = 0;
	const char *last = NULL;
	for (const char *p = text; (p = strstr(p, "\nFROM ")); p++, stages++)
		last = p + 6;
	cr_assert_geq(stages, 2, "not a multi-stage build");
	cr_assert(strncmp(last, "debian:", 7) == 0 && strstr(last, "-slim"),
		  "the runtime stage is not a slim Debian image: %.40s", last);
	cr_assert(strstr(text, "make all"), "the build stage does not use the Makefile");
	cr_assert(strstr(text, "CMD [\"/usr/bin/ron-kernel\", \"--check\"]"),
		  "no HEALTHCHECK with ron-kernel --check");
	const char *user = strstr(text, "\nUSER ");
	cr_assert(user && strncmp(user + 6, "0", 1) != 0 && strncmp(user + 6, "root", 4) != 0,
		  "the image runs as root");
	cr_assert(strstr(text, "libmicrohttpd12"), "ron-httpd's library is missing at run time");
	/* The package's layout: its conffile at /etc/ron/kernel.conf, read by the kernel. */
	cr_assert(strstr(text, "debian/kernel.conf /out/etc/ron/kernel.conf"),
		  "the image does not ship the package's /etc/ron/kernel.conf");
	cr_assert(strstr(text, "RON_CONFIG=/etc/ron/kernel.conf"), "the image names no config");
	cr_assert(strstr(text, "/usr/lib/ron-kernel/sim/svc-sim"),
		  "the image has not the simulated services where the config runs them");
}
