/* reload: the config file read and checked again, then only the difference applied.
 * New and changed services pass the admission start-up makes (admit.c) before
 * anything changes; then new services start, removed ones stop, changed ones restart
 * with their new record, and an unchanged service is not touched (same pid, same
 * uptime).  A service on a removed one's socket starts once that one is gone.
 * Settings that cannot change while running are kept and named. */
#include <bsd/string.h>
#include <err.h>
#include <json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "kernel.h"
#include "proc.h"

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool list_eq(char **a, int na, char **b, int nb)
{
	if (na != nb)
		return false;
	for (int i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

/* Whether the service would run differently: `after` alone changes only start order. */
static bool def_same(const struct svc_def *a, const struct config *ca, const struct svc_def *b,
		     const struct config *cb)
{
	if (!str_eq(a->bin, b->bin) || !list_eq(a->args, a->nargs, b->args, b->nargs) ||
	    !list_eq(a->env, a->nenv, b->env, b->nenv) || !str_eq(a->sock, b->sock) ||
	    strcmp(a->sock_env, b->sock_env) != 0 || a->health != b->health ||
	    strcmp(a->health_service, b->health_service) != 0 || !str_eq(a->user, b->user) ||
	    !str_eq(a->group, b->group) || !str_eq(a->working_dir, b->working_dir) ||
	    a->stop_signal != b->stop_signal)
		return false;
	for (int key = 0; key < CFG__COUNT; key++)
		if ((cfg_table[key].scope & CFG_MONITOR) &&
		    svc_num(a, ca, key) != svc_num(b, cb, key))
			return false;
	return true;
}

int kernel_pollset_fit(struct kernel *k)
{
	/* The signalfd, the control socket, stdout, the clients, the status pipes,
	 * stderr and the output pipes. */
	int need = 1 + 1 + 1 + CONTROL_CLIENTS_MAX + k->nsvc + 1 + SVC__STREAMS * k->nsvc;
	if (need <= k->pfd_cap)
		return 0;
	struct pollfd *p = realloc(k->pfd, sizeof(*p) * (size_t)need);
	if (p)
		k->pfd = p;
	struct kernel_svc **w = realloc(k->who, sizeof(*w) * (size_t)need);
	if (w)
		k->who = w;
	if (!p || !w)
		return -1;
	k->pfd_cap = need;
	return 0;
}

static void slots_rebuild(struct kernel *k)
{
	for (int i = 0; i < k->tab.n; i++)
		k->slot[i] = -1;
	for (int i = 0; i < k->nsvc; i++) {
		int t = svctab_find(&k->tab, k->svc[i].name);
		if (t >= 0)
			k->slot[t] = i;
	}
}

/* The new table and settings, built as at start: file, then the variables and flags
 * the kernel was started with. */
static int load_again(struct kernel *k, struct svc_table *nt, struct config *nc, char *why,
		      size_t whylen)
{
	config_defaults(nc);
	memset(nt, 0, sizeof(*nt));
	char label[CFG_STR_MAX + 16];
	snprintf(label, sizeof(label), "config file %s", k->tab.path);
	if (svctab_read_file(nt, nc, k->tab.path, label, why, whylen) < 0)
		return -1;
	for (int key = 0; key < CFG__COUNT; key++)
		if (k->env0[key] && (cfg_table[key].scope & CFG_KERNEL) &&
		    config_set(nc, key, k->env0[key], CFG_SRC_ENV, why, whylen) < 0)
			return -1;
	char **argv = calloc((size_t)k->argc0 + 1, sizeof(*argv));
	if (!argv) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	memcpy(argv, k->argv0, sizeof(*argv) * (size_t)k->argc0);
	int argc = k->argc0;
	int rc = config_parse_args(nc, CFG_KERNEL, &argc, argv, why, whylen);
	free(argv);
	if (rc < 0 || config_check(nc, why, whylen) < 0)
		return -1;
	return svctab_resolve(nt, nc, why, whylen);
}

static void add_name(json_object *a, const char *name)
{
	if (a) /* out of memory: the reply lacks the name, the reload itself goes on */
		json_object_array_add(a, json_object_new_string(name));
}

/* Starts a service that reload added or changed, held if what it is `after` has not
 * been ready yet. */
static void start_fresh(struct kernel *k, struct kernel_svc *s, int64_t now_us)
{
	k->ev_stale = true;
	if (s->heir_of) {
		s->mon = KMON_DOWN;
		snprintf(s->reason, sizeof(s->reason), "waiting for %s to stop: its socket",
			 s->heir_of);
		return;
	}
	for (int j = 0; j < s->def->nafter; j++) {
		int slot = k->slot[s->def->after[j]];
		if (slot >= 0 && !k->svc[slot].ever_healthy) {
			s->mon = KMON_HELD;
			s->held_until_us =
			    clock_after_ms(now_us, svc_num(s->def, &k->cfg, CFG_START_TIMEOUT_MS));
			k->release_due = true;
			return;
		}
	}
	if (kernel_mon_start(k, s, now_us) < 0) {
		s->mon = KMON_WAITING;
		s->restart_at_us = now_us + 1000000;
	}
}

/* A fresh row for a changed service under its new record; counters stay. */
static void svc_reset(struct kernel_svc *s, const struct svc_def *d)
{
	s->def = d;
	s->next_def = NULL;
	s->reported = false;
	s->state = ST_STARTING;
	s->pid = 0;
	s->start = 0;
	s->failures = 0;
	s->rtt_us = -1;
	s->reason[0] = '\0';
	s->want_down = false;
}

/* What the service leaves when it is gone for good: its socket (dead: its lock is
 * still ours), the directory given to its user, its lock and its cgroup.  The lock
 * and socket directory pass to a service waiting for them instead. */
static struct kernel_svc *svc_release(struct kernel *k, struct kernel_svc *s)
{
	struct kernel_svc *heir = NULL;
	for (int i = 0; i < k->nsvc && !heir; i++)
		if (k->svc[i].heir_of && strcmp(k->svc[i].heir_of, s->name) == 0)
			heir = &k->svc[i];
	const char *sock = s->def->sock;
	struct stat st;
	if (sock[0] && lstat(sock, &st) == 0 && S_ISSOCK(st.st_mode) && unlink(sock) < 0)
		warn("remove the socket %s of %s", sock, s->name);
	if (heir) {
		heir->heir_of = NULL;
		*(heir->next_def ? &heir->next_lockfd : &heir->lockfd) = s->lockfd;
	} else {
		kernel_socklock_drop(s->lockfd, sock);
		char dir[CFG_STR_MAX];
		kernel_dirname(sock, dir, sizeof(dir));
		/* Given to its user at admission; empty now, unless the service left files. */
		if (sock[0] && (s->def->user || s->def->group))
			rmdir(dir);
	}
	s->lockfd = -1;
	kernel_contain_svc_remove(k, s);
	return heir;
}

static void svc_remove(struct kernel *k, struct kernel_svc *s, int64_t now_us)
{
	struct kernel_svc *heir = svc_release(k, s);
	char heir_name[REPORT_NAME_MAX] = "";
	if (heir)
		strlcpy(heir_name, heir->name, sizeof(heir_name));
	kernel_svcout_free(k, s);
	kernel_svc_free(s);
	if (s->pidfd >= 0)
		close(s->pidfd);
	int i = (int)(s - k->svc);
	memmove(&k->svc[i], &k->svc[i + 1], sizeof(*s) * (size_t)(k->nsvc - i - 1));
	k->nsvc--;
	slots_rebuild(k);
	k->ev_stale = true;
	/* Rows moved: the heir is found again by name.  A changed one starts at its reap. */
	heir = heir_name[0] ? kernel_svc_find(k, heir_name) : NULL;
	if (heir && !heir->next_def) {
		heir->reason[0] = '\0';
		start_fresh(k, heir, now_us);
	}
}

bool kernel_reload_reaped(struct kernel *k, struct kernel_svc *s, int64_t now_us)
{
	if (!s->retiring && !s->next_def)
		return false;
	/* Asked to stop gracefully and gone without its service: no second copy, ever. */
	if (kernel_svc_alive(s)) {
		struct kernel_field f[] = {KF_STR("service", s->name), KF_STR("what", "service"),
					   KF_NUM("pid", s->pid)};
		kernel_emit(k, KL_WARN, "killed", f, 3);
		proc_signal_group(s->pidfd, s->pid, SIGKILL);
		s->orphan_pid = s->pid;
	}
	struct kernel_field f[] = {KF_STR("service", s->name)};
	k->dirty = true;
	if (s->retiring) {
		kernel_emit(k, KL_INFO, "removed", f, 1);
		svc_remove(k, s, now_us);
		return true;
	}
	kernel_emit(k, KL_INFO, "reconfigured", f, 1);
	if (s->pidfd >= 0)
		close(s->pidfd);
	s->pidfd = -1;
	if (s->relock) {
		kernel_socklock_drop(s->lockfd, s->def->sock);
		s->lockfd = s->next_lockfd;
		s->next_lockfd = -1;
		s->relock = false;
	}
	svc_reset(s, s->next_def);
	start_fresh(k, s, now_us);
	return true;
}

/* Stops the monitor of a removed or changed service; the reap does the rest. */
static void retire(struct kernel *k, struct kernel_svc *s, int64_t now_us)
{
	if (s->mon == KMON_RUNNING) {
		if (s->mpidfd >= 0 ? proc_pidfd_signal(s->mpidfd, SIGTERM) < 0
				   : kill(s->mpid, SIGTERM) < 0)
			warn("SIGTERM monitor %d of %s", (int)s->mpid, s->name);
		return;
	}
	/* No monitor (held, down or waiting to be replaced): nothing runs to stop, unless
	 * a service outlived its monitor, which the reap path handles. */
	s->mon = KMON_DOWN;
	kernel_reload_reaped(k, s, now_us);
}

static json_object *refused(struct kernel *k, json_object *o, const char *why, bool event)
{
	if (event) {
		struct kernel_field f[] = {KF_STR("reason", why)};
		kernel_emit(k, KL_WARN, "reload_failed", f, 1);
	}
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(why));
	return o;
}

/* Why no reload can start now, or NULL. */
static const char *busy(const struct kernel *k)
{
	if (!k->tab.path[0])
		return "no config file to reload: started without --config";
	if (k->stopping)
		return "ron-kernel is shutting down";
	for (int i = 0; i < k->nsvc; i++)
		if (k->svc[i].retiring || k->svc[i].next_def || k->svc[i].heir_of)
			return "the last reload is still being applied";
	return NULL;
}

/* Kernel settings: what cannot change while running is kept, and said. */
static json_object *keep_fixed(struct kernel *k, struct config *nc)
{
	json_object *kept = json_object_new_array();
	static const enum cfg_key fixed[] = {
	    CFG_RUN_DIR,     CFG_MONITOR_BIN,	    CFG_METRICS_FILE,	 CFG_HTTP_ADDR,
	    CFG_HTTP_PUBLIC, CFG_HTTP_USER,	    CFG_HTTP_TIMEOUT_MS, CFG_HTTP_CONNECTIONS,
	    CFG_CONTAINMENT, CFG_OUTPUT_QUEUE_BYTES};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		enum cfg_key key = fixed[i];
		if (strcmp(config_str(nc, key), config_str(&k->cfg, key)) == 0)
			continue;
		char msg[CFG_STR_MAX * 2 + 64], fk[64];
		config_file_key(key, fk, sizeof(fk));
		snprintf(msg, sizeof(msg), "%s: %s kept (%s needs a restart)", fk,
			 config_str(&k->cfg, key), config_str(nc, key));
		if (kept)
			json_object_array_add(kept, json_object_new_string(msg));
		struct kernel_field f[] = {
		    KF_STR("key", fk), KF_STR("kept", config_str(&k->cfg, key)),
		    KF_STR("wanted", config_str(nc, key)), KF_STR("reason", "needs a restart")};
		kernel_emit(k, KL_WARN, "reload_kept", f, 4);
		strlcpy(nc->str[key], k->cfg.str[key], sizeof(nc->str[key]));
		nc->num[key] = k->cfg.num[key]; /* numbers and enum indexes, not only the text */
		nc->src[key] = k->cfg.src[key];
	}
	return kept;
}

