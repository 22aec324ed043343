#!/usr/bin/env bash
# Installs a built dpool tree into a temporary prefix, builds the consumer
# project (tests/package/consumer) against it with find_package(dpool), and
# runs the consumer in local mode and then against an installed
# `dpool coordinator` with one `dpool worker --load libconsumer_tasks.so`.
#
#   run_package_test.sh BUILD_DIR [CONSUMER_SOURCE_DIR] [CXX_COMPILER]
set -euo pipefail

build_dir=$(cd "$1" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
consumer_src=${2:-$here/consumer}
cxx=${3:-}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dpool-package.XXXXXX")
prefix=$tmp/prefix
# The installed coordinator makes its CurveZMQ keys here on first start, and
# the worker and the consumer find them: the user's own keys stay untouched.
export XDG_CONFIG_HOME=$tmp/config
consumer_build=$tmp/consumer-build
pids=()

cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ $rc -ne 0 ]]; then
    for log in "$tmp"/*.out "$tmp"/*.err; do
      [[ -s $log ]] || continue
      echo "---- $log"
      tail -n 40 "$log"
    done
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { echo "== $*"; }

# Waits up to $3 seconds for a line matching the regex $2 in file $1, while
# the process $4 is alive; prints the first match.
wait_for_line() {
  local file=$1 pattern=$2 seconds=$3 pid=$4 line=""
  local deadline=$((SECONDS + seconds))
  while ((SECONDS < deadline)); do
    line=$(grep -m1 -E "$pattern" "$file" 2>/dev/null || true)
    if [[ -n $line ]]; then
      echo "$line"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "process $pid exited before printing /$pattern/" >&2
      return 1
    fi
    sleep 0.05
  done
  echo "no line matching /$pattern/ in $file within $seconds s" >&2
  return 1
}

step "install $build_dir into $prefix"
cmake --install "$build_dir" --prefix "$prefix" >"$tmp/install.out"
for f in bin/dpool bin/dpool-executor include/dpool/dpool.hpp; do
  [[ -e $prefix/$f ]] || { echo "missing from the install: $f" >&2; exit 1; }
done
ls "$prefix"/lib*/cmake/dpool/dpoolConfig.cmake >/dev/null

step "configure and build the consumer against the installed package"
configure=(cmake -S "$consumer_src" -B "$consumer_build" -DCMAKE_PREFIX_PATH="$prefix"
           -DCMAKE_BUILD_TYPE=RelWithDebInfo)
[[ -n $cxx ]] && configure+=(-DCMAKE_CXX_COMPILER="$cxx")
"${configure[@]}" >"$tmp/configure.out"
cmake --build "$consumer_build" -j 2 >"$tmp/build.out"
consumer=$consumer_build/consumer
tasks_lib=$consumer_build/libconsumer_tasks.so
[[ -x $consumer && -f $tasks_lib ]]

step "installed dpool refuses bad options with exit code 2"
set +e
"$prefix/bin/dpool" worker --connect tcp://127.0.0.1:1 >/dev/null 2>&1
rc=$?
set -e
[[ $rc -eq 2 ]] || { echo "dpool worker without --exec/--load exited $rc, not 2" >&2; exit 1; }

# Each consumer run is bounded well inside the CTest TIMEOUT, so a hang fails
# here, with the daemons' logs, instead of leaving processes behind.
run_consumer() { timeout --kill-after=10 200 "$consumer" "$@"; }

step "consumer in local mode"
run_consumer

step "start dpool coordinator"
"$prefix/bin/dpool" --log info coordinator --bind 'tcp://127.0.0.1:*' \
  >"$tmp/coordinator.out" 2>"$tmp/coordinator.err" &
pids+=($!)
line=$(wait_for_line "$tmp/coordinator.out" '^dpool coordinator listening on ' 30 "${pids[-1]}")
address=${line##* }
echo "coordinator at $address"

step "start dpool worker --load $(basename "$tasks_lib")"
"$prefix/bin/dpool" worker --connect "$address" --procs 2 --load "$tasks_lib" \
  >"$tmp/worker.out" 2>"$tmp/worker.err" &
pids+=($!)
wait_for_line "$tmp/worker.out" '^dpool worker connected to ' 30 "${pids[-1]}"

step "consumer in cluster mode"
run_consumer "$address"

step "stop the daemons"
for pid in "${pids[@]}"; do kill -TERM "$pid"; done
for pid in "${pids[@]}"; do
  rc=0
  wait "$pid" || rc=$?
  [[ $rc -eq 0 ]] || { echo "daemon $pid exited with $rc after SIGTERM" >&2; exit 1; }
done
pids=()
echo "package test passed"
