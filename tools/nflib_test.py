#!/usr/bin/env python3
"""tools/nflib_test.py: the ctest 'nflib' (label unit), tools/nflib.py and the
JSON documents of fuzzers/executors/report_json.h.

usage: tools/nflib_test.py BUILD_DIR

  - parse_options: sections, comments, CRLF, bad lines, the flags ./nf fuzz
    sets itself, a relative dict= (relative to the .options file's folder);
  - every fuzzer of cmake/fuzzers.txt has a <fuzzer>.options in the tree, whose
    flags parse, and `nflib.py source` prints its path (as oss-fuzz/build.sh
    asks);
  - locate(T, tree=BUILD_DIR) finds nf_tool, nf_ctrace and each fuzzer by target
    name, and nothing for an unknown target;
  - nf_tool decode --json, nf_tool replay --json and nf_ctrace --json print
    valid JSON of the documented shape for a corpus input; the program's text is
    what nf_tool decode prints;
  - a P11 (lock-order) report: its signature, and the two acquisitions triage
    marks on the timeline.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nflib  # noqa: E402

FAILS = []


def check(cond, what):
    print(("ok:   " if cond else "FAIL: ") + what)
    if not cond:
        FAILS.append(what)


def test_options():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "x_fuzzer.options")
        with open(path, "w") as f:
            f.write("# a comment\n[asan]\nmax_len = 7\n[libfuzzer]\r\n"
                    "max_len = 400\r\n; another comment\n  use_value_profile=1  \n"
                    "runs = 5\nnot a flag\ndict = x.dict\n[other]\ntimeout = 3\n")
        flags = nflib.parse_options(path, prog="nflib_test")
        want = ["-max_len=400", "-use_value_profile=1",
                f"-dict={nflib.rel(os.path.join(d, 'x.dict'))}"]
        check(flags == want, f"parse_options: {flags} == {want}")
    for name in nflib.FUZZERS:
        path = nflib.source_file(f"{name}.options")
        check(path is not None, f"{name}.options is in the tree ({path and nflib.rel(path)})")
        if path:
            check(any(f.startswith("-max_len=") for f in nflib.parse_options(path)),
                  f"{name}.options has a max_len")
        # The command line of oss-fuzz/build.sh: the same file, relative.
        rc, out = run([sys.executable, os.path.join(nflib.ROOT, "tools", "nflib.py"), "source",
                       f"{name}.options"])
        check(rc == 0 and path is not None and out.strip() == nflib.rel(path),
              f"nflib.py source {name}.options: {out.strip()}")
    rc, _ = run([sys.executable, os.path.join(nflib.ROOT, "tools", "nflib.py"), "source",
                 "no_such_fuzzer.options"])
    check(rc == 1, "nflib.py source no_such_fuzzer.options: exit 1")


def test_locate(tree):
    for t in ["nf_tool", "nf_ctrace", *nflib.FUZZERS]:
        path = nflib.locate(t, tree=tree)
        check(path is not None and os.path.basename(path) == t and os.access(path, os.X_OK),
              f"locate {t}: {path}")
    check(nflib.locate("no_such_target", tree=tree) is None, "locate no_such_target: None")
    check(nflib.has_target(tree, "nf_tool") and not nflib.has_target(tree, "no_such_target"),
          "has_target")


def run(cmd):
    p = subprocess.run(cmd, cwd=nflib.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode(errors="replace")


def test_json(tree):
    tool = nflib.locate("nf_tool", tree=tree)
    ctrace = nflib.locate("nf_ctrace", tree=tree)
    if not tool or not ctrace:
        check(False, "nf_tool and nf_ctrace are built")
        return
    seeds = os.path.join(nflib.ROOT, "corpus", "concurrent_fuzzer")
    files = sorted(os.listdir(seeds))
    # A few inputs with several threads and a schedule: the largest files.
    files = sorted(files, key=lambda f: -os.path.getsize(os.path.join(seeds, f)))[:3]
    for name in files:
        path = os.path.join("corpus", "concurrent_fuzzer", name)
        rc, out = run([tool, "decode", "--json", path])
        doc = json.loads(out)
        prog = doc["program"]
        check(rc == 0 and doc["nf"] == "program" and doc["size"] == os.path.getsize(path),
              f"decode --json {name[:12]}: a program document")
        check(len(prog["ops"]) == len(prog["order"])
              and [o["thread"] for o in prog["ops"]] == prog["order"]
              and all(0 <= o["thread"] < prog["threads"] for o in prog["ops"]),
              f"decode --json {name[:12]}: ops in program order")
        _, text = run([tool, "decode", path])
        body = "".join(ln + "\n" for ln in text.splitlines() if not ln.startswith("#"))
        check(prog["text"] == body, f"decode --json {name[:12]}: text is decode's")
        lines = [ln for ln in prog["text"].splitlines() if ln.startswith("T")]
        check(lines == [f"T{o['thread']}: {o['text']}" for o in prog["ops"]],
              f"decode --json {name[:12]}: each op's text")
        rc, out = run([tool, "replay", "--json", path])
        seq = json.loads(out)
        check(rc == 0 and seq["executor"] == "sequential" and seq["verdict"]["ok"]
              and seq["trace"]["events"], f"replay --json {name[:12]}: passed, with events")
        rc, out = run([ctrace, "--json", path])
        con = json.loads(out)
        ev = con["trace"]["events"]
        check(rc == 0 and con["executor"] == "concurrent" and con["verdict"]["ok"]
              and con["verdict"]["property"] is None and ev
              and all(set(e) >= {"step", "thread", "kind", "text"} for e in ev)
              and con["trace"]["end"].startswith("ok after"),
              f"nf_ctrace --json {name[:12]}: passed, {len(ev)} trace events")


def test_lock_order_report():
    """A P11 report: its signature is P11 (not P1, nor P7 for the word
    "deadlock" in it), and triage finds its two acquisitions."""
    import nf_signatures
    import triage
    text = ("P11: lock-order inversion: A -> B -> A, a potential deadlock: t0 took A at step 2 "
            "[x y] in a/b.cc:1, then, holding it, B at step 3 in a/b.cc:2; t1 took B at step 7 "
            "in c.cc:5, then, holding it, A at step 8 [z] in c.cc:6")
    sig = nf_signatures.signature(text)
    check(sig.startswith("P11"), f"signature of a P11 report: {sig}")
    check(triage.lock_order_sides(text) == [(1, 8, "took A holding B"), (0, 3, "took B holding A")],
          f"triage.lock_order_sides: {triage.lock_order_sides(text)}")
    check(triage.lock_order_sides("P10: data race: x") is None, "lock_order_sides of a P10: None")


def main():
    if len(sys.argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    tree = os.path.abspath(sys.argv[1])
    test_options()
    test_locate(tree)
    test_json(tree)
    test_lock_order_report()
    print(f"nflib_test: {len(FAILS)} failure(s)")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
