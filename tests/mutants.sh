#!/bin/sh
# Plants, one at a time, the bugs that an older suite let through (issue 7)
# in a scratch copy of the tracked tree, builds it out of tree, runs the
# suite and prints for each mutant the checks that failed, or NOT CAUGHT.
# Exits non-zero when a mutant was not caught, or when an edit no longer
# applies or no longer builds (the code moved: update the edit here).
# Not part of make check or CI: every mutant is a full build and suite run.
#
# Usage: tests/mutants.sh [-l] [-k] [-t "TESTS"] [NAME...]
#   -l          list the mutants and exit
#   -k          keep the scratch directory (one source and build tree each)
#   -t TESTS    run only these test programs, as for make check TESTS=...
#               (faster; the claim that a mutant is caught is the full suite)
#   NAME...     only these mutants; "baseline" runs the tree unchanged
# JOBS (default 2) is make's -j for the build; the tests run one at a time.
set -u

mutants="crc-swap crc-table fast-ignored counters-swapped idle-one-way
tls-any-tag filter-bypass sni-drop-ignored mask-max-bytes-ignored
frame-resync close-ext-dropped"

top=$(cd "$(dirname "$0")/.." && pwd)
jobs=${JOBS:-2}
keep=0
tests=""

die() {
	echo "mutants.sh: $*" >&2
	exit 2
}

describe() {
	case $1 in
	baseline) echo "the tree unchanged" ;;
	crc-swap) echo "CRC32C and CRC32 swapped in the middle-proxy frames" ;;
	crc-table) echo "one wrong entry in the CRC32C table" ;;
	fast-ignored) echo "fast mode ignored: the DC gets its own keys, the daemon re-encrypts" ;;
	counters-swapped) echo "the up and down byte counters swapped" ;;
	idle-one-way) echo "the idle clock reset by client -> DC bytes only" ;;
	tls-any-tag) echo "any tag accepted inside fake-TLS, not only dd" ;;
	filter-bypass) echo "middle mode's forwarding filter bypassed" ;;
	sni-drop-ignored) echo "unknown_sni = drop ignored (the cover site gets the client)" ;;
	mask-max-bytes-ignored) echo "mask_max_bytes ignored" ;;
	frame-resync) echo "a bad middle-mode client frame skipped, not closed" ;;
	close-ext-dropped) echo "RPC_CLOSE_EXT dropped: the client stays open" ;;
	*) return 1 ;;
	esac
}

# Apply a sed script to one file; it must change exactly $3 lines.
edit() {
	cp "$1" "$1.orig" || die "cannot copy $1"
	sed -i -e "$2" "$1" || die "sed failed on $1"
	n=$(diff "$1.orig" "$1" | grep -c '^>')
	if [ "$n" -ne "$3" ]; then
		diff -u "$1.orig" "$1" >&2
		die "$mutant: the edit of $1 changed $n lines, not $3: the code moved"
	fi
	diff -u "$1.orig" "$1" | sed -n 's/^[-+][^-+]/    &/p'
	rm -f "$1.orig"
}

# Plant mutant $1 in the source tree at $2.
plant() {
	mutant=$1
	cd "$2" || die "no tree $2"
	case $1 in
	baseline) ;;
	crc-swap)
		edit src/rpc.c 's/crc == RPC_CRC32C ? crc_crc32c(0, p, len)/crc != RPC_CRC32C ? crc_crc32c(0, p, len)/' 1 ;;
	crc-table)
		edit src/crc.c 's/0x5d1d08bf, 0xaf768bbc, 0xbc267848, 0x4e4dfb4b,/0x5d1d08bf, 0xaf768bbc, 0xbc267848, 0x4e4dfb4a,/' 1 ;;
	fast-ignored)
		edit src/session.c '/^setup_ciphers(/,/^}/ s/cfg->fast_mode/(cfg->fast_mode \&\& 0)/g' 3 ;;
	counters-swapped)
		edit src/session.c '/^count(/,/^}/ s/if (d == UP) {/if (d != UP) {/' 1 ;;
	idle-one-way)
		edit src/session.c '/^relay(/,/^}/ s/atomic_store(&s->last_active, /if (d == UP) &/' 1 ;;
	tls-any-tag)
		edit src/handshake.c 's/h->res.tag != PROTO_TAG_PADDED)/0)/' 1 ;;
	filter-bypass)
		edit src/mux.c 's/if (rpc_forward_check(msg, len) != 0) {/if (0 \&\& rpc_forward_check(msg, len) != 0) {/' 1 ;;
	sni-drop-ignored)
		edit src/handshake.c 's/h->drop = 1;/h->drop = 0;/' 1 ;;
	mask-max-bytes-ignored)
		edit src/session.c 's/cfg->mask_max_bytes - (long long)h->nraw)/(long long)1 << 60)/' 1 ;;
	frame-resync)
		edit src/frame.c '/^frame_reader_feed(/,/^}/ s/return r->err = rc;/{ r->hn = 0; continue; }/' 1 ;;
	close-ext-dropped)
		edit src/mux.c '/if (a->type == RPC_CLOSE_EXT) {/,/return;/ s/unbind_locked(l, c);/(void)c;/' 1 ;;
	*) die "unknown mutant $1 (-l lists them)" ;;
	esac
	cd "$top" || die "no $top"
}

