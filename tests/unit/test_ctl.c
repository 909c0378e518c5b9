/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the control socket: the pure decoder ctl_parse_request
 * (whole lines, partial lines, refusals, and the inputs the fuzzer found),
 * the peer policy ctl_peer_allowed, and the socket itself: its mode and
 * group, and a client in a child process talking to the server on an event
 * loop, as the agent's own uid and, when the test runs as root, as nobody
 * (drain refused, status allowed).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "ev.h"
#include "log.h"
#include "tap.h"

static int
parse(const char *s, size_t len, struct ctl_request *r, char *err,
    size_t errlen)
{
	return ctl_parse_request(s, len, r, err, errlen);
}

#define P(s, r, err) parse((s), sizeof(s) - 1, (r), (err), sizeof(err))

static void
test_parse(void)
{
	struct ctl_request r;
	char err[160], tiny[6], big[400];

	is_int(P("status\n", &r, err), 1, "status");
	is_int(r.cmd, CTL_STATUS, "status: command");
	ok(!r.mutating, "status changes nothing");
	is_int(r.consumed, 7, "status: consumed the line");
	is_str(err, "", "status: no error");

	is_int(P("drain\r\n", &r, err), 1, "drain with CRLF");
	ok(r.cmd == CTL_DRAIN && r.mutating && r.consumed == 7,
	    "drain: command, mutating, consumed");
	is_int(P("  undrain \t\n", &r, err), 1, "undrain with blanks around");
	is_int(r.cmd, CTL_UNDRAIN, "undrain: command");
	is_int(P("reload\n", &r, err), 1, "reload");
	ok(r.cmd == CTL_RELOAD && r.mutating, "reload is mutating");
	is_int(P("status\nmore after\n", &r, err), 1, "bytes after the line");
	is_int(r.consumed, 7, "only the first line consumed");

	is_int(P("sta", &r, err), 0, "partial: need more");
	is_str(err, "", "partial: no error");
	is_int(P("drain\r", &r, err), 0, "CR before its LF: need more");
	is_int(parse("", 0, &r, err, sizeof(err)), 0, "nothing yet");

	is_int(P("stat\0us\n", &r, err), -1, "NUL refused");
	ok(strstr(err, "0x00") != NULL, "NUL: says which byte (%s)", err);
	is_int(P("st\x01", &r, err), -1, "control byte refused before LF");
	is_int(P("\xc3\xa9tat\n", &r, err), -1, "non-ASCII refused");
	is_int(P("status\r\r\n", &r, err), -1, "CR inside refused");
	is_int(P("\n", &r, err), -1, "empty line refused");
	is_str(err, "empty command", "empty line: message");
	is_int(P(" \t\r\n", &r, err), -1, "blank line refused");
	is_int(P("drainage\n", &r, err), -1, "unknown command");
	ok(strstr(err, "\"drainage\"") != NULL &&
	        strstr(err, "status, drain, undrain or reload") != NULL,
	    "unknown: quoted, with the list (%s)", err);
	is_int(P("STATUS\n", &r, err), -1, "commands are case-sensitive");
	is_int(P("status now\n", &r, err), -1, "arguments refused");

	/* fuzz_ctl regress-tab-in-unknown-command: a tab inside an unknown
	 * command reached the message, which goes to a log line. */
	is_int(P("stasta\tus\n", &r, err), -1, "tab inside: unknown");
	ok(strchr(err, '\t') == NULL, "tab inside: not in the message");
	is_str(err,
	    "unknown command \"stasta us\"; try status, drain, undrain or "
	    "reload",
	    "tab inside: shown as a space");

	memset(big, 'a', sizeof(big));
	big[200] = '\n';
	is_int(parse(big, 201, &r, err, sizeof(err)), -1, "long unknown");
	ok(strstr(err, "...\"") != NULL && strlen(err) < 120,
	    "long unknown: quote cut short (%s)", err);
	big[200] = 'a';
	is_int(parse(big, CTL_MAX_COMMAND - 2, &r, err, sizeof(err)), 0,
	    "253 bytes without LF: need more");
	is_int(parse(big, CTL_MAX_COMMAND - 1, &r, err, sizeof(err)), -1,
	    "254 bytes without LF: too long");
	ok(strstr(err, "too long") != NULL, "too long: message");
	memset(big, ' ', sizeof(big));
	memcpy(big + CTL_MAX_COMMAND - 9, "status\n", 7);
	is_int(parse(big, sizeof(big), &r, err, sizeof(err)), 1,
	    "a line of exactly 254 bytes fits");
	memcpy(big + CTL_MAX_COMMAND - 8, "status\n", 7);
	is_int(parse(big, sizeof(big), &r, err, sizeof(err)), -1,
	    "a line of 255 bytes does not");

	is_int(parse("drainage\n", 9, &r, tiny, sizeof(tiny)), -1,
	    "tiny error buffer");
	ok(strlen(tiny) < sizeof(tiny), "tiny error buffer: truncated");
	is_int(parse("drain\n", 6, &r, NULL, 0), 1, "no error buffer");

	for (int i = 0; i < CTL_CMD_MAX; i++)
		ok(ctl_cmd_names[i] != NULL, "command %d has a name", i);
}

