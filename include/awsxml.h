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
 * out (NUL-terminated, truncated to outlen without splitting a UTF-8
 * sequence). The text is all character data inside the element (CDATA
 * literal, comments skipped), trimmed of surrounding whitespace. Returns
 * true if found; false (and "" in out) if not, or if the input is not
 * well formed.
 */
bool awsxml_text(const char *xml, size_t len, const char *path, char *out,
    size_t outlen);

/* Call cb for each element matching path, in document order (nested
 * matches too), with the span of its inner content (which can be searched
 * again; empty for <x/>). The whole input is checked first: on malformed
 * input (unbalanced tags, bad names, attributes or entity references, a
 * DTD, NUL bytes, nesting deeper than 64) it returns -1 and cb never runs.
 * Otherwise returns the number of matches reported; cb returns non-zero to
 * stop after the current one. cb may be NULL (count only). The input is a
 * fragment: text and several top-level elements are fine. */
typedef int (*awsxml_cb)(struct awsxml_span inner, void *arg);
int awsxml_each(const char *xml, size_t len, const char *path, awsxml_cb cb,
    void *arg);

#endif
