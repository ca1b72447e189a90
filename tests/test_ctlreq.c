/* Unit tests of control request parsing (kernel/ctlreq.c): every accepted form and
 * every refusal with its reason. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "ctlreq.h"

static void parses(const char *text, struct ctl_req *req)
{
	char why[256] = "";
	cr_assert_eq(ctl_req_parse(text, strlen(text), req, why, sizeof(why)), 0, "%s: %s", text,
		     why);
}

static void refused(const char *text, const char *reason)
{
	struct ctl_req req;
	char why[256] = "";
	cr_assert_eq(ctl_req_parse(text, strlen(text), &req, why, sizeof(why)), -1, "accepted %s",
		     text);
	cr_assert(strstr(why, reason), "%s: \"%s\" lacks \"%s\"", text, why, reason);
	cr_assert_null(req.names);
}

Test(ctlreq, every_command_parses)
{
	struct ctl_req r;
	parses("{\"cmd\":\"status\"}", &r);
	cr_assert_eq(r.cmd, CTL_STATUS);
	cr_assert_eq(r.nnames, 0);
	ctl_req_free(&r);
	parses("{\"cmd\":\"reload\"}", &r);
	cr_assert_eq(r.cmd, CTL_RELOAD);
	ctl_req_free(&r);
	static const char *const verbs[] = {"stop", "start", "restart", "lift"};
	static const enum ctl_cmd cmds[] = {CTL_STOP, CTL_START, CTL_RESTART, CTL_LIFT};
	for (int i = 0; i < 4; i++) {
		char text[128];
		snprintf(text, sizeof(text),
			 "{\"cmd\":\"%s\",\"services\":[\"svc-index\",\"all\"]}", verbs[i]);
		parses(text, &r);
		cr_assert_eq(r.cmd, cmds[i]);
		cr_assert_eq(r.nnames, 2);
		cr_assert_str_eq(r.names[0], "svc-index");
		cr_assert_str_eq(r.names[1], "all");
		ctl_req_free(&r);
	}
	parses("{\"cmd\":\"signal\",\"signal\":\"HUP\",\"services\":[\"a\"]}", &r);
	cr_assert_eq(r.cmd, CTL_SIGNAL);
	cr_assert_eq(r.sig, SIGHUP);
	ctl_req_free(&r);
	parses("{\"cmd\":\"signal\",\"signal\":\"10\",\"services\":[\"a\"]}", &r);
	cr_assert_eq(r.sig, 10);
	ctl_req_free(&r);
}

Test(ctlreq, every_refusal_says_why)
{
	refused("", "not a JSON object");
	refused("{\"cmd\":", "not a JSON object");
	refused("[\"status\"]", "not a JSON object: another type");
	refused("{}", "no \"cmd\"");
	refused("{\"cmd\":7}", "no \"cmd\"");
	refused("{\"cmd\":\"reboot\"}", "unknown command reboot");
	refused("{\"cmd\":\"stop\"}", "\"services\" must be a list");
	refused("{\"cmd\":\"stop\",\"services\":[]}", "\"services\" must be a list");
	refused("{\"cmd\":\"stop\",\"services\":\"a\"}", "\"services\" must be a list");
	refused("{\"cmd\":\"stop\",\"services\":[\"a\",1]}", "must be a string");
	refused("{\"cmd\":\"stop\",\"services\":[\"\"]}", "no service named");
	refused("{\"cmd\":\"stop\",\"services\":[\"0123456789012345678901234567890123456789012345"
		"678901234567890123\"]}",
		"no service named");
	refused("{\"cmd\":\"signal\",\"services\":[\"a\"]}", "not a signal to send");
	refused("{\"cmd\":\"signal\",\"signal\":\"KILL\",\"services\":[\"a\"]}",
		"not KILL, STOP, TSTP, TTIN or TTOU");
	/* Every signal that stops a process: a service frozen behind its monitor's back. */
	static const char *const stops[] = {"STOP", "TSTP", "TTIN", "TTOU", "20"};
	for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
		char req[128];
		snprintf(req, sizeof(req),
			 "{\"cmd\":\"signal\",\"signal\":\"%s\",\"services\":[\"a\"]}", stops[i]);
		refused(req, "not KILL, STOP, TSTP, TTIN or TTOU");
	}
	refused("{\"cmd\":\"signal\",\"signal\":\"NOPE\",\"services\":[\"a\"]}", "signal NOPE");
}
