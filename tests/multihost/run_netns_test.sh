#!/usr/bin/env bash
# A cluster on three "hosts" of one machine: network namespaces joined by a
# bridge (see netns.sh). The coordinator runs in one, a worker in each of the
# others, started with the README's commands and the default CurveZMQ keys.
# The client, in the coordinator's namespace, checks that a map spans both
# workers; then, during a second map and once results came from both, the
# test takes worker B's link down, and the client checks that B's tasks ran
# again on A and that every item came back exactly once.
# Exits 77 (skipped) without root or working `ip netns`.
#
#   run_netns_test.sh DPOOL_BINARY MULTIHOST_CLIENT
set -euo pipefail
dpool=$(realpath "$1")
client=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/netns.sh"
require_netns

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dpool-netns.XXXXXX")
# The coordinator makes its keys on first start where the workers and the
# client look for them (same account, same home in every namespace): under
# ctest, the test's own configuration directory; run by hand, a temporary one.
export XDG_CONFIG_HOME=${XDG_CONFIG_HOME:-$WORK/config}
client_pid=""
cleanup() {
  set +e
  [ -z "$client_pid" ] || kill -9 "$client_pid" 2>/dev/null
  netns_cleanup
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
netns_setup "dpool-$$"

# Fast fault detection, so that a cut-off node is declared lost in 0.5 s.
port=5555
start_daemon coordinator "$NS_C" "$dpool" coordinator --bind "tcp://$ADDR_C:$port" \
  --heartbeat 50ms --node-timeout 500ms
wait_line coordinator "dpool coordinator listening on" 20
for w in A B; do
  ns_var=NS_$w
  start_daemon "worker$w" "${!ns_var}" "$dpool" worker --connect "tcp://$ADDR_C:$port" \
    --procs 2 --exec "$client" --name "node$w" --heartbeat 50ms
  wait_line "worker$w" "dpool worker connected to" 20
done

# The client: its output is read line by line, its input tells it the cut is done.
mkfifo "$WORK/client.in" "$WORK/client.out"
ip netns exec "$NS_C" "$client" "tcp://$ADDR_C:$port" --cut nodeB \
  <"$WORK/client.in" >"$WORK/client.out" 2>&1 &
client_pid=$!
exec {to_client}>"$WORK/client.in" {from_client}<"$WORK/client.out"
out=$WORK/client.log
cut=no
while true; do
  rc=0
  IFS= read -r -t 40 -u "$from_client" line || rc=$?
  if ((rc > 128)); then
    echo "FAIL: the client printed nothing for 40 s; its output so far:" >&2
    cat "$out" >&2
    exit 1
  fi
  ((rc == 0)) || break  # end of its output: it exited
  echo "client: $line" | tee -a "$out"
  if [[ $line == "cut nodeB now"* ]]; then
    ip -n "$NS_B" link set eth0 down
    echo "test: took nodeB's link down"
    cut=yes
    echo done >&"$to_client"
  fi
done
status=0
wait "$client_pid" || status=$?
client_pid=""
if [ "$status" != 0 ]; then
  echo "FAIL: the client exited with $status; coordinator log:" >&2
  sed 's/^/  | /' "$WORK/coordinator.log" >&2
  exit 1
fi
[ "$cut" = yes ] || { echo "FAIL: the client never asked for the cut" >&2; exit 1; }
grep -q "^client: first map: 16 items, each once, on nodeA nodeB" "$out" ||
  { echo "FAIL: the first map did not span both nodes" >&2; exit 1; }
grep -q "^client: second map: 48 items, each once; [0-9]* moved from nodeB to nodeA" "$out" ||
  { echo "FAIL: the second map's tasks did not move to nodeA" >&2; exit 1; }
grep "node nodeB .*declared dead\|nodeB left: [1-9][0-9]* unfinished task(s) requeued" \
  "$WORK/coordinator.log" | sed 's/^/coordinator: /'
[ "$(grep -c "node nodeB .*declared dead\|nodeB left: [1-9][0-9]* unfinished task(s) requeued" \
  "$WORK/coordinator.log")" = 2 ] ||
  { echo "FAIL: the coordinator did not declare nodeB dead and requeue its tasks" >&2; exit 1; }
echo "PASS"
