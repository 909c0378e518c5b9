/* SPDX-License-Identifier: ISC */
/*
 * The tcp check: a non-blocking connect to "host:port"; the run passes as
 * soon as the handshake completes and the socket is closed at once.
 * Numeric addresses are parsed once. Host names are resolved with a
 * blocking getaddrinfo at init (config time) and again at the start of a
 * run when the last resolution is older than 10 minutes, or older than a
 * minute and the previous run failed; that lookup can block the loop
 * briefly, which is the price of not running a resolver thread. A name
 * with several addresses (localhost: ::1 and 127.0.0.1) passes if any of
 * them accepts, tried in getaddrinfo's order within the one run.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "check_tcp.h"
#include "ev.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

#define RESOLVE_RETRY_MS (60 * 1000)
#define RESOLVE_REFRESH_MS (10 * 60 * 1000)
#define MAX_ADDRS 8

struct tcp_priv {
	struct check *c;
	bool numeric;
	bool resolved;
	bool last_failed;
	mono_ms resolved_at; /* last resolution attempt, 0 = never */
	char resolve_err[HEALTH_DETAIL_MAX];
	struct sockaddr_storage ss[MAX_ADDRS];
	socklen_t sslen[MAX_ADDRS];
	size_t naddr;
	size_t cur; /* the address being tried */
	int fd;
	struct ev_io *io;
	struct timespec t0;
};

static double
ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1000.0 +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static void
resolve(struct tcp_priv *p, const char *addr)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[256];
	const char *colon = strrchr(addr, ':');
	size_t n = 0;
	int rc;

	p->resolved_at = util_now_ms();
	/* conf.c checked the syntax; names cannot contain ':'. */
	if (colon == NULL || (size_t)(colon - addr) >= sizeof(host)) {
		snprintf(p->resolve_err, sizeof(p->resolve_err),
		    "bad address \"%.100s\"", addr);
		return;
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, colon + 1, &hints, &res);
	if (rc != 0) {
		snprintf(p->resolve_err, sizeof(p->resolve_err),
		    "cannot resolve %.100s: %s", host,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		if (p->resolved)
			log_warn("check %s: %s; keeping the old addresses",
			    check_name(p->c), p->resolve_err);
		return;
	}
	for (ai = res; ai != NULL && n < MAX_ADDRS; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(p->ss[0]))
			continue;
		memset(&p->ss[n], 0, sizeof(p->ss[n]));
		memcpy(&p->ss[n], ai->ai_addr, ai->ai_addrlen);
		p->sslen[n++] = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	if (n == 0) {
		snprintf(p->resolve_err, sizeof(p->resolve_err),
		    "cannot resolve %.100s: no usable address", host);
		return;
	}
	p->naddr = n;
	p->resolved = true;
}

static int
tcp_init(struct check *c)
{
	struct tcp_priv *p = xcalloc(1, sizeof(*p));
	const char *addr = check_conf(c)->address;
	char err[128];

	p->c = c;
	p->fd = -1;
	if (addr == NULL) {
		log_err("check %s: no address", check_name(c));
		free(p);
		return -1;
	}
	if (util_parse_hostport(addr, true, &p->ss[0], &p->sslen[0], err,
	        sizeof(err)) == 0) {
		p->numeric = true;
		p->resolved = true;
		p->naddr = 1;
	} else {
		resolve(p, addr);
		if (!p->resolved)
			log_warn("check %s: %s; will retry", check_name(c),
			    p->resolve_err);
	}
	check_set_priv(c, p);
	return 0;
}

static void
finish(struct tcp_priv *p)
{
	ev_io_del(p->io);
	p->io = NULL;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

static void
report(struct tcp_priv *p, int err)
{
	struct check *c = p->c;

	p->last_failed = err != 0;
	if (err == 0)
		check_done(c, true, HEALTH_R_OK, "connected in %.1f ms",
		    ms_since(&p->t0));
	else if (err == ECONNREFUSED)
		check_done(c, false, HEALTH_R_REFUSED, "connection refused");
	else if (err == ETIMEDOUT)
		check_done(c, false, HEALTH_R_TIMEOUT, "connect: %s",
		    strerror(err));
	else
		check_done(c, false, HEALTH_R_CONNECT, "connect: %s",
		    strerror(err));
}

static void try_connect(struct tcp_priv *p);

static void
tcp_io(int fd, unsigned events, void *arg)
{
	struct tcp_priv *p = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	else if (err == 0 && (events & EV_ERROR))
		err = ECONNRESET;
	finish(p);
	if (err != 0 && p->cur + 1 < p->naddr) {
		p->cur++;
		try_connect(p);
		return;
	}
	report(p, err);
}

/* Connect to p->cur, moving on to the next address on an immediate
 * failure; ends with a report or a watched connect in progress. */
static void
try_connect(struct tcp_priv *p)
{
	int err = 0;

	for (; p->cur < p->naddr; p->cur++) {
		struct sockaddr *sa = (struct sockaddr *)&p->ss[p->cur];

		p->fd = socket(sa->sa_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (p->fd < 0) {
			p->last_failed = true;
			check_done(p->c, false, HEALTH_R_ERROR, "socket: %s",
			    strerror(errno));
			return;
		}
		if (connect(p->fd, sa, p->sslen[p->cur]) == 0) {
			finish(p);
			report(p, 0);
			return;
		}
		err = errno;
		if (err == EINPROGRESS) {
			p->io = ev_io_add(check_env(p->c)->ev, p->fd, EV_WRITE,
			    tcp_io, p);
			if (p->io != NULL)
				return;
			finish(p);
			p->last_failed = true;
			check_done(p->c, false, HEALTH_R_ERROR,
			    "cannot watch socket");
			return;
		}
		finish(p);
	}
	report(p, err);
}

static void
tcp_start(struct check *c)
{
	struct tcp_priv *p = check_priv(c);
	mono_ms now = util_now_ms();

	if (!p->numeric &&
	    (p->resolved_at == 0 ||
	        now - p->resolved_at >= RESOLVE_REFRESH_MS ||
	        ((!p->resolved || p->last_failed) &&
	            now - p->resolved_at >= RESOLVE_RETRY_MS)))
		resolve(p, check_conf(c)->address);
	if (!p->resolved) {
		p->last_failed = true;
		check_done(c, false, HEALTH_R_CONNECT, "%s", p->resolve_err);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
	p->cur = 0;
	try_connect(p);
}

static void
tcp_cancel(struct check *c)
{
	struct tcp_priv *p = check_priv(c);

	finish(p);
	p->last_failed = true;
}

static void
tcp_fini(struct check *c)
{
	struct tcp_priv *p = check_priv(c);

	if (p == NULL)
		return;
	finish(p);
	free(p);
	check_set_priv(c, NULL);
}

const struct check_ops check_tcp_ops = {
    .init = tcp_init,
    .start = tcp_start,
    .cancel = tcp_cancel,
    .fini = tcp_fini,
};
