#!/usr/bin/env python3
"""tools/triage.py: replay, name, minimize and draw one crashing input (`./nf triage`).

usage: tools/triage.py CRASH [--fuzzer NAME] [--binary PATH] [--out DIR]
                             [--trace FILE] [--nf-tool PATH] [--no-minimize]

CRASH is raw input bytes from any engine (libFuzzer crash-*, AFL++ id:...).

1. Replay: runs the fuzz preset's <fuzzer> on CRASH (building the target if it
   is missing; tools/nflib.py locates it); without --fuzzer, concurrent_fuzzer
   and then sequential_fuzzer, taking the first that fails. --binary runs another
   binary instead (e.g. a mutant: sequential_fuzzer_mut_<m>). Each run has
   $NF_REPORT_JSON set: a violation writes its JSON run document there
   (fuzzers/executors/report_json.h), whose verdict names the failure; a sanitizer's
   report has none and is named from its own lines (tools/nf_signatures.py). An
   input that does not fail: exit 1.
2. Minimize: libFuzzer's -minimize_crash=1 (fixed seed and run count), then
   delta debugging (ddmin) over the program's ops and its schedule bytes, as
   `nf_tool decode --json` gives them, re-encoded through the text form (nf_tool
   encode). A candidate is kept only if it fails with the same key (signature +
   headline, numbers ignored).
3. Draw: timeline.html (the template tools/timeline.html.in), self-contained:
   one lane per thread, one row per event in step order, the failing step
   highlighted, the failure at the top, the program below. The events are the
   scheduler trace of the failing run's JSON document when it has one (the
   concurrent fuzzer), else of --trace FILE (a JSON run document, or the text
   trace `<step> t<N> yield|block|wake|done|label|note ...`), else of `nf_tool
   creplay --json` (nf_ctrace) for a concurrent input; otherwise (the sequential
   fuzzer) one row per op in program order.
4. Prints a summary: fuzzer, signature, original -> minimized size, steps, files.

Files go to --out (default build/triage/<sha1 of CRASH>/): <sha1> (the minimized
input, named like corpus/regress/ files), <sha1>.nfp, report.txt (the failing
run's output), trace.txt (if there is a trace), timeline.html. The output is
the same for the same input. Exit: 0 triaged, 1 the input does not fail (or a
build failed), 2 bad usage.
"""
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import nflib
import nf_signatures
from nflib import ROOT, rel

DEFAULT_FUZZERS = ["concurrent_fuzzer", "sequential_fuzzer"]
TEMPLATE = os.path.join(ROOT, "tools", "timeline.html.in")
TRACE_LINE = re.compile(r"^(\d+) t(\d+) (yield|block|wake|done|label|note)(?: (.*))?$")


def log(msg):
    nflib.warn(msg, prog="triage")


# ---------------------------------------------------------------------------
# Builds

def fuzz_binary(name, build_log):
    return nflib.ensure("fuzz", name, build_log, prog="triage")


def tool_suffix(fuzzer):
    """nf_tool's suffix for the target a fuzzer binary runs: "_kernel" for the
    kernel fuzzers, "_kernel_contract" for their contract builds, with the kernel
    version's suffix ("_6_12") where it has one; else "". (The fixed and mutant
    builds replay on the same version's tools.)"""
    m = re.search(r"_kernel(_contract)?(?:_fixed|_mut_[a-z_]+?)?(_\d+_\d+)?$", fuzzer)
    return "_kernel" + (m.group(1) or "") + (m.group(2) or "") if m else ""


def nf_tool_binary(given, build_log, fuzzer=""):
    if given:
        return os.path.abspath(given)  # it also runs from the output folder
    suffix = tool_suffix(fuzzer)
    tool = nflib.ensure("dev", "nf_tool" + suffix, build_log, prog="triage")
    if tool:
        nflib.ensure("dev", "nf_ctrace" + suffix, build_log, prog="triage")  # for creplay
    return tool


# ---------------------------------------------------------------------------
# Running

class Outcome:
    """One run of an input: failed, its output, and its JSON run document."""

    def __init__(self, failed, out, doc):
        self.failed, self.out, self.doc = failed, out, doc

    @property
    def verdict(self):
        return (self.doc or {}).get("verdict") or {}

    def signature(self):
        return nf_signatures.from_verdict(self.verdict) or nf_signatures.signature(self.out)

    def headline(self):
        if nf_signatures.from_verdict(self.verdict):
            return nf_signatures.verdict_headline(self.verdict)
        return nf_signatures.headline(self.out)

    def where(self):
        return self.verdict.get("where", "") if nf_signatures.from_verdict(self.verdict) else ""

    def key(self):
        return nf_signatures.key(self.signature(), self.headline())


