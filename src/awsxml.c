/* SPDX-License-Identifier: ISC */
/*
 * A small, strict, non-allocating reader for the XML that AWS Query APIs
 * answer with. A lexer turns the input into tags, text, CDATA, comments and
 * processing instructions; every query first checks that the whole input is
 * well formed (balanced tags, valid names, attributes and entity
 * references, bounded depth, no DTD), then walks it again matching element
 * local names against a slash path. Spans handed out always lie inside the
 * input; malformed input is reported, never guessed at.
 */
#include "config.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "awsxml.h"

#define MAX_DEPTH 64 /* nesting; AWS replies use fewer than 10 levels */
#define MAX_PATH 16  /* components in a path */

enum tok {
	T_EOF,
	T_ERR,
	T_START, /* <name ...> */
	T_EMPTY, /* <name .../> */
	T_END,   /* </name> */
	T_TEXT,
	T_CDATA,
	T_SKIP, /* comment or processing instruction */
};

struct lexer {
	const char *p, *end;
};

struct token {
	enum tok t;
	const char *begin; /* the first byte of the token */
	const char *name;  /* qualified name of a tag */
	size_t nlen;
	const char *s; /* text or CDATA content */
	size_t slen;
};

struct name {
	const char *p;
	size_t n;
};

static bool
name_start(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
	    c == ':' || c >= 0x80;
}

