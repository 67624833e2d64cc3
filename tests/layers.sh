#!/bin/sh
# Types flow downward: no header in include/ includes one of a higher layer
# (README, Architecture). A header missing from the table fails too, so
# that every new module is given its layer.
#   1 codecs: bytes in, bytes or a struct out; no sockets, threads, clocks
#   2 I/O helpers: sockets, logging, threads, fetches, system limits
#   3 runtime: the daemon's parts
#   4 assembly: what owns and drives the parts
src=${MTPROXYD_SRCDIR:-$(dirname "$0")/..}
layer() {
	case $1 in
	proto|bytes|errbuf|crc|crypto|obfs2|frame|faketls|rpc|rpcstream|proxyconf|\
	proxyhdr|secret|replay|hll|tbucket|period|histo|qr|addrlist|\
	socks5|livecount) echo 1 ;;
	log|net|fetch|ticker|capacity|file|deadline|wallclock|notify|\
	privdrop|socks5io|replay_redis) echo 2 ;;
	config|users|stats|pool|direct|dcpool|mask|middle|mux|handshake|\
	metrics|account|store|seen|link|iplimit|store_redis) echo 3 ;;
	server|session|acceptor|diag) echo 4 ;;
	*) echo 0 ;;
	esac
}
n=0 bad=0
for h in "$src"/include/*.h; do
	m=$(basename "$h" .h)
	l=$(layer "$m")
	n=$((n + 1))
	if [ "$l" -eq 0 ]; then
		echo "FAIL: include/$m.h has no layer in $0"; bad=1; continue
	fi
	for i in $(sed -n 's/^#include "\(.*\)\.h"$/\1/p' "$h"); do
		li=$(layer "$i")
		if [ "$li" -eq 0 ] || [ "$li" -gt "$l" ]; then
			echo "FAIL: include/$m.h (layer $l) includes $i.h" \
			    "(layer $li)"
			bad=1
		fi
	done
done
[ "$n" -gt 0 ] || { echo "FAIL: no headers in $src/include"; exit 1; }
[ "$bad" -eq 0 ] || exit 1
echo "PASS: $n headers, none includes a higher layer"