static void
test_policy(void)
{
	gid_t groups[] = {20, 991, 30};
	struct ctl_peer p = {.pid = 1, .uid = 1000, .gid = 1000};
	const uid_t agent = 990;
	const gid_t sg = 991;

	ok(ctl_peer_allowed(&p, CTL_STATUS, agent, sg), "status: anyone");
	ok(!ctl_peer_allowed(&p, CTL_DRAIN, agent, sg), "drain: stranger no");
	ok(!ctl_peer_allowed(&p, CTL_UNDRAIN, agent, sg),
	    "undrain: stranger no");
	ok(!ctl_peer_allowed(&p, CTL_RELOAD, agent, sg), "reload: stranger no");
	p.uid = 0;
	ok(ctl_peer_allowed(&p, CTL_DRAIN, agent, sg), "drain: root");
	p.uid = agent;
	ok(ctl_peer_allowed(&p, CTL_RELOAD, agent, sg), "reload: agent uid");
	p.uid = 1000;
	p.gid = sg;
	ok(ctl_peer_allowed(&p, CTL_DRAIN, agent, sg), "drain: primary group");
	p.gid = 1000;
	p.groups = groups;
	p.n_groups = 3;
	ok(ctl_peer_allowed(&p, CTL_DRAIN, agent, sg),
	    "drain: supplementary group");
	p.n_groups = 1;
	ok(!ctl_peer_allowed(&p, CTL_DRAIN, agent, sg),
	    "drain: other groups only");
	ok(ctl_peer_allowed(NULL, CTL_STATUS, agent, sg),
	    "status: unknown peer");
	ok(!ctl_peer_allowed(NULL, CTL_DRAIN, agent, sg),
	    "drain: unknown peer refused");
	ok(!ctl_peer_allowed(&p, CTL_CMD_MAX, agent, sg), "bad command");
}

static void
handler(const char *cmd, char **reply, void *arg)
{
	(void)arg;
	if (asprintf(reply, "{\"ok\":true,\"cmd\":\"%s\"}\n", cmd) < 0)
		*reply = NULL;
}

struct waiter {
	struct ev *ev;
	struct ev_timer *t;
	pid_t pid;
	int status;
};

static void
wait_cb(void *arg)
{
	struct waiter *w = arg;

	if (waitpid(w->pid, &w->status, WNOHANG) == w->pid) {
		ev_stop(w->ev);
		return;
	}
	ev_timer_arm(w->t, 20);
}

/* Child: run each command, exit with one bit per expected answer. */
static int
client(const char *path, uid_t uid, gid_t gid)
{
	static const struct {
		const char *cmd, *want;
	} cases[] = {
	    {"status", "\"cmd\":\"status\""},
	    {"drain", "\"cmd\":\"drain\""},
	    {"drain", "permission denied"},
	    {"bogus", "unknown command"},
	};
	int bits = 0;

	if (gid != (gid_t)-1 && (setgroups(0, NULL) < 0 || setgid(gid) < 0))
		_exit(100);
	if (uid != (uid_t)-1 && setuid(uid) < 0)
		_exit(101);
	for (int i = 0; i < 4; i++) {
		char *reply = NULL, err[256];

		if (ctl_call(path, cases[i].cmd, 5000, &reply, err,
		        sizeof(err)) == 0 &&
		    strstr(reply, cases[i].want) != NULL)
			bits |= 1 << i;
		free(reply);
	}
	_exit(bits);
}

static int
serve_one_client(struct ev *ev, const char *path, uid_t uid, gid_t gid)
{
	struct waiter w = {.ev = ev};

	w.pid = fork();
	if (w.pid == 0)
		client(path, uid, gid);
	if (w.pid < 0)
		return -1;
	w.t = ev_timer_new(ev, wait_cb, &w);
	ev_timer_arm(w.t, 20);
	ev_run(ev);
	ev_timer_free(w.t);
	return WIFEXITED(w.status) ? WEXITSTATUS(w.status) : -1;
}

static void
test_socket(void)
{
	char dir[] = "/tmp/test_ctl.XXXXXX", path[128];
	struct ev *ev = ev_new();
	struct ctl *c;
	struct stat st;
	int bits;

	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		exit(1);
	}
	chmod(dir, 0711); /* nobody must reach the socket */
	snprintf(path, sizeof(path), "%s/ctl.sock", dir);

	c = ctl_new(ev, path, 0640, "", handler, NULL);
	ok(c != NULL, "socket created");
	ok(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	        (st.st_mode & 07777) == 0640,
	    "mode as asked (%o)", (unsigned)(st.st_mode & 07777));
	ok(st.st_gid == getegid() && ctl_gid(c) == getegid(),
	    "\"\" group: the process's");
	ok(ctl_new(ev, path, 0640, "", handler, NULL) == NULL,
	    "a second server on a live socket is refused");
	ctl_free(c);
	ok(access(path, F_OK) < 0, "ctl_free unlinks the socket");

	c = ctl_new(ev, path, 0666, "no-such-group-healthagent-test", handler,
	    NULL);
	ok(c != NULL && ctl_gid(c) == getegid(),
	    "a missing group falls back to the process's");

	bits = serve_one_client(ev, path, (uid_t)-1, (gid_t)-1);
	is_int(bits & 0xb, 0xb,
	    "same uid: status, drain, unknown command answered");
	if (geteuid() == 0) {
		/* nobody: may connect (0666) but not drain. */
		bits = serve_one_client(ev, path, 65534, 65534);
		is_int(bits, 0x1 | 0x4 | 0x8,
		    "nobody: status allowed, drain refused");
		ctl_free(c);
		c = ctl_new(ev, path, 0666, "65534", handler, NULL);
		ok(c != NULL && ctl_gid(c) == 65534, "numeric group");
		ok(stat(path, &st) == 0 && st.st_gid == 65534,
		    "socket owned by that group");
		bits = serve_one_client(ev, path, 65534, 65534);
		is_int(bits & 0xb, 0xb, "nobody in the socket's group: drain");
	} else {
		ok(1, "# SKIP not root: no uid switch");
	}
	ctl_free(c);
	rmdir(dir);
	ev_free(ev);
}

int
main(void)
{
	log_init(LOG_LEVEL_ERR, false);
	test_parse();
	test_policy();
	test_socket();
	return done_testing();
}
