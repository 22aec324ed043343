#!/usr/bin/env bash
# `dpool cluster up|status|down` for real: an sshd runs in each of three
# network namespaces (see netns.sh), with a host key and a client key made
# here, and the launcher starts the coordinator and two workers through them.
# A client map must span both workers; after `down`, no dpool process may be
# left in any namespace. Exits 77 (skipped) without root, `ip netns` or sshd.
#
#   run_ssh_launch_test.sh DPOOL_BINARY MULTIHOST_CLIENT
set -euo pipefail
dpool=$(realpath "$1")
client=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/netns.sh"
require_netns
[ -x /usr/sbin/sshd ] || skip "no /usr/sbin/sshd (Debian package openssh-server)"
command -v ssh >/dev/null && command -v ssh-keygen >/dev/null ||
  skip "no ssh or ssh-keygen (Debian package openssh-client)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dpool-ssh.XXXXXX")
chmod 700 "$WORK"
cleanup() {
  set +e
  netns_cleanup
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
netns_setup "dpssh-$$"

# sshd, one per "host", accepting only the key made here.
mkdir -p /run/sshd  # its privilege separation directory, made by its service otherwise
ssh-keygen -q -t ed25519 -N '' -f "$WORK/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/client_key"
cp "$WORK/client_key.pub" "$WORK/authorized_keys"
for h in C A B; do
  ns_var=NS_$h addr_var=ADDR_$h
  cat >"$WORK/sshd_$h.conf" <<CONF
ListenAddress ${!addr_var}
Port 22
HostKey $WORK/host_key
PidFile $WORK/sshd_$h.pid
AuthorizedKeysFile $WORK/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel INFO
CONF
  start_daemon "sshd$h" "${!ns_var}" /usr/sbin/sshd -D -e -f "$WORK/sshd_$h.conf"
  wait_line "sshd$h" "Server listening on ${!addr_var}" 20
done

# The daemons' keys, given to them with --keys; the client finds them here.
export XDG_CONFIG_HOME=$WORK/xdg
"$dpool" keygen "$XDG_CONFIG_HOME/dpool" >/dev/null

cat >"$WORK/hosts" <<HOSTS
# the test's cluster: fast heartbeats, as the namespaces test uses
coordinator $ADDR_C:5555 --heartbeat 50ms --node-timeout 500ms
worker $ADDR_A --procs 2 --heartbeat 50ms
worker root@$ADDR_B --procs 2 --heartbeat 50ms   # a user given, as ssh takes it
dpool $dpool
HOSTS
run_dir=$WORK/run
cluster() {
  ip netns exec "$NS_C" "$dpool" cluster "$@" --keys "$XDG_CONFIG_HOME/dpool" \
    --run-dir "$run_dir" --ssh-option "IdentityFile=$WORK/client_key" \
    --ssh-option "UserKnownHostsFile=$WORK/known_hosts" \
    --ssh-option StrictHostKeyChecking=accept-new --ssh-option ConnectTimeout=5
}
show() { sed 's/^/  | /' "$1"; }

echo "== dpool cluster up"
cluster up "$WORK/hosts" --exec "$client" --timeout 20s >"$WORK/up.out" 2>&1 ||
  { show "$WORK/up.out"; fail "dpool cluster up failed"; }
show "$WORK/up.out"
grep -q "cluster up: 2 workers joined the coordinator at tcp://$ADDR_C:5555" "$WORK/up.out" ||
  fail "cluster up did not say that both workers joined"

echo "== dpool cluster up, again: refused while it runs"
if cluster up "$WORK/hosts" --exec "$client" >"$WORK/again.out" 2>&1; then
  show "$WORK/again.out"
  fail "a second cluster up succeeded while the cluster ran"
fi
grep -q "already running" "$WORK/again.out" || { show "$WORK/again.out"; fail "no 'already running'"; }

echo "== another cluster's coordinator on the same port: up says it did not start"
run_dir=$WORK/run2
if cluster up "$WORK/hosts" --exec "$client" >"$WORK/taken.out" 2>&1; then
  show "$WORK/taken.out"
  fail "a coordinator started on a port already taken"
fi
show "$WORK/taken.out"
grep -q "the coordinator on $ADDR_C did not start" "$WORK/taken.out" &&
  grep -q "Address already in use" "$WORK/taken.out" || fail "no clear message for a port taken"
run_dir=$WORK/run

echo "== dpool cluster status"
cluster status "$WORK/hosts" >"$WORK/status.out" 2>&1 ||
  { show "$WORK/status.out"; fail "dpool cluster status failed"; }
show "$WORK/status.out"
[ "$(grep -c ": running, pid" "$WORK/status.out")" = 3 ] || fail "status did not show 3 running daemons"

echo "== a client map"
ip netns exec "$NS_C" "$client" "tcp://$ADDR_C:5555" >"$WORK/client.out" 2>&1 ||
  { show "$WORK/client.out"; fail "the client failed"; }
show "$WORK/client.out"
grep -q "^first map: 16 items, each once, on $ADDR_A $ADDR_B$" "$WORK/client.out" ||
  fail "the map did not span both workers"

echo "== dpool cluster down"
cluster down "$WORK/hosts" >"$WORK/down.out" 2>&1 ||
  { show "$WORK/down.out"; fail "dpool cluster down failed"; }
show "$WORK/down.out"
[ "$(grep -c ": stopped pid" "$WORK/down.out")" = 3 ] || fail "down did not stop 3 daemons"

echo "== a worker host that ssh cannot reach: up and down fail, and say which"
sed "s/^worker root@$ADDR_B .*/worker 127.0.0.1 --procs 1/" "$WORK/hosts" >"$WORK/hosts_bad"
if cluster up "$WORK/hosts_bad" --exec "$client" >"$WORK/bad_up.out" 2>&1; then
  show "$WORK/bad_up.out"
  fail "cluster up succeeded with a host that cannot be reached"
fi
show "$WORK/bad_up.out"
grep -q "worker-127.0.0.1 on 127.0.0.1: ssh: connect to host 127.0.0.1 port 22: Connection refused" \
  "$WORK/bad_up.out" || fail "up did not say which host could not be reached"
grep -q "not every worker could be started" "$WORK/bad_up.out" ||
  fail "up did not say that a worker could not be started"
if cluster down "$WORK/hosts_bad" >"$WORK/bad_down.out" 2>&1; then
  show "$WORK/bad_down.out"
  fail "cluster down succeeded with a host that cannot be reached"
fi
show "$WORK/bad_down.out"
[ "$(grep -c ": stopped pid" "$WORK/bad_down.out")" = 2 ] ||
  fail "down did not stop the coordinator and the worker it reached"

left=""
for ns in "$NS_C" "$NS_A" "$NS_B"; do
  left+=$(procs_matching "$ns" "$dpool" "$client")
done
[ -z "$left" ] || fail "processes left after cluster down:"$'\n'"$left"
[ -z "$(ls -A "$WORK/run"/*.pid 2>/dev/null)" ] || fail "pid files left in $WORK/run"

echo "== dpool cluster status, after down"
if cluster status "$WORK/hosts" >"$WORK/after.out" 2>&1; then
  fail "cluster status succeeded with nothing running"
fi
show "$WORK/after.out"
echo "PASS"
