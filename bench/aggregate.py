#!/usr/bin/env python3
"""Summarise one bench/compare run: a Markdown table of dpool against the peers
and the ZeroMQ floor, and a PASS/MISS line for each performance target.

Usage: /usr/bin/python3 bench/aggregate.py RESULTS/all.jsonl [--hostmon RESULTS/hostmon.log]

all.jsonl mixes three kinds of lines, each one figure:
  dpool-bench   {"system": "dpool_local"|"dpool_cluster", "workload", "metric", "value", ...}
  peers         {"peer": "mp_pool"|"cf_process"|"dask_local"|..., "workload", "metric", ...}
  floor probes  {"probe": "zmq_rtt"|"zmq_hops"|"zmq_bw"|"kernel_floor", "metric", ...}
plus {"system": "env", ...} lines that bench/compare writes about the machine and each step.
Only figures present in the file are shown; a missing one prints as "–" and its
target as "n/a".
"""
import argparse
import json
import re
import statistics
import sys

SYSTEMS = ["dpool_local", "dpool_cluster", "mp_pool", "cf_process", "dask_local"]

# The floor each dpool mode is compared with, as (probe, metric, label).
#   local mode: user thread -> loop thread (client, coordinator and node share
#   it) -> socketpair -> executor process, and back: four wake-ups, the child
#   link a socketpair. The 3-process chain client -> broker+node -> child over
#   ipc + socketpair has the same wake-ups and the same child link, so it is the
#   floor used for the target; zmq_rtt ipc (2 processes, two wake-ups) is shown
#   as a reference.
#   cluster mode: client process -> coordinator (tcp) -> worker node (tcp) ->
#   executor (socketpair): the 4-process tcp, tcp, socketpair chain.
FLOOR_W1 = {
    "dpool_local": ("zmq_hops", "ipc+seqpacket.3proc.p50", "zmq_hops 3 proc, ipc + socketpair child"),
    "dpool_cluster": ("zmq_hops", "tcp-tcp+seqpacket.4proc.p50", "zmq_hops 4 proc, tcp, tcp, socketpair child"),
}
FLOOR_W1_P99 = {
    "dpool_local": ("zmq_hops", "ipc+seqpacket.3proc.p99", "zmq_hops 3 proc, ipc + socketpair child"),
    "dpool_cluster": ("zmq_hops", "tcp-tcp+seqpacket.4proc.p99", "zmq_hops 4 proc, tcp, tcp, socketpair child"),
}
FLOOR_W2 = {
    "dpool_local": ("zmq_hops", "ipc+seqpacket.3proc.w100.b1.tasks_per_s",
                    "zmq_hops 3 proc ipc + socketpair, 100 in flight, 1 child"),
    "dpool_cluster": ("zmq_hops", "tcp-tcp+ipc.4proc.w100.b1.tasks_per_s",
                      "zmq_hops 4 proc tcp, tcp, ipc child, 100 in flight, 1 child"),
}
FLOOR_W5 = {m: ("zmq_bw", "tcp.zerocopy.MB_per_s", "zmq_bw tcp zero-copy, 64 MiB, 2 proc")
            for m in ("dpool_local", "dpool_cluster")}

# Table rows: (label, workload, metric, unit, floor map or None, better)
# better: "low" (latency, time) or "high" (throughput); None for neither.
ROWS = [
    ("W1 sequential round trip, median", "W1_latency", "median", "µs", FLOOR_W1, "low"),
    ("W1 sequential round trip, p99", "W1_latency", "p99", "µs", FLOOR_W1_P99, "low"),
    ("W2 20k noop, submit all then get", "W2_unchunked", "throughput", "tasks/s", FLOOR_W2, "high"),
    ("W2 map(noop, 20k, chunksize=1)", "W2_map_chunksize1", "throughput", "tasks/s", FLOOR_W2, "high"),
    ("W3 map(square, 1e6), default chunks", "W3_map_default", "throughput", "items/s", None, "high"),
    ("W4 32 × busy on 1 executor", "W4_scaling", "t1_wall", "s", None, "low"),
    ("W4 32 × busy on 2 executors", "W4_scaling", "t2_wall", "s", None, "low"),
    ("W4 efficiency t1/(2·t2)", "W4_scaling", "efficiency", "ratio", None, "high"),
    ("W5 64 MiB argument round trip", "W5_payload", "throughput", "MB/s", FLOOR_W5, "high"),
    ("W6 SIGKILL one executor: time to outcome", "W6_fault", "time_to_outcome", "s", None, None),
    ("W7 Pool(2) → first result", "W7_startup", "time_to_first_result", "ms", None, "low"),
]
# W8, load balance (bench/w8_balance.cpp, bench/peers_w8.py): makespan / ideal per mix.
W8_MIXES = [
    ("400_mostly_1ms", "20 × 40 ms + 380 × 1 ms"),
    ("4x300_20x10", "4 × 300 ms + 20 × 10 ms"),
    ("3x500_12x20", "3 × 500 ms + 12 × 20 ms"),
    ("2x1000_6x50", "2 × 1 s + 6 × 50 ms"),
]
ROWS += [(f"W8 {label}: makespan / ideal", f"W8_{name}", "makespan_ratio", "ratio", None, "low")
         for name, label in W8_MIXES]
