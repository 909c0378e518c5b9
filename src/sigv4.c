/* SPDX-License-Identifier: ISC */
/*
 * AWS Signature Version 4 over libcrypto, written by hand because
 * CURLOPT_AWS_SIGV4 behaves differently across the libcurl releases we must
 * build against (7.81 to 8.17: query sorting, session tokens, path encoding
 * and which headers get signed all changed), and the agent must sign exactly
 * the bytes it sends. Pure: it builds the canonical request and the string
 * to sign, derives the key chain and formats the Authorization header; the
 * time is an input and nothing here does I/O.
 */
#include "config.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sigv4.h"
#include "xmalloc.h"

#define ALGORITHM "AWS4-HMAC-SHA256"

/* A growing string. */
struct buf {
	char *p;
	size_t len, cap;
};

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap > 0 ? b->cap : 256;

		while (b->len + n + 1 > cap)
			cap *= 2;
		b->p = xreallocarray(b->p, cap, 1);
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void
buf_addc(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

static bool
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	    c == '~';
}

size_t
sigv4_uri_encode(const char *src, size_t srclen, char *dst, size_t dstlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t need = 0, w = 0;
	bool full = dstlen == 0;

	for (size_t i = 0; i < srclen; i++) {
		unsigned char c = (unsigned char)src[i];
		size_t n = unreserved(c) ? 1 : 3;

		need += n;
		/* Only whole escapes are written; stop at the first that
		 * does not fit. */
		if (full || w + n > dstlen - 1) {
			full = true;
			continue;
		}
		if (n == 1) {
			dst[w++] = (char)c;
		} else {
			dst[w++] = '%';
			dst[w++] = hex[c >> 4];
			dst[w++] = hex[c & 0xf];
		}
	}
	if (dstlen > 0)
		dst[w] = '\0';
	return need;
}

/* Encode, keeping '/' when keep_slash (canonical URI). */
static void
buf_encode(struct buf *b, const char *s, size_t n, bool keep_slash)
{
	char tmp[4];

	for (size_t i = 0; i < n; i++) {
		if (keep_slash && s[i] == '/')
			buf_addc(b, '/');
		else if (sigv4_uri_encode(s + i, 1, tmp, sizeof(tmp)) == 1)
			buf_addc(b, s[i]);
		else
			buf_add(b, tmp, 3);
	}
}

static void
hex_encode(const unsigned char *d, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static int
sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(p != NULL ? p : "", n, md, &mdlen, EVP_sha256(), NULL) !=
	        1 ||
	    mdlen != 32)
		return -1;
	hex_encode(md, 32, out);
	return 0;
}

static int
hmac(const void *key, size_t keylen, const char *msg, unsigned char out[32])
{
	unsigned int len = 0;

	if (HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg,
	        strlen(msg), out, &len) == NULL ||
	    len != 32)
		return -1;
	return 0;
}

/* --- canonical URI ------------------------------------------------------ */

/*
 * Normalise as the SDKs do for every service but S3: empty and "."
 * segments go, ".." removes the one before, a trailing slash stays. Then
 * every byte outside the unreserved set and '/' is percent-encoded; the
 * caller passes the path as sent, so an already-encoded path ends up
 * encoded twice, which is what SigV4 wants for non-S3 services.
 */
static void
canonical_uri(struct buf *b, const char *path)
{
	struct seg {
		const char *p;
		size_t n;
	} * segs;

	size_t nsegs = 0, maxsegs = 1, plen, last_start = 0;
	bool trailing;

	if (path == NULL || *path == '\0')
		path = "/";
	plen = strlen(path);
	for (size_t i = 0; i < plen; i++)
		if (path[i] == '/')
			maxsegs++;
	segs = xcalloc(maxsegs, sizeof(*segs));
	for (size_t i = 0, start = 0; i <= plen; i++) {
		size_t n;

		if (i < plen && path[i] != '/')
			continue;
		n = i - start;
		last_start = start;
		if (n == 0 || (n == 1 && path[start] == '.')) {
			/* nothing */
		} else if (n == 2 && path[start] == '.' &&
		    path[start + 1] == '.') {
			if (nsegs > 0)
				nsegs--;
		} else {
			segs[nsegs].p = path + start;
			segs[nsegs].n = n;
			nsegs++;
		}
		start = i + 1;
	}
	/* The last segment was empty, "." or "..": the path names a
	 * directory. */
	trailing = plen - last_start == 0 ||
	    strcmp(path + last_start, ".") == 0 ||
	    strcmp(path + last_start, "..") == 0;
	for (size_t i = 0; i < nsegs; i++) {
		buf_addc(b, '/');
		buf_encode(b, segs[i].p, segs[i].n, false);
	}
	if (nsegs == 0 || trailing)
		buf_addc(b, '/');
	free(segs);
}

/* --- canonical query ---------------------------------------------------- */

