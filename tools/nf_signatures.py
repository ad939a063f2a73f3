"""tools/nf_signatures.py: what fired, read from a failing run's output.

Shared by tools/mutants.py (the detection matrix) and tools/triage.py (crash
triage), so that both name a failure the same way.

  signature(text)  a short class, most specific first: "ASan heap-use-after-free",
                   "TSan data race", "UBSan ...", "P8", "P7 deadlock", "model: sub
                   seq", "model mismatch", "SEGV", "assertion", else "failure".
  headline(text)   the one line that says what failed: the first line of an nf
                   CHECK FAILED block after its `step:` line, or the sanitizer's
                   ERROR/SUMMARY line, or the scheduler's deadlock/step-bound line,
                   with addresses and pids stripped.
  step(text)       the `step:` line of an nf report ("T0 op 2: inv_start ..."), or "".
  key(text)        signature plus the headline with every number replaced by N: two
                   runs with the same key failed the same way (triage keeps a
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
    (r"\b(P[1-9])\b[^\n]{0,50}", "{0}"),
    (r"\b(deadlock|step bound|step-bound|livelock|hang|HANG)\b", "P7 {0}"),
    (r"(seq: core)", "model: sub seq"),
    (r"(differ|mismatch)", "model mismatch"),
    (r"(SEGV|Segmentation fault)", "SEGV"),
    (r"(Failure|FAILED)", "assertion"),
]

_NF_BLOCK = re.compile(r"^==== nf (\S+): ([^\n]*?) ====\n(?:step: ([^\n]*)\n)?([^\n]*)",
                       re.MULTILINE)


# Where a report begins: what a fuzzer printed before it (libFuzzer's NEW_FUNC
# lines name library functions such as std::exchange) must not be read as one.
_REPORT_START = re.compile(
    r"^(==== nf |==\d+==ERROR|WARNING: ThreadSanitizer|\S*:\d+:\d+: runtime error|"
    r"\[  FAILED  \]|\S+:\d+: Failure|P7 \(liveness\)|[^\n]*\b(deadlock|step-bound)\b)",
    re.MULTILINE)


def signature(text):
    start = _REPORT_START.search(text)
    if start:
        text = text[start.start():]
    for pat, fmt in SIGNATURES:
        m = re.search(pat, text, re.MULTILINE)
        if m:
            return fmt.format(*(g.strip() for g in m.groups()))
    return "failure"


def _clean(line):
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
    m = _NF_BLOCK.search(text)
    if m:
        line = m.group(4).strip() or m.group(2)
        return _clean(line)
    for pat in (r"^[^\n]*ERROR: (?:AddressSanitizer|LeakSanitizer|ThreadSanitizer)[^\n]*",
                r"^[^\n]*runtime error: [^\n]*",
                r"^[^\n]*WARNING: ThreadSanitizer[^\n]*",
                r"^[^\n]*\b(?:deadlock after|step-bound:)[^\n]*",
                r"^SUMMARY: [^\n]*",
                r"^[^\n]*ERROR: libFuzzer: [^\n]*"):
        m = re.search(pat, text, re.MULTILINE)
        if m:
            line = re.sub(r"^.*?ERROR: (?=\w+Sanitizer)", "", _clean(m.group(0)))
            if "Sanitizer" in line:
                access = re.search(r"^(READ|WRITE) of size \d+", text[m.end():], re.MULTILINE)
                frame = _first_frame(text, m.end())
                line += "".join(x for x in (
                    f"; {access.group(0)}" if access else "", f" in {frame}" if frame else ""))
            return line
    return ""


def step(text):
    m = _NF_BLOCK.search(text)
    return (m.group(3) or "").strip() if m else ""


def key(text):
    return signature(text) + " | " + re.sub(r"0x[0-9a-fA-F]+|\d+", "N", headline(text))
