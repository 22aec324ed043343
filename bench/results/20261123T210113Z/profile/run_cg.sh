#!/bin/bash
# callgrind of the cluster path: coordinator, client and executors under callgrind; node native.
cd /tmp/prof
B=/work/main/build-bench/bin
ONLY=${1:-W2}
QUICK=${2:-}
valgrind --tool=callgrind --callgrind-out-file=/tmp/prof/callgrind.out.coord.$ONLY.%p $B/dpool coordinator --bind 'tcp://127.0.0.1:*' --log warn > coord.out 2> coord.err &
CPID=$!
for i in $(seq 100); do grep -q "listening on" coord.out && break; sleep 0.2; done
ADDR=$(grep -o 'tcp://[0-9.:]*' coord.out)
sed -i "s/callgrind.out.exec[.A-Za-z0-9]*%p/callgrind.out.exec.$ONLY.%p/" exec_cg.sh
$B/dpool worker --connect $ADDR --procs 2 --exec /tmp/prof/exec_cg.sh --log warn > worker.out 2> worker.err &
WPID=$!
for i in $(seq 100); do grep -q "connected" worker.out && break; sleep 0.2; done
sleep 6
valgrind --tool=callgrind --callgrind-out-file=/tmp/prof/callgrind.out.client.$ONLY.%p $B/dpool-bench --connect $ADDR $QUICK --only $ONLY > client.$ONLY.jsonl 2> client.$ONLY.err
sleep 1
callgrind_control -d > /dev/null 2>&1
sleep 2
kill -TERM $WPID; wait $WPID
kill -TERM $CPID; wait $CPID
ls -la callgrind.out.*
