#!/usr/bin/env python3
"""tools/triage.py: replay, name, minimize and draw one crashing input (`./nf triage`).

usage: tools/triage.py CRASH [--fuzzer NAME] [--binary PATH] [--out DIR]
                             [--trace FILE] [--nf-tool PATH] [--no-minimize]

CRASH is raw input bytes from any engine (libFuzzer crash-*, AFL++ id:...).

1. Replay: runs build/fuzz/fuzzers/<fuzzer> CRASH (building the target with the
   fuzz preset if it is missing); without --fuzzer, concurrent_fuzzer and then
   sequential_fuzzer, taking the first that fails. --binary runs another binary
   instead (e.g. a mutant: build/mutants/mutants/sequential_fuzzer_mut_<m>). The
   failure is named by tools/nf_signatures.py. An input that does not fail: exit 1.
2. Minimize: libFuzzer's -minimize_crash=1 (fixed seed and run count), then
   delta debugging (ddmin) over the program's op lines and its schedule bytes, on
   the text form (nf_tool decode/encode). A candidate is kept only if it fails
   with the same key (signature + headline, numbers ignored).
3. Draw: timeline.html, self-contained (inline CSS, JSON and script, nothing
   fetched): one lane per thread, one row per event in step order, the failing
   step highlighted, the failure at the top, the program below. The events come
   from the scheduler trace (`<step> t<N> yield|block|wake|done|label|note ...`)
   when there is one: in the failing run's output, in --trace FILE, or from
   nf_tool's concurrent replay subcommand; otherwise (the sequential fuzzer) one
   row per op in program order.
4. Prints a summary: fuzzer, signature, original -> minimized size, steps, files.

Files go to --out (default build/triage/<sha1 of CRASH>/): <sha1> (the minimized
input, named like corpus/regress/ files), <sha1>.nfp, report.txt (the failing
run's output), trace.txt (if there is a trace), timeline.html. The output is
the same for the same input. Exit: 0 triaged, 1 the input does not fail (or a
build failed), 2 bad usage.
"""
import argparse
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from nf_signatures import headline, key, signature, step

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_FUZZERS = ["concurrent_fuzzer", "sequential_fuzzer"]
TRACE_LINE = re.compile(r"^(\d+) t(\d+) (yield|block|wake|done|label|note)(?: (.*))?$")
KNOWN_TOOL_SUBS = {"decode", "encode", "replay"}


def log(msg):
    print(f"triage: {msg}", file=sys.stderr, flush=True)


def rel(path):
    p = os.path.abspath(path)
    return os.path.relpath(p, ROOT) if p.startswith(ROOT + os.sep) else p


# ---------------------------------------------------------------------------
# Builds

