/* RON_HTTP_ADDR: "HOST:PORT" with a numeric IPv4 host, a bracketed IPv6 host or
 * "localhost", parsed into a socket address; no name lookups, ever. */
#ifndef RON_HTTPADDR_H
#define RON_HTTPADDR_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct httpaddr {
	struct sockaddr_storage sa;
	socklen_t len;
	bool loopback; /* 127.0.0.0/8 or ::1 */
};

/* 0, or -1 with why ("no port", "port 70000 out of range (0..65535)", ...). */
int httpaddr_parse(const char *text, struct httpaddr *a, char *why, size_t whylen);
/* "127.0.0.1:9464" or "[::1]:9464". */
void httpaddr_format(const struct httpaddr *a, char *buf, size_t cap);

#endif
