/* The kernel's standard output as a bounded queue: lines wait here and go out
 * only as fast as the reader takes them, so a stalled reader (a full pipe, a
 * paused terminal, a busy journald) never stalls supervision.  Lines that do
 * not fit are dropped and counted, and one line says so once output drains. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "kernel.h"

int kernel_outq_init(struct kernel_outq *q, size_t cap)
{
	memset(q, 0, sizeof(*q));
	q->fd = -1;
	q->buf = malloc(cap);
	if (!q->buf)
		return -1;
	q->cap = cap;
	return 0;
}

void kernel_outq_free(struct kernel_outq *q)
{
	free(q->buf);
	q->buf = NULL;
	if (q->own_fd && q->fd >= 0)
		close(q->fd);
	q->fd = -1;
}

bool kernel_outq_push(struct kernel_outq *q, enum kernel_out_kind kind, const char *line,
		      size_t len)
{
	/* Once dropping, keep dropping until half the queue is free again: one
	 * notice per stall, not one per line that squeezes in. */
	bool room = q->dropping ? q->len + len <= q->cap / 2 : q->len + len <= q->cap;
	if (!room || q->broken) {
		if (!q->dropping && !q->broken)
			q->drop_since_ms = clock_wall_ms();
		q->dropping = !q->broken;
		q->dropped[kind]++;
		q->dropped_total++;
		return false;
	}
	size_t tail = (q->head + q->len) % q->cap;
	size_t first = len < q->cap - tail ? len : q->cap - tail;
	memcpy(q->buf + tail, line, first);
	memcpy(q->buf, line + first, len - first);
	q->len += len;
	return true;
}

size_t kernel_outq_peek(const struct kernel_outq *q, char *chunk, size_t max)
{
	size_t n = q->len < max ? q->len : max;
	size_t first = n < q->cap - q->head ? n : q->cap - q->head;
	memcpy(chunk, q->buf + q->head, first);
	memcpy(chunk + first, q->buf, n - first);
	/* Whole lines only, unless one line fills the chunk. */
	if (n < q->len) {
		char *nl = memrchr(chunk, '\n', n);
		if (nl)
			n = (size_t)(nl - chunk) + 1;
	}
	return n;
}

void kernel_outq_consume(struct kernel_outq *q, size_t n)
{
	if (n > q->len)
		n = q->len;
	q->head = (q->head + n) % q->cap;
	q->len -= n;
	if (q->len == 0)
		q->head = 0;
}

bool kernel_outq_drops_pending(const struct kernel_outq *q)
{
	return q->dropping && q->len <= q->cap / 2;
}

void kernel_outq_drops_taken(struct kernel_outq *q)
{
	q->dropping = false;
	for (int i = 0; i < KOUT__COUNT; i++)
		q->dropped[i] = 0;
	q->drop_since_ms = 0;
}

int kernel_outq_open(struct kernel_outq *q, int fd)
{
	struct stat st;
	q->fd = fd;
	q->how = KOUT_WRITE;
	if (fstat(fd, &st) < 0) {
		q->broken = true;
		return -1;
	}
	if (S_ISSOCK(st.st_mode)) {
		/* journald's stream: MSG_DONTWAIT makes one send non-blocking without
		 * touching the description our children share. */
		q->how = KOUT_SEND;
		return 0;
	}
	if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
		return 0; /* a regular file never makes us wait for a reader */
	/* A description of our own: O_NONBLOCK on the inherited one would change it for
	 * every process that shares it (a shell, the services on a terminal). */
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int own = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (own >= 0) {
		q->fd = own;
		q->own_fd = true;
		q->how = KOUT_NONBLOCK;
		return 0;
	}
	/* Without one, a write of at most PIPE_BUF after POLLOUT does not block on a
	 * pipe that only we write to. */
	q->how = KOUT_CHUNKED;
	return 0;
}

int kernel_outq_write(struct kernel_outq *q, bool writable, int *err)
{
	char chunk[PIPE_BUF];
	int wrote = 0;
	*err = 0;
	if (q->how == KOUT_CHUNKED && !writable)
		return 0;
	while (q->len > 0 && !q->broken) {
		size_t n = kernel_outq_peek(q, chunk, sizeof(chunk));
		ssize_t w = q->how == KOUT_SEND ? send(q->fd, chunk, n, MSG_DONTWAIT | MSG_NOSIGNAL)
						: write(q->fd, chunk, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w < 0) {
			/* The reader is gone for good (EPIPE, a hung-up terminal). */
			*err = errno;
			q->broken = true;
			/* What waited is lost with it: counted, as every later line is. */
			for (size_t i = 0; i < q->len; i++)
				q->dropped_total += q->buf[(q->head + i) % q->cap] == '\n';
			q->len = 0;
			q->head = 0;
			break;
		}
		kernel_outq_consume(q, (size_t)w);
		wrote++;
		if (q->how == KOUT_CHUNKED)
			break; /* one chunk per POLLOUT */
	}
	return wrote;
}

bool kernel_outq_wants_poll(const struct kernel_outq *q)
{
	return q->len > 0 && !q->broken && q->fd >= 0;
}

bool kernel_outq_drain(struct kernel_outq *q, void (*flush)(void *ctx, bool writable), void *ctx,
		       int stall_ms)
{
	bool writable = false;
	for (;;) {
		flush(ctx, writable);
		if (!kernel_outq_wants_poll(q))
			return true;
		struct pollfd p = {q->fd, POLLOUT, 0};
		int rc = poll(&p, 1, stall_ms);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return false;
		writable = true;
	}
}
