/* Tests of common/config: the settings table, parsing and its error messages, precedence,
 * cross-field rules, argv handling, --help and export.  Each test runs in its own process. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "sockpath.h"

/* The variables of every setting are cleared first, so the caller's environment (a
 * developer's shell, CI) cannot change what the tests see. */
static void env_clear(void)
{
	for (int k = 0; k < CFG__COUNT; k++)
		unsetenv(cfg_table[k].env);
}

TestSuite(config, .init = env_clear);

static bool is_number(const struct cfg_setting *s)
{
	return s->type == CFG_MS || s->type == CFG_COUNT;
}

Test(config, table_is_consistent)
{
	for (int k = 0; k < CFG__COUNT; k++) {
		const struct cfg_setting *s = &cfg_table[k];
		cr_assert_not_null(s->env, "setting %d has no variable", k);
		cr_assert_not_null(s->flag, "%s has no flag", s->env);
		cr_assert_not_null(s->def, "%s has no default", s->env);
		cr_assert(s->help && s->help[0], "%s has no help", s->env);
		cr_assert(s->scope != 0 && (s->scope & ~(CFG_BOTH | CFG_SERVICE)) == 0, "%s scope",
			  s->env);
		/* A per-service setting is read by the kernel. */
		cr_assert(!(s->scope & CFG_SERVICE) || (s->scope & CFG_KERNEL), "%s scope", s->env);
		cr_assert(s->min <= s->max, "%s range", s->env);
		if (s->type == CFG_PATH || s->type == CFG_STRING)
			cr_assert(s->min <= 1 && s->max < CFG_STR_MAX, "%s lengths", s->env);
		cr_assert_eq(config_find_flag(s->flag), k, "%s flag lookup", s->env);
		/* The flag is the variable without RON_, in lower case, '_' -> '-'. */
		char want[64];
		size_t i;
		cr_assert_eq(strncmp(s->env, "RON_", 4), 0, "%s", s->env);
		for (i = 0; s->env[4 + i]; i++)
			want[i] = s->env[4 + i] == '_' ? '-' : (char)tolower(s->env[4 + i]);
		want[i] = '\0';
		cr_assert_str_eq(s->flag, want);
		for (int j = 0; j < k; j++)
			cr_assert_str_neq(cfg_table[j].env, s->env);
		if (s->type == CFG_ENUM)
			cr_assert_not_null(s->words, "%s has no words", s->env);
	}
	cr_assert_eq(config_find_flag("no-such-flag"), -1);
	cr_assert_eq(config_find_flag("--health-failures"), -1);
}

/* The run directory a fresh configuration has (root's or this user's). */
static const char *run_dir_default(void)
{
	static struct config d;
	config_defaults(&d);
	return config_str(&d, CFG_RUN_DIR);
}

