/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the control-socket decoder, ctl_parse_request, and
 * the peer policy, ctl_peer_allowed. Besides memory errors it checks the
 * decoder's contracts: a decoded request is a known command ending at a
 * '\n' inside the input; "need more" only without a newline and below the
 * size limit; a refusal always says why, in printable ASCII; and feeding
 * the same bytes in pieces (as recv may deliver them) never changes the
 * verdict: no prefix of a valid request is refused, and once a prefix is
 * refused the whole input is too.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_err(const char *err)
{
	if (err[0] == '\0')
		abort(); /* a refusal says why */
	for (const char *p = err; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			abort(); /* goes into a log line and a JSON reply */
}

static int
parse(const char *buf, size_t len, struct ctl_request *r, char *err,
    size_t errlen)
{
	int rc = ctl_parse_request(buf, len, r, err, errlen);

	if (rc < -1 || rc > 1)
		abort();
	if (rc == 1) {
		if (r->consumed == 0 || r->consumed > len ||
		    r->consumed > CTL_MAX_COMMAND - 1 ||
		    buf[r->consumed - 1] != '\n' ||
		    memchr(buf, '\n', r->consumed - 1) != NULL)
			abort();
		if ((int)r->cmd < 0 || r->cmd >= CTL_CMD_MAX ||
		    r->mutating != (r->cmd != CTL_STATUS))
			abort();
		if (memchr(buf, '\0', r->consumed) != NULL)
			abort();
		if (err[0] != '\0')
			abort();
	} else if (rc == 0) {
		if (len >= CTL_MAX_COMMAND - 1 ||
		    memchr(buf, '\n', len) != NULL)
			abort();
		if (err[0] != '\0' || r->consumed != 0)
			abort();
	} else {
		check_err(err);
		if (r->consumed != 0)
			abort();
	}
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_request r, rp;
	const char *buf = (const char *)data;
	char err[160], errp[160], small[8];
	size_t lim;
	int rc;

	if (size > 1024)
		return 0;
	rc = parse(buf, size, &r, err, sizeof(err));
	if (rc == 1) {
		/* The trimmed line is exactly the command's name. */
		const char *b = buf, *e = buf + r.consumed - 1;
		size_t n = strlen(ctl_cmd_names[r.cmd]);

		if (e > b && e[-1] == '\r')
			e--;
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - b) != n || memcmp(b, ctl_cmd_names[r.cmd], n))
			abort();
	}
	/* Prefixes, as recv might hand them over: all of a short input, a
	 * few (around the end of the line among them) of a long one. */
	lim = size < CTL_MAX_COMMAND ? size : CTL_MAX_COMMAND;
	for (size_t i = 0, k; i < (lim <= 24 ? lim : 12); i++) {
		int rcp;

		if (lim <= 24)
			k = i;
		else if (i < 4)
			k = i;
		else if (i < 8 && rc == 1)
			k = r.consumed + i - 6 < lim ? r.consumed + i - 6
			                             : lim - 1;
		else
			k = (size_t)data[i] * lim / 256;
		rcp = parse(buf, k, &rp, errp, sizeof(errp));

		if (rc == 1 && k < r.consumed && rcp != 0)
			abort(); /* a prefix of a good request is refused */
		if (rc == 1 && k >= r.consumed &&
		    (rcp != 1 || rp.cmd != r.cmd || rp.consumed != r.consumed))
			abort();
		if (rcp == -1 && rc != -1)
			abort(); /* refused early, accepted later */
	}
	/* A tiny error buffer truncates but stays a string. */
	if (parse(buf, size, &rp, small, sizeof(small)) != rc)
		abort();
	if (rc == -1 && strlen(small) >= sizeof(small))
		abort();

	/* The policy: status for anyone, the rest for root, the agent's
	 * uid and members of the socket's group only. */
	if (size >= 12) {
		struct ctl_peer peer;
		gid_t groups[4];
		uint32_t v[3];
		uid_t agent = 990;
		gid_t sg = 991;
		enum ctl_cmd c = (enum ctl_cmd)(data[0] % CTL_CMD_MAX);
		bool want, got;

		memcpy(v, data, sizeof(v));
		memset(&peer, 0, sizeof(peer));
		peer.uid = v[0] % 1000;
		peer.gid = v[1] % 1000;
		peer.n_groups = v[2] % 5;
		for (size_t i = 0; i < peer.n_groups; i++)
			groups[i] = (gid_t)(985 + (data[i] % 8));
		peer.groups = groups;
		want = c == CTL_STATUS || peer.uid == 0 || peer.uid == agent ||
		    peer.gid == sg;
		for (size_t i = 0; i < peer.n_groups; i++)
			want = want || groups[i] == sg;
		got = ctl_peer_allowed(&peer, c, agent, sg);
		if (got != want)
			abort();
		if (ctl_peer_allowed(NULL, c, agent, sg) != (c == CTL_STATUS))
			abort();
	}
	return 0;
}
