#!/usr/bin/env python3
"""tools/bench_report.py: run nf_bench and print its results as Markdown tables.

    python3 tools/bench_report.py [BINARY] [--repetitions N] [--json FILE]
                                  [--save-json FILE] [-- EXTRA_BENCH_ARGS...]

BINARY defaults to build/bench/bench/nf_bench (the `bench` preset). The binary is
run once, with --benchmark_format=json, N repetitions (default 5) and aggregates
only; every figure below is the median of those repetitions, and every ratio is
of two medians from that one run. --json reads a JSON file a previous run wrote
(--save-json, or the binary's own --benchmark_out) instead of running.

What is printed: the machine (nproc, CPU model), the date, the command that
reproduces the run and how long it took; then the ratio table with the project's
targets, and the tables behind it. A target that is missed says so: the script
reports, it never fails on speed (exit 1 only if the run itself failed).

Python 3 standard library only.
"""

import argparse
import datetime
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
import time

DEFAULT_BINARY = "build/bench/bench/nf_bench"
SIZES = [10, 1000, 100000, 1000000]
OVERLAPS = [0, 1, 16]
VARIANTS = ["nf", "list", "multimap", "drivertree64", "tree1"]
VARIANT_NOTES = {
    "nf": "the core: one interval tree per address space, collision-retry seqs",
    "list": "(a) one list scanned on every invalidation (hmm, gntdev)",
    "multimap": "(b) std::multimap<start, sub*> under a mutex",
    "drivertree64": "(c) one interval tree + lock per driver, 64 subscriptions per driver",
    "tree1": "(c) with one driver: a single interval tree behind one mutex",
}
# The options Google Benchmark appends to a name (MinTime, Iterations, ...).
NAME_OPTIONS = re.compile(
    r"/(min_time|min_warmup_time|iterations|repeats|manual_time|real_time|threads)(:[^/]*)?")


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_bench(binary, repetitions, extra):
    cmd = [binary, "--benchmark_format=json",
           "--benchmark_repetitions=%d" % repetitions,
           "--benchmark_report_aggregates_only=true"] + extra
    print("bench_report: running %s" % " ".join(shlex.quote(c) for c in cmd), file=sys.stderr)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    seconds = time.monotonic() - t0
    if proc.returncode != 0:
        print("bench_report: %s exited with %d" % (binary, proc.returncode), file=sys.stderr)
        sys.exit(1)
    return json.loads(proc.stdout), seconds, cmd


def base_name(b):
    return NAME_OPTIONS.sub("", b.get("run_name", b["name"]))


def cvs(data):
    """{base name: coefficient-of-variation entry} (present with repetitions)."""
    return {base_name(b): b for b in data.get("benchmarks", [])
            if b.get("run_type") == "aggregate" and b.get("aggregate_name") == "cv"}


def medians(data):
    """{base name: median entry}: base name = the run name without GB's options."""
    out = {}
    errors = []
    for b in data.get("benchmarks", []):
        if b.get("error_occurred"):
            errors.append("%s: %s" % (b.get("name"), b.get("error_message")))
            continue
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = base_name(b)
        # Without repetitions there are no aggregates: take the single run.
        if b.get("run_type") == "aggregate" or name not in out:
            out[name] = b
    return out, errors


def ns(entry):
    """The entry's median real time in nanoseconds."""
    scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}[entry.get("time_unit", "ns")]
    return entry["real_time"] * scale


def scaled(value, steps, last):
    """value in the first unit of steps [(threshold, divisor, format)] it reaches, else last."""
    if value is None:
        return "n/a"
    for threshold, divisor, form in steps:
        if value >= threshold:
            return form % (value / divisor)
    return last % value


def fmt_time(t_ns):
    return scaled(t_ns, [(1e6, 1e6, "%.2f ms"), (1e3, 1e3, "%.2f µs")], "%.1f ns")


def fmt_ratio(r):
    if r is None:
        return "n/a"
    if r >= 100:
        return "%.0f×" % r
    if r < 0.1:
        return "%.2g× (1/%.0f)" % (r, 1 / r)
    return "%.2f×" % r


