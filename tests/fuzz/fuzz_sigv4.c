/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for SigV4 canonicalisation. The input is split into
 * lines: the first byte picks the method, then the path, the query, and
 * "Name: value" header lines up to an empty line; what follows is the
 * payload. It is signed with sigv4_sign and the canonical request is
 * checked against what SigV4 requires of it:
 *  - signing fails only for a malformed or reserved header (or an
 *    Authorization header too long to format);
 *  - the canonical URI starts with '/', holds only unreserved bytes, '/'
 *    and %XX escapes (uppercase hex), and no empty, "." or ".." segment
 *    (but a trailing '/');
 *  - the canonical query is k=v pairs of unreserved bytes and %XX escapes,
 *    one per non-empty piece of the query, sorted by key then value, and
 *    canonicalising it again gives the same text;
 *  - header names are lowercase, unique, sorted, include host and
 *    x-amz-date, values are trimmed, and the signed-headers line lists
 *    exactly those names;
 *  - the payload hash is 64 lowercase hex digits, and the signature is in
 *    the Authorization value.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HEADERS 16

static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "HEAD",
    "PATCH", "OPTIONS", "X-CUSTOM"};

static bool
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	    c == '~';
}

static bool
uphex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* Only unreserved bytes and %XX (plus '/' when slash). */
static bool
encoded(const char *s, size_t n, bool slash)
{
	for (size_t i = 0; i < n; i++) {
		if (unreserved((unsigned char)s[i]) || (slash && s[i] == '/'))
			continue;
		if (s[i] != '%' || i + 2 >= n + 0 || !uphex(s[i + 1]) ||
		    !uphex(s[i + 2]))
			return false;
		i += 2;
	}
	return true;
}

/* Would sigv4 accept this header line? Mirrors its documented rules. */
static bool
header_ok(const char *h)
{
	const char *colon = strchr(h, ':');
	char name[32];
	size_t n;

	if (colon == NULL || colon == h)
		return false;
	n = (size_t)(colon - h);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)h[i] <= ' ' || (unsigned char)h[i] >= 0x7f ||
		    strchr("\"(),/:;<=>?@[\\]{}", h[i]) != NULL)
			return false; /* not an RFC 9110 token */
	if (n >= sizeof(name))
		return true; /* longer than every reserved name */
	for (size_t i = 0; i < n; i++)
		name[i] = (char)(h[i] >= 'A' && h[i] <= 'Z' ? h[i] + 32 : h[i]);
	name[n] = '\0';
	return strcmp(name, "host") != 0 && strcmp(name, "x-amz-date") != 0 &&
	    strcmp(name, "x-amz-security-token") != 0 &&
	    strcmp(name, "authorization") != 0;
}

/* Next line of [*p, end) as a malloc'd C string (cut at a NUL). */
static char *
next_line(const char **p, const char *end)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = nl != NULL ? (size_t)(nl - *p) : (size_t)(end - *p);
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	memcpy(s, *p, n);
	s[n] = '\0';
	*p = nl != NULL ? nl + 1 : end;
	return s;
}

static size_t
query_pieces(const char *q)
{
	size_t n = 0, len = 0;

	if (*q == '?')
		q++;
	for (;; q++) {
		if (*q == '&' || *q == '\0') {
			n += len > 0;
			len = 0;
			if (*q == '\0')
				return n;
		} else {
			len++;
		}
	}
}

static void
check_uri(const char *u, size_t n)
{
	size_t start = 1;

	if (n == 0 || u[0] != '/' || !encoded(u, n, true))
		abort();
	/* Segments between slashes: none empty, "." or "..", except the
	 * empty one after a trailing slash. */
	for (size_t i = 1; i <= n; i++) {
		size_t len;

		if (i < n && u[i] != '/')
			continue;
		len = i - start;
		if (len == 0 && !(i == n && n > 0 && u[n - 1] == '/'))
			abort();
		if ((len == 1 && u[start] == '.') ||
		    (len == 2 && u[start] == '.' && u[start + 1] == '.'))
			abort();
		start = i + 1;
	}
	if (n >= 2 && u[n - 1] == '/' && u[n - 2] == '/')
		abort();
}

/* strcmp order of two counted strings. */
static int
bytecmp(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	if (c != 0)
		return c;
	return al < bl ? -1 : al > bl;
}

static void
check_query(const char *q, size_t n, const char *raw)
{
	const char *pk = NULL, *pv = NULL;
	size_t pkl = 0, pvl = 0, pairs = 0;

	if (n == 0) {
		if (query_pieces(raw) != 0)
			abort();
		return;
	}
	for (size_t i = 0, start = 0; i <= n; i++) {
		const char *pair = q + start, *eq;
		size_t len;

		if (i < n && q[i] != '&')
			continue;
		len = i - start;
		start = i + 1;
		eq = memchr(pair, '=', len);
		if (len == 0 || eq == NULL ||
		    !encoded(pair, (size_t)(eq - pair), false) ||
		    !encoded(eq + 1, len - (size_t)(eq - pair) - 1, false))
			abort();
		{
			const char *k = pair, *v = eq + 1;
			size_t kl = (size_t)(eq - pair), vl = len - kl - 1;
			int c;

			/* Sorted by key, then value, bytewise. */
			if (pk != NULL) {
				c = bytecmp(pk, pkl, k, kl);
				if (c > 0 ||
				    (c == 0 && bytecmp(pv, pvl, v, vl) > 0))
					abort();
			}
			pk = k, pkl = kl, pv = v, pvl = vl;
		}
		pairs++;
	}
	if (pairs != query_pieces(raw))
		abort();
}

