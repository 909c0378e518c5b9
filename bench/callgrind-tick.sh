#!/bin/sh
# SPDX-License-Identifier: ISC
# Instructions per sampling tick, per backend, counted by callgrind inside
# sampler_read() only (start-up excluded). Repeatable on a noisy machine.
# Usage: bench/callgrind-tick.sh [builddir [ticks]]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top}" && pwd)
ticks=${2:-2000}
test -f "$build/config.h" || { echo "no config.h in $build; run configure" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
srcs="src/log.c src/xmalloc.c src/util.c src/sysstat_proc.c src/sample.c"
pkgs="libcrypto"
backends="proc"
if grep -q '^#define HAVE_LIBPROC2 1' "$build/config.h"; then
	srcs="$srcs src/sysstat_proc2.c"
	pkgs="$pkgs libproc2"
	backends="proc libproc2"
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$top"
${CC:-gcc} -std=gnu11 -O2 -g -Iinclude -I"$build" bench/tick-instructions.c \
    $srcs $(pkg-config --cflags --libs $pkgs) -lm -o "$out/tick"
for b in $backends; do
	valgrind --tool=callgrind --toggle-collect=sampler_read \
	    --callgrind-out-file="$out/cg.$b" "$out/tick" "$b" "$ticks" \
	    >/dev/null 2>"$out/log.$b"
	ir=$(sed -n 's/^summary: //p' "$out/cg.$b")
	echo "$b: $ir instructions in $ticks ticks = $((ir / ticks)) per tick"
done
