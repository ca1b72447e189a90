/* The status page ron-httpd serves as GET /: rendered here, as the other snapshot
 * bodies are, into one HTML document that reads without JavaScript (a table of every
 * service, its state first, and an SVG timeline of its restarts in the last hour).
 * ron-httpd's /page.js then keeps it current from /status, and /page.css styles it
 * (httpd/page.js, httpd/page.css).  Everything that came from a service or the config
 * (names, reasons, paths, its last lines of output) is HTML-escaped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kernel.h"
#include "svcout.h"

/* The timeline's drawing: an hour across TL_W units. */
#define TL_W 120
#define TL_H 14

/* Text as HTML: the five characters that could open markup or end an attribute. */
static void esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* One tick per restart of the last hour, the newest at the right edge. */
static void timeline(FILE *f, const struct kernel_svc *s, int64_t now_us)
{
	int n = 0;
	for (unsigned i = 0; i < s->nrecent; i++)
		n += now_us - s->recent_us[i] <= (int64_t)KERNEL_RECENT_MS * 1000;
	fprintf(f,
		"<svg class=tl viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=img "
		"aria-label=\"%d restart%s in the last hour\">"
		"<line x1=\"0\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>",
		TL_W, TL_H, TL_W, TL_H, n, n == 1 ? "" : "s", TL_H / 2, TL_W, TL_H / 2);
	for (unsigned i = 0; i < s->nrecent; i++) {
		int64_t ago_ms = (now_us - s->recent_us[i]) / 1000;
		if (ago_ms > KERNEL_RECENT_MS)
			continue;
		double x = TL_W - 2 - (double)ago_ms * (TL_W - 2) / KERNEL_RECENT_MS;
		fprintf(f, "<rect x=\"%.1f\" y=\"1\" width=\"2\" height=\"%d\"/>", x, TL_H - 2);
	}
	fputs("</svg>", f);
}

/* Its last lines of output, folded: open without a script, read by page.js with one. */
static void tail(FILE *f, const struct kernel_svc *s)
{
	const char *lines[SVCOUT_TAIL_LINES];
	int n = kernel_svcout_tail(s, lines, SVCOUT_TAIL_LINES);
	if (n == 0)
		return;
	fputs("<details class=tail><summary>last lines</summary><pre>", f);
	for (int i = 0; i < n; i++) {
		esc(f, lines[i]);
		fputc('\n', f);
	}
	fputs("</pre></details>", f);
}

static void row(FILE *f, const struct kernel_svc *s, int64_t now_us)
{
	const char *st = s->reported ? svc_state_name(s->state) : "starting";
	char up[32] = "-", rtt[32] = "-";
	if (s->pid > 0)
		kernel_fmt_duration(kernel_svc_uptime_ms(s, now_us), up, sizeof(up));
	if (s->pid > 0 && s->rtt_us > 0)
		snprintf(rtt, sizeof(rtt), "%lld.%03lld ms", (long long)s->rtt_us / 1000,
			 (long long)s->rtt_us % 1000);
	fputs("<tr data-service=\"", f);
	esc(f, s->name);
	fprintf(f, "\"><td class=state><span class=\"badge st-%s\">%s</span></td><td class=name>",
		st, st);
	esc(f, s->name);
	fprintf(f, "</td><td class=pid>");
	if (s->pid > 0)
		fprintf(f, "%d", (int)s->pid);
	else
		fputc('-', f);
	fprintf(f,
		"</td><td class=uptime>%s</td><td class=restarts>%u</td><td class=rtt>%s</td>"
		"<td class=timeline>",
		up, s->restarts, rtt);
	timeline(f, s, now_us);
	fputs("</td><td class=reason><span class=why>", f);
	esc(f, s->reason);
	fputs("</span>", f);
	tail(f, s);
	fputs("</td></tr>\n", f);
}

static void head(FILE *f, const char *summary, bool ok)
{
	fputs("<!doctype html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
	      "<meta name=viewport content=\"width=device-width, initial-scale=1\">\n"
	      "<meta name=color-scheme content=\"light dark\">\n<title>",
	      f);
	esc(f, summary);
	fputs(" \xc2\xb7 ron-kernel</title>\n<link rel=stylesheet href=/page.css>\n"
	      "<script src=/page.js defer></script>\n</head>\n<body>\n<header>\n",
	      f);
	fprintf(f, "<h1 id=summary class=%s>", ok ? "ok" : "bad");
	esc(f, summary);
	fputs("</h1>\n", f);
}

char *kernel_page_render(const struct kernel *k, int64_t now_us)
{
	char *text = NULL, summary[256], ts[40];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	kernel_summary(k->svc, k->nsvc, summary, sizeof(summary));
	head(f, summary, !k->stopping && kernel_all_healthy(k->svc, k->nsvc));
	clock_iso8601(clock_wall_ms(), ts, sizeof(ts));
	fprintf(f,
		"<p id=meta>ron-kernel pid %d, %s; updated <time id=updated>%s</time></p>\n"
		"</header>\n<main>\n<table id=services>\n<thead><tr><th>State</th><th>Service</th>"
		"<th>PID</th><th>Uptime</th><th>Restarts</th><th>RTT</th><th>Last hour</th>"
		"<th>Reason</th></tr></thead>\n<tbody>\n",
		(int)k->pid, k->stopping ? "stopping" : "running", ts);
	for (int i = 0; i < k->nsvc; i++)
		row(f, &k->svc[i], now_us);
	fputs("</tbody>\n</table>\n<p class=note>This page only shows: act with "
	      "<code>ron-kernel restart NAME</code> and the other commands; read a service's "
	      "output with <code>ron-kernel logs NAME</code>.  Without JavaScript it is the "
	      "table as of its loading.</p>\n</main>\n</body>\n</html>\n",
	      f);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