# Print what failed in build tree $1: per test program its failed checks.
report() {
	found=0
	for trs in $(find "$1/tests" -name '*.trs' | sort); do
		grep -q '^:test-result: \(FAIL\|ERROR\)' "$trs" || continue
		found=1
		log=${trs%.trs}.log
		prog=${trs#"$1"/}
		prog=${prog%.trs}
		if grep -q ':[FE]:' "$log"; then
			# FILE:LINE:F:TCASE:TEST:ITERATION: MESSAGE; once per check.
			grep ':[FE]:' "$log" | awk -F: -v p="$prog" '
			    !seen[$4 ":" $5]++ {
				m = $0
				for (i = 0; i < 6; i++)
					sub(/^[^:]*:/, "", m)
				printf "  %s %s %s:%s:%.100s\n", p, $3, $4, $5, m
			    }'
		else
			echo "  $prog (failed without a Check failure: $(tail -n 1 "$log"))"
		fi
	done
	return $((1 - found))
}

# The daemon and every test program, in the current directory.
build() {
	../src/configure -q >config.out 2>&1 || return 1
	progs=$(make -s print-tests) || return 1
	# shellcheck disable=SC2086 # one target per program
	make -j"$jobs" all $progs >build.out 2>&1
}

# Copy, plant, build and test one mutant; 0 if the suite failed.
run() {
	dir=$root/$1
	mkdir -p "$dir/build" || die "cannot create $dir"
	cp -a "$root/tree" "$dir/src" || die "cannot copy the tree"
	echo "== $1: $(describe "$1")"
	plant "$1" "$dir/src"
	if ! (cd "$dir/build" && build); then
		tail -n 20 "$dir/build/config.out" "$dir/build/build.out" >&2
		die "$1 does not build"
	fi
	if [ -n "$tests" ]; then
		(cd "$dir/build" && make check TESTS="$tests" >check.out 2>&1)
	else
		(cd "$dir/build" && make check >check.out 2>&1)
	fi
	st=$?
	if report "$dir/build" > "$dir/failed"; then
		cat "$dir/failed"
		rc=0
	elif [ "$st" -ne 0 ]; then
		tail -n 20 "$dir/build/check.out" >&2
		die "$1: make check failed with no failed test program"
	elif [ "$1" = baseline ]; then
		echo "  all passed"
		rc=1
	else
		echo "  NOT CAUGHT"
		rc=1
	fi
	[ "$keep" -eq 1 ] || rm -rf "$dir"
	return $rc
}

while getopts lkt: opt; do
	case $opt in
	l)
		for m in $mutants; do
			printf '%-24s %s\n' "$m" "$(describe "$m")"
		done
		exit 0 ;;
	k) keep=1 ;;
	t) tests=$OPTARG ;;
	*) die "usage: $0 [-l] [-k] [-t TESTS] [NAME...]" ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] && mutants=$*
for m in $mutants; do
	describe "$m" >/dev/null || die "unknown mutant $m (-l lists them)"
done

root=$(mktemp -d "${TMPDIR:-/tmp}/mutants.XXXXXX") || die "no scratch dir"
if [ "$keep" -eq 1 ]; then
	echo "scratch: $root"
else
	trap 'rm -rf "$root"' EXIT
fi
# The tracked files as they are in the work tree, autogen'd once; cp -a
# keeps the generated files newer than their sources, so make leaves them.
mkdir "$root/tree" || die "cannot create $root/tree"
(cd "$top" && git ls-files -z | tar --null -T - -cf -) |
    tar -xf - -C "$root/tree" || die "cannot copy the tracked files"
(cd "$root/tree" && ./autogen.sh >autogen.out 2>&1) ||
    die "autogen.sh failed (see $root/tree/autogen.out)"

missed=""
for m in $mutants; do
	if [ "$m" = baseline ]; then
		# The unchanged tree must pass: a mutant's failures mean nothing otherwise.
		if run baseline; then
			missed="$missed baseline(fails)"
		fi
	elif ! run "$m"; then
		missed="$missed $m"
	fi
done
if [ -n "$missed" ]; then
	echo "not caught:$missed"
	exit 1
fi
echo "all caught"
