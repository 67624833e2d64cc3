#!/bin/sh
# Build mtproxyd and install it for /usr, /etc and /var into DESTDIR (empty:
# this machine): the dependencies (autogen.sh --deps, as root), configure,
# make, make install. The Dockerfile's build stage runs it, and so does CI
# (.ci/run, stage install), so that CI covers the image's steps. Extra
# arguments go to configure.
set -eu
cd "$(dirname "$0")/.."
./autogen.sh --deps
./configure --prefix=/usr --sysconfdir=/etc --localstatedir=/var \
    --without-check --with-libsystemd=yes "$@"
make -j"$(nproc)"
make install DESTDIR="${DESTDIR:-}"
