#!/bin/sh
# Accelerated soak of the real agent (issue 5, "Soak"): at least 1,000,000
# check executions and 10,000 CloudWatch publish cycles against moto_server
# on loopback, intervals shortened by config (checks every 0.1 s,
# cloudwatch.interval = 0.1 with 100 ms high-resolution periods). Records
# RSS and the fd count of the agent every few seconds, plots them
# (gnuplot), and verifies that no datum is lost and both curves stay flat
# after warm-up. See bench/soak.py for what is checked.
#
#   bench/soak.sh [--quick] [-B BUILD_DIR] [-o OUT_DIR] [extra soak.py args]
#
# --quick: a 2-minute version (same load, no targets on the counts).
# BUILD_DIR holds the built healthagent and tests/fakeapp (default: the
# current directory if it has them, else ./build). Output: OUT_DIR/soak.dat,
# soak-summary.json and soak.png (default OUT_DIR: ./soak-out).
# Needs: python3 with boto3, moto_server, gnuplot (for the plot).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
B=""
OUT=soak-out
QUICK=0
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	-B) B=$2; shift ;;
	-o) OUT=$2; shift ;;
	*) break ;;
	esac
	shift
done
if [ -z "$B" ]; then
	if [ -x ./healthagent ]; then B=.; else B=./build; fi
fi
for f in "$B/healthagent" "$B/tests/fakeapp"; do
	[ -x "$f" ] || { echo "soak: $f is not built (make && make tests/fakeapp)"; exit 1; }
done
command -v moto_server >/dev/null || { echo "soak: moto_server is missing"; exit 1; }
python3 -c 'import boto3' 2>/dev/null || { echo "soak: python3 boto3 is missing"; exit 1; }
mkdir -p "$OUT"
if [ "$QUICK" -eq 1 ]; then
	set -- --checks 0 --publishes 0 --min-seconds 120 --max-seconds 120 \
	    --every 2 --warmup 20 "$@"
fi
exec python3 "$HERE/soak.py" --healthagent "$B/healthagent" \
    --fakeapp "$B/tests/fakeapp" --out "$OUT" --png "$OUT/soak.png" "$@"
