#!/bin/bash
# SPDX-License-Identifier: ISC
# contrib/: the installer scripts without network or changes to the system.
#   - bash -n and shellcheck on the scripts;
#   - the installer block is the same in user-data.sh, ami-bake.sh and the
#     CloudFormation template;
#   - debian/changelog and the RPM spec carry configure.ac's version;
#   - ami-bake.sh --dry-run against a tarball made here by `make dist`
#     plans the Debian steps (apt, configure with the right directories,
#     make, make install, sysusers, enable and no start), and the
#     Amazon Linux 2023 steps (dnf) for an AL2023 os-release;
#   - user-data.sh --dry-run starts the unit and downloads a URL;
#   - clear errors for a missing, a foreign and a corrupt tarball, a wrong
#     checksum, Amazon Linux 2, an unknown distribution and a non-root run.
# Prints TAP.

# shellcheck disable=SC1091
. "${top_srcdir:-.}/tests/integration/lib.sh"
require bash shellcheck tar gzip make

S=$top_srcdir
UD=$S/contrib/user-data.sh
BAKE=$S/contrib/ami-bake.sh
export TMPDIR=$T

okd() { # okd STATUS DESCRIPTION FILE: ok, with FILE as diagnostics on failure
	ok "$1" "$2"
	[ "$1" -eq 0 ] || sed 's/^/#   /' "$3" | head -n 40
}

# ---- static checks
for f in "$UD" "$BAKE"; do
	bash -n "$f" 2>"$T/err"
	okd $? "bash -n ${f#"$S"/}" "$T/err"
done
for f in contrib/user-data.sh contrib/ami-bake.sh contrib/embed-installer.sh \
    debian/healthagent.postrm tests/integration/contrib.sh \
    tests/integration/package.sh; do
	shellcheck "$S/$f" >"$T/sc" 2>&1
	okd $? "shellcheck $f" "$T/sc"
done
sh "$S/contrib/embed-installer.sh" --check >"$T/embed" 2>&1
okd $? "the installer is the same in user-data.sh, ami-bake.sh and the template" \
    "$T/embed"

ver=$(sed -n 's/^AC_INIT(\[healthagent\], \[\([^]]*\)\].*/\1/p' "$S/configure.ac")
deb=$(sed -n '1s/^healthagent (\([^)-]*\)-[^)]*).*/\1/p' "$S/debian/changelog")
rpm=$(sed -n 's/^Version:[[:space:]]*//p' "$S/contrib/rpm/healthagent.spec")
is "$deb" "$ver" "debian/changelog has version $ver"
is "$rpm" "$ver" "contrib/rpm/healthagent.spec has version $ver"

# ---- a release tarball, made here
mkdir -p "$T/dist"
(cd "$T/dist" && "$S/configure" -q >"$T/dist.log" 2>&1 &&
    make -s dist >>"$T/dist.log" 2>&1)
r=$?
okd $r "make dist" "$T/dist.log"
if [ $r -ne 0 ]; then
	done_testing
	exit 1
fi
TB=$T/dist/healthagent-$ver.tar.gz
tar -tzf "$TB" >"$T/list"
for f in contrib/user-data.sh contrib/ami-bake.sh \
    contrib/cloudformation/healthagent-asg.yaml contrib/rpm/healthagent.spec \
    debian/control debian/rules; do
	grep -qx "healthagent-$ver/$f" "$T/list"
	ok $? "the tarball ships $f"
done

# run NAME SCRIPT ARGS...: the script's output in $T/NAME.out, status in rc
run() {
	local name=$1
	shift
	bash "$@" >"$T/$name.out" 2>&1
	rc=$?
}
has() { # has NAME TEXT: the output of run NAME has the line TEXT
	grep -qxF -- "$2" "$T/$1.out"
}
okr() { # okr STATUS DESCRIPTION NAME: okd with the output of run NAME
	okd "$1" "$2" "$T/$3.out"
}
line_of() { grep -nF -- "$2" "$T/$1.out" | head -n 1 | cut -d: -f1; }

