/* SPDX-License-Identifier: ISC */
/*
 * The status documents' field writers, shared by every module that adds
 * its part to /status and `healthagent status --json`.
 */
#include "config.h"

#include <stdio.h>

#include "jsonw.h"

void
jsonw_str(json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key,
	    v != NULL ? json_object_new_string(v) : NULL);
}

void
jsonw_int(json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

void
jsonw_bool(json_object *o, const char *key, bool v)
{
	json_object_object_add(o, key, json_object_new_boolean(v));
}

void
jsonw_dbl(json_object *o, const char *key, double v)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%.2f", v);
	json_object_object_add(o, key, json_object_new_double_s(v, buf));
}
