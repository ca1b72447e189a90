/* The status page (GET /) in a real browser: headless Chromium over the DevTools
 * protocol (cdp.h) against a running kernel.  The page shows every service and its
 * state, follows a restart within seconds without a reload, prints what a service
 * says as text, and without JavaScript is still the table.  Where no chromium is
 * installed (scripts/install-deps installs it), each test says it skipped. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json.h>

#include "cdp.h"
#include "kconf.h"
#include "testlib.h"

#define PAGE_MS 30000

TestSuite(browser, .init = tl_setup, .fini = tl_teardown, .timeout = 180);

static void need_browser(void)
{
	if (!cdp_browser())
		cr_skip_test("chromium is not installed (scripts/install-deps installs it)");
}

/* Two svc-sim services, a and b, with ron-httpd on a port of the system's choosing;
 * the page's address into url. */
static void page_start(struct kc *k, char *url, size_t cap)
{
	char a[512], b[512], line[4096];
	sim_section(a, sizeof(a), "a", NULL);
	sim_section(b, sizeof(b), "b", NULL);
	kc_write(k, "%s\n%s\n", a, b);
	kc_start(k, (char *[]){"RON_HTTP_ADDR=127.0.0.1:0", NULL});
	EXPECT(k, line, "event=http_listening", "addr=127.0.0.1:");
	snprintf(url, cap, "http://127.0.0.1:%d/", atoi(strrchr(line, ':') + 1));
	EXPECT(k, line, "event=all_ready");
	cr_assert(tl_wait_for(kc_all_healthy, NULL, KC_WAIT_MS), "status.json not all healthy");
}

#define WAIT_PAGE(c, expr, want)                                                                   \
	do {                                                                                       \
		char last_[4096];                                                                  \
		cr_assert(cdp_wait(c, expr, want, PAGE_MS, last_, sizeof(last_)),                  \
			  "the page's %s is \"%s\", not \"%s\"", expr, last_, want);               \
	} while (0)

static const char states[] = "[...document.querySelectorAll('tr[data-service]')].map(r => "
			     "r.dataset.service + '=' + r.querySelector('.badge').textContent)"
			     ".join(',')";

/* The kernel, and a browser on its page showing both services healthy. */
static void browser_start(struct kc *k, struct cdp *c)
{
	char url[128];
	need_browser();
	page_start(k, url, sizeof(url));
	cdp_open(c, url);
	WAIT_PAGE(c, states, "a=healthy,b=healthy");
}

Test(browser, the_page_shows_every_service_and_follows_a_restart_without_a_reload)
{
	need_browser();
	struct kc k;
	struct cdp c;
	char url[128], got[4096];
	page_start(&k, url, sizeof(url));
	cdp_open(&c, url);
	WAIT_PAGE(&c, "document.readyState", "complete");
	WAIT_PAGE(&c, states, "a=healthy,b=healthy");
	WAIT_PAGE(&c, "document.title", "2/2 healthy \u00b7 ron-kernel");
	WAIT_PAGE(&c, "document.querySelector('tr[data-service=\"a\"] .restarts').textContent",
		  "0");
	WAIT_PAGE(&c, "document.querySelectorAll('tr[data-service=\"a\"] svg.tl rect').length",
		  "0");
	/* A mark that a reload would lose. */
	cdp_eval(&c, "window.mark = 'same page'", got, sizeof(got));

	pid_t old = kc_pid("a");
	cr_assert_eq(kill(old, SIGKILL), 0);
	WAIT_PAGE(&c, "document.querySelector('tr[data-service=\"a\"] .restarts').textContent",
		  "1");
	WAIT_PAGE(&c, "document.querySelectorAll('tr[data-service=\"a\"] svg.tl rect').length",
		  "1");
	WAIT_PAGE(&c, states, "a=healthy,b=healthy");
	char pid[32];
	snprintf(pid, sizeof(pid), "%d", (int)kc_pid("a"));
	cr_assert_neq(kc_pid("a"), old);
	WAIT_PAGE(&c, "document.querySelector('tr[data-service=\"a\"] .pid').textContent", pid);
	cdp_eval(&c, "window.mark", got, sizeof(got));
	cr_assert_str_eq(got, "same page", "the page was reloaded");
	cdp_eval(&c, "document.querySelector('tr[data-service=\"b\"] .restarts').textContent", got,
		 sizeof(got));
	cr_assert_str_eq(got, "0", "b's row changed with a's restart");

	/* For people to look at. */
	cdp_screenshot(&c, RON_BUILD_DIR "/status-page.png");
	cdp_close(&c);
	kc_stop(&k);
}

/* A row opened by a click shows the service's last lines of output, which the kernel
 * put in the page (ron-httpd reads no files), and follows new ones. */
