/* The service table: one plain record per supervised service, built from the seed
 * variables (svc-index, svc-overlay, svc-storage) or from a config file, resolved
 * and validated once; kernel, monitor arguments and status output read only this. */
#ifndef RON_SERVICES_H
#define RON_SERVICES_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "config.h"

#define SVC_NAME_MAX 64	  /* a name is at most 63 bytes: [a-z0-9][a-z0-9._-]{0,62} */
#define SVC_MAX	     1024 /* services in one table */
#define SVC_ENV_MAX  64	  /* an environment variable's name, NUL included */

enum svc_health { SVC_HEALTH_V1, SVC_HEALTH_NONE };

/* The keys of a [service NAME] section besides the monitor's settings. */
enum svc_key {
	SK_BIN,
	SK_ARGS,
	SK_ENV,
	SK_SOCKET,
	SK_SOCKET_ENV,
	SK_HEALTH,
	SK_HEALTH_SERVICE,
	SK_AFTER,
	SK_USER,
	SK_GROUP,
	SK_WORKING_DIR,
	SK_STOP_SIGNAL,
	SK_ENABLED,
	SK_LOG_DIR,
	SK__COUNT
};
extern const char *const svc_key_names[SK__COUNT];

struct svc_def {
	char name[SVC_NAME_MAX];
	unsigned line;			  /* of its [service NAME] header; 0: a seed service */
	unsigned key_line[SK__COUNT];	  /* where each key was last set; 0: not in the file */
	enum cfg_key seed_bin, seed_sock; /* a seed name's variables, else CFG__COUNT */

	char *bin;
	char **args; /* argv[1..], NULL-terminated */
	int nargs;
	char **env; /* "K=V", NULL-terminated; applied last, so they win */
	int nenv;
	unsigned *env_line;	    /* where each was set */
	char *sock;		    /* "" for a health = none service without one */
	char sock_env[SVC_ENV_MAX]; /* "" with no socket */
	enum svc_health health;
	char health_service[SVC_NAME_MAX]; /* the name in the request frame */
	char **after_names;
	int nafter;
	int *after;	    /* indexes into the table, after resolving */
	char *user, *group; /* NULL: the kernel's */
	uid_t uid;
	gid_t gid;
	char *working_dir; /* NULL: the kernel's */
	int stop_signal;
	bool enabled;
	char *log_dir; /* NULL: RON_LOG_DIR's */

	/* The settings set for this service alone (all numbers): the monitor's, and the
	 * kernel's of scope CFG_SERVICE. */
	long long num[CFG__COUNT];
	bool set[CFG__COUNT];
	unsigned num_line[CFG__COUNT];
};

struct svc_table {
	struct svc_def *v;
	int n;
	char path[CFG_STR_MAX]; /* the config file; "" for the seed table */
};

/* The three seed services from the seed variables in c. */
int svctab_seed(struct svc_table *t, const struct config *c, char *err, size_t errlen);

/* Reads an INI config file (inih): [kernel] keys are applied to c with source
 * CFG_SRC_FILE, [service NAME] sections become records.  Errors name file:line and
 * the key; one about the file as a whole starts with label ("RON_CONFIG=/x").  The
 * file must be readable; as root, owned by root and not writable by group or others. */
int svctab_read_file(struct svc_table *t, struct config *c, const char *path, const char *label,
		     char *err, size_t errlen);
/* path opened for reading without blocking (a FIFO there opens at once) and
 * checked to be a regular file: the descriptor with *st, or -1 with err
 * ("LABEL: not a regular file: a FIFO"). */
struct stat;
int svctab_open_file(const char *path, const char *label, struct stat *st, char *err,
		     size_t errlen);
/* The same from text in memory (name is used in messages), with no file checks. */
int svctab_read_text(struct svc_table *t, struct config *c, const char *name, const char *text,
		     size_t len, char *err, size_t errlen);

/* Fills every default from the resolved kernel settings c, then checks the table
 * as a whole: names, sockets, users, `after` (unknown names and cycles), the
 * monitor's rules per service.  Call once c is final (flags and environment applied). */
int svctab_resolve(struct svc_table *t, const struct config *c, char *err, size_t errlen);

void svctab_free(struct svc_table *t);

/* A service's effective value of a monitor setting. */
long long svc_num(const struct svc_def *d, const struct config *c, enum cfg_key key);
/* Edit distance of two names or keys, case not counted, for "did you mean"; 99 when
 * one is 64 bytes or longer. */
int svc_distance(const char *a, const char *b);
/* Index of a name, or -1. */
int svctab_find(const struct svc_table *t, const char *name);
/* Services that are enabled. */
int svctab_enabled(const struct svc_table *t);

/* "svc-index" -> "RON_INDEX_SOCK"; "my.svc-2" -> "RON_MY_SVC_2_SOCK". */
void svc_sock_env_name(const char *name, char *out, size_t len);
/* 0 if name matches [a-z0-9][a-z0-9._-]{0,62} and is no cgroup interface file
 * (cgroup.*, memory.*, ...), else -1 with why. */
int svc_name_check(const char *name, char *why, size_t whylen);
/* 0 if var may carry a service's socket path to every service and monitor; -1 and why
 * for a variable they rely on, or one of ron-kernel's own settings (other than own,
 * a seed service's socket variable, or NULL). */
int svc_sock_env_check(const char *var, const char *own, char *why, size_t whylen);
/* Splits args on blanks; "double quotes" group (\" and \\ inside); no expansion.
 * Appends to *v / *n (NULL-terminated); -1 with why on an unbalanced quote. */
int svc_split_args(const char *s, char ***v, int *n, char *why, size_t whylen);

/* ron-kernel --check-config: the resolved table as an INI file, every value with
 * where it came from. */
void svctab_print(FILE *f, const struct svc_table *t, const struct config *c);

#endif
