# Helpers for the multi-host tests, sourced by them: three network namespaces
# on one machine, joined by a bridge, as a coordinator host and two worker
# hosts; daemons started in them, waited on by a line of their output; and a
# cleanup that removes all of it on every exit path.
#
#   netns_setup PREFIX    makes namespaces PREFIX-c (10.213.0.1, bridge br0),
#                         PREFIX-a (10.213.0.2) and PREFIX-b (10.213.0.3), each
#                         with its link named eth0 on its side; sets NS_C,
#                         NS_A, NS_B, ADDR_C, ADDR_A, ADDR_B
#   netns_cleanup         kills every process in them, deletes them
#   start_daemon NAME NS CMD...   starts CMD in NS with its output in
#                         $WORK/NAME.log (read through a FIFO, so the test can
#                         wait on a line of it); sets DAEMON_PID
#   wait_line NAME TEXT SECONDS   returns once a line of NAME's output contains
#                         TEXT; fails, showing the log, on timeout or exit
#
# Needs WORK (a temporary directory) to be set. Exit code 77 means skipped.

skip() {
  echo "SKIP: $*"
  exit 77
}

require_netns() {
  [ "$(id -u)" = 0 ] || skip "network namespaces need root (run as root, or in a container with CAP_NET_ADMIN and CAP_SYS_ADMIN)"
  command -v ip >/dev/null || skip "no ip command (Debian package iproute2)"
  local probe="dpool-probe-$$"
  if ! ip netns add "$probe" 2>/dev/null; then
    skip "ip netns add does not work here (no CAP_SYS_ADMIN, or /run/netns cannot be mounted)"
  fi
  ip netns del "$probe"
}

NETNS_LIST=()
HELPER_PIDS=()

netns_setup() {
  local prefix=$1
  NS_C=$prefix-c NS_A=$prefix-a NS_B=$prefix-b
  ADDR_C=10.213.0.1 ADDR_A=10.213.0.2 ADDR_B=10.213.0.3
  local ns
  for ns in "$NS_C" "$NS_A" "$NS_B"; do
    ip netns add "$ns"
    NETNS_LIST+=("$ns")
    ip -n "$ns" link set lo up
  done
  ip -n "$NS_C" link add br0 type bridge
  ip -n "$NS_C" addr add "$ADDR_C/24" dev br0
  ip -n "$NS_C" link set br0 up
  local side
  for side in a:"$NS_A":"$ADDR_A" b:"$NS_B":"$ADDR_B"; do
    IFS=: read -r tag ns addr <<<"$side"
    ip -n "$NS_C" link add "port-$tag" type veth peer name eth0 netns "$ns"
    ip -n "$NS_C" link set "port-$tag" master br0 up
    ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
}

netns_cleanup() {
  local ns pid
  for ns in "${NETNS_LIST[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  done
  for pid in "${HELPER_PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for ns in "${NETNS_LIST[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  NETNS_LIST=()
}

# The processes in a namespace whose command line contains one of TEXTS.
procs_matching() {
  local ns=$1 pid out="" patterns=() text
  shift
  for text in "$@"; do patterns+=(-e "$text"); done
  for pid in $(ip netns pids "$ns" 2>/dev/null); do
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -F "${patterns[@]}"; then
      out+="$pid: $(tr '\0' ' ' <"/proc/$pid/cmdline") "$'\n'
    fi
  done
  printf '%s' "$out"
}

declare -A DAEMON_FD DAEMON_PIDS

start_daemon() {
  local name=$1 ns=$2
  shift 2
  mkfifo "$WORK/$name.fifo"
  ip netns exec "$ns" "$@" >"$WORK/$name.fifo" 2>&1 </dev/null &
  DAEMON_PID=$!
  disown "$DAEMON_PID"  # killed by netns_cleanup; no "Killed" notice from bash then
  DAEMON_PIDS[$name]=$DAEMON_PID
  local fd
  exec {fd}<"$WORK/$name.fifo"
  DAEMON_FD[$name]=$fd
  : >"$WORK/$name.log"
}

wait_line() {
  local name=$1 text=$2 seconds=$3 line fd=${DAEMON_FD[$1]}
  local deadline=$((SECONDS + seconds))
  while ((SECONDS < deadline)); do
    if ! IFS= read -r -t $((deadline - SECONDS)) -u "$fd" line; then
      break  # timed out, or the daemon closed its output (exited)
    fi
    printf '%s\n' "$line" >>"$WORK/$name.log"
    if [[ $line == *"$text"* ]]; then
      # From now on its output only goes to the log; something must read the
      # FIFO, or the daemon blocks once the pipe is full.
      cat <&"$fd" >>"$WORK/$name.log" &
      HELPER_PIDS+=($!)
      disown $!
      return 0
    fi
  done
  echo "FAIL: $name did not print \"$text\" within $seconds s; its output:" >&2
  sed 's/^/  | /' "$WORK/$name.log" >&2
  return 1
}
