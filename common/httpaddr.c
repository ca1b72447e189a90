/* RON_HTTP_ADDR parsing: literal addresses only, so that what is checked for
 * loopback is exactly what is bound. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "httpaddr.h"

static int parse_port(const char *p, unsigned *port, char *why, size_t whylen)
{
	if (!*p) {
		snprintf(why, whylen, "no port after ':'");
		return -1;
	}
	unsigned long v = 0;
	for (const char *q = p; *q; q++) {
		if (!isdigit((unsigned char)*q) || q - p >= 6) {
			snprintf(why, whylen, "port %s is not a number in 0..65535", p);
			return -1;
		}
		v = v * 10 + (unsigned long)(*q - '0');
	}
	if (v > 65535) {
		snprintf(why, whylen, "port %lu out of range (0..65535)", v);
		return -1;
	}
	*port = (unsigned)v;
	return 0;
}

int httpaddr_parse(const char *text, struct httpaddr *a, char *why, size_t whylen)
{
	char host[64];
	const char *colon;
	memset(a, 0, sizeof(*a));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':') {
			snprintf(why, whylen, "expected [IPV6]:PORT");
			return -1;
		}
		colon = close + 1;
		if ((size_t)(close - text - 1) >= sizeof(host)) {
			snprintf(why, whylen, "host too long");
			return -1;
		}
		snprintf(host, sizeof(host), "%.*s", (int)(close - text - 1), text + 1);
	} else {
		colon = strrchr(text, ':');
		if (!colon) {
			snprintf(why, whylen, "expected HOST:PORT, such as 127.0.0.1:9464");
			return -1;
		}
		if ((size_t)(colon - text) >= sizeof(host)) {
			snprintf(why, whylen, "host too long");
			return -1;
		}
		snprintf(host, sizeof(host), "%.*s", (int)(colon - text), text);
		if (strchr(host, ':')) {
			snprintf(why, whylen, "an IPv6 host goes in brackets: [%s]:PORT", host);
			return -1;
		}
	}
	unsigned port;
	if (parse_port(colon + 1, &port, why, whylen) < 0)
		return -1;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&a->sa;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a->sa;
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (text[0] != '[' && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		a->len = sizeof(*v4);
		a->loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
		return 0;
	}
	if (text[0] == '[' && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*v6);
		a->loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
		return 0;
	}
	snprintf(why, whylen, "host %s is not a numeric IPv4 address, [IPv6] or localhost",
		 host[0] ? host : "(empty)");
	return -1;
}

void httpaddr_format(const struct httpaddr *a, char *buf, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	if (a->sa.ss_family == AF_INET6) {
		const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&a->sa;
		inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
		snprintf(buf, cap, "[%s]:%u", host, (unsigned)ntohs(v6->sin6_port));
		return;
	}
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)&a->sa;
	inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
	snprintf(buf, cap, "%s:%u", host, (unsigned)ntohs(v4->sin_port));
}
