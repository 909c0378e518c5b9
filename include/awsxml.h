/* SPDX-License-Identifier: ISC */
/*
 * A minimal, pure reader for the small XML documents AWS Query APIs answer
 * with: find the text of an element by a slash path, or walk repeated
 * elements. Hand-written because the agent reads a dozen fields from
 * well-formed service replies and a full XML library would be the largest
 * dependency in the build; it is fuzzed, bounded and never allocates.
 * Entities &lt; &gt; &amp; &quot; &apos; and &#NN; are decoded.
 */
#ifndef AWSXML_H
#define AWSXML_H

#include <stdbool.h>
#include <stddef.h>

struct awsxml_span {
	const char *p;
	size_t len;
};

/*
 * Find the first element matching path ("ErrorResponse/Error/Code";
 * element names are matched without namespace prefixes, and the path may
 * start at any depth) within xml[0..len), and copy its decoded text into
 * out (NUL-terminated, truncated to outlen). Returns true if found.
 */
bool awsxml_text(const char *xml, size_t len, const char *path, char *out,
    size_t outlen);

/* Call cb for each element matching path, with the span of its inner
 * content (which can be searched again). Returns the number found, or -1
 * on malformed input. cb returns non-zero to stop. */
typedef int (*awsxml_cb)(struct awsxml_span inner, void *arg);
int awsxml_each(const char *xml, size_t len, const char *path, awsxml_cb cb,
    void *arg);

#endif
