/* The kernel's Prometheus metrics: counters kept here, not in any monitor, so a
 * replaced monitor loses none of them; rendered in the text exposition format 0.0.4. */
#include <bsd/string.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "observe.h"

static const int64_t bucket_us[KM_BUCKETS] = {100,   250,   500,    1000,   2500,   5000,   10000,
					      25000, 50000, 100000, 250000, 500000, 1000000};
static const char *const bucket_le[KM_BUCKETS] = {"0.0001", "0.00025", "0.0005", "0.001", "0.0025",
						  "0.005",  "0.01",    "0.025",	 "0.05",  "0.1",
						  "0.25",   "0.5",     "1"};
static const char *const result_names[KM__RESULTS] = {"ok",	"timeout",   "refused",
						      "closed", "bad_reply", "unhealthy"};
static const char *const replace_names[KM__REPLACE] = {"lost", "frozen"};

int kernel_metrics_init(struct kernel_metrics *m, int64_t start_wall_ms)
{
	memset(m, 0, sizeof(*m));
	m->kernel_start_ms = start_wall_ms;
	return 0;
}

void kernel_metrics_free(struct kernel_metrics *m)
{
	free(m->svc);
	m->svc = NULL;
	m->n = m->cap = 0;
}

struct km_svc *kernel_metrics_of(struct kernel_metrics *m, const char *name, int hint)
{
	if (hint >= 0 && hint < m->n && strcmp(m->svc[hint].name, name) == 0)
		return &m->svc[hint];
	for (int i = 0; i < m->n; i++)
		if (strcmp(m->svc[i].name, name) == 0)
			return &m->svc[i];
	if (m->n == m->cap) {
		int cap = m->cap ? m->cap * 2 : 16;
		struct km_svc *p = realloc(m->svc, sizeof(*p) * (size_t)cap);
		if (!p)
			return NULL;
		m->svc = p;
		m->cap = cap;
	}
	struct km_svc *s = &m->svc[m->n++];
	memset(s, 0, sizeof(*s));
	strlcpy(s->name, name, sizeof(s->name));
	return s;
}

