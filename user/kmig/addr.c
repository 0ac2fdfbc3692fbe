// SPDX-License-Identifier: GPL-2.0
/*
 * Addresses of `kmig migrate --to` and `kmig incoming --listen`: IPv4
 * a.b.c.d:PORT, IPv6 [ADDR]:PORT, and for --to a host name.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "mig.h"

/* Host @host (an IPv6 one when @v6) and port @port into @a. */
static int resolve(const char *cmd, const char *opt, const char *host,
		   const char *port, bool v6, bool names, struct mig_addr *a)
{
	struct addrinfo hints = {
		.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV,
	}, *res;
	struct in_addr in;
	int ret;

	if (v6) {
		hints.ai_family = AF_INET6;
		hints.ai_flags |= AI_NUMERICHOST;
	} else if (!host[strspn(host, "0123456789.")]) {
		/* inet_pton(): no shorthands like 10.1 */
		if (inet_pton(AF_INET, host, &in) != 1)
			return mig_usage_error(cmd, "%s '%s' is not an IPv4 address (want a.b.c.d)",
					       opt, host);
		hints.ai_family = AF_INET;
		hints.ai_flags |= AI_NUMERICHOST;
	} else if (!names) {
		return mig_usage_error(cmd, "%s '%s' is not an IP address: give a.b.c.d:PORT or [IPv6]:PORT",
				       opt, host);
	}
	ret = getaddrinfo(host, port, &hints, &res);
	if (ret && v6)
		return mig_usage_error(cmd, "%s '%s' is not an IPv6 address",
				       opt, host);
	if (ret)
		return mig_usage_error(cmd, "%s: cannot resolve '%s': %s", opt,
				       host, gai_strerror(ret));
	memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int mig_parse_addr(const char *cmd, const char *opt, const char *s,
		   bool names, struct mig_addr *a)
{
	const char *colon = strrchr(s, ':'), *host = s;
	bool v6 = s[0] == '[';
	size_t hlen = colon ? (size_t)(colon - s) : 0;
	char buf[256];
	uint64_t port;

	memset(a, 0, sizeof(*a));
	if (!colon && !names && *s && !s[strspn(s, "0123456789")])
		return mig_usage_error(cmd, "%s %s has no address: give the one to listen on, e.g. 192.0.2.1:%s or [2001:db8::1]:%s (every address: 0.0.0.0:%s or [::]:%s)",
				       opt, s, s, s, s, s);
	if (!hlen || (v6 && (hlen < 2 || colon[-1] != ']')))
		return mig_usage_error(cmd, "%s '%s' is not ADDR:PORT (a.b.c.d:PORT or [IPv6]:PORT)",
				       opt, s);
	if (v6) {
		host++;
		hlen -= 2;
	} else if (memchr(s, ':', hlen)) {
		return mig_usage_error(cmd, "%s '%s': put an IPv6 address in brackets: [%.*s]%s",
				       opt, s, (int)hlen, s, colon);
	}
	if (hlen >= sizeof(buf))
		return mig_usage_error(cmd, "%s '%s' is too long", opt, s);
	memcpy(buf, host, hlen);
	buf[hlen] = 0;
	if (mig_parse_u64(cmd, "port", colon + 1, 1, 65535, &port))
		return -EINVAL;
	return resolve(cmd, opt, buf, colon + 1, v6, names, a);
}

const char *mig_addr_str(const struct sockaddr_storage *ss,
			 char buf[MIG_ADDR_STRLEN])
{
	char host[MIG_ADDR_STRLEN - 8], port[8];
	socklen_t len = ss->ss_family == AF_INET6 ?
			sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

	if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof(host),
			port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV))
		snprintf(buf, MIG_ADDR_STRLEN, "(an address of family %u)",
			 ss->ss_family);
	else
		snprintf(buf, MIG_ADDR_STRLEN, ss->ss_family == AF_INET6 ?
			 "[%s]:%s" : "%s:%s", host, port);
	return buf;
}
