/* Admission: what a service needs before its first monitor may start, one path for
 * start-up and for reload.  The checks (no socket directory shared with another
 * user's service, the socket directory safe or given to the service's own user, the
 * log directory usable), then the socket lock, held until the service is removed.
 * Nothing is started here, and a refusal names the file and line to change.  A dry
 * pass (--check-config) makes the same checks, and whether the program and working
 * directory can be used, and makes, gives or locks nothing. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel.h"

/* "RON_INDEX_SOCK=/x" for a seed socket from its variable, else "file:line:
 * [service x]: socket=/x". */
static void sock_name(const struct svc_table *t, const struct svc_def *d, char *buf, size_t cap)
{
	if (d->seed_sock != CFG__COUNT && !d->key_line[SK_SOCKET])
		snprintf(buf, cap, "%s=%s", cfg_table[d->seed_sock].env, d->sock);
	else
		snprintf(buf, cap, "%s:%u: [service %s]: socket=%s", t->path,
			 d->key_line[SK_SOCKET] ? d->key_line[SK_SOCKET] : d->line, d->name,
			 d->sock);
}

static bool runs_as_other(const struct svc_def *d)
{
	return d->user || d->group;
}

/* Whether a and b run as different users (the kernel's own counting as one). */
static bool users_differ(const struct svc_def *a, const struct svc_def *b)
{
	if (!runs_as_other(a) && !runs_as_other(b))
		return false;
	return runs_as_other(a) != runs_as_other(b) || a->uid != b->uid || a->gid != b->gid;
}

/* Whether t's service j was, or is being, compared with d from its own side. */
static bool admitted_in_pass(const struct kernel_admit_pass *p, int j)
{
	return p->all || (p->admitting && p->admitting[j]);
}

/* A directory given to one user must not hold another's socket. */
static int dir_shared(const struct kernel_admit_pass *p, int i, char *why, size_t whylen)
{
	const struct svc_def *d = &p->tab->v[i];
	char dir[CFG_STR_MAX], odir[CFG_STR_MAX], name[CFG_STR_MAX + 256];
	kernel_dirname(d->sock, dir, sizeof(dir));
	for (int j = 0; j < p->tab->n; j++) {
		const struct svc_def *o = &p->tab->v[j];
		/* A pair both admitted in this pass is judged once, from the later side. */
		if (j == i || !o->enabled || !o->sock[0] || (j > i && admitted_in_pass(p, j)) ||
		    !users_differ(d, o))
			continue;
		kernel_dirname(o->sock, odir, sizeof(odir));
		if (strcmp(dir, odir) != 0)
			continue;
		const struct svc_def *mover = runs_as_other(d) ? d : o;
		sock_name(p->tab, d, name, sizeof(name));
		snprintf(why, whylen,
			 "%s: directory %s also holds the socket of %s, which runs as another "
			 "user; give %s a socket under a directory of its own, e.g. socket = "
			 "%s/%s/%s.sock",
			 name, dir, o->name, mover->name, p->run_dir, mover->name, mover->name);
		return -1;
	}
	return 0;
}

/* The socket directory: safe for the kernel's own services, given to the user of a
 * service that runs as another. */
static int sock_dir(const struct kernel_admit_pass *p, const struct svc_def *d, char *why,
		    size_t whylen)
{
	char dir[CFG_STR_MAX], w[CFG_STR_MAX + 128], name[CFG_STR_MAX + 256];
	kernel_dirname(d->sock, dir, sizeof(dir));
	int rc;
	if (p->dry)
		rc = runs_as_other(d) ? kernel_sockdir_check(p->run_dir, d, w, sizeof(w))
				      : kernel_dir_check(dir, w, sizeof(w));
	else
		rc = runs_as_other(d) ? kernel_sockdir_give(p->run_dir, d, w, sizeof(w))
				      : kernel_dir_safe(dir, w, sizeof(w));
	if (rc < 0) {
		sock_name(p->tab, d, name, sizeof(name));
		snprintf(why, whylen, "%s: %s", name, w);
		return -1;
	}
	return 0;
}