/* Line i (0-based) of the canonical request. */
static const char *
line_at(const char *s, int i, size_t *len)
{
	for (; i > 0; i--) {
		s = strchr(s, '\n');
		if (s == NULL)
			abort();
		s++;
	}
	*len = strcspn(s, "\n");
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data + 1,
	           *end = (const char *)data + size;
	const char *hdrs[MAX_HEADERS + 1];
	struct sigv4_key key = {"AKIDEXAMPLE",
	    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token"};
	struct sigv4_input in;
	struct sigv4_output out, again;
	char *path, *query, *lines[MAX_HEADERS];
	size_t nh = 0, len, names = 0;
	bool all_ok = true;
	const char *l;
	int rc, i;

	if (size < 1 || size > 4096)
		return 0;
	memset(&in, 0, sizeof(in));
	in.method = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
	if (data[0] & 0x80)
		key.session_token = NULL;
	path = next_line(&p, end);
	query = next_line(&p, end);
	while (p < end && nh < MAX_HEADERS && *p != '\n') {
		lines[nh] = next_line(&p, end);
		all_ok = all_ok && header_ok(lines[nh]);
		names += strlen(lines[nh]);
		hdrs[nh] = lines[nh];
		nh++;
	}
	hdrs[nh] = NULL;
	if (p < end && *p == '\n')
		p++;
	in.host = "monitoring.us-east-1.amazonaws.com";
	in.path = path;
	in.query = query;
	in.headers = hdrs;
	in.payload = p;
	in.payload_len = (size_t)(end - p);
	in.region = "us-east-1";
	in.service = "monitoring";
	in.when = 1440938160;

	rc = sigv4_sign(&in, &key, &out);
	if (rc != 0 && rc != -1)
		abort();
	if (rc < 0) {
		/* Only a bad header, or a header list too long for the
		 * Authorization value. */
		if (all_ok && names < 700)
			abort();
		if (out.canonical_request != NULL)
			abort();
		goto done;
	}
	if (!all_ok)
		abort(); /* a bad header was signed */

	/* 0 method, 1 URI, 2 query, 3.. headers, "", signed, hash */
	l = line_at(out.canonical_request, 0, &len);
	if (len != strlen(in.method) || memcmp(l, in.method, len) != 0)
		abort();
	l = line_at(out.canonical_request, 1, &len);
	check_uri(l, len);
	l = line_at(out.canonical_request, 2, &len);
	check_query(l, len, query);
	{
		/* Canonicalising the canonical query changes nothing. */
		char *cq = strndup(l, len);
		struct sigv4_input in2 = in;
		size_t len2;
		const char *l2;

		if (cq == NULL)
			abort();
		in2.query = cq;
		if (sigv4_sign(&in2, &key, &again) != 0)
			abort();
		l2 = line_at(again.canonical_request, 2, &len2);
		if (len2 != len || memcmp(l2, cq, len) != 0)
			abort();
		sigv4_output_free(&again);
		free(cq);
	}
	{
		const char *prev = NULL, *sh;
		size_t prevlen = 0, shlen, sho = 0;
		bool host = false, date = false;

		/* The signed-headers line comes after the empty line. */
		for (i = 3;; i++) {
			line_at(out.canonical_request, i, &len);
			if (len == 0)
				break;
		}
		sh = line_at(out.canonical_request, i + 1, &shlen);
		for (i = 3;; i++) {
			const char *colon;
			size_t n;

			l = line_at(out.canonical_request, i, &len);
			if (len == 0)
				break;
			colon = memchr(l, ':', len);
			if (colon == NULL || colon == l)
				abort();
			n = (size_t)(colon - l);
			for (size_t j = 0; j < n; j++)
				if ((l[j] >= 'A' && l[j] <= 'Z') ||
				    (unsigned char)l[j] <= ' ' || l[j] == ';')
					abort();
			if (prev != NULL && bytecmp(prev, prevlen, l, n) >= 0)
				abort(); /* sorted and unique */
			if (len > n + 1 &&
			    (colon[1] == ' ' || l[len - 1] == ' '))
				abort(); /* values are trimmed */
			host = host || (n == 4 && memcmp(l, "host", 4) == 0);
			date = date ||
			    (n == 10 && memcmp(l, "x-amz-date", 10) == 0);
			/* ... and listed, in order, in the signed headers. */
			if (sho > 0) {
				if (sho >= shlen || sh[sho] != ';')
					abort();
				sho++;
			}
			if (sho + n > shlen || memcmp(sh + sho, l, n) != 0)
				abort();
			sho += n;
			prev = l;
			prevlen = n;
		}
		if (!host || !date || sho != shlen)
			abort();
		l = line_at(out.canonical_request, i + 2, &len);
		if (len != 64 || strspn(l, "0123456789abcdef") != 64 ||
		    l[64] != '\0' || strcmp(l, out.payload_hash) != 0)
			abort();
	}
	if (strlen(out.signature) != 64 ||
	    strstr(out.authorization, out.signature) == NULL)
		abort();
	sigv4_output_free(&out);
done:
	for (size_t j = 0; j < nh; j++)
		free(lines[j]);
	free(path);
	free(query);
	return 0;
}
