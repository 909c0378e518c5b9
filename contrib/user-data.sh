#!/bin/bash
# SPDX-License-Identifier: ISC
# healthagent as EC2 user-data (cloud-init runs it once, as root, at first
# boot): installs the build dependencies (apt on Debian/Ubuntu, dnf on Amazon
# Linux 2023), builds the agent from a release tarball (the output of
# `make dist`, healthagent-VERSION.tar.gz), installs it under /usr, creates
# its user, then enables and starts the unit. Running it again is safe: an
# installed copy of the same version is not rebuilt and an edited
# /etc/healthagent/healthagent.conf is kept.
#
# As user-data: set HEALTHAGENT_TARBALL below (and optionally the others).
# contrib/cloudformation/healthagent-asg.yaml embeds this script.
# By hand:
#   sudo ./user-data.sh [--dry-run] [--no-start] [--force] [--sha256 HEX]
#       [--config FILE] TARBALL
# TARBALL is an https:// or s3:// URL, a file:// URL or a local path.
# --dry-run (or DRY_RUN=1) prints the commands instead of running them.

# ---- settings ----
# URL or path of healthagent-VERSION.tar.gz.
HEALTHAGENT_TARBALL=${HEALTHAGENT_TARBALL:-}
# Its SHA-256, checked when set.
HEALTHAGENT_SHA256=${HEALTHAGENT_SHA256:-}
# Text of /etc/healthagent/healthagent.conf; empty keeps the installed one.
HEALTHAGENT_CONFIG=${HEALTHAGENT_CONFIG:-}
# 1: enable and start the unit; 0: only enable it.
HEALTHAGENT_START=${HEALTHAGENT_START:-1}
# ---- end of settings ----

# ---- begin installer ----
# This block is identical in contrib/user-data.sh, contrib/ami-bake.sh and
# contrib/cloudformation/healthagent-asg.yaml (tests/integration/contrib.sh
# and cfn_moto.py compare them).
set -eu
set -o pipefail
set -E
ha_prog=healthagent-install
ha_dry=${DRY_RUN:-0}
ha_work=""
ha_conf=/etc/healthagent/healthagent.conf
ha_bin=/usr/sbin/healthagent

ha_log() { printf '%s: %s\n' "$ha_prog" "$*"; }
ha_die() {
	printf '%s: error: %s\n' "$ha_prog" "$*" >&2
	exit 1
}
trap 'ha_die "command failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR
trap '[ -z "$ha_work" ] || rm -rf "$ha_work"' EXIT

# ha_run CMD...: run a command that changes the system, or print it.
ha_run() {
	if [ "$ha_dry" = 1 ]; then
		printf '+'
		printf ' %q' "$@"
		printf '\n'
	else
		"$@"
	fi
}

# ha_run_in DIR CMD...: the same, in DIR.
ha_run_in() {
	local dir=$1
	shift
	if [ "$ha_dry" = 1 ]; then
		printf '+ cd %q &&' "$dir"
		printf ' %q' "$@"
		printf '\n'
	else
		(cd "$dir" && "$@")
	fi
}

ha_usage() {
	echo "usage: $0 [--dry-run] [--start|--no-start] [--force] [--sha256 HEX]"
	echo "       [--config FILE] TARBALL"
	echo "TARBALL: https:// or s3:// URL, file:// URL or path of healthagent-VERSION.tar.gz"
}

# Sets ha_family (deb or rpm) and ha_os from os-release.
ha_detect_os() {
	local f=${HEALTHAGENT_OS_RELEASE:-/etc/os-release} id like ver name
	[ -r "$f" ] || ha_die "cannot read $f, so the distribution is unknown"
	# shellcheck disable=SC1090
	{ read -r id; read -r like; read -r ver; read -r name; } < <(. "$f" &&
	    printf '%s\n' "${ID:-}" "${ID_LIKE:-}" "${VERSION_ID:-}" \
		"${PRETTY_NAME:-${ID:-?} ${VERSION_ID:-}}")
	ha_os=$name
	case $id:$ver in
	amzn:1 | amzn:2 | amzn:2.* | amzn:201[0-9]*)
		ha_die "$name is not supported (it lacks OpenSSL 3 and json-c 0.15); use Amazon Linux 2023"
		;;
	esac
	case " $id $like " in
	*" debian "* | *" ubuntu "*) ha_family=deb ;;
	*" amzn "* | *" fedora "*) ha_family=rpm ;;
	*) ha_die "unsupported distribution '$name' (ID=$id): supported are Debian 12, Ubuntu 22.04/24.04 and Amazon Linux 2023" ;;
	esac
}

ha_missing_deb() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		    printf '%s ' "$p"
	done
}

ha_missing_rpm() {
	local p
	for p in "$@"; do
		rpm -q --quiet --whatprovides "$p" 2>/dev/null || printf '%s ' "$p"
	done
}

