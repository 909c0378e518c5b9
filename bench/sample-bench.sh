#!/bin/sh
# SPDX-License-Identifier: ISC
# Build bench/sample-bench.c at -O2 from the sampler sources and run it.
# Usage: bench/sample-bench.sh [builddir [ticks [scans]]]
# builddir holds config.h from ./configure (default: the source tree).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top}" && pwd)
test -f "$build/config.h" || { echo "no config.h in $build; run configure" >&2; exit 1; }
srcs="src/log.c src/xmalloc.c src/util.c src/sysstat_proc.c src/sample.c"
pkgs="libcrypto"
if grep -q '^#define HAVE_LIBPROC2 1' "$build/config.h"; then
	srcs="$srcs src/sysstat_proc2.c"
	pkgs="$pkgs libproc2"
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$top"
# Sources rather than libagent.a: a sanitizer build of the library would
# measure the sanitizers.
${CC:-gcc} -std=gnu11 -O2 -Iinclude -I"$build" bench/sample-bench.c $srcs \
    $(pkg-config --cflags --libs $pkgs) -lm -o "$out/sample-bench"
"$out/sample-bench" "${2:-10000}" "${3:-200}"
