/* SPDX-License-Identifier: ISC */
/*
 * The control socket, both ends. The daemon side accepts a few clients at
 * a time, reads one command line with a deadline, decodes it with the pure
 * ctl_parse_request, checks the peer's credentials for commands that change
 * state, and writes the handler's reply without blocking. The client side
 * (used by the CLI, which may block) sends a command and reads until the
 * daemon closes.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <json-c/json.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

#define CTL_MAX_CLIENTS 16
#define CTL_CLIENT_TIMEOUT 5000
/* Refusals are logged at most this often; the rest are counted. */
#define CTL_REFUSAL_LOG_MS 1000

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

const char *const ctl_cmd_names[CTL_CMD_MAX] = {
    [CTL_STATUS] = "status",
    [CTL_DRAIN] = "drain",
    [CTL_UNDRAIN] = "undrain",
    [CTL_RELOAD] = "reload",
};

static const bool cmd_mutates[CTL_CMD_MAX] = {
    [CTL_STATUS] = false,
    [CTL_DRAIN] = true,
    [CTL_UNDRAIN] = true,
    [CTL_RELOAD] = true,
};

struct ctl_client {
	struct ctl *ctl;
	int fd;
	struct ev_io *io;
	struct ev_timer *timer;
	char cmd[CTL_MAX_COMMAND];
	size_t cmd_len;
	bool have_cred;
	struct ucred cred;
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
	uid_t uid; /* the agent's */
	gid_t gid; /* the socket's group */
	mono_ms refusal_logged;
	unsigned long refusals_unlogged;
};

/* ------------------------------------------------------------------ */
/* Decoding and policy (pure) */

int
ctl_parse_request(const char *buf, size_t len, struct ctl_request *out,
    char *err, size_t errlen)
{
	/* The line and its '\n' fit the daemon's buffer with a NUL. */
	size_t max = CTL_MAX_COMMAND - 1, scan = len < max ? len : max;
	const char *nl = memchr(buf, '\n', scan), *b, *e;
	size_t end = nl != NULL ? (size_t)(nl - buf) : scan;

	memset(out, 0, sizeof(*out));
	if (errlen > 0)
		err[0] = '\0';
	/* Refuse bad bytes as soon as they arrive, whole line or not. */
	for (size_t i = 0; i < end; i++) {
		unsigned char c = (unsigned char)buf[i];

		/* "\r\n", or a "\r" whose "\n" is still to come */
		if (c == '\r' && i + 1 == end)
			break;
		if (c == '\t' || (c >= 0x20 && c < 0x7f))
			continue;
		snprintf(err, errlen,
		    "malformed command: byte 0x%02x at offset %zu", c, i);
		return -1;
	}
	if (nl == NULL) {
		if (len >= max) {
			snprintf(err, errlen,
			    "command too long (at most %d bytes)",
			    CTL_MAX_COMMAND - 3);
			return -1;
		}
		return 0;
	}
	b = buf;
	e = nl;
	if (e > b && e[-1] == '\r')
		e--;
	while (b < e && (*b == ' ' || *b == '\t'))
		b++;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (b == e) {
		snprintf(err, errlen, "empty command");
		return -1;
	}
	for (int c = 0; c < CTL_CMD_MAX; c++) {
		if (strlen(ctl_cmd_names[c]) == (size_t)(e - b) &&
		    memcmp(ctl_cmd_names[c], b, (size_t)(e - b)) == 0) {
			out->cmd = (enum ctl_cmd)c;
			out->mutating = cmd_mutates[c];
			out->consumed = (size_t)(nl - buf) + 1;
			return 1;
		}
	}
	{
		/* Quote a little of it, tabs shown as spaces. */
		char q[33];
		size_t n = (size_t)(e - b) < sizeof(q) - 1 ? (size_t)(e - b)
		                                           : sizeof(q) - 1;

		for (size_t i = 0; i < n; i++)
			q[i] = b[i] == '\t' ? ' ' : b[i];
		q[n] = '\0';
		snprintf(err, errlen,
		    "unknown command \"%s%s\"; try status, drain, undrain or "
		    "reload",
		    q, (size_t)(e - b) > n ? "..." : "");
	}
	return -1;
}

