/* SPDX-License-Identifier: ISC */
/*
 * The control socket: a unix stream socket (mode 0660, group "healthagent"
 * by default) in the runtime directory. A client sends one command line
 * ("status", "drain", "undrain", "reload"), the daemon answers with one JSON
 * document and closes. The CLI formats the JSON; the daemon never builds
 * human text for the socket.
 *
 * Who may do what: anyone who can connect may ask for the status. The
 * commands that change state (drain, undrain, reload) are refused, with a
 * JSON error and a log line, unless the peer's credentials (SO_PEERCRED,
 * and SO_PEERGROUPS for its supplementary groups) say it is root, runs as
 * the agent's own uid, or is a member of the socket's group. So a socket
 * opened up to 0666 still lets no one drain the instance.
 */
#ifndef CTL_H
#define CTL_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

#include "ev.h"

#define CTL_MAX_COMMAND 256
#define CTL_MAX_REPLY (4 * 1024 * 1024)

struct ctl;

enum ctl_cmd { CTL_STATUS, CTL_DRAIN, CTL_UNDRAIN, CTL_RELOAD, CTL_CMD_MAX };

extern const char *const ctl_cmd_names[CTL_CMD_MAX];

struct ctl_request {
	enum ctl_cmd cmd;
	bool mutating;   /* changes state: needs an authorised peer */
	size_t consumed; /* bytes of buf up to and including the '\n' */
};

/*
 * The decoder, pure: one request is one line of printable ASCII ending in
 * "\n" (a "\r" before it and spaces or tabs around the command are
 * ignored), holding one of ctl_cmd_names. Returns 1 with *out filled when
 * buf[0..len) starts with a whole valid request (bytes after the line are
 * not looked at); 0 when more bytes are needed (no newline yet and len
 * below CTL_MAX_COMMAND); -1 with the reason in err for anything else:
 * overlong, NUL or other control bytes, non-ASCII, empty or unknown
 * commands. err quotes at most 32 bytes of the input, all printable.
 */
int ctl_parse_request(const char *buf, size_t len, struct ctl_request *out,
    char *err, size_t errlen);

/* The peer of a connection, from SO_PEERCRED and SO_PEERGROUPS. */
struct ctl_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	const gid_t *groups; /* supplementary groups */
	size_t n_groups;
};

/*
 * The policy, pure: may peer run cmd on a socket owned by agent_uid with
 * group sock_gid? Non-mutating commands: always. Mutating ones: uid 0,
 * uid == agent_uid, gid == sock_gid or sock_gid among the groups.
 */
bool ctl_peer_allowed(const struct ctl_peer *peer, enum ctl_cmd cmd,
    uid_t agent_uid, gid_t sock_gid);

/* Answer one command (one of ctl_cmd_names, already decoded and
 * authorised): set *reply to a malloc'd NUL-terminated string. */
typedef void (*ctl_handler)(const char *cmd, char **reply, void *arg);

/*
 * Create the socket at path (refusing if a live daemon answers there,
 * replacing a stale one), owned by the process's uid and by group (a name
 * or a number; NULL or "" = the process's gid; a group that does not exist
 * or cannot be set falls back to the process's gid, logged), with mode, and
 * serve it. NULL on failure (logged).
 */
struct ctl *ctl_new(struct ev *ev, const char *path, int mode,
    const char *group, ctl_handler handler, void *arg);
/* The gid the socket was given. */
gid_t ctl_gid(const struct ctl *c);
const char *ctl_path(const struct ctl *c);
/* Stop serving and unlink the socket. */
void ctl_free(struct ctl *c);

/*
 * Client side, for the CLI (blocking, with a timeout in ms): send cmd and
 * read the whole reply into a malloc'd string. Returns 0, or -1 with a
 * message in err.
 */
int ctl_call(const char *path, const char *cmd, int timeout_ms, char **reply,
    char *err, size_t errlen);

#endif
