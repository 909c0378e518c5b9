/* SPDX-License-Identifier: ISC */
/*
 * AWS Signature Version 4, pure: canonical request, string to sign, the
 * HMAC-SHA256 key chain and the Authorization header, over libcrypto. Done
 * in-house because CURLOPT_AWS_SIGV4 behaves differently in every libcurl
 * release between 7.81 and 8.17 (query sorting, session tokens, path
 * encoding). No I/O, no clock: the time is an input.
 */
#ifndef SIGV4_H
#define SIGV4_H

#include <stddef.h>
#include <time.h>

struct sigv4_key {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token; /* NULL or "" when not temporary */
};

struct sigv4_input {
	const char *method; /* "POST" */
	const char *host;   /* as sent in Host:, with a non-default port */
	/* The path as sent, "/" for Query APIs. It is normalised (empty,
	 * "." and ".." segments) and percent-encoded once more, as SigV4
	 * wants for every service but S3. */
	const char *path;
	/* The query as sent "a=b&c", or NULL: each key and value is
	 * percent-decoded, re-encoded and the pairs sorted. */
	const char *query;
	/* Further headers to sign, "Name: value", NULL-terminated, or NULL
	 * (content-type, content-encoding, ...). host, x-amz-date and
	 * x-amz-security-token are added by sigv4_sign and must not be
	 * given here (nor authorization). Names must be RFC 9110 tokens
	 * (signing fails otherwise) and are lowercased, values
	 * trimmed with inner whitespace runs collapsed, repeated names
	 * joined with ','. */
	const char *const *headers;
	const void *payload;
	size_t payload_len;
	const char *region;  /* "us-east-1" */
	const char *service; /* signing name: "monitoring", "autoscaling" */
	time_t when;         /* UTC seconds */
};

struct sigv4_output {
	char amz_date[17];     /* YYYYMMDDTHHMMSSZ */
	char payload_hash[65]; /* lowercase hex SHA-256 of the payload */
	char signature[65];
	char authorization[1024]; /* the Authorization header value */
	/* For tests and debugging; malloc'd, freed by sigv4_output_free. */
	char *canonical_request;
	char *string_to_sign;
};

/* Sign; 0, or -1 on bad input or a libcrypto failure. */
int sigv4_sign(const struct sigv4_input *in, const struct sigv4_key *key,
    struct sigv4_output *out);
void sigv4_output_free(struct sigv4_output *out);

/* The derived key kSigning = HMAC chain over "AWS4"+secret, date
 * (YYYYMMDD), region, service and "aws4_request"; 0 or -1. */
int sigv4_signing_key(const char *secret, const char *date8, const char *region,
    const char *service, unsigned char out[32]);

/* RFC 3986 percent-encoding as SigV4 wants it (unreserved A-Z a-z 0-9 -_.~
 * kept, everything else %XX uppercase, so space is %20). Writes to dst of
 * size dstlen, NUL-terminated, only whole escapes; returns the length
 * needed without the NUL (like snprintf). For Query form bodies too. */
size_t sigv4_uri_encode(const char *src, size_t srclen, char *dst,
    size_t dstlen);

#endif
