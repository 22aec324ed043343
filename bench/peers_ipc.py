#!/usr/bin/env python3
"""multiprocessing's Process, Pipe and Queue on the workloads of dpool-ipc
(bench/dpool_ipc.cpp: keep the two in step), for bench/compare:
  P1_pipe_pingpong     round trips of an int through a Pipe to a Process (µs)
  Q1_queue_throughput  a Process puts N ints on a Queue, the parent gets them (items/s)
  S1_process_start     Process.start() until the child's first message (ms), spawn and fork
  V1_locked_value      two Processes each add 1 to a Value under get_lock() N times (increments/s)
  L1_lock_pair         uncontended multiprocessing.Lock acquire + release (ns per pair)
  M1_shared_memory     one Process writes a SharedMemory block, another reads it (MB/s)

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


def add_locked(v, n):
    for _ in range(n):
        with v.get_lock():
            v.value += 1


def write_block(name, secs):
    from multiprocessing import shared_memory
    shm = shared_memory.SharedMemory(name)
    t0 = time.perf_counter()
    shm.buf[:] = b"\x01" * shm.size
    secs.value = time.perf_counter() - t0
    shm.close()


def read_block(name, out, secs):
    from multiprocessing import shared_memory
    shm = shared_memory.SharedMemory(name)
    t0 = time.perf_counter()
    out.value = sum(memoryview(shm.buf).cast("Q")) % (1 << 64)
    secs.value = time.perf_counter() - t0
    shm.close()


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


def locked_value(ctx, n):
    v = ctx.Value("l", 0)
    ps = [ctx.Process(target=add_locked, args=(v, n)) for _ in range(2)]
    t0 = time.perf_counter()
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    dt = time.perf_counter() - t0
    assert v.value == 2 * n
    emit("V1_locked_value", "throughput", 2 * n / dt, "increments/s", 2 * n,
         f"two Processes (fork) each add 1 to a multiprocessing.Value {n} times under get_lock()")


def lock_pairs(ctx, n):
    lock = ctx.Lock()
    t0 = time.perf_counter()
    for _ in range(n):
        lock.acquire()
        lock.release()
    emit("L1_lock_pair", "median", (time.perf_counter() - t0) * 1e9 / n, "ns", n,
         "uncontended multiprocessing.Lock acquire + release, one thread")


def shared_memory_rw(ctx, size):
    from multiprocessing import shared_memory
    shm = shared_memory.SharedMemory(create=True, size=size)
    out, wt, rt = ctx.Value("Q", 0), ctx.Value("d", 0), ctx.Value("d", 0)
    w = ctx.Process(target=write_block, args=(shm.name, wt))
    w.start()
    w.join()
    r = ctx.Process(target=read_block, args=(shm.name, out, rt))
    r.start()
    r.join()
    dt = wt.value + rt.value
    shm.close()
    shm.unlink()
    assert out.value == (size // 8) * 0x0101010101010101 % (1 << 64)
    emit("M1_shared_memory", "throughput", 2 * size / dt / 1e6, "MB/s", 1,
         f"one Process (fork) fills a new {size >> 20} MiB shared_memory block, another sums it; "
         "each times its own loop")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    fork = mp.get_context("fork")
    pipe_pingpong(fork, 200 if a.quick else 20000, 200)
    queue_throughput(fork, 10_000 if a.quick else 200_000)
    process_start(mp.get_context("spawn"), "spawn", 2 if a.quick else 10)
    process_start(fork, "fork", 2 if a.quick else 10)
    locked_value(fork, 10_000 if a.quick else 100_000)
    lock_pairs(fork, 100_000 if a.quick else 1_000_000)
    shared_memory_rw(fork, (64 if a.quick else 1024) << 20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