def build_target(preset, target, build_log):
    """Configures the preset and builds one target; returns its path or None."""
    tree = os.path.join(ROOT, "build", preset)
    os.makedirs(os.path.dirname(build_log), exist_ok=True)
    with open(build_log, "a") as out:
        if subprocess.run(["cmake", "--preset", preset], cwd=ROOT, stdout=out,
                          stderr=subprocess.STDOUT).returncode != 0:
            log(f"configuring the {preset} preset failed; see {rel(build_log)}")
            return None
        if subprocess.run(["ninja", "-C", tree, "-t", "query", target], cwd=ROOT,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
            return None  # no such target in this checkout
        log(f"building {target} ({preset} preset)")
        if subprocess.run(["cmake", "--build", tree, "--target", target], cwd=ROOT,
                          stdout=out, stderr=subprocess.STDOUT).returncode != 0:
            log(f"building {target} failed; see {rel(build_log)}")
            return None
    for d, _, files in os.walk(tree):
        if target in files and os.access(os.path.join(d, target), os.X_OK):
            return os.path.join(d, target)
    return None


def fuzz_binary(name, build_log):
    path = os.path.join(ROOT, "build", "fuzz", "fuzzers", name)
    if os.access(path, os.X_OK):
        return path
    return build_target("fuzz", name, build_log)


def nf_tool_binary(given, build_log):
    if given:
        return given
    path = os.path.join(ROOT, "build", "dev", "fuzzers", "nf_tool")
    if os.access(path, os.X_OK):
        return path
    return build_target("dev", "nf_tool", build_log)


# ---------------------------------------------------------------------------
# Running

class Runner:
    """Runs one binary on inputs; caches by content, counts runs."""

    def __init__(self, binary, work, timeout):
        self.binary = binary
        self.work = work
        self.timeout = timeout
        self.runs = 0
        self.cache = {}
        with open(binary, "rb") as f:
            self.libfuzzer = b"minimize_crash" in f.read()

    def run_file(self, path):
        cmd = [self.binary]
        if self.libfuzzer:
            cmd.append(f"-timeout={self.timeout}")
        cmd.append(path)
        self.runs += 1
        try:
            p = subprocess.run(cmd, cwd=self.work, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=self.timeout + 30)
            out = p.stdout.decode(errors="replace")
            # The file name appears in libFuzzer's lines: keep the output path-free.
            out = out.replace(path, "INPUT")
            return p.returncode != 0, out
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace")
            return True, out + "\nERROR: libFuzzer: timeout (killed by triage)\n"

    def run_bytes(self, data):
        if data not in self.cache:
            path = os.path.join(self.work, "candidate")
            with open(path, "wb") as f:
                f.write(data)
            self.cache[data] = self.run_file(path)
        return self.cache[data]


def tool(nf_tool, *args, data=None):
    p = subprocess.run([nf_tool, *args], cwd=ROOT, input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def decode_text(nf_tool, path):
    rc, out, err = tool(nf_tool, "decode", rel(path))
    if rc != 0:
        raise RuntimeError(f"nf_tool decode failed: {err.strip()}")
    return out.decode(errors="replace")


def encode_text(nf_tool, text, work):
    src = os.path.join(work, "candidate.nfp")
    with open(src, "w") as f:
        f.write(text)
    rc, out, err = tool(nf_tool, "encode", src)
    return out if rc == 0 else None


# ---------------------------------------------------------------------------
# Minimization

def libfuzzer_minimize(runner, data, want, runs):
    """libFuzzer -minimize_crash=1; returns smaller bytes failing the same way, or None."""
    src = os.path.join(runner.work, "lf_input")
    dst = os.path.join(runner.work, "lf_min")
    with open(src, "wb") as f:
        f.write(data)
    try:
        subprocess.run([runner.binary, "-minimize_crash=1", f"-runs={runs}", "-seed=1",
                        f"-timeout={runner.timeout}", f"-exact_artifact_path={dst}", src],
                       cwd=runner.work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=600)
    except subprocess.TimeoutExpired:
        return None
    if not os.path.exists(dst):
        return None
    with open(dst, "rb") as f:
        small = f.read()
    if len(small) >= len(data):
        return None
    failed, out = runner.run_bytes(small)
    return small if failed and key(out) == want else None


def split_program(text):
    """The decoded text as (fixed lines, op lines, schedule bytes)."""
    fixed, ops, sched = [], [], []
    for line in text.splitlines():
        body = line.split("#", 1)[0].strip()
        if not body:
            continue
        if body.startswith("schedule:"):
            sched.extend(body.split()[1:])
        elif re.match(r"T\d+\s*:", body):
            ops.append(body)
        else:
            fixed.append(body)
    return fixed, ops, sched


def join_program(fixed, ops, sched):
    lines = list(fixed) + list(ops)
    for i in range(0, len(sched), 16):
        lines.append("schedule: " + " ".join(sched[i:i + 16]))
    return "\n".join(lines) + "\n"


def ddmin(items, test):
    """Zeller's ddmin: a 1-minimal sublist of items for which test() holds."""
    if items and test([]):
        return []
    n = 2
    while len(items) >= 2:
        size = -(-len(items) // n)
        chunks = [items[i:i + size] for i in range(0, len(items), size)]
        for c in chunks:
            if len(c) < len(items) and test(c):
                items, n = c, 2
                break
        else:
            for i in range(len(chunks)):
                comp = [x for j, c in enumerate(chunks) if j != i for x in c]
                if len(chunks) > 2 and test(comp):
                    items, n = comp, max(n - 1, 2)
                    break
            else:
                if n >= len(items):
                    break
                n = min(len(items), 2 * n)
    return items


def text_minimize(runner, nf_tool, data, want, max_tests):
    """ddmin over op lines, then schedule bytes; returns (bytes, tests) or (None, 0)."""
    src = os.path.join(runner.work, "dd_input")
    with open(src, "wb") as f:
        f.write(data)
    fixed, ops, sched = split_program(decode_text(nf_tool, src))
    budget = {"tests": 0}
    best = {"bytes": None}

    def test(o, s):
        if budget["tests"] >= max_tests:
            return False
        enc = encode_text(nf_tool, join_program(fixed, o, s), runner.work)
        if enc is None:
            return False
        if enc not in runner.cache:
            budget["tests"] += 1
        failed, out = runner.run_bytes(enc)
        ok = failed and key(out) == want
        if ok and (best["bytes"] is None or len(enc) <= len(best["bytes"])):
            best["bytes"] = enc
        return ok

    if not test(ops, sched):  # the canonical encoding must fail the same way
        return None, budget["tests"]
    ops = ddmin(ops, lambda o: test(o, sched))
    sched = ddmin(sched, lambda s: test(ops, s))
    final = encode_text(nf_tool, join_program(fixed, ops, sched), runner.work)
    failed, out = runner.run_bytes(final)
    if failed and key(out) == want:
        return final, budget["tests"]
    return best["bytes"], budget["tests"]


# ---------------------------------------------------------------------------
# Traces and timeline

def unescape(s):
    """Undoes absl::CEscape."""
    simple = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}

    def one(m):
        e = m.group(1)
        if e in simple:
            return simple[e]
        if e[0] == "x":
            return chr(int(e[1:], 16))
        return chr(int(e, 8))
    return re.sub(r"\\(x[0-9a-fA-F]{2}|[0-7]{3}|.)", one, s)


def parse_trace(text):
    """(header, events, end, raw text) from a trace's text; None if it has no events."""
    header, end, events, raw = "", "", [], []
    for line in text.splitlines():
        line = line.rstrip()
        if line.startswith("# nf-sched trace"):
            header, events, end, raw = line[2:], [], "", [line]  # the last trace wins
            continue
        if line.startswith("# end "):
            end = line[len("# end "):]
            raw.append(line)
            continue
        m = TRACE_LINE.match(line)
        if not m:
            continue
        kind, arg = m.group(3), m.group(4) or ""
        ev = {"step": int(m.group(1)), "t": int(m.group(2)), "kind": kind, "text": arg}
        raw.append(line)
        if kind == "wake":
            ev["other"] = int(arg.lstrip("t")) if arg.lstrip("t").isdigit() else -1
        if kind in ("label", "note"):
            ev["text"] = unescape(arg)
        events.append(ev)
    return (header, events, end, "\n".join(raw) + "\n") if events else None


def concurrent_replay_sub(nf_tool):
    """The name of nf_tool's concurrent replay subcommand, from its usage text."""
    _, out, err = tool(nf_tool)
    subs = []
    for m in re.finditer(r"nf_tool (\S+)([^\n]*)", out.decode(errors="replace") + err):
        if m.group(1) not in KNOWN_TOOL_SUBS and m.group(1) not in subs:
            subs.append((m.group(1), m.group(2)))
    pref = [s for s, rest in subs if s == "creplay"
            or re.search(r"conc|trace|interleav", s + rest, re.I)]
    if pref:
        return pref[0]
    return subs[0][0] if len(subs) == 1 else None


def program_threads(text):
    m = re.search(r"^threads (\d+)", text, re.MULTILINE)
    n = int(m.group(1)) if m else 1
    for t in re.findall(r"^T(\d+)\s*:", text, re.MULTILINE):
        n = max(n, int(t) + 1)
    return n


def sequential_events(program, step_text, report):
    """One label row per op, in program order; the failing one from the step line."""
    events, index = [], {}
    _, ops, _ = split_program(program)
    for i, line in enumerate(ops):
        t, op = line.split(":", 1)
        t = int(t[1:])
        k = index.get(t, 0)
        index[t] = k + 1
        events.append({"step": i + 1, "t": t, "kind": "label", "text": op.strip(), "op": k})
    failing = len(events) - 1
    m = re.match(r"T(\d+) (op (\d+)|cleanup): ?(.*)", step_text)
    if m and m.group(3) is not None:
        for i, e in enumerate(events):
            if e["t"] == int(m.group(1)) and e["op"] == int(m.group(3)):
                failing = i
    elif m:
        events.append({"step": len(ops) + 1, "t": int(m.group(1)), "kind": "note",
                       "text": "cleanup: " + m.group(4)})
        failing = len(events) - 1
    elif not step_text and re.search(r"SequentialRun::Cleanup", report):
        events.append({"step": len(ops) + 1, "t": 0, "kind": "note",
                       "text": "cleanup (the report's stack is in SequentialRun::Cleanup)"})
        failing = len(events) - 1
    elif step_text.startswith("end of program"):
        events.append({"step": len(ops) + 1, "t": 0, "kind": "note", "text": step_text})
        failing = len(events) - 1
    for e in events:
        e.pop("op", None)
    return events, failing


def trace_failing(events, report, step_text):
    """The failing event: the step the report names, else that thread's last, else the last."""
    m = re.search(r"^(\d+)\b", step_text) or re.search(r"\bat step (\d+)\b", report)
    if m:
        s = int(m.group(1))
        hits = [i for i, e in enumerate(events) if e["step"] == s]
        if hits:
            return hits[-1]
    m = re.match(r"T(\d+)\b", step_text, re.I)
    if m:
        hits = [i for i, e in enumerate(events) if e["t"] == int(m.group(1))]
        if hits:
            return hits[-1]
    return len(events) - 1


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>nf triage: __TITLE__</title>
<style>
body { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 13px;
       margin: 1em 2em; color: #1d1d1d; background: #fff; }
h1 { font-size: 16px; margin: 0 0 .3em 0; }
#verdict { border-left: 6px solid #c0392b; background: #fdf0ee; padding: .6em 1em; margin-bottom: 1em; }
#verdict .sig { font-size: 18px; font-weight: bold; color: #c0392b; }
#verdict .meta { color: #555; margin-top: .3em; }
#controls { margin: .5em 0; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th.lane { min-width: 16em; }
th, td { border: 1px solid #ddd; padding: 2px 8px; vertical-align: top; white-space: pre-wrap; }
th { background: #f3f3f3; position: sticky; top: 0; }
td.step { color: #888; text-align: right; }
td.ev { min-width: 14em; }
.k-label { font-weight: bold; color: #0b4f9c; }
.k-note { color: #6b4c00; }
.k-block { color: #a33; }
.k-wake { color: #2a7a2a; }
.k-done { color: #888; }
.k-yield { color: #999; }
tr.fold td { color: #999; cursor: pointer; font-style: italic; }
tr.hidden { display: none; }
tr.failing td { background: #ffe2dd; }
tr.failing td.ev.here { outline: 2px solid #c0392b; font-weight: bold; }
pre { background: #f7f7f7; padding: .6em 1em; border: 1px solid #e5e5e5; overflow-x: auto; }
</style></head>
<body>
<div id="verdict"></div>
<div id="controls"><label><input type="checkbox" id="showyields"> show every yield point</label>
 <span id="counts"></span></div>
<div id="timeline"></div>
<h1>program</h1><pre id="program"></pre>
<h1>report</h1><pre id="report"></pre>
<script type="application/json" id="nf-data">__DATA__</script>
<script>
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("nf-data").textContent);
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  var v = document.getElementById("verdict");
  v.setAttribute("data-signature", D.signature);
  var title = !D.headline ? D.signature : D.headline.indexOf(D.signature) === 0 ? D.headline
      : D.signature + ": " + D.headline;
  v.appendChild(el("div", {"class": "sig"}, title));
  if (D.step) v.appendChild(el("div", {"class": "meta"}, "failing step: " + D.step));
  v.appendChild(el("div", {"class": "meta"}, D.fuzzer + " \\u00b7 " + D.size + " \\u00b7 " + D.source));
  if (D.end) v.appendChild(el("div", {"class": "meta"}, "scheduler: " + D.end));
  document.getElementById("program").textContent = D.program;
  document.getElementById("report").textContent = D.report;

  var table = el("table", {"id": "lanes"});
  var head = el("tr");
  head.appendChild(el("th", {}, "step"));
  for (var t = 0; t < D.threads; t++) head.appendChild(el("th", {"class": "lane", "data-lane": t}, "T" + t));
  table.appendChild(head);
  function text(e) {
    if (e.kind === "wake") return "wake T" + e.other;
    if (e.kind === "done") return "done";
    return (e.kind === "label" ? "" : e.kind + " ") + e.text;
  }
  function row(e, i) {
    var tr = el("tr", {"class": "event", "data-step": e.step, "data-event": i, "data-kind": e.kind, "data-thread": e.t});
    tr.appendChild(el("td", {"class": "step"}, String(e.step)));
    for (var t = 0; t < D.threads; t++) {
      var td = el("td", {"class": "ev", "data-thread": t});
      if (t === e.t) { td.className = "ev here k-" + e.kind; td.textContent = text(e); }
      tr.appendChild(td);
    }
    if (i === D.failing) { tr.className += " failing"; tr.setAttribute("data-failing", "1"); tr.id = "failing"; }
    return tr;
  }
  // Runs of two or more yields (never the failing one) fold into one row.
  var i = 0, nyield = 0, folds = [];
  while (i < D.events.length) {
    var j = i;
    while (j < D.events.length && D.events[j].kind === "yield" && j !== D.failing) j++;
    if (j - i >= 2) {
      var fold = el("tr", {"class": "fold", "data-fold": folds.length});
      var points = {};
      for (var k = i; k < j; k++) points["T" + D.events[k].t + " " + D.events[k].text] = 1;
      var td = el("td", {"colspan": D.threads + 1},
        "\\u25b8 " + (j - i) + " yield points (" + (D.events[i].step === D.events[j - 1].step ? "step " +
        D.events[i].step : "steps " + D.events[i].step + "\\u2013" + D.events[j - 1].step) + "): " +
        Object.keys(points).slice(0, 6).join(", ") + (Object.keys(points).length > 6 ? ", \\u2026" : ""));
      fold.appendChild(td);
      table.appendChild(fold);
      var rows = [];
      for (var k = i; k < j; k++) { var r = row(D.events[k], k); r.className += " hidden"; table.appendChild(r); rows.push(r); }
      folds.push([fold, rows]);
      (function (f) { f[0].addEventListener("click", function () {
        f[1].forEach(function (r) { r.classList.toggle("hidden"); }); }); })(folds[folds.length - 1]);
      nyield += j - i;
      i = j;
    } else {
      table.appendChild(row(D.events[i], i));
      i++;
    }
  }
  document.getElementById("timeline").appendChild(table);
  document.getElementById("counts").textContent = D.events.length + " events, " + D.threads +
    " threads" + (nyield ? ", " + nyield + " yield points folded (click a folded row)" : "");
  document.getElementById("showyields").addEventListener("change", function (ev) {
    folds.forEach(function (f) { f[1].forEach(function (r) { r.classList.toggle("hidden", !ev.target.checked); }); });
  });
  if (!folds.length) document.getElementById("showyields").parentNode.style.display = "none";
  document.body.setAttribute("data-rendered", "1");
})();
</script>
</body></html>
"""


def readable(out):
    """The run's output without what changes from run to run (seed, pid, ASLR addresses)."""
    lines = [ln for ln in out.splitlines() if not ln.startswith(("INFO:", "Running:", "MS:"))]
    text = "\n".join(lines).strip()
    text = re.sub(r"==\d+==", "==PID==", text)
    return re.sub(r"0x[0-9a-f]{9,}", "0x...", text)


def write_page(path, data):
    blob = json.dumps(data, indent=None, sort_keys=True, ensure_ascii=True)
    blob = blob.replace("</", "<\\/")
    page = PAGE.replace("__TITLE__", html.escape(data["signature"])).replace("__DATA__", blob)
    with open(path, "w") as f:
        f.write(page)


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(
        prog="triage", description="replay, name, minimize and draw a crashing input")
    ap.add_argument("crash", help="the crashing input (raw bytes from any engine)")
    ap.add_argument("--fuzzer", help="the fuzz target (default: try "
                    + ", then ".join(DEFAULT_FUZZERS) + ")")
    ap.add_argument("--binary", help="run this binary instead of build/fuzz/fuzzers/<fuzzer>")
    ap.add_argument("--out", help="output directory (default build/triage/<sha1>/)")
    ap.add_argument("--trace", help="draw the scheduler trace in this file")
    ap.add_argument("--nf-tool", help="nf_tool to decode/encode/trace with (default: the dev build's)")
    ap.add_argument("--no-minimize", action="store_true", help="skip minimization")
    ap.add_argument("--minimize-runs", type=int, default=2000,
                    help="libFuzzer -runs per minimization round (default 2000)")
    ap.add_argument("--max-tests", type=int, default=400,
                    help="at most this many ddmin runs (default 400)")
    ap.add_argument("--timeout", type=int, default=25, help="seconds per run (default 25)")
    args = ap.parse_args()

    if not os.path.isfile(args.crash):
        ap.error(f"{args.crash}: no such file")
    with open(args.crash, "rb") as f:
        original = f.read()
    sha = hashlib.sha1(original).hexdigest()
    out_dir = os.path.abspath(args.out or os.path.join(ROOT, "build", "triage", sha))
    build_log = os.path.join(ROOT, "build", "triage", "build.log")
    work = tempfile.mkdtemp(prefix="nf-triage-")
    try:
        return triage(args, original, sha, out_dir, build_log, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def triage(args, original, sha, out_dir, build_log, work):
    # 1. Replay.
    if args.binary:
        candidates = [(args.fuzzer or re.sub(r"_mut_.*$", "", os.path.basename(args.binary)),
                       os.path.abspath(args.binary))]
    else:
        candidates = [(n, None) for n in ([args.fuzzer] if args.fuzzer else DEFAULT_FUZZERS)]
    runner = out = None
    tried = []
    for name, binary in candidates:
        binary = binary or fuzz_binary(name, build_log)
        if binary is None:
            log(f"{name}: no binary (no such target in this checkout, or its build failed)")
            continue
        r = Runner(binary, work, args.timeout)
        failed, text = r.run_bytes(original)
        tried.append(name)
        if failed:
            fuzzer, runner, out = name, r, text
            break
        if len(candidates) > 1:
            log(f"{name}: the input does not fail")
    if runner is None:
        print(f"triage: {args.crash} does not fail in "
              f"{', '.join(tried) if tried else 'any fuzzer (none could be built)'}")
        return 1
    want = key(out)
    nf_tool = nf_tool_binary(args.nf_tool, build_log)
    if nf_tool is None:
        log("nf_tool is needed to decode and encode inputs and could not be built")
        return 1

    # 2. Minimize.
    data, stages = original, []
    if not args.no_minimize:
        if runner.libfuzzer:
            small = libfuzzer_minimize(runner, data, want, args.minimize_runs)
            stages.append(f"libFuzzer {len(data)} -> {len(small) if small else len(data)}")
            data = small or data
        small, tests = text_minimize(runner, nf_tool, data, want, args.max_tests)
        if small is not None and len(small) < len(data):
            stages.append(f"ddmin {len(data)} -> {len(small)} ({tests} runs)")
            data = small
        else:
            stages.append(f"ddmin: no smaller input ({tests} runs)")
    failed, out = runner.run_bytes(data)
    assert failed and key(out) == want

    os.makedirs(out_dir, exist_ok=True)
    min_sha = hashlib.sha1(data).hexdigest()
    min_path = os.path.join(out_dir, min_sha)
    with open(min_path, "wb") as f:
        f.write(data)
    program = decode_text(nf_tool, min_path)
    with open(min_path + ".nfp", "w") as f:
        f.write(program)
    report = readable(out)
    with open(os.path.join(out_dir, "report.txt"), "w") as f:
        f.write(report + "\n")

    # 3. The events.
    sig, head, step_text = signature(out), headline(out), step(out)
    trace = None
    if args.trace:  # an explicit trace wins
        with open(args.trace) as f:
            trace, source = parse_trace(f.read()), f"trace from {os.path.basename(args.trace)}"
        if trace is None:
            log(f"{args.trace}: no trace events in it")
    if trace is None:
        trace, source = parse_trace(out), "trace from the failing run"
    if trace is None and "concurrent" in fuzzer:
        sub = concurrent_replay_sub(nf_tool)
        if sub:
            rc, o, e = tool(nf_tool, sub, rel(min_path))
            trace = parse_trace(o.decode(errors="replace") + "\n" + e)
            source = f"trace from nf_tool {sub} ({rel(nf_tool)})"
            if trace is not None and rc == 0:
                source += "; NOTE: that replay did not fail (another core than the crash's)"
        else:
            log("nf_tool has no concurrent replay subcommand yet: drawing the program order")
    end = ""
    threads = program_threads(program)
    if trace is not None:
        header, events, end, raw = trace
        m = re.search(r"threads=(\d+)", header)
        if m:
            threads = max(threads, int(m.group(1)))
        with open(os.path.join(out_dir, "trace.txt"), "w") as f:
            f.write(raw)
        failing = trace_failing(events, out, step_text)
    else:
        events, failing = sequential_events(program, step_text, out)
        source = "program order (the sequential fuzzer runs ops one at a time)"
    for e in events:
        threads = max(threads, e["t"] + 1)
    nsteps = max((e["step"] for e in events), default=0)

    size = f"{len(original)} -> {len(data)} bytes"
    page = os.path.join(out_dir, "timeline.html")
    write_page(page, {
        "fuzzer": fuzzer, "signature": sig, "headline": head, "step": step_text,
        "threads": threads, "events": events, "failing": failing, "program": program,
        "report": report[:20000], "size": size, "source": source, "end": end,
    })

    # 4. Summary.
    print(f"triage: {rel(args.crash)}")
    print(f"  fuzzer     {fuzzer} ({rel(runner.binary)})")
    print(f"  signature  {sig}")
    print(f"  failure    {head}")
    if step_text:
        print(f"  step       {step_text}")
    print(f"  size       {size}" + (f" ({'; '.join(stages)})" if stages else ""))
    print(f"  steps      {nsteps} ({len(events)} events in {threads} lanes; {source})")
    print(f"  input      {rel(min_path)}")
    print(f"  program    {rel(min_path)}.nfp")
    print(f"  report     {rel(os.path.join(out_dir, 'report.txt'))}")
    if trace is not None:
        print(f"  trace      {rel(os.path.join(out_dir, 'trace.txt'))}")
    print(f"  timeline   {rel(page)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
