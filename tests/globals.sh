#!/bin/sh
# The daemon's objects define no writable global data: the shared state is
# the server's (server.h), and what a module keeps of its own is static.
# Fails listing every global data symbol nm reports in a writable section
# (B bss, D data, C common, G/S small data); skips without nm.
lib=${MTPROXYD_LIB:-src/libmtproxyd.a}
nm=${NM:-nm}
command -v "$nm" >/dev/null 2>&1 || { echo "SKIP: no $nm"; exit 77; }
[ -f "$lib" ] || { echo "FAIL: no $lib (run from the build directory)"; exit 1; }
syms=$("$nm" -g --defined-only "$lib") || { echo "FAIL: $nm $lib"; exit 1; }
# A listing without the functions means nm read nothing: not a pass.
echo "$syms" | grep -q ' T session_start$' ||
	{ echo "FAIL: $nm lists no session_start in $lib"; exit 1; }
bad=$(echo "$syms" | awk '$2 ~ /^[BDCGS]$/ { print $3 " (" $2 ")" }')
if [ -n "$bad" ]; then
	echo "FAIL: writable global data in $lib:"
	echo "$bad"
	exit 1
fi
echo "PASS: no writable global data in $lib"
