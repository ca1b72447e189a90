/* The DevTools protocol over a pipe (cdp.h): just what the status page's tests use. */
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cdp.h"
#include "clock.h"
#include "testlib.h"

#define CDP_START_MS 60000

const char *cdp_browser(void)
{
	static const char *const paths[] = {"/usr/bin/chromium", "/usr/lib/chromium/chromium",
					    "/usr/bin/chromium-browser"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

static void send_msg(struct cdp *c, json_object *m)
{
	const char *s = json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN);
	size_t n = strlen(s) + 1; /* the NUL ends the message */
	for (size_t off = 0; off < n;) {
		ssize_t w = write(c->to, s + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		cr_assert_gt(w, 0, "write to the browser: %s", strerror(errno));
		off += (size_t)w;
	}
}

/* The next whole message, or NULL at the deadline. */
static json_object *next_msg(struct cdp *c, int64_t deadline_us)
{
	for (;;) {
		char *nul = c->len ? memchr(c->buf, '\0', c->len) : NULL;
		if (nul) {
			json_object *m = json_tokener_parse(c->buf);
			size_t used = (size_t)(nul - c->buf) + 1;
			memmove(c->buf, c->buf + used, c->len - used);
			c->len -= used;
			cr_assert(m, "the browser sent what is not JSON");
			return m;
		}
		int left = clock_poll_timeout(deadline_us, clock_mono_us());
		struct pollfd p = {c->from, POLLIN, 0};
		if (left == 0 || poll(&p, 1, left) == 0)
			return NULL;
		if (c->len + 65536 > c->cap) {
			c->cap = c->cap ? c->cap * 2 : 1 << 20;
			c->buf = realloc(c->buf, c->cap);
			cr_assert(c->buf);
		}
		ssize_t r = read(c->from, c->buf + c->len, c->cap - c->len);
		if (r < 0 && errno == EINTR)
			continue;
		cr_assert_gt(r, 0, "the browser closed its pipe (it exited?)");
		c->len += (size_t)r;
	}
}

/* Sends method (params owned) on the session, or to the browser with session NULL. */
static json_object *call_on(struct cdp *c, const char *session, const char *method,
			    json_object *params, int timeout_ms);

/* Whether the last call failed, when it was made with try. */
static bool tried, failed;

static json_object *call_on(struct cdp *c, const char *session, const char *method,
			    json_object *params, int timeout_ms)
{
	int id = ++c->next_id;
	json_object *m = json_object_new_object();
	json_object_object_add(m, "id", json_object_new_int(id));
	json_object_object_add(m, "method", json_object_new_string(method));
	json_object_object_add(m, "params", params ? params : json_object_new_object());
	if (session)
		json_object_object_add(m, "sessionId", json_object_new_string(session));
	send_msg(c, m);
	json_object_put(m);
	int64_t deadline = clock_after_ms(clock_mono_us(), timeout_ms);
	for (;;) {
		json_object *r = next_msg(c, deadline), *v;
		cr_assert(r, "%s: no answer from the browser within %d ms", method, timeout_ms);
		if (!json_object_object_get_ex(r, "id", &v) || json_object_get_int(v) != id) {
			json_object_put(r); /* an event */
			continue;
		}
		failed = json_object_object_get_ex(r, "error", &v);
		if (failed && !tried)
			cr_assert_fail("%s: %s", method, json_object_to_json_string(v));
		json_object *res = NULL;
		if (json_object_object_get_ex(r, "result", &v))
			res = json_object_get(v);
		json_object_put(r);
		return res;
	}
}

json_object *cdp_call(struct cdp *c, const char *method, json_object *params, int timeout_ms)
{
	return call_on(c, c->session, method, params, timeout_ms);
}

static const char *str_in(json_object *o, const char *key)
{
	json_object *v;
	cr_assert(o && json_object_object_get_ex(o, key, &v), "no %s in the browser's answer", key);
	return json_object_get_string(v);
}

static void browser_exec(const char *bin, int cmd, int out)
{
	/* A group of its own, killed whole; and gone with the test if the test dies. */
	if (setpgid(0, 0) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		_exit(127);
	if (dup2(cmd, 3) < 0 || dup2(out, 4) < 0)
		_exit(127);
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 1);
		dup2(null, 2);
	}
	char profile[700];
	snprintf(profile, sizeof(profile), "--user-data-dir=%s/chromium", tl_dir());
	char *argv[] = {(char *)bin,
			"--headless=new",
			"--no-sandbox", /* as root in CI; the page is our own */
			"--disable-gpu",
			"--no-first-run",
			"--no-default-browser-check",
			"--disable-extensions",
			"--hide-scrollbars",
			"--window-size=1100,420",
			"--remote-debugging-pipe",
			profile,
			"about:blank",
			NULL};
	execv(bin, argv);
	_exit(127);
}

void cdp_open(struct cdp *c, const char *url)
{
	memset(c, 0, sizeof(*c));
	const char *bin = cdp_browser();
	cr_assert(bin, "no chromium");
	int cmd[2], out[2];
	cr_assert_eq(pipe(cmd), 0);
	cr_assert_eq(pipe(out), 0);
	c->pid = fork();
	cr_assert_geq(c->pid, 0);
	if (c->pid == 0) {
		close(cmd[1]);
		close(out[0]);
		browser_exec(bin, cmd[0], out[1]);
	}
	close(cmd[0]);
	close(out[1]);
	c->to = cmd[1];
	c->from = out[0];
	signal(SIGPIPE, SIG_IGN);
	json_object *p = json_object_new_object();
	json_object_object_add(p, "url", json_object_new_string(url));
	json_object *t = call_on(c, NULL, "Target.createTarget", p, CDP_START_MS);
	p = json_object_new_object();
	json_object_object_add(p, "targetId", json_object_new_string(str_in(t, "targetId")));
	json_object_object_add(p, "flatten", json_object_new_boolean(1));
	json_object *a = call_on(c, NULL, "Target.attachToTarget", p, CDP_START_MS);
	snprintf(c->session, sizeof(c->session), "%s", str_in(a, "sessionId"));
	json_object_put(t);
	json_object_put(a);
}

void cdp_close(struct cdp *c)
{
	if (c->pid > 0) {
		close(c->to);
		kill(-c->pid, SIGKILL);
		int st;
		tl_wait_exit(c->pid, 30000, &st);
		close(c->from);
	}
	free(c->buf);
	c->pid = 0;
}

void cdp_eval(struct cdp *c, const char *expr, char *out, size_t cap)
{
	json_object *p = json_object_new_object();
	char wrapped[4096];
	/* A value as text, whatever its type; an exception as its message. */
	snprintf(wrapped, sizeof(wrapped),
		 "(() => { try { const v = (%s); return typeof v === 'string' ? v : "
		 "JSON.stringify(v); } catch (e) { return 'exception: ' + e.message; } })()",
		 expr);
	json_object_object_add(p, "expression", json_object_new_string(wrapped));
	json_object_object_add(p, "returnByValue", json_object_new_boolean(1));
	json_object *r = cdp_call(c, "Runtime.evaluate", p, 30000), *res, *v;
	out[0] = '\0';
	if (r && json_object_object_get_ex(r, "result", &res) &&
	    json_object_object_get_ex(res, "value", &v))
		snprintf(out, cap, "%s", json_object_get_string(v));
	json_object_put(r);
}

bool cdp_wait(struct cdp *c, const char *expr, const char *want, int timeout_ms, char *last,
	      size_t cap)
{
	int64_t deadline = clock_after_ms(clock_mono_us(), timeout_ms);
	for (;;) {
		cdp_eval(c, expr, last, cap);
		if (strcmp(last, want) == 0)
			return true;
		if (clock_mono_us() >= deadline)
			return false;
		struct pollfd none = {-1, 0, 0};
		poll(&none, 0, 50);
	}
}

static int b64(char ch)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = strchr(a, ch);
	return ch && p ? (int)(p - a) : -1;
}

