/* A headless Chromium driven over the DevTools protocol on a pipe
 * (--remote-debugging-pipe: JSON messages, each ended by a NUL, commands on the
 * browser's fd 3 and answers and events on its fd 4), for the status page's tests. */
#ifndef RON_CDP_H
#define RON_CDP_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct json_object;

struct cdp {
	pid_t pid;
	int to, from; /* our ends: commands to the browser, messages from it */
	int next_id;
	char session[128]; /* the page's, once attached */
	char *buf;	   /* what was read and not yet taken as a message */
	size_t len, cap;
};

/* The chromium to run, or NULL if there is none (the tests then skip). */
const char *cdp_browser(void);
/* Starts the browser (its profile in tl_dir()/chromium) with one page on url. */
void cdp_open(struct cdp *c, const char *url);
void cdp_close(struct cdp *c);
/* A command to the page's session; its result (the caller puts it), the test failing on
 * an error or a browser that has not answered within timeout_ms. */
struct json_object *cdp_call(struct cdp *c, const char *method, struct json_object *params,
			     int timeout_ms);
/* JavaScript evaluated in the page; its value as text (JSON.stringify'd unless it is a
 * string) into out. */
void cdp_eval(struct cdp *c, const char *expr, char *out, size_t cap);
/* Polls expr every 50 ms until its value is want; false after timeout_ms, with the last
 * value in last. */
bool cdp_wait(struct cdp *c, const char *expr, const char *want, int timeout_ms, char *last,
	      size_t cap);
/* The page's document as HTML, read through the protocol (no page script needed). */
void cdp_html(struct cdp *c, char *out, size_t cap);
void cdp_navigate(struct cdp *c, const char *url);
/* A PNG screenshot of the page, written to path. */
void cdp_screenshot(struct cdp *c, const char *path);

#endif
