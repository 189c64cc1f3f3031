#!/usr/bin/env bash
# install-deps.sh - installs the Debian packages tapaid builds and tests
# with, when something is missing.  Called by `make test`, `make demo` and
# `.ci/run`; safe to run again.  Needs root (or sudo) only when it installs.
set -eu
pkgs=(
	build-essential pkg-config clang libclang-rt-14-dev
	libmbedtls-dev libsqlite3-dev sqlite3 libnfc-dev libnfc-bin
	libusb-1.0-0-dev libcmocka-dev libinih-dev libcjson-dev libcsv-dev
	procps tzdata
	chromium python3
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}"
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
