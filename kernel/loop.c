/* The kernel's one event loop: signals through a signalfd, the monitors' status
 * pipes, and deadlines (status tick, watchdog, monitor silence, shutdown) in poll. */
#include <err.h>
#include <stdlib.h>
#include <errno.h>
#include <json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "clock.h"
#include "kernel.h"
#include "observe.h"
#include "proc.h"

/* After the stop timeout, how long monitors get to report their service stopped. */
#define STOP_MARGIN_MS 2000
/* A stop signal this soon after the first is the same request delivered twice (to
 * the process and to its group, as timeout(1) and a terminal's ^C do), not a person
 * asking again. */
#define STOP_AGAIN_US 1000000
/* After SIGKILL to stragglers, how long to wait for them to be reaped. */
#define KILL_WAIT_MS 2000

int kernel_signals_init(struct kernel *k, char *why, size_t whylen)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
		snprintf(why, whylen, "sigprocmask: %s", strerror(errno));
		return -1;
	}
	k->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (k->sigfd < 0) {
		snprintf(why, whylen, "signalfd: %s", strerror(errno));
		return -1;
	}
	/* A reader of stdout that went away must not kill the supervisor. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		snprintf(why, whylen, "ignore SIGPIPE: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* A monitor alone; a service with its process group (its own children). */
static void signal_svc(struct kernel *k, struct kernel_svc *s, int sig, bool monitor)
{
	pid_t pid = monitor ? s->mpid : s->pid;
	int rc;
	/* A running monitor is our child, unreaped: without its pidfd, its pid is as sure. */
	if (monitor)
		rc = s->mpidfd >= 0 ? proc_pidfd_signal(s->mpidfd, sig) : kill(s->mpid, sig);
	else
		rc = kernel_svc_signal(k, s, sig);
	if (rc < 0 && errno != ESRCH)
		warn("%s %s %d of %s", sig_name(sig), monitor ? "monitor" : "service", (int)pid,
		     s->name);
}

static void shutdown_begin(struct kernel *k, int sig, int64_t now_us)
{
	k->stopping = true;
	k->stop_asked_us = now_us;
	struct kernel_field f[] = {KF_STR("signal", sig_name(sig))};
	kernel_emit(k, KL_INFO, "shutdown", f, 1);
	if (kernel_notify_send(&k->notify, "STOPPING=1") < 0)
		warn("sd_notify STOPPING=1");
	for (int i = 0; i < k->nsvc; i++) {
		struct kernel_svc *s = &k->svc[i];
		if (s->mon == KMON_RUNNING)
			signal_svc(k, s, SIGTERM, true);
		else if (kernel_svc_alive(s) || kernel_svc_untracked_child(s))
			signal_svc(k, s, SIGTERM, false);
		/* Without a monitor, the whole cgroup is ours to stop. */
		if (s->mon != KMON_RUNNING)
			kernel_contain_signal(k, s, SIGTERM);
		if (s->mon == KMON_WAITING || s->mon == KMON_HELD)
			s->mon = KMON_DOWN;
		/* Output of a spawn under way is read from now on, pid or not. */
		kernel_svcout_sync(k, s);
	}
	int64_t stop_ms = config_num(&k->cfg, CFG_STOP_TIMEOUT_MS);
	for (int i = 0; i < k->nsvc; i++) {
		int64_t own = svc_num(k->svc[i].def, &k->cfg, CFG_STOP_TIMEOUT_MS);
		stop_ms = own > stop_ms ? own : stop_ms;
	}
	k->stop_deadline_us = now_us + (stop_ms + STOP_MARGIN_MS) * 1000;
	k->dirty = true;
}

/* Past the stop timeout and margin: SIGKILL whatever is left, monitor or service. */
static void shutdown_kill(struct kernel *k, int64_t now_us)
{
	k->killed = true;
	k->kill_deadline_us = now_us + KILL_WAIT_MS * 1000;
	for (int i = 0; i < k->nsvc; i++) {
		struct kernel_svc *s = &k->svc[i];
		if (s->mon == KMON_RUNNING) {
			struct kernel_field f[] = {KF_STR("service", s->name),
						   KF_STR("what", "monitor"),
						   KF_NUM("pid", s->mpid)};
			kernel_emit(k, KL_WARN, "killed", f, 3);
			signal_svc(k, s, SIGKILL, true);
		}
		if (kernel_svc_alive(s) || kernel_svc_untracked_child(s)) {
			struct kernel_field f[] = {KF_STR("service", s->name),
						   KF_STR("what", "service"),
						   KF_NUM("pid", s->pid)};
			kernel_emit(k, KL_WARN, "killed", f, 3);
			signal_svc(k, s, SIGKILL, false);
		}
		int left = kernel_contain_procs(k, s);
		if (left > 0) {
			struct kernel_field f[] = {KF_STR("service", s->name),
						   KF_STR("what", "cgroup"), KF_NUM("procs", left)};
			kernel_emit(k, KL_WARN, "killed", f, 3);
			kernel_contain_signal(k, s, SIGKILL);
		}
	}
	kernel_orphans_kill(k);
}

