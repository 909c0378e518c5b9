#!/bin/sh
# Install what healthagent needs to build, test and run the demo on Debian 12
# or Ubuntu 22.04/24.04. Installs only what is missing; uses sudo when not
# root. libproc2-dev is added where the distribution has it (Debian 12,
# Ubuntu 24.04; not Ubuntu 22.04, which builds with the /proc reader).
set -eu
PKGS="build-essential autoconf automake pkg-config libconfig-dev
libcurl4-openssl-dev libssl-dev libjson-c-dev zlib1g-dev curl python3
procps clang clang-format-14 mandoc systemd locales debhelper shellcheck
dpkg-dev valgrind openssl"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"
}

missing=""
for p in $PKGS; do
	installed "$p" || missing="$missing $p"
done
if [ -n "$missing" ] || ! installed libproc2-dev; then
	$SUDO apt-get update -qq
	if ! installed libproc2-dev &&
	    apt-cache policy libproc2-dev 2>/dev/null | grep -q 'Candidate: [0-9]'; then
		missing="$missing libproc2-dev"
	fi
fi
[ -z "$missing" ] && exit 0
echo "installing:$missing"
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
