#!/usr/bin/env python3
"""tools/mutants.py: the detection matrix behind `./nf mutants` (a benchmark).

For each mutant of docs/bugs.md and each way of finding it, search from an
EMPTY corpus on one core, for N seeds, within a time budget, and record the time
and executions to the first detection (or "not found") and what fired.

Ways (each skipped, and said so, if its binary is not built):
  sequential   sequential_fuzzer_mut_<m>, libFuzzer, -seed=<seed>
  concurrent   concurrent_fuzzer_mut_<m>, libFuzzer, -seed=<seed>
  tsan         tsan_stress_mut_<m>: the TSan stress suite on real threads, in
               short rounds (NF_SOAK=0.05: about 9 s for the 7 tests) repeated
               (--gtest_repeat=-1, NF_SEED=<seed>, then +1 per repeat) until it
               fails or the budget ends; a test without progress for 10 s
               (NF_STRESS_WATCHDOG) fails as a P7 hang
  naive        naive_baseline_mut_<m>: random programs on real threads, no coverage
               guidance, no schedule control (the baseline), NF_SEED=<seed>

Ablation (--ablate mutator,boundary): the libFuzzer ways again with
one piece of the toolkit switched off, as extra columns <way>-no-<piece>:
  mutator        NF_MUTATOR=0: plain libFuzzer mutation instead of the program
                 mutator (fuzzers/program/mutator.h); both libFuzzer ways
  boundary       a fuzz tree configured with -DNF_BOUNDARY_OPS=OFF
                 (build/mutants-noboundary, built only when asked for); skipped,
                 with a note, if CMakeLists.txt has no such option
The summary gives, per piece, the geometric mean of the slowdown of each
ablated cell against the same way with everything on.

Kept inputs: the input behind each detection is copied to
build/mutants/runs/<stamp>/<mutant>/<way>/seed<k>/: the libFuzzer artifact
(crash-*, timeout-*, ...; `./nf triage FILE --binary BINARY` replays it, the
command is in replay.txt), or for the TSan suite and the naive baseline, whose
failures depend on the OS's interleavings, the seed and the command that ran
(replay.txt). The report lists them under the table.

--target kernel: the same for the kernel's mm/mmu_notifier.c: the catalogue
mutants of kernel/mutants/ through sequential_fuzzer_kernel_mut_<m> and
concurrent_fuzzer_kernel_mut_<m> (the ways sequential and concurrent), on each
kernel version (--kernel 6.1|6.12|both, default both: the 6.12 ways are
sequential@6.12 and concurrent@6.12, their binaries end in _6_12), output in
build/mutants-kernel/.

A control row, `none`, runs every way on the correct core in the same way: a
"found" there is a false alarm of that way, and says its other cells are noise.
The summary under the table counts, per way, the mutants found, and compares
the toolkit (for each mutant, its fastest way among the fuzzers and the TSan
suite) with the naive baseline: the ratio of median times to first detection.

Runs are independent single-threaded processes (the TSan suite and the naive
baseline start OS threads, but one run at a time still fits one core); --jobs N
runs N of them side by side, for a machine with N cores to spare.

Wall-clock time is measured here because this is a benchmark: it is printed,
never asserted. The time to detection ends when the failing run writes its JSON
document (just before it aborts), so that the reporting after it (libFuzzer's
symbolized stack trace costs about 0.4 s) is not counted as search, and the
fuzzers run with -print_funcs=0 (no symbolized NEW_FUNC lines, whose first one
costs 0.1-0.2 s: reporting, not search); a failure
without one (a sanitizer's report) counts to the process's exit. Each run's
wall time is in runs.json too. Output: a Markdown table (stdout and build/mutants/matrix.md) and
a CSV (build/mutants/matrix.csv), both with the machine and the date; each run's
output in build/mutants/logs/<mutant>.<way>.<seed>.log, and every run's result in
build/mutants/runs.json, which --merge reuses: re-run some cells, keep the rest.

What fired: the verdict of the run's JSON document
(fuzzers/executors/report_json.h; each run has $NF_REPORT_JSON set), else, for
a sanitizer's report or the TSan stress suite's gtest output,
tools/nf_signatures.py on the output. Binaries are found by target name
(tools/nflib.py locate), wherever CMake puts them.
"""
import concurrent.futures
import csv
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import nflib
import nf_signatures  # what fired; shared with tools/triage.py

