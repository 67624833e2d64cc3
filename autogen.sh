#!/bin/sh
# Generate ./configure. With --deps, first install the build and test
# dependencies (Debian/Ubuntu, as root), or say what to install.
set -e
cd "$(dirname "$0")"

DEPS="build-essential pkg-config autoconf automake libssl-dev openssl curl \
libiniparser-dev check libcurl4-openssl-dev clang libclang-rt-dev \
libmicrohttpd-dev python3 python3-prometheus-client libqrencode-dev \
zbar-tools libsystemd-dev systemd debhelper man-db \
dante-server libhiredis-dev redis-server"

if [ "${1:-}" = "--deps" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		missing=""
		for p in $DEPS; do
			dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
		done
		if [ -n "$missing" ]; then
			echo "autogen.sh: installing:$missing"
			export DEBIAN_FRONTEND=noninteractive
			apt-get update -qq
			apt-get install -y -qq $missing
		fi
	else
		echo "autogen.sh: please install (Debian/Ubuntu names):"
		echo "  $DEPS"
		for t in autoreconf pkg-config; do
			command -v $t >/dev/null 2>&1 || { echo "autogen.sh: $t is missing"; exit 1; }
		done
	fi
fi

autoreconf -fi
