/* SPDX-License-Identifier: ISC */
/*
 * Time, address parsing and small string helpers.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

mono_ms
util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (mono_ms)ts.tv_sec * 1000 + (mono_ms)(ts.tv_nsec / 1000000);
}

uint64_t
util_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)(ts.tv_nsec / 1000);
}

int64_t
util_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

mono_ms
util_sec_to_ms(double s)
{
	if (!(s > 0))
		return 0;
	if (s > 1e12)
		s = 1e12;
	return (mono_ms)llround(s * 1000.0);
}

size_t
util_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

int
util_parse_hostport(const char *s, bool numeric, struct sockaddr_storage *ss,
    socklen_t *len, char *err, size_t errlen)
{
	char host[256];
	const char *port, *h;
	size_t hl;
	char *end;
	long p;
	struct addrinfo hints, *res = NULL;
	int rc;

	if (s == NULL || *s == '\0') {
		snprintf(err, errlen, "empty address");
		return -1;
	}
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':') {
			snprintf(err, errlen,
			    "bad address \"%s\": expected [v6]:port", s);
			return -1;
		}
		h = s + 1;
		hl = (size_t)(rb - h);
		port = rb + 2;
	} else {
		const char *colon = strrchr(s, ':');

		if (colon == NULL) {
			snprintf(err, errlen,
			    "bad address \"%s\": expected host:port", s);
			return -1;
		}
		if (strchr(s, ':') != colon) {
			snprintf(err, errlen,
			    "bad address \"%s\": write IPv6 as [addr]:port", s);
			return -1;
		}
		h = s;
		hl = (size_t)(colon - s);
		port = colon + 1;
	}
	if (hl == 0 || hl >= sizeof(host)) {
		snprintf(err, errlen, "bad address \"%s\": bad host", s);
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	errno = 0;
	p = strtol(port, &end, 10);
	if (*port == '\0' || *end != '\0' || errno != 0 || p < 1 || p > 65535) {
		snprintf(err, errlen,
		    "bad address \"%s\": port must be 1-65535", s);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (numeric ? AI_NUMERICHOST : 0);
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0 || res == NULL) {
		snprintf(err, errlen, "bad address \"%s\": %s", s,
		    numeric && rc == EAI_NONAME ? "not a numeric IP address"
		                                : gai_strerror(rc));
		if (res != NULL)
			freeaddrinfo(res);
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

void
util_format_addr(const struct sockaddr *sa, char *buf, size_t len)
{
	char h[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, h, sizeof(h));
		snprintf(buf, len, "%s:%u", h, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, h, sizeof(h));
		snprintf(buf, len, "[%s]:%u", h, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, len, "(family %d)", sa->sa_family);
	}
}

mono_ms
util_backoff(mono_ms min, mono_ms max, unsigned attempt)
{
	mono_ms base = min > 0 ? min : 1;

	for (unsigned i = 1; i < attempt && base < max; i++)
		base *= 2;
	if (base > max)
		base = max;
	return base - (mono_ms)random() % (base / 5 + 1);
}

int
util_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	fl = fcntl(fd, F_GETFD);
	if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return -1;
	return 0;
}