void cdp_screenshot(struct cdp *c, const char *path)
{
	json_object *p = json_object_new_object();
	json_object_object_add(p, "format", json_object_new_string("png"));
	json_object *r = cdp_call(c, "Page.captureScreenshot", p, 30000);
	const char *data = str_in(r, "data");
	FILE *f = fopen(path, "wb");
	cr_assert(f, "cannot write %s", path);
	unsigned acc = 0;
	int bits = 0;
	for (const char *s = data; *s && *s != '='; s++) {
		int v = b64(*s);
		cr_assert_geq(v, 0, "the screenshot is not base64");
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			fputc((int)((acc >> bits) & 0xff), f);
		}
	}
	cr_assert_eq(fclose(f), 0);
	json_object_put(r);
}

/* A document still loading may replace its nodes between the two calls: then "". */
void cdp_html(struct cdp *c, char *out, size_t cap)
{
	out[0] = '\0';
	json_object *d = cdp_call(c, "DOM.getDocument", NULL, 30000), *root, *id;
	cr_assert(d && json_object_object_get_ex(d, "root", &root) &&
		      json_object_object_get_ex(root, "nodeId", &id),
		  "DOM.getDocument: no root");
	json_object *p = json_object_new_object();
	json_object_object_add(p, "nodeId", json_object_get(id));
	tried = true;
	json_object *h = cdp_call(c, "DOM.getOuterHTML", p, 30000), *v;
	tried = false;
	if (!failed && h && json_object_object_get_ex(h, "outerHTML", &v))
		snprintf(out, cap, "%s", json_object_get_string(v));
	json_object_put(h);
	json_object_put(d);
}

void cdp_navigate(struct cdp *c, const char *url)
{
	json_object *p = json_object_new_object();
	json_object_object_add(p, "url", json_object_new_string(url));
	json_object_put(cdp_call(c, "Page.navigate", p, 30000));
}