enum change { CH_SAME, CH_CHANGED, CH_ADDED };

/* What the new table's service t is to the running set. */
static enum change change_of(struct kernel *k, const struct svc_table *nt, const struct config *nc,
			     int t)
{
	struct kernel_svc *s = kernel_svc_find(k, nt->v[t].name);
	if (!s)
		return CH_ADDED;
	return def_same(s->def, &k->cfg, &nt->v[t], nc) ? CH_SAME : CH_CHANGED;
}

/* Every added or changed service admitted as at start-up, before anything changes:
 * 0, or -1 with why and every lock taken released. */
static int admit_changes(struct kernel *k, const struct svc_table *nt, const struct config *nc,
			 enum change *ch, struct kernel_admission *adm, char *why, size_t whylen)
{
	bool *admitting = calloc((size_t)nt->n + 1, sizeof(*admitting));
	struct kernel_admission *pend = calloc((size_t)nt->n + 1, sizeof(*pend));
	if (!admitting || !pend) {
		free(admitting);
		free(pend);
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	for (int t = 0; t < nt->n; t++) {
		adm[t] = (struct kernel_admission){.lockfd = -1};
		ch[t] = nt->v[t].enabled ? change_of(k, nt, nc, t) : CH_SAME;
		admitting[t] = nt->v[t].enabled && ch[t] != CH_SAME;
	}
	struct kernel_admit_pass p = {nt, nc, k->run_dir, .admitting = admitting, .pend = pend};
	int rc = 0;
	for (int t = 0; t < nt->n && rc == 0; t++) {
		bool held;
		if (!admitting[t])
			continue;
		rc = kernel_admit(k, &p, t, &adm[t], &held, why, whylen);
		pend[p.npend++] = adm[t];
	}
	if (rc < 0)
		kernel_admit_undo(adm, nt->n);
	free(admitting);
	free(pend);
	return rc;
}

/* The socket variables: a removed or renamed one goes, every current one is set. */
static void export_sockets(struct kernel *k)
{
	for (int i = 0; i < k->nsvc; i++) {
		const struct kernel_svc *s = &k->svc[i];
		if (s->def->sock_env[0] &&
		    (s->retiring ||
		     (s->next_def && strcmp(s->def->sock_env, s->next_def->sock_env))))
			unsetenv(s->def->sock_env);
	}
	for (int i = 0; i < k->nsvc; i++) {
		const struct kernel_svc *s = &k->svc[i];
		if (s->retiring)
			continue;
		const struct svc_def *d = s->next_def ? s->next_def : s->def;
		if (d->sock[0] && setenv(d->sock_env, d->sock, 1) < 0)
			warn("setenv %s", d->sock_env);
	}
}

/* The row's part of its admission: the lock it holds or will, and whom it waits for. */
static void take_admission(struct kernel_svc *s, const struct kernel_admission *a)
{
	s->heir_of = a->heir_of;
	if (!s->next_def) {
		s->lockfd = a->lockfd;
		return;
	}
	s->relock = !a->kept;
	s->next_lockfd = a->lockfd;
}

static const char *log_dir_of(const struct svc_def *d, const struct config *c)
{
	return d->log_dir ? d->log_dir : config_str(c, CFG_LOG_DIR);
}

/* Rows of the running set judged against the new table; their log files follow a
 * new log directory. */
static void classify(struct kernel *k, const struct svc_table *nt, const struct config *nc,
		     const struct kernel_admission *adm, json_object *removed, json_object *changed,
		     json_object *same)
{
	for (int i = 0; i < k->nsvc; i++) {
		struct kernel_svc *s = &k->svc[i];
		int t = svctab_find(nt, s->name);
		if (t < 0 || !nt->v[t].enabled) {
			s->retiring = true;
			add_name(removed, s->name);
			continue;
		}
		if (strcmp(log_dir_of(s->def, &k->cfg), log_dir_of(&nt->v[t], nc)) != 0)
			kernel_svcout_log_moved(s);
		if (!def_same(s->def, &k->cfg, &nt->v[t], nc)) {
			s->next_def = &nt->v[t];
			take_admission(s, &adm[t]);
			add_name(changed, s->name);
		} else {
			s->def = &nt->v[t];
			add_name(same, s->name);
		}
	}
}

/* Rows for the added services, their admissions taken. */
static void add_rows(struct kernel *k, const struct kernel_admission *adm, json_object *added)
{
	int want = k->nsvc;
	for (int t = 0; t < k->tab.n; t++)
		if (k->tab.v[t].enabled && !kernel_svc_find(k, k->tab.v[t].name))
			want++;
	struct kernel_svc *nv =
	    want > k->nsvc ? realloc(k->svc, sizeof(*nv) * (size_t)want) : k->svc;
	if (!nv) {
		warnx("reload: out of memory for %d services; new services not added", want);
		return;
	}
	k->svc = nv;
	for (int t = 0; t < k->tab.n; t++) {
		const struct svc_def *d = &k->tab.v[t];
		if (!d->enabled || kernel_svc_find(k, d->name))
			continue;
		struct kernel_svc *s = &k->svc[k->nsvc++];
		kernel_svc_init(s, d->name, d);
		take_admission(s, &adm[t]);
		add_name(added, d->name);
	}
}

json_object *kernel_reload(struct kernel *k, int64_t now_us)
{
	json_object *o = json_object_new_object();
	char why[CFG_ERR_MAX + CFG_STR_MAX * 2] = "";
	if (!o)
		return NULL;
	const char *no = busy(k);
	if (no)
		return refused(k, o, no, true);
	struct svc_table nt;
	static struct config nc;
	int *slot = NULL;
	struct svc_table *olds = NULL;
	enum change *ch = NULL;
	struct kernel_admission *adm = NULL;
	if (load_again(k, &nt, &nc, why, sizeof(why)) < 0 ||
	    !(slot = calloc((size_t)nt.n + 1, sizeof(*slot))) ||
	    !(ch = calloc((size_t)nt.n + 1, sizeof(*ch))) ||
	    !(adm = calloc((size_t)nt.n + 1, sizeof(*adm))) ||
	    !(olds = realloc(k->old_tabs, sizeof(*olds) * (size_t)(k->nold_tabs + 1))) ||
	    admit_changes(k, &nt, &nc, ch, adm, why, sizeof(why)) < 0) {
		if (!why[0])
			strlcpy(why, "out of memory", sizeof(why));
		if (olds)
			k->old_tabs = olds;
		svctab_free(&nt);
		free(slot);
		free(ch);
		free(adm);
		return refused(k, o, why, true);
	}
	k->old_tabs = olds;
	json_object *kept = keep_fixed(k, &nc);
	json_object *added = json_object_new_array(), *removed = json_object_new_array(),
		    *changed = json_object_new_array(), *same = json_object_new_array();
	/* Judged against the old settings, before they are replaced. */
	classify(k, &nt, &nc, adm, removed, changed, same);
	k->old_tabs[k->nold_tabs++] = k->tab;
	k->tab = nt;
	k->cfg = nc;
	k->cfg.file = k->tab.path;
	k->json = config_num(&k->cfg, CFG_LOG_FORMAT) == CFG_LOG_JSON;
	kernel_svcout_settings(k);
	free(k->slot);
	k->slot = slot;
	int old_n = k->nsvc;
	add_rows(k, adm, added);
	free(ch);
	free(adm);
	slots_rebuild(k);
	if (kernel_pollset_fit(k) < 0)
		warnx("reload: out of memory for the poll set");
	export_sockets(k);
	for (int i = old_n; i < k->nsvc; i++)
		start_fresh(k, &k->svc[i], now_us);
	/* Retiring may drop rows: walk from the end so indexes stay good. */
	for (int i = k->nsvc - 1; i >= 0; i--)
		if (i < k->nsvc && (k->svc[i].retiring || k->svc[i].next_def))
			retire(k, &k->svc[i], now_us);

	struct kernel_field f[] = {KF_NUM("added", (long long)json_object_array_length(added)),
				   KF_NUM("removed", (long long)json_object_array_length(removed)),
				   KF_NUM("changed", (long long)json_object_array_length(changed)),
				   KF_NUM("unchanged", (long long)json_object_array_length(same)),
				   KF_STR("config", k->tab.path)};
	kernel_emit(k, KL_INFO, "reload", f, 5);
	k->dirty = true;
	k->ev_stale = true;
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "added", added);
	json_object_object_add(o, "removed", removed);
	json_object_object_add(o, "changed", changed);
	json_object_object_add(o, "unchanged", same);
	json_object_object_add(o, "kept", kept);
	return o;
}
