#!/usr/bin/env python3
"""tools/fuzzer_bench.py: fuzzer throughput of this checkout against another
revision, measured side by side (`./nf bench --fuzzers`).

    python3 tools/fuzzer_bench.py [--against REV] [--fuzzer NAME]... [--seconds S]
                                  [--rounds N] [--cpu C] [--keep-going]

Builds the fuzz targets of this checkout (the `fuzz` preset: libFuzzer + ASan) and
those of REV (default `main`), checked out with `git worktree` under
build/bench-against/<rev>/ and built there with the same preset. Then, per
fuzzer, runs old and new alternately (old, new, old, new, ...; N rounds, default
3), one process at a time on one core (`taskset -c C` when taskset exists; C
defaults to the last CPU), each S seconds (default 20), from a fresh copy of the
same corpus (this checkout's corpus/<fuzzer>/, copied once, so both see the
same inputs), with the same flags: this checkout's <fuzzer>.options (max_len) and
.dict, `-print_final_stats=1 -seed=1`. Prints, per fuzzer, the exec/s of each
run, the median of each side and the ratio new/old; `--json FILE` writes them.

Alternating the two sides spreads any drift of the machine's load over both.
The figures are a measurement, printed, never asserted.
"""
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nflib  # noqa: E402

PROG = "nf: bench"
AGAINST_DIR = os.path.join(nflib.ROOT, "build", "bench-against")


