/* SPDX-License-Identifier: ISC */
/*
 * Small writers for the status documents built with json-c, so that every
 * module renders strings, numbers and booleans the same way: a NULL string
 * is JSON null, doubles carry two decimals.
 */
#ifndef JSONW_H
#define JSONW_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

void jsonw_str(json_object *o, const char *key, const char *v);
void jsonw_int(json_object *o, const char *key, int64_t v);
void jsonw_bool(json_object *o, const char *key, bool v);
/* A double printed with two decimals (percentages, milliseconds). */
void jsonw_dbl(json_object *o, const char *key, double v);

#endif