# ---- Debian (this machine): bake, dry run
before=$(find "$T" -maxdepth 1 -name 'healthagent-install.*' | wc -l)
run bake "$BAKE" --dry-run "$TB"
okr "$rc" "ami-bake.sh --dry-run exits 0" bake
grep -q '^healthagent-install: distribution: .*(deb)$' "$T/bake.out"
ok $? "Debian is detected as an apt system"
deps=$(sed -n 's/^healthagent-install: build dependencies (apt): //p' "$T/bake.out")
miss=1
for p in build-essential pkg-config libconfig-dev libcurl4-openssl-dev \
    libssl-dev libjson-c-dev zlib1g-dev; do
	case " $deps " in
	*" $p "*) ;;
	*) miss=0 ;;
	esac
done
ok $((1 - miss)) "the apt build dependencies are listed: $deps"
missing=$(sed -n 's/^healthagent-install: missing: //p' "$T/bake.out")
if [ "$missing" = none ]; then
	! grep -q '^+ .*apt-get' "$T/bake.out"
	ok $? "nothing missing: no apt-get"
else
	grep -q "^+ env DEBIAN_FRONTEND=noninteractive apt-get .* install --no-install-recommends $missing\$" "$T/bake.out"
	ok $? "apt-get installs the missing packages: $missing"
fi
steps=(
	"+ tar -xzf $TB -C "
	"healthagent-$ver && ./configure --prefix=/usr --sysconfdir=/etc --localstatedir=/var --runstatedir=/run"
	"+ make -C "
	"healthagent-$ver install"
	"+ systemd-sysusers"
	"+ /usr/sbin/healthagent checkconf -f /etc/healthagent/healthagent.conf"
	"+ systemctl enable healthagent.service"
)
prev=0
inorder=0
for s in "${steps[@]}"; do
	l=$(line_of bake "$s")
	if [ -z "$l" ] || [ "$l" -le "$prev" ]; then
		inorder=1
		echo "#   step missing or out of order: $s"
	else
		prev=$l
	fi
done
okr $inorder "the steps: extract, configure with the system dirs, make, make install, sysusers, checkconf, enable" bake
! grep -q 'systemctl .*start' "$T/bake.out"
ok $? "baking does not start the agent"
if [ -d /run/systemd/system ]; then
	has bake "+ systemctl daemon-reload"
	ok $? "daemon-reload (systemd is running)"
else
	has bake "healthagent-install: systemd is not running: no daemon-reload"
	ok $? "no daemon-reload (systemd is not running here)"
fi
after=$(find "$T" -maxdepth 1 -name 'healthagent-install.*' | wc -l)
is "$after" "$before" "the dry run leaves no work directory behind"
DRY_RUN=1 bash "$BAKE" "$TB" >"$T/bake2.out" 2>&1
is "$(sed 's/install\.[A-Za-z0-9]*/install.X/g' "$T/bake2.out")" \
    "$(sed 's/install\.[A-Za-z0-9]*/install.X/g' "$T/bake.out")" \
    "DRY_RUN=1 is the same as --dry-run"

# ---- user-data: starts, downloads
run ud "$UD" --dry-run "https://example.invalid/r/healthagent-$ver.tar.gz?sig=1"
okr "$rc" "user-data.sh --dry-run with a URL exits 0" ud
grep "^+ curl .* -o $T/healthagent-install\.[A-Za-z0-9]*/healthagent-$ver\.tar\.gz " "$T/ud.out" |
    grep -qF "https://example.invalid/r/healthagent-$ver.tar.gz"
okr $? "it downloads the URL with curl to healthagent-$ver.tar.gz" ud
has ud "+ systemctl start healthagent.service"
ok $? "user-data starts the agent"
has ud "healthagent-install: healthagent $ver from https://example.invalid/r/healthagent-$ver.tar.gz?sig=1"
ok $? "the version comes from the URL's file name"
printf 'health = { listen = "127.0.0.1:1"; };\n' >"$T/my.conf"
run udc "$UD" --dry-run --config "$T/my.conf" "$TB"
grep -q '^+ install -m 0644 .*/new.conf /etc/healthagent/healthagent.conf$' "$T/udc.out" &&
    grep -q '^+ /usr/sbin/healthagent checkconf -f .*/new.conf$' "$T/udc.out"
okr $? "--config: checked, then installed as /etc/healthagent/healthagent.conf" udc

