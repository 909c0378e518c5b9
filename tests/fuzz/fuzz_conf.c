/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the configuration loader: the input is loaded as a
 * configuration text with conf_load_string, and the result and every error
 * message are freed again so that leaks show up under LeakSanitizer.
 * Includes resolve against a directory that does not exist.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_errors errs = {0};
	struct conf *c;
	char *text;

	if (size > 65536)
		return 0;
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	c = conf_load_string(text, "fuzz.conf", "/nonexistent-healthagent-fuzz",
	    &errs);
	if (c != NULL) {
		/* exercise the accessors on whatever loaded */
		for (size_t i = 0; i < c->n_checks; i++)
			(void)conf_find_check(c, c->checks[i].name);
		if (errs.n != 0)
			abort(); /* a config that loads has no errors */
	} else if (errs.n == 0)
		abort(); /* a failure always says why */
	for (size_t i = 0; i < errs.n; i++)
		if (strstr(errs.msgs[i], "fuzz.conf") != errs.msgs[i] &&
		    strstr(errs.msgs[i], "/nonexistent-healthagent-fuzz/") !=
		        errs.msgs[i])
			abort(); /* every message starts with the file */
	conf_free(c);
	conf_errors_free(&errs);
	free(text);
	return 0;
}
