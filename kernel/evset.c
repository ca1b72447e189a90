/* What keeps the kernel's cost per wake-up independent of the number of services:
 * the per-service pipes in one epoll set (itself one descriptor of the poll set),
 * and the monitors' deadlines in a min-heap.  The heap is lazy: an entry whose
 * service's deadline moved later (every report moves the silence limit) is put
 * back at its true time when it reaches the top, so reports cost nothing here. */
#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "kernel.h"

int kernel_ev_open(struct kernel *k)
{
	k->epfd = epoll_create1(EPOLL_CLOEXEC);
	k->hb_epfd = epoll_create1(EPOLL_CLOEXEC);
	return k->epfd < 0 || k->hb_epfd < 0 ? -1 : 0;
}

/* The heartbeat pipes have a set of their own, never waited on: the status tick asks
 * it which have something, and reads only those. */
static void hb_ctl(struct kernel *k, int op, struct kernel_svc *s)
{
	struct epoll_event e = {.events = EPOLLIN, .data.u64 = (uint64_t)(s - k->svc)};
	if (s->hbfd < 0 || k->hb_epfd < 0)
		return;
	if (epoll_ctl(k->hb_epfd, op, s->hbfd, &e) < 0)
		warn("epoll_ctl %d of the heartbeat pipe of %s", op, s->name);
}

void kernel_hb_watch(struct kernel *k, struct kernel_svc *s)
{
	hb_ctl(k, EPOLL_CTL_ADD, s);
}

void kernel_hb_rewatch(struct kernel *k, struct kernel_svc *s)
{
	hb_ctl(k, EPOLL_CTL_MOD, s);
}

int kernel_hb_ready(struct kernel *k, int *idx, int max)
{
	if (k->hb_epfd < 0)
		return -1;
	struct epoll_event ev[64];
	int n = epoll_wait(k->hb_epfd, ev, max < 64 ? max : 64, 0);
	for (int i = 0; i < n; i++)
		idx[i] = (int)ev[i].data.u64;
	return n;
}

static void ev_ctl(struct kernel *k, int op, int fd, int idx, int kind)
{
	struct epoll_event e = {.events = EPOLLIN, .data.u64 = (uint64_t)idx * 4 + (uint64_t)kind};
	if (fd < 0 || k->epfd < 0)
		return;
	if (epoll_ctl(k->epfd, op, fd, &e) < 0 && !(op == EPOLL_CTL_DEL && errno == ENOENT))
		warn("epoll_ctl %d of %s", op, k->svc[idx].name);
}

void kernel_ev_watch(struct kernel *k, struct kernel_svc *s, int fd, int kind)
{
	ev_ctl(k, EPOLL_CTL_ADD, fd, (int)(s - k->svc), kind);
}

void kernel_ev_rewatch(struct kernel *k, struct kernel_svc *s, int fd, int kind)
{
	ev_ctl(k, EPOLL_CTL_MOD, fd, (int)(s - k->svc), kind);
}

void kernel_ev_unwatch(struct kernel *k, int fd)
{
	if (fd >= 0 && k->epfd >= 0 && epoll_ctl(k->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 &&
	    errno != ENOENT)
		warn("epoll_ctl del %d", fd);
}

/* Earlier deadline first; on the heap's array. */
static void dl_swap(struct kernel *k, int a, int b)
{
	struct kernel_dl t = k->dl[a];
	k->dl[a] = k->dl[b];
	k->dl[b] = t;
}

static void dl_push(struct kernel *k, int64_t t, int idx)
{
	if (k->ndl == k->dl_cap) {
		int cap = k->dl_cap ? k->dl_cap * 2 : 64;
		struct kernel_dl *d = realloc(k->dl, sizeof(*d) * (size_t)cap);
		if (!d)
			err(71, "allocate the deadlines of %d services", k->nsvc);
		k->dl = d;
		k->dl_cap = cap;
	}
	int i = k->ndl++;
	k->dl[i] = (struct kernel_dl){t, idx};
	while (i > 0 && k->dl[(i - 1) / 2].t > k->dl[i].t) {
		dl_swap(k, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void dl_pop(struct kernel *k)
{
	k->dl[0] = k->dl[--k->ndl];
	for (int i = 0;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		if (l < k->ndl && k->dl[l].t < k->dl[m].t)
			m = l;
		if (r < k->ndl && k->dl[r].t < k->dl[m].t)
			m = r;
		if (m == i)
			break;
		dl_swap(k, i, m);
		i = m;
	}
}

void kernel_dl_note(struct kernel *k, struct kernel_svc *s)
{
	int64_t t = kernel_mon_deadline_of(k, s);
	if (t < 0 || (s->dl_queued > 0 && s->dl_queued <= t))
		return;
	s->dl_queued = t;
	dl_push(k, t, (int)(s - k->svc));
}

void kernel_dl_rebuild(struct kernel *k)
{
	k->ndl = 0;
	for (int i = 0; i < k->nsvc; i++)
		k->svc[i].dl_queued = 0;
	for (int i = 0; i < k->nsvc; i++)
		kernel_dl_note(k, &k->svc[i]);
}

/* Drops stale entries and moves postponed ones until the top is a true deadline. */
static void dl_settle(struct kernel *k)
{
	while (k->ndl) {
		struct kernel_dl top = k->dl[0];
		struct kernel_svc *s = &k->svc[top.idx];
		if (top.idx >= k->nsvc || s->dl_queued != top.t) {
			dl_pop(k);
			continue;
		}
		int64_t t = kernel_mon_deadline_of(k, s);
		if (t == top.t)
			return;
		dl_pop(k);
		s->dl_queued = 0;
		kernel_dl_note(k, s);
	}
}

int64_t kernel_dl_next(struct kernel *k)
{
	dl_settle(k);
	return k->ndl ? k->dl[0].t : -1;
}

int kernel_dl_due(struct kernel *k, int64_t now_us)
{
	dl_settle(k);
	if (!k->ndl || k->dl[0].t > now_us)
		return -1;
	int idx = k->dl[0].idx;
	dl_pop(k);
	k->svc[idx].dl_queued = 0;
	return idx;
}