ha_install_deps() {
	local pkgs missing
	if [ "$ha_family" = deb ]; then
		pkgs="build-essential pkg-config libconfig-dev libcurl4-openssl-dev
		    libssl-dev libjson-c-dev zlib1g-dev curl ca-certificates"
		# libproc2 exists on Debian 12 and Ubuntu 24.04; configure
		# uses it when present, else its own /proc reader.
		if apt-cache show libproc2-dev >/dev/null 2>&1; then
			pkgs="$pkgs libproc2-dev"
		fi
		# shellcheck disable=SC2086
		missing=$(ha_missing_deb $pkgs)
		missing=${missing% }
		# shellcheck disable=SC2086
		ha_log "build dependencies (apt):" $pkgs
		ha_log "missing: ${missing:-none}"
		[ -n "$missing" ] || return 0
		ha_run apt-get -q update
		if [ "$ha_dry" != 1 ] && ! echo "$pkgs" | grep -q libproc2 &&
		    apt-cache show libproc2-dev >/dev/null 2>&1; then
			missing="$missing libproc2-dev"
		fi
		# shellcheck disable=SC2086
		ha_run env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
		    -o DPkg::Lock::Timeout=300 install --no-install-recommends \
		    $missing
	else
		pkgs="gcc make pkgconf-pkg-config libconfig-devel libcurl-devel
		    openssl-devel json-c-devel zlib-devel tar gzip"
		# shellcheck disable=SC2086
		missing=$(ha_missing_rpm $pkgs)
		missing=${missing% }
		# shellcheck disable=SC2086
		ha_log "build dependencies (dnf):" $pkgs
		ha_log "missing: ${missing:-none}"
		[ -n "$missing" ] || return 0
		# shellcheck disable=SC2086
		ha_run dnf -q -y install $missing
	fi
}

# ha_fetch SOURCE: sets ha_file to a local copy of the tarball.
ha_fetch() {
	local src=$1 base
	base=${src%%\?*}
	base=${base##*/}
	case $src in
	http://* | https://*)
		command -v curl >/dev/null || ha_die "curl is needed to download $src"
		ha_file=$ha_work/$base
		ha_run curl -fsSL --retry 5 --retry-connrefused --connect-timeout 10 \
		    -o "$ha_file" "$src" ||
		    ha_die "could not download $src"
		;;
	s3://*)
		command -v aws >/dev/null || ha_die "the aws CLI is needed to download $src"
		ha_file=$ha_work/$base
		ha_run aws s3 cp --only-show-errors "$src" "$ha_file" ||
		    ha_die "could not download $src"
		;;
	*)
		ha_file=${src#file://}
		[ -f "$ha_file" ] || ha_die "tarball $ha_file not found"
		ha_file=$(cd "$(dirname "$ha_file")" && pwd)/$(basename "$ha_file")
		;;
	esac
}

# ha_version: sets ha_ver from the tarball (its name in a dry run of a
# download), and checks that it is a release tarball.
ha_version() {
	local list top
	if [ ! -f "$ha_file" ]; then
		case ${ha_file##*/} in
		healthagent-*.tar.gz) ha_ver=${ha_file##*/healthagent-} ;;
		*) ha_die "${ha_file##*/}: not named healthagent-VERSION.tar.gz" ;;
		esac
		ha_ver=${ha_ver%.tar.gz}
		return 0
	fi
	list=$ha_work/contents
	tar -tzf "$ha_file" >"$list" 2>/dev/null ||
	    ha_die "$ha_file is not a gzip-compressed tar archive"
	top=$(sed -n '1s|^\./||; 1s|/.*||p' "$list")
	case $top in
	healthagent-*) ;;
	*) ha_die "$ha_file is not a healthagent release tarball (make dist output): it starts with '$top'" ;;
	esac
	grep -Eq "^(\./)?$top/configure\$" "$list" ||
	    ha_die "$ha_file has no $top/configure: use the tarball made by 'make dist', not a source snapshot"
	ha_ver=${top#healthagent-}
}