# ---- Amazon Linux 2023
cat >"$T/al2023" <<'EOF'
NAME="Amazon Linux"
VERSION="2023"
ID="amzn"
ID_LIKE="fedora"
VERSION_ID="2023"
PRETTY_NAME="Amazon Linux 2023.6.20241212"
EOF
HEALTHAGENT_OS_RELEASE=$T/al2023 run al "$BAKE" --dry-run "$TB"
okr "$rc" "AL2023 dry run exits 0" al
has al "healthagent-install: build dependencies (dnf): gcc make pkgconf-pkg-config libconfig-devel libcurl-devel openssl-devel json-c-devel zlib-devel tar gzip"
okr $? "AL2023: the dnf build dependencies" al
grep -q '^+ dnf -q -y install .*libconfig-devel' "$T/al.out"
okr $? "AL2023: installed with dnf" al
! grep -q 'apt-get' "$T/al.out"
ok $? "AL2023: no apt-get"

# ---- errors
expect_error() { # expect_error NAME TEXT DESCRIPTION
	local name=$1
	if [ "$rc" -ne 0 ] && grep -qF -- "$2" "$T/$name.out"; then
		ok 0 "$3"
	else
		okr 1 "$3" "$name"
		echo "#   rc=$rc, want an error with: $2"
	fi
}
run e1 "$BAKE" --dry-run
expect_error e1 "error: no tarball: give the URL or path of healthagent-VERSION.tar.gz" "no tarball: a clear error"
run e2 "$BAKE" --dry-run "$T/nonexistent-1.0.tar.gz"
expect_error e2 "error: tarball $T/nonexistent-1.0.tar.gz not found" "missing tarball: a clear error"
mkdir -p "$T/snap/healthagent-$ver/src"
echo x >"$T/snap/healthagent-$ver/src/main.c"
tar -czf "$T/snap.tar.gz" -C "$T/snap" "healthagent-$ver"
run e3 "$BAKE" --dry-run "$T/snap.tar.gz"
expect_error e3 "has no healthagent-$ver/configure: use the tarball made by 'make dist'" "a source snapshot without configure: a clear error"
echo "not a tarball" >"$T/bad.tar.gz"
run e4 "$BAKE" --dry-run "$T/bad.tar.gz"
expect_error e4 "is not a gzip-compressed tar archive" "a corrupt tarball: a clear error"
tar -czf "$T/other.tar.gz" -C "$T" al2023
run e5 "$BAKE" --dry-run "$T/other.tar.gz"
expect_error e5 "is not a healthagent release tarball" "another project's tarball: a clear error"
run e6 "$BAKE" --dry-run --sha256 "$(printf '0%.0s' $(seq 64))" "$TB"
expect_error e6 "expected 0000" "a wrong SHA-256: a clear error"
sum=$(sha256sum "$TB" | cut -d' ' -f1)
run s1 "$BAKE" --dry-run --sha256 "$sum" "$TB"
okr "$rc" "the right SHA-256 passes" s1
printf 'ID=amzn\nVERSION_ID="2"\nPRETTY_NAME="Amazon Linux 2"\n' >"$T/al2"
HEALTHAGENT_OS_RELEASE=$T/al2 run e7 "$BAKE" --dry-run "$TB"
expect_error e7 "error: Amazon Linux 2 is not supported" "Amazon Linux 2: refused with a reason"
printf 'ID=alpine\nVERSION_ID=3.20\nPRETTY_NAME="Alpine Linux v3.20"\n' >"$T/alpine"
HEALTHAGENT_OS_RELEASE=$T/alpine run e8 "$BAKE" --dry-run "$TB"
expect_error e8 "error: unsupported distribution 'Alpine Linux v3.20'" "an unknown distribution: a clear error"
run e9 "$BAKE" --dry-run --frobnicate "$TB"
expect_error e9 "error: unknown option '--frobnicate'" "an unknown option: a clear error"
if [ "$(id -u)" = 0 ]; then
	chmod 755 "$T"
	setpriv --reuid=65534 --regid=65534 --clear-groups \
	    bash "$BAKE" "$TB" >"$T/e10.out" 2>&1
	rc=$?
else
	run e10 "$BAKE" "$TB"
fi
expect_error e10 "error: must run as root (or use --dry-run)" "not root: refused before anything happens"
run h "$BAKE" --help
is "$rc" 0 "--help exits 0"

done_testing