/* A log directory that cannot be used is a configuration error, found now. */
static int log_dir(const struct kernel_admit_pass *p, const struct svc_def *d, char *why,
		   size_t whylen)
{
	const char *dir = d->log_dir ? d->log_dir : config_str(p->cfg, CFG_LOG_DIR);
	char dwhy[CFG_STR_MAX + 200];
	if (!dir[0])
		return 0;
	if (p->dry ? kernel_dir_check(dir, dwhy, sizeof(dwhy)) == 0
		   : kernel_dir_safe(dir, dwhy, sizeof(dwhy)) == 0)
		return 0;
	if (d->log_dir)
		snprintf(why, whylen, "%s:%u: [service %s]: log_dir=%s: %s", p->tab->path,
			 d->key_line[SK_LOG_DIR], d->name, dir, dwhy);
	else
		snprintf(why, whylen, "%s=%s: %s", cfg_table[CFG_LOG_DIR].env, dir, dwhy);
	return -1;
}

static bool same_file(int a, int b)
{
	struct stat sa, sb;
	return a >= 0 && b >= 0 && fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
	       sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The lock is this kernel's already (fd open on it, not locked): kept when it is the
 * service's own, inherited when a removed service holds it, refused otherwise. */
static int lock_ours(struct kernel *k, const struct kernel_admit_pass *p, const struct svc_def *d,
		     struct kernel_admission *a, int fd, char *why, size_t whylen)
{
	for (int i = 0; i < k->nsvc; i++) {
		struct kernel_svc *s = &k->svc[i];
		if (!same_file(fd, s->lockfd))
			continue;
		if (strcmp(s->name, d->name) == 0) {
			a->kept = true;
			return 0;
		}
		/* The running set's rows: one the new table drops is on its way out. */
		int t = svctab_find(p->tab, s->name);
		bool leaving = t < 0 || !p->tab->v[t].enabled, taken = false;
		for (int j = 0; j < p->npend && !taken; j++)
			taken = p->pend[j].heir_of && strcmp(p->pend[j].heir_of, s->name) == 0;
		if (leaving && !taken) {
			a->heir_of = s->def->name;
			return 0;
		}
		snprintf(why, whylen,
			 "the same file as the socket of %s%s; two services cannot share a "
			 "socket",
			 s->name, leaving ? ", which another service takes over" : "");
		return -1;
	}
	for (int j = 0; j < p->npend; j++)
		if (same_file(fd, p->pend[j].lockfd)) {
			snprintf(why, whylen,
				 "the same file as another service's socket of this kernel; two "
				 "services cannot share a socket");
			return -1;
		}
	/* Held by us, yet by no row: a monitor between fork and exec of an old one. */
	snprintf(why, whylen, "locked by this kernel for no service");
	return -1;
}

static int lock(struct kernel *k, const struct kernel_admit_pass *p, const struct svc_def *d,
		struct kernel_admission *a, bool *held, char *why, size_t whylen)
{
	int ours = -1, rc = -1;
	char w[CFG_ERR_MAX + CFG_STR_MAX], name[CFG_STR_MAX + 256];
	if (p->dry) {
		rc = kernel_socklock_check(d, p->run_dir, w, sizeof(w));
	} else if ((a->lockfd = kernel_socklock_take(k, d, &ours, held, w, sizeof(w))) >= 0) {
		rc = 0;
	} else if (ours >= 0) {
		rc = lock_ours(k, p, d, a, ours, w, sizeof(w));
		close(ours);
	}
	if (rc < 0) {
		sock_name(p->tab, d, name, sizeof(name));
		snprintf(why, whylen, "%s: %s", name, w);
	}
	return rc;
}

int kernel_admit(struct kernel *k, const struct kernel_admit_pass *p, int i,
		 struct kernel_admission *a, bool *held, char *why, size_t whylen)
{
	const struct svc_def *d = &p->tab->v[i];
	*a = (struct kernel_admission){.lockfd = -1};
	*held = false;
	if (log_dir(p, d, why, whylen) < 0 ||
	    (p->dry && kernel_runnable(p->tab, d, why, whylen) < 0))
		return -1;
	if (!d->sock[0])
		return 0;
	if (dir_shared(p, i, why, whylen) < 0 || sock_dir(p, d, why, whylen) < 0)
		return -1;
	return lock(k, p, d, a, held, why, whylen);
}

void kernel_admit_undo(struct kernel_admission *a, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i].lockfd >= 0) {
			close(a[i].lockfd);
			a[i].lockfd = -1;
		}
}