ROOT = nflib.ROOT
# The driver model's mutants (NF_DRIVER_MUTANTS, core/CMakeLists.txt): the core
# and the kernel file unmodified; only the concurrent fuzzers have twins.
DRIVER_MUTANTS = ["read_begin_under_user_lock"]
MUTANTS = [
    "double_itree_release", "remove_unlocked_wait", "unpaired_classic_end",
    "eagain_leaks_epoch", "set_seq_outside_lock", "skip_set_seq",
    "free_without_grace_period", "ops_after_insert", "put_user_unlocked", "set_seq_plain",
] + DRIVER_MUTANTS
CONTROL = "none"  # the correct core
WAYS = ["sequential", "concurrent", "tsan", "naive"]
TOOLKIT_WAYS = ["sequential", "concurrent", "tsan"]
# --ablate: piece -> (the ways it applies to, the environment that switches it
# off, the CMake option that does, for pieces that need their own tree).
ABLATIONS = {
    "mutator": (["sequential", "concurrent"], {"NF_MUTATOR": "0"}, None),
    "boundary": (["sequential", "concurrent"], {}, "NF_BOUNDARY_OPS"),
}
ABLATED_TREE = "build/mutants-no{piece}"  # a tree of its own, for a CMake option
ABLATED_WAYS = [f"{w}-no-{a}" for a, (ws, _, _) in ABLATIONS.items() for w in ws]


def base_way(way):
    """('concurrent', 'mutator') for 'concurrent-no-mutator'; (way, None) otherwise;
    a kernel version ('concurrent@6.12') is not part of the base way."""
    way = way.split("@", 1)[0]
    if "-no-" in way:
        w, piece = way.split("-no-", 1)
        return w, piece
    return way, None


def tree_of_way(way):
    w, piece = base_way(way)
    if piece and ABLATIONS[piece][2]:
        return ABLATED_TREE.format(piece=piece)
    return TREES[w][1]


def _sources_match(pattern, is_source):
    for d, dirs, files in os.walk(ROOT):
        dirs[:] = [x for x in dirs if x not in ("build", ".git", "corpus")]
        for f in files:
            if is_source(f):
                try:
                    if pattern.search(open(os.path.join(d, f), errors="replace").read()):
                        return True
                except OSError:
                    pass
    return False


def cmake_has_option(option):
    """True if some CMakeLists.txt or cmake/*.cmake of the project defines OPTION."""
    return _sources_match(re.compile(r"option\(\s*" + re.escape(option) + r"\b"),
                          lambda f: f == "CMakeLists.txt" or f.endswith(".cmake"))


def code_reads_env(name):
    """True if some C++ source of the project reads the environment variable NAME."""
    return _sources_match(re.compile(r'"' + re.escape(name) + r'"'),
                          lambda f: f.endswith((".cc", ".h")))
TSAN_SOAK = "0.05"  # the stress suite's round counts, scaled: short rounds, repeated
# Seconds without progress before a stress test reports P7 (a hang); a round takes
# milliseconds, and the default (60) would leave no budget for the search.
TSAN_WATCHDOG = "10"
# Build trees: libFuzzer ways in a fuzz-preset tree, the TSan suite in a
# tsan-preset tree, the naive baseline in an asan-preset tree; all with mutants.
# Each: (preset, tree, target of a mutant, target of the correct core).
TREES = {
    "sequential": ("fuzz", "build/mutants", "sequential_fuzzer_mut_{m}", "sequential_fuzzer"),
    "concurrent": ("fuzz", "build/mutants", "concurrent_fuzzer_mut_{m}", "concurrent_fuzzer"),
    "tsan": ("tsan", "build/mutants-tsan", "tsan_stress_mut_{m}", "tsan_stress"),
    "naive": ("asan", "build/asan", "naive_baseline_mut_{m}", "naive_baseline"),
}


# --target kernel: the catalogue mutants of the kernel's mm/mmu_notifier.c
# (kernel/mutants/<m>.cmake, re-injected at build time) through the kernel's
# fuzzers, from an empty corpus; the control row is the unmodified kernel file.
KERNEL_MUTANTS = sorted([f[:-len(".cmake")] for f in os.listdir(os.path.join(ROOT, "kernel", "mutants"))
                         if f.endswith(".cmake")] + DRIVER_MUTANTS)