const char *km_result_name(enum km_result r)
{
	return (unsigned)r < KM__RESULTS ? result_names[r] : "?";
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The reasons are common/health.c's and common/wire.c's messages. */
enum km_result km_check_result(bool ok, const char *reason)
{
	if (ok)
		return KM_OK;
	if (starts(reason, "timeout"))
		return KM_TIMEOUT;
	if (starts(reason, "connect:") || starts(reason, "socket:"))
		return KM_REFUSED;
	if (starts(reason, "connection closed") || starts(reason, "recv:") ||
	    starts(reason, "send:") || starts(reason, "truncated reply"))
		return KM_CLOSED;
	if (strstr(reason, "not HealthOk"))
		return KM_UNHEALTHY;
	return KM_BAD_REPLY;
}

void kernel_metrics_report(struct km_svc *s, const struct report *r)
{
	if (!s)
		return;
	if (r->restarts > s->restarts)
		s->restarts = r->restarts;
	if (r->event != EV_CHECK)
		return;
	/* A monitor reports only some passing checks, and says how many it ran. */
	bool sample = false;
	if (r->passed >= 0) {
		s->checks[KM_OK] += (unsigned long long)r->passed;
		sample = r->ok && r->passed > 0;
	} else if (r->ok && r->rtt_us >= 0) {
		s->checks[KM_OK]++;
		sample = true;
	}
	/* A failed one is reported each time; a heartbeat has no round trip, and in
	 * another state it is no check. */
	if (!r->ok && r->rtt_us >= 0 && (r->state == ST_HEALTHY || r->state == ST_DEGRADED)) {
		s->checks[km_check_result(false, r->reason)]++;
		sample = true;
	}
	if (!sample || r->rtt_us < 0)
		return;
	int b = 0;
	while (b < KM_BUCKETS && r->rtt_us > bucket_us[b])
		b++;
	s->bucket[b]++;
	s->observed++;
	s->sum_us = clock_add_us(s->sum_us, r->rtt_us);
}

void kernel_metrics_replaced(struct km_svc *s, enum km_replace why)
{
	if (s && (unsigned)why < KM__REPLACE)
		s->replaced[why]++;
}

/* A label value with \\, \" and \n escaped, as the format asks. */
static void label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void svc_sample(FILE *f, const char *name, const struct kernel_svc *s)
{
	fprintf(f, "%s{service=\"", name);
	label(f, s->name);
	fputs("\"", f);
}

static void seconds(FILE *f, int64_t us)
{
	fprintf(f, "%lld.%06lld", (long long)(us / 1000000), (long long)(us % 1000000));
}

char *kernel_metrics_render(struct kernel_metrics *m, const struct kernel_svc *svcs, int n,
			    int64_t now_us, int64_t wall_ms)
{
	/* The counters in the table's order; a service never counted shows zeros. */
	static const struct km_svc zero;
	const struct km_svc **c = calloc(n > 0 ? (size_t)n : 1, sizeof(*c));
	if (!c)
		return NULL;
	/* Made first, all of them: making one may move the others. */
	for (int i = 0; i < n; i++)
		kernel_metrics_of(m, svcs[i].name, i);
	for (int i = 0; i < n; i++) {
		c[i] = kernel_metrics_of(m, svcs[i].name, i);
		if (!c[i])
			c[i] = &zero;
	}
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f) {
		free(c);
		return NULL;
	}
	head(f, "ron_build_info", "gauge", "The version of ron-kernel; always 1.");
	fprintf(f, "ron_build_info{version=\"%s\"} 1\n", KERNEL_VERSION);
	head(f, "ron_kernel_start_time_seconds", "gauge",
	     "When ron-kernel started, in seconds since the epoch.");
	fputs("ron_kernel_start_time_seconds ", f);
	seconds(f, m->kernel_start_ms * 1000);
	fputs("\n", f);
	head(f, "ron_output_dropped_lines_total", "counter",
	     "Output lines dropped because stdout could not take them.");
	fprintf(f, "ron_output_dropped_lines_total %llu\n", m->dropped_lines);

	head(f, "ron_service_up", "gauge", "1 if the service is healthy, else 0.");
	for (int i = 0; i < n; i++) {
		svc_sample(f, "ron_service_up", &svcs[i]);
		fprintf(f, "} %d\n", svcs[i].state == ST_HEALTHY);
	}
	head(f, "ron_service_state", "gauge",
	     "1 for the state the service is in, 0 for the others.");
	for (int i = 0; i < n; i++)
		for (int st = 0; st < ST__COUNT; st++) {
			svc_sample(f, "ron_service_state", &svcs[i]);
			fprintf(f, ",state=\"%s\"} %d\n", svc_state_name(st),
				(int)svcs[i].state == st);
		}
	head(f, "ron_service_quarantined", "gauge", "1 if the service is quarantined, else 0.");
	for (int i = 0; i < n; i++) {
		svc_sample(f, "ron_service_quarantined", &svcs[i]);
		fprintf(f, "} %d\n", svcs[i].state == ST_QUARANTINED);
	}
	head(f, "ron_service_restarts_total", "counter", "Restarts of the service.");
	for (int i = 0; i < n; i++) {
		svc_sample(f, "ron_service_restarts_total", &svcs[i]);
		fprintf(f, "} %llu\n", c[i]->restarts);
	}
	head(f, "ron_service_start_time_seconds", "gauge",
	     "When the running service process started, in seconds since the epoch; 0 if none "
	     "runs.");
	for (int i = 0; i < n; i++) {
		svc_sample(f, "ron_service_start_time_seconds", &svcs[i]);
		fputs("} ", f);
		int64_t up_ms = kernel_svc_uptime_ms(&svcs[i], now_us);
		seconds(f, svcs[i].pid > 0 ? (wall_ms - up_ms) * 1000 : 0);
		fputs("\n", f);
	}
	head(f, "ron_health_checks_total", "counter",
	     "Health checks of the service since it first answered, by result.");
	for (int i = 0; i < n; i++)
		for (int r = 0; r < KM__RESULTS; r++) {
			svc_sample(f, "ron_health_checks_total", &svcs[i]);
			fprintf(f, ",result=\"%s\"} %llu\n", result_names[r], c[i]->checks[r]);
		}
	head(f, "ron_health_check_duration_seconds", "histogram",
	     "Round trip of the service's health checks.");
	for (int i = 0; i < n; i++) {
		const struct km_svc *s = c[i];
		unsigned long long cum = 0;
		for (int b = 0; b <= KM_BUCKETS; b++) {
			cum += s->bucket[b];
			svc_sample(f, "ron_health_check_duration_seconds_bucket", &svcs[i]);
			fprintf(f, ",le=\"%s\"} %llu\n", b < KM_BUCKETS ? bucket_le[b] : "+Inf",
				cum);
		}
		svc_sample(f, "ron_health_check_duration_seconds_sum", &svcs[i]);
		fputs("} ", f);
		seconds(f, s->sum_us);
		fputs("\n", f);
		svc_sample(f, "ron_health_check_duration_seconds_count", &svcs[i]);
		fprintf(f, "} %llu\n", s->observed);
	}
	head(f, "ron_monitor_replacements_total", "counter",
	     "Monitors of the service replaced by the kernel, by reason.");
	for (int i = 0; i < n; i++)
		for (int r = 0; r < KM__REPLACE; r++) {
			svc_sample(f, "ron_monitor_replacements_total", &svcs[i]);
			fprintf(f, ",reason=\"%s\"} %llu\n", replace_names[r], c[i]->replaced[r]);
		}
	free(c);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