Test(browser, an_opened_row_shows_the_last_lines_of_its_service)
{
	struct kc k;
	struct cdp c;
	char got[4096], want[128];
	browser_start(&k, &c);
	WAIT_PAGE(&c, "typeof window.ronPage", "object");
	cdp_eval(&c, "document.querySelector('tr[data-service=\"a\"] td.name').click(), 'clicked'",
		 got, sizeof(got));
	cr_assert_str_eq(got, "clicked");
	snprintf(want, sizeof(want), "a: listening on %s/run/a.sock pid=%d", tl_dir(),
		 (int)kc_pid("a"));
	char expr[512];
	snprintf(expr, sizeof(expr),
		 "String(document.querySelector('tr.open + tr.more pre').textContent"
		 ".includes('%s'))",
		 want);
	WAIT_PAGE(&c, expr, "true");
	/* b's row stays closed, and a second click closes a's. */
	cdp_eval(&c, "document.querySelectorAll('tr.more').length", got, sizeof(got));
	cr_assert_str_eq(got, "1");
	cdp_eval(&c,
		 "document.querySelector('tr[data-service=\"a\"] td.name').click(), "
		 "document.querySelectorAll('tr.more').length",
		 got, sizeof(got));
	cr_assert_str_eq(got, "0");
	cdp_close(&c);
	kc_stop(&k);
}

/* What a service says (a reason here) goes onto the page as text: markup in it does
 * not become elements, and a script in it never runs. */
Test(browser, what_a_service_says_is_text_on_the_page)
{
	struct kc k;
	struct cdp c;
	char got[4096];
	browser_start(&k, &c);
	WAIT_PAGE(&c, "typeof window.ronPage", "object"); /* the script has run */
	/* Rendered and read in one evaluation: the page's next update cannot come between. */
	static const char feed[] =
	    "(ronPage.render({summary: '1/1 healthy', state: 'running', kernel_pid: 1, updated: "
	    "'x',"
	    " updated_ms: 0, services: [{service: 'a', state: 'healthy', pid: 1, uptime_ms: 0,"
	    " restarts: 0, rtt_us: 1, restart_times_ms: [], reason: "
	    "'<img src=x onerror=\"window.pwned=1\"><script>window.pwned=2</script>\\'\"&'}]}),"
	    " document.querySelectorAll('td.reason img, td.reason script').length + '|' +"
	    " document.querySelector('tr[data-service=\"a\"] td.reason').textContent)";
	cdp_eval(&c, feed, got, sizeof(got));
	cr_assert_str_eq(
	    got, "0|<img src=x onerror=\"window.pwned=1\"><script>window.pwned=2</script>'\"&",
	    "a service's reason became markup, or changed");
	/* The page's own update has come since (and would have run anything left behind). */
	WAIT_PAGE(&c, "document.querySelectorAll('tr[data-service]').length", "2");
	cdp_eval(&c, "String(window.pwned)", got, sizeof(got));
	cr_assert_str_eq(got, "undefined", "a script from a reason ran");
	cdp_close(&c);
	kc_stop(&k);
}

/* For tl_wait_for: the document parsed to its last paragraph (a document still being
 * parsed serializes with its open elements closed). */
struct doc {
	struct cdp *c;
	char html[65536];
};

static bool doc_loaded(void *arg)
{
	struct doc *d = arg;
	cdp_html(d->c, d->html, sizeof(d->html));
	return strstr(d->html, "as of its loading.</p>") != NULL;
}

/* JavaScript off: the page is the server's table, every service with its state. */
Test(browser, without_javascript_the_page_is_the_table)
{
	need_browser();
	struct kc k;
	struct cdp c;
	static struct doc d;
	char url[128];
	page_start(&k, url, sizeof(url));
	cdp_open(&c, "about:blank");
	json_object *p = json_object_new_object();
	json_object_object_add(p, "value", json_object_new_boolean(1));
	json_object_put(cdp_call(&c, "Emulation.setScriptExecutionDisabled", p, 30000));
	cdp_navigate(&c, url);
	d.c = &c;
	cr_assert(tl_wait_for(doc_loaded, &d, PAGE_MS), "the page never loaded:\n%s", d.html);
	cr_assert(strstr(d.html, "<h1 id=\"summary\" class=\"ok\">2/2 healthy</h1>"), "%s", d.html);
	for (int i = 0; i < 2; i++) {
		char want[256];
		snprintf(want, sizeof(want),
			 "<tr data-service=\"%s\"><td class=\"state\"><span class=\"badge "
			 "st-healthy\">healthy</span></td><td class=\"name\">%s</td>",
			 i ? "b" : "a", i ? "b" : "a");
		cr_assert(strstr(d.html, want), "no row %s in the page:\n%s", want, d.html);
	}
	/* The script did not run: the server's <time> is still there. */
	cr_assert(strstr(d.html, "<time id=\"updated\">"), "the page's script ran:\n%s", d.html);
	cdp_close(&c);
	kc_stop(&k);
}
