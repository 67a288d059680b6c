#include "server/listen_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int listen_addr_port(const char *s, unsigned *port)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	unsigned long v = strtoul(s, &end, 10);
	if (*end || v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

static void listen_addr_format(struct listen_addr *a)
{
	char host[INET6_ADDRSTRLEN];
	if (a->addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->addr;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
		snprintf(a->text, sizeof a->text, "[%s]:%u", host, ntohs(in6->sin6_port));
		a->loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	} else {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)&a->addr;
		inet_ntop(AF_INET, &in4->sin_addr, host, sizeof host);
		snprintf(a->text, sizeof a->text, "%s:%u", host, ntohs(in4->sin_port));
		a->loopback = (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
	}
}

int listen_addr_parse(const char *spec, struct listen_addr *out, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(spec, ':');
	unsigned port;

	memset(out, 0, sizeof *out);
	if (!colon || (size_t)(colon - spec) >= sizeof host || listen_addr_port(colon + 1, &port) < 0) {
		snprintf(err, errlen, "expected HOST:PORT, e.g. 127.0.0.1:7878 or [::1]:0");
		return -1;
	}
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	struct sockaddr_in *in4 = (struct sockaddr_in *)&out->addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->addr;
	size_t hl = strlen(host);
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1)
			goto bad_host;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		out->len = sizeof *in6;
	} else {
		if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
			goto bad_host;
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		out->len = sizeof *in4;
	}
	listen_addr_format(out);
	return 0;
bad_host:
	snprintf(err, errlen, "'%s' is not a numeric IPv4 address or a [bracketed] IPv6 one",
	         host);
	return -1;
}

int listen_addr_bound(int fd, struct listen_addr *out)
{
	out->len = sizeof out->addr;
	if (getsockname(fd, (struct sockaddr *)&out->addr, &out->len) < 0)
		return -1;
	listen_addr_format(out);
	return 0;
}
