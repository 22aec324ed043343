#!/usr/bin/env python3
"""multiprocessing's Process, Pipe and Queue on the workloads of dpool-ipc
(bench/dpool_ipc.cpp: keep the two in step), for bench/compare:
  P1_pipe_pingpong     round trips of an int through a Pipe to a Process (µs)
  Q1_queue_throughput  a Process puts N ints on a Queue, the parent gets them (items/s)
  S1_process_start     Process.start() until the child's first message (ms), spawn and fork

Usage: /usr/bin/python3 bench/peers_ipc.py [--quick]
"""
import argparse
import json
import math
import multiprocessing as mp
import statistics
import sys
import time


def echo_ints(conn):
    while True:
        v = conn.recv()
        conn.send(v)
        if v < 0:
            return


def produce(q, n):
    for i in range(n):
        q.put(i)


def hello(conn):
    conn.send(1)


def pct(v, p):
    v = sorted(v)
    return v[max(0, math.ceil(p / 100 * len(v)) - 1)]


def emit(workload, metric, value, unit, n, notes):
    print(json.dumps({"peer": "mp_pool", "workload": workload, "metric": metric, "value": value,
                      "unit": unit, "n": n, "notes": notes}), flush=True)


def pipe_pingpong(ctx, n, warm):
    a, b = ctx.Pipe()
    p = ctx.Process(target=echo_ints, args=(b,))
    p.start()
    b.close()
    us = []
    for i in range(warm + n):
        t0 = time.perf_counter()
        a.send(i)
        assert a.recv() == i
        if i >= warm:
            us.append((time.perf_counter() - t0) * 1e6)
    a.send(-1)
    a.recv()
    p.join()
    note = f"{n} round trips of an int through multiprocessing.Pipe() to a Process (fork) and back"
    emit("P1_pipe_pingpong", "median", pct(us, 50), "us", n, note)
    emit("P1_pipe_pingpong", "p99", pct(us, 99), "us", n, note)


def queue_throughput(ctx, n):
    q = ctx.Queue()
    p = ctx.Process(target=produce, args=(q, n))
    t0 = time.perf_counter()
    p.start()
    total = 0
    for _ in range(n):
        total += q.get()
    dt = time.perf_counter() - t0
    p.join()
    assert total == n * (n - 1) // 2
    emit("Q1_queue_throughput", "throughput", n / dt, "items/s", n,
         f"a Process (fork) puts {n} ints on a multiprocessing.Queue, the parent gets them")


def process_start(ctx, method, reps):
    ms = []
    for _ in range(reps):
        a, b = ctx.Pipe()
        p = ctx.Process(target=hello, args=(b,))
        t0 = time.perf_counter()
        p.start()
        assert a.recv() == 1
        ms.append((time.perf_counter() - t0) * 1e3)
        p.join()
    emit("S1_process_start" + ("" if method == "spawn" else "_" + method), "median",
         statistics.median(ms), "ms", reps,
         f"multiprocessing.Process ({method}) start() until the child's first message")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    fork = mp.get_context("fork")
    pipe_pingpong(fork, 200 if a.quick else 20000, 200)
    queue_throughput(fork, 10_000 if a.quick else 200_000)
    process_start(mp.get_context("spawn"), "spawn", 2 if a.quick else 10)
    process_start(fork, "fork", 2 if a.quick else 10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
