/* SPDX-License-Identifier: ISC */
/*
 * A stand-in application for the integration tests and the README demo:
 * a poll-driven HTTP/1.0-style server on 127.0.0.1 whose /healthz answers
 * according to the mode:
 *   ok        200 "ok"
 *   hang      reads the request, never answers
 *   fail      500 "fail"
 *   stall     sends the status line and headers (Content-Length: 3), then
 *             nothing: a hang in the middle of a response
 *   slow      answers 200, but one request at a time, each taking
 *             --slow-ms (default 300 ms): alone it is just slow, under a
 *             load of N concurrent requests the last waits N * slow-ms
 *   noaccept  stops accepting: connections complete in the kernel's
 *             backlog and are never answered
 * The mode is switched with SIGUSR1 (toggle hang), SIGUSR2 (toggle fail),
 * GET /control/<mode>, or a file named after a mode in --control-dir (the
 * first present, in the order above, wins over the rest).
 * GET /control/fork/keep and /control/fork/rewrite make the process
 * "daemonize" away from its pid: it forks, the child carries on serving
 * (rewriting --pidfile with its own pid for "rewrite", leaving the file as
 * it is for "keep") and the parent exits without touching the pidfile.
 * GET /big?n=N returns N bytes.
 * Plain C with no project dependencies; SIGTERM/SIGINT exit cleanly.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define REQ_MAX 4096

enum mode { M_OK, M_HANG, M_FAIL, M_STALL, M_SLOW, M_NOACCEPT, M_MAX };

static const char *const mode_names[M_MAX] = {[M_OK] = "ok",
    [M_HANG] = "hang",
    [M_FAIL] = "fail",
    [M_STALL] = "stall",
    [M_SLOW] = "slow",
    [M_NOACCEPT] = "noaccept"};

struct conn {
	int fd;
	char req[REQ_MAX];
	size_t req_len;
	char *out;
	size_t out_len, out_off;
	int hung; /* waiting forever: only watch for the peer closing */
	int slow; /* queued for a slow answer */
	long long slow_seq;
};

static volatile sig_atomic_t got_term;
static struct conn conns[MAX_CONNS];
static size_t nconns;
/* Signals are only delivered inside ppoll(), so the handler may switch it. */
static volatile sig_atomic_t mode = M_OK;
static const char *control_dir;
static const char *pidfile;
static long slow_ms = 300;
/* Slow mode: one answer at a time; the next is due at slow_due (ms). */
static long long slow_next_seq, slow_serving = -1, slow_due;

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		mode = mode == M_HANG ? M_OK : M_HANG;
	else if (sig == SIGUSR2)
		mode = mode == M_FAIL ? M_OK : M_FAIL;
	else
		got_term = 1;
}

static enum mode
effective_mode(void)
{
	char p[4096];
	struct stat st;

	for (int m = M_HANG; control_dir != NULL && m < M_MAX; m++) {
		snprintf(p, sizeof(p), "%s/%s", control_dir, mode_names[m]);
		if (stat(p, &st) == 0)
			return (enum mode)m;
	}
	return mode;
}

static void
respond(struct conn *c, int status, const char *body, size_t len)
{
	char head[256];
	int hl = snprintf(head, sizeof(head),
	    "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n",
	    status, status == 200 ? "OK" : "Not OK", len);

	c->out = malloc((size_t)hl + len);
	if (c->out == NULL)
		exit(1);
	memcpy(c->out, head, (size_t)hl);
	memcpy(c->out + hl, body, len);
	c->out_len = (size_t)hl + len;
	c->out_off = 0;
}

/* Fork away from our pid: the child carries on, the parent exits once the
 * child has (or has not) rewritten the pidfile. */