class Runner:
    """Runs one binary on inputs; caches by content, counts runs."""

    def __init__(self, binary, work, timeout):
        self.binary = binary
        self.work = work
        self.timeout = timeout
        self.runs = 0
        self.cache = {}
        self.json_path = os.path.join(work, "report.json")
        with open(binary, "rb") as f:
            self.libfuzzer = b"minimize_crash" in f.read()

    def run_file(self, path):
        cmd = [self.binary]
        if self.libfuzzer:
            cmd.append(f"-timeout={self.timeout}")
        cmd.append(path)
        self.runs += 1
        env = dict(os.environ, NF_REPORT_JSON=self.json_path)
        if os.path.exists(self.json_path):
            os.unlink(self.json_path)
        try:
            p = subprocess.run(cmd, cwd=self.work, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=self.timeout + 30)
            out = p.stdout.decode(errors="replace")
            failed = p.returncode != 0
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace")
            out += "\nERROR: libFuzzer: timeout (killed by triage)\n"
            failed = True
        # The file name appears in libFuzzer's lines: keep the output path-free.
        out = out.replace(path, "INPUT")
        doc = read_doc(self.json_path)
        return Outcome(failed, out, doc)

    def run_bytes(self, data):
        if data not in self.cache:
            path = os.path.join(self.work, "candidate")
            with open(path, "wb") as f:
                f.write(data)
            self.cache[data] = self.run_file(path)
        return self.cache[data]


def read_doc(path):
    """The last JSON document of a file (one a line), or None."""
    try:
        with open(path, errors="replace") as f:
            return last_doc(f.read())
    except OSError:
        return None


def last_doc(text):
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return None