KERNEL_TREES = {
    "sequential": ("fuzz", "build/mutants", "sequential_fuzzer_kernel_mut_{m}",
                   "sequential_fuzzer_kernel"),
    "concurrent": ("fuzz", "build/mutants", "concurrent_fuzzer_kernel_mut_{m}",
                   "concurrent_fuzzer_kernel"),
}


def version_of(way):
    """The kernel version of a kernel way: '6.12' for 'concurrent@6.12', else 6.1."""
    return way.split("@", 1)[1] if "@" in way else nflib.DEFAULT_KERNEL


def select_target(target, kernel="both"):
    """Points the matrix at TARGET's mutants, ways and output (build/mutants-kernel/).
    The kernel's ways are per version: 'sequential', 'concurrent' on 6.1 and
    'sequential@6.12', 'concurrent@6.12' (KERNEL: a version, or both)."""
    global MUTANTS, WAYS, TOOLKIT_WAYS, TREES, LOG_DIR, RUNS_FILE, OUT_DIR, KEEP_ROOT
    if target != "kernel":
        return
    MUTANTS, TREES = KERNEL_MUTANTS, KERNEL_TREES
    versions = nflib.KERNEL_VERSIONS if kernel == "both" else (kernel,)
    WAYS = TOOLKIT_WAYS = [w + ("" if v == nflib.DEFAULT_KERNEL else "@" + v)
                           for v in versions for w in KERNEL_TREES]
    OUT_DIR = os.path.join(ROOT, "build", "mutants-kernel")
    LOG_DIR, RUNS_FILE = os.path.join(OUT_DIR, "logs"), os.path.join(OUT_DIR, "runs.json")
    KEEP_ROOT = os.path.join(OUT_DIR, "runs")


def target_of(way, mutant):
    """The CMake target of a way's binary on a mutant (or the correct core)."""
    _, _, pattern, control = TREES[base_way(way)[0]]
    name = control if mutant == CONTROL else pattern.format(m=mutant)
    return name + (nflib.kernel_suffix(version_of(way)) if "@" in way else "")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def build(ways, mutants):
    """The (way, target) pairs built: a way's targets are looked up in its tree."""
    by_tree = {}
    for w in ways:
        preset = TREES[base_way(w)[0]][0]
        piece = base_way(w)[1]
        option = ABLATIONS[piece][2] if piece else None
        entry = by_tree.setdefault((preset, tree_of_way(w), option), [])
        entry.extend(target_of(w, m) for m in mutants if target_of(w, m) not in entry)
    available = set()
    for (preset, tree, option), targets in by_tree.items():
        logf = os.path.join(ROOT, tree + "-build.log")
        os.makedirs(os.path.dirname(logf), exist_ok=True)  # a fresh clone has no build/
        open(logf, "w").close()
        extra = (["-B", tree, "-DNF_BUILD_MUTANTS=ON", "-DNF_KERNEL_BUILD_MUTANTS=ON"]
                 + ([f"-D{option}=OFF"] if option else []))
        if not nflib.configure(preset, logf, extra=extra):
            log(f"configuring {tree} failed; see {logf}")
            continue
        for t in targets:  # one at a time: a missing target must not stop the rest
            if not nflib.has_target(tree, t):
                continue
            if nflib.compile_targets(tree, [t], logf) and nflib.locate(t, tree=tree):
                available.add((tree, t))
            else:
                log(f"building {t} failed; see {logf}")
    return available


def is_built(available, way, mutant):
    return (tree_of_way(way), target_of(way, mutant)) in available


OUT_DIR = os.path.join(ROOT, "build", "mutants")
LOG_DIR = os.path.join(OUT_DIR, "logs")
RUNS_FILE = os.path.join(OUT_DIR, "runs.json")
KEEP_ROOT = os.path.join(OUT_DIR, "runs")
# What libFuzzer writes with -artifact_prefix: the input behind a detection.
ARTIFACT = re.compile(r"^(crash|leak|timeout|oom|slow-unit)-[0-9a-f]+$")