static void
daemonize(int rewrite)
{
	int p[2];
	pid_t pid;
	char x;

	if (pipe(p) < 0 || (pid = fork()) < 0) {
		perror("fakeapp: fork");
		return;
	}
	if (pid > 0) {
		close(p[1]);
		while (read(p[0], &x, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[0]);
	setsid();
	if (rewrite && pidfile != NULL) {
		char tmp[4200];
		FILE *f;

		snprintf(tmp, sizeof(tmp), "%s.tmp", pidfile);
		f = fopen(tmp, "w");
		if (f != NULL) {
			fprintf(f, "%ld\n", (long)getpid());
			fclose(f);
			rename(tmp, pidfile);
		}
	}
	close(p[1]); /* the parent may go */
	/* Wait until the parent is gone, so that "the pid went away" is
	 * settled when the control request is answered. */
	while (getppid() == pid)
		usleep(1000);
}

static void
handle(struct conn *c)
{
	char method[16], path[1024];
	char *big;
	long n;

	if (sscanf(c->req, "%15s %1023s", method, path) != 2) {
		respond(c, 400, "bad request\n", 12);
		return;
	}
	if (strcmp(path, "/healthz") == 0) {
		switch (effective_mode()) {
		case M_HANG:
			c->hung = 1;
			return;
		case M_FAIL:
			respond(c, 500, "fail\n", 5);
			return;
		case M_STALL:
			respond(c, 200, "", 0);
			/* The head promises 3 bytes that never come. */
			memcpy(strstr(c->out, "Content-Length: 0"),
			    "Content-Length: 3", 17);
			c->hung = 2; /* after the head is out */
			return;
		case M_SLOW:
			c->slow = 1;
			c->slow_seq = slow_next_seq++;
			return;
		case M_NOACCEPT: /* accepted before the switch: as ok */
		case M_OK:
		case M_MAX:
			respond(c, 200, "ok\n", 3);
			return;
		}
	} else if (strncmp(path, "/control/", 9) == 0) {
		if (strcmp(path + 9, "fork/keep") == 0 ||
		    strcmp(path + 9, "fork/rewrite") == 0) {
			daemonize(path[14] == 'r');
			respond(c, 200, "done\n", 5);
			return;
		}
		for (int m = M_OK; m < M_MAX; m++)
			if (strcmp(path + 9, mode_names[m]) == 0) {
				mode = m;
				respond(c, 200, "done\n", 5);
				return;
			}
		if (strcmp(path + 9, "mode") == 0) {
			const char *s = mode_names[effective_mode()];

			respond(c, 200, s, strlen(s));
			return;
		}
	} else if (strcmp(path, "/echo") == 0) {
		respond(c, 200, c->req, c->req_len); /* head and body */
		return;
	} else if (strncmp(path, "/big?n=", 7) == 0) {
		n = strtol(path + 7, NULL, 10);
		if (n >= 0 && n <= 64L * 1024 * 1024) {
			big = malloc((size_t)n + 1);
			if (big == NULL)
				exit(1);
			memset(big, 'x', (size_t)n);
			respond(c, 200, big, (size_t)n);
			free(big);
			return;
		}
	}
	respond(c, 404, "not found\n", 10);
}

static void
drop(size_t i)
{
	close(conns[i].fd);
	free(conns[i].out);
	conns[i] = conns[--nconns];
}

/* Returns 0 to keep the connection, -1 to drop it. */
static int
service(struct conn *c, short rev)
{
	char *end, *cl;
	ssize_t n;

	if (c->out != NULL) {
		n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->out_off += (size_t)n;
		if (c->out_off == c->out_len && c->hung == 2) {
			free(c->out); /* stalled: keep the connection open */
			c->out = NULL;
			c->hung = 1;
			return 0;
		}
		return c->out_off == c->out_len ? -1 : 0;
	}
	if (!(rev & (POLLIN | POLLHUP | POLLERR)))
		return 0;
	if (c->hung || c->slow) {
		char junk[512];

		n = read(c->fd, junk, sizeof(junk));
		return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)
		    ? -1
		    : 0;
	}
	n = read(c->fd, c->req + c->req_len, sizeof(c->req) - 1 - c->req_len);
	if (n <= 0)
		return n < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	c->req_len += (size_t)n;
	c->req[c->req_len] = '\0';
	if ((end = strstr(c->req, "\r\n\r\n")) != NULL) {
		cl = strcasestr(c->req, "\nContent-Length:");
		if (c->req_len >= (size_t)(end + 4 - c->req) +
		        (cl != NULL && cl < end ? strtoul(cl + 16, NULL, 10)
		                                : 0))
			handle(c);
	}
	if (c->out == NULL && !c->hung && c->req_len == sizeof(c->req) - 1)
		respond(c, 400, "too long\n", 9);
	return 0;
}

int
main(int argc, char **argv)
{
	static struct pollfd pfd[MAX_CONNS + 1];
	static const int sigs[] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2};
	struct sockaddr_in sin;
	struct sigaction sa;
	sigset_t block, empty;
	long port = 0;
	int lfd, one = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			port = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--pidfile") == 0 && i + 1 < argc)
			pidfile = argv[++i];
		else if (strcmp(argv[i], "--control-dir") == 0 && i + 1 < argc)
			control_dir = argv[++i];
		else if (strcmp(argv[i], "--slow-ms") == 0 && i + 1 < argc)
			slow_ms = strtol(argv[++i], NULL, 10);
		else {
			fprintf(stderr,
			    "usage: fakeapp --port N [--pidfile F] "
			    "[--control-dir D] [--slow-ms MS]\n");
			return 2;
		}
	}
	if (port < 1 || port > 65535) {
		fprintf(stderr, "fakeapp: --port must be 1-65535\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&block, sigs[i]);
	}
	signal(SIGPIPE, SIG_IGN);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigemptyset(&empty);

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(lfd, 512) < 0) {
		fprintf(stderr, "fakeapp: port %ld: %s\n", port,
		    strerror(errno));
		return 1;
	}
	if (pidfile != NULL) {
		FILE *f = fopen(pidfile, "w");

		if (f == NULL || fprintf(f, "%ld\n", (long)getpid()) < 0 ||
		    fclose(f) != 0) {
			fprintf(stderr, "fakeapp: %s: %s\n", pidfile,
			    strerror(errno));
			return 1;
		}
	}
	while (!got_term) {
		size_t n = nconns;
		long long now = now_ms();
		struct timespec tmo, *tp = NULL;

		/* Slow mode: answer the oldest waiting request when due. */
		if (slow_serving >= 0 && now >= slow_due) {
			for (size_t i = 0; i < nconns; i++)
				if (conns[i].slow &&
				    conns[i].slow_seq == slow_serving) {
					conns[i].slow = 0;
					respond(&conns[i], 200, "ok\n", 3);
				}
			slow_serving = -1;
		}
		if (slow_serving < 0)
			for (size_t i = 0; i < nconns; i++)
				if (conns[i].slow &&
				    (slow_serving < 0 ||
				        conns[i].slow_seq < slow_serving)) {
					slow_serving = conns[i].slow_seq;
					slow_due = now + slow_ms;
				}
		if (slow_serving >= 0) {
			long long d = slow_due > now ? slow_due - now : 0;

			tmo.tv_sec = (time_t)(d / 1000);
			tmo.tv_nsec = (long)(d % 1000) * 1000000L;
			tp = &tmo;
		}
		pfd[0].fd = lfd;
		pfd[0].events =
		    nconns < MAX_CONNS && effective_mode() != M_NOACCEPT
		    ? POLLIN
		    : 0;
		if ((pfd[0].events == 0 || control_dir != NULL) && tp == NULL) {
			/* Re-read the mode (files, noaccept) now and then. */
			tmo.tv_sec = 0;
			tmo.tv_nsec = 100000000L;
			tp = &tmo;
		}
		for (size_t i = 0; i < n; i++) {
			pfd[i + 1].fd = conns[i].fd;
			pfd[i + 1].events =
			    conns[i].out != NULL ? POLLOUT : POLLIN;
		}
		if (ppoll(pfd, n + 1, tp, &empty) < 0 && errno != EINTR)
			return 1;
		/* Walk backwards: drop() moves the last entry into slot i. */
		for (size_t i = n; i-- > 0;)
			if (pfd[i + 1].revents != 0 &&
			    service(&conns[i], pfd[i + 1].revents) < 0)
				drop(i);
		while (pfd[0].revents & POLLIN && nconns < MAX_CONNS) {
			int fd = accept4(lfd, NULL, NULL,
			    SOCK_NONBLOCK | SOCK_CLOEXEC);

			if (fd < 0)
				break;
			memset(&conns[nconns], 0, sizeof(conns[nconns]));
			conns[nconns++].fd = fd;
		}
	}
	while (nconns > 0)
		drop(nconns - 1);
	close(lfd);
	if (pidfile != NULL)
		unlink(pidfile);
	return 0;
}