static bool
name_char(unsigned char c)
{
	return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static bool
xml_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The part of a qualified name after the last ':'. */
static struct name
local_name(const char *p, size_t n)
{
	struct name r = {p, n};

	for (size_t i = 0; i < n; i++)
		if (p[i] == ':') {
			r.p = p + i + 1;
			r.n = n - i - 1;
		}
	return r;
}

static bool
starts(const struct lexer *lx, const char *s)
{
	size_t n = strlen(s);

	return (size_t)(lx->end - lx->p) >= n && memcmp(lx->p, s, n) == 0;
}

/* Find s at or after p; returns its start or NULL. */
static const char *
find(const char *p, const char *end, const char *s)
{
	size_t n = strlen(s);

	while ((size_t)(end - p) >= n) {
		if (memcmp(p, s, n) == 0)
			return p;
		p++;
	}
	return NULL;
}

/*
 * Parse the entity reference at p ('&'); returns its length through ';'
 * and the code point, or 0 if it is not one we accept (the five
 * predefined ones and decimal or hex character references).
 */
static size_t
entity(const char *p, const char *end, uint32_t *cp)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {
	    {"lt;", '<'},
	    {"gt;", '>'},
	    {"amp;", '&'},
	    {"quot;", '"'},
	    {"apos;", '\''},
	};

	size_t avail = (size_t)(end - p), i;
	uint32_t v = 0;
	bool hex;

	if (avail < 3 || p[0] != '&')
		return 0;
	for (i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		size_t n = strlen(named[i].name);

		if (avail - 1 >= n && memcmp(p + 1, named[i].name, n) == 0) {
			*cp = (unsigned char)named[i].c;
			return n + 1;
		}
	}
	if (p[1] != '#')
		return 0;
	hex = p[2] == 'x';
	i = hex ? 3 : 2;
	if (i >= avail || p[i] == ';')
		return 0;
	for (; i < avail && p[i] != ';'; i++) {
		int d;

		if (p[i] >= '0' && p[i] <= '9')
			d = p[i] - '0';
		else if (hex && p[i] >= 'a' && p[i] <= 'f')
			d = p[i] - 'a' + 10;
		else if (hex && p[i] >= 'A' && p[i] <= 'F')
			d = p[i] - 'A' + 10;
		else
			return 0;
		v = v * (hex ? 16 : 10) + (uint32_t)d;
		if (v > 0x10ffff)
			return 0;
	}
	if (i >= avail || v == 0 || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return i + 1;
}

/* Check that character data has no stray '&' and no NUL. */
static bool
chars_ok(const char *p, const char *end)
{
	while (p < end) {
		uint32_t cp;
		size_t n;

		if (*p == '\0')
			return false;
		if (*p != '&') {
			p++;
			continue;
		}
		n = entity(p, end, &cp);
		if (n == 0)
			return false;
		p += n;
	}
	return true;
}

static const char *
scan_name(const char *p, const char *end)
{
	if (p >= end || !name_start((unsigned char)*p))
		return NULL;
	while (p < end && name_char((unsigned char)*p))
		p++;
	return p;
}

static enum tok
lex_tag(struct lexer *lx, struct token *tk)
{
	const char *p = lx->p + 1, *end = lx->end, *q;
	bool close = false;

	if (p < end && *p == '/') {
		close = true;
		p++;
	}
	q = scan_name(p, end);
	if (q == NULL)
		return T_ERR;
	tk->name = p;
	tk->nlen = (size_t)(q - p);
	if (local_name(tk->name, tk->nlen).n == 0)
		return T_ERR;
	p = q;
	if (close) {
		while (p < end && xml_space(*p))
			p++;
		if (p >= end || *p != '>')
			return T_ERR;
		lx->p = p + 1;
		return T_END;
	}
	for (;;) {
		bool space = false;
		char quote;

		while (p < end && xml_space(*p)) {
			p++;
			space = true;
		}
		if (p >= end)
			return T_ERR;
		if (*p == '>') {
			lx->p = p + 1;
			return T_START;
		}
		if (*p == '/') {
			if (p + 1 >= end || p[1] != '>')
				return T_ERR;
			lx->p = p + 2;
			return T_EMPTY;
		}
		/* An attribute: whitespace, name, '=', quoted value. */
		if (!space || (q = scan_name(p, end)) == NULL)
			return T_ERR;
		p = q;
		while (p < end && xml_space(*p))
			p++;
		if (p >= end || *p != '=')
			return T_ERR;
		p++;
		while (p < end && xml_space(*p))
			p++;
		if (p >= end || (*p != '"' && *p != '\''))
			return T_ERR;
		quote = *p++;
		q = memchr(p, quote, (size_t)(end - p));
		if (q == NULL || memchr(p, '<', (size_t)(q - p)) != NULL ||
		    !chars_ok(p, q))
			return T_ERR;
		p = q + 1;
	}
}

static enum tok
lex(struct lexer *lx, struct token *tk)
{
	const char *q;

	memset(tk, 0, sizeof(*tk));
	tk->begin = lx->p;
	if (lx->p >= lx->end)
		return tk->t = T_EOF;
	if (*lx->p != '<') {
		q = memchr(lx->p, '<', (size_t)(lx->end - lx->p));
		if (q == NULL)
			q = lx->end;
		if (!chars_ok(lx->p, q))
			return tk->t = T_ERR;
		tk->s = lx->p;
		tk->slen = (size_t)(q - lx->p);
		lx->p = q;
		return tk->t = T_TEXT;
	}
	if (starts(lx, "<!--")) {
		q = find(lx->p + 4, lx->end, "-->");
		if (q == NULL)
			return tk->t = T_ERR;
		lx->p = q + 3;
		return tk->t = T_SKIP;
	}
	if (starts(lx, "<![CDATA[")) {
		tk->s = lx->p + 9;
		q = find(tk->s, lx->end, "]]>");
		if (q == NULL || memchr(tk->s, '\0', (size_t)(q - tk->s)))
			return tk->t = T_ERR;
		tk->slen = (size_t)(q - tk->s);
		lx->p = q + 3;
		return tk->t = T_CDATA;
	}
	if (starts(lx, "<?")) {
		if (scan_name(lx->p + 2, lx->end) == NULL)
			return tk->t = T_ERR;
		q = find(lx->p + 2, lx->end, "?>");
		if (q == NULL || memchr(lx->p, '\0', (size_t)(q - lx->p)))
			return tk->t = T_ERR;
		lx->p = q + 2;
		return tk->t = T_SKIP;
	}
	if (starts(lx, "<!"))
		return tk->t = T_ERR; /* DOCTYPE and the like: not for us */
	return tk->t = lex_tag(lx, tk);
}

static void
lexer_init(struct lexer *lx, const char *xml, size_t len)
{
	lx->p = xml;
	lx->end = xml + len;
	if (len >= 3 && memcmp(xml, "\xef\xbb\xbf", 3) == 0)
		lx->p += 3;
}

/* Is the whole input a well-formed fragment? */
static bool
well_formed(const char *xml, size_t len)
{
	struct lexer lx;
	struct token tk;
	struct name stack[MAX_DEPTH];
	size_t depth = 0;

	lexer_init(&lx, xml, len);
	for (;;) {
		switch (lex(&lx, &tk)) {
		case T_EOF:
			return depth == 0;
		case T_ERR:
			return false;
		case T_START:
			if (depth == MAX_DEPTH)
				return false;
			stack[depth].p = tk.name;
			stack[depth].n = tk.nlen;
			depth++;
			break;
		case T_END:
			if (depth == 0 || stack[depth - 1].n != tk.nlen ||
			    memcmp(stack[depth - 1].p, tk.name, tk.nlen) != 0)
				return false;
			depth--;
			break;
		case T_EMPTY:
			if (depth == MAX_DEPTH)
				return false;
			break;
		case T_TEXT:
		case T_CDATA:
		case T_SKIP:
			break;
		}
	}
}

/* Split path into components; 0 if empty, malformed or too long. */
static size_t
split_path(const char *path, struct name comp[MAX_PATH])
{
	size_t n = 0;

	if (path == NULL || *path == '\0')
		return 0;
	for (const char *p = path;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash != NULL ? (size_t)(slash - p) : strlen(p);

		if (len == 0 || n == MAX_PATH)
			return 0;
		comp[n].p = p;
		comp[n].n = len;
		n++;
		if (slash == NULL)
			return n;
		p = slash + 1;
	}
}

static bool
matches(const struct name *stack, size_t depth, const struct name *comp,
    size_t ncomp)
{
	if (depth < ncomp)
		return false;
	for (size_t i = 0; i < ncomp; i++) {
		const struct name *s = &stack[depth - ncomp + i];

		if (s->n != comp[i].n || memcmp(s->p, comp[i].p, s->n) != 0)
			return false;
	}
	return true;
}

/* The content of the element whose start tag ended at lx; the input is
 * known to be well formed. */
static size_t
inner_len(const struct lexer *at)
{
	struct lexer lx = *at;
	struct token tk;
	size_t depth = 0;

	for (;;) {
		switch (lex(&lx, &tk)) {
		case T_START:
			depth++;
			break;
		case T_END:
			if (depth == 0)
				return (size_t)(tk.begin - at->p);
			depth--;
			break;
		case T_EOF:
		case T_ERR: /* not reached after well_formed() */
			return (size_t)(tk.begin - at->p);
		default:
			break;
		}
	}
}

int
awsxml_each(const char *xml, size_t len, const char *path, awsxml_cb cb,
    void *arg)
{
	struct name comp[MAX_PATH], stack[MAX_DEPTH];
	size_t ncomp, depth = 0;
	struct lexer lx;
	struct token tk;
	int found = 0;

	if (xml == NULL && len > 0)
		return -1;
	ncomp = split_path(path, comp);
	if (ncomp == 0 || (len > 0 && !well_formed(xml, len)))
		return -1;
	if (len == 0)
		return 0;
	lexer_init(&lx, xml, len);
	for (;;) {
		enum tok t = lex(&lx, &tk);
		struct awsxml_span inner;

		if (t == T_EOF || t == T_ERR)
			break;
		if (t == T_END) {
			if (depth > 0)
				depth--;
			continue;
		}
		if (t != T_START && t != T_EMPTY)
			continue;
		if (depth == MAX_DEPTH)
			break; /* not reached after well_formed() */
		stack[depth++] = local_name(tk.name, tk.nlen);
		if (matches(stack, depth, comp, ncomp)) {
			inner.p = lx.p;
			inner.len = t == T_EMPTY ? 0 : inner_len(&lx);
			if (found < INT_MAX)
				found++;
			if (cb != NULL && cb(inner, arg) != 0)
				break;
		}
		if (t == T_EMPTY)
			depth--;
	}
	return found;
}

static int
first_cb(struct awsxml_span inner, void *arg)
{
	*(struct awsxml_span *)arg = inner;
	return 1;
}

/* Output with truncation. */
struct out {
	char *p;
	size_t len, cap; /* cap excludes the NUL */
	bool full;
	bool started; /* a non-space byte was written */
};

static void
out_bytes(struct out *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!o->started && xml_space(s[i]))
			continue;
		o->started = true;
		if (o->len >= o->cap) {
			o->full = true;
			return;
		}
		o->p[o->len++] = s[i];
	}
}

