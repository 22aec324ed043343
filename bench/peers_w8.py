#!/usr/bin/env python3
"""W8, load balance, for the Python peers: unequal sleeping tasks through
imap_unordered(chunksize=1) (or its equivalent), in the same shuffled order as
dpool-bench's W8 (bench/w8_balance.cpp: keep the mixes and the shuffle in
step), reported as makespan / ideal, ideal = total work / 2 workers.

Usage: /usr/bin/python3 bench/peers_w8.py [--quick] [--peers mp_pool,cf_process,dask_local]
One JSON line per figure on stdout: {peer, workload, metric, value, unit, n, notes}.
"""
import argparse
import concurrent.futures as cf
import json
import multiprocessing as mp
import statistics
import sys
import time

MIXES = [  # (name, long count, long ms, short count, short ms)
    ("400_mostly_1ms", 20, 40, 380, 1),
    ("4x300_20x10", 4, 300, 20, 10),
    ("3x500_12x20", 3, 500, 12, 20),
    ("2x1000_6x50", 2, 1000, 6, 50),
]
WORKERS = 2


def order(mix, scale):
    _, lc, lms, sc, sms = mix
    d = [lms * scale / 1000] * lc + [sms * scale / 1000] * sc
    x = 12345
    for i in range(len(d) - 1, 0, -1):
        x = (x * 1664525 + 1013904223) & 0xFFFFFFFF
        j = x % (i + 1)
        d[i], d[j] = d[j], d[i]
    return d


def sleep_task(seconds):
    time.sleep(seconds)  # the task's work
    return seconds


def emit(peer, mix, ratios, n, note):
    print(json.dumps({"peer": peer, "workload": "W8_" + mix[0], "metric": "makespan_ratio",
                      "value": statistics.median(ratios), "unit": "ratio", "n": n,
                      "notes": note + "; makespan / ideal per repetition "
                      + str([round(r, 4) for r in ratios])}), flush=True)


def run_mp(mixes, scale, reps):
    with mp.Pool(WORKERS) as pool:
        pool.map(sleep_task, [0] * WORKERS)  # workers up
        for mix in mixes:
            d = order(mix, scale)
            ideal = sum(d) / WORKERS
            ratios = []
            for _ in range(reps):
                t0 = time.perf_counter()
                for _ in pool.imap_unordered(sleep_task, d, chunksize=1):
                    pass
                ratios.append((time.perf_counter() - t0) / ideal)
            emit("mp_pool", mix, ratios, len(d),
                 f"multiprocessing.Pool({WORKERS}).imap_unordered(sleep, chunksize=1); ideal {ideal:.4g} s")


def run_cf(mixes, scale, reps):
    with cf.ProcessPoolExecutor(WORKERS) as ex:
        list(ex.map(sleep_task, [0] * WORKERS))
        for mix in mixes:
            d = order(mix, scale)
            ideal = sum(d) / WORKERS
            ratios = []
            for _ in range(reps):
                t0 = time.perf_counter()
                for f in cf.as_completed([ex.submit(sleep_task, s) for s in d]):
                    f.result()
                ratios.append((time.perf_counter() - t0) / ideal)
            emit("cf_process", mix, ratios, len(d),
                 f"ProcessPoolExecutor({WORKERS}): submit each, as_completed; ideal {ideal:.4g} s")


def run_dask(mixes, scale, reps):
    from dask.distributed import Client, LocalCluster, as_completed
    with LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True,
                      dashboard_address=None, host="127.0.0.1") as cluster, Client(cluster) as client:
        client.gather(client.map(sleep_task, [0] * WORKERS, pure=False))
        for mix in mixes:
            d = order(mix, scale)
            ideal = sum(d) / WORKERS
            ratios = []
            for _ in range(reps):
                t0 = time.perf_counter()
                for f in as_completed(client.map(sleep_task, d, pure=False)):
                    f.result()
                ratios.append((time.perf_counter() - t0) / ideal)
            emit("dask_local", mix, ratios, len(d),
                 f"LocalCluster({WORKERS} workers x 1 thread): client.map, as_completed; ideal {ideal:.4g} s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="durations / 10, one repetition")
    ap.add_argument("--peers", default="mp_pool,cf_process")
    a = ap.parse_args()
    scale, reps = (0.1, 1) if a.quick else (1.0, 3)
    runners = {"mp_pool": run_mp, "cf_process": run_cf, "dask_local": run_dask}
    for p in a.peers.split(","):
        runners[p](MIXES, scale, reps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
