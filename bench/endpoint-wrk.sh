#!/bin/sh
# /health throughput and latency vs nginx with wrk; see endpoint-wrk.py.
# Usage: bench/endpoint-wrk.sh [--quick]   (HEALTHAGENT=path, OUT=dir)
# Needs wrk, nginx (nginx-light) and gnuplot (gnuplot-nox); runs nginx from
# a temp prefix, never as the system service. < 6 minutes (--quick: ~1).
set -eu
exec python3 "$(dirname "$0")/endpoint-wrk.py" "$@"