static bool shutdown_done(const struct kernel *k)
{
	for (int i = 0; i < k->nsvc; i++)
		if (k->svc[i].mon == KMON_RUNNING || kernel_svc_alive(&k->svc[i]) ||
		    kernel_svc_untracked_child(&k->svc[i]))
			return false;
	/* Down means empty: helpers that outlived their leader count too. */
	return kernel_contain_empty(k);
}

/* The reload SIGHUP asked for, in systemd's Type=notify-reload sequence; at the end
 * of a loop turn, as a control request's, since it may reallocate the table and the
 * poll set the turn works on. */
static void sighup_reload(struct kernel *k, int64_t now_us)
{
	char msg[64];
	k->reload_due = false;
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%lld", (long long)clock_mono_us());
	kernel_notify_send(&k->notify, msg);
	json_object_put(kernel_reload(k, now_us));
	kernel_notify_send(&k->notify, "READY=1");
}

/* SIGHUP: with a config file, a reload; without one there is nothing to re-read, and
 * it lifts every quarantine. */
static void sighup(struct kernel *k)
{
	if (k->tab.path[0]) {
		struct kernel_field f[] = {KF_STR("reason", "reload")};
		kernel_emit(k, KL_INFO, "sighup", f, 1);
		k->reload_due = true;
		return;
	}
	int sent = 0;
	for (int i = 0; i < k->nsvc; i++) {
		if (k->svc[i].mon != KMON_RUNNING)
			continue;
		signal_svc(k, &k->svc[i], SIGHUP, true);
		sent++;
	}
	struct kernel_field f[] = {KF_NUM("monitors", sent), KF_STR("reason", "lift quarantines")};
	kernel_emit(k, KL_INFO, "sighup", f, 2);
}

static void on_signals(struct kernel *k, int64_t now_us)
{
	struct signalfd_siginfo si;
	for (;;) {
		ssize_t n = read(k->sigfd, &si, sizeof(si));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			warn("read signalfd");
		if (n != (ssize_t)sizeof(si))
			return;
		switch (si.ssi_signo) {
		case SIGCHLD: kernel_reap(k, now_us); break;
		case SIGTERM:
		case SIGINT:
			if (!k->stopping) {
				shutdown_begin(k, (int)si.ssi_signo, now_us);
			} else if (!k->killed && now_us - k->stop_asked_us >= STOP_AGAIN_US) {
				/* Asked twice (Ctrl-C again): no more waiting for graceful stops.
				 */
				struct kernel_field f[] = {
				    KF_STR("signal", sig_name((int)si.ssi_signo)),
				    KF_STR("reason", "second stop signal")};
				kernel_emit(k, KL_WARN, "shutdown_now", f, 2);
				shutdown_kill(k, now_us);
			}
			break;
		case SIGHUP: sighup(k); break;
		case SIGUSR1: kernel_emit_full(k, now_us); break;
		}
	}
}

/* What the epoll set has ready: status pipes first, then output, as the poll set had
 * them; a batch at a time, so one turn stays bounded however many are ready. */
static void ev_events(struct kernel *k, int64_t now_us)
{
	struct epoll_event ev[64];
	int n = epoll_wait(k->epfd, ev, 64, 0);
	if (n < 0 && errno != EINTR)
		warn("epoll_wait");
	for (int i = 0; i < n; i++) {
		if (kernel_httpd_out_is(ev[i].data.u64))
			continue;
		int idx = (int)(ev[i].data.u64 / 4), kind = (int)(ev[i].data.u64 % 4);
		if (kind == KEV_STATUS && idx < k->nsvc)
			kernel_mon_read(k, &k->svc[idx], now_us);
	}
	for (int i = 0; i < n; i++) {
		if (kernel_httpd_out_is(ev[i].data.u64)) {
			kernel_httpd_out_ready(k, now_us);
			continue;
		}
		int idx = (int)(ev[i].data.u64 / 4), kind = (int)(ev[i].data.u64 % 4);
		if (kind != KEV_STATUS && idx < k->nsvc)
			kernel_svcout_ready(k, &k->svc[idx], (enum svc_stream)(kind - 1));
	}
}

