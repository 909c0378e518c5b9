#!/bin/bash
# SPDX-License-Identifier: ISC
# The Debian package, end to end: make a release tarball (`make dist` in a
# scratch build dir, or $TARBALL), build the .deb from it with
# `dpkg-buildpackage -us -uc -b` in a temp dir, install it with dpkg, check
# the files, the user, the conffile, `healthagent version` and `checkconf`,
# run the installed binary as the packaged user on loopback, reinstall over
# an edited config, then purge and check that nothing is left.
#
# Slow (a whole package build) and it installs into the real system, so it
# is not part of `make check`: tests/run-all.sh runs it as its own step, as
# root on a throwaway machine (CI). It refuses to touch a system where
# healthagent is already installed. The unit is not started by the package
# scripts here (a policy-rc.d denies it for the duration), so nothing
# contacts the instance metadata service. Self-contained (no lib.sh: it
# needs no build tree); prints TAP.

set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
export AWS_EC2_METADATA_DISABLED=true
S=$top_srcdir
n=0
failed=0
ok() { # ok STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
	return "$1"
}
is() { # is GOT WANT DESCRIPTION
	[ "$1" = "$2" ]
	ok $? "$3" || echo "#   got '$1', want '$2'"
}
bail() {
	echo "Bail out! $*"
	exit 1
}
done_testing() {
	echo "1..$n"
	[ "$failed" -eq 0 ]
}

[ "$(id -u)" = 0 ] || bail "must run as root: it installs the package with dpkg"
for t in dpkg-buildpackage dh dpkg-deb dpkg curl python3 runuser; do
	command -v "$t" >/dev/null 2>&1 ||
	    bail "required tool '$t' is not installed (scripts/deps-debian.sh)"
done
if dpkg-query -W -f='${Status}' healthagent 2>/dev/null | grep -q installed; then
	bail "the healthagent package is installed already; purge it first"
fi
for f in /usr/sbin/healthagent /etc/healthagent/healthagent.conf; do
	[ -e "$f" ] && bail "$f exists (installed by hand?); not overwriting it"
done

T=$(mktemp -d "${TMPDIR:-/tmp}/ha-package.XXXXXX")
user_existed=0
getent passwd healthagent >/dev/null && user_existed=1
policy_rc=""
AGENT_PID=""
cleanup() {
	[ -n "$AGENT_PID" ] && kill -KILL "$AGENT_PID" 2>/dev/null
	if dpkg-query -W -f='${Status}' healthagent 2>/dev/null | grep -q installed; then
		dpkg --purge healthagent >/dev/null 2>&1
	fi
	if [ "$user_existed" = 0 ] && getent passwd healthagent >/dev/null; then
		userdel healthagent 2>/dev/null
		getent group healthagent >/dev/null && groupdel healthagent 2>/dev/null
	fi
	[ -n "$policy_rc" ] && rm -f "$policy_rc"
	if [ "$failed" -ne 0 ] && [ -f "$T/build.log" ]; then
		echo "# last lines of the package build:"
		tail -n 40 "$T/build.log" | sed 's/^/#   /'
	fi
	if [ "${KEEP_TMP:-}" = 1 ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ver=$(sed -n 's/^AC_INIT(\[healthagent\], \[\([^]]*\)\].*/\1/p' "$S/configure.ac")
debver=$(sed -n '1s/^healthagent (\([^)]*\)).*/\1/p' "$S/debian/changelog")
is "${debver%-*}" "$ver" "debian/changelog is at version $ver"

# ---- the release tarball
if [ -n "${TARBALL:-}" ]; then
	TB=$TARBALL
else
	mkdir -p "$T/dist"
	(cd "$T/dist" && "$S/configure" -q >"$T/dist.log" 2>&1 &&
	    make -s dist >>"$T/dist.log" 2>&1)
	ok $? "make dist" || { tail -n 20 "$T/dist.log" | sed 's/^/#   /'; }
	TB=$T/dist/healthagent-$ver.tar.gz
fi
[ -f "$TB" ] || bail "no tarball $TB"
mkdir -p "$T/src"
tar -xzf "$TB" -C "$T/src" || bail "cannot extract $TB"
SRC=$T/src/healthagent-$ver
[ -f "$SRC/debian/rules" ]
ok $? "the release tarball ships debian/" ||
    bail "debian/ is not in $TB (Makefile.am EXTRA_DIST)"

# ---- build
arch=$(dpkg --print-architecture)
DEB=$T/src/healthagent_${debver}_${arch}.deb
start=$(date +%s)
(cd "$SRC" && DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
    dpkg-buildpackage -us -uc -b >"$T/build.log" 2>&1)
ok $? "dpkg-buildpackage -us -uc -b ($(($(date +%s) - start)) s)"
[ -f "$DEB" ]
ok $? "built $(basename "$DEB")" || bail "no package to test"
grep -q '^PASS: tests/unit/' "$T/build.log" && ! grep -q '^FAIL: ' "$T/build.log"
ok $? "the unit tests ran and passed inside the package build"

dpkg-deb -c "$DEB" | awk '{print $NF}' | sed 's|^\./|/|' >"$T/contents"
unitdir=$(grep -m1 '/systemd/system/healthagent.service$' "$T/contents")
for f in /usr/sbin/healthagent /etc/healthagent/healthagent.conf \
    /usr/lib/sysusers.d/healthagent.sysusers.conf \
    /usr/share/man/man8/healthagent.8.gz \
    /usr/share/man/man5/healthagent.conf.5.gz \
    /usr/share/doc/healthagent/copyright; do
	grep -qx "$f" "$T/contents"
	ok $? "the package has $f"
done
[ -n "$unitdir" ]
ok $? "the package has the unit ($unitdir)"
mkdir -p "$T/ctrl"
dpkg-deb -e "$DEB" "$T/ctrl"
grep -qx /etc/healthagent/healthagent.conf "$T/ctrl/conffiles"
ok $? "/etc/healthagent/healthagent.conf is a conffile"
grep -q 'systemd-sysusers.*healthagent.sysusers.conf' "$T/ctrl/postinst"
ok $? "postinst creates the user with systemd-sysusers"
grep -q 'deb-systemd-helper enable' "$T/ctrl/postinst"
ok $? "postinst enables the unit (dh_installsystemd)"
grep -q 'rm -rf /var/lib/healthagent' "$T/ctrl/postrm" &&
    grep -q 'deb-systemd-helper purge' "$T/ctrl/postrm"
ok $? "postrm purges the state directory and the unit's links"
deps=$(dpkg-deb -f "$DEB" Depends)
case $deps in
*libconfig9*libcurl4*) r=0 ;;
*) r=1 ;;
esac
case $deps in
*"systemd | systemd-standalone-sysusers | systemd-sysusers"*) ;;
*) r=1 ;;
esac
ok $r "Depends: the shared libraries and systemd-sysusers ($deps)"

