/* The v1.health client against svc-sim in each of its modes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "health.h"
#include "sockpath.h"
#include "testlib.h"

TestSuite(health, .init = tl_setup, .fini = tl_teardown, .timeout = 60);

static bool sock_accepts(void *path)
{
	struct sockaddr_un sa;
	socklen_t len;
	char why[200];
	if (sockpath_addr(&sa, &len, path, why, sizeof(why)))
		return false;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = connect(fd, (struct sockaddr *)&sa, len) == 0;
	close(fd);
	return ok;
}

/* Starts svc-storage in the given mode and waits until its socket accepts.
 * (The sim logs the connect-and-close as a client error; that is expected.) */
static const char *start_sim(const char *mode)
{
	static char envsock[600], envmode[64];
	const char *sock = tl_path("svc-storage.sock");
	snprintf(envsock, sizeof(envsock), "RON_STORAGE_SOCK=%s", sock);
	snprintf(envmode, sizeof(envmode), "SIM_MODE=%s", mode);
	char *argv[] = {TL_BIN("sim/svc-storage"), NULL};
	char *env[] = {envsock, envmode, NULL};
	int out, err; /* the sim logs our readiness connects as client errors */
	tl_spawn(argv, env, &out, &err);
	cr_assert(tl_wait_for(sock_accepts, (void *)sock, 10000), "svc-sim never listened on %s",
		  sock);
	return sock;
}

Test(health, healthy_service_answers_ok)
{
	const char *sock = start_sim("healthy");
	struct health_result r;
	cr_assert(health_check(sock, "svc-storage", 77, 2000, &r), "%s", r.reason);
	cr_assert_str_eq(r.reason, "");
	cr_assert_gt(r.rtt_us, 0);
}

Test(health, sim_answers_storage_vector_byte_exact)
{
	const char *sock = start_sim("healthy");
	const uint8_t req[] = {0x00, 0x00, 0x00, 0x22, 0x95, 0xab, 0x73, 0x76, 0x63, 0x2e,
			       0x73, 0x74, 0x6f, 0x72, 0x61, 0x67, 0x65, 0xa9, 0x76, 0x31,
			       0x2e, 0x68, 0x65, 0x61, 0x6c, 0x74, 0x68, 0x00, 0x90, 0x97,
			       0xcc, 0xa6, 0x48, 0x65, 0x61, 0x6c, 0x74, 0x68};
	const uint8_t want[] = {0x00, 0x00, 0x00, 0x20, 0x95, 0xab, 0x73, 0x76, 0x63,
				0x2e, 0x73, 0x74, 0x6f, 0x72, 0x61, 0x67, 0x65, 0xa5,
				0x76, 0x31, 0x2e, 0x6f, 0x6b, 0x00, 0x90, 0x99, 0xcc,
				0xa8, 0x48, 0x65, 0x61, 0x6c, 0x74, 0x68, 0x4f, 0x6b};
	struct sockaddr_un sa;
	socklen_t len;
	char why[200];
	cr_assert_eq(sockpath_addr(&sa, &len, sock, why, sizeof(why)), 0);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, len), 0, "%s", strerror(errno));
	cr_assert_eq(write(fd, req, sizeof(req)), (ssize_t)sizeof(req));
	uint8_t got[128];
	size_t n = 0;
	for (ssize_t r; (r = read(fd, got + n, sizeof(got) - n)) > 0;)
		n += (size_t)r;
	close(fd);
	cr_assert_eq(n, sizeof(want), "reply of %zu bytes", n);
	cr_assert_arr_eq(got, want, sizeof(want));
}

Test(health, missing_socket_is_enoent)
{
	struct health_result r;
	cr_assert_not(health_check(tl_path("nothing.sock"), "svc-index", 1, 500, &r));
	cr_assert_str_eq(r.reason, "connect: No such file or directory");
}

Test(health, stale_socket_file_is_refused)
{
	const char *path = tl_path("stale.sock");
	struct sockaddr_un sa;
	socklen_t len;
	char why[200];
	cr_assert_eq(sockpath_addr(&sa, &len, path, why, sizeof(why)), 0);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, len), 0);
	close(fd);
	struct health_result r;
	cr_assert_not(health_check(path, "svc-index", 1, 500, &r));
	cr_assert_str_eq(r.reason, "connect: Connection refused");
}

Test(health, path_too_long_fails_before_any_syscall)
{
	char path[300];
	memset(path, 'x', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	struct health_result r;
	cr_assert_not(health_check(path, "svc-index", 1, 500, &r));
	cr_assert(strstr(r.reason, "socket path too long: 299 bytes, max 107"), "%s", r.reason);
}

Test(health, hung_service_times_out_at_the_deadline)
{
	const char *sock = start_sim("hang");
	struct health_result r;
	int64_t t0 = clock_mono_us();
	cr_assert_not(health_check(sock, "svc-storage", 1, 200, &r));
	int64_t took_ms = (clock_mono_us() - t0) / 1000;
	cr_assert_str_eq(r.reason, "timeout after 200 ms waiting for reply");
	cr_assert_geq(took_ms, 199);
	/* generous margin: the machine may be loaded, but it must not be unbounded */
	cr_assert_lt(took_ms, 2000, "took %lld ms", (long long)took_ms);
}

Test(health, unhealthy_answer_names_the_variant)
{
	const char *sock = start_sim("unhealthy");
	struct health_result r;
	cr_assert_not(health_check(sock, "svc-storage", 5, 2000, &r));
	cr_assert_str_eq(r.reason, "payload is Err, not HealthOk");
}

Test(health, garbage_answer_fails_with_a_reason)
{
	const char *sock = start_sim("garbage");
	struct health_result r;
	cr_assert_not(health_check(sock, "svc-storage", 5, 2000, &r));
	cr_assert(strstr(r.reason, "envelope") || strstr(r.reason, "MessagePack") ||
		      strstr(r.reason, "truncated"),
		  "reason: %s", r.reason);
}

Test(health, huge_length_prefix_is_refused_without_allocating)
{
	const char *sock = start_sim("huge");
	struct health_result r;
	cr_assert_not(health_check(sock, "svc-storage", 5, 2000, &r));
	cr_assert(strstr(r.reason, "reply too large: 4294967295 bytes"), "%s", r.reason);
}

Test(health, reply_nested_500000_deep_is_malformed_not_out_of_memory)
{
	const char *sock = start_sim("deep");
	struct health_result r;
	cr_assert_not(health_check(sock, "svc-storage", 5, 5000, &r));
	cr_assert_str_eq(r.reason, "reply nested deeper than 32 levels");
	cr_assert_not(r.local, "a malformed reply taken for our own shortage");
}

Test(health, close_without_reply_is_reported)
{
	const char *sock = start_sim("close");
	struct health_result r;
	cr_assert_not(health_check(sock, "svc-storage", 5, 2000, &r));
	cr_assert(strstr(r.reason, "closed") || strstr(r.reason, "reset"), "%s", r.reason);
}

Test(health, probe_echoes_every_corr_id_width)
{
	const char *sock = start_sim("healthy");
	const uint64_t ids[] = {0, 7, 127, 128, 300, 1ull << 32, UINT64_MAX};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct health_result r;
		cr_assert(health_check(sock, "svc-storage", ids[i], 2000, &r), "corr %zu: %s", i,
			  r.reason);
	}
}
