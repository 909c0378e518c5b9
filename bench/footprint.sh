#!/bin/sh
# SPDX-License-Identifier: ISC
# healthagent vs monit vs collectd footprint; see bench/footprint.py.
# Usage: bench/footprint.sh BUILDDIR OUTDIR [--quick] [--scaling] ...
exec python3 "$(dirname "$0")/footprint.py" "$@"