def tool(nf_tool, *args, data=None, cwd=ROOT):
    p = subprocess.run([nf_tool, *args], cwd=cwd, input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def decode_doc(nf_tool, path, beside=False):
    """nf_tool decode --json: the program document of report_json.h. beside: run
    in the file's folder, so that the document names the file alone (the .nfp
    header of an output never holds the --out path)."""
    if beside:
        rc, out, err = tool(nf_tool, "decode", "--json", os.path.basename(path),
                            cwd=os.path.dirname(os.path.abspath(path)))
    else:
        rc, out, err = tool(nf_tool, "decode", "--json", rel(path))
    if rc != 0:
        raise RuntimeError(f"nf_tool decode --json failed: {err.strip()}")
    return json.loads(out)


def decode(nf_tool, path):
    """The PROGRAM (report_json.h) of an input file."""
    return decode_doc(nf_tool, path)["program"]


def program_text(doc):
    """The text form with nf_tool decode's two comment lines, as `./nf decode` prints it."""
    p = doc["program"]
    return (f"# {doc['file']} ({doc['size']} bytes)\n# schedule (concurrent fuzzer): "
            f"{doc['schedule_description']}, {len(p['schedule']) // 2} byte(s)\n{p['text']}")


def encode_text(nf_tool, text, work):
    src = os.path.join(work, "candidate.nfp")
    with open(src, "w") as f:
        f.write(text)
    # A candidate may have no op left (only a schedule): that is a program too.
    rc, out, err = tool(nf_tool, "encode", "--allow-empty", src)
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
    o = runner.run_bytes(small)
    return small if o.failed and o.key() == want else None


def split_program(program):
    """A PROGRAM (report_json.h) as (fixed lines, op lines, schedule bytes) of its
    text form."""
    fixed = [f"threads {program['threads']}"]
    if program["initial_seq"] != "default":
        fixed.append(f"initial_seq {program['initial_seq']}")
    ops = [f"T{op['thread']}: {op['text']}" for op in program["ops"]]
    hexs = program["schedule"]
    sched = [hexs[i:i + 2] for i in range(0, len(hexs), 2)]
    return fixed, ops, sched


def join_program(fixed, ops, sched):
    lines = list(fixed) + list(ops)
    for i in range(0, len(sched), 16):
        lines.append("schedule: " + " ".join(sched[i:i + 16]))
    return "\n".join(lines) + "\n"


def drop_idle_threads(fixed, ops):
    """(fixed, ops) with the threads that have no op removed and the others
    renumbered in order, or None if every thread has an op."""
    m = re.match(r"threads (\d+)$", fixed[0])
    n = int(m.group(1)) if m else 1
    used = sorted({int(re.match(r"T(\d+):", o).group(1)) for o in ops})
    if len(used) == n or (not used and n == 1):
        return None
    new_index = {t: i for i, t in enumerate(used)}
    ops = [re.sub(r"^T(\d+):", lambda mm: f"T{new_index[int(mm.group(1))]}:", o) for o in ops]
    return [f"threads {max(len(used), 1)}"] + list(fixed[1:]), ops


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
    """ddmin over op lines, then the threads left without an op, then schedule
    bytes; returns (bytes or None, tests, whether idle threads were dropped)."""
    src = os.path.join(runner.work, "dd_input")
    with open(src, "wb") as f:
        f.write(data)
    fixed, ops, sched = split_program(decode(nf_tool, src))
    budget = {"tests": 0}
    best = {"bytes": None}

    def test(o, s, f=None):
        if budget["tests"] >= max_tests:
            return False
        enc = encode_text(nf_tool, join_program(f or fixed, o, s), runner.work)
        if enc is None:
            return False
        if enc not in runner.cache:
            budget["tests"] += 1
        r = runner.run_bytes(enc)
        ok = r.failed and r.key() == want
        if ok and (best["bytes"] is None or len(enc) <= len(best["bytes"])):
            best["bytes"] = enc
        return ok

    if not test(ops, sched):  # the canonical encoding must fail the same way
        return None, budget["tests"], False
    ops = ddmin(ops, lambda o: test(o, sched))
    # Threads left without an op: drop them, renumbering the rest (the schedule
    # bytes name threads by index, so this is a candidate like any other).
    fewer = drop_idle_threads(fixed, ops)
    dropped = fewer is not None and test(fewer[1], sched, fewer[0])
    if dropped:
        fixed, ops = fewer
    sched = ddmin(sched, lambda s: test(ops, s))
    final = encode_text(nf_tool, join_program(fixed, ops, sched), runner.work)
    r = runner.run_bytes(final)
    if r.failed and r.key() == want:
        return final, budget["tests"], dropped
    return best["bytes"], budget["tests"], False


# ---------------------------------------------------------------------------
# Traces and timeline

class Trace:
    """A scheduler trace: header, events (page form: step, t, kind, text[, other]),
    end, and its verdict (report_json.h VERDICT) if it came with one."""

    def __init__(self, header, events, end, verdict=None):
        self.header, self.events, self.end, self.verdict = header, events, end, verdict

    def text(self):
        """The trace in the scheduler's text form (sched::Trace::ToString)."""
        lines = [f"# {self.header}"]
        for e in self.events:
            arg = {"wake": f"t{e.get('other', -1)}", "done": None}.get(e["kind"], e["text"])
            if e["kind"] in ("label", "note"):
                arg = cescape(arg)
            lines.append(f"{e['step']} t{e['t']} {e['kind']}" + (f" {arg}" if arg is not None
                                                                  else ""))
        if self.end:
            lines.append(f"# end {self.end}")
        return "\n".join(lines) + "\n"


def trace_of_doc(doc):
    """The Trace of a concurrent run document, or None."""
    if not doc or doc.get("executor") != "concurrent" or not doc.get("trace"):
        return None
    t = doc["trace"]
    events = []
    for e in t["events"]:
        ev = {"step": e["step"], "t": e["thread"], "kind": e["kind"], "text": e["text"]}
        if e["kind"] == "wake":
            ev["other"] = e.get("other", -1)
        events.append(ev)
    if not events:
        return None
    return Trace(t.get("header", ""), events, t.get("end", ""), doc.get("verdict"))


def cescape(s):
    """absl::CEscape, as the text trace writes labels and notes."""
    out = []
    for ch in s:
        c = ord(ch)
        if ch in "\n\t\r\\'\"":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r", "\\": "\\\\", "'": "\\'",
                        '"': '\\"'}[ch])
        elif c < 0x20 or c >= 0x7f:
            out.append(f"\\{c & 0xff:03o}")
        else:
            out.append(ch)
    return "".join(out)


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


