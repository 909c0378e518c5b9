/* SPDX-License-Identifier: ISC */
/*
 * Monotonic time and small helpers that have no better home.
 */
#ifndef UTIL_H
#define UTIL_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC. */
typedef uint64_t mono_ms;

mono_ms util_now_ms(void);
/* Microseconds on CLOCK_MONOTONIC, for latencies. */
uint64_t util_now_us(void);
/* Milliseconds since the epoch (CLOCK_REALTIME), for display only. */
int64_t util_wall_ms(void);
/* Convert seconds (from the config) to milliseconds, rounding. */
mono_ms util_sec_to_ms(double s);

/*
 * Parse "host:port", "[v6]:port" or "v6-literal" forms into a sockaddr.
 * Only numeric hosts are accepted when numeric is true; otherwise names are
 * resolved with getaddrinfo (blocking, so only at config time).
 * Returns 0, or -1 with a message in err.
 */
int util_parse_hostport(const char *s, bool numeric,
    struct sockaddr_storage *ss, socklen_t *len, char *err, size_t errlen);
/* Format a sockaddr as "host:port" or "[v6]:port". */
void util_format_addr(const struct sockaddr *sa, char *buf, size_t len);
/*
 * Capped exponential backoff with jitter: min doubled per attempt (1 is the
 * first retry) up to max, then 80..100% of that, so that a fleet does not
 * retry in step. Uses random(), which the daemon seeds per process.
 */
mono_ms util_backoff(mono_ms min, mono_ms max, unsigned attempt);
/* Set O_NONBLOCK and FD_CLOEXEC. */
int util_set_nonblock(int fd);
/* Copy a string, always NUL-terminating; returns strlen(src). */
size_t util_strlcpy(char *dst, const char *src, size_t size);

#endif