def keep_input(work, keep_dir, way, binary, env_extra, cmd):
    """Copies the input of a detection to keep_dir; returns its path (or the
    replay note's) relative to ROOT, or ""."""
    os.makedirs(keep_dir, exist_ok=True)
    env_text = " ".join(f"{k}={v}" for k, v in sorted(env_extra.items()))
    kept = []
    for f in sorted(os.listdir(work)):
        if ARTIFACT.match(f):
            shutil.copy(os.path.join(work, f), os.path.join(keep_dir, f))
            kept.append(os.path.join(keep_dir, f))
    note = os.path.join(keep_dir, "replay.txt")
    with open(note, "w") as f:
        if kept:
            for k in kept:  # the input alone decides: no environment needed
                f.write(f"./nf triage {nflib.rel(k)} --binary {nflib.rel(binary)}\n")
        else:  # the TSan suite, the naive baseline: a seed, not a reproducer
            f.write(f"# the OS's interleavings decide, so this may need several runs\n"
                    f"{env_text} {' '.join(nflib.rel(c) if os.path.isabs(c) else c for c in cmd)}\n")
    return os.path.relpath(kept[0] if kept else note, ROOT)


def replay_line(kept):
    """The command of the replay.txt beside a kept input (relative to ROOT)."""
    try:
        with open(os.path.join(ROOT, os.path.dirname(kept), "replay.txt")) as f:
            lines = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    except OSError:
        lines = []
    return lines[0] if lines else kept


def run_one(way, mutant, seed, budget, keep_dir):
    binary = nflib.locate(target_of(way, mutant), tree=tree_of_way(way))
    base, piece = base_way(way)
    work = tempfile.mkdtemp(prefix=f"nf-mut-{base}-")
    report_json = os.path.join(work, "report.json")
    env = dict(os.environ)
    env_extra = {"NF_SEED": str(seed)}
    if piece:
        env_extra.update(ABLATIONS[piece][1])
    env["ASAN_OPTIONS"] = "detect_leaks=0"
    env.update(env_extra)
    env["NF_REPORT_JSON"] = report_json
    way = base  # the ablated ways run like their base way
    if way in ("sequential", "concurrent"):
        corpus = os.path.join(work, "corpus")
        os.mkdir(corpus)
        cmd = [binary, corpus, f"-seed={seed}", f"-max_total_time={budget}",
               f"-artifact_prefix={work}/", "-print_final_stats=1",
               # libFuzzer's NEW_FUNC lines (-print_funcs=2 by default) start
               # llvm-symbolizer at the first new function: 0.1-0.2 s of
               # reporting inside the first second of every empty-corpus run.
               "-print_funcs=0"]
        # The fuzzer's max_len (<fuzzer>.options), as it is fuzzed.
        cmd += [o for o in nflib.fuzzer_options(f"{way}_fuzzer", prog="mutants")
                if o.startswith("-max_len=")]
    elif way == "tsan":
        env_extra.update({"TSAN_OPTIONS": "halt_on_error=1", "NF_SOAK": TSAN_SOAK,
                          "NF_STRESS_WATCHDOG": TSAN_WATCHDOG})
        env.update(env_extra)
        cmd = [binary, "--gtest_repeat=-1", "--gtest_break_on_failure"]
    else:
        env_extra["NF_BUDGET_SECONDS"] = str(budget)
        env.update(env_extra)
        cmd = [binary]
    start = time.monotonic()
    start_wall = time.time()
    try:
        p = subprocess.run(cmd, cwd=work, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT,
                           timeout=budget if way == "tsan" else budget + 30)
        elapsed = time.monotonic() - start
        out = p.stdout.decode(errors="replace")
        rc = p.returncode
    except subprocess.TimeoutExpired as e:
        elapsed = time.monotonic() - start
        out = (e.stdout or b"").decode(errors="replace")
        rc = 0  # the budget ended: not found
    verdict = None
    try:
        with open(report_json) as f:
            verdict = json.loads(f.read().strip().splitlines()[-1]).get("verdict")
    except (OSError, ValueError, IndexError):
        pass
    detected = rc != 0 and elapsed < budget + (0 if way == "tsan" else 25)
    # The time of the detection: when the failing run wrote its JSON document,
    # just before aborting. What follows (libFuzzer's deadly-signal handler
    # symbolizes a stack trace: about 0.4 s; writing the artifact) is reporting,
    # not search. Without a document (a sanitizer's report), the process's time.
    wall = elapsed
    try:
        written = os.stat(report_json).st_mtime - start_wall
        if detected and 0 <= written < elapsed:
            elapsed = written
    except OSError:
        pass
    kept = keep_input(work, keep_dir, way, binary, env_extra, cmd) if detected else ""
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(LOG_DIR, exist_ok=True)
    log_name = way if not piece else f"{way}-no-{piece}"
    log_path = os.path.join(LOG_DIR, f"{mutant}.{log_name}.{seed}.log")
    with open(log_path, "w") as f:  # the evidence behind the cell (the tail of long runs)
        f.write(out[-200000:])
    execs = ""
    if way == "tsan":  # executions: test runs begun
        out_runs = out.count("[ RUN      ]")
        execs = str(out_runs) if out_runs else ""
    for pat in () if way == "tsan" else (r"stat::number_of_executed_units:\s*(\d+)", r"^#(\d+)\s", r"executions?[:=]\s*(\d+)"):
        found = re.findall(pat, out, re.MULTILINE)
        if found:
            execs = found[-1]
            break
    return {"found": detected, "seconds": elapsed if detected else None,
            "wall_seconds": wall, "execs": execs,
            "what": (nf_signatures.from_verdict(verdict) or nf_signatures.signature(out))
            if detected else "",
            "log": os.path.relpath(log_path, ROOT), "input": kept}