Test(config, defaults)
{
	struct config c;
	char err[CFG_ERR_MAX] = "";
	config_defaults(&c);
	cr_assert_str_eq(config_str(&c, CFG_SVC_INDEX_BIN), "svc-index");
	cr_assert_str_eq(config_str(&c, CFG_SVC_OVERLAY_BIN), "svc-overlay");
	cr_assert_str_eq(config_str(&c, CFG_SVC_STORAGE_BIN), "svc-storage");
	cr_assert_str_eq(config_str(&c, CFG_INDEX_SOCK), "/tmp/ron/svc-index.sock");
	cr_assert_str_eq(config_str(&c, CFG_OVERLAY_SOCK), "/tmp/ron/svc-overlay.sock");
	cr_assert_str_eq(config_str(&c, CFG_STORAGE_SOCK), "/tmp/ron/svc-storage.sock");
	if (geteuid() == 0)
		cr_assert_str_eq(config_str(&c, CFG_RUN_DIR), "/run/ron");
	cr_assert_str_eq(config_str(&c, CFG_MONITOR_BIN), "");
	cr_assert_eq(config_num(&c, CFG_LOG_FORMAT), CFG_LOG_TEXT);
	cr_assert_str_eq(config_str(&c, CFG_LOG_FORMAT), "text");
	cr_assert_eq(config_num(&c, CFG_STATUS_INTERVAL_MS), 5000);
	cr_assert_eq(config_num(&c, CFG_HEALTH_INTERVAL_MS), 1000);
	cr_assert_eq(config_num(&c, CFG_HEALTH_TIMEOUT_MS), 500);
	cr_assert_eq(config_num(&c, CFG_HEALTH_FAILURES), 3);
	cr_assert_eq(config_num(&c, CFG_START_TIMEOUT_MS), 10000);
	cr_assert_eq(config_num(&c, CFG_STOP_TIMEOUT_MS), 5000);
	cr_assert_eq(config_num(&c, CFG_BACKOFF_MIN_MS), 250);
	cr_assert_eq(config_num(&c, CFG_BACKOFF_MAX_MS), 30000);
	cr_assert_eq(config_num(&c, CFG_RESTART_CAP), 5);
	cr_assert_eq(config_num(&c, CFG_RESTART_WINDOW_MS), 60000);
	cr_assert_eq(config_num(&c, CFG_STABLE_MS), 1000);
	cr_assert_eq(config_num(&c, CFG_QUARANTINE_MS), 300000);
	cr_assert_eq(config_check(&c, err, sizeof(err)), 0, "%s", err);
	for (int k = 0; k < CFG__COUNT; k++) {
		struct config d = c;
		cr_assert_eq(c.src[k], CFG_SRC_DEFAULT);
		cr_assert_eq(config_set(&d, k, cfg_table[k].def, CFG_SRC_ENV, err, sizeof(err)), 0,
			     "default of %s rejected: %s", cfg_table[k].env, err);
	}
}

