/* deploy/: the Kubernetes manifest parsed (libyaml) and the fields the README relies
 * on checked against what ron-kernel does; the container build file read for its
 * stages, health check and user.  No container engine is needed. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void probe_on_healthz(yaml_node_t *c, const char *probe, const char *port_name)
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
	cr_assert_str_eq(scalar(at(p, "httpGet", "path", NULL), "probe path"), "/healthz", "%s",
			 probe);
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

	probe_on_healthz(c, "readinessProbe", port_name);
	probe_on_healthz(c, "livenessProbe", port_name);

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
}