def fmt_rate(r):
    return scaled(r, [(1e6, 1e6, "%.2f M/s"), (1e3, 1e3, "%.1f k/s")], "%.0f /s")


class Results:
    def __init__(self, data):
        self.by_name, self.errors = medians(data)
        self.cv = cvs(data)

    def time(self, name):
        e = self.by_name.get(name)
        return ns(e) if e else None

    def counter(self, name, key):
        e = self.by_name.get(name)
        return e.get(key) if e else None

    def invalidate(self, variant, n, k):
        return self.time("Invalidate/%s/n:%d/k:%d" % (variant, n, k))

    def insert_remove(self, variant, n):
        return self.time("InsertRemove/%s/n:%d" % (variant, n))


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def verdict(value, ok):
    if value is None:
        return "n/a"
    return "yes" if ok(value) else "**no**"


def ratio_table(r):
    rows = []

    def add(what, a, b, rr, target, ok):
        rows.append("| %s | %s | %s | %s | %s | %s |" % (
            what, a, b, fmt_ratio(rr) if isinstance(rr, float) or rr is None else rr,
            target, verdict(rr, ok) if ok else ""))

    lock = r.time("FastPath/mutex_lock_unlock")
    rb = r.time("FastPath/read_begin_retry")
    fault = r.time("FastPath/fault_pattern")
    add("read_begin + read_retry vs one uncontended lock + unlock",
        fmt_time(rb), fmt_time(lock), ratio(rb, lock), "≤ 2×", lambda x: x <= 2)
    add("the fault pattern (read_begin, lock, read_retry, unlock) vs lock + unlock",
        fmt_time(fault), fmt_time(lock), ratio(fault, lock), "", None)

    n, k = 100000, 1
    nf = r.invalidate("nf", n, k)
    lst = r.invalidate("list", n, k)
    add("invalidate n=1e5 k=1: list scan vs nf (how much faster nf is)",
        fmt_time(lst), fmt_time(nf), ratio(lst, nf), "≥ 100×", lambda x: x >= 100)
    mm = r.invalidate("multimap", n, k)
    add("invalidate n=1e5 k=1: nf vs multimap (how much slower nf is)",
        fmt_time(nf), fmt_time(mm), ratio(nf, mm), "", None)
    dt = r.invalidate("drivertree64", n, k)
    add("invalidate n=1e5 k=1: nf vs per-driver trees, 64 subs per driver (1563 drivers)",
        fmt_time(nf), fmt_time(dt), ratio(nf, dt), "≤ 2×", lambda x: x <= 2)
    t1 = r.invalidate("tree1", n, k)
    add("invalidate n=1e5 k=1: nf vs one driver's tree behind one mutex",
        fmt_time(nf), fmt_time(t1), ratio(nf, t1), "≤ 2×", lambda x: x <= 2)

    # Growth from the smallest n that has k subscriptions to n = 1e6; the bare
    # tree (tree1) grows alongside for comparison: same O(log n + k) structure;
    # the list scan is O(n).
    for v, ks, order in [("nf", OVERLAPS, "O(log n + k)"), ("tree1", OVERLAPS, "O(log n + k)"),
                         ("list", [1], "O(n)")]:
        for kk in ks:
            base = min(n for n in SIZES if n >= kk)
            big = r.invalidate(v, SIZES[-1], kk)
            small = r.invalidate(v, base, kk)
            add("%s invalidate growth, n=%s → n=1e6, k=%d (log2 n grows %.1f×)" % (
                v, "{:g}".format(base), kk, math.log2(SIZES[-1]) / math.log2(base)),
                fmt_time(big), fmt_time(small), ratio(big, small), order, None)

    mem = r.counter("Memory/nf", "bytes_per_sub")
    allocs = r.counter("Memory/nf", "allocs_per_sub")
    emb = r.counter("Memory/nf", "embedded_bytes")
    rows.append("| core state per subscription: sizeof(IntervalSubscription) + allocated "
                "| %s B | %s allocs/sub | %s B | ≤ 100 B, 0 allocs | %s |" % (
                    "%.0f" % emb if emb is not None else "n/a",
                    "%.3g" % allocs if allocs is not None else "n/a",
                    "%.1f" % mem if mem is not None else "n/a",
                    verdict(mem, lambda x: x <= 100 and (allocs or 0) == 0)))

    c = "Contention/faulters:%d/invalidators:%d/hold_ns:%d"
    for hold in [0, 1000]:
        f_cont = r.counter(c % (2, 1, hold), "faults_per_s")
        f_alone = r.counter(c % (2, 0, 0), "faults_per_s")
        i_cont = r.counter(c % (2, 1, hold), "invalidations_per_s")
        i_alone = r.counter(c % (0, 1, hold), "invalidations_per_s")
        retries = r.counter(c % (2, 1, hold), "retries_per_fault")
        sleeps = r.counter(c % (2, 1, hold), "sleeps_per_fault")
        add("contention, 2 faulters + 1 invalidator (range held %d ns): faults/s vs "
            "2 faulters alone" % hold,
            fmt_rate(f_cont), fmt_rate(f_alone), ratio(f_cont, f_alone), "", None)
        add("contention, 2 faulters + 1 invalidator (range held %d ns): invalidations/s vs "
            "1 invalidator alone" % hold,
            fmt_rate(i_cont), fmt_rate(i_alone), ratio(i_cont, i_alone), "", None)
        rows.append("| contention (range held %d ns): retries per fault; sleeps per fault "
                    "| %s | %s | | | |" % (
                        hold, "%.3g" % retries if retries is not None else "n/a",
                        "%.3g" % sleeps if sleeps is not None else "n/a"))

    return ["| comparison | A (median) | B (median) | A / B | target | met |",
            "| --- | ---: | ---: | ---: | --- | --- |"] + rows


