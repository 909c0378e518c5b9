#!/bin/sh
# SPDX-License-Identifier: ISC
# Copy the installer block of contrib/user-data.sh (from "# ---- begin
# installer ----" to "# ---- end installer ----") into contrib/ami-bake.sh
# and into the user-data of contrib/cloudformation/healthagent-asg.yaml,
# keeping the indentation of the block there. Run it after editing the
# installer; tests/integration/contrib.sh fails while the copies differ.
# --check only reports (exit 1 when a copy differs).
set -eu
check=0
[ "${1:-}" = --check ] && check=1
cd "$(dirname "$0")"
rc=0
begin='# ---- begin installer ----'
end='# ---- end installer ----'
block=$(mktemp)
trap 'rm -f "$block" "$block.out"' EXIT
sed -n "/^$begin\$/,/^$end\$/p" user-data.sh >"$block"
[ -s "$block" ] || { echo "embed-installer.sh: no installer block in user-data.sh" >&2; exit 1; }

for f in ami-bake.sh cloudformation/healthagent-asg.yaml; do
	awk -v begin="$begin" -v end="$end" -v blockfile="$block" '
	    function trim(s) { sub(/^ +/, "", s); return s }
	    !inside && trim($0) == begin {
		indent = $0; sub(/[^ ].*$/, "", indent)
		while ((getline line < blockfile) > 0)
			print (line == "" ? "" : indent line)
		close(blockfile)
		inside = 1; found = 1; next
	    }
	    inside { if (trim($0) == end) inside = 0; next }
	    { print }
	    END { if (!found || inside) exit 1 }
	' "$f" >"$block.out" || {
		echo "embed-installer.sh: no complete installer block in $f" >&2
		exit 1
	}
	if cmp -s "$block.out" "$f"; then
		echo "$f: up to date"
	elif [ "$check" = 1 ]; then
		echo "$f: differs from user-data.sh (run contrib/embed-installer.sh)"
		diff -u "$f" "$block.out" | head -n 40
		rc=1
	else
		cat "$block.out" >"$f"
		echo "$f: updated"
	fi
done
exit $rc
