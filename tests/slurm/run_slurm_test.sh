#!/usr/bin/env bash
# Runs examples/slurm/dpool.sbatch on a real, single-machine SLURM made here:
# munged, slurmctld and slurmd with their configuration, keys, sockets, logs
# and state in a temporary directory (nothing of the system's is used or
# changed), all stopped on every way out. Then:
#  (a) `sbatch --wait` the script running the quickstart: the job's output has
#      the quickstart's results, the worker took its executor count from
#      SLURM_CPUS_ON_NODE, and no dpool process is left;
#  (b) a job of one CPU whose program runs until cancelled, with keys made by
#      `dpool keygen` (DPOOL_KEYS): its worker runs 1 executor (SLURM's
#      count, not this machine's cores); once the program
#      runs, `scancel`, and every process of the job must have stopped by
#      itself, well before SLURM's KillWait would SIGKILL what is left;
#  (c) a program given in DPOOL_PROGRAM that exits with 3 makes a job that
#      exits with 3;
#  (d) workers that cannot start (a bad option) fail the job without running
#      the program, and leave nothing behind.
# Exits 77 (skipped) when not root or SLURM/MUNGE are not installed.
#
#   run_slurm_test.sh SBATCH_SCRIPT DPOOL_BINARY QUICKSTART
set -euo pipefail
script=$(realpath "$1")
dpool=$(realpath "$2")
quickstart=$(realpath "$3")

if [ "$(id -u)" != 0 ]; then
  echo "SKIP: the SLURM test runs slurmd and slurmctld as root; run it as root"
  exit 77
fi
for program in munged mungekey slurmctld slurmd sbatch srun squeue scancel sinfo; do
  if ! command -v "$program" >/dev/null && [ ! -x "/usr/sbin/$program" ]; then
    echo "SKIP: $program is not installed (Debian packages munge slurmctld slurmd slurm-client)"
    exit 77
  fi
done
export PATH=$PATH:/usr/sbin

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dpool-slurm.XXXXXX")
chmod 0700 "$tmp"
# Every process this test starts, and every process of its jobs, has this
# variable: SLURM's commands read the configuration from it, and the leftover
# checks below find the test's processes by it.
export SLURM_CONF=$tmp/slurm.conf

# Processes of this test's job $1 (of any of its jobs when $1 is "any"), one
# "PID COMMAND LINE" a line: those whose environment has both SLURM_CONF and
# SLURM_JOB_ID (the batch script, the coordinator, srun, the worker and its
# executors, the program), SLURM's slurmstepd aside.
job_processes() {
  local dir pattern="SLURM_JOB_ID=$1"
  [ "$1" = any ] && pattern='SLURM_JOB_ID=[0-9]*'
  for dir in /proc/[0-9]*; do
    grep -qxzF "SLURM_CONF=$SLURM_CONF" "$dir/environ" 2>/dev/null || continue
    grep -qxz "$pattern" "$dir/environ" 2>/dev/null || continue
    [ "$(cat "$dir/comm" 2>/dev/null)" = slurmstepd ] && continue
    echo "${dir#/proc/} $({ tr '\0' ' ' <"$dir/cmdline"; } 2>/dev/null)"
  done
}
no_job_processes() { [ -z "$(job_processes "$1")" ]; }