# Process, pipe and Queue on one machine (bench/dpool_ipc.cpp, bench/peers_ipc.py).
ROWS += [
    ("P1 pipe ping-pong to a Process, median", "P1_pipe_pingpong", "median", "µs", None, "low"),
    ("Q1 Queue, one producer process → one consumer", "Q1_queue_throughput", "throughput",
     "items/s", None, "high"),
    ("S1 Process start → first message (mp: spawn)", "S1_process_start", "median", "ms", None,
     "low"),
    ("V1 locked Value, 2 processes × 100k", "V1_locked_value", "throughput", "increments/s", None,
     "high"),
    ("L1 uncontended Lock acquire + release", "L1_lock_pair", "median", "ns", None, "low"),
    ("M1 SharedMemory 1 GiB written by one process, read by another", "M1_shared_memory",
     "throughput", "MB/s", None, "high"),
]

# The Manager over loopback TCP (bench/dpool_manager.cpp, bench/peers_manager.py).
ROWS += [
    ("G1 Manager dict set + get, one client", "G1_dict_set_get", "throughput", "ops/s", None,
     "high"),
    ("G2 Manager lock acquire + release, one client", "G2_lock_pair", "throughput", "pairs/s",
     None, "high"),
    ("G3 200 tasks × 100 dict updates on one key, 2 nodes", "G3_update_tasks", "throughput",
     "updates/s", None, "high"),
    ("G4 Manager set, in memory", "G4_state_cost", "memory", "µs", None, "low"),
    ("G4 Manager set, with --state (SQLite)", "G4_state_cost", "state", "µs", None, "low"),
]


def load(path):
    figs = {}      # (system, workload, metric) -> record
    floors = {}    # (probe, metric) -> record
    env = {}       # metric -> record
    bad = 0
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                r = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if r.get("system") == "env":
                env[r["metric"]] = r
            elif "probe" in r:
                if r["probe"] == "kernel_floor" and r["metric"].startswith("calib."):
                    env.setdefault("calib", []).append(r)  # before and after the run
                else:
                    floors[(r["probe"], r["metric"])] = r
            else:
                system = r.get("system") or r.get("peer")
                figs[(system, r.get("workload"), r.get("metric"))] = r
    return figs, floors, env, bad


def num(r):
    if r is None:
        return None
    v = r.get("value")
    return None if v is None else float(v)


def fmt(v, unit=""):
    if v is None:
        return "–"
    if unit == "ratio" or abs(v) < 10:
        return f"{v:.3g}"
    if abs(v) >= 1e6:
        return f"{v / 1e6:.3g} M"
    return f"{v:,.0f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(v):
    return "–" if v is None else f"{v:.3g}×"


