#!/bin/bash
# The whole test suite, as the README shows it and CI runs it:
#   1. build with libproc2 and run `make check` (unit + integration tests);
#   2. build with the /proc reader only (the AL2023 / Ubuntu 22.04 path);
#   3. build with ASan+UBSan and run the tests again;
#   4. clang-format, mandoc -Tlint and systemd-analyze verify;
#   5. a short libFuzzer run of every harness;
#   6. make distcheck;
#   7. the Debian package: build, install, check, purge.
# Ends with "N passed, N failed" and exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.." || exit 1
SRC=$(pwd)
OUT=${BUILD_ROOT:-$SRC/build-tests}
JOBS=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0
failures=""

step() { # step NAME command...: one pass/fail line per step
	local name=$1
	shift
	echo "=== $name"
	if "$@"; then
		passed=$((passed + 1))
		echo "=== $name: ok"
	else
		failed=$((failed + 1))
		failures="$failures $name"
		echo "=== $name: FAILED"
	fi
}

# Count the TAP results of a `make check` (PASS/XPASS vs FAIL/ERROR).
count_check() { # count_check BUILD_DIR
	local p f
	p=$(cat "$1"/tests/unit/*.trs "$1"/tests/integration/*.trs 2>/dev/null |
	    grep -c '^:test-result: PASS')
	f=$(cat "$1"/tests/unit/*.trs "$1"/tests/integration/*.trs 2>/dev/null |
	    grep -cE '^:test-result: (FAIL|ERROR|XPASS)')
	echo "--- $1: $p test results passed, $f failed"
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -eq 0 ] || failures="$failures $(basename "$1")-results"
}

build_and_check() { # build_and_check NAME configure-args...
	local name=$1 dir="$OUT/$1"
	shift
	rm -rf "$dir"
	mkdir -p "$dir"
	(cd "$dir" && "$SRC/configure" -q "$@" && make -s -j"$JOBS") || return 1
	(cd "$dir" && make -s -j"$JOBS" check) >"$dir/check.out" 2>&1
	local rc=$?
	grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP)|^# ' "$dir/check.out" | grep -v '^PASS' || true
	count_check "$dir"
	if grep -q '^SKIP' "$dir/check.out"; then
		echo "skipped tests are not allowed"
		return 1
	fi
	return $rc
}

require() {
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 && continue
		echo "required tool $t is missing (run scripts/deps-debian.sh)"
		return 1
	done
}

lint_format() {
	require clang-format-14 || return 1
	local bad=0 f
	for f in $(git ls-files 'src/*.c' 'include/*.h' 'tests/*.c' 'tests/*.h' \
	    'tests/**/*.c' 'tests/**/*.h' 'bench/*.c' 2>/dev/null ||
	    find src include tests bench -name '*.[ch]'); do
		if ! clang-format-14 --dry-run --Werror "$f" >/dev/null 2>&1; then
			echo "not clang-formatted: $f"
			bad=1
		fi
	done
	return $bad
}

lint_man() {
	require mandoc || return 1
	mandoc -Tlint -Wwarning man/healthagent.8 man/healthagent.conf.5
}

verify_unit() {
	require systemd-analyze || return 1
	local d
	d=$(mktemp -d)
	# Point the unit at the freshly built binary so verify can see it.
	sed -e "s|@sbindir@|$OUT/default|g" -e "s|@sysconfdir@|$SRC/etc/..|g" \
	    systemd/healthagent.service.in >"$d/healthagent.service"
	mkdir -p "$d/healthagent" "$d/man/man8" "$d/man/man5"
	# Documentation= is checked with man(1): show it our pages.
	cp man/healthagent.8 "$d/man/man8/"
	cp man/healthagent.conf.5 "$d/man/man5/"
	MANPATH="$d/man" systemd-analyze verify "$d/healthagent.service" 2>&1 |
	    grep -v -e 'Failed to open /etc/healthagent' -e 'bpf' | tee "$d/out"
	local rc=0
	[ -s "$d/out" ] && rc=1
	rm -rf "$d"
	return $rc
}

fuzz_smoke() {
	# Every harness, FUZZ_SECONDS (default 60) each from its seed corpus,
	# under ASan+UBSan; a crash, leak or broken invariant fails the step.
	# The long campaign is bench/fuzz-campaign.sh.
	require clang || return 1
	local dir="$OUT/fuzz"
	rm -rf "$dir"
	mkdir -p "$dir"
	(cd "$dir" && CC=clang "$SRC/configure" -q --enable-fuzzing \
	    --enable-sanitizers --without-libproc2 && make -s -j"$JOBS" fuzz) ||
	    return 1
	local src rc=0
	for src in "$SRC"/tests/fuzz/fuzz_*.c; do
		local name f corpus extra=""
		name=$(basename "$src" .c | sed 's/^fuzz_//')
		f="$dir/tests/fuzz/fuzz_$name"
		if [ ! -x "$f" ]; then
			echo "fuzzer $name was not built"
			rc=1
			continue
		fi
		[ "$name" = http_parse ] && extra="-dict=$SRC/tests/fuzz/http.dict"
		corpus=$(mktemp -d)
		cp "$SRC/tests/fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null
		# shellcheck disable=SC2086
		(cd "$dir" && "$f" -max_total_time="${FUZZ_SECONDS:-60}" \
		    -timeout=10 -print_final_stats=1 $extra "$corpus" \
		    >"$dir/$name.log" 2>&1) || {
			echo "fuzzer $name failed:"
			tail -n 30 "$dir/$name.log"
			rc=1
		}
		rm -rf "$corpus"
	done
	return $rc
}

# Build the .deb from the release tarball, install, check and purge it.
# Slow and root-only, so it runs here rather than inside make check.
deb_package() {
	require dpkg-buildpackage dh || return 1
	local s=""
	[ "$(id -u)" -ne 0 ] && s=sudo
	$s env top_srcdir="$SRC" "$SRC/tests/integration/package.sh"
}

distcheck() {
	(cd "$OUT/default" && make -s distcheck >"$OUT/distcheck.out" 2>&1) || {
		tail -n 40 "$OUT/distcheck.out"
		return 1
	}
}

step autogen ./autogen.sh
step build-libproc2 build_and_check default --with-libproc2=yes
step build-proc-only build_and_check noproc2 --without-libproc2
step build-asan-ubsan build_and_check asan --enable-sanitizers
step clang-format lint_format
step mandoc-lint lint_man
step systemd-verify verify_unit
step fuzz-smoke fuzz_smoke
step distcheck distcheck
step deb-package deb_package

echo
[ -n "$failures" ] && echo "failed steps:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
