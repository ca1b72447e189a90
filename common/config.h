/* Configuration of ron-kernel and ron-monitor: one table of settings (env variable, flag,
 * type, default, range, scope, help) from which parsing, checks, --help and export all come. */
#ifndef RON_CONFIG_H
#define RON_CONFIG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* One key per setting, in the order of cfg_table and of --help. */
enum cfg_key {
	CFG_SVC_INDEX_BIN,
	CFG_SVC_OVERLAY_BIN,
	CFG_SVC_STORAGE_BIN,
	CFG_INDEX_SOCK,
	CFG_OVERLAY_SOCK,
	CFG_STORAGE_SOCK,
	CFG_RUN_DIR,
	CFG_MONITOR_BIN,
	CFG_CONFIG,
	CFG_LOG_FORMAT,
	CFG_STATUS_INTERVAL_MS,
	CFG_STATUS_DETAIL,
	CFG_STATUS_LINE,
	CFG_HEALTH_INTERVAL_MS,
	CFG_HEALTH_TIMEOUT_MS,
	CFG_HEALTH_FAILURES,
	CFG_START_TIMEOUT_MS,
	CFG_STOP_TIMEOUT_MS,
	CFG_BACKOFF_MIN_MS,
	CFG_BACKOFF_MAX_MS,
	CFG_RESTART_CAP,
	CFG_RESTART_WINDOW_MS,
	CFG_STABLE_MS,
	CFG_QUARANTINE_MS,
	CFG_OUTPUT_QUEUE_BYTES,
	CFG_SERVICE_OUTPUT,
	CFG_OUTPUT_RATE,
	CFG_OUTPUT_BURST,
	CFG_LOG_DIR,
	CFG_LOG_MAX_BYTES,
	CFG_LOG_KEEP,
	CFG_METRICS_FILE,
	CFG_HTTP_ADDR,
	CFG_HTTP_PUBLIC,
	CFG_HTTP_USER,
	CFG_HTTP_TIMEOUT_MS,
	CFG_HTTP_CONNECTIONS,
	CFG_CONTAINMENT,
	CFG__COUNT
};

enum cfg_type {
	CFG_MS,	    /* milliseconds, a decimal integer in min..max */
	CFG_COUNT,  /* a decimal integer in min..max */
	CFG_PATH,   /* a file system path of at most max bytes */
	CFG_STRING, /* a program name or path of at most max bytes */
	CFG_ENUM,   /* one of words[]; its index is the number */
};

/* Which binary reads a setting.  The kernel reads them all, since it exports them. */
#define CFG_KERNEL  1u
#define CFG_MONITOR 2u
#define CFG_BOTH    (CFG_KERNEL | CFG_MONITOR)
/* The kernel reads it, and a [service NAME] section may set it for that service alone. */
#define CFG_SERVICE 4u

/* Room for a string value, NUL included. */
#define CFG_STR_MAX 1024
/* A size for error buffers that holds every message in full. */
#define CFG_ERR_MAX 512
/* The config file read when none is named (RON_CONFIG unset, no --config). */
#define CFG_DEFAULT_CONFIG "/etc/ron/kernel.conf"

/* RON_LOG_FORMAT values, as config_num() returns them. */
enum cfg_log_format { CFG_LOG_TEXT, CFG_LOG_JSON };
/* RON_SERVICE_OUTPUT values. */
enum cfg_service_output { CFG_SVCOUT_PREFIX, CFG_SVCOUT_RAW, CFG_SVCOUT_NONE };
/* RON_STATUS_LINE values. */
enum cfg_status_line {
	CFG_STLINE_AUTO,
	CFG_STLINE_FULL,
	CFG_STLINE_COMPACT,
	CFG_STLINE_SUMMARY,
	CFG_STLINE_OFF
};
/* RON_CONTAINMENT values. */
enum cfg_containment { CFG_CONTAIN_AUTO, CFG_CONTAIN_CGROUP, CFG_CONTAIN_PGROUP };

