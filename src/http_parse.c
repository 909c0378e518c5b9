/* SPDX-License-Identifier: ISC */
/*
 * A strict, allocation-free HTTP/1.x request-head parser. It is a pure
 * function of its input: each call re-parses the buffer from the start, so
 * the caller just appends bytes and calls again until it gets OK or ERROR.
 * Everything it has seen is validated even while the head is incomplete, so
 * garbage is rejected at once instead of after HTTP_MAX_REQUEST bytes.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "http_parse.h"

const char *const http_method_names[HTTP_M_MAX] = {
    [HTTP_M_OTHER] = "OTHER",
    [HTTP_M_GET] = "GET",
    [HTTP_M_HEAD] = "HEAD",
};

/* tchar from RFC 9110 section 5.6.2. */
static bool
is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A byte allowed in a request target: VCHAR only. */
static bool
is_target_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

/* A byte allowed in a field value: VCHAR, SP, HT and obs-text. */
static bool
is_value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static enum http_parse_rc
fail(struct http_request *req, int status, const char *error)
{
	req->error_status = status;
	req->error = error;
	return HTTP_PARSE_ERROR;
}

/*
 * Find the end of the line starting at buf[off]: sets *eol to the index of
 * the CR or LF that ends the content and *next to the index after the LF.
 * Returns 1 for a complete line, 0 if the line is not finished within lim,
 * -1 for a NUL or a CR not followed by LF (reported as *eol).
 */
static int
find_line(const char *buf, size_t off, size_t lim, size_t *eol, size_t *next)
{
	for (size_t i = off; i < lim; i++) {
		if (buf[i] == '\n') {
			*eol = i;
			*next = i + 1;
			return 1;
		}
		if (buf[i] == '\0') {
			*eol = i;
			return -1;
		}
		if (buf[i] == '\r') {
			if (i + 1 == lim)
				return 0;
			if (buf[i + 1] != '\n') {
				*eol = i;
				return -1;
			}
			*eol = i;
			*next = i + 2;
			return 1;
		}
	}
	return 0;
}

/* Parse the version at v[0..n): "HTTP/1.x". */
static enum http_parse_rc
parse_version(const char *v, size_t n, struct http_request *req)
{
	if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' ||
	    v[5] > '9' || v[7] < '0' || v[7] > '9')
		return fail(req, 400, "malformed HTTP version");
	if (v[5] != '1')
		return fail(req, 505, "HTTP version not supported");
	req->version_minor = v[7] - '0';
	return HTTP_PARSE_OK;
}

/* Split the target into path and query; map absolute-form to its path. */
static enum http_parse_rc
parse_target(struct http_request *req)
{
	const char *t = req->target.p, *end = t + req->target.len, *p, *q;

	p = t;
	if (*t != '/') {
		size_t skip;

		if (req->target.len > 7 && strncasecmp(t, "http://", 7) == 0)
			skip = 7;
		else if (req->target.len > 8 &&
		    strncasecmp(t, "https://", 8) == 0)
			skip = 8;
		else
			return fail(req, 400, "invalid request target");
		/* The authority runs to the first '/'; it must not be empty
		 * and must not contain a query or userinfo. */
		p = t + skip;
		while (p < end && *p != '/') {
			if (*p == '?' || *p == '#' || *p == '@')
				return fail(req, 400, "invalid request target");
			p++;
		}
		if (p == t + skip || p == end)
			return fail(req, 400, "invalid request target");
	}
	q = memchr(p, '?', (size_t)(end - p));
	req->path.p = p;
	if (q != NULL) {
		req->path.len = (size_t)(q - p);
		req->query.p = q + 1;
		req->query.len = (size_t)(end - q - 1);
	} else {
		req->path.len = (size_t)(end - p);
		req->query.p = end;
		req->query.len = 0;
	}
	return HTTP_PARSE_OK;
}

/* Validate a request line that may be cut short at n bytes. */
static enum http_parse_rc
check_partial_request_line(const char *l, size_t n, struct http_request *req)
{
	size_t i = 0;

	if (n > 0 && l[n - 1] == '\r')
		n--; /* the line ending may be cut between CR and LF */
	while (i < n && is_tchar((unsigned char)l[i]))
		i++;
	if (i < n && (l[i] != ' ' || i == 0))
		return fail(req, 400, "malformed request line");
	if (i < n)
		i++;
	for (; i < n && l[i] != ' '; i++)
		if (!is_target_char((unsigned char)l[i]))
			return fail(req, 400, "malformed request line");
	return HTTP_PARSE_INCOMPLETE;
}

