/* SPDX-License-Identifier: ISC */
#ifndef CHECK_TCP_H
#define CHECK_TCP_H

#include "check.h"

extern const struct check_ops check_tcp_ops;

#endif