def git(*args, cwd=nflib.ROOT, check=True):
    p = subprocess.run(["git", *args], cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if check and p.returncode != 0:
        nflib.die(f"git {' '.join(args)}: {p.stderr.strip().splitlines()[-1:] or ['failed']}",
                  PROG)
        sys.exit(1)
    return p


def resolve(rev):
    p = git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    if p.returncode != 0:
        print(f"{PROG}: --against {rev}: not a revision of this repository (see ./nf help)",
              file=sys.stderr)
        sys.exit(2)
    return p.stdout.strip()


def against_checkout(rev, sha):
    """A worktree of sha under build/bench-against/<name>/, detached; reused when
    it is already at sha."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", rev)
    path = os.path.join(AGAINST_DIR, name)
    if os.path.isdir(path):
        head = git("rev-parse", "HEAD", cwd=path, check=False).stdout.strip()
        if head != sha:
            git("-C", path, "checkout", "--quiet", "--detach", sha)
        return path
    os.makedirs(AGAINST_DIR, exist_ok=True)
    git("worktree", "add", "--quiet", "--detach", path, sha)
    return path


def build_fuzzers(src, fuzzers, log):
    """Configures and builds the fuzz preset's fuzzers in checkout src; their paths."""
    env = dict(os.environ)
    with open(log, "a") as out:
        for cmd in (["cmake", "--preset", "fuzz"],
                    ["cmake", "--build", os.path.join(src, "build", "fuzz"),
                     "-j", str(os.cpu_count() or 1), "--target", *fuzzers]):
            out.write("$ " + " ".join(cmd) + "\n")
            out.flush()
            if subprocess.run(cmd, cwd=src, stdout=out, stderr=subprocess.STDOUT,
                              env=env).returncode != 0:
                nflib.show_build_failure(log)
                nflib.die(f"building the fuzz preset in {nflib.rel(src)} failed "
                          f"(log: {nflib.rel(log)})", PROG)
                sys.exit(1)
    paths = {}
    for f in fuzzers:
        p = nflib.locate(f, tree=os.path.join(src, "build", "fuzz"))
        if p is None:
            nflib.die(f"{f} was built but not found in {nflib.rel(src)}/build/fuzz", PROG)
            sys.exit(1)
        paths[f] = p
    return paths


def run_once(binary, corpus, flags, seconds, cpu):
    """One run from a fresh copy of corpus; (exec/s, executions)."""
    scratch = tempfile.mkdtemp(prefix="nf-bench-")
    try:
        work = os.path.join(scratch, "corpus")
        shutil.copytree(corpus, work)
        cmd = [binary, work, *flags, f"-max_total_time={seconds}", "-print_final_stats=1",
               "-seed=1", f"-artifact_prefix={scratch}/"]
        if cpu is not None and shutil.which("taskset"):
            cmd = ["taskset", "-c", str(cpu), *cmd]
        p = subprocess.run(cmd, cwd=scratch, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, errors="replace")
        execs = rate = None
        for line in p.stdout.splitlines():
            m = re.match(r"stat::number_of_executed_units:\s*(\d+)", line)
            if m:
                execs = int(m.group(1))
            m = re.match(r"stat::average_exec_per_sec:\s*(\d+)", line)
            if m:
                rate = int(m.group(1))
        if rate is None:
            tail = "\n".join(p.stdout.splitlines()[-15:])
            nflib.warn(f"{binary} exited {p.returncode} without final stats:\n{tail}", PROG)
        elif p.returncode != 0:
            # A crash ends the run early: its rate is of a shorter run.
            nflib.warn(f"{binary} exited {p.returncode} (a crash?) after {execs} executions",
                       PROG)
        return rate, execs
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv):
    ap = nflib.ArgumentParser(prog="bench --fuzzers", description=__doc__.split("\n\n")[0])
    ap.add_argument("--against", default="main", metavar="REV")
    ap.add_argument("--fuzzer", action="append", choices=nflib.FUZZERS, metavar="NAME")
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cpu", type=int, default=(os.cpu_count() or 1) - 1)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    if args.seconds < 1 or args.rounds < 1:
        ap.error("--seconds and --rounds must be at least 1")
    fuzzers = args.fuzzer or nflib.FUZZERS
    sha = resolve(args.against)
    log = os.path.join(nflib.ROOT, "build", "nf-bench-fuzzers.log")
    os.makedirs(os.path.dirname(log), exist_ok=True)
    open(log, "w").close()

    nflib.say(f"building the fuzz preset here ({nflib.rel(nflib.ROOT) or '.'})", PROG)
    new = build_fuzzers(nflib.ROOT, fuzzers, log)
    src = against_checkout(args.against, sha)
    nflib.say(f"building {args.against} ({sha[:12]}) in {nflib.rel(src)}", PROG)
    old = build_fuzzers(src, fuzzers, log)

    here = git("rev-parse", "--short=12", "HEAD").stdout.strip()
    dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    nflib.say(f"new: {here}{' + uncommitted changes' if dirty else ''}; old: {args.against} "
              f"({sha[:12]}); {args.rounds} x {args.seconds} s each, alternately, "
              f"one process at a time" + (f" on CPU {args.cpu}" if shutil.which("taskset")
                                         else ""), PROG)
    results = []
    keep = tempfile.mkdtemp(prefix="nf-bench-corpus-")
    try:
        for f in fuzzers:
            corpus = os.path.join(keep, f)
            src_corpus = os.path.join(nflib.ROOT, "corpus", f)
            if os.path.isdir(src_corpus):
                shutil.copytree(src_corpus, corpus)
            else:
                os.makedirs(corpus)
            flags = nflib.fuzzer_options(f, PROG)
            d = nflib.fuzzer_dict(f)
            if d:
                flags.append(f"-dict={os.path.join(nflib.ROOT, d)}")
            rates = {"old": [], "new": []}
            for r in range(args.rounds):
                for side, binary in (("old", old[f]), ("new", new[f])):
                    rate, execs = run_once(binary, corpus, flags, args.seconds, args.cpu)
                    rates[side].append(rate)
                    print(f"  {f:<22} round {r + 1} {side}: {rate if rate is not None else '-':>8}"
                          f" exec/s ({execs if execs is not None else '-'} execs)", flush=True)
            med = {s: statistics.median([x for x in v if x is not None])
                   if any(x is not None for x in v) else None for s, v in rates.items()}
            ratio = med["new"] / med["old"] if med["old"] and med["new"] is not None else None
            results.append({"fuzzer": f, "flags": flags, "old": rates["old"],
                            "new": rates["new"], "median_old": med["old"],
                            "median_new": med["new"], "ratio": ratio})
    finally:
        shutil.rmtree(keep, ignore_errors=True)

    print()
    print(f"| fuzzer | {args.against} exec/s | this checkout exec/s | ratio |")
    print("|---|---:|---:|---:|")
    for r in results:
        fmt = lambda v: f"{v:,.0f}" if v is not None else "-"  # noqa: E731
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] is not None else "-"
        print(f"| `{r['fuzzer']}` | {fmt(r['median_old'])} | {fmt(r['median_new'])} | {ratio} |")
    print(f"\n(medians of {args.rounds} runs of {args.seconds} s each; command: "
          f"./nf bench --fuzzers --against {args.against} --seconds {args.seconds} "
          f"--rounds {args.rounds})")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"against": args.against, "against_commit": sha, "commit": here,
                       "dirty": bool(dirty), "seconds": args.seconds, "rounds": args.rounds,
                       "fuzzers": results}, out, indent=1)
    failed = any(r["median_new"] is None or r["median_old"] is None for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
