/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for what the agent parses out of IMDS replies. The
 * agent reads its identity as four plain-text meta-data values (not the
 * JSON identity document), so every input is tried as:
 *  - each identity value (imds_parse_value): a success is a non-empty,
 *    NUL-free value of [a-z0-9.-] that passes imds_check_value again and
 *    parses to itself; a failure says why and leaves nothing behind;
 *  - a session token reply (imds_token_ok) and its headers
 *    (imds_granted_ttl, 0 or 1..21600);
 *  - the credentials document (creds_parse_json; fuzz_creds goes deeper);
 *  - the Spot instance-action and rebalance-recommendation JSON
 *    (lifecycle_parse_spot, lifecycle_parse_rebalance) and their timestamp
 *    format (lifecycle_parse_time): a success has a known action and a
 *    time that lifecycle_parse_time agrees with, a failure a reason.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "creds.h"
#include "imds.h"
#include "lifecycle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_err(const char *err)
{
	if (err[0] == '\0')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	char *text, v[256], v2[256], err[512], tiny[4];
	struct lifecycle_spot spot;
	struct aws_creds a;
	int64_t t, notice;
	long ttl;
	int rc;

	if (size > 64 * 1024)
		return 0;
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	for (int f = 0; f < IMDS_FIELD_MAX; f++) {
		err[0] = '\0';
		rc = imds_parse_value((enum imds_field)f, body, size, v,
		    sizeof(v), err, sizeof(err));
		if (rc == 0) {
			size_t n = strlen(v);

			if (n == 0 || n >= sizeof(v) ||
			    strspn(v,
			        "abcdefghijklmnopqrstuvwxyz0123456789.-") != n)
				abort();
			if (imds_check_value((enum imds_field)f, v, NULL, err,
			        sizeof(err)) != 0)
				abort();
			if (imds_parse_value((enum imds_field)f, v, n, v2,
			        sizeof(v2), err, sizeof(err)) != 0 ||
			    strcmp(v, v2) != 0)
				abort();
			/* An AZ always lies in the region it starts with. */
			if (f == IMDS_AVAILABILITY_ZONE && n > 1) {
				char region[256];

				memcpy(region, v, n - 1);
				region[n - 1] = '\0';
				if (v[n - 1] >= 'a' && v[n - 1] <= 'z' &&
				    imds_check_value(IMDS_AVAILABILITY_ZONE, v,
				        region, err, sizeof(err)) != 0)
					abort();
			}
		} else if (rc == -1) {
			check_err(err);
			if (v[0] != '\0')
				abort();
		} else {
			abort();
		}
		/* A short buffer truncates the message, never overflows. */
		if (imds_parse_value((enum imds_field)f, body, size, v, 2, tiny,
		        sizeof(tiny)) == 0 &&
		    strlen(v) > 1)
			abort();
	}

	if (imds_token_ok(body, size)) {
		if (size == 0 || size > 4096)
			abort();
		for (size_t i = 0; i < size; i++)
			if (data[i] <= 0x20 || data[i] >= 0x7f)
				abort();
	}
	ttl = imds_granted_ttl(text);
	if (ttl != 0 && (ttl < 1 || ttl > 21600))
		abort();

	err[0] = '\0';
	rc = creds_parse_json(body, size, &a, err, sizeof(err));
	if (rc == 0) {
		if (a.access_key_id == NULL || a.secret_access_key == NULL)
			abort();
	} else if (rc != -1 || a.access_key_id != NULL) {
		abort();
	} else {
		check_err(err);
	}
	creds_clear(&a);

	err[0] = '\0';
	memset(&spot, 0xa5, sizeof(spot));
	rc = lifecycle_parse_spot(body, size, &spot, err, sizeof(err));
	if (rc == 0) {
		if ((int)spot.action < 0 || spot.action >= LC_SPOT_MAX ||
		    lifecycle_spot_action_names[spot.action] == NULL ||
		    spot.time_ms < 0)
			abort();
	} else if (rc == -1) {
		check_err(err);
	} else {
		abort();
	}

	err[0] = '\0';
	notice = 12345;
	rc = lifecycle_parse_rebalance(body, size, &notice, err, sizeof(err));
	if (rc == 0) {
		if (notice < 0)
			abort();
	} else if (rc == -1) {
		check_err(err);
		if (notice != 0)
			abort();
	} else {
		abort();
	}

	t = lifecycle_parse_time(text);
	if (t < -1)
		abort();
	free(text);
	return 0;
}