struct qparam {
	char *k, *v;
};

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s[0..n) (malformed escapes stay literal), then encode. */
static char *
reencode(const char *s, size_t n)
{
	char *dec = xmalloc(n + 1);
	size_t m = 0;
	struct buf b = {0};

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
		    hexval(s[i + 2]) >= 0) {
			dec[m++] =
			    (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			dec[m++] = s[i];
		}
	}
	buf_encode(&b, dec, m, false);
	free(dec);
	if (b.p == NULL)
		return xstrdup("");
	return b.p;
}

static int
qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	return c != 0 ? c : strcmp(x->v, y->v);
}

static void
canonical_query(struct buf *b, const char *q)
{
	struct qparam *ps;
	size_t n = 0, max = 1, qlen;

	if (q == NULL || *q == '\0')
		return;
	if (*q == '?')
		q++;
	qlen = strlen(q);
	for (size_t i = 0; i < qlen; i++)
		if (q[i] == '&')
			max++;
	ps = xcalloc(max, sizeof(*ps));
	for (size_t i = 0, start = 0; i <= qlen; i++) {
		const char *piece = q + start, *eq;
		size_t plen = i - start;

		if (i < qlen && q[i] != '&')
			continue;
		start = i + 1;
		if (plen == 0)
			continue;
		eq = memchr(piece, '=', plen);
		if (eq == NULL) {
			ps[n].k = reencode(piece, plen);
			ps[n].v = xstrdup("");
		} else {
			ps[n].k = reencode(piece, (size_t)(eq - piece));
			ps[n].v =
			    reencode(eq + 1, plen - (size_t)(eq - piece) - 1);
		}
		n++;
	}
	qsort(ps, n, sizeof(*ps), qparam_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_addc(b, '&');
		buf_adds(b, ps[i].k);
		buf_addc(b, '=');
		buf_adds(b, ps[i].v);
		free(ps[i].k);
		free(ps[i].v);
	}
	free(ps);
}

/* --- canonical headers -------------------------------------------------- */

struct hdr {
	char *name;  /* lowercase */
	char *value; /* trimmed, whitespace runs collapsed */
	size_t order;
};

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	    c == '\f';
}

static char *
clean_value(const char *v)
{
	struct buf b = {0};
	bool pending = false;

	for (; *v != '\0'; v++) {
		if (is_space(*v)) {
			pending = b.len > 0;
			continue;
		}
		if (pending)
			buf_addc(&b, ' ');
		pending = false;
		buf_addc(&b, *v);
	}
	return b.p != NULL ? b.p : xstrdup("");
}

static int
hdr_cmp(const void *a, const void *b)
{
	const struct hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static bool
reserved_header(const char *name)
{
	return strcmp(name, "host") == 0 || strcmp(name, "x-amz-date") == 0 ||
	    strcmp(name, "x-amz-security-token") == 0 ||
	    strcmp(name, "authorization") == 0;
}

/* Parse "Name: value" into h; -1 if malformed or reserved. */
static int
hdr_parse(const char *line, struct hdr *h)
{
	const char *colon = strchr(line, ':');
	size_t n;

	if (colon == NULL || colon == line)
		return -1;
	n = (size_t)(colon - line);
	/* An RFC 9110 token: ';' or ',' would corrupt the signed-headers
	 * list (found by tests/fuzz/fuzz_sigv4). */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c <= ' ' || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c))
			return -1;
	}
	h->name = xstrndup(line, n);
	for (size_t i = 0; i < n; i++)
		if (h->name[i] >= 'A' && h->name[i] <= 'Z')
			h->name[i] = (char)(h->name[i] - 'A' + 'a');
	if (reserved_header(h->name)) {
		free(h->name);
		h->name = NULL;
		return -1;
	}
	h->value = clean_value(colon + 1);
	return 0;
}

/* --- signing ------------------------------------------------------------ */