bool
ctl_peer_allowed(const struct ctl_peer *peer, enum ctl_cmd cmd, uid_t agent_uid,
    gid_t sock_gid)
{
	if ((int)cmd < 0 || cmd >= CTL_CMD_MAX)
		return false;
	if (!cmd_mutates[cmd])
		return true;
	if (peer == NULL)
		return false;
	if (peer->uid == 0 || peer->uid == agent_uid || peer->gid == sock_gid)
		return true;
	for (size_t i = 0; i < peer->n_groups; i++)
		if (peer->groups[i] == sock_gid)
			return true;
	return false;
}

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

/* A JSON error reply, {"ok":false,"error":msg}. */
static char *
error_reply(const char *msg)
{
	json_object *o = json_object_new_object();
	char *r;

	json_object_object_add(o, "ok", json_object_new_boolean(false));
	json_object_object_add(o, "error", json_object_new_string(msg));
	r = xasprintf("%s\n",
	    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return r;
}

/*
 * The peer's supplementary groups as of connect(): SO_PEERGROUPS (Linux
 * 4.13), else the group database for the peer's user. malloc'd, or NULL
 * with *n = 0.
 */
static gid_t *
peer_groups(int fd, const struct ucred *cred, size_t *n)
{
	socklen_t len = 64 * sizeof(gid_t);
	gid_t *g = xmalloc(len);
	struct passwd pw, *pwp = NULL;
	char pwbuf[4096];
	int r, ng;

	*n = 0;
	r = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len);
	if (r < 0 && errno == ERANGE && len > 0) {
		/* len now says how much is needed. */
		g = xreallocarray(g, len, 1);
		r = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len);
	}
	if (r == 0) {
		*n = len / sizeof(gid_t);
		return g;
	}
	/* Older kernels: what the group database says of the user. */
	if (getpwuid_r(cred->uid, &pw, pwbuf, sizeof(pwbuf), &pwp) != 0 ||
	    pwp == NULL) {
		free(g);
		return NULL;
	}
	ng = 64;
	g = xreallocarray(g, (size_t)ng, sizeof(gid_t));
	if (getgrouplist(pw.pw_name, cred->gid, g, &ng) < 0) {
		g = xreallocarray(g, (size_t)ng, sizeof(gid_t));
		if (getgrouplist(pw.pw_name, cred->gid, g, &ng) < 0)
			ng = 0;
	}
	*n = (size_t)(ng > 0 ? ng : 0);
	return g;
}

static bool
authorised(struct ctl_client *cl, enum ctl_cmd cmd)
{
	struct ctl_peer peer;
	gid_t *groups = NULL;
	bool ok;

	if (!cl->have_cred)
		return ctl_peer_allowed(NULL, cmd, cl->ctl->uid, cl->ctl->gid);
	memset(&peer, 0, sizeof(peer));
	peer.pid = cl->cred.pid;
	peer.uid = cl->cred.uid;
	peer.gid = cl->cred.gid;
	ok = ctl_peer_allowed(&peer, cmd, cl->ctl->uid, cl->ctl->gid);
	if (ok || !cmd_mutates[cmd])
		return ok;
	/* Only now look at the supplementary groups. */
	groups = peer_groups(cl->fd, &cl->cred, &peer.n_groups);
	peer.groups = groups;
	ok = ctl_peer_allowed(&peer, cmd, cl->ctl->uid, cl->ctl->gid);
	free(groups);
	return ok;
}

