#!/bin/sh
# SPDX-License-Identifier: ISC
# "healthagent checkconf -f FILE": exit 0 and "configuration OK" for a good
# file; exit non-zero with one "file:line: message" line per error for a bad
# one. Self-contained: needs only $HEALTHAGENT and $top_srcdir. Prints TAP.

: "${top_srcdir:=.}"
: "${HEALTHAGENT:=./healthagent}"
AWS_EC2_METADATA_DISABLED=true
export AWS_EC2_METADATA_DISABLED

if [ ! -x "$HEALTHAGENT" ]; then
	echo "Bail out! $HEALTHAGENT is not built"
	exit 1
fi

n=0
failed=0
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/checkconf.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# run FILE: output in $tmp/out, exit status in $rc
run() {
	"$HEALTHAGENT" checkconf -f "$1" >"$tmp/out" 2>&1
	rc=$?
}

show() {
	sed 's/^/#   /' "$tmp/out"
}

# good files
for f in "$top_srcdir/tests/conf/good/issue-sample.conf" \
    "$top_srcdir/tests/conf/good/include.conf" \
    "$top_srcdir/etc/healthagent.conf"; do
	run "$f"
	ok "$([ "$rc" -eq 0 ] && echo 0 || echo 1)" "checkconf $(basename "$f") exits 0"
	[ "$rc" -eq 0 ] || show
	grep -q "configuration OK" "$tmp/out"
	ok $? "checkconf $(basename "$f") says configuration OK"
done

# a file with many errors: all reported, each as file:line: message
bad="$top_srcdir/tests/conf/bad/multiple-errors.conf"
run "$bad"
ok "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "checkconf multiple-errors.conf exits non-zero ($rc)"
lines=$(grep -c . "$tmp/out")
located=$(grep -cE '^[^ ]*multiple-errors\.conf:[1-9][0-9]*: ' "$tmp/out")
ok "$([ "$lines" -ge 7 ] && echo 0 || echo 1)" "all errors reported ($lines lines)"
[ "$lines" -ge 7 ] || show
ok "$([ "$located" -eq "$lines" ] && echo 0 || echo 1)" "every line is file:line: message ($located/$lines)"
[ "$located" -eq "$lines" ] || show
grep -q 'multiple-errors\.conf:19: check "c": metric: "mem_free" is not one of' "$tmp/out"
ok $? "error names file, line, check and key"
grep -q "configuration OK" "$tmp/out"
ok "$([ $? -ne 0 ] && echo 0 || echo 1)" "bad file is not OK"

# truncated big integer
run "$top_srcdir/tests/conf/bad/bigint.conf"
ok "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "checkconf bigint.conf exits non-zero"
grep -q 'bigint\.conf:6: check "big": rise: 5000000000 is out of range' "$tmp/out"
ok $? "5000000000 reported as written, not truncated"

# syntax error inside an included file names that file
run "$top_srcdir/tests/conf/bad/include-syntax.conf"
ok "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "checkconf include-syntax.conf exits non-zero"
grep -q 'conf\.d/broken\.conf:3: syntax error' "$tmp/out"
r=$?
ok $r "syntax error names the included file and line"
[ $r -eq 0 ] || show

# a missing file
run "$tmp/does-not-exist.conf"
ok "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "missing file exits non-zero"
grep -q "does-not-exist.conf: cannot open: No such file or directory" "$tmp/out"
ok $? "missing file message"

# a config written on the fly, relative includes from another CWD
mkdir -p "$tmp/etc/conf.d"
cat >"$tmp/etc/main.conf" <<'CONF'
health = { listen = "127.0.0.1:18099"; };
checks = (
@include "conf.d/one.conf"
);
CONF
cat >"$tmp/etc/conf.d/one.conf" <<'CONF'
  { name = "one"; type = "tcp"; address = "127.0.0.1:1"; rise = 0; }
CONF
(cd / && "$HEALTHAGENT" checkconf -f "$tmp/etc/main.conf") >"$tmp/out" 2>&1
rc=$?
ok "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "error in an include found from another CWD"
grep -q "conf\.d/one\.conf:1: check \"one\": rise: 0 is out of range" "$tmp/out"
r=$?
ok $r "include error names the included file"
[ $r -eq 0 ] || show

echo "1..$n"
[ "$failed" -eq 0 ]
