/* SPDX-License-Identifier: ISC */
/*
 * A pure HTTP/1.x request-head parser for the health endpoint. No I/O and no
 * allocation: it reads a buffer and fills a struct of pointers into it. It
 * accepts only what the endpoint needs (request line, headers, no request
 * body) and rejects everything else with the status code to answer.
 */
#ifndef HTTP_PARSE_H
#define HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_REQUEST 8192 /* the whole request head, by default */
#define HTTP_MAX_HEADERS 64

enum http_method { HTTP_M_OTHER, HTTP_M_GET, HTTP_M_HEAD, HTTP_M_MAX };

extern const char *const http_method_names[HTTP_M_MAX];

enum http_parse_rc {
	HTTP_PARSE_OK,         /* a complete head; req->head_len bytes used */
	HTTP_PARSE_INCOMPLETE, /* need more bytes */
	HTTP_PARSE_ERROR,      /* answer req->error_status and close */
};

struct http_str {
	const char *p;
	size_t len;
};

struct http_header {
	struct http_str name, value;
};

struct http_request {
	enum http_method method;
	struct http_str method_str;
	struct http_str target; /* as sent */
	struct http_str path;   /* target without the query */
	struct http_str query;  /* after '?', may be empty */
	int version_minor;      /* HTTP/1.<minor> */
	bool keep_alive;        /* after Connection: and version defaults */
	bool has_body;          /* Content-Length > 0 or Transfer-Encoding */
	size_t head_len;        /* bytes consumed, through the blank line */
	int error_status;       /* 400, 414, 431 or 505 on ERROR */
	const char *error;      /* short static text on ERROR */
	size_t n_headers;       /* entries used in headers[] */
	struct http_header headers[HTTP_MAX_HEADERS];
};

/*
 * Parse the request head at the start of buf[0..len). Stateless: call it
 * again with more bytes after INCOMPLETE. Empty lines before the request
 * line are skipped (and counted in head_len). Bytes past head_len (a body or
 * pipelined requests) are not looked at. INCOMPLETE is only returned while
 * everything seen so far is valid and len < HTTP_MAX_REQUEST. The method is
 * not checked here (unknown or lowercase methods give HTTP_M_OTHER), nor are
 * bodies refused (has_body says whether there is one). Only on OK are the
 * fields other than error_status/error meaningful; they point into buf.
 */
enum http_parse_rc http_parse_request(const char *buf, size_t len,
    struct http_request *req);
/* The same with another limit than HTTP_MAX_REQUEST on the head's size. */
enum http_parse_rc http_parse_request_max(const char *buf, size_t len,
    size_t max, struct http_request *req);
/* Case-insensitive header lookup; NULL if absent. */
const struct http_str *http_header(const struct http_request *req,
    const char *name);

#endif