def summarize(rows, mutants, ways, budget):
    """Per-way counts, the toolkit against the naive baseline, and each ablation
    against the full toolkit."""
    def cell(m, w):
        return next((r for r in rows if r["mutant"] == m and r["way"] == w), None)

    def median_s(m, w):
        r = cell(m, w)
        return float(r["median_s"]) if r and r["median_s"] else None

    real = [m for m in mutants if m != CONTROL]
    lines = []
    for w in ways:
        found = [m for m in real if median_s(m, w) is not None]
        lines.append(f"- {w}: found {len(found)} of {len(real)} mutants")
    if CONTROL in mutants:
        alarms = [w for w in ways if median_s(CONTROL, w) is not None]
        lines.append("- control (correct core): " + (
            "no way reported anything" if not alarms else
            "FALSE ALARMS from " + ", ".join(alarms) + ": their cells above are not evidence"))
    tk_ways = [w for w in ways if w in TOOLKIT_WAYS]
    if "naive" in ways and tk_ways:
        tk_found, naive_found, ratios, only_tk, only_naive = 0, 0, [], [], []
        for m in real:
            times = [t for t in (median_s(m, w) for w in tk_ways) if t is not None]
            best = min(times) if times else None
            naive = median_s(m, "naive")
            tk_found += best is not None
            naive_found += naive is not None
            if best is not None and naive is not None:
                ratios.append(max(naive, 0.01) / max(best, 0.01))
            elif best is not None:
                only_tk.append(m)
            elif naive is not None:
                only_naive.append(m)
        lines.append(f"- toolkit ({', '.join(tk_ways)}; fastest way per mutant) found {tk_found}, "
                     f"the naive baseline {naive_found}")
        if ratios:
            gm = statistics.geometric_mean(ratios)
            lines.append(f"- where both found a mutant ({len(ratios)}), the naive baseline took "
                         f"{gm:.1f}x the toolkit's median time (geometric mean; range "
                         f"{min(ratios):.1f}x to {max(ratios):.1f}x)")
            faster = sum(r > 1 for r in ratios)
            lines.append(f"- the toolkit was faster on {faster} of those {len(ratios)}, "
                         f"slower on {sum(r < 1 for r in ratios)}")
        if only_tk:
            lines.append("- found only by the toolkit: " + ", ".join(f"`{m}`" for m in only_tk))
        if only_naive:
            lines.append("- found only by the naive baseline: "
                         + ", ".join(f"`{m}`" for m in only_naive))
    # Ablations: each ablated cell against its way with everything on. A cell the
    # ablated way did not find counts as the budget (so the slowdown is a lower
    # bound there); one the full way did not find has nothing to compare with.
    for piece in ABLATIONS:
        pairs = [(m, w) for w in ways for m in real
                 if base_way(w)[1] == piece and base_way(w)[0] in ways]
        ratios, lost, gained = [], 0, 0
        for m, w in pairs:
            full, ablated = median_s(m, base_way(w)[0]), median_s(m, w)
            if full is None:
                gained += ablated is not None
                continue
            lost += ablated is None
            ratios.append(max(ablated if ablated is not None else budget, 0.01) / max(full, 0.01))
        if not ratios:
            continue
        gm = statistics.geometric_mean(ratios)
        lines.append(f"- without the {piece}: {gm:.1f}x the full toolkit's median time "
                     f"(geometric mean over {len(ratios)} cells; range {min(ratios):.1f}x to "
                     f"{max(ratios):.1f}x" + (f"; {lost} no longer found within the budget, "
                                              f"counted as {budget} s" if lost else "")
                     + (f"; {gained} found only without it" if gained else "") + ")")
    return lines


