#!/usr/bin/env python3
"""tools/nflib.py: what every tool of the project needs to know, in one place.

  FUZZERS                  the fuzz targets (cmake/fuzzers.txt, which CMake reads too)
  KERNEL_FUZZERS           the kernel target's (cmake/fuzzers_kernel.txt); fuzzers_of(t),
                           base_fuzzer(f) (whose options/dict/seeds it shares),
                           add_target_argument(parser) (--target nf|kernel)
  presets()                the configure presets of CMakePresets.json
  configure(preset, log)   cmake --preset (incremental on a configured tree)
  build(preset, targets)   configure if needed, then cmake --build --target ...
  has_target(tree, t)      the configured tree defines target t (Ninja)
  locate(t, preset|tree)   the built file of target t, asked of Ninja (`ninja -t
                           query t`: the target's phony input), so it does not
                           depend on where under build/ CMake puts it
  ensure(preset, t, log)   locate, else build then locate
  source_file(name)        a file beside the fuzzers' sources, wherever they are
                           (searched for in the tree): <fuzzer>.options, .dict
  fuzzer_options(f)        the libFuzzer flags of <f>.options ([libfuzzer])
  fuzzer_dict(f)           <f>.dict, or None
  say/warn/die             "<prog>: message" logging
  show_build_failure(log)  a failed build's first error, on stderr

Command line (for the shell scripts; exit 1 when there is nothing to print):
  tools/nflib.py fuzzers [--target kernel]     the fuzz targets, one a line
  tools/nflib.py locate [--build] PRESET|DIR TARGET
                                               the target's file (--build: build
                                               it first if it is missing)
  tools/nflib.py options FUZZER                its libFuzzer flags, one a line
  tools/nflib.py dict FUZZER                   its dictionary's path
  tools/nflib.py source NAME                   the path of NAME, a FUZZER.options
                                               or FUZZER.dict, in the tree
Paths printed by dict and source are relative to the checkout.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUZZERS_FILE = os.path.join(ROOT, "cmake", "fuzzers.txt")
# Where the tree search for source-side files does not look.
_SKIP_DIRS = {".git", "build", "corpus", "node_modules", "__pycache__"}
# libFuzzer flags that ./nf fuzz sets itself: ignored in .options.
RESERVED_OPTIONS = {"jobs", "workers", "fork", "merge", "max_total_time", "artifact_prefix",
                    "runs"}

PROG = "nf"


# ---------------------------------------------------------------------------
# Logging

def say(msg, prog=None):
    print(f"{prog or PROG}: {msg}", flush=True)


def warn(msg, prog=None):
    print(f"{prog or PROG}: {msg}", file=sys.stderr, flush=True)


def die(msg, prog=None, status=1):
    warn(msg, prog)
    sys.exit(status)


def rel(path):
    """path relative to the checkout when it is inside it."""
    p = os.path.abspath(path)
    return os.path.relpath(p, ROOT) if p.startswith(ROOT + os.sep) else p


def show_tail(log, lines=40, start=1):
    """The end of a log (from line `start` on), indented, on stderr."""
    try:
        with open(log, errors="replace") as f:
            text = f.read().splitlines()[start - 1:]
    except OSError:
        text = []
    out = [f"---- last {lines} lines of {rel(log)} ----"]
    out += ["  " + ln for ln in text[-lines:]]
    out.append("----")
    print("\n".join(out), file=sys.stderr, flush=True)


def show_build_failure(log):
    """A failed build's first error (ninja's first FAILED: or CMake's first CMake
    Error, 40 lines), else the log's end."""
    try:
        with open(log, errors="replace") as f:
            text = f.read().splitlines()
    except OSError:
        text = []
    first = next((i for i, ln in enumerate(text)
                  if ln.startswith("FAILED: ") or ln.startswith("CMake Error")), None)
    if first is None:
        show_tail(log)
        return
    out = [f"---- first error in {rel(log)} ----"]
    out += ["  " + ln for ln in text[first:first + 40]]
    out.append("----")
    print("\n".join(out), file=sys.stderr, flush=True)


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line, as ./nf's: "nf: PROG: MESSAGE
    (see ./nf help)", exit 2. --help still prints the tool's own help."""

    def error(self, message):
        print(f"nf: {self.prog}: {message} (see ./nf help)", file=sys.stderr, flush=True)
        sys.exit(2)


# ---------------------------------------------------------------------------
# The fuzzers and the presets

def _read_fuzzers(path=FUZZERS_FILE):
    names = []
    if not os.path.exists(path):
        return names
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                names.append(line)
    return names


FUZZERS = _read_fuzzers()