daemons=()
stop_daemons() {
  local rc=$? pid
  trap - EXIT INT TERM
  # Jobs first (their slurmstepd processes belong to slurmd), then the
  # daemons; a job process that outlives both is killed, so that a failed
  # run leaves nothing behind either.
  if [ -f "$SLURM_CONF" ] && [ -n "$(job_processes any)" ]; then
    scancel --full --quiet --partition=dpooltest 2>/dev/null || true
    for _ in $(seq 50); do
      no_job_processes any && break
      sleep 0.2
    done
  fi
  for pid in "${daemons[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${daemons[@]}"; do wait "$pid" 2>/dev/null || true; done
  for pid in $(job_processes any | cut -d' ' -f1); do
    echo "killing process $pid of a job, left after SLURM stopped" >&2
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ "$rc" != 0 ]; then
    for log in "$tmp"/*.out "$tmp"/*.log; do
      [ -f "$log" ] || continue
      echo "---- $(basename "$log") (last lines)"
      tail -n 15 "$log"
    done
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap stop_daemons EXIT
trap 'exit 1' INT TERM

# Waits up to SECONDS for the background child PID (e.g. `sbatch --wait`)
# and sets child_rc to its exit code; fails naming WHAT if it is still
# running then. `wait -n` returns when the child or the timer exits.
wait_for_child() {
  local pid=$1 seconds=$2 what=$3 timer
  sleep "$seconds" &
  timer=$!
  wait -n "$pid" "$timer" || true
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    fail "$what did not end within $seconds s"
  fi
  kill "$timer" 2>/dev/null
  wait "$timer" 2>/dev/null || true
  child_rc=0
  wait "$pid" || child_rc=$?
}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# A TCP port nobody listens on (a daemon that then cannot bind says so in its log).
free_port() {
  local port
  for _ in $(seq 50); do
    port=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  fail "found no free TCP port"
}

# Polls COMMAND every 0.2 s for at most SECONDS: SLURM's daemons announce
# nothing a shell can wait on (no readiness fd, no event), so asking them
# again, briefly and with a bound, is the only way.
poll() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$what: not so after ${seconds} s"
    sleep 0.2
  done
}

# --- MUNGE, with a key of its own ---
mkdir -m 0700 "$tmp/munge"
mungekey --create --keyfile="$tmp/munge/munge.key" >/dev/null
chmod 0600 "$tmp/munge/munge.key"
munge_socket=$tmp/munge/munge.socket
munged --foreground --force --key-file="$tmp/munge/munge.key" --socket="$munge_socket" \
  --pid-file="$tmp/munge/munged.pid" --seed-file="$tmp/munge/munged.seed" \
  --log-file="$tmp/munged.log" >>"$tmp/munged.log" 2>&1 &
daemons+=($!)
poll 10 "munged makes its socket" test -S "$munge_socket"

# --- slurmctld and slurmd: one node (this machine), one partition ---
node=$(hostname -s)
cat >"$SLURM_CONF" <<EOF
ClusterName=dpooltest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$munge_socket
# No log files: in the foreground (-D) the daemons log to standard error,
# which goes to $tmp/*.log.
StateSaveLocation=$tmp/ctld
SlurmdSpoolDir=$tmp/slurmd
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmdParameters=config_overrides
KillWait=30
MailProg=/bin/true
MessageTimeout=5
NodeName=$node NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=dpooltest Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
mkdir -p "$tmp/ctld" "$tmp/slurmd"
slurmctld -D -i -f "$SLURM_CONF" >>"$tmp/slurmctld.log" 2>&1 &
daemons+=($!)
slurmd -D -f "$SLURM_CONF" >>"$tmp/slurmd.log" 2>&1 &
daemons+=($!)
node_idle() { [ "$(sinfo -h -n "$node" -o %t 2>/dev/null)" = idle ]; }
poll 30 "the node $node is idle in sinfo" node_idle
echo "SLURM is up: node $node, $SLURM_CONF"

# The jobs' own configuration directory: the coordinator makes its keys here,
# and the worker and the program find them (sbatch passes the environment on).
export XDG_CONFIG_HOME=$tmp/config
export DPOOL=$dpool
# and the script's run directory is made here, gone with the rest even when a
# job is killed before it removes it.
export TMPDIR=$tmp

# $1 must have a line matching the regular expression $2.
expect_line() {
  grep -qE -- "$2" "$1" || fail "$(basename "$1") has no line matching /$2/"
}

# --- (a) the quickstart, start to end ---
out=$tmp/quickstart.out
sbatch --parsable --wait --exclusive --nodes=1 --output="$out" --chdir="$tmp" \
  "$script" "$quickstart" >"$tmp/sbatch.id" &
wait_for_child $! 60 "the quickstart's job"
rc=$child_rc
job=$(cut -d';' -f1 "$tmp/sbatch.id")
echo "== (a) job $job ended with exit code $rc"
cat "$out"
[ "$rc" = 0 ] || fail "the quickstart's job $job failed with exit code $rc"
expect_line "$out" '^map\(square, 0\.\.9\) = 0 1 4 9 16 25 36 49 64 81$'
expect_line "$out" '^8 x apply_async\(getpid\) ran in [12] executor processes$'
expect_line "$out" '^dpool worker connected to tcp://.* with 2 executors \(SLURM_CPUS_ON_NODE\)$'
expect_line "$out" '^dpool.sbatch: 1 of 1 workers joined$'
expect_line "$out" '^dpool.sbatch: the program exited with code 0$'
expect_line "$out" '^dpool worker stopping$'
expect_line "$out" '^dpool coordinator stopping \(signal 15\)$'
left=$(job_processes "$job")
[ -z "$left" ] || fail "processes of job $job are left after it ended:"$'\n'"$left"

# --- (b) a long job, cancelled ---
out=$tmp/cancelled.out
printf '%s\n' '#!/usr/bin/env bash' 'echo "long program: running against $DPOOL_ADDRESS"' \
  'exec sleep 600' >"$tmp/long_program"
chmod +x "$tmp/long_program"
# This job's keys are in a directory of their own, given with DPOOL_KEYS.
"$dpool" keygen "$tmp/keys" >/dev/null
job=$(DPOOL_ADDRESS_ARG=0 DPOOL_WORKER_ARGS="--exec $quickstart" DPOOL_KEYS=$tmp/keys \
  sbatch --parsable --nodes=1 --ntasks=1 --cpus-per-task=1 --output="$out" --chdir="$tmp" \
  "$script" "$tmp/long_program")
job=${job%%;*}
running() {
  [ "$(squeue -h -j "$job" -o %T 2>/dev/null)" = RUNNING ] &&
    grep -q '^long program: running' "$out" 2>/dev/null
}
poll 30 "job $job runs its program" running
echo "== (b) job $job runs its program; scancel"
scancel "$job"
# KillWait is 30 s: a job whose processes are all gone within 15 s stopped
# by itself, not by SLURM's SIGKILL.
poll 15 "every process of the cancelled job $job has exited" no_job_processes "$job"
cat "$out"
expect_line "$out" '^dpool worker connected to tcp://.* with 1 executor \(SLURM_CPUS_ON_NODE\)$'
expect_line "$out" '^dpool.sbatch: received SIGTERM: stopping$'
expect_line "$out" "coordinator: CurveZMQ on tcp://.* with the keys in $tmp/keys:"
expect_line "$out" '^dpool worker stopping$'
expect_line "$out" '^dpool coordinator stopping \(signal 15\)$'

# --- (c) the job's exit code is the program's ---
out=$tmp/exit3.out
printf '%s\n' '#!/usr/bin/env bash' 'echo "exit3 program: arguments $*"' 'exit 3' \
  >"$tmp/exit3_program"
chmod +x "$tmp/exit3_program"
DPOOL_PROGRAM=$tmp/exit3_program DPOOL_WORKER_ARGS="--exec $quickstart" \
  sbatch --parsable --wait --nodes=1 --output="$out" --chdir="$tmp" \
  "$script" >"$tmp/sbatch.id" &
wait_for_child $! 60 "the job of a program exiting with 3"
job=$(cut -d';' -f1 "$tmp/sbatch.id")
echo "== (c) job $job ended with exit code $child_rc"
[ "$child_rc" = 3 ] || fail "job $job's exit code is $child_rc, not its program's 3"
expect_line "$out" '^dpool.sbatch: the program exited with code 3$'
expect_line "$out" '^exit3 program: arguments tcp://[^ ]*$'
expect_line "$out" '^dpool worker stopping$'

# --- (d) workers that cannot start fail the job at once ---
out=$tmp/nojoin.out
DPOOL_WORKER_ARGS="--no-such-option" \
  sbatch --parsable --wait --nodes=1 --output="$out" --chdir="$tmp" \
  "$script" "$quickstart" >"$tmp/sbatch.id" &
wait_for_child $! 60 "the job whose workers cannot start"
job=$(cut -d';' -f1 "$tmp/sbatch.id")
echo "== (d) job $job ended with exit code $child_rc"
[ "$child_rc" != 0 ] || fail "job $job, whose workers could not start, succeeded"
expect_line "$out" "^dpool.sbatch: the workers' step ended with exit code [1-9][0-9]* before all joined"
expect_line "$out" '^dpool coordinator stopping \(signal 15\)$'
! grep -q '^apply_async' "$out" || fail "job $job ran its program without workers"
left=$(job_processes "$job")
[ -z "$left" ] || fail "processes of job $job are left after it ended:"$'\n'"$left"

echo "PASS: the quickstart ran through dpool.sbatch; a cancelled job left no process; a job's" \
  "exit code is its program's; a job whose workers cannot start fails"
