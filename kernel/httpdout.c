/* ron-httpd's own stdout and stderr: a pipe the kernel reads, each line relayed as an
 * httpd_output event, escaped and within the output budget, so that a compromised
 * ron-httpd cannot write into the supervisor's log as the supervisor.  One pipe for
 * the kernel's life, inherited by every ron-httpd it starts. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "kernel.h"
#include "observe.h"
#include "text.h"

/* Not a service index: how the epoll set names this pipe. */
#define HTTPD_OUT_EV UINT64_MAX

int kernel_httpd_out_fd(struct kernel *k)
{
	struct kernel_obs *o = k->obs;
	if (o->outfd[0] < 0) {
		if (pipe2(o->outfd, O_CLOEXEC) < 0)
			return -1;
		/* Only our end is non-blocking: the loop must never wait on it. */
		if (fcntl(o->outfd[0], F_SETFL, O_NONBLOCK) < 0)
			warn("O_NONBLOCK on ron-httpd's output pipe");
		svcline_init(&o->outline);
		kernel_httpd_out_watch(k);
	}
	return o->outfd[1];
}

void kernel_httpd_out_watch(struct kernel *k)
{
	struct kernel_obs *o = k->obs;
	struct epoll_event e = {.events = EPOLLIN, .data.u64 = HTTPD_OUT_EV};
	if (!o || o->outfd[0] < 0 || k->epfd < 0)
		return;
	if (epoll_ctl(k->epfd, EPOLL_CTL_ADD, o->outfd[0], &e) < 0 && errno != EEXIST)
		warn("epoll_ctl add ron-httpd's output pipe");
}

bool kernel_httpd_out_is(uint64_t ev)
{
	return ev == HTTPD_OUT_EV;
}

struct relay {
	struct kernel *k;
	int64_t now_us;
};

static void relay_line(void *arg, const char *line, size_t len, unsigned part, bool more)
{
	struct relay *r = arg;
	struct kernel_obs *o = r->k->obs;
	if (!svc_rate_take(&o->outrate, config_num(&r->k->cfg, CFG_OUTPUT_RATE),
			   config_num(&r->k->cfg, CFG_OUTPUT_BURST), r->now_us)) {
		o->outheld++;
		return;
	}
	static char safe[1024 * 4 + 1];
	size_t n = text_escape(line, len < 1024 ? len : 1024, safe, 0);
	safe[n] = '\0';
	struct kernel_field f[4];
	int nf = 0;
	f[nf++] = KF_NUM("pid", o->hpid);
	f[nf++] = KF_STR("line", safe);
	if (len > 1024 || more || part)
		f[nf++] = KF_STR("cut", "yes");
	if (o->outheld)
		f[nf++] = KF_NUM("held_back", (long long)o->outheld);
	o->outheld = 0;
	kernel_emit(r->k, KL_INFO, "httpd_output", f, nf);
}

void kernel_httpd_out_ready(struct kernel *k, int64_t now_us)
{
	struct kernel_obs *o = k->obs;
	struct relay r = {k, now_us};
	char buf[16384];
	/* A bounded turn: what is left is read on the next. */
	for (int i = 0; i < 16; i++) {
		ssize_t n = read(o->outfd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		svcline_feed(&o->outline, buf, (size_t)n, relay_line, &r);
	}
}