# The kernel target's fuzz targets (cmake/fuzzers_kernel.txt): <fuzzer>_kernel
# runs <fuzzer>.cc on mm/mmu_notifier.c (kernel/), and shares its .options,
# .dict and seed corpus; built where the kernel target is configured.
KERNEL_FUZZERS_FILE = os.path.join(ROOT, "cmake", "fuzzers_kernel.txt")
KERNEL_FUZZERS = _read_fuzzers(KERNEL_FUZZERS_FILE)
# The targets behind the seam (target/target.h) a tool's --target names.
TARGETS = ("nf", "kernel")
# The kernel versions the kernel target builds (kernel/CMakeLists.txt
# NF_KERNEL_VERSIONS: 6.1 everywhere, 6.12 where a preset lists it): 6.1 keeps
# the plain names, another version's targets end in _<major>_<minor>.
KERNEL_VERSIONS = ("6.1", "6.12")
DEFAULT_KERNEL = "6.1"


def kernel_suffix(version):
    """The suffix of VERSION's kernel targets: "" for 6.1, "_6_12" for 6.12."""
    return "" if version == DEFAULT_KERNEL else "_" + version.replace(".", "_")


def fuzzers_of(target):
    """The fuzz targets of TARGET ("nf" or "kernel")."""
    return KERNEL_FUZZERS if target == "kernel" else FUZZERS


def base_fuzzer(name):
    """The fuzzer whose source, options, dictionary and seeds NAME shares:
    concurrent_fuzzer for concurrent_fuzzer_kernel (and for its build of another
    kernel version, concurrent_fuzzer_kernel_6_12), else NAME."""
    for v in KERNEL_VERSIONS:
        suffix = kernel_suffix(v)
        if suffix and name.endswith(suffix) and name[: -len(suffix)] in KERNEL_FUZZERS:
            name = name[: -len(suffix)]
    if name in KERNEL_FUZZERS and name.endswith("_kernel"):
        return name[: -len("_kernel")]
    return name


def add_target_argument(parser, matrix=False):
    """--target nf|kernel (default nf) and --kernel VERSION (default 6.1, or both
    where the command runs a matrix); a bad value is argparse's one-line error."""
    parser.add_argument("--target", choices=TARGETS, default="nf",
                        help="the implementation to fuzz: nf's core (default) or the kernel's "
                             "mm/mmu_notifier.c (kernel/)")
    choices = KERNEL_VERSIONS + (("both",) if matrix else ())
    parser.add_argument("--kernel", choices=choices, default="both" if matrix else DEFAULT_KERNEL,
                        help="with --target kernel: the kernel version (default "
                             + ("both" if matrix else DEFAULT_KERNEL) + ")")


def presets():
    """The visible configure presets, in file order."""
    with open(os.path.join(ROOT, "CMakePresets.json")) as f:
        data = json.load(f)
    return [p["name"] for p in data.get("configurePresets", []) if not p.get("hidden")]


def tree_of(preset_or_dir):
    """build/<preset> for a preset name, else the directory itself (absolute)."""
    if os.sep in preset_or_dir or preset_or_dir.startswith("build"):
        return os.path.abspath(os.path.join(ROOT, preset_or_dir))
    return os.path.join(ROOT, "build", preset_or_dir)


# ---------------------------------------------------------------------------
# Building and locating

def _run_logged(cmd, log, append=True):
    if log is None:
        return subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0
    os.makedirs(os.path.dirname(os.path.abspath(log)), exist_ok=True)
    with open(log, "a" if append else "w") as out:
        out.write("$ " + " ".join(cmd) + "\n")
        out.flush()
        return subprocess.run(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT).returncode == 0


def configure(preset, log=None, extra=()):
    """cmake --preset PRESET [extra...]; True on success. extra may hold -B DIR."""
    return _run_logged(["cmake", "--preset", preset, *extra], log)


def compile_targets(tree, targets=(), log=None, jobs=None):
    """cmake --build TREE [-j J] [--target T...] on a configured tree."""
    cmd = ["cmake", "--build", tree_of(tree), "-j", str(jobs or os.cpu_count() or 1)]
    if targets:
        cmd += ["--target", *targets]
    return _run_logged(cmd, log)


def build(preset, targets=(), log=None, jobs=None):
    """cmake --preset (incremental on a configured tree), then builds the
    targets (all by default); True on success."""
    tree = tree_of(preset)
    if not configure(preset, log):
        return False
    return compile_targets(tree, targets, log, jobs)


