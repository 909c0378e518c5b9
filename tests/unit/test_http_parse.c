/* SPDX-License-Identifier: ISC */
/*
 * Tests for the request-head parser: a table of good and bad requests with
 * the expected result, every split point of the good ones, pipelining, the
 * size limits and incremental rejection of garbage.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"
#include "tap.h"

struct good {
	const char *in;
	enum http_method method;
	const char *path, *query;
	int minor;
	bool keep_alive, has_body;
	size_t body; /* bytes after the head */
};

static const struct good goods[] = {
    {"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", HTTP_M_GET, "/health", "", 1,
        true, false, 0},
    {"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n", HTTP_M_HEAD, "/health", "", 1,
        true, false, 0},
    {"GET /health HTTP/1.0\r\n\r\n", HTTP_M_GET, "/health", "", 0, false, false,
        0},
    {"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", HTTP_M_GET,
        "/health", "", 0, true, false, 0},
    {"GET /health HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
        HTTP_M_GET, "/health", "", 0, false, false, 0},
    {"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n", HTTP_M_GET, "/health",
        "", 1, false, false, 0},
    {"GET /health HTTP/1.1\r\nConnection: Keep-Alive, Upgrade\r\n\r\n",
        HTTP_M_GET, "/health", "", 1, true, false, 0},
    {"GET /h HTTP/1.1\r\nconnection: foo\r\nCONNECTION:  x , CLOSE \r\n\r\n",
        HTTP_M_GET, "/h", "", 1, false, false, 0},
    {"GET /h HTTP/1.1\r\nConnection: closed\r\n\r\n", HTTP_M_GET, "/h", "", 1,
        true, false, 0},
    {"GET /health HTTP/1.1\nHost: x\n\n", HTTP_M_GET, "/health", "", 1, true,
        false, 0},
    {"GET /health HTTP/1.1\r\nHost: x\n\r\n", HTTP_M_GET, "/health", "", 1,
        true, false, 0},
    {"GET /health?verbose=1&x HTTP/1.1\r\n\r\n", HTTP_M_GET, "/health",
        "verbose=1&x", 1, true, false, 0},
    {"GET /h? HTTP/1.1\r\n\r\n", HTTP_M_GET, "/h", "", 1, true, false, 0},
    {"GET /?a?b HTTP/1.1\r\n\r\n", HTTP_M_GET, "/", "a?b", 1, true, false, 0},
    {"GET http://example.com:80/health?x=1 HTTP/1.1\r\n\r\n", HTTP_M_GET,
        "/health", "x=1", 1, true, false, 0},
    {"GET HTTP://h/ HTTP/1.1\r\n\r\n", HTTP_M_GET, "/", "", 1, true, false, 0},
    {"GET https://[::1]:8080/x HTTP/1.1\r\n\r\n", HTTP_M_GET, "/x", "", 1, true,
        false, 0},
    {"\r\n\r\nGET / HTTP/1.1\r\n\r\n", HTTP_M_GET, "/", "", 1, true, false, 0},
    {"\nGET / HTTP/1.1\n\n", HTTP_M_GET, "/", "", 1, true, false, 0},
    {"get / HTTP/1.1\r\n\r\n", HTTP_M_OTHER, "/", "", 1, true, false, 0},
    {"GETS / HTTP/1.1\r\n\r\n", HTTP_M_OTHER, "/", "", 1, true, false, 0},
    {"DELETE /x HTTP/1.1\r\n\r\n", HTTP_M_OTHER, "/x", "", 1, true, false, 0},
    {"POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", HTTP_M_OTHER, "/x",
        "", 1, true, true, 5},
    {"GET / HTTP/1.1\r\nContent-Length: 000\r\n\r\n", HTTP_M_GET, "/", "", 1,
        true, false, 0},
    {"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        HTTP_M_GET, "/", "", 1, true, true, 0},
    {"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        HTTP_M_GET, "/", "", 1, true, true, 5},
    {"GET / HTTP/1.1\r\nX-Empty:\r\nX-Obs: caf\xc3\xa9\r\n\r\n", HTTP_M_GET,
        "/", "", 1, true, false, 0},
    {"GET / HTTP/1.2\r\n\r\n", HTTP_M_GET, "/", "", 2, true, false, 0},
    {"GET /%7E/~a-b_c.d!$&'()*+,;=:@ HTTP/1.1\r\n\r\n", HTTP_M_GET,
        "/%7E/~a-b_c.d!$&'()*+,;=:@", "", 1, true, false, 0},
};

struct bad {
	const char *in;
	size_t len; /* 0: strlen */
	int status;
	const char *what;
};

static const struct bad bads[] = {
    {"GET / HTTP/2.0\r\n\r\n", 0, 505, "HTTP/2.0"},
    {"GET / HTTP/0.9\r\n\r\n", 0, 505, "HTTP/0.9"},
    {"GET / HTTP/3.0\r\n\r\n", 0, 505, "HTTP/3.0"},
    {"GET /\r\n\r\n", 0, 400, "missing version"},
    {"GET / \r\n\r\n", 0, 400, "empty version"},
    {"GET\r\n\r\n", 0, 400, "method only"},
    {"GET / HTTP/1.1 \r\n\r\n", 0, 400, "trailing space"},
    {"GET  / HTTP/1.1\r\n\r\n", 0, 400, "double space"},
    {"GET /\tHTTP/1.1\r\n\r\n", 0, 400, "tab separator"},
    {"GET / HTTX/1.1\r\n\r\n", 0, 400, "HTTX"},
    {"GET / http/1.1\r\n\r\n", 0, 400, "lowercase http"},
    {"GET / HTTP/1.10\r\n\r\n", 0, 400, "two-digit minor"},
    {"GET / HTTP/11\r\n\r\n", 0, 400, "no dot"},
    {" GET / HTTP/1.1\r\n\r\n", 0, 400, "leading space"},
    {"G(T / HTTP/1.1\r\n\r\n", 0, 400, "bad method token"},
    {"GET health HTTP/1.1\r\n\r\n", 0, 400, "relative target"},
    {"OPTIONS * HTTP/1.1\r\n\r\n", 0, 400, "asterisk form"},
    {"GET http://host HTTP/1.1\r\n\r\n", 0, 400, "absolute without path"},
    {"GET http:///x HTTP/1.1\r\n\r\n", 0, 400, "empty authority"},
    {"GET http://u@h/ HTTP/1.1\r\n\r\n", 0, 400, "userinfo"},
    {"GET ftp://h/ HTTP/1.1\r\n\r\n", 0, 400, "ftp scheme"},
    {"GET /a\x01z HTTP/1.1\r\n\r\n", 0, 400, "control char in target"},
    {"GET /a\x7fz HTTP/1.1\r\n\r\n", 0, 400, "DEL in target"},
    {"GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", 0, 400, "8-bit target"},
    {"GET / HTTP/1.1\rX: y\r\n\r\n", 0, 400, "CR without LF (line)"},
    {"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 0, 400, "CR without LF (hdr)"},
    {"GET / HTTP/1.1\r\n\r\r\n", 0, 400, "CR CR LF"},
    {"GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 26, 400, "NUL in value"},
    {"GET /\0 HTTP/1.1\r\n\r\n", 19, 400, "NUL in target"},
    {"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 0, 400, "obs-fold"},
    {"GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", 0, 400, "obs-fold tab"},
    {"GET / HTTP/1.1\r\n X: a\r\n\r\n", 0, 400, "space before 1st field"},
    {"GET / HTTP/1.1\r\nXfoo\r\n\r\n", 0, 400, "header without colon"},
    {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 0, 400, "space before colon"},
    {"GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", 0, 400, "tab before colon"},
    {"GET / HTTP/1.1\r\n: x\r\n\r\n", 0, 400, "empty field name"},
    {"GET / HTTP/1.1\r\nX(y: x\r\n\r\n", 0, 400, "bad field name"},
    {"GET / HTTP/1.1\r\nX: a\x01\r\n\r\n", 0, 400, "control in value"},
    {"GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", 0, 400, "DEL in value"},
    {"GET / HTTP/1.1\r\nContent-Length: 0\r\ncontent-length: 0\r\n\r\n", 0, 400,
        "duplicate Content-Length"},
    {"GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 0, 400,
        "non-numeric Content-Length"},
    {"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 0, 400,
        "negative Content-Length"},
    {"GET / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n", 0, 400,
        "list Content-Length"},
    {"GET / HTTP/1.1\r\nContent-Length:\r\n\r\n", 0, 400,
        "empty Content-Length"},
    {"GET / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: "
     "chunked\r\n\r\n",
        0, 400, "Content-Length and Transfer-Encoding"},
};

/* Requests that must be rejected before they are complete. */
static const struct bad early[] = {
    {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11, 400,
        "TLS ClientHello"},
    {"GET /\0", 6, 400, "NUL in partial target"},
    {"GE\x01", 0, 400, "control char in partial method"},
    {"GET /a b", 0, 0, "(partial version is not checked)"},
    {"\r\n\r\n\r\n", 0, 0, "(blank lines before a request are skipped)"},
    {"GET / HTTP/1.1\r\nHost: x\r\n y", 0, 400, "partial obs-fold"},
    {"GET / HTTP/1.1\r\nHo st", 0, 400, "partial bad field name"},
    {"GET / HTTP/1.1\r\nX: \x01", 0, 400, "partial control in value"},
    {"GET / HTTP/1.1\rX", 0, 400, "partial bare CR"},
};

static size_t
slen(const char *s, size_t len)
{
	return len ? len : strlen(s);
}

static bool
str_eq(struct http_str s, const char *want)
{
	return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

static void
test_goods(void)
{
	struct http_request req;

	for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		const struct good *g = &goods[i];
		size_t len = strlen(g->in);
		enum http_parse_rc rc;
		bool split_ok = true;
		char *copy;

		/* Parse from an exact-size heap copy so ASan sees overreads. */
		copy = malloc(len);
		memcpy(copy, g->in, len);
		rc = http_parse_request(copy, len, &req);
		is_int(rc, HTTP_PARSE_OK, "good %zu: OK", i);
		if (rc != HTTP_PARSE_OK) {
			printf("# %d %s\n", req.error_status, req.error);
			free(copy);
			continue;
		}
		is_int(req.method, g->method, "good %zu: method", i);
		ok(str_eq(req.path, g->path), "good %zu: path %.*s", i,
		    (int)req.path.len, req.path.p);
		ok(str_eq(req.query, g->query), "good %zu: query %.*s", i,
		    (int)req.query.len, req.query.p);
		is_int(req.version_minor, g->minor, "good %zu: version", i);
		is_int(req.keep_alive, g->keep_alive, "good %zu: keep_alive",
		    i);
		is_int(req.has_body, g->has_body, "good %zu: has_body", i);
		is_int(req.head_len, len - g->body, "good %zu: head_len", i);
		ok(req.target.p >= copy &&
		        req.target.p + req.target.len <= copy + len,
		    "good %zu: target inside buffer", i);
		/* Every shorter prefix of the head is INCOMPLETE. */
		for (size_t k = 0; k < len - g->body; k++) {
			char *pre = malloc(k ? k : 1);

			memcpy(pre, g->in, k);
			rc = http_parse_request(pre, k, &req);
			if (rc != HTTP_PARSE_INCOMPLETE) {
				printf("# prefix %zu: rc %d status %d %s\n", k,
				    rc, req.error_status, req.error);
				split_ok = false;
			}
			free(pre);
		}
		ok(split_ok, "good %zu: INCOMPLETE at every split point", i);
		free(copy);
	}
}

static void
test_bads(void)
{
	struct http_request req;

	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];
		size_t len = slen(b->in, b->len);
		enum http_parse_rc rc, prev = HTTP_PARSE_INCOMPLETE;
		bool mono = true;
		char *copy = malloc(len);

		memcpy(copy, b->in, len);
		rc = http_parse_request(copy, len, &req);
		is_int(rc, HTTP_PARSE_ERROR, "bad (%s): ERROR", b->what);
		is_int(req.error_status, b->status, "bad (%s): status",
		    b->what);
		ok(rc != HTTP_PARSE_ERROR ||
		        (req.error != NULL && req.error[0] != '\0'),
		    "bad (%s): message \"%s\"", b->what,
		    req.error ? req.error : "");
		/* No prefix is OK, and once rejected it stays rejected. */
		for (size_t k = 1; k <= len; k++) {
			rc = http_parse_request(copy, k, &req);
			if (rc == HTTP_PARSE_OK ||
			    (prev == HTTP_PARSE_ERROR && rc != prev))
				mono = false;
			prev = rc;
		}
		ok(mono, "bad (%s): no prefix accepted", b->what);
		free(copy);
	}
	for (size_t i = 0; i < sizeof(early) / sizeof(early[0]); i++) {
		const struct bad *b = &early[i];
		size_t len = slen(b->in, b->len);

		if (b->status == 0) {
			is_int(http_parse_request(b->in, len, &req),
			    HTTP_PARSE_INCOMPLETE, "early %s", b->what);
			continue;
		}
		is_int(http_parse_request(b->in, len, &req), HTTP_PARSE_ERROR,
		    "early rejection: %s", b->what);
		is_int(req.error_status, b->status,
		    "early rejection: %s: status", b->what);
	}
}

static void
test_pipelined(void)
{
	const char *in = "GET /a HTTP/1.1\r\n\r\n"
	                 "HEAD /b?q HTTP/1.1\r\nHost: x\r\n\r\n"
	                 "GET /c HTTP/1.1\r\nConnection: close\r\n\r\n"
	                 "GET /d HT";
	const char *paths[] = {"/a", "/b", "/c"};
	size_t lens[] = {19, 31, 38};
	size_t off = 0, len = strlen(in);
	struct http_request req;

	for (size_t i = 0; i < 3; i++) {
		is_int(http_parse_request(in + off, len - off, &req),
		    HTTP_PARSE_OK, "pipelined %zu: OK", i);
		is_int(req.head_len, lens[i], "pipelined %zu: head_len", i);
		ok(str_eq(req.path, paths[i]), "pipelined %zu: path", i);
		is_int(req.keep_alive, i != 2, "pipelined %zu: keep_alive", i);
		off += req.head_len;
	}
	is_int(http_parse_request(in + off, len - off, &req),
	    HTTP_PARSE_INCOMPLETE, "pipelined: the rest is incomplete");
}

/* Build "GET / HTTP/1.1\r\n" + headers padded to a total of `total` bytes
 * (including the final CRLF). */
static char *
padded(size_t total, size_t *lenp)
{
	const char *rl = "GET / HTTP/1.1\r\n";
	char *b = malloc(total);
	size_t off = strlen(rl), room;

	memcpy(b, rl, off);
	room = total - off - 2; /* final CRLF */
	/* One big header "X: aaaa...\r\n" filling the room. */
	memcpy(b + off, "X: ", 3);
	memset(b + off + 3, 'a', room - 5);
	memcpy(b + off + room - 2, "\r\n\r\n", 4);
	*lenp = total;
	return b;
}

static void
test_limits(void)
{
	struct http_request req;
	size_t len;
	char *b;

	b = padded(HTTP_MAX_REQUEST, &len);
	is_int(http_parse_request(b, len, &req), HTTP_PARSE_OK,
	    "head of exactly HTTP_MAX_REQUEST bytes is OK");
	is_int(req.head_len, HTTP_MAX_REQUEST, "and uses all of it");
	free(b);

	b = padded(HTTP_MAX_REQUEST + 1, &len);
	is_int(http_parse_request(b, len, &req), HTTP_PARSE_ERROR,
	    "head of HTTP_MAX_REQUEST + 1 bytes is refused");
	is_int(req.error_status, 431, "with 431");
	is_int(http_parse_request(b, HTTP_MAX_REQUEST - 1, &req),
	    HTTP_PARSE_INCOMPLETE,
	    "its first HTTP_MAX_REQUEST - 1 bytes are "
	    "INCOMPLETE");
	is_int(http_parse_request(b, HTTP_MAX_REQUEST, &req), HTTP_PARSE_ERROR,
	    "its first HTTP_MAX_REQUEST bytes are refused");
	is_int(req.error_status, 431, "with 431");
	free(b);

	b = malloc(HTTP_MAX_REQUEST + 100);
	memcpy(b, "GET /", 5);
	memset(b + 5, 'a', HTTP_MAX_REQUEST + 95);
	is_int(http_parse_request(b, HTTP_MAX_REQUEST + 100, &req),
	    HTTP_PARSE_ERROR, "long request line is refused");
	is_int(req.error_status, 414, "with 414");
	is_int(http_parse_request(b, HTTP_MAX_REQUEST - 1, &req),
	    HTTP_PARSE_INCOMPLETE, "long request line: INCOMPLETE below limit");
	free(b);

	/* 64 headers are fine, 65 are not. */
	b = malloc(HTTP_MAX_REQUEST);
	for (int n = HTTP_MAX_HEADERS; n <= HTTP_MAX_HEADERS + 1; n++) {
		size_t off =
		    (size_t)snprintf(b, HTTP_MAX_REQUEST, "GET / HTTP/1.1\r\n");

		for (int h = 0; h < n; h++)
			off += (size_t)snprintf(b + off, HTTP_MAX_REQUEST - off,
			    "X-H%d: %d\r\n", h, h);
		off +=
		    (size_t)snprintf(b + off, HTTP_MAX_REQUEST - off, "\r\n");
		if (n == HTTP_MAX_HEADERS) {
			is_int(http_parse_request(b, off, &req), HTTP_PARSE_OK,
			    "%d headers are OK", n);
			is_int(req.n_headers, n, "all %d are stored", n);
			ok(http_header(&req, "x-h63") != NULL &&
			        str_eq(*http_header(&req, "x-h63"), "63"),
			    "the last one can be looked up");
		} else {
			is_int(http_parse_request(b, off, &req),
			    HTTP_PARSE_ERROR, "%d headers are refused", n);
			is_int(req.error_status, 431, "with 431");
			/* ...and as soon as the 65th starts. */
			is_int(http_parse_request(b, off - 9, &req),
			    HTTP_PARSE_ERROR, "as soon as the 65th starts");
		}
	}
	free(b);

	/* Blank lines before a request count against the limit. */
	b = malloc(HTTP_MAX_REQUEST);
	memset(b, '\n', HTTP_MAX_REQUEST);
	is_int(http_parse_request(b, HTTP_MAX_REQUEST, &req), HTTP_PARSE_ERROR,
	    "8 KiB of blank lines are refused");
	free(b);
}

static void
test_lookup(void)
{
	const char *in = "GET / HTTP/1.1\r\nHost: a.example\r\n"
	                 "X-Forwarded-For:  10.0.0.1 \r\nHOST: b\r\n\r\n";
	struct http_request req;

	is_int(http_parse_request(in, strlen(in), &req), HTTP_PARSE_OK,
	    "lookup: OK");
	is_int(req.n_headers, 3, "lookup: 3 headers");
	ok(http_header(&req, "host") != NULL &&
	        str_eq(*http_header(&req, "host"), "a.example"),
	    "lookup: case-insensitive, first wins");
	ok(http_header(&req, "x-forwarded-for") != NULL &&
	        str_eq(*http_header(&req, "X-Forwarded-For"), "10.0.0.1"),
	    "lookup: value trimmed");
	ok(http_header(&req, "Hos") == NULL, "lookup: no prefix match");
	ok(str_eq(req.method_str, "GET"), "method_str");
	is_str(http_method_names[HTTP_M_GET], "GET", "method name GET");
	is_str(http_method_names[HTTP_M_HEAD], "HEAD", "method name HEAD");
}

int
main(void)
{
	test_goods();
	test_bads();
	test_pipelined();
	test_limits();
	test_lookup();
	return done_testing();
}
