#!/usr/bin/env bash
# Checks the systemd units in examples/systemd with `systemd-analyze verify`,
# with /usr/bin/dpool pointed at this build's `dpool`; and checks that the
# check can fail, on a copy whose ExecStart names no program. Exits 77
# (skipped) where systemd-analyze is not installed.
#
#   run_systemd_test.sh UNIT_DIR DPOOL_BINARY
set -euo pipefail
units=$(cd "$1" && pwd)
dpool=$2
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze is not installed (Debian package systemd)"
  exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dpool-units.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for unit in "$units"/*.service; do
  name=$(basename "$unit")
  sed "s#/usr/bin/dpool#$dpool#g" "$unit" >"$tmp/$name"
  echo "== systemd-analyze verify $name"
  systemd-analyze verify "$tmp/$name"
done
sed 's#^ExecStart=.*#ExecStart=no-such-dpool worker#' "$tmp/dpool-worker.service" >"$tmp/broken.service"
if systemd-analyze verify "$tmp/broken.service" 2>/dev/null; then
  echo "a unit with a missing program passed verification: the check proves nothing" >&2
  exit 1
fi
echo "units verified"
