/* SPDX-License-Identifier: ISC */
#ifndef CHECK_HTTP_H
#define CHECK_HTTP_H

#include "check.h"

extern const struct check_ops check_http_ops;

#endif