def parse_text_trace(text):
    """A Trace from the scheduler's text form (for --trace FILE), or None."""
    header, end, events = "", "", []
    for line in text.splitlines():
        line = line.rstrip()
        if line.startswith("# nf-sched trace"):
            header, events, end = line[2:], [], ""  # the last trace wins
            continue
        if line.startswith("# end "):
            end = line[len("# end "):]
            continue
        m = TRACE_LINE.match(line)
        if not m:
            continue
        kind, arg = m.group(3), m.group(4) or ""
        ev = {"step": int(m.group(1)), "t": int(m.group(2)), "kind": kind, "text": arg}
        if kind == "wake":
            ev["other"] = int(arg.lstrip("t")) if arg.lstrip("t").isdigit() else -1
        if kind in ("label", "note"):
            ev["text"] = unescape(arg)
        events.append(ev)
    return Trace(header, events, end) if events else None


def read_trace_file(path):
    with open(path, errors="replace") as f:
        text = f.read()
    return trace_of_doc(last_doc(text)) or parse_text_trace(text)


def sequential_events(program, verdict, report):
    """One label row per op, in program order; the failing one from the verdict."""
    events = [{"step": i + 1, "t": op["thread"], "kind": "label", "text": op["text"]}
              for i, op in enumerate(program["ops"])]
    failing = len(events) - 1
    n = len(events)
    if verdict.get("thread") is not None and verdict.get("op") is not None:
        for i, op in enumerate(program["ops"]):
            if op["thread"] == verdict["thread"] and op["index"] == verdict["op"]:
                failing = i
    elif verdict.get("cleanup") and verdict.get("thread") is not None:
        # "T0 cleanup: remove s1"
        where = verdict.get("where", "")
        events.append({"step": n + 1, "t": verdict["thread"], "kind": "note",
                       "text": "cleanup: " + where.split(": ", 1)[-1]})
        failing = len(events) - 1
    elif verdict.get("cleanup") and verdict.get("where"):
        events.append({"step": n + 1, "t": 0, "kind": "note", "text": verdict["where"]})
        failing = len(events) - 1
    elif not verdict and re.search(r"SequentialRun::Cleanup", report):
        events.append({"step": n + 1, "t": 0, "kind": "note",
                       "text": "cleanup (the report's stack is in SequentialRun::Cleanup)"})
        failing = len(events) - 1
    return events, failing


def trace_failing(events, verdict):
    """The failing event: the verdict's step and thread (the trace's last event of
    that step on that thread), else the last."""
    if verdict and verdict.get("step") is not None:
        hits = [i for i, e in enumerate(events) if e["step"] == verdict["step"]
                and (verdict.get("thread") is None or e["t"] == verdict["thread"])]
        if hits:
            return hits[-1]
    return len(events) - 1


RACE_SIDE = re.compile(r"by t(\d+) at step (\d+)")


def race_sides(text):
    """The two accesses of a P10 report ("data race: <later> by tN at step S in ...,
    unordered with an earlier <access> by tM at step R in ..."): [(thread, step,
    kind and size) of the later, the same of the earlier], or None if text names
    no race."""
    m = re.search(r"data race: (.*?), unordered with an earlier (.*)", text or "")
    if not m:
        return None
    sides = [RACE_SIDE.search(m.group(1)), RACE_SIDE.search(m.group(2))]
    if not all(sides):
        return None
    return [(int(x.group(1)), int(x.group(2)), g[:x.start()].strip())
            for x, g in zip(sides, (m.group(1), m.group(2)))]


LOCK_EDGE = re.compile(r"t(\d+) took (\S+) at step (\d+).*?, then, holding it, (\S+) at step (\d+)")


def lock_order_sides(text):
    """The two acquisitions of a P11 report ("lock-order inversion: A -> B -> A, a
    potential deadlock: tN took A at step S ..., then, holding it, B at step R
    ...; tM took B ..., then, holding it, A at step Q ..."): [(thread, step, what)
    of the acquisition that closed the cycle (the last edge's), the same of the
    first edge's (the opposite order)], or None if text names no inversion."""
    m = re.search(r"lock-order inversion: .*?a potential deadlock: (.*)", text or "")
    if not m:
        return None
    edges = list(LOCK_EDGE.finditer(m.group(1)))
    if len(edges) < 2:
        return None
    return [(int(e.group(1)), int(e.group(5)), f"took {e.group(4)} holding {e.group(2)}")
            for e in (edges[-1], edges[0])]


