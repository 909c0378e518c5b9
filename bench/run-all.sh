#!/bin/sh
# SPDX-License-Identifier: ISC
# Regenerate every benchmark figure into $OUT (default bench/out): the
# footprint beside monit and collectd, CPU by number of checks, /health
# under wrk beside nginx (bench/endpoint-wrk.sh, when present), detection
# latency, CloudWatch API cost with 200 agents, instructions per sampling
# tick and the sampler timings; plus a machine description and PNG plots.
# About 17 minutes on a 2-core machine. Installs nothing: a missing tool
# is an error listing what to install.
#
# Usage: bench/run-all.sh [--quick]
#   BUILD    a configured and built tree (default: bench/out/build, which
#            is configured --with-libproc2=yes and built if missing)
#   BUILD_NOPROC2  a --without-libproc2 build for callgrind (default:
#            bench/out/build-noproc2, likewise)
#   OUT      where results go (default bench/out)
#   --quick  1-minute footprint, 15 s per scaling step, 5 trials, 40 agents
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$top/bench/out}
quick=false
[ "${1:-}" = "--quick" ] && quick=true
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
log() { printf '%s [%s] %s\n' "$(date +%T)" "$(( $(date +%s) - start ))s" "$*" | tee -a "$OUT/run-all.log"; }
start=$(date +%s)
: >"$OUT/run-all.log"

missing=""
for t in wrk monit collectd nginx gnuplot valgrind moto_server python3 gcc pkg-config make; do
	command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
python3 -c 'import boto3' 2>/dev/null || missing="$missing python3-boto3"
if [ -n "$missing" ]; then
	echo "bench/run-all.sh: missing tools:$missing" >&2
	echo "Debian: apt-get install wrk monit collectd-core nginx-light gnuplot-nox valgrind; pip install 'moto[server]' boto3" >&2
	exit 1
fi

build_tree() { # dir configure-args...
	d=$1
	shift
	if [ ! -x "$d/healthagent" ] || [ ! -x "$d/tests/fakeapp" ]; then
		[ -x "$top/configure" ] || { echo "run ./autogen.sh in $top first" >&2; exit 1; }
		mkdir -p "$d"
		log "building $d ($*)"
		(cd "$d" && { [ -f Makefile ] || "$top/configure" -q "$@"; } &&
		    make -j2 >/dev/null && make tests/fakeapp >/dev/null)
	fi
}
BUILD=${BUILD:-$OUT/build}
BUILD_NOPROC2=${BUILD_NOPROC2:-$OUT/build-noproc2}
build_tree "$BUILD" --with-libproc2=yes
build_tree "$BUILD_NOPROC2" --without-libproc2
BUILD=$(cd "$BUILD" && pwd)

# ---- the machine
{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
	echo "cores: $(nproc)"
	echo "ram: $(free -m | awk '/^Mem:/ {print $2 " MiB"}')"
	echo "kernel: $(uname -sr)"
	echo "distro: $(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "healthagent: $("$BUILD/healthagent" --version 2>&1 | head -1) ($(cd "$top" && git rev-parse --short HEAD 2>/dev/null || echo unknown)), libproc2 build: $BUILD"
	echo "monit: $(monit -V 2>&1 | head -1)"
	echo "collectd: $(collectd -h 2>&1 | sed -n 's/^collectd \([0-9.]*\).*/\1/p' | head -1)"
	echo "nginx: $(nginx -v 2>&1)"
	echo "wrk: $(wrk -v 2>&1 | head -1)"
	echo "moto: $(python3 -c 'import moto; print(moto.__version__)')"
	echo "valgrind: $(valgrind --version)"
	echo "gnuplot: $(gnuplot --version)"
	echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/machine.txt"
log "machine: $(tr '\n' ';' <"$OUT/machine.txt")"

if $quick; then
	fp_args="--quick"; trials=5; fleet="--fleet 40 --fleet-minutes 1"
	wrk_args="--quick"
else
	# Sized to stay under 20 minutes on 2 cores: 5 min footprint, 4 x 2 x
	# 20 s scaling, 3 x 4 s per wrk case, 20 trials, 2 fleet minutes
	# after the 130 s warm-up.
	fp_args="--seconds 300 --scale-seconds 20"; trials=20
	fleet="--fleet 200 --fleet-minutes 2"; wrk_args="--runs 3"
fi

log "footprint and scaling"
# shellcheck disable=SC2086
python3 "$top/bench/footprint.py" "$BUILD" "$OUT" $fp_args --scaling >"$OUT/footprint.txt" 2>&1 ||
    { log "footprint FAILED (see $OUT/footprint.txt)"; }

if [ -x "$top/bench/endpoint-wrk.sh" ]; then
	log "endpoint (wrk vs nginx)"
	mkdir -p "$OUT/endpoint"
	# shellcheck disable=SC2086
	OUT="$OUT/endpoint" BUILD="$BUILD" HEALTHAGENT="$BUILD/healthagent" \
	    FAKEAPP="$BUILD/tests/fakeapp" "$top/bench/endpoint-wrk.sh" \
	    $wrk_args >"$OUT/endpoint.txt" 2>&1 ||
	    log "endpoint-wrk FAILED (see $OUT/endpoint.txt)"
else
	log "bench/endpoint-wrk.sh not present: skipped"
fi

log "detection latency ($trials trials)"
python3 "$top/bench/detect-latency.py" "$BUILD" "$trials" "$OUT" >"$OUT/detect-latency.txt" 2>&1 ||
    log "detect-latency FAILED (see $OUT/detect-latency.txt)"

log "API cost ($fleet)"
# shellcheck disable=SC2086
python3 "$top/bench/api-cost.py" "$BUILD" "$OUT" $fleet >"$OUT/api-cost.txt" 2>&1 ||
    log "api-cost FAILED (see $OUT/api-cost.txt)"

log "callgrind: instructions per tick"
{
	echo "== libproc2 build"
	"$top/bench/callgrind-tick.sh" "$BUILD" 2000
	echo "== --without-libproc2 build"
	"$top/bench/callgrind-tick.sh" "$BUILD_NOPROC2" 2000
} >"$OUT/callgrind-tick.txt" 2>&1 || log "callgrind-tick FAILED"

log "sample-bench"
"$top/bench/sample-bench.sh" "$BUILD" 10000 100 >"$OUT/sample-bench.txt" 2>&1 ||
    log "sample-bench FAILED"

log "plots"
"$top/bench/plots.sh" "$OUT" >"$OUT/plots.txt" 2>&1 || log "plots FAILED (see $OUT/plots.txt)"

log "done in $(( $(date +%s) - start )) s; results in $OUT"
