/* SPDX-License-Identifier: ISC */
#ifndef CHECK_EXEC_H
#define CHECK_EXEC_H

#include "check.h"

extern const struct check_ops check_exec_ops;

#endif