ha_main() {
	local tarball=${HEALTHAGENT_TARBALL:-} sha=${HEALTHAGENT_SHA256:-}
	local start=${HEALTHAGENT_START:-1} force=${HEALTHAGENT_FORCE:-0}
	local config_file="" built=0 changed=0 kept=0 have
	while [ $# -gt 0 ]; do
		case $1 in
		-n | --dry-run) ha_dry=1 ;;
		--start) start=1 ;;
		--no-start) start=0 ;;
		--force) force=1 ;;
		--sha256)
			[ $# -ge 2 ] || ha_die "--sha256 needs a value"
			sha=$2
			shift
			;;
		--config)
			[ $# -ge 2 ] || ha_die "--config needs a file"
			config_file=$2
			shift
			;;
		-h | --help)
			ha_usage
			exit 0
			;;
		-*) ha_die "unknown option '$1' (see --help)" ;;
		*) tarball=$1 ;;
		esac
		shift
	done
	[ -n "$tarball" ] || ha_die "no tarball: give the URL or path of healthagent-VERSION.tar.gz (from 'make dist') as an argument or in HEALTHAGENT_TARBALL"
	if [ "$ha_dry" != 1 ] && [ "$(id -u)" != 0 ]; then
		ha_die "must run as root (or use --dry-run)"
	fi
	if [ -n "$config_file" ]; then
		[ -r "$config_file" ] || ha_die "cannot read --config file $config_file"
		HEALTHAGENT_CONFIG=$(cat "$config_file")
	fi
	[ "$ha_dry" = 1 ] && ha_log "dry run: printing the commands that change the system"

	ha_detect_os
	ha_log "distribution: $ha_os ($ha_family)"
	ha_work=$(mktemp -d "${TMPDIR:-/tmp}/healthagent-install.XXXXXX")
	ha_fetch "$tarball"
	if [ -n "$sha" ]; then
		if [ -f "$ha_file" ]; then
			echo "$sha  $ha_file" | sha256sum -c --quiet - >/dev/null 2>&1 ||
			    ha_die "SHA-256 of $ha_file is $(sha256sum <"$ha_file" | cut -d' ' -f1), expected $sha"
		else
			ha_log "would check that the SHA-256 of $ha_file is $sha"
		fi
	fi
	ha_version
	ha_log "healthagent $ha_ver from $tarball"

	have=$("$ha_bin" version 2>/dev/null || true)
	if [ "$have" = "healthagent $ha_ver" ] && [ "$force" != 1 ]; then
		ha_log "healthagent $ha_ver is already installed; not rebuilding (--force does)"
	else
		ha_install_deps
		local src=$ha_work/healthagent-$ha_ver
		ha_run tar -xzf "$ha_file" -C "$ha_work"
		ha_run_in "$src" ./configure --prefix=/usr --sysconfdir=/etc \
		    --localstatedir=/var --runstatedir=/run
		ha_run make -C "$src" -j"$(nproc)"
		# make install replaces the configuration; keep an edited one.
		if [ -f "$ha_conf" ]; then
			ha_run cp -p "$ha_conf" "$ha_work/kept.conf"
			kept=1
		fi
		ha_run make -C "$src" install
		if [ "$kept" = 1 ]; then
			ha_run cp -p "$ha_work/kept.conf" "$ha_conf"
			ha_log "kept the existing $ha_conf"
		fi
		built=1
	fi

	if command -v systemd-sysusers >/dev/null; then
		ha_run systemd-sysusers
	elif ! getent passwd healthagent >/dev/null; then
		ha_run useradd --system --user-group --home-dir / --no-create-home \
		    --shell /usr/sbin/nologin --comment "healthagent daemon" healthagent
	fi

	if [ -n "$HEALTHAGENT_CONFIG" ]; then
		printf '%s\n' "$HEALTHAGENT_CONFIG" >"$ha_work/new.conf"
		if [ "$ha_dry" = 1 ]; then
			ha_run "$ha_bin" checkconf -f "$ha_work/new.conf"
			ha_run install -m 0644 "$ha_work/new.conf" "$ha_conf"
		elif ! cmp -s "$ha_work/new.conf" "$ha_conf"; then
			"$ha_bin" checkconf -f "$ha_work/new.conf" ||
			    ha_die "the new configuration (--config or HEALTHAGENT_CONFIG) has errors (above); $ha_conf is unchanged"
			install -m 0644 "$ha_work/new.conf" "$ha_conf"
			ha_log "wrote $ha_conf"
			changed=1
		fi
	fi
	if [ "$ha_dry" = 1 ]; then
		ha_run "$ha_bin" checkconf -f "$ha_conf"
	else
		"$ha_bin" checkconf -f "$ha_conf" >/dev/null ||
		    ha_die "$ha_conf has errors (above); fix it, then run: systemctl restart healthagent"
	fi

	if [ -d /run/systemd/system ]; then
		ha_run systemctl daemon-reload
	else
		ha_log "systemd is not running: no daemon-reload"
	fi
	ha_run systemctl enable healthagent.service
	if [ "$start" = 1 ]; then
		if [ ! -d /run/systemd/system ] && [ "$ha_dry" != 1 ]; then
			ha_die "systemd is not running, so the agent cannot be started (--no-start only enables it)"
		fi
		local action=start
		if [ $((built + changed)) -gt 0 ] &&
		    systemctl is-active --quiet healthagent.service 2>/dev/null; then
			action=restart
		fi
		ha_run systemctl "$action" healthagent.service ||
		    ha_die "healthagent did not $action: see journalctl -u healthagent"
	fi
	if [ "$ha_dry" = 1 ]; then
		ha_log "dry run: nothing was changed"
	elif [ "$start" = 1 ]; then
		ha_log "healthagent $ha_ver installed, enabled and running"
	else
		ha_log "healthagent $ha_ver installed and enabled; it starts at the next boot"
	fi
}

ha_main "$@"
# ---- end installer ----
