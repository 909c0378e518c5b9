/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the credential parsers: the input goes to
 * creds_parse_json (the IMDS/container document), creds_parse_ini (a shared
 * credentials file, profile "default") and creds_parse_iso8601. Besides
 * memory errors it checks the contracts: a success fills every field with
 * header-safe text, a failure fills nothing and always says why, and a
 * canonical timestamp survives a round trip through gmtime.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "creds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_text(const char *s)
{
	if (s == NULL || *s == '\0')
		abort();
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			abort(); /* would break or inject a header */
}

static void
check_result(int rc, const struct aws_creds *a, const char *err)
{
	if (rc > 0 || (rc == 0 && a->access_key_id != NULL)) {
		check_text(a->access_key_id);
		check_text(a->secret_access_key);
		if (a->session_token != NULL)
			check_text(a->session_token);
		if (a->expiration < 0)
			abort();
	} else {
		if (a->access_key_id != NULL || a->secret_access_key != NULL ||
		    a->session_token != NULL)
			abort(); /* nothing half-filled */
		if (err[0] == '\0')
			abort(); /* a failure says why */
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aws_creds a;
	char err[512], *text, back[32];
	int rc;
	time_t t;

	if (size > 128 * 1024)
		return 0;
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	err[0] = '\0';
	rc = creds_parse_json(text, size, &a, err, sizeof(err));
	if (rc != 0 && rc != -1)
		abort();
	check_result(rc, &a, err);
	if (rc == 0 && (a.session_token == NULL || a.expiration <= 0))
		abort(); /* IMDS documents always carry both */
	creds_clear(&a);
	if (a.access_key_id != NULL)
		abort();

	err[0] = '\0';
	rc = creds_parse_ini(text, size, "default", &a, err, sizeof(err));
	if (rc < -1 || rc > 1)
		abort();
	if (rc == 1)
		check_result(rc, &a, err);
	else if (a.access_key_id != NULL || err[0] == '\0')
		abort();
	creds_clear(&a);

	t = creds_parse_iso8601(text);
	if (t < -1)
		abort();
	if (t >= 0 && size == 20 && text[10] == 'T' && text[19] == 'Z') {
		struct tm tm;

		/* The canonical form round-trips exactly. */
		if (gmtime_r(&t, &tm) == NULL ||
		    strftime(back, sizeof(back), "%Y-%m-%dT%H:%M:%SZ", &tm) !=
		        20 ||
		    memcmp(back, text, 19) != 0)
			abort();
	}
	free(text);
	return 0;
}
