/* Whether a service could be started as configured, found without starting it (for
 * --check-config): its program exists and its user may run it, its working
 * directory exists and its user may enter it.  Permissions are judged from the mode
 * bits against the user, its primary group and its other groups, as execve would;
 * an ACL or a mount option (noexec) is not seen. */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel.h"

/* execvp's search path when PATH is unset. */
#define RUNNABLE_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

static bool in_groups(const struct svc_def *d, gid_t gid)
{
	if (d->gid == gid)
		return true;
	gid_t groups[256];
	int n = 256;
	if (!d->user || getgrouplist(d->user, d->gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* Whether the service's user may search or execute (x) st. */
static bool user_may_x(const struct svc_def *d, const struct stat *st, const char *path)
{
	if (!d->user && !d->group)
		return access(path, X_OK) == 0;
	if (d->uid == 0)
		return S_ISDIR(st->st_mode) || (st->st_mode & 0111);
	if (st->st_uid == d->uid)
		return st->st_mode & S_IXUSR;
	if (in_groups(d, st->st_gid))
		return st->st_mode & S_IXGRP;
	return st->st_mode & S_IXOTH;
}

static const char *who(const struct svc_def *d)
{
	return d->user ? d->user : d->group ? d->group : "the kernel's user";
}

/* "file:line: [service x]: bin=/x" or "RON_SVC_INDEX_BIN=/x" for a seed's variable. */
static void key_name(const struct svc_table *t, const struct svc_def *d, int key, const char *value,
		     char *buf, size_t cap)
{
	if (key == SK_BIN && d->seed_bin != CFG__COUNT && !d->key_line[SK_BIN])
		snprintf(buf, cap, "%s=%s", cfg_table[d->seed_bin].env, value);
	else
		snprintf(buf, cap, "%s:%u: [service %s]: %s=%s", t->path,
			 d->key_line[key] ? d->key_line[key] : d->line, d->name, svc_key_names[key],
			 value);
}

/* One candidate path for the program: 0 usable, else an errno value and what is
 * wrong with it. */
static int program_at(const struct svc_def *d, const char *path, char *what, size_t cap)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		int e = errno;
		snprintf(what, cap, "%s", strerror(e));
		return e;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(what, cap, "not a regular file");
		return EACCES;
	}
	if (!user_may_x(d, &st, path)) {
		snprintf(what, cap, "not executable by %s (mode %04o; chmod +x it)", who(d),
			 (unsigned)(st.st_mode & 07777));
		return EACCES;
	}
	return 0;
}

/* The PATH the service's program is looked up on: its own env line, else ours. */
static const char *search_path(const struct svc_def *d)
{
	for (int i = d->nenv - 1; i >= 0; i--)
		if (strncmp(d->env[i], "PATH=", 5) == 0)
			return d->env[i] + 5;
	const char *p = getenv("PATH");
	return p ? p : RUNNABLE_DEFAULT_PATH;
}

static int program(const struct svc_table *t, const struct svc_def *d, char *why, size_t whylen)
{
	char what[CFG_STR_MAX * 3 + 64], name[CFG_STR_MAX + 256], path[CFG_STR_MAX * 2];
	key_name(t, d, SK_BIN, d->bin, name, sizeof(name));
	if (strchr(d->bin, '/')) {
		/* Relative to where it starts: its working directory. */
		if (d->bin[0] != '/' && d->working_dir)
			snprintf(path, sizeof(path), "%s/%s", d->working_dir, d->bin);
		else
			snprintf(path, sizeof(path), "%s", d->bin);
		int e = program_at(d, path, what, sizeof(what));
		if (e == 0)
			return 0;
		snprintf(why, whylen, "%s: %s%s%s%s", name, strcmp(path, d->bin) ? path : "",
			 strcmp(path, d->bin) ? ": " : "", what,
			 e == ENOENT ? " (install it, or give the right path)" : "");
		return -1;
	}
	const char *sp = search_path(d);
	char dirs[CFG_STR_MAX * 4], *save = NULL;
	snprintf(dirs, sizeof(dirs), "%s", sp);
	what[0] = '\0';
	for (char *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, d->bin) >= sizeof(path))
			continue;
		char w[CFG_STR_MAX];
		int e = program_at(d, path, w, sizeof(w));
		if (e == 0)
			return 0;
		/* Found but unusable says more than not found. */
		if (e != ENOENT && !what[0])
			snprintf(what, sizeof(what), "%s: %s", path, w);
	}
	if (!what[0])
		snprintf(why, whylen, "%s: not found on PATH=%s (give the full path)", name, sp);
	else
		snprintf(why, whylen, "%s: %s", name, what);
	return -1;
}

static int working_dir(const struct svc_table *t, const struct svc_def *d, char *why, size_t whylen)
{
	char name[CFG_STR_MAX + 256];
	struct stat st;
	if (!d->working_dir)
		return 0;
	key_name(t, d, SK_WORKING_DIR, d->working_dir, name, sizeof(name));
	if (stat(d->working_dir, &st) < 0) {
		snprintf(why, whylen, "%s: %s (create it, or remove the key)", name,
			 strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "%s: not a directory", name);
		return -1;
	}
	if (!user_may_x(d, &st, d->working_dir)) {
		snprintf(why, whylen, "%s: %s may not enter it (mode %04o)", name, who(d),
			 (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

int kernel_runnable(const struct svc_table *t, const struct svc_def *d, char *why, size_t whylen)
{
	if (working_dir(t, d, why, whylen) < 0)
		return -1;
	return program(t, d, why, whylen);
}
