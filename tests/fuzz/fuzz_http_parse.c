/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the request-head parser. On OK it checks that every
 * pointer the parser returned lies inside the input, that the path and query
 * are the tail of the target, and that the result is stable when parsed
 * again from a copy cut at head_len. Any violation aborts.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_in(const struct http_str *s, const char *buf, size_t len)
{
	if (s->p < buf || s->p > buf + len || s->len > len ||
	    (size_t)(s->p - buf) + s->len > len)
		abort();
}

static void
check_ok(const struct http_request *req, const char *buf, size_t len)
{
	const char *tend;

	if (req->head_len == 0 || req->head_len > len ||
	    req->head_len > HTTP_MAX_REQUEST)
		abort();
	check_in(&req->method_str, buf, req->head_len);
	check_in(&req->target, buf, req->head_len);
	check_in(&req->path, buf, req->head_len);
	check_in(&req->query, buf, req->head_len);
	if (req->method_str.len == 0 || req->target.len == 0 ||
	    req->path.len == 0 || req->path.p[0] != '/')
		abort();
	/* The path lies inside the target and runs to its end or to '?'. */
	tend = req->target.p + req->target.len;
	if (req->path.p < req->target.p || req->path.p + req->path.len > tend)
		abort();
	if (req->path.p == req->target.p) {
		if (req->target.p[0] != '/')
			abort();
	} else if (req->target.p[0] == '/') {
		abort();
	}
	if (req->path.p + req->path.len == tend) {
		if (req->query.len != 0)
			abort();
	} else if (req->path.p[req->path.len] != '?' ||
	    req->query.p != req->path.p + req->path.len + 1 ||
	    req->query.p + req->query.len != tend) {
		abort();
	}
	if (memchr(req->path.p, '?', req->path.len) != NULL)
		abort();
	if ((req->method == HTTP_M_GET) !=
	    (req->method_str.len == 3 &&
	        memcmp(req->method_str.p, "GET", 3) == 0))
		abort();
	if (req->version_minor < 0 || req->version_minor > 9)
		abort();
	if (req->n_headers > HTTP_MAX_HEADERS)
		abort();
	for (size_t h = 0; h < req->n_headers; h++) {
		check_in(&req->headers[h].name, buf, req->head_len);
		check_in(&req->headers[h].value, buf, req->head_len);
		if (req->headers[h].name.len == 0)
			abort();
		for (size_t k = 0; k < req->headers[h].value.len; k++)
			if (req->headers[h].value.p[k] == '\0' ||
			    req->headers[h].value.p[k] == '\r' ||
			    req->headers[h].value.p[k] == '\n')
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request req, again;
	const char *buf = (const char *)data;
	enum http_parse_rc rc;
	char *copy;

	rc = http_parse_request(buf, size, &req);
	switch (rc) {
	case HTTP_PARSE_OK:
		check_ok(&req, buf, size);
		/* The head alone, in a buffer of its exact size, parses the
		 * same; one byte less is INCOMPLETE. */
		copy = malloc(req.head_len);
		memcpy(copy, buf, req.head_len);
		if (http_parse_request(copy, req.head_len, &again) !=
		        HTTP_PARSE_OK ||
		    again.head_len != req.head_len ||
		    again.keep_alive != req.keep_alive ||
		    again.has_body != req.has_body ||
		    again.method != req.method)
			abort();
		if (http_parse_request(copy, req.head_len - 1, &again) !=
		    HTTP_PARSE_INCOMPLETE)
			abort();
		free(copy);
		break;
	case HTTP_PARSE_INCOMPLETE:
		if (size >= HTTP_MAX_REQUEST)
			abort();
		break;
	case HTTP_PARSE_ERROR:
		if (req.error == NULL ||
		    (req.error_status != 400 && req.error_status != 414 &&
		        req.error_status != 431 && req.error_status != 505))
			abort();
		break;
	default:
		abort();
	}
	return 0;
}