def has_target(tree, target):
    return subprocess.run(["ninja", "-C", tree_of(tree), "-t", "query", target], cwd=ROOT,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def _phony_inputs(tree, target):
    """The inputs of TARGET's phony rule in TREE's build.ninja, or None."""
    p = subprocess.run(["ninja", "-C", tree, "-t", "query", target], cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if p.returncode != 0:
        return None
    inputs, section = [], None
    for line in p.stdout.splitlines():
        stripped = line.strip()
        if line.startswith("  ") and not line.startswith("    "):
            section = stripped.split(":", 1)[0]  # "input" or "outputs"
            continue
        if section == "input" and line.startswith("    "):
            inputs.append(stripped.lstrip("|").strip())
    return inputs


def locate(target, preset=None, tree=None):
    """The built executable of TARGET in build/<preset>/ (or TREE), or None. The
    path comes from Ninja (the target's phony rule names its file); a tree
    without a build.ninja falls back to a search for an executable of that name."""
    tree = tree_of(tree or preset)
    if not os.path.isdir(tree):
        return None
    if os.path.exists(os.path.join(tree, "build.ninja")):
        inputs = _phony_inputs(tree, target)
        if inputs is None:
            return None  # no such target in this tree
        for i in inputs:
            path = os.path.join(tree, i)
            if os.path.basename(i) == target and os.path.isfile(path) and os.access(path, os.X_OK):
                return path
        return None  # defined but not built
    for d, dirs, files in os.walk(tree):
        dirs[:] = [x for x in dirs if x != "CMakeFiles"]
        if target in files and os.access(os.path.join(d, target), os.X_OK):
            return os.path.join(d, target)
    return None


def ensure(preset, target, log=None, prog=None):
    """locate(), else configure and build the target; its path, or None (said why)."""
    path = locate(target, preset)
    if path:
        return path
    if not configure(preset, log):
        warn(f"configuring the {preset} preset failed" + (f"; see {rel(log)}" if log else ""), prog)
        return None
    if not has_target(preset, target):
        return None  # no such target in this checkout
    warn(f"building {target} ({preset} preset)", prog)
    if not compile_targets(preset, [target], log):
        warn(f"building {target} failed" + (f"; see {rel(log)}" if log else ""), prog)
        return None
    return locate(target, preset)


# ---------------------------------------------------------------------------
# Files beside the sources: <fuzzer>.options, <fuzzer>.dict

_source_index = None


def source_file(name):
    """The path of the file NAME in the source tree (outside build/, corpus/,
    .git), or None; the first in sorted order if there are several."""
    global _source_index
    if _source_index is None:
        _source_index = {}
        for d, dirs, files in os.walk(ROOT):
            dirs[:] = sorted(x for x in dirs if x not in _SKIP_DIRS and not x.startswith("."))
            for f in sorted(files):
                if f.endswith((".options", ".dict")):
                    _source_index.setdefault(f, os.path.join(d, f))
    return _source_index.get(name)


def parse_options(path, prog=None):
    """The [libfuzzer] section of an OSS-Fuzz .options file as -key=value flags
    (INI: "key = value", # or ; comments). Flags ./nf fuzz sets itself are
    dropped, with a warning; a relative dict= is relative to the file's folder."""
    flags, section = [], ""
    where = rel(path)
    with open(path, errors="replace") as f:
        for raw in f:
            line = raw.rstrip("\r\n").strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                continue
            if section != "libfuzzer":
                continue
            key, eq, value = line.partition("=")
            key, value = key.strip(), value.strip()
            if not eq or not key or not (key[0].isalpha() or key[0] == "_") \
                    or not all(c.isalnum() or c == "_" for c in key):
                warn(f"{where}: ignoring '{line}'", prog)
                continue
            if key in RESERVED_OPTIONS:
                warn(f"{where}: ignoring '{key}' (./nf fuzz sets it)", prog)
                continue
            if key == "dict" and not os.path.isabs(value):
                value = rel(os.path.join(os.path.dirname(path), value))
            flags.append(f"-{key}={value}")
    return flags


def fuzzer_options(fuzzer, prog=None):
    path = source_file(f"{fuzzer}.options") or source_file(f"{base_fuzzer(fuzzer)}.options")
    return parse_options(path, prog) if path else []


def fuzzer_dict(fuzzer):
    path = source_file(f"{fuzzer}.dict") or source_file(f"{base_fuzzer(fuzzer)}.dict")
    return rel(path) if path else None


# ---------------------------------------------------------------------------

def main(argv):
    usage = ("usage: tools/nflib.py fuzzers [--target kernel] | locate [--build] PRESET|DIR TARGET"
             " | options FUZZER | dict FUZZER | source NAME")
    if not argv:
        print(usage, file=sys.stderr)
        return 2
    cmd, args = argv[0], argv[1:]
    if cmd == "fuzzers" and not args:
        print("\n".join(FUZZERS))
        return 0
    if cmd == "fuzzers" and args == ["--target", "kernel"]:
        print("\n".join(KERNEL_FUZZERS))
        return 0 if KERNEL_FUZZERS else 1
    if cmd == "locate":
        do_build = bool(args) and args[0] == "--build"
        if do_build:
            args = args[1:]
        if len(args) != 2:
            print(usage, file=sys.stderr)
            return 2
        where, target = args
        if do_build:
            log = os.path.join(tree_of(where), "nflib-build.log")
            path = ensure(where, target, log, prog="nflib")
        else:
            path = locate(target, tree=where)
        if not path:
            return 1
        print(path)
        return 0
    # One-argument queries: what each prints (nothing printed: exit 1).
    queries = {
        "options": lambda a: "\n".join(fuzzer_options(a)) or "",
        "dict": fuzzer_dict,
        "source": lambda a: rel(source_file(a)) if source_file(a) else None,
    }
    if cmd in queries and len(args) == 1:
        out = queries[cmd](args[0])
        if out is None:
            return 1
        if out:
            print(out)
        return 0
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