def race_events(events, sides):
    """The indexes of the events of a race's two accesses: the last event of each
    side's thread at or before its step (the access runs after that step's yield).
    [later, earlier]; an index is None where the trace has no such event."""
    out = []
    for t, step, _ in sides:
        hits = [i for i, e in enumerate(events) if e["t"] == t and e["step"] <= step]
        out.append(hits[-1] if hits else None)
    return out


def readable(out):
    """The run's output without what changes from run to run (seed, pid, ASLR
    addresses) or from checkout to checkout (the repository's path)."""
    lines = [ln for ln in out.splitlines() if not ln.startswith(("INFO:", "Running:", "MS:"))]
    text = "\n".join(lines).strip().replace(ROOT + "/", "")  # paths relative to the repository
    text = re.sub(r"==\d+==", "==PID==", text)
    return re.sub(r"0x[0-9a-f]{9,}", "0x...", text)


def write_page(path, data):
    blob = json.dumps(data, indent=None, sort_keys=True, ensure_ascii=True)
    blob = blob.replace("</", "<\\/")
    with open(TEMPLATE) as f:
        page = f.read()
    page = page.replace("__TITLE__", html.escape(data["signature"])).replace("__DATA__", blob)
    with open(path, "w") as f:
        f.write(page)


# ---------------------------------------------------------------------------