/* Parse a complete request line l[0..n) (without its line ending). */
static enum http_parse_rc
parse_request_line(const char *l, size_t n, struct http_request *req)
{
	size_t i = 0, ts, te;
	enum http_parse_rc rc;

	while (i < n && is_tchar((unsigned char)l[i]))
		i++;
	if (i == 0 || i == n || l[i] != ' ')
		return fail(req, 400, "malformed request line");
	req->method_str.p = l;
	req->method_str.len = i;
	if (i == 3 && memcmp(l, "GET", 3) == 0)
		req->method = HTTP_M_GET;
	else if (i == 4 && memcmp(l, "HEAD", 4) == 0)
		req->method = HTTP_M_HEAD;
	else
		req->method = HTTP_M_OTHER;
	ts = ++i;
	while (i < n && is_target_char((unsigned char)l[i]))
		i++;
	te = i;
	if (te == ts)
		return fail(req, 400, "malformed request line");
	if (i == n)
		return fail(req, 400, "missing HTTP version");
	if (l[i] != ' ')
		return fail(req, 400, "malformed request line");
	i++;
	req->target.p = l + ts;
	req->target.len = te - ts;
	if ((rc = parse_version(l + i, n - i, req)) != HTTP_PARSE_OK)
		return rc;
	return parse_target(req);
}

/* Does the comma-separated list v contain token tok (case-insensitive)? */
static bool
list_has(const struct http_str *v, const char *tok)
{
	size_t tl = strlen(tok), i = 0;

	while (i < v->len) {
		size_t s, e;

		while (i < v->len &&
		    (v->p[i] == ' ' || v->p[i] == '\t' || v->p[i] == ','))
			i++;
		s = i;
		while (i < v->len && v->p[i] != ',')
			i++;
		e = i;
		while (e > s && (v->p[e - 1] == ' ' || v->p[e - 1] == '\t'))
			e--;
		if (e - s == tl && strncasecmp(v->p + s, tok, tl) == 0)
			return true;
	}
	return false;
}

/* Parse a complete header line l[0..n) into the next header slot. */
static enum http_parse_rc
parse_header_line(const char *l, size_t n, struct http_request *req)
{
	size_t i = 0, vs, ve;

	if (l[0] == ' ' || l[0] == '\t')
		return fail(req, 400, "obsolete line folding");
	while (i < n && is_tchar((unsigned char)l[i]))
		i++;
	if (i == n || l[i] != ':' || i == 0)
		return fail(req, 400, "malformed header field");
	if (req->n_headers == HTTP_MAX_HEADERS)
		return fail(req, 431, "too many header fields");
	vs = i + 1;
	while (vs < n && (l[vs] == ' ' || l[vs] == '\t'))
		vs++;
	ve = n;
	while (ve > vs && (l[ve - 1] == ' ' || l[ve - 1] == '\t'))
		ve--;
	for (size_t k = vs; k < ve; k++)
		if (!is_value_char((unsigned char)l[k]))
			return fail(req, 400, "invalid header value");
	req->headers[req->n_headers].name.p = l;
	req->headers[req->n_headers].name.len = i;
	req->headers[req->n_headers].value.p = l + vs;
	req->headers[req->n_headers].value.len = ve - vs;
	req->n_headers++;
	return HTTP_PARSE_OK;
}

/* Validate a header line that may be cut short at n bytes. */
static enum http_parse_rc
check_partial_header_line(const char *l, size_t n, struct http_request *req)
{
	size_t i = 0;

	if (n > 0 && l[n - 1] == '\r')
		n--; /* the line ending may be cut between CR and LF */
	if (n == 0)
		return HTTP_PARSE_INCOMPLETE;
	if (l[0] == ' ' || l[0] == '\t')
		return fail(req, 400, "obsolete line folding");
	while (i < n && is_tchar((unsigned char)l[i]))
		i++;
	if (i < n && (l[i] != ':' || i == 0))
		return fail(req, 400, "malformed header field");
	if (req->n_headers == HTTP_MAX_HEADERS)
		return fail(req, 431, "too many header fields");
	for (; i < n; i++)
		if (!is_value_char((unsigned char)l[i]))
			return fail(req, 400, "invalid header value");
	return HTTP_PARSE_INCOMPLETE;
}

