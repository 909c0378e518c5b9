/* SPDX-License-Identifier: ISC */
/*
 * Allocation wrappers that abort on out-of-memory, and freezero for secrets.
 */
#ifndef XMALLOC_H
#define XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Zero then free; for buffers that held secrets. */
void xfreezero(void *p, size_t n);

#endif