static void tick(struct kernel *k, int64_t now_us)
{
	if (now_us >= k->next_status_us) {
		int64_t iv = clock_ms_to_us(config_num(&k->cfg, CFG_STATUS_INTERVAL_MS));
		/* The quiet checks since the last tick, for the line and status.json. */
		kernel_mon_heartbeats(k, NULL, now_us);
		if (kernel_status_line_mode(k) != CFG_STLINE_OFF)
			kernel_emit_status(k, now_us);
		/* Processes a service starts or ends on its own make no event: counted again
		 * every few ticks, not on every one (kernel_contain_count). */
		if (++k->ticks % KERNEL_PROCS_EVERY_TICKS == 0)
			for (int i = 0; i < k->nsvc; i++)
				k->svc[i].procs_stale = true;
		/* The tick's own write is due now: a settle delay would cost a wake-up. */
		k->dirty = true;
		k->publish_at_us = now_us;
		k->next_status_us += iv;
		if (k->next_status_us <= now_us)
			k->next_status_us = now_us + iv;
	}
	if (k->notify.watchdog_us > 0 && now_us >= k->next_watchdog_us) {
		if (kernel_notify_send(&k->notify, "WATCHDOG=1") < 0)
			warn("sd_notify WATCHDOG=1");
		k->next_watchdog_us = now_us + k->notify.watchdog_us / 2;
	}
	kernel_obs_tick(k, now_us);
}

/* Stopped, frozen or starved since the last mark: the silence of every monitor in that
 * time is ours, not theirs, and so is the time gone from a running stop. */
static void loop_check_pause(struct kernel *k, int64_t now_us)
{
	int64_t late = clock_lateness(k->loop_mark_us, k->loop_allowed_us, now_us);
	k->loop_mark_us = now_us;
	k->loop_allowed_us = -1;
	/* The shortest silence limit of all: the first monitor a pause would wrong. */
	int64_t limit = -1;
	for (int i = 0; i < k->nsvc; i++) {
		const struct kernel_svc *s = &k->svc[i];
		int64_t l =
		    kernel_mon_silence_limit_us(svc_num(s->def, &k->cfg, CFG_HEALTH_INTERVAL_MS),
						svc_num(s->def, &k->cfg, CFG_HEALTH_TIMEOUT_MS));
		limit = limit < 0 || l < limit ? l : limit;
	}
	if (limit < 0 || !kernel_loop_paused(late, limit))
		return;
	kernel_mon_paused(k, late, now_us);
	if (k->stopping) {
		k->stop_deadline_us += late;
		k->kill_deadline_us += late;
	}
}