/* Derive keep_alive and has_body from the headers. */
static enum http_parse_rc
interpret_headers(struct http_request *req)
{
	bool close = false, keep = false, cl_seen = false, te_seen = false;

	for (size_t h = 0; h < req->n_headers; h++) {
		const struct http_str *nm = &req->headers[h].name;
		const struct http_str *v = &req->headers[h].value;

		if (nm->len == 10 &&
		    strncasecmp(nm->p, "connection", 10) == 0) {
			close |= list_has(v, "close");
			keep |= list_has(v, "keep-alive");
		} else if (nm->len == 14 &&
		    strncasecmp(nm->p, "content-length", 14) == 0) {
			if (cl_seen)
				return fail(req, 400,
				    "duplicate Content-Length");
			cl_seen = true;
			if (v->len == 0)
				return fail(req, 400, "invalid Content-Length");
			for (size_t k = 0; k < v->len; k++) {
				if (v->p[k] < '0' || v->p[k] > '9')
					return fail(req, 400,
					    "invalid Content-Length");
				if (v->p[k] != '0')
					req->has_body = true;
			}
		} else if (nm->len == 17 &&
		    strncasecmp(nm->p, "transfer-encoding", 17) == 0) {
			te_seen = true;
			req->has_body = true;
		}
	}
	if (cl_seen && te_seen)
		return fail(req, 400,
		    "both Content-Length and Transfer-Encoding");
	if (close)
		req->keep_alive = false;
	else if (req->version_minor >= 1)
		req->keep_alive = true;
	else
		req->keep_alive = keep;
	return HTTP_PARSE_OK;
}

enum http_parse_rc
http_parse_request(const char *buf, size_t len, struct http_request *req)
{
	return http_parse_request_max(buf, len, HTTP_MAX_REQUEST, req);
}

enum http_parse_rc
http_parse_request_max(const char *buf, size_t len, size_t max,
    struct http_request *req)
{
	size_t lim = len < max ? len : max;
	size_t off = 0, eol = 0, next = 0;
	enum http_parse_rc rc;
	int r;

	memset(req, 0, offsetof(struct http_request, headers));
	/* Empty lines before the request line are ignored (RFC 9112 2.2). */
	while (off < lim &&
	    (buf[off] == '\n' ||
	        (buf[off] == '\r' && off + 1 < lim && buf[off + 1] == '\n')))
		off += buf[off] == '\n' ? 1 : 2;

	r = find_line(buf, off, lim, &eol, &next);
	if (r < 0)
		return fail(req, 400,
		    buf[eol] == '\0' ? "NUL byte in request" : "bare CR");
	if (r == 0) {
		if ((rc = check_partial_request_line(buf + off, lim - off,
		         req)) != HTTP_PARSE_INCOMPLETE)
			return rc;
		if (len >= max)
			return fail(req, 414, "request line too long");
		return HTTP_PARSE_INCOMPLETE;
	}
	if ((rc = parse_request_line(buf + off, eol - off, req)) !=
	    HTTP_PARSE_OK)
		return rc;
	off = next;

	for (;;) {
		r = find_line(buf, off, lim, &eol, &next);
		if (r < 0)
			return fail(req, 400,
			    buf[eol] == '\0' ? "NUL byte in request"
			                     : "bare CR");
		if (r == 0) {
			if ((rc = check_partial_header_line(buf + off,
			         lim - off, req)) != HTTP_PARSE_INCOMPLETE)
				return rc;
			if (len >= max)
				return fail(req, 431,
				    "request header fields too large");
			return HTTP_PARSE_INCOMPLETE;
		}
		if (eol == off)
			break;
		if ((rc = parse_header_line(buf + off, eol - off, req)) !=
		    HTTP_PARSE_OK)
			return rc;
		off = next;
	}
	req->head_len = next;
	return interpret_headers(req);
}

const struct http_str *
http_header(const struct http_request *req, const char *name)
{
	size_t nl = strlen(name);

	for (size_t h = 0; h < req->n_headers; h++)
		if (req->headers[h].name.len == nl &&
		    strncasecmp(req->headers[h].name.p, name, nl) == 0)
			return &req->headers[h].value;
	return NULL;
}
