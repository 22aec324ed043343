#!/usr/bin/env bash
# Builds the Debian package of a built dpool tree (cpack -G DEB), unpacks it
# into a throwaway root, checks what it holds, and builds the consumer
# project (tests/package/consumer) against it twice: with find_package(dpool)
# and with pkg-config. The pkg-config build is run in local mode.
#
#   run_deb_test.sh BUILD_DIR [CONSUMER_SOURCE_DIR] [CXX_COMPILER]
set -euo pipefail

build_dir=$(cd "$1" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
consumer_src=${2:-$here/consumer}
cxx=${3:-c++}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dpool-deb.XXXXXX")
trap 'rc=$?; [[ $rc -ne 0 ]] && for f in "$tmp"/*.out; do echo "---- $f"; tail -n 30 "$f"; done; rm -rf "$tmp"; exit $rc' EXIT
step() { echo "== $*"; }
# The consumer's embedded coordinator makes its CurveZMQ keys here on first
# start, not in the user's home.
export XDG_CONFIG_HOME=$tmp/config

step "cpack -G DEB"
(cd "$tmp" && cpack -G DEB --config "$build_dir/CPackConfig.cmake" >"$tmp/cpack.out")
deb=$(ls "$tmp"/dpool_*.deb)
echo "$(basename "$deb")"

step "package fields"
dpkg-deb -f "$deb" Package Version Architecture Depends | tee "$tmp/fields.out"
grep -q '^Package: dpool$' "$tmp/fields.out"
grep -q '^Depends: .*libzmq5' "$tmp/fields.out"
grep -q '^Depends: .*libcereal-dev' "$tmp/fields.out"

step "contents"
root=$tmp/root
dpkg-deb -x "$deb" "$root"
libdir=$(dirname "$(find "$root/usr" -name 'libdpool.so' -print -quit)")
[[ -n $libdir ]] || { echo "no libdpool.so in the package" >&2; exit 1; }
soname=$(objdump -p "$libdir/libdpool.so" | awk '/SONAME/ {print $2}')
[[ $soname == libdpool.so.0 ]] || { echo "soname is '$soname', not libdpool.so.0" >&2; exit 1; }
for f in "$libdir/$soname" usr/bin/dpool usr/bin/dpool-executor usr/include/dpool/dpool.hpp \
         "$libdir/pkgconfig/dpool.pc" "$libdir/cmake/dpool/dpoolConfig.cmake"; do
  [[ $f == /* ]] || f=$root/$f
  [[ -e $f ]] || { echo "missing from the package: ${f#"$root"}" >&2; exit 1; }
done
LD_LIBRARY_PATH=$libdir "$root/usr/bin/dpool" --help >/dev/null

step "consumer with find_package(dpool)"
cmake -S "$consumer_src" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$root/usr" \
  -DCMAKE_CXX_COMPILER="$cxx" >"$tmp/configure.out"
cmake --build "$tmp/cmake-build" -j 2 >"$tmp/build.out"

step "consumer with pkg-config"
export PKG_CONFIG_PATH=$libdir/pkgconfig
flags=$(pkg-config --cflags --libs dpool)
echo "pkg-config --cflags --libs dpool: $flags"
"$cxx" -o "$tmp/consumer" "$consumer_src/main.cpp" "$consumer_src/consumer_tasks.cpp" $flags \
  -Wl,-rpath,"$libdir" >"$tmp/pkg-build.out" 2>&1
timeout --kill-after=10 200 "$tmp/consumer" >"$tmp/consumer.out" 2>&1
echo "deb test passed"
