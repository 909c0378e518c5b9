/* SPDX-License-Identifier: ISC */
/*
 * The control socket, both ends. The daemon side accepts a few clients at
 * a time, reads one command line with a deadline, and writes the handler's
 * reply without blocking. The client side (used by the CLI, which may
 * block) sends a command and reads until the daemon closes.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"
#include "xmalloc.h"

#define CTL_MAX_CLIENTS 16
#define CTL_CLIENT_TIMEOUT 5000

struct ctl_client {
	struct ctl *ctl;
	int fd;
	struct ev_io *io;
	struct ev_timer *timer;
	char cmd[CTL_MAX_COMMAND];
	size_t cmd_len;
	char *reply;
	size_t reply_len, reply_off;
	struct ctl_client *next;
};

struct ctl {
	struct ev *ev;
	char *path;
	int fd;
	struct ev_io *io;
	ctl_handler handler;
	void *arg;
	struct ctl_client *clients;
	int n_clients;
};

static int
make_sockaddr(const char *path, struct sockaddr_un *sun, char *err,
    size_t errlen)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		snprintf(err, errlen, "%s: socket path too long", path);
		return -1;
	}
	memcpy(sun->sun_path, path, strlen(path));
	return 0;
}

static void
client_free(struct ctl_client *cl)
{
	struct ctl_client **pp;

	for (pp = &cl->ctl->clients; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	}
	cl->ctl->n_clients--;
	ev_io_del(cl->io);
	ev_timer_free(cl->timer);
	close(cl->fd);
	free(cl->reply);
	free(cl);
}

static void
client_timeout_cb(void *arg)
{
	struct ctl_client *cl = arg;

	log_debug("control client timed out");
	client_free(cl);
}

static void
client_write(struct ctl_client *cl)
{
	while (cl->reply_off < cl->reply_len) {
		ssize_t n = send(cl->fd, cl->reply + cl->reply_off,
		    cl->reply_len - cl->reply_off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			ev_io_set(cl->io, EV_WRITE);
			return;
		}
		if (n <= 0) {
			client_free(cl);
			return;
		}
		cl->reply_off += (size_t)n;
	}
	client_free(cl);
}

static void
client_cb(int fd, unsigned events, void *arg)
{
	struct ctl_client *cl = arg;
	char *nl;
	ssize_t n;

	if (cl->reply != NULL) {
		client_write(cl);
		return;
	}
	n = recv(fd, cl->cmd + cl->cmd_len, sizeof(cl->cmd) - 1 - cl->cmd_len,
	    0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_free(cl);
		return;
	}
	cl->cmd_len += (size_t)n;
	cl->cmd[cl->cmd_len] = '\0';
	nl = strchr(cl->cmd, '\n');
	if (nl == NULL) {
		if (cl->cmd_len == sizeof(cl->cmd) - 1) {
			log_warn("control client sent an overlong command");
			client_free(cl);
		}
		return;
	}
	*nl = '\0';
	if (nl > cl->cmd && nl[-1] == '\r')
		nl[-1] = '\0';
	cl->ctl->handler(cl->cmd, &cl->reply, cl->ctl->arg);
	if (cl->reply == NULL)
		cl->reply = xstrdup("{\"error\":\"no reply\"}");
	cl->reply_len = strlen(cl->reply);
	shutdown(cl->fd, SHUT_RD);
	client_write(cl);
}

static void
accept_cb(int fd, unsigned events, void *arg)
{
	struct ctl *c = arg;

	for (;;) {
		struct ctl_client *cl;
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("control socket accept: %s",
				    strerror(errno));
			return;
		}
		if (c->n_clients >= CTL_MAX_CLIENTS) {
			log_warn("control socket: too many clients");
			close(cfd);
			continue;
		}
		cl = xcalloc(1, sizeof(*cl));
		cl->ctl = c;
		cl->fd = cfd;
		cl->io = ev_io_add(c->ev, cfd, EV_READ, client_cb, cl);
		if (cl->io == NULL) {
			close(cfd);
			free(cl);
			continue;
		}
		cl->timer = ev_timer_new(c->ev, client_timeout_cb, cl);
		ev_timer_arm(cl->timer, CTL_CLIENT_TIMEOUT);
		cl->next = c->clients;
		c->clients = cl;
		c->n_clients++;
	}
}

/* Is a daemon answering at path? */
static bool
socket_alive(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive;

	if (fd < 0)
		return false;
	alive = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return alive;
}

struct ctl *
ctl_new(struct ev *ev, const char *path, int mode, ctl_handler handler,
    void *arg)
{
	struct sockaddr_un sun;
	struct ctl *c;
	char err[256], *dir;
	mode_t old_umask;
	int fd;

	if (make_sockaddr(path, &sun, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return NULL;
	}
	dir = xstrdup(path);
	if (mkdir(dirname(dir), 0755) < 0 && errno != EEXIST)
		log_warn("mkdir %s: %s", dir, strerror(errno));
	free(dir);
	if (socket_alive(&sun)) {
		log_err("%s: another healthagent is already running", path);
		return NULL;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		log_err("%s: cannot remove stale socket: %s", path,
		    strerror(errno));
		return NULL;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("control socket: %s", strerror(errno));
		return NULL;
	}
	/* Create the socket with no permissions at all, then open it up to
	 * exactly `mode`, so there is no window with a wider mode. */
	old_umask = umask(0777);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		umask(old_umask);
		log_err("%s: bind: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	umask(old_umask);
	if (chmod(path, (mode_t)mode) < 0 || listen(fd, 16) < 0) {
		log_err("%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->ev = ev;
	c->path = xstrdup(path);
	c->fd = fd;
	c->handler = handler;
	c->arg = arg;
	c->io = ev_io_add(ev, fd, EV_READ, accept_cb, c);
	if (c->io == NULL) {
		ctl_free(c);
		return NULL;
	}
	return c;
}

const char *
ctl_path(const struct ctl *c)
{
	return c->path;
}

void
ctl_free(struct ctl *c)
{
	if (c == NULL)
		return;
	while (c->clients != NULL)
		client_free(c->clients);
	ev_io_del(c->io);
	close(c->fd);
	unlink(c->path);
	free(c->path);
	free(c);
}

int
ctl_call(const char *path, const char *cmd, int timeout_ms, char **reply,
    char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct pollfd pfd;
	char *buf = NULL, *line;
	size_t len = 0, cap = 0;
	int fd;

	*reply = NULL;
	if (make_sockaddr(path, &sun, err, errlen) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		snprintf(err, errlen, "cannot connect to %s: %s", path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	line = xasprintf("%s\n", cmd);
	if (send(fd, line, strlen(line), MSG_NOSIGNAL) < 0) {
		snprintf(err, errlen, "%s: send: %s", path, strerror(errno));
		free(line);
		close(fd);
		return -1;
	}
	free(line);
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		ssize_t n;
		int r = poll(&pfd, 1, timeout_ms);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "%s: no reply within %d ms", path,
			    timeout_ms);
			goto fail;
		}
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 65536;
			if (cap > CTL_MAX_REPLY + 4096) {
				snprintf(err, errlen, "%s: reply too large",
				    path);
				goto fail;
			}
			buf = xreallocarray(buf, cap, 1);
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: recv: %s", path,
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (buf == NULL || len == 0) {
		free(buf);
		snprintf(err, errlen, "%s: empty reply", path);
		return -1;
	}
	buf[len] = '\0';
	*reply = buf;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
}