Test(config, env_overrides_default)
{
	struct config c;
	char err[CFG_ERR_MAX] = "";
	setenv("RON_HEALTH_INTERVAL_MS", "2500", 1);
	setenv("RON_LOG_FORMAT", "json", 1);
	setenv("RON_INDEX_SOCK", "/run/ron/index.sock", 1);
	setenv("RON_MONITOR_BIN", "/opt/ron/bin/ron-monitor", 1);
	config_defaults(&c);
	cr_assert_eq(config_from_env(&c, CFG_KERNEL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_num(&c, CFG_HEALTH_INTERVAL_MS), 2500);
	cr_assert_eq(c.src[CFG_HEALTH_INTERVAL_MS], CFG_SRC_ENV);
	cr_assert_eq(config_num(&c, CFG_LOG_FORMAT), CFG_LOG_JSON);
	cr_assert_str_eq(config_str(&c, CFG_INDEX_SOCK), "/run/ron/index.sock");
	cr_assert_str_eq(config_str(&c, CFG_MONITOR_BIN), "/opt/ron/bin/ron-monitor");
	cr_assert_eq(config_num(&c, CFG_HEALTH_TIMEOUT_MS), 500, "unset variables keep defaults");
	cr_assert_eq(c.src[CFG_HEALTH_TIMEOUT_MS], CFG_SRC_DEFAULT);
}

Test(config, env_of_other_scope_ignored)
{
	struct config c;
	char err[CFG_ERR_MAX] = "";
	setenv("RON_RUN_DIR", "relative", 1); /* invalid, but not the monitor's business */
	setenv("RON_STABLE_MS", "42", 1);
	config_defaults(&c);
	cr_assert_eq(config_from_env(&c, CFG_MONITOR, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(config_str(&c, CFG_RUN_DIR), run_dir_default());
	cr_assert_eq(config_num(&c, CFG_STABLE_MS), 42);
	cr_assert_eq(config_from_env(&c, CFG_KERNEL, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "RON_RUN_DIR=relative"), "%s", err);
}

Test(config, empty_monitor_bin_accepted)
{
	struct config c;
	char err[CFG_ERR_MAX] = "";
	setenv("RON_MONITOR_BIN", "", 1);
	config_defaults(&c);
	cr_assert_eq(config_from_env(&c, CFG_KERNEL, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(config_str(&c, CFG_MONITOR_BIN), "");
}

Test(config, flag_overrides_env)
{
	struct config c;
	char err[CFG_ERR_MAX] = "";
	char *argv[] = {
	    "ron-kernel", "--health-failures=7", "--run-dir", "/var/run/ron", "--log-format",
	    "json",	  "--restart-cap=9",	 NULL};
	int argc = 7;
	setenv("RON_HEALTH_FAILURES", "4", 1);
	setenv("RON_RUN_DIR", "/srv/ron", 1);
	setenv("RON_RESTART_CAP", "2", 1);
	setenv("RON_BACKOFF_MAX_MS", "20000", 1);
	cr_assert_eq(config_load(&c, CFG_KERNEL, &argc, argv, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_num(&c, CFG_HEALTH_FAILURES), 7);
	cr_assert_eq(c.src[CFG_HEALTH_FAILURES], CFG_SRC_FLAG);
	cr_assert_str_eq(config_str(&c, CFG_RUN_DIR), "/var/run/ron");
	cr_assert_eq(config_num(&c, CFG_LOG_FORMAT), CFG_LOG_JSON);
	cr_assert_eq(config_num(&c, CFG_RESTART_CAP), 9);
	cr_assert_eq(config_num(&c, CFG_BACKOFF_MAX_MS), 20000);
	cr_assert_eq(c.src[CFG_BACKOFF_MAX_MS], CFG_SRC_ENV);
	cr_assert_eq(argc, 1);
	cr_assert_null(argv[1]);
}

Test(config, unknown_args_left_in_argv)
{
	struct config c;
	char err[CFG_ERR_MAX] = "";
	char *argv[] = {"ron-monitor",	     "--name", "svc-index",    "--stable-ms=5",	 "-v",
			"--health-failures", "2",      "--run-dir=/x", "--stable-msx=1", "--",
			"--stable-ms=9",     NULL};
	int argc = 11;
	config_defaults(&c);
	cr_assert_eq(config_parse_args(&c, CFG_MONITOR, &argc, argv, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(config_num(&c, CFG_STABLE_MS), 5);
	cr_assert_eq(config_num(&c, CFG_HEALTH_FAILURES), 2);
	cr_assert_str_eq(config_str(&c, CFG_RUN_DIR), run_dir_default(),
			 "kernel-only flag consumed");
	const char *want[] = {"ron-monitor",  "--name",		"svc-index", "-v",
			      "--run-dir=/x", "--stable-msx=1", "--",	     "--stable-ms=9"};
	cr_assert_eq(argc, 8);
	for (int i = 0; i < argc; i++)
		cr_assert_str_eq(argv[i], want[i]);
	cr_assert_null(argv[argc]);
}

Test(config, flag_without_value)
{
	struct config c;
	char err[CFG_ERR_MAX] = "";
	char *argv[] = {"ron-kernel", "--stop-timeout-ms", NULL};
	int argc = 2;
	config_defaults(&c);
	cr_assert_eq(config_parse_args(&c, CFG_KERNEL, &argc, argv, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "--stop-timeout-ms needs a value");
}

Test(config, bad_flag_value_names_flag)
{
	struct config c;
	char err[CFG_ERR_MAX] = "";
	char *argv[] = {"ron-kernel", "--health-failures", "0", NULL};
	int argc = 3;
	config_defaults(&c);
	cr_assert_eq(config_parse_args(&c, CFG_KERNEL, &argc, argv, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "--health-failures=0: out of range (accepted: 1..100)");
}

Test(config, error_messages)
{
	struct config c;
	char err[CFG_ERR_MAX] = "";
	config_defaults(&c);
	cr_assert_eq(config_set(&c, CFG_HEALTH_TIMEOUT_MS, "abc", CFG_SRC_ENV, err, sizeof(err)),
		     -1);
	cr_assert_str_eq(err, "RON_HEALTH_TIMEOUT_MS=abc: not a number (accepted: 1..600000 ms)");
	cr_assert_eq(config_set(&c, CFG_LOG_FORMAT, "xml", CFG_SRC_ENV, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "RON_LOG_FORMAT=xml: not one of text, json");
	cr_assert_eq(config_set(&c, CFG_LOG_FORMAT, "JSON", CFG_SRC_FLAG, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "--log-format=JSON: not one of text, json");
	cr_assert_eq(config_set(&c, CFG_LOG_FORMAT, "", CFG_SRC_ENV, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "RON_LOG_FORMAT is empty (accepted: text, json)");
	cr_assert_eq(config_set(&c, CFG_RUN_DIR, "", CFG_SRC_ENV, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "RON_RUN_DIR is empty");
	cr_assert_eq(config_set(&c, CFG_SVC_INDEX_BIN, "", CFG_SRC_FLAG, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "--svc-index-bin is empty");
	cr_assert_eq(config_set(&c, CFG_RUN_DIR, "tmp/ron", CFG_SRC_ENV, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "RON_RUN_DIR=tmp/ron: not an absolute path (accepted: absolute path, "
			      "at most 1023 bytes)");
	cr_assert_eq(config_set(&c, CFG_HEALTH_FAILURES, "", CFG_SRC_ENV, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "RON_HEALTH_FAILURES is empty (accepted: 1..100)");
	cr_assert_str_eq(config_str(&c, CFG_RUN_DIR), run_dir_default(),
			 "failed set changed the value");
	cr_assert_eq(config_num(&c, CFG_LOG_FORMAT), CFG_LOG_TEXT);
}

/* Every numeric setting, so a new one is covered as soon as it is in the table. */
Test(config, numbers_reject_bad_values)
{
	for (int k = 0; k < CFG__COUNT; k++) {
		const struct cfg_setting *s = &cfg_table[k];
		if (!is_number(s))
			continue;
		char below[32], above[32], neg[32], junk[32];
		snprintf(below, sizeof(below), "%lld", s->min - 1);
		snprintf(above, sizeof(above), "%lld", s->max + 1);
		snprintf(neg, sizeof(neg), "-%lld", s->min > 0 ? s->min : 1);
		snprintf(junk, sizeof(junk), "%lldms", s->min);
		const char *bad[] = {
		    "",
		    "abc",
		    junk,
		    "12 ",
		    " 12",
		    "+12",
		    "0x10",
		    "1e3",
		    "1.5",
		    neg,
		    "-0",
		    "-",
		    "99999999999999999999",
		    above,
		    s->min > 0 ? below : "-1",
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			for (int src = CFG_SRC_ENV; src <= CFG_SRC_FLAG; src++) {
				struct config c;
				char err[CFG_ERR_MAX] = "", name[64];
				config_defaults(&c);
				long long before = config_num(&c, k);
				snprintf(name, sizeof(name), src == CFG_SRC_FLAG ? "--%s" : "%s",
					 src == CFG_SRC_FLAG ? s->flag : s->env);
				cr_assert_eq(config_set(&c, k, bad[i], src, err, sizeof(err)), -1,
					     "%s accepted '%s'", name, bad[i]);
				cr_assert_not_null(strstr(err, name), "'%s' lacks %s", err, name);
				cr_assert_not_null(strstr(err, bad[i]), "'%s' lacks '%s'", err,
						   bad[i]);
				cr_assert_not_null(strstr(err, "(accepted: "), "'%s'", err);
				cr_assert_eq(config_num(&c, k), before);
			}
		}
	}
}

Test(config, numbers_accept_range_ends)
{
	for (int k = 0; k < CFG__COUNT; k++) {
		const struct cfg_setting *s = &cfg_table[k];
		if (!is_number(s))
			continue;
		struct config c;
		char err[CFG_ERR_MAX] = "", v[32];
		config_defaults(&c);
		snprintf(v, sizeof(v), "%lld", s->min);
		cr_assert_eq(config_set(&c, k, v, CFG_SRC_ENV, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(config_num(&c, k), s->min);
		snprintf(v, sizeof(v), "%lld", s->max);
		cr_assert_eq(config_set(&c, k, v, CFG_SRC_ENV, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(config_num(&c, k), s->max);
		cr_assert_str_eq(config_str(&c, k), v);
		cr_assert_eq(config_set(&c, k, "0010", CFG_SRC_ENV, err, sizeof(err)),
			     10 >= s->min && 10 <= s->max ? 0 : -1, "%s", err);
	}
}

/* The same through the environment, the way the binaries read it. */
Test(config, env_bad_number_names_variable)
{
	for (int k = 0; k < CFG__COUNT; k++) {
		const struct cfg_setting *s = &cfg_table[k];
		if (!is_number(s))
			continue;
		struct config c;
		char err[CFG_ERR_MAX] = "", want[64];
		env_clear();
		setenv(s->env, "12x", 1);
		config_defaults(&c);
		cr_assert_eq(config_from_env(&c, s->scope, err, sizeof(err)), -1, "%s", s->env);
		snprintf(want, sizeof(want), "%s=12x: not a number (accepted: ", s->env);
		cr_assert_not_null(strstr(err, want), "'%s'", err);
	}
}

static void sock_path(char *buf, size_t len)
{
	memset(buf, 'a', len);
	memcpy(buf, "/tmp/", 5);
	buf[len] = '\0';
}

Test(config, socket_path_length)
{
	struct config c;
	char err[CFG_ERR_MAX] = "", path[200];
	cr_assert_eq(SOCKPATH_MAX, 107);
	config_defaults(&c);
	for (int k = CFG_INDEX_SOCK; k <= CFG_STORAGE_SOCK; k++) {
		sock_path(path, 107);
		cr_assert_eq(config_set(&c, k, path, CFG_SRC_ENV, err, sizeof(err)), 0, "%s", err);
		cr_assert_str_eq(config_str(&c, k), path);
		sock_path(path, 108);
		cr_assert_eq(config_set(&c, k, path, CFG_SRC_ENV, err, sizeof(err)), -1);
		cr_assert_not_null(strstr(err, cfg_table[k].env), "%s", err);
		cr_assert_not_null(strstr(err, path), "%s", err);
		cr_assert_not_null(strstr(err, "too long: 108 bytes (accepted: at most 107 bytes)"),
				   "%s", err);
		cr_assert_eq(config_set(&c, k, "", CFG_SRC_ENV, err, sizeof(err)), -1);
		cr_assert_eq(config_set(&c, k, "rel.sock", CFG_SRC_ENV, err, sizeof(err)), 0, "%s",
			     err);
	}
}

Test(config, long_value_shortened_in_message)
{
	struct config c;
	char err[CFG_ERR_MAX] = "", path[CFG_STR_MAX + 100];
	config_defaults(&c);
	sock_path(path, sizeof(path) - 1);
	cr_assert_eq(config_set(&c, CFG_RUN_DIR, path, CFG_SRC_ENV, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "...: too long: 1123 bytes (accepted: "), "%s", err);
}

Test(config, cross_field_rules)
{
	struct config c;
	char err[CFG_ERR_MAX] = "";
	config_defaults(&c);
	cr_assert_eq(config_set(&c, CFG_HEALTH_TIMEOUT_MS, "1000", CFG_SRC_ENV, err, sizeof(err)),
		     0);
	cr_assert_eq(config_check(&c, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "RON_HEALTH_TIMEOUT_MS=1000 must be less than "
			      "RON_HEALTH_INTERVAL_MS=1000");
	cr_assert_eq(config_set(&c, CFG_HEALTH_TIMEOUT_MS, "999", CFG_SRC_ENV, err, sizeof(err)),
		     0);
	cr_assert_eq(config_check(&c, err, sizeof(err)), 0, "%s", err);

	cr_assert_eq(config_set(&c, CFG_BACKOFF_MIN_MS, "500", CFG_SRC_FLAG, err, sizeof(err)), 0);
	cr_assert_eq(config_set(&c, CFG_BACKOFF_MAX_MS, "499", CFG_SRC_ENV, err, sizeof(err)), 0);
	cr_assert_eq(config_check(&c, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "--backoff-min-ms=500 must be at most RON_BACKOFF_MAX_MS=499");
	cr_assert_eq(config_set(&c, CFG_BACKOFF_MAX_MS, "500", CFG_SRC_ENV, err, sizeof(err)), 0);
	cr_assert_eq(config_check(&c, err, sizeof(err)), 0, "%s", err);
}

Test(config, load_applies_cross_field_rules)
{
	struct config c;
	char err[CFG_ERR_MAX] = "";
	char *argv[] = {"ron-monitor", "--health-interval-ms=400", NULL};
	int argc = 2;
	cr_assert_eq(config_load(&c, CFG_MONITOR, &argc, argv, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "RON_HEALTH_TIMEOUT_MS=500 must be less than "
			      "--health-interval-ms=400");
}

Test(config, usage_lists_every_setting)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	config_usage(f, CFG_KERNEL);
	fclose(f);
	for (int k = 0; k < CFG__COUNT; k++) {
		char flag[64];
		snprintf(flag, sizeof(flag), "--%s=", cfg_table[k].flag);
		cr_assert_not_null(strstr(buf, cfg_table[k].env), "%s missing", cfg_table[k].env);
		cr_assert_not_null(strstr(buf, flag), "%s missing", flag);
	}
	cr_assert_not_null(strstr(buf, "[default 500; 1..600000 ms]"), "%s", buf);
	cr_assert_not_null(strstr(buf, "[default text; text, json]"), "%s", buf);
	cr_assert_not_null(strstr(buf, "at most 107 bytes"), "%s", buf);
	int lines = 0;
	for (char *p = buf; *p; p++)
		lines += *p == '\n';
	cr_assert_eq(lines, CFG__COUNT);
	free(buf);
}

Test(config, usage_of_monitor_only_shared)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	config_usage(f, CFG_MONITOR);
	fclose(f);
	cr_assert_null(strstr(buf, "RON_RUN_DIR"));
	cr_assert_not_null(strstr(buf, "RON_HEALTH_INTERVAL_MS"));
	free(buf);
}

Test(config, export_round_trip)
{
	struct config c, d;
	char err[CFG_ERR_MAX] = "";
	char *argv[] = {"ron-kernel", "--stable-ms=77", "--log-format=json",
			"--storage-sock=/run/s.sock", NULL};
	int argc = 4;
	cr_assert_eq(config_load(&c, CFG_KERNEL, &argc, argv, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_export_env(&c, CFG_KERNEL), 0);
	for (int k = 0; k < CFG__COUNT; k++)
		cr_assert_not_null(getenv(cfg_table[k].env), "%s not exported", cfg_table[k].env);
	cr_assert_str_eq(getenv("RON_STABLE_MS"), "77");
	cr_assert_str_eq(getenv("RON_LOG_FORMAT"), "json");
	cr_assert_str_eq(getenv("RON_STORAGE_SOCK"), "/run/s.sock");
	cr_assert_str_eq(getenv("RON_MONITOR_BIN"), "");

	/* What a monitor, or a service, sees. */
	config_defaults(&d);
	cr_assert_eq(config_from_env(&d, CFG_KERNEL, err, sizeof(err)), 0, "%s", err);
	for (int k = 0; k < CFG__COUNT; k++) {
		cr_assert_eq(config_num(&d, k), config_num(&c, k), "%s", cfg_table[k].env);
		cr_assert_str_eq(config_str(&d, k), config_str(&c, k), "%s", cfg_table[k].env);
	}
}

Test(config, export_scope)
{
	struct config c;
	config_defaults(&c);
	cr_assert_eq(config_export_env(&c, CFG_MONITOR), 0);
	cr_assert_null(getenv("RON_RUN_DIR"));
	cr_assert_str_eq(getenv("RON_HEALTH_FAILURES"), "3");
}
