"""tools/nf_signatures.py: what fired, for tools/mutants.py and tools/triage.py.

Two sources, so that both tools name a failure the same way:

  from_verdict(v)  the verdict of a JSON run document (fuzzers/executors/report_json.h),
                   which every nf executor writes when it reports a violation
                   ($NF_REPORT_JSON, or a tool's --json): its property ("P8",
                   "P7", ...), "model: sub seq" or "model mismatch" for a
                   difference between the core and the model.
  signature(text)  for the outputs that have no such document: a sanitizer's
                   report (ASan, LSan, TSan, UBSan), libFuzzer's timeout or
                   out-of-memory, and the TSan stress suite (gtest failures and
                   its "P7 (liveness)" watchdog line); most specific first, else
                   "failure".
  headline(text)   the sanitizer's ERROR/SUMMARY line (with the first access and
                   project frame), the stress suite's deadlock line or libFuzzer's
                   ERROR line, with addresses and pids stripped.
  key(sig, head)   sig plus the headline with every number replaced by N: two runs
                   with the same key failed the same way (triage keeps a
                   minimization candidate only if its key is unchanged).
"""
import re

# What fired, most specific first: (regex, format of its groups).
SIGNATURES = [
    (r"AddressSanitizer: ([a-z-]+)", "ASan {0}"),
    (r"LeakSanitizer: (detected memory leaks)", "LSan {0}"),
    (r"ThreadSanitizer: ([a-z ]+?)(?: \(|$)", "TSan {0}"),
    (r"runtime error: ([^\n]{0,60})", "UBSan {0}"),
    (r"ERROR: libFuzzer: (timeout|out-of-memory)", "libFuzzer {0}"),
    (r"\b(P1[01]|P[1-9])\b[^\n]{0,50}", "{0}"),
    (r"\b(deadlock|step bound|step-bound|livelock|hang|HANG)\b", "P7 {0}"),
    (r"(SEGV|Segmentation fault)", "SEGV"),
    (r"(Failure|FAILED)", "assertion"),
]

# Where a report begins: what a fuzzer printed before it (libFuzzer's NEW_FUNC
# lines name library functions such as std::exchange) must not be read as one.
_REPORT_START = re.compile(
    r"^(==\d+==ERROR|WARNING: ThreadSanitizer|\S*:\d+:\d+: runtime error|"
    r"\[  FAILED  \]|\S+:\d+: Failure|P7 \(liveness\)|[^\n]*\b(deadlock|step-bound)\b)",
    re.MULTILINE)


def from_verdict(v):
    """The signature of a JSON verdict (report_json.h VERDICT); None if it passed
    or if a sanitizer ended the run (then signature() of the output names it)."""
    if not v or v.get("ok", True) or v.get("property") in (None, "sanitizer"):
        return None
    prop = v["property"]
    if prop == "model":
        return "model: sub seq" if v.get("detail") == "sub seq" else "model mismatch"
    return prop


def verdict_headline(v):
    """The first line of a JSON verdict's message, cleaned."""
    lines = (v.get("message") or "").strip().splitlines()
    return clean(lines[0]) if lines else ""


def signature(text):
    start = _REPORT_START.search(text)
    if start:
        text = text[start.start():]
    for pat, fmt in SIGNATURES:
        m = re.search(pat, text, re.MULTILINE)
        if m:
            return fmt.format(*(g.strip() for g in m.groups()))
    return "failure"


def clean(line):
    line = re.sub(r"==\d+==", "", line)
    line = re.sub(r"\s(on( unknown)? address|at pc|bp|sp|pc) 0x[0-9a-f]+", "", line)
    line = re.sub(r"\(pc 0x[0-9a-f]+ [^)]*\)", "", line)
    return " ".join(line.split())[:200]


def _first_frame(text, after):
    """The first stack frame after offset `after` that is in the project's code."""
    for m in re.finditer(r"^\s+#\d+ 0x[0-9a-f]+ in (.+?) (/\S+?):(\d+)", text[after:], re.MULTILINE):
        func, path = m.group(1), m.group(2)
        if ("/usr/" in path or "sanitizer" in path or "compiler-rt" in path
                or func.startswith(("std::", "nf::sync::"))):
            continue
        func = re.sub(r"\(.*", "", func)  # drop the argument list
        return f"{func} {path.rsplit('/', 2)[-2]}/{path.rsplit('/', 1)[-1]}:{m.group(3)}"
    return ""


def headline(text):
    for pat in (r"^[^\n]*ERROR: (?:AddressSanitizer|LeakSanitizer|ThreadSanitizer)[^\n]*",
                r"^[^\n]*runtime error: [^\n]*",
                r"^[^\n]*WARNING: ThreadSanitizer[^\n]*",
                r"^[^\n]*\b(?:deadlock after|step-bound:)[^\n]*",
                r"^SUMMARY: [^\n]*",
                r"^[^\n]*ERROR: libFuzzer: [^\n]*"):
        m = re.search(pat, text, re.MULTILINE)
        if m:
            line = re.sub(r"^.*?ERROR: (?=\w+Sanitizer)", "", clean(m.group(0)))
            if "Sanitizer" in line:
                access = re.search(r"^(READ|WRITE) of size \d+", text[m.end():], re.MULTILINE)
                frame = _first_frame(text, m.end())
                line += "".join(x for x in (
                    f"; {access.group(0)}" if access else "", f" in {frame}" if frame else ""))
            return line
    return ""


def key(sig, head):
    return sig + " | " + re.sub(r"0x[0-9a-fA-F]+|\d+", "N", head)
