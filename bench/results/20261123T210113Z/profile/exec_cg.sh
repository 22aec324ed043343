#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file=/tmp/prof/callgrind.out.exec.W2.%p /work/main/build-bench/bin/dpool-bench "$@"
