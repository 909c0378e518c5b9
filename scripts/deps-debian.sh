#!/bin/sh
# Install what healthagent needs to build, test and run the demo on Debian 12
# or Ubuntu 22.04/24.04. Installs only what is missing.
set -eu
PKGS="build-essential autoconf automake pkg-config libconfig-dev
libcurl4-openssl-dev libssl-dev libjson-c-dev zlib1g-dev curl python3
procps clang clang-format-14 mandoc systemd locales"
# libproc2 exists on Debian 12 and Ubuntu 24.04, not on Ubuntu 22.04.
if apt-cache show libproc2-dev >/dev/null 2>&1 || [ "${NEED_UPDATE:-}" ]; then
	PKGS="$PKGS libproc2-dev"
fi
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "installing:$missing"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
if ! dpkg-query -W libproc2-dev >/dev/null 2>&1 && apt-cache show libproc2-dev >/dev/null 2>&1; then
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libproc2-dev
fi
