/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the configuration loader, through a file as the
 * agent reads it: the input is written to fuzz.conf in a private temporary
 * directory (under $TMPDIR, or /dev/shm when it exists, to stay off the
 * disk) and loaded with conf_load; the result and every error message are
 * freed again so that leaks show up under LeakSanitizer. Includes resolve
 * in that directory, where nothing else lives.
 */
#include "config.h"

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/*
 * libconfig 1.5's scanner leaks the text of string tokens (allocated in
 * libconfig_yylex/strbuf_append) when a parse error interrupts them: there is
 * no bison %destructor. That is inside the library, not ours, so allocations
 * made by libconfig itself are not reported.
 */
const char *
__lsan_default_suppressions(void)
{
	return "leak:libconfig.so\n";
}

static char dir[4096], path[4200];

static void
cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

static void
setup(void)
{
	const char *t = getenv("TMPDIR");

	if (access("/dev/shm", W_OK) == 0)
		t = "/dev/shm";
	else if (t == NULL || *t == '\0')
		t = "/tmp";
	snprintf(dir, sizeof(dir), "%s/healthagent-fuzz-conf.XXXXXX", t);
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/fuzz.conf", dir);
	atexit(cleanup);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_errors errs = {0};
	struct conf *c;
	size_t off = 0;
	int fd;

	if (size > 65536)
		return 0;
	/* An absolute @include could name /dev/zero or a FIFO: not the
	 * loader's problem (the file is root's), so not explored. */
	if (memmem(data, size, "@include", 8) != NULL &&
	    memmem(data, size, "\"/", 2) != NULL)
		return 0;
	if (dir[0] == '\0')
		setup();
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		abort();
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);

		if (n <= 0)
			abort();
		off += (size_t)n;
	}
	close(fd);
	c = conf_load(path, &errs);
	if (c != NULL) {
		/* exercise the accessors on whatever loaded */
		for (size_t i = 0; i < c->n_checks; i++)
			(void)conf_find_check(c, c->checks[i].name);
		if (errs.n != 0)
			abort(); /* a config that loads has no errors */
	} else if (errs.n == 0)
		abort(); /* a failure always says why */
	for (size_t i = 0; i < errs.n; i++)
		if (strncmp(errs.msgs[i], dir, strlen(dir)) != 0)
			abort(); /* every message starts with the file */
	conf_free(c);
	conf_errors_free(&errs);
	return 0;
}