def outcome_word(r):
    if r is None:
        return None
    notes = r.get("notes", "")
    m = re.match(r"([\w ]{1,40}):", notes)
    return m.group(1) if m else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("jsonl")
    ap.add_argument("--hostmon")
    args = ap.parse_args()
    figs, floors, env, bad = load(args.jsonl)

    def fig(system, workload, metric):
        return num(figs.get((system, workload, metric)))

    def floor(spec):
        if spec is None:
            return None
        return num(floors.get(spec[:2]))

    out = []
    p = out.append
    p("## Run")
    p("")
    for key in ("nproc", "mem_total", "kernel", "loadavg_start", "busy_pct_start", "loadavg_end"):
        r = env.get(key)
        if r:
            val = "" if r["unit"] == "-" else f"{r['value']:g} {r['unit']}; "
            p(f"* {key}: {val}{r['notes']}")
    if env.get("quick") and env["quick"]["value"]:
        p("* **--quick run: smoke-test sizes, the figures are not measurements**")
    if env.get("dask_skipped"):
        p("* dask_local was not run (--no-dask)")
    hostmon = []  # (seconds of day, other cores)
    if args.hostmon:
        try:
            with open(args.hostmon) as f:
                for line in f:
                    m = re.match(r"(\d+):(\d+):(\d+) .*other=([\d.]+)", line)
                    if m:
                        h, mi, se, o = m.groups()
                        hostmon.append((int(h) * 3600 + int(mi) * 60 + int(se), float(o)))
        except OSError:
            pass

    def foreign(notes):
        """Median CPU (cores) used outside the run while a step ran, from hostmon."""
        m = re.search(r"from (\d+):(\d+):(\d+) to (\d+):(\d+):(\d+)", notes)
        if not m or not hostmon:
            return None
        a = [int(x) for x in m.groups()]
        t0, t1 = a[0] * 3600 + a[1] * 60 + a[2], a[3] * 3600 + a[4] * 60 + a[5]
        # a sample covers the 2 s before its stamp
        vals = [o for t, o in hostmon if t0 < t <= t1 + 2]
        return statistics.median(vals) if vals else None

    steps = [(k[len("step_wall."):], r) for k, r in env.items() if k.startswith("step_wall.")]
    if steps:
        p("* steps (wall, exit status, median CPU used outside the run while it ran):")
        for name, r in steps:
            fo = foreign(r["notes"])
            rc = r["notes"].split(";")[0].replace("exit status ", "rc ")
            flag = "" if fo is None or fo < 0.1 else " **contended**"
            p(f"  * {name}: {r['value']:.1f} s, {rc}, "
              f"{'–' if fo is None else f'{fo:.2f} cores'}{flag}")
    calib = [r for r in env.get("calib", []) if r["metric"] == "calib.pipe.p50"]
    if calib:
        p("* box state, `kernel_floor calib=1` pipe ping-pong p50 (before, after): "
          + ", ".join(f"{num(r):.3g} µs" for r in calib))
    if hostmon:
        others = [o for _, o in hostmon]
        p(f"* CPU used outside the run (hostmon, {len(others)} samples of 2 s): median "
          f"{statistics.median(others):.2f} cores, max {max(others):.2f}, "
          f"{sum(o > 0.1 for o in others)} samples above 0.1 core")
    if bad:
        p(f"* {bad} unparsable lines skipped")
    p("")

    # ------------------------------------------------------------ table
    p("## Results")
    p("")
    p("| figure | unit | dpool local | dpool cluster | mp_pool | cf_process | dask_local | floor (local / cluster) "
      "| dpool/mp (local / cluster) | dpool/floor (local / cluster) |")
    p("|---|---|---:|---:|---:|---:|---:|---|---:|---:|")
    for label, wl, metric, unit, fl, _better in ROWS:
        vals = [fig(s, wl, metric) for s in SYSTEMS]
        if wl == "W6_fault":
            cells = []
            for s, v in zip(SYSTEMS, vals):
                word = outcome_word(figs.get((s, wl, metric)))
                cells.append("–" if v is None else f"{word} at {v:.3g} s")
        else:
            cells = [fmt(v, unit) for v in vals]
        if fl:
            fls = [floor(fl.get("dpool_local")), floor(fl.get("dpool_cluster"))]
            floor_cell = f"{fmt(fls[0], unit)} / {fmt(fls[1], unit)}"
            fr = f"{fmt_ratio(ratio(vals[0], fls[0]))} / {fmt_ratio(ratio(vals[1], fls[1]))}"
        else:
            floor_cell, fr = "–", "–"
        mp = vals[2]
        mr = "–" if wl == "W6_fault" else f"{fmt_ratio(ratio(vals[0], mp))} / {fmt_ratio(ratio(vals[1], mp))}"
        p(f"| {label} | {unit} | " + " | ".join(cells) + f" | {floor_cell} | {mr} | {fr} |")
    p("")
    p("Floors: W1 local = `zmq_hops front=ipc child=seqpacket merged=1` (3 processes, the same four "
      "wake-ups and socketpair child link as local mode's user thread → loop thread → executor); "
      "W1 cluster = `zmq_hops front=tcp back=tcp child=seqpacket` (4 processes, like client → "
      "coordinator → node → executor); W2 = the same chains with 100 messages in flight "
      "(`window=100`; the 4-process one with a zmq ipc child, 1 child each); W5 = `zmq_bw "
      "transport=tcp mode=zerocopy` (2 processes, one hop). Ratios are dpool ÷ the other: below 1 "
      "is better for µs/s/ms rows, above 1 is better for rates.")
    ref = num(floors.get(("zmq_rtt", "ipc.p50")))
    ref_tcp = num(floors.get(("zmq_rtt", "tcp.p50")))
    w1l = fig("dpool_local", "W1_latency", "median")
    w1c = fig("dpool_cluster", "W1_latency", "median")
    alt4 = num(floors.get(("zmq_hops", "tcp-tcp+ipc.4proc.p50")))
    p("")
    p(f"Reference floors: zmq_rtt ipc p50 {fmt(ref)} µs (2 processes; dpool local / it = "
      f"{fmt_ratio(ratio(w1l, ref))}), zmq_rtt tcp p50 {fmt(ref_tcp)} µs, zmq_hops 4 proc tcp, tcp, "
      f"zmq ipc child p50 {fmt(alt4)} µs (dpool cluster / it = {fmt_ratio(ratio(w1c, alt4))}).")
    p("")

    # ------------------------------------------------------------ W6 detail
    p("### W6 detail")
    p("")
    for s in SYSTEMS:
        for metric in ("time_to_outcome", "kill_to_error", "rest_completed"):
            r = figs.get((s, "W6_fault", metric))
            if r:
                p(f"* {s} {metric}: {r['notes']}")
    p("")

    # ------------------------------------------------------------ targets
    checks = []

    def target(name, value, limit, op, explain):
        if value is None:
            checks.append(("n/a", name, "–", explain))
            return
        ok = value <= limit if op == "<=" else value >= limit
        checks.append(("PASS" if ok else "MISS", name, f"{value:.3g}", explain))

    mp = lambda wl, m: fig("mp_pool", wl, m)  # noqa: E731
    for mode in ("dpool_local", "dpool_cluster"):
        short = mode.split("_")[1]
        w1 = fig(mode, "W1_latency", "median")
        target(f"W1 median {short} ≤ 0.75 × mp_pool", ratio(w1, mp("W1_latency", "median")), 0.75, "<=",
               f"{fmt(w1)} µs vs mp_pool {fmt(mp('W1_latency', 'median'))} µs")
        fl = floor(FLOOR_W1[mode])
        target(f"W1 median {short} ≤ 1.3 × floor ({FLOOR_W1[mode][2]})", ratio(w1, fl), 1.3, "<=",
               f"{fmt(w1)} µs vs floor {fmt(fl)} µs")
        for wl, lab in (("W2_unchunked", "W2 submit-all"), ("W2_map_chunksize1", "W2 map chunksize=1")):
            v = fig(mode, wl, "throughput")
            target(f"{lab} {short} ≥ 10 × mp_pool", ratio(v, mp(wl, "throughput")), 10, ">=",
                   f"{fmt(v)} vs mp_pool {fmt(mp(wl, 'throughput'))} tasks/s")
        v = fig(mode, "W3_map_default", "throughput")
        target(f"W3 {short} ≥ 10 × mp_pool", ratio(v, mp("W3_map_default", "throughput")), 10, ">=",
               f"{fmt(v)} vs mp_pool {fmt(mp('W3_map_default', 'throughput'))} items/s")
        v = fig(mode, "W5_payload", "throughput")
        fl = floor(FLOOR_W5[mode])
        target(f"W5 {short} ≥ 0.8 × zmq_bw tcp zero-copy", ratio(v, fl), 0.8, ">=",
               f"{fmt(v)} vs floor {fmt(fl)} MB/s")
    eff = fig("dpool_local", "W4_scaling", "efficiency")
    target("W4 efficiency local ≥ 0.97", eff, 0.97, ">=",
           f"mp_pool {fmt(mp('W4_scaling', 'efficiency'), 'ratio')}")
    k2e = fig("dpool_local", "W6_fault", "kill_to_error")
    rest = figs.get(("dpool_local", "W6_fault", "rest_completed"))
    if k2e is None and rest is None:
        checks.append(("n/a", "W6 named error ≤ 100 ms after the kill, the rest completes", "–", ""))
    else:
        n = rest["n"] if rest else 0
        done = num(rest) if rest else None
        ok = k2e is not None and k2e <= 100 and done is not None and done >= n - 1
        checks.append(("PASS" if ok else "MISS",
                       "W6 named error ≤ 100 ms after the kill, the rest completes",
                       f"{fmt(k2e)} ms",
                       f"{'–' if done is None else int(done)} of {n} apply_async tasks completed "
                       f"(the killed executor's task fails)"))
    w7 = fig("dpool_local", "W7_startup", "time_to_first_result")
    target("W7 local ≤ 20 ms", w7, 20, "<=", f"mp_pool {fmt(mp('W7_startup', 'time_to_first_result'))} ms")
    p1 = fig("dpool_local", "P1_pipe_pingpong", "median")
    target("P1 pipe round trip ≤ 1.0 × multiprocessing.Pipe", ratio(p1, mp("P1_pipe_pingpong", "median")),
           1.0, "<=", f"{fmt(p1)} µs vs mp {fmt(mp('P1_pipe_pingpong', 'median'))} µs")
    fc = fig("floor_c", "P1_pipe_pingpong", "median")
    target("P1 pipe round trip ≤ 1.2 × raw socketpair ping-pong", ratio(p1, fc), 1.2, "<=",
           f"{fmt(p1)} µs vs floor {fmt(fc)} µs")
    q1 = fig("dpool_local", "Q1_queue_throughput", "throughput")
    target("Q1 local Queue ≥ 5 × multiprocessing.Queue", ratio(q1, mp("Q1_queue_throughput", "throughput")),
           5, ">=", f"{fmt(q1)} vs mp {fmt(mp('Q1_queue_throughput', 'throughput'))} items/s")
    s1 = fig("dpool_local", "S1_process_start", "median")
    target("S1 Process start ≤ 1.5 × multiprocessing spawn", ratio(s1, mp("S1_process_start", "median")),
           1.5, "<=", f"{fmt(s1)} ms vs mp spawn {fmt(mp('S1_process_start', 'median'))} ms "
           f"(fork: {fmt(mp('S1_process_start_fork', 'median'))} ms)")
    v1 = fig("dpool_local", "V1_locked_value", "throughput")
    target("V1 locked Value ≥ 5 × multiprocessing.Value", ratio(v1, mp("V1_locked_value", "throughput")),
           5, ">=", f"{fmt(v1)} vs mp {fmt(mp('V1_locked_value', 'throughput'))} increments/s")
    m1, mfl = fig("dpool_local", "M1_shared_memory", "throughput"), fig("floor_c", "M1_shared_memory", "throughput")
    target("M1 SharedMemory write + read across processes within 1.2 × the same loops on private memory (time)",
           ratio(mfl, m1), 1.2, "<=",
           f"{fmt(m1)} MB/s vs {fmt(mfl)} MB/s in one process (mp {fmt(mp('M1_shared_memory', 'throughput'))})")
    for name, label in W8_MIXES:
        peer = mp(f"W8_{name}", "makespan_ratio")
        for mode in ("dpool_local", "dpool_cluster"):
            v = fig(mode, f"W8_{name}", "makespan_ratio")
            excess = None if v is None or peer is None else v - peer
            target(f"W8 {label} {mode.split('_')[1]}: makespan/ideal ≤ mp_pool's + 0.02", excess, 0.02,
                   "<=", f"dpool {fmt(v, 'ratio')} vs mp_pool {fmt(peer, 'ratio')} (measured: the difference)")

    # ------------------------------------------------------------ scale (dpool-scale)
    scale = sorted(((w, m), r) for (sys_, w, m), r in figs.items() if sys_ == "dpool")
    if scale:
        p("## Scale, simulated")
        p("")
        p("| fake nodes × slots | tasks/s | coordinator CPU per task (µs) |")
        p("|---|---:|---:|")
        rows = {}
        for (w, m), r in scale:
            g = re.match(r"S1_nodes=(\d+)_slots=(\d+)", w)
            if g:
                rows.setdefault((int(g[1]), int(g[2])), {})[m] = num(r)
        for (nodes, slots), v in sorted(rows.items()):
            p(f"| {nodes} × {slots} | {fmt(v.get('throughput'))} | "
              f"{fmt(v.get('coordinator_cpu_per_task'))} |")
        p("")
        for (w, m), r in scale:
            g = re.match(r"S2_queued_memory_payload=(\d+)B", w)
            if g and m == "coordinator_bytes_per_queued_task":
                payload = int(g[1])
                target(f"memory per queued task ≤ 512 B + payload ({payload} B)", num(r),
                       512 + payload, "<=", f"{fmt(num(r))} B per task, {r['n']:,} queued")

    p("## Targets")
    p("")
    p("| result | target | measured (ratio or value) | detail |")
    p("|---|---|---:|---|")
    for status, name, val, detail in checks:
        p(f"| {status} | {name} | {val} | {detail} |")
    p("")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