def main():
    ap = nflib.ArgumentParser(prog="mutants", description=__doc__.split("\n")[0])
    nflib.add_target_argument(ap, matrix=True)
    ap.add_argument("--budget", type=int, default=60, help="seconds per run (default 60)")
    ap.add_argument("--seeds", type=int, default=3, help="seeds per mutant and way (default 3)")
    ap.add_argument("--mutants", default="",
                    help=f"comma-separated; '{CONTROL}' is the correct core (default: all)")
    ap.add_argument("--ways", default="", help="comma-separated (default: all of the target's)")
    ap.add_argument("--no-control", action="store_true",
                    help=f"skip the control row ('{CONTROL}': every way on the correct core)")
    ap.add_argument("--merge", action="store_true",
                    help="keep the runs of the previous matrix (build/mutants/runs.json, same "
                         "budget and seeds) and re-run only the mutants and ways given")
    ap.add_argument("--ablate", default="",
                    help="comma-separated pieces to switch off in extra libFuzzer columns: "
                         + ", ".join(ABLATIONS))
    ap.add_argument("--jobs", type=int, default=1,
                    help="runs side by side (default 1; at most the cores you can spare)")
    args = ap.parse_args()
    select_target(args.target, args.kernel)
    mutants = [m for m in (args.mutants or ",".join(MUTANTS)).split(",") if m]
    ways = [w for w in (args.ways or ",".join(WAYS)).split(",") if w]
    for m in mutants:
        if m not in MUTANTS + [CONTROL]:
            ap.error(f"unknown mutant {m!r} (have: {', '.join(MUTANTS)}, {CONTROL})")
    for w in ways:
        if w not in WAYS + ABLATED_WAYS:
            ap.error(f"unknown way {w!r} (have: {', '.join(WAYS)})")
    notes = []
    for piece in [a for a in args.ablate.split(",") if a]:
        if piece not in ABLATIONS:
            ap.error(f"unknown --ablate piece {piece!r} (have: {', '.join(ABLATIONS)})")
        applies, env_off, option = ABLATIONS[piece]
        if option and not cmake_has_option(option):
            notes.append(f"--ablate {piece}: skipped, no CMake option {option} in this checkout")
            log(notes[-1])
            continue
        missing = [k for k in env_off if not code_reads_env(k)]
        if missing:
            notes.append(f"--ablate {piece}: skipped, no source reads {', '.join(missing)} "
                         "in this checkout")
            log(notes[-1])
            continue
        ways += [f"{w}-no-{piece}" for w in applies if w in ways and f"{w}-no-{piece}" not in ways]
    if args.budget < 1 or args.seeds < 1 or args.jobs < 1:
        ap.error("--budget, --seeds and --jobs must be positive")
    if not args.no_control and CONTROL not in mutants:
        mutants.append(CONTROL)

    log("building the mutant binaries (build/mutants*/)")
    available = build(ways, mutants)
    stamp_dir = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    work = []
    for m in mutants:
        for w in ways:
            if is_built(available, w, m):
                work.extend((m, w, seed) for seed in range(1, args.seeds + 1))
    results = {}
    if args.merge and os.path.exists(RUNS_FILE):
        with open(RUNS_FILE) as f:
            old = json.load(f)
        if old.get("budget") == args.budget and old.get("seeds") == args.seeds:
            known = set(WAYS + ABLATED_WAYS)
            dropped = set()
            for key, r in old["runs"].items():
                m, w, seed = key.split("|")
                if w not in known:  # a way (an ablated piece) this version no longer has
                    dropped.add(w)
                    continue
                results[(m, w, int(seed))] = r
            if dropped:
                log(f"--merge: dropped the runs of {', '.join(sorted(dropped))} "
                    f"(no such way here)")
            mutants = [m for m in MUTANTS + [CONTROL]
                       if m in mutants or any(k[0] == m for k in results)]
            ways = [w for w in WAYS + ABLATED_WAYS
                    if w in ways or any(k[1] == w for k in results)]
            available |= {(tree_of_way(k[1]), target_of(k[1], k[0])) for k in results}
            log(f"--merge: kept {len(results)} runs of {RUNS_FILE}")
        else:
            log(f"--merge: {RUNS_FILE} has another budget or seed count; not merged")

    def one(item):
        m, w, seed = item
        r = run_one(w, m, seed, args.budget,
                    os.path.join(KEEP_ROOT, stamp_dir, m, w, f"seed{seed}"))
        log(f"{m:26} {w:11} seed {seed}: "
            + (f"found in {r['seconds']:.1f} s ({r['what']})" if r["found"] else "not found"))
        return item, r

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for item, r in pool.map(one, work):
            results[item] = r
    with open(RUNS_FILE, "w") as f:
        json.dump({"budget": args.budget, "seeds": args.seeds,
                   "runs": {f"{m}|{w}|{seed}": r for (m, w, seed), r in results.items()}},
                  f, indent=1)
    rows = []
    for m in mutants:
        for w in ways:
            if not is_built(available, w, m):
                rows.append({"mutant": m, "way": w, "found": "not built", "median_s": "",
                             "median_execs": "", "what": ""})
                continue
            runs = [results[(m, w, seed)] for seed in range(1, args.seeds + 1)
                    if (m, w, seed) in results]
            hits = [r for r in runs if r["found"]]
            execs = [int(r["execs"]) for r in hits if r["execs"].isdigit()]
            rows.append({
                "mutant": m, "way": w, "found": f"{len(hits)}/{len(runs)}",
                "median_s": f"{statistics.median(r['seconds'] for r in hits):.2f}" if hits else "",
                "median_execs": str(int(statistics.median(execs))) if execs else "",
                "what": "; ".join(sorted({r["what"] for r in hits})),
            })

    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {cpu}"
    out_dir = OUT_DIR
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "matrix.csv"), "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["# machine", machine, "date", stamp, "budget_s", args.budget, "seeds", args.seeds])
        wr.writerow(["mutant", "way", "found", "median_s", "median_execs", "what"])
        for r in rows:
            wr.writerow([r[k] for k in ("mutant", "way", "found", "median_s", "median_execs", "what")])
    md = [f"Detection matrix: {stamp}; {machine}; empty corpus, one core per run, "
          f"budget {args.budget} s, {args.seeds} seeds, {args.jobs} run(s) at a time; "
          f"each cell: seeds that found it, median time and executions over those seeds, "
          f"what fired.",
          "", "| mutant | " + " | ".join(ways) + " |", "|---|" + "---|" * len(ways)]
    for m in mutants:
        cells = []
        for w in ways:
            r = next(r for r in rows if r["mutant"] == m and r["way"] == w)
            if r["median_s"]:
                ex = f", {r['median_execs']} execs" if r["median_execs"] else ""
                cells.append(f"{r['found']} in {r['median_s']} s{ex} ({r['what']})")
            else:
                cells.append("not found" if r["found"] != "not built" else "not built")
        name = f"`{m}`" if m != CONTROL else f"`{CONTROL}` (correct core: control)"
        md.append(f"| {name} | " + " | ".join(cells) + " |")
    md += [""] + summarize(rows, mutants, ways, args.budget) + [f"- {n}" for n in notes]
    kept = [(m, w, seed, r["input"]) for (m, w, seed), r in sorted(results.items())
            if r.get("input")]
    if kept:
        md += ["", "Kept inputs, each with the command that triages it (for the TSan "
               "suite and the naive baseline, the run that found it: the OS decides, "
               "so it may need several runs; replay.txt beside each has the same):", ""]
        md += [f"- `{m}` {w} seed {seed}: `{replay_line(path)}`" for m, w, seed, path in kept]
    text = "\n".join(md) + "\n"
    with open(os.path.join(out_dir, "matrix.md"), "w") as f:
        f.write(text)
    print(text)
    log(f"wrote {out_dir}/matrix.md and matrix.csv")


if __name__ == "__main__":
    main()
