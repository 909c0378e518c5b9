/* SPDX-License-Identifier: ISC */
/*
 * Logging to stderr. Each line starts with "<N>", the syslog priority that
 * journald reads from a service's stderr. Control characters in messages are
 * escaped so that untrusted text (paths, HTTP bodies, process names) can
 * never forge a log line.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

static enum log_level max_level = LOG_LEVEL_INFO;
static bool with_prefix = true;

static const char *const level_names[] = {
    [LOG_LEVEL_ERR] = "err",
    [LOG_LEVEL_WARNING] = "warning",
    [LOG_LEVEL_NOTICE] = "notice",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_DEBUG] = "debug",
};

void
log_init(enum log_level max, bool prefix)
{
	max_level = max;
	with_prefix = prefix;
}

void
log_set_level(enum log_level max)
{
	max_level = max;
}

enum log_level
log_get_level(void)
{
	return max_level;
}

int
log_level_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]);
	     i++) {
		if (level_names[i] != NULL &&
		    strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	}
	return -1;
}

void
log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	char raw[2048], out[4096];
	size_t o = 0;
	int saved = errno;

	if (lvl > max_level)
		return;
	vsnprintf(raw, sizeof(raw), fmt, ap);
	for (const unsigned char *p = (const unsigned char *)raw;
	     *p != '\0' && o + 5 < sizeof(out); p++) {
		if (*p < 0x20 || *p == 0x7f) {
			o += (size_t)snprintf(out + o, sizeof(out) - o,
			    "\\x%02x", *p);
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
	if (with_prefix)
		fprintf(stderr, "<%d>%s\n", (int)lvl, out);
	else
		fprintf(stderr, "healthagent: %s\n", out);
	fflush(stderr);
	errno = saved;
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}

void
log_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}
