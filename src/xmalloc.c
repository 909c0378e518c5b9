/* SPDX-License-Identifier: ISC */
/*
 * Allocation that cannot fail: an agent that cannot allocate a few bytes
 * cannot do anything useful, so it exits and systemd restarts it.
 */
#include "config.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xmalloc.h"

void *
xmalloc(size_t n)
{
	void *p = malloc(n == 0 ? 1 : n);

	if (p == NULL)
		log_fatal("out of memory (%zu bytes)", n);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb == 0 ? 1 : nmemb, size == 0 ? 1 : size);

	if (p == NULL)
		log_fatal("out of memory (%zu x %zu bytes)", nmemb, size);
	return p;
}

void *
xreallocarray(void *p, size_t nmemb, size_t size)
{
	void *n;

	if (size != 0 && nmemb > SIZE_MAX / size)
		log_fatal("allocation overflow (%zu x %zu)", nmemb, size);
	n = realloc(p, nmemb * size == 0 ? 1 : nmemb * size);
	if (n == NULL)
		log_fatal("out of memory (%zu x %zu bytes)", nmemb, size);
	return n;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		log_fatal("out of memory");
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (p == NULL)
		log_fatal("out of memory");
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (r < 0)
		log_fatal("out of memory");
	return p;
}

void
xfreezero(void *p, size_t n)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, n);
	free(p);
}
