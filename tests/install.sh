#!/bin/sh
# make install into a DESTDIR: the config is installed only where there is
# none (an edited one survives a second install and make uninstall), the
# sample always; the unit, where one is installed, names this build's
# daemon and config. Run by make check from the build directory.
set -u
sbindir=${MTPROXYD_SBINDIR:?run by make check}
sysconfdir=${MTPROXYD_SYSCONFDIR:?run by make check}
unitdir=${MTPROXYD_UNITDIR-}
src=${MTPROXYD_SRCDIR:?run by make check}
# A make of our own, not a job of make check's.
unset MAKEFLAGS MFLAGS MAKELEVEL
d=$(mktemp -d "${TMPDIR:-/tmp}/mtproxyd-install.XXXXXX") ||
	{ echo "FAIL: mktemp"; exit 1; }
trap 'rm -rf "$d"' EXIT
conf=$d/root$sysconfdir/mtproxyd.conf
fail() { echo "FAIL: $*"; exit 1; }
inst() {	# inst install|uninstall
	${MAKE:-make} -s "$1" DESTDIR="$d/root" >"$d/make.log" 2>&1 ||
		{ cat "$d/make.log"; fail "make $1"; }
}

inst install
[ -x "$d/root$sbindir/mtproxyd" ] || fail "no $sbindir/mtproxyd"
cmp -s "$src/conf/mtproxyd.conf" "$conf" || fail "first install: no $conf"
cmp -s "$src/conf/mtproxyd.conf" "$conf.sample" ||
	fail "first install: no $conf.sample"
if [ -n "$unitdir" ]; then
	unit=$d/root$unitdir/mtproxyd.service
	[ -f "$unit" ] || fail "no $unitdir/mtproxyd.service"
	grep -qx "ExecStart=$sbindir/mtproxyd -c $sysconfdir/mtproxyd.conf --state-dir \${STATE_DIRECTORY}" \
	    "$unit" || fail "the unit's ExecStart is not this build's: $(grep ExecStart= "$unit")"
	! grep -q '@[a-z]*@' "$unit" || fail "placeholder left in the unit"
fi

# The operator edits the config; a second install keeps the edit.
printf '[server]\nport = 9443\n' >"$conf"
cp "$conf" "$d/edited"
echo "# stale sample" >>"$conf.sample"
inst install
cmp -s "$d/edited" "$conf" || fail "second install overwrote the edited config"
cmp -s "$src/conf/mtproxyd.conf" "$conf.sample" ||
	fail "second install did not refresh the sample"

# Uninstall leaves the edited config, and only it.
inst uninstall
cmp -s "$d/edited" "$conf" || fail "make uninstall removed the edited config"
[ ! -e "$conf.sample" ] || fail "make uninstall left the sample"
[ ! -e "$d/root$sbindir/mtproxyd" ] || fail "make uninstall left the daemon"
left=$(find "$d/root" -type f ! -path "$conf")
[ -z "$left" ] || fail "make uninstall left: $left"

# An unedited config is the package's own: uninstall removes it.
rm -f "$conf"
inst install
inst uninstall
[ ! -e "$conf" ] || fail "make uninstall left the unedited config"
echo "PASS: make install keeps an edited config, refreshes the sample; uninstall keeps only the edit"