static void
log_refusal(struct ctl_client *cl, enum ctl_cmd cmd)
{
	struct ctl *c = cl->ctl;
	mono_ms now = util_now_ms();

	if (c->refusal_logged != 0 &&
	    now - c->refusal_logged < CTL_REFUSAL_LOG_MS) {
		c->refusals_unlogged++;
		return;
	}
	if (c->refusals_unlogged > 0)
		log_warn("control socket: %lu more refusals were not logged",
		    c->refusals_unlogged);
	if (cl->have_cred)
		log_warn("control socket: refused \"%s\" from uid %u gid %u "
		         "pid %ld: not root, uid %u or group %u",
		    ctl_cmd_names[cmd], (unsigned)cl->cred.uid,
		    (unsigned)cl->cred.gid, (long)cl->cred.pid,
		    (unsigned)c->uid, (unsigned)c->gid);
	else
		log_warn("control socket: refused \"%s\" from a peer whose "
		         "credentials are unknown",
		    ctl_cmd_names[cmd]);
	c->refusal_logged = now;
	c->refusals_unlogged = 0;
}

static void
client_cb(int fd, unsigned events, void *arg)
{
	struct ctl_client *cl = arg;
	struct ctl_request req;
	char err[160];
	ssize_t n;
	int rc;

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
	rc = ctl_parse_request(cl->cmd, cl->cmd_len, &req, err, sizeof(err));
	if (rc == 0)
		return;
	if (rc < 0) {
		/* Anyone who can connect can send garbage: not worth more. */
		log_debug("control socket: %s", err);
		cl->reply = error_reply(err);
	} else if (!authorised(cl, req.cmd)) {
		char msg[200];

		log_refusal(cl, req.cmd);
		snprintf(msg, sizeof(msg),
		    "permission denied: \"%s\" changes the agent's state and "
		    "needs root, uid %u or membership of group %u",
		    ctl_cmd_names[req.cmd], (unsigned)cl->ctl->uid,
		    (unsigned)cl->ctl->gid);
		cl->reply = error_reply(msg);
	} else {
		cl->ctl->handler(ctl_cmd_names[req.cmd], &cl->reply,
		    cl->ctl->arg);
		if (cl->reply == NULL)
			cl->reply = error_reply("no reply");
	}
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
		{
			socklen_t len = sizeof(cl->cred);

			cl->have_cred = getsockopt(cfd, SOL_SOCKET, SO_PEERCRED,
			                    &cl->cred, &len) == 0 &&
			    len == sizeof(cl->cred);
		}
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

/* The gid for a group name or number; the process's gid (logged) when
 * there is no such group. */
static gid_t
resolve_group(const char *group)
{
	struct group gr, *grp = NULL;
	char buf[4096], *end;
	unsigned long v;

	if (group == NULL || *group == '\0')
		return getegid();
	if (getgrnam_r(group, &gr, buf, sizeof(buf), &grp) == 0 && grp != NULL)
		return grp->gr_gid;
	errno = 0;
	v = strtoul(group, &end, 10);
	if (isdigit((unsigned char)*group) && *end == '\0' && errno == 0 &&
	    v < (unsigned long)(gid_t)-1)
		return (gid_t)v;
	log_notice("control socket group \"%s\" does not exist; the socket "
	           "keeps the agent's group (gid %u)",
	    group, (unsigned)getegid());
	return getegid();
}

struct ctl *
ctl_new(struct ev *ev, const char *path, int mode, const char *group,
    ctl_handler handler, void *arg)
{
	struct sockaddr_un sun;
	struct stat st;
	struct ctl *c;
	char err[256], *dir;
	mode_t old_umask;
	gid_t gid;
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
	/* Group first, then the mode: still no window. */
	gid = resolve_group(group);
	if (chown(path, (uid_t)-1, gid) < 0) {
		log_warn("%s: cannot give the socket group %u: %s; it keeps "
		         "the agent's group (gid %u)",
		    path, (unsigned)gid, strerror(errno), (unsigned)getegid());
		if (chown(path, (uid_t)-1, getegid()) < 0)
			log_debug("%s: chown: %s", path, strerror(errno));
	}
	if (chmod(path, (mode_t)mode) < 0 || stat(path, &st) < 0 ||
	    listen(fd, 16) < 0) {
		log_err("%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->ev = ev;
	c->path = xstrdup(path);
	c->fd = fd;
	c->uid = geteuid();
	c->gid = st.st_gid;
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

gid_t
ctl_gid(const struct ctl *c)
{
	return c->gid;
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