/* Append one code point as UTF-8, whole or not at all. */
static void
out_cp(struct out *o, uint32_t cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (o->started || !xml_space(u[0])) {
		if (o->len + n > o->cap) {
			o->full = true;
			return;
		}
	}
	out_bytes(o, u, n);
}

static void
out_text(struct out *o, const char *p, size_t n)
{
	const char *end = p + n;

	while (p < end && !o->full) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		uint32_t cp;
		size_t el;

		if (amp == NULL)
			amp = end;
		out_bytes(o, p, (size_t)(amp - p));
		if (amp == end || o->full)
			break;
		el = entity(amp, end, &cp);
		if (el == 0)
			break; /* not reached after well_formed() */
		out_cp(o, cp);
		p = amp + el;
	}
}

/* Drop an incomplete UTF-8 sequence left at the end by truncation. */
static void
trim_partial_utf8(struct out *o)
{
	size_t i = o->len, back = 0;

	while (
	    i > 0 && back < 4 && ((unsigned char)o->p[i - 1] & 0xc0) == 0x80) {
		i--;
		back++;
	}
	if (i > 0) {
		unsigned char lead = (unsigned char)o->p[i - 1];
		size_t want = lead >= 0xf0 ? 4
		    : lead >= 0xe0         ? 3
		    : lead >= 0xc0         ? 2
		                           : 1;

		if (want > 1 && back + 1 < want)
			o->len = i - 1;
	}
}

bool
awsxml_text(const char *xml, size_t len, const char *path, char *out,
    size_t outlen)
{
	struct awsxml_span span = {NULL, 0};
	struct lexer lx;
	struct token tk;
	struct out o = {out, 0, outlen > 0 ? outlen - 1 : 0, false, false};

	if (outlen > 0)
		out[0] = '\0';
	if (awsxml_each(xml, len, path, first_cb, &span) <= 0)
		return false;
	if (outlen == 0)
		return true;
	lx.p = span.p;
	lx.end = span.p + span.len;
	for (enum tok t; !o.full && (t = lex(&lx, &tk)) != T_EOF;) {
		if (t == T_ERR)
			break; /* not reached after well_formed() */
		if (t == T_TEXT)
			out_text(&o, tk.s, tk.slen);
		else if (t == T_CDATA)
			out_bytes(&o, tk.s, tk.slen);
	}
	if (o.full)
		trim_partial_utf8(&o);
	while (o.len > 0 && xml_space(out[o.len - 1]))
		o.len--;
	out[o.len] = '\0';
	return true;
}