def invalidate_table(r):
    lines = ["| n | k | " + " | ".join(VARIANTS) + " | list / nf |",
             "| ---: | ---: | " + " | ".join("---:" for _ in VARIANTS) + " | ---: |"]
    for n in SIZES:
        for k in OVERLAPS:
            if k > n:
                continue
            cells = [fmt_time(r.invalidate(v, n, k)) for v in VARIANTS]
            rr = ratio(r.invalidate("list", n, k), r.invalidate("nf", n, k))
            lines.append("| %d | %d | %s | %s |" % (n, k, " | ".join(cells), fmt_ratio(rr)))
    return lines


def insert_remove_table(r):
    lines = ["| n | " + " | ".join(VARIANTS) + " |",
             "| ---: | " + " | ".join("---:" for _ in VARIANTS) + " |"]
    for n in SIZES:
        cells = [fmt_time(r.insert_remove(v, n)) for v in VARIANTS]
        lines.append("| %d | %s |" % (n, " | ".join(cells)))
    return lines


def memory_table(r):
    lines = ["| design | embedded B/sub | allocs/sub | allocated B/sub | once-per-structure B "
             "| total B/sub |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for v in ["nf", "list", "multimap", "drivertree64"]:
        name = "Memory/" + v
        if name not in r.by_name:
            continue
        g = lambda key: r.counter(name, key)  # noqa: E731
        lines.append("| %s | %.0f | %.3g | %.1f | %.0f | %.1f |" % (
            v, g("embedded_bytes"), g("allocs_per_sub"), g("alloc_bytes_per_sub"),
            g("per_structure_bytes"), g("bytes_per_sub")))
    return lines


def contention_table(r):
    lines = ["| faulters | invalidators | range held | faults/s | invalidations/s "
             "| retries/fault | sleeps/fault | sleeps/invalidation | gave up | stale "
             "| CV of faults/s, invalidations/s |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for f, i, h in [(2, 1, 0), (2, 0, 0), (0, 1, 0), (2, 1, 1000), (0, 1, 1000)]:
        name = "Contention/faulters:%d/invalidators:%d/hold_ns:%d" % (f, i, h)
        if name not in r.by_name:
            continue
        g = lambda key: r.counter(name, key) or 0  # noqa: E731
        cv = r.cv.get(name, {})
        spread = ", ".join("%.0f%%" % (100 * cv[key]) if isinstance(cv.get(key), float)
                           and cv[key] == cv[key] else "-"
                           for key in ("faults_per_s", "invalidations_per_s"))
        lines.append("| %d | %d | %d ns | %s | %s | %.3g | %.3g | %.3g | %.0f | %.0f | %s |" % (
            f, i, h, fmt_rate(g("faults_per_s")), fmt_rate(g("invalidations_per_s")),
            g("retries_per_fault"), g("sleeps_per_fault"), g("sleeps_per_invalidation"),
            g("gave_up"), g("stale"), spread))
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binary", nargs="?", default=DEFAULT_BINARY)
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--json", help="read this JSON output instead of running the binary")
    ap.add_argument("--save-json", help="also write the run's JSON output here")
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:  # everything after -- goes to the binary
        extra = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    args = ap.parse_args(argv)

    if args.json:
        with open(args.json, encoding="utf-8") as f:
            data = json.load(f)
        seconds = None
        cmd = None
    else:
        if not os.access(args.binary, os.X_OK):
            print("bench_report: %s is not there; build it with\n"
                  "  cmake --preset bench && cmake --build build/bench --target nf_bench -j2"
                  % args.binary, file=sys.stderr)
            return 1
        data, seconds, cmd = run_bench(args.binary, args.repetitions, extra)
    if args.save_json:
        with open(args.save_json, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)

    r = Results(data)
    ctx = data.get("context", {})
    date = ctx.get("date") or datetime.datetime.now().isoformat(timespec="seconds")
    out = []
    out.append("## Benchmarks: the core against the designs it replaced")
    out.append("")
    out.append("- machine: %s CPUs (nproc), %s; load average at start %s" % (
        ctx.get("num_cpus", os.cpu_count()), cpu_model(),
        ", ".join("%.2f" % x for x in ctx.get("load_avg", [])) or "n/a"))
    out.append("- date: %s" % date)
    if cmd is not None:
        out.append("- command: `python3 tools/bench_report.py %s` (runs `%s`)" % (
            " ".join(shlex.quote(a) for a in sys.argv[1:]),
            " ".join(shlex.quote(c) for c in cmd)))
        out.append("- run time of the whole binary: %.0f s" % seconds)
    out.append("- figures: medians of %s repetitions; each ratio is of two medians of "
               "this one run" % (args.repetitions if cmd is not None else "the run's"))
    if ctx.get("library_build_type") == "debug":
        out.append("- note: Debian's libbenchmark reports itself as a debug build; the "
                   "timed loop is inline in the benchmark binary (Release), so the "
                   "figures are not affected")
    out.append("")
    out.append("### Ratios")
    out.append("")
    out += ratio_table(r)
    out.append("")
    out.append("### Invalidate start + end (median per call)")
    out.append("")
    for v in VARIANTS:
        out.append("- `%s`: %s" % (v, VARIANT_NOTES[v]))
    out.append("")
    out += invalidate_table(r)
    out.append("")
    out.append("### Insert one + remove it, on a structure holding n (median per pair)")
    out.append("")
    out += insert_remove_table(r)
    out.append("")
    out.append("### Memory per subscription (100,000 inserted; allocations counted)")
    out.append("")
    out += memory_table(r)
    out.append("")
    out.append("### Contention (nf, 16 one-page subscriptions, ranges of 4, 250 ms a run; "
               "sleeps: voluntary context switches, i.e. ReadBegin waits and contended locks)")
    out.append("")
    out += contention_table(r)
    if r.errors:
        out.append("")
        out.append("### Benchmarks that reported an error")
        out.append("")
        out += ["- %s" % e for e in r.errors]
    print("\n".join(out))
    return 1 if r.errors else 0


if __name__ == "__main__":
    sys.exit(main())
