#!/usr/bin/env python3
"""multiprocessing's Manager on the workloads of dpool-manager
(bench/dpool_manager.cpp: keep the two in step), for bench/compare:
  G1_dict_set_get  one client, d[k] = i then d[k] on a Manager().dict() (ops/s)
  G2_lock_pair     one client, acquire + release of a Manager().Lock() (pairs/s)
  Q2_pool_queue    a multiprocessing.Queue: one process puts, another gets
                   (items/s; dpool's is a coordinator-hosted queue)
The manager serves over loopback TCP, as dpool's coordinator does.

Usage: /usr/bin/python3 bench/peers_manager.py [--quick]
"""
import argparse
import json
import multiprocessing as mp
import time
from multiprocessing.managers import SyncManager


def emit(workload, metric, value, unit, n, notes):
    print(json.dumps({"peer": "mp_pool", "workload": workload, "metric": metric,
                      "value": value, "unit": unit, "n": n, "notes": notes}), flush=True)


def set_get(d, n):
    t0 = time.perf_counter()
    for i in range(n):
        d["key"] = i
        assert d["key"] == i
    return time.perf_counter() - t0


def produce(q, n):
    for i in range(n):
        q.put(i)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    n = 500 if ap.parse_args().quick else 20000
    with SyncManager(address=("127.0.0.1", 0)) as mgr:
        d = mgr.dict()
        set_get(d, n // 10)
        dt = set_get(d, n)
        emit("G1_dict_set_get", "throughput", 2 * n / dt, "ops/s", 2 * n,
             "one client, d[k] = i then d[k] on a Manager().dict() over loopback TCP")
        lock = mgr.Lock()
        t0 = time.perf_counter()
        for _ in range(n):
            lock.acquire()
            lock.release()
        emit("G2_lock_pair", "throughput", n / (time.perf_counter() - t0), "pairs/s", n,
             "one client, acquire + release of a Manager().Lock() over loopback TCP")
    q = mp.get_context("fork").Queue()
    producer = mp.get_context("fork").Process(target=produce, args=(q, n))
    producer.start()
    t0 = time.perf_counter()
    total = sum(q.get() for _ in range(n))
    dt = time.perf_counter() - t0
    producer.join()
    assert total == n * (n - 1) // 2
    emit("Q2_pool_queue", "throughput", n / dt, "items/s", n,
         "multiprocessing.Queue, one process puts, another gets (a pipe on this machine)")


if __name__ == "__main__":
    main()