int kernel_run(struct kernel *k)
{
	int64_t now = clock_mono_us();
	k->next_status_us = clock_after_ms(now, config_num(&k->cfg, CFG_STATUS_INTERVAL_MS));
	k->next_watchdog_us = now;
	if (kernel_pollset_fit(k) < 0)
		err(71, "allocate the poll set of %d services", k->nsvc);
	if (kernel_ev_open(k) < 0)
		err(71, "epoll_create1");
	kernel_httpd_out_watch(k); /* made before the loop, with the first ron-httpd */
	/* Services that wait for others are held; the rest start now, in parallel. */
	for (int i = 0; i < k->nsvc; i++) {
		struct kernel_svc *s = &k->svc[i];
		if (s->def->nafter) {
			s->mon = KMON_HELD;
			s->held_until_us =
			    clock_after_ms(now, svc_num(s->def, &k->cfg, CFG_START_TIMEOUT_MS));
			snprintf(s->reason, sizeof(s->reason), "waiting for %s",
				 s->def->after_names[0]);
			continue;
		}
		kernel_mon_start(k, s, now); /* a failure schedules its own retry */
	}
	kernel_dl_rebuild(k);
	kernel_publish(k, now);
	k->loop_mark_us = now;
	k->loop_allowed_us = -1;

	for (;;) {
		now = clock_mono_us();
		loop_check_pause(k, now);
		if (k->ev_stale) {
			k->ev_stale = false;
			kernel_dl_rebuild(k);
			kernel_svcout_rewatch(k);
			for (int i = 0; i < k->nsvc; i++) {
				if (k->svc[i].pipefd >= 0)
					kernel_ev_rewatch(k, &k->svc[i], k->svc[i].pipefd,
							  KEV_STATUS);
				kernel_hb_rewatch(k, &k->svc[i]);
			}
		}
		tick(k, now);
		kernel_mon_timers(k, now);
		kernel_control_timers(k, now);
		if (k->release_due)
			kernel_mon_release(k, now);
		if (k->stopping) {
			if (shutdown_done(k)) {
				/* No monitor is left to account for anything: whatever child of
				 * ours remains (a helper of a service that died unseen) goes too.
				 */
				kernel_orphans_kill(k);
				break;
			}
			if (!k->killed && now >= k->stop_deadline_us)
				shutdown_kill(k, now);
			if (k->killed && now >= k->kill_deadline_us) {
				warnx("processes survive SIGKILL; exiting anyway");
				break;
			}
		}
		/* A large table is written at most every few of its write times: while
		 * hundreds of services start, every report would otherwise rewrite it. */
		/* A change is written a moment later, not in the same breath: a restart's
		 * reports come as the new service execs, and the write would take a CPU
		 * from it.  Changes in that moment go out together. */
		if (k->dirty && !k->publish_at_us)
			k->publish_at_us = now + PUBLISH_SETTLE_MS * 1000;
		if (k->dirty && now >= k->next_publish_us && now >= k->publish_at_us)
			kernel_publish(k, now);

		struct pollfd *p = k->pfd;
		struct kernel_svc **who = k->who;
		int np = 0, iout = -1;
		p[np++] = (struct pollfd){k->sigfd, POLLIN, 0};
		int nctl = kernel_control_pollfds(k, p + np);
		np += nctl;
		kernel_out_flush(k, false);
		if (kernel_outq_wants_poll(&k->out)) {
			iout = np;
			who[np] = NULL;
			p[np++] = (struct pollfd){k->out.fd, POLLOUT, 0};
		}
		int iep = np;
		who[np] = NULL;
		p[np++] = (struct pollfd){k->epfd, POLLIN, 0};
		int nmon = np, nso = kernel_svcout_pollfds(k, p + np, who + np);
		np += nso;
		int64_t d = clock_earliest(k->next_status_us, kernel_mon_deadline(k));
		d = clock_earliest(d, kernel_control_deadline(k));
		d = clock_earliest(d, kernel_svcout_deadline(k));
		if (k->dirty)
			d = clock_earliest(d, k->next_publish_us > k->publish_at_us
						  ? k->next_publish_us
						  : k->publish_at_us);
		if (k->notify.watchdog_us > 0)
			d = clock_earliest(d, k->next_watchdog_us);
		d = clock_earliest(d, kernel_obs_deadline(k));
		if (k->stopping) {
			d = clock_earliest(d,
					   k->killed ? k->kill_deadline_us : k->stop_deadline_us);
			/* A service we signalled ourselves tells us of its end only through its
			 * pidfd (or SIGCHLD, if reparented): look again soon. */
			d = clock_earliest(d, now + 50000);
		}
		k->loop_mark_us = clock_mono_us();
		k->loop_allowed_us = d;
		if (poll(p, (nfds_t)np, clock_poll_timeout(d, k->loop_mark_us)) < 0) {
			if (errno != EINTR)
				warn("poll");
			continue;
		}
		now = clock_mono_us();
		loop_check_pause(k, now);
		if (iout >= 0 && p[iout].revents)
			kernel_out_flush(k, true);
		if (p[iep].revents)
			ev_events(k, now);
		kernel_svcout_events(k, p + nmon, who + nmon, nso);
		if (p[0].revents)
			on_signals(k, now);
		/* Last: a reload may change the table the slices above were taken from.
		 * status.json first, so it is never behind what a reply says. */
		if (nctl && k->dirty)
			kernel_publish(k, now);
		kernel_control_events(k, p + 1, nctl, now);
		if (k->reload_due)
			sighup_reload(k, now);
	}

	now = clock_mono_us();
	k->stopping = true;
	kernel_svcout_finish(k);
	for (int i = 0; i < k->nsvc; i++)
		kernel_svc_free(&k->svc[i]);
	kernel_control_close(k);
	/* The final table: what the next kernel will find, with no one left to stop. */
	struct kernel_status_meta m = kernel_status_meta(k, "stopped");
	char why[CFG_STR_MAX + 64];
	if (kernel_status_write(k->run_fd, k->run_dir, &m, k->svc, k->nsvc, now, why, sizeof(why)) <
	    0)
		warnx("status.json: %s", why);
	return 0;
}