def main():
    ap = nflib.ArgumentParser(
        prog="triage", description="replay, name, minimize and draw a crashing input")
    ap.add_argument("crash", help="the crashing input (raw bytes from any engine)")
    ap.add_argument("--fuzzer", help="the fuzz target (default: try "
                    + ", then ".join(DEFAULT_FUZZERS) + ")")
    ap.add_argument("--binary", help="run this binary instead of the fuzz preset's <fuzzer>")
    ap.add_argument("--out", help="output directory (default build/triage/<sha1>/)")
    ap.add_argument("--trace", help="draw the scheduler trace in this file (a JSON run "
                    "document of nf_ctrace --json, or a text trace)")
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
    known = nflib.FUZZERS + nflib.KERNEL_FUZZERS
    if args.fuzzer and not args.binary and args.fuzzer not in known:
        ap.error(f"no fuzz target '{args.fuzzer}' (have: {' '.join(known)}; a crash of another "
                 f"binary: --binary PATH)")
    if args.binary and not os.path.isfile(args.binary):
        ap.error(f"--binary {args.binary}: no such file")
    with open(args.crash, "rb") as f:
        original = f.read()
    sha = hashlib.sha1(original).hexdigest()
    out_dir = os.path.abspath(args.out or os.path.join(ROOT, "build", "triage", sha))
    build_log = os.path.join(ROOT, "build", "triage", "build.log")
    work = tempfile.mkdtemp(prefix="nf-triage-")
    try:
        return triage(args, original, out_dir, build_log, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def triage(args, original, out_dir, build_log, work):
    # 1. Replay.
    if args.binary:
        candidates = [(args.fuzzer or re.sub(r"_mut_.*$", "", os.path.basename(args.binary)),
                       os.path.abspath(args.binary))]
    else:
        candidates = [(n, None) for n in ([args.fuzzer] if args.fuzzer else DEFAULT_FUZZERS)]
    runner = first = None
    tried = []
    for name, binary in candidates:
        binary = binary or fuzz_binary(name, build_log)
        if binary is None:
            log(f"{name}: no binary (no such target in this checkout, or its build failed)")
            continue
        r = Runner(binary, work, args.timeout)
        o = r.run_bytes(original)
        tried.append((name, binary))
        if o.failed:
            fuzzer, runner, first = name, r, o
            break
        if len(candidates) > 1:
            log(f"{name}: the input does not fail")
    if runner is None:
        where = ", ".join(f"{n} ({rel(b)})" for n, b in tried)
        print(f"triage: {args.crash} does not fail in "
              f"{where if tried else 'any fuzzer (none could be built)'}")
        print("  name the binary that crashed: ./nf triage CRASH --binary PATH (for example "
              "build/fuzz/fuzzers/concurrent_fuzzer_kernel, a mutant's "
              "<fuzzer>_mut_<name>, or an AFL++ build under build/afl/), or a fuzz target "
              "of the fuzz preset: --fuzzer NAME (./nf fuzz and ./nf mutants print the "
              "exact line for the crashes they find)")
        return 1
    want = first.key()
    nf_tool = nf_tool_binary(args.nf_tool, build_log, os.path.basename(runner.binary))
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
        small, tests, dropped = text_minimize(runner, nf_tool, data, want, args.max_tests)
        # Smaller, or without its idle threads (which may cost a byte or two of
        # encoding: a reader's program is what counts).
        if small is not None and small != data and (len(small) < len(data) or dropped):
            stages.append(f"ddmin {len(data)} -> {len(small)} ({tests} runs"
                          f"{', idle threads dropped' if dropped else ''})")
            data = small
        else:
            stages.append(f"ddmin: no smaller input ({tests} runs)")
    o = runner.run_bytes(data)
    assert o.failed and o.key() == want

    os.makedirs(out_dir, exist_ok=True)
    min_sha = hashlib.sha1(data).hexdigest()
    min_path = os.path.join(out_dir, min_sha)
    with open(min_path, "wb") as f:
        f.write(data)
    doc = decode_doc(nf_tool, min_path, beside=True)
    program, text = doc["program"], program_text(doc)
    with open(min_path + ".nfp", "w") as f:
        f.write(text)
    report = readable(o.out)
    with open(os.path.join(out_dir, "report.txt"), "w") as f:
        f.write(report + "\n")

    # 3. The events.
    sig, head, where = o.signature(), o.headline(), o.where()
    trace = None
    if args.trace:  # an explicit trace wins
        trace, source = read_trace_file(args.trace), f"trace from {os.path.basename(args.trace)}"
        if trace is None:
            log(f"{args.trace}: no trace events in it")
    if trace is None:
        trace, source = trace_of_doc(o.doc), "trace from the failing run"
    if trace is None and "concurrent" in fuzzer:
        rc, out, _ = tool(nf_tool, "creplay", "--json", rel(min_path))
        trace = trace_of_doc(last_doc(out.decode(errors="replace")))
        source = f"trace from nf_tool creplay ({rel(nf_tool)})"
        if trace is not None and rc == 0:
            source += "; NOTE: that replay did not fail (another core than the crash's)"
    end = ""
    threads = program["threads"]
    race_earlier = None  # P10: the event of the race's earlier access
    race = None  # P10: [later, earlier] accesses: thread, step, what (P11: acquisitions)
    race_kind = "data race"
    if trace is not None:
        m = re.search(r"threads=(\d+)", trace.header)
        if m:
            threads = max(threads, int(m.group(1)))
        end = trace.end
        events = trace.events
        with open(os.path.join(out_dir, "trace.txt"), "w") as f:
            f.write(trace.text())
        failing = trace_failing(events, o.verdict or trace.verdict)
        verdict_text = json.dumps(o.verdict or trace.verdict or {})
        sides = race_sides(verdict_text) or race_sides(o.out)
        if not sides:  # P11: the closing acquisition and the opposite order, the same way
            sides = lock_order_sides(verdict_text) or lock_order_sides(o.out)
            race_kind = "lock-order inversion" if sides else race_kind
        if sides:  # P10: the later access is the failing event, the earlier one marked too
            later, race_earlier = race_events(events, sides)
            if later is not None:
                failing = later
                race = [{"t": t, "step": step, "what": what} for t, step, what in sides]
            else:
                race_earlier = None
    else:
        events, failing = sequential_events(program, o.verdict, o.out)
        source = "program order (the sequential fuzzer runs ops one at a time)"
    for e in events:
        threads = max(threads, e["t"] + 1)
    nsteps = max((e["step"] for e in events), default=0)

    size = f"{len(original)} -> {len(data)} bytes"
    page = os.path.join(out_dir, "timeline.html")
    write_page(page, {
        "fuzzer": fuzzer, "signature": sig, "headline": head, "step": where,
        "threads": threads, "events": events, "failing": failing, "program": text,
        "race_earlier": race_earlier, "race": race, "race_kind": race_kind,
        "report": report[:20000], "size": size, "source": source, "end": end,
    })

    # 4. Summary.
    print(f"triage: {rel(args.crash)}")
    print(f"  fuzzer     {fuzzer} ({rel(runner.binary)})")
    print(f"  signature  {sig}")
    print(f"  failure    {head}")
    if where:
        print(f"  step       {where}")
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
