/* SPDX-License-Identifier: ISC */
/*
 * A tiny TAP producer for the unit tests: ok(), is_int(), is_str(),
 * is_dbl() and done_testing(). Header-only so every test stays one file.
 */
#ifndef TAP_H
#define TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

static inline int __attribute__((format(printf, 2, 3)))
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		tap_failed++;
	fflush(stdout);
	return cond;
}

#define is_int(got, want, ...)                                                 \
	do {                                                                   \
		long long g_ = (long long)(got), w_ = (long long)(want);       \
		if (!ok(g_ == w_, __VA_ARGS__))                                \
			printf("#   got %lld, want %lld\n", g_, w_);           \
	} while (0)

#define is_str(got, want, ...)                                                 \
	do {                                                                   \
		const char *g_ = (got), *w_ = (want);                          \
		if (!ok(g_ != NULL && w_ != NULL && strcmp(g_, w_) == 0,       \
		        __VA_ARGS__))                                          \
			printf("#   got \"%s\", want \"%s\"\n",                \
			    g_ ? g_ : "(null)", w_ ? w_ : "(null)");           \
	} while (0)

#define is_dbl(got, want, eps, ...)                                            \
	do {                                                                   \
		double g_ = (got), w_ = (want);                                \
		if (!ok(fabs(g_ - w_) <= (eps), __VA_ARGS__))                  \
			printf("#   got %g, want %g\n", g_, w_);               \
	} while (0)

static inline int
done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed == 0 ? 0 : 1;
}

#endif
