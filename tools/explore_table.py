#!/usr/bin/env python3
"""tools/explore_table.py BUILD_DIR [K]: the figures of `./nf explore` on every
reproducer under corpus/regress/ (docs/results.md, "./nf explore").

For each reproducer: nf_explore on the correct code (nf's core; the kernel's
file with the kernel's traits) and on the code it reproduces a bug of (the
catalogue mutant's twin nf_explore_mut_<m>, nf_explore_kernel_mut_<m>, or, for
a kernel finding, the kernel's file under the contract's traits), each within K
preemptions (default 2) with the reduction and without it. A bug not found
within K is tried again at K + 1 (reduction on). BUILD_DIR is a build tree with
those executables (the asan preset: race detection on, mutant twins built).
Prints one Markdown table row per reproducer; the raw outputs go to
build/explore/table/. A measurement, never a test.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def inputs(d):
    for f in sorted(os.listdir(d)):
        if f.endswith(".nfp") or f.endswith(".md") or f == "EXPECT" or f.startswith("EXPECT."):
            continue
        yield os.path.join(d, f)


def run(binary, args, tag):
    out_dir = os.path.join(ROOT, "build", "explore", "table")
    os.makedirs(out_dir, exist_ok=True)
    cmd = ["nice", "-n", "5", binary] + args + ["--out", os.path.join(out_dir, tag + ".fail")]
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
        text = p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        text = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        text += "\ntimeout after 600 s"
    with open(os.path.join(out_dir, tag + ".out"), "w") as f:
        f.write(" ".join(cmd) + "\n" + text)
    r = {"text": text}
    m = re.search(r"^schedules explored: (\d+)", text, re.M)
    r["schedules"] = m.group(1) if m else "?"
    m = re.search(r"^time: ([\d.]+) s", text, re.M)
    r["time"] = m.group(1) if m else "?"
    m = re.search(r"^distinct terminal states: (\d+)", text, re.M)
    r["terminals"] = m.group(1) if m else "?"
    m = re.search(r"^FAILED on schedule (\d+)(?: \((\d+) preemption)?[^:]*: (.*)$", text, re.M)
    if m:
        what = m.group(3)
        if "sanitizer" in what:
            s = re.search(r"ERROR: AddressSanitizer: ([\w-]+)", text)
            what = "ASan " + (s.group(1) if s else "report")
        else:
            what = what.split(":")[0]
        pre = f", {m.group(2)} preempt." if m.group(2) else ""
        r["verdict"] = f"found at schedule {m.group(1)}{pre} ({what})"
        r["failed"] = True
    elif re.search(r"^all passed", text, re.M):
        r["verdict"] = "all passed"
        r["failed"] = False
    elif re.search(r"^bound reached", text, re.M):
        r["verdict"] = "bound reached, no failure"
        r["failed"] = False
    else:
        r["verdict"] = "error: " + text.strip().splitlines()[-1][:80] if text.strip() else "error"
        r["failed"] = False
    return r


def cell(r):
    return f"{r['schedules']} / {r['time']} s"


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: tools/explore_table.py BUILD_DIR [K]")
    build = sys.argv[1]
    k = int(sys.argv[2]) if len(sys.argv) == 3 else 2
    fz, mu = os.path.join(build, "fuzzers"), os.path.join(build, "mutants")
    rows = []
    regress = os.path.join(ROOT, "corpus", "regress")
    cases = []
    for fuzzer in ("concurrent_fuzzer", "sequential_fuzzer"):
        for name in sorted(os.listdir(os.path.join(regress, fuzzer))):
            bug = os.path.join(mu, f"nf_explore_mut_{name}")
            cases.append((f"{fuzzer}/{name}", os.path.join(regress, fuzzer, name),
                          os.path.join(fz, "nf_explore"), bug if os.path.exists(bug) else None,
                          f"mutant {name}"))
    kdir = os.path.join(regress, "kernel")
    for fuzzer in sorted(os.listdir(kdir)):
        for name in sorted(os.listdir(os.path.join(kdir, fuzzer))):
            if name.startswith("mut_"):
                bug = os.path.join(fz, f"nf_explore_kernel_mut_{name[4:]}")
                label = f"kernel mutant {name[4:]}"
            elif name.startswith("harness_"):
                bug, label = None, ""
            else:
                bug, label = os.path.join(fz, "nf_explore_kernel_contract"), "contract traits"
            cases.append((f"kernel/{fuzzer}/{name}", os.path.join(kdir, fuzzer, name),
                          os.path.join(fz, "nf_explore_kernel"),
                          bug if bug and os.path.exists(bug) else None, label))
    print(f"| reproducer | threads | correct code, K={k}: reduced (schedules / time) | plain |"
          f" terminal states (reduced = plain) | verdict | buggy code | K={k}, reduced | plain |")
    print("|---|---|---|---|---|---|---|---|---|")
    for title, d, good, bad, label in cases:
        for inp in inputs(d):
            tag = title.replace("/", "_")
            g = run(good, ["--preemptions", str(k), "--reduction", inp], tag + ".good")
            gp = run(good, ["--preemptions", str(k), inp], tag + ".good.plain")
            th = re.search(r"(\d+) thread\(s\)", g["text"])
            same = "=" if g["terminals"] == gp["terminals"] else "≠"
            terms = f"{g['terminals']} {same} {gp['terminals']}"
            if bad:
                b = run(bad, ["--preemptions", str(k), "--reduction", inp], tag + ".bad")
                bp = run(bad, ["--preemptions", str(k), inp], tag + ".bad.plain")
                bv, bpv = b["verdict"], bp["verdict"]
                if not b["failed"]:
                    b2 = run(bad, ["--preemptions", str(k + 1), "--reduction", inp], tag + ".bad.k1")
                    bv += f"; K={k + 1}: {b2['verdict']} ({b2['time']} s)"
                bcell = f"{bv} ({b['time']} s)"
                bpcell = f"{bpv} ({bp['time']} s)"
            else:
                label, bcell, bpcell = label or "-", "-", "-"
            row = (f"| `corpus/regress/{title}` | {th.group(1) if th else '?'} | {cell(g)} | {cell(gp)} | {terms} |"
                   f" {g['verdict']} | {label} | {bcell} | {bpcell} |")
            print(row, flush=True)
            rows.append(row)


if __name__ == "__main__":
    main()