static bool
plain_word(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || *s == '/' ||
		    (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static int
build(const struct sigv4_input *in, const struct sigv4_key *key,
    struct sigv4_output *out, struct buf *creq, struct buf *signed_hdrs)
{
	struct hdr *hs;
	size_t nin = 0, n = 0;
	bool token = key->session_token != NULL && *key->session_token != '\0';
	int rc = 0;

	for (size_t i = 0; in->headers != NULL && in->headers[i] != NULL; i++)
		nin++;
	hs = xcalloc(nin + 3, sizeof(*hs));
	for (size_t i = 0; i < nin; i++) {
		if (hdr_parse(in->headers[i], &hs[n]) < 0) {
			rc = -1;
			goto out;
		}
		hs[n].order = n;
		n++;
	}
	hs[n].name = xstrdup("host");
	hs[n].value = clean_value(in->host);
	hs[n].order = n;
	n++;
	hs[n].name = xstrdup("x-amz-date");
	hs[n].value = xstrdup(out->amz_date);
	hs[n].order = n;
	n++;
	if (token) {
		hs[n].name = xstrdup("x-amz-security-token");
		hs[n].value = clean_value(key->session_token);
		hs[n].order = n;
		n++;
	}
	qsort(hs, n, sizeof(*hs), hdr_cmp);

	buf_adds(creq, in->method);
	buf_addc(creq, '\n');
	canonical_uri(creq, in->path);
	buf_addc(creq, '\n');
	canonical_query(creq, in->query);
	buf_addc(creq, '\n');
	for (size_t i = 0; i < n; i++) {
		bool repeat = i > 0 && strcmp(hs[i].name, hs[i - 1].name) == 0;

		if (repeat) {
			buf_addc(creq, ',');
		} else {
			if (i > 0) {
				buf_addc(creq, '\n');
				buf_addc(signed_hdrs, ';');
			}
			buf_adds(creq, hs[i].name);
			buf_addc(creq, ':');
			buf_adds(signed_hdrs, hs[i].name);
		}
		buf_adds(creq, hs[i].value);
	}
	buf_adds(creq, "\n\n");
	buf_adds(creq, signed_hdrs->p);
	buf_addc(creq, '\n');
	buf_adds(creq, out->payload_hash);
out:
	for (size_t i = 0; i < n; i++) {
		free(hs[i].name);
		xfreezero(hs[i].value, strlen(hs[i].value) + 1);
	}
	free(hs);
	return rc;
}

int
sigv4_signing_key(const char *secret, const char *date, const char *region,
    const char *service, unsigned char k[32])
{
	size_t slen;
	char *k0;
	unsigned char t[32];
	int rc;

	if (secret == NULL || date == NULL || region == NULL || service == NULL)
		return -1;
	slen = strlen(secret);
	k0 = xmalloc(slen + 5);

	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, secret, slen + 1);
	rc = hmac(k0, slen + 4, date, t) < 0 || hmac(t, 32, region, k) < 0 ||
	        hmac(k, 32, service, t) < 0 ||
	        hmac(t, 32, "aws4_request", k) < 0
	    ? -1
	    : 0;
	OPENSSL_cleanse(t, sizeof(t));
	xfreezero(k0, slen + 5);
	return rc;
}

int
sigv4_sign(const struct sigv4_input *in, const struct sigv4_key *key,
    struct sigv4_output *out)
{
	struct buf creq = {0}, shdrs = {0}, sts = {0};
	struct tm tm;
	char date[9], creq_hash[65];
	unsigned char k[32], sig[32];
	int n;

	memset(out, 0, sizeof(*out));
	if (in == NULL || key == NULL || in->method == NULL ||
	    *in->method == '\0' || in->host == NULL || *in->host == '\0' ||
	    !plain_word(in->region) || !plain_word(in->service) ||
	    !plain_word(key->access_key_id) || key->secret_access_key == NULL ||
	    *key->secret_access_key == '\0' ||
	    (in->payload == NULL && in->payload_len > 0))
		return -1;
	if (gmtime_r(&in->when, &tm) == NULL || tm.tm_year + 1900 < 1970 ||
	    tm.tm_year + 1900 > 9999)
		return -1;
	strftime(out->amz_date, sizeof(out->amz_date), "%Y%m%dT%H%M%SZ", &tm);
	memcpy(date, out->amz_date, 8);
	date[8] = '\0';
	if (sha256_hex(in->payload, in->payload_len, out->payload_hash) < 0)
		return -1;
	if (build(in, key, out, &creq, &shdrs) < 0 ||
	    sha256_hex(creq.p, creq.len, creq_hash) < 0)
		goto fail;

	buf_adds(&sts, ALGORITHM "\n");
	buf_adds(&sts, out->amz_date);
	buf_addc(&sts, '\n');
	buf_adds(&sts, date);
	buf_addc(&sts, '/');
	buf_adds(&sts, in->region);
	buf_addc(&sts, '/');
	buf_adds(&sts, in->service);
	buf_adds(&sts, "/aws4_request\n");
	buf_adds(&sts, creq_hash);

	if (sigv4_signing_key(key->secret_access_key, date, in->region,
	        in->service, k) < 0 ||
	    hmac(k, sizeof(k), sts.p, sig) < 0) {
		OPENSSL_cleanse(k, sizeof(k));
		goto fail;
	}
	OPENSSL_cleanse(k, sizeof(k));
	hex_encode(sig, sizeof(sig), out->signature);
	n = snprintf(out->authorization, sizeof(out->authorization),
	    ALGORITHM " Credential=%s/%s/%s/%s/aws4_request, "
	              "SignedHeaders=%s, Signature=%s",
	    key->access_key_id, date, in->region, in->service, shdrs.p,
	    out->signature);
	if (n < 0 || (size_t)n >= sizeof(out->authorization))
		goto fail;
	out->canonical_request = creq.p;
	out->string_to_sign = sts.p;
	free(shdrs.p);
	return 0;
fail:
	if (creq.p != NULL)
		xfreezero(creq.p, creq.cap);
	free(shdrs.p);
	free(sts.p);
	memset(out, 0, sizeof(*out));
	return -1;
}

void
sigv4_output_free(struct sigv4_output *out)
{
	if (out == NULL)
		return;
	/* The canonical request carries the session token. */
	if (out->canonical_request != NULL)
		xfreezero(out->canonical_request,
		    strlen(out->canonical_request) + 1);
	if (out->string_to_sign != NULL)
		xfreezero(out->string_to_sign, strlen(out->string_to_sign) + 1);
	out->canonical_request = NULL;
	out->string_to_sign = NULL;
}
