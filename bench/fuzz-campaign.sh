#!/bin/bash
# SPDX-License-Identifier: ISC
#
# A long libFuzzer campaign over every harness in tests/fuzz, with a summary
# table (executions, exec/s, coverage, corpus, findings) for ROBUSTNESS.md.
#
#   bench/fuzz-campaign.sh [BUILD_DIR [REPLAY_BUILD_DIR]]
#
# BUILD_DIR is a tree configured with
#   CC=clang .../configure --enable-fuzzing [--enable-sanitizers]
# (default: $BUILD or the current directory); the harnesses are built with
# `make fuzz` there first. Every input the campaign kept is then replayed
# by the harnesses of REPLAY_BUILD_DIR (default: BUILD_DIR), with leak
# detection on. The recorded campaign fuzzes without ASan (three to four
# times the executions per second on a loaded 2-core machine) and replays
# under ASan+UBSan:
#   (mkdir fast && cd fast && CC=clang ../configure --enable-fuzzing)
#   (mkdir asan && cd asan && CC=clang ../configure --enable-fuzzing \
#       --enable-sanitizers)
#   bench/fuzz-campaign.sh fast asan
# Environment:
#   RUNS=10000000     executions per harness (libFuzzer -runs)
#   MAX_TIME=3600     seconds per harness at most, whatever RUNS says
#   PARALLEL=2        harnesses run at once, each one process (-jobs is
#                     not used), at nice 10
#   OUT=DIR           where corpora, logs, artifacts and summary.md go
#                     (default: a new directory under ${TMPDIR:-/tmp})
#   HARNESSES="..."   a subset, e.g. "ctl sigv4"
#
# fuzz_conf runs with -detect_leaks=0: libconfig leaks its token text on
# every parse error (suppressed, see fuzz_conf.c), and each suppressed leak
# still costs a full LeakSanitizer scan, a 10x slow-down. Every corpus,
# fuzz_conf's included, is replayed with leak detection on at the end, so
# leaks on any input the campaign kept are still found.
#
# Exit status: 0 when no harness found anything, 1 otherwise, 2 on usage.
set -u

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-${BUILD:-$PWD}}
REPLAY=${2:-$BUILD}
RUNS=${RUNS:-10000000}
MAX_TIME=${MAX_TIME:-3600}
PARALLEL=${PARALLEL:-2}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/healthagent-fuzz.XXXXXX")}
# Longest first, so that the slow ones overlap the quick ones.
HARNESSES=${HARNESSES:-"conf sigv4 awsxml ctl imds creds http_parse"}

if [ ! -f "$BUILD/Makefile" ]; then
	echo "usage: $0 BUILD_DIR (a build configured with --enable-fuzzing)" >&2
	exit 2
fi
make -C "$BUILD" -s fuzz >/dev/null || exit 2
mkdir -p "$OUT"/corpus "$OUT"/logs "$OUT"/artifacts

run_one() {
	local name=$1 f="$BUILD/tests/fuzz/fuzz_$1" extra=()
	local corpus="$OUT/corpus/$name" log="$OUT/logs/$name.log"

	mkdir -p "$corpus"
	[ "$name" = conf ] && extra+=(-detect_leaks=0)
	[ "$name" = http_parse ] && extra+=(-dict="$SRC/tests/fuzz/http.dict")
	[ "$name" = sigv4 ] && extra+=(-max_len=1024)
	echo "$(date +%T) start $name"
	# The output corpus first: new inputs go there, the seeds are read.
	nice -n 10 "$f" -runs="$RUNS" -max_total_time="$MAX_TIME" \
		-print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$OUT/artifacts/$name-" "${extra[@]}" \
		"$corpus" "$SRC/tests/fuzz/corpus/$name" >"$log" 2>&1
	echo "$?" >"$OUT/logs/$name.rc"
	# Replay everything kept, leak detection on. The replay build is
	# made here, one lane at a time, so that it may still be catching up
	# with the tree when the campaign starts.
	if flock "$OUT/replay.lock" make -C "$REPLAY" -s fuzz \
		>"$OUT/logs/$name.replay-build.log" 2>&1; then
		nice -n 10 "$REPLAY/tests/fuzz/fuzz_$name" -runs=0 \
			-detect_leaks=1 -timeout=10 \
			-artifact_prefix="$OUT/artifacts/$name-replay-" \
			"$corpus" >"$OUT/logs/$name.replay.log" 2>&1
		echo "$?" >"$OUT/logs/$name.replay.rc"
	else
		echo "replay build failed" >"$OUT/logs/$name.replay.rc"
	fi
	echo "$(date +%T) done  $name (rc $(cat "$OUT/logs/$name.rc"), replay rc $(cat "$OUT/logs/$name.replay.rc"))"
}

running=0
for name in $HARNESSES; do
	if [ ! -x "$BUILD/tests/fuzz/fuzz_$name" ]; then
		echo "no harness $BUILD/tests/fuzz/fuzz_$name" >&2
		exit 2
	fi
	if [ "$running" -ge "$PARALLEL" ]; then
		wait -n
		running=$((running - 1))
	fi
	run_one "$name" &
	running=$((running + 1))
done
wait

stat_of() { sed -n "s/^stat::$2: *//p" "$OUT/logs/$1.log" | tail -1; }

found=0
{
	echo "| harness | executions | exec/s | time (s) | cov | ft | corpus (files/bytes) | findings |"
	echo "|---|---:|---:|---:|---:|---:|---|---|"
	for name in $HARNESSES; do
		log="$OUT/logs/$name.log"
		execs=$(stat_of "$name" number_of_executed_units)
		eps=$(stat_of "$name" average_exec_per_sec)
		secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
		last=$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -1)
		cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
		ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
		files=$(find "$OUT/corpus/$name" -type f | wc -l)
		bytes=$(find "$OUT/corpus/$name" -type f -printf '%s\n' |
			awk '{s += $1} END {print s + 0}')
		arts=$(find "$OUT/artifacts" -name "$name-*" -type f | wc -l)
		rc=$(cat "$OUT/logs/$name.rc") rrc=$(cat "$OUT/logs/$name.replay.rc")
		if [ "$arts" -gt 0 ] || [ "$rc" != 0 ] || [ "$rrc" != 0 ]; then
			findings="$arts artifact(s), rc $rc, replay rc $rrc"
			found=1
		else
			findings="none"
		fi
		echo "| fuzz_$name | $execs | $eps | $secs | $cov | $ft | $files / $bytes | $findings |"
	done
} >"$OUT/summary.md"
{
	echo
	echo "RUNS=$RUNS MAX_TIME=$MAX_TIME PARALLEL=$PARALLEL, $(nproc) CPUs,"
	echo "fuzzed by $BUILD, replayed by $REPLAY,"
	echo "$(clang --version | head -1), $(date -u +%FT%TZ)"
} >>"$OUT/summary.md"
cat "$OUT/summary.md"
echo "corpora, logs and artifacts: $OUT"
exit $found
