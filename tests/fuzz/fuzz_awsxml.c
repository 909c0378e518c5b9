/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the AWS XML reader. For a few fixed paths it checks
 * that every span handed to the callback lies inside the input, that a span
 * parses again as a well-formed fragment, that awsxml_text agrees with
 * awsxml_each about found / not found, and that the text it writes is
 * NUL-terminated within the buffer. Any violation aborts.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "awsxml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	const char *buf;
	size_t len;
	int calls;
};

static int
span_cb(struct awsxml_span in, void *arg)
{
	struct ctx *c = arg;
	char out[8];

	c->calls++;
	if (in.p < c->buf || in.p > c->buf + c->len || in.len > c->len ||
	    (size_t)(in.p - c->buf) + in.len > c->len)
		abort();
	/* The inner content of a well-formed element is well formed. */
	if (awsxml_each(in.p, in.len, "x", NULL, NULL) < 0)
		abort();
	awsxml_text(in.p, in.len, "Code", out, sizeof(out));
	if (memchr(out, '\0', sizeof(out)) == NULL)
		abort();
	return c->calls >= 64;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {
	    "member",
	    "Error/Code",
	    "ErrorResponse/Error/Message",
	    "Instances/member",
	    "a",
	    "a/b",
	};
	/* A copy of exactly size bytes, so ASan sees any overread. */
	char *buf = malloc(size > 0 ? size : 1);
	char out[32];

	memcpy(buf, data, size);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct ctx c = {buf, size, 0};
		int n = awsxml_each(buf, size, paths[i], span_cb, &c);
		bool found;

		if (n < -1 || (n >= 0 && c.calls != n) || (n < 0 && c.calls))
			abort();
		memset(out, 'X', sizeof(out));
		found = awsxml_text(buf, size, paths[i], out, sizeof(out));
		if (found != (n > 0))
			abort();
		if (memchr(out, '\0', sizeof(out)) == NULL)
			abort();
		if (found && out[0] != '\0' &&
		    (memchr(" \t\r\n", out[0], 4) != NULL ||
		        memchr(" \t\r\n", out[strlen(out) - 1], 4) != NULL))
			abort(); /* trimmed */
	}
	free(buf);
	return 0;
}
