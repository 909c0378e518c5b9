/* SPDX-License-Identifier: ISC */
#ifndef CHECK_PROC_H
#define CHECK_PROC_H

#include "check.h"

extern const struct check_ops check_proc_ops;

#endif