# ---- install (the package scripts may not start services meanwhile)
if [ ! -e /usr/sbin/policy-rc.d ]; then
	policy_rc=/usr/sbin/policy-rc.d
	printf '#!/bin/sh\nexit 101\n' >"$policy_rc"
	chmod 755 "$policy_rc"
fi
dpkg -i "$DEB" >"$T/install.log" 2>&1
ok $? "dpkg -i" || sed 's/^/#   /' "$T/install.log"
for f in /usr/sbin/healthagent /etc/healthagent/healthagent.conf \
    "$unitdir" /usr/lib/sysusers.d/healthagent.sysusers.conf; do
	[ -f "$f" ]
	ok $? "installed: $f"
done
[ -L /etc/systemd/system/multi-user.target.wants/healthagent.service ]
ok $? "the unit is enabled"
shell=$(getent passwd healthagent | cut -d: -f7)
is "$shell" /usr/sbin/nologin "user healthagent exists, without a login shell"
is "$(/usr/sbin/healthagent version)" "healthagent $ver" "healthagent version"
/usr/sbin/healthagent checkconf -f /etc/healthagent/healthagent.conf \
    >"$T/checkconf.out" 2>&1
ok $? "healthagent checkconf passes on the installed config" ||
    sed 's/^/#   /' "$T/checkconf.out"
grep -q "ExecStart=/usr/sbin/healthagent run -f /etc/healthagent/healthagent.conf" "$unitdir"
ok $? "the unit runs the installed binary on the installed config"

# ---- the installed binary, as the packaged user, on loopback
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$T/run"
chown healthagent:healthagent "$T/run"
chmod 755 "$T"
cat >"$T/run/agent.conf" <<EOF
health: { listen = "127.0.0.1:$port"; path = "/health"; start_grace = 0; };
agent: { socket = "$T/run/agent.sock"; state_dir = "$T/run/state"; };
cloudwatch: { enabled = false; };
checks = ( { name = "root"; type = "threshold"; metric = "disk_used_percent";
             max = 100.0; interval = 0.5; rise = 1; } );
EOF
runuser -u healthagent -- env AWS_EC2_METADATA_DISABLED=true \
    /usr/sbin/healthagent run -f "$T/run/agent.conf" >"$T/agent.log" 2>&1 &
AGENT_PID=$!
code=000
for _ in $(seq 100); do
	code=$(curl -s -o "$T/health" -m 2 -w '%{http_code}' "http://127.0.0.1:$port/health")
	[ "$code" = 200 ] && break
	sleep 0.1
done
is "$code" 200 "the installed agent, run as healthagent, answers /health 200" ||
    sed 's/^/#   /' "$T/agent.log" | tail -n 20
runuser -u healthagent -- \
    /usr/sbin/healthagent status -s "$T/run/agent.sock" >"$T/status" 2>&1
ok $? "healthagent status over the control socket" ||
    sed 's/^/#   /' "$T/status"
kill -TERM "$AGENT_PID" 2>/dev/null
wait "$AGENT_PID" 2>/dev/null
AGENT_PID=""

# ---- reinstall over an edited config: the edit stays
echo "# edited by the package test" >>/etc/healthagent/healthagent.conf
dpkg -i "$DEB" >"$T/reinstall.log" 2>&1
ok $? "dpkg -i again" || sed 's/^/#   /' "$T/reinstall.log"
tail -n 1 /etc/healthagent/healthagent.conf | grep -qx '# edited by the package test'
ok $? "the edited conffile is kept"

# ---- purge
mkdir -p /var/lib/healthagent
touch /var/lib/healthagent/eviction
dpkg --purge healthagent >"$T/purge.log" 2>&1
ok $? "dpkg --purge" || sed 's/^/#   /' "$T/purge.log"
left=""
for f in /usr/sbin/healthagent /etc/healthagent "$unitdir" \
    /usr/lib/sysusers.d/healthagent.sysusers.conf /var/lib/healthagent \
    /etc/systemd/system/multi-user.target.wants/healthagent.service; do
	[ -e "$f" ] || [ -L "$f" ] && left="$left $f"
done
is "$left" "" "nothing is left after the purge"
if [ "$user_existed" = 0 ]; then
	echo "# the healthagent user stays after a purge (Debian keeps system users); removing it here"
fi

done_testing
