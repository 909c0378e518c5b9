/* SPDX-License-Identifier: ISC */
#ifndef CHECK_THRESHOLD_H
#define CHECK_THRESHOLD_H

#include "check.h"

extern const struct check_ops check_threshold_ops;

#endif