struct cfg_setting {
	const char *env;  /* "RON_HEALTH_INTERVAL_MS" */
	const char *flag; /* "health-interval-ms": the long option without its dashes */
	enum cfg_type type;
	const char *def; /* the default, as it would be written in the environment */
	/* numbers: the accepted values; strings: min 0 (may be empty) or 1, max in bytes */
	long long min, max;
	const char *const *words; /* CFG_ENUM: the accepted words, NULL-terminated */
	bool absolute;		  /* CFG_PATH: must start with '/' */
	unsigned scope;		  /* CFG_KERNEL, CFG_MONITOR or both */
	const char *help;
};

extern const struct cfg_setting cfg_table[CFG__COUNT];

/* Where a value came from: its error messages name the flag, the variable or the config
 * file's key ("health_interval_ms") accordingly. */
enum cfg_source { CFG_SRC_DEFAULT, CFG_SRC_FILE, CFG_SRC_ENV, CFG_SRC_FLAG };

/* Resolved values.  num[] holds numbers and enum indexes; str[] every value as text
 * (numbers in decimal, enums as their word). */
struct config {
	long long num[CFG__COUNT];
	char str[CFG__COUNT][CFG_STR_MAX];
	enum cfg_source src[CFG__COUNT];
	unsigned line[CFG__COUNT]; /* CFG_SRC_FILE: the line of the config file */
	const char *file;	   /* that file, for messages */
};

/* All functions below that take err fill it with one line naming the variable (or the
 * flag), the value and what is accepted, e.g.
 *   RON_HEALTH_TIMEOUT_MS=abc: not a number (accepted: 1..600000 ms)
 * and return -1; they return 0 on success.  Callers exit with 78 (EX_CONFIG).  A
 * setting is "in scope" when its scope shares a bit with the scope argument. */

void config_defaults(struct config *c);
/* CFG_DEFAULT_CONFIG if it exists, else NULL. */
const char *config_default_file(void);
/* Sets key from text; on error c is left unchanged. */
int config_set(struct config *c, enum cfg_key key, const char *value, enum cfg_source src,
	       char *err, size_t errlen);
/* Applies every variable in scope that is set in the environment (set but empty is an
 * error, except for a string whose min is 0). */
int config_from_env(struct config *c, unsigned scope, char *err, size_t errlen);
/* The config file's key of a setting: its variable without RON_, lower-case
 * ("health_interval_ms"); cap >= 64. */
void config_file_key(enum cfg_key key, char *buf, size_t cap);
/* "health_interval_ms" -> CFG_HEALTH_INTERVAL_MS; -1 if no setting has that key. */
int config_find_file_key(const char *name);
/* The value a flag (last one wins) or else the variable gives a setting, without
 * applying anything; NULL if neither does.  For finding --config before the rest. */
const char *config_peek(enum cfg_key key, int argc, char **argv, enum cfg_source *src);
/* Where a value came from, for people: "default", "env RON_X", "flag --x", "FILE:LINE". */
void config_origin(const struct config *c, enum cfg_key key, const char *file, char *buf,
		   size_t cap);
/* "health-interval-ms" -> CFG_HEALTH_INTERVAL_MS; -1 if no setting has that flag. */
int config_find_flag(const char *name);
/* Applies and removes from argv[1..] every --flag=value and --flag value of a setting in
 * scope, keeping the other arguments in order; stops at "--", which it leaves in place.
 * *argc is updated and argv[*argc] set to NULL. */
int config_parse_args(struct config *c, unsigned scope, int *argc, char **argv, char *err,
		      size_t errlen);
/* Rules between settings: health timeout < health interval, backoff min <= max. */
int config_check(const struct config *c, char *err, size_t errlen);
/* Defaults, then environment, then flags, then config_check. */
int config_load(struct config *c, unsigned scope, int *argc, char **argv, char *err, size_t errlen);

/* One line per setting in scope: --flag=VALUE, variable, help, default and range. */
void config_usage(FILE *f, unsigned scope);
/* setenv() of every setting in scope, so children inherit the resolved values;
 * -1 with errno on failure. */
int config_export_env(const struct config *c, unsigned scope);

long long config_num(const struct config *c, enum cfg_key key);
const char *config_str(const struct config *c, enum cfg_key key);

#endif
