#!/usr/bin/env python3
"""tools/fuzz.py: `./nf fuzz`, build the fuzz preset and fuzz for N minutes.

usage: tools/fuzz.py [--minutes N] [--fuzzer NAME] [--jobs J] [--engine libfuzzer|afl]
                     [--target nf|kernel] [--kernel 6.1|6.12]

--target kernel: the kernel target's fuzzers (cmake/fuzzers_kernel.txt: the real
mm/mmu_notifier.c, kernel/); each also reads the corpus of the fuzzer it shares
its source with (corpus/concurrent_fuzzer/ for concurrent_fuzzer_kernel) and the
kernel's reproducers, corpus/regress/kernel/<fuzzer>/. --kernel 6.12: the
same fuzzers built on Linux 6.12 (<fuzzer>_6_12; the corpus folders are shared:
a program means the same on every version); default 6.1.

Scheduling: J slots, F fuzzers, a budget of T seconds of fuzzing.
  F <= J: one wave of T seconds; each fuzzer runs J/F instances (the first J%F
          one more), sharing its scratch dir, so no core is idle.
  F >  J: the fuzzers in a ring, J at a time, in F/gcd(F,J) waves: every fuzzer
          gets the same J*T/F seconds and every wave uses every core.
New inputs go to build/fuzz/new/<f>/ (libFuzzer writes into the first corpus
dir; corpus/<f>/ and corpus/regress/ are read-only seeds), then one -merge=1
per fuzzer adds the ones with new coverage to corpus/<f>/, named by SHA1.

Every crash artifact of the run is printed with its log's report lines and its
decoded program (nf_tool decode). Exit: 0 no crash, 1 a crash or a failed run
or build, 2 bad usage, 130 interrupted. --engine afl runs tools/afl_fuzz.sh.
"""
import hashlib
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

import nflib
from nflib import ROOT, rel, say, warn, die

FUZZ_DIR = "build/fuzz"        # relative to ROOT; main() chdirs there
PROGRESS_EVERY = 10            # seconds between progress lines
DEFAULT_INPUT_TIMEOUT = 25     # libFuzzer -timeout, as OSS-Fuzz
WATCHDOG_GRACE = 30            # seconds past the budget before SIGINT
REPORT_LINES = re.compile(r"==[0-9]+== ?ERROR|^SUMMARY:|deadly signal|ALARM: working|"
                          r"out-of-memory|detected memory leaks|^ERROR: libFuzzer")
STATUS_LINE = re.compile(r"^#(\d+)")


def usage_error(msg):
    """One line, then exit 2 (./nf's convention)."""
    print(f"nf: fuzz: {msg} (see ./nf help)", file=sys.stderr, flush=True)
    sys.exit(2)


def mmss(s):
    s = int(s)
    return f"{s // 60}:{s % 60:02d}"


def count_files(d):
    try:
        return sum(1 for e in os.scandir(d) if e.is_file())
    except OSError:
        return 0


def status_of(log):
    """(execs, exec/s, cov, ft, corpus) from the last libFuzzer status line
    ("#123 NEW cov: 45 ft: 67 corp: 8/120b ... exec/s: 9 ..."), or None."""
    last = None
    try:
        with open(log, "rb") as f:
            for raw in f:
                if raw.startswith(b"#") and STATUS_LINE.match(raw.decode(errors="replace")):
                    last = raw.decode(errors="replace")
    except OSError:
        return None
    if last is None:
        return None

    def num(pat):
        m = re.search(pat, last)
        return int(m.group(1)) if m else 0
    return (int(STATUS_LINE.match(last).group(1)), num(r"exec/s: (\d+)"), num(r"cov: (\d+)"),
            num(r"ft: (\d+)"), num(r"corp: (\d+)"))


def final_stat(log, key):
    """A value of -print_final_stats ("stat::KEY: N"), or None."""
    value = None
    try:
        with open(log, errors="replace") as f:
            for line in f:
                if line.startswith(f"stat::{key}:"):
                    value = line.split()[-1]
    except OSError:
        pass
    return int(value) if value and value.isdigit() else None


class Instance:
    def __init__(self, name, idx, proc, log, start):
        self.name, self.idx, self.proc, self.log = name, idx, proc, log
        self.start, self.end, self.signalled = start, None, 0

    def label(self):
        return self.name if self.idx == 0 else f"{self.name}#{self.idx}"


class Totals:
    def __init__(self):
        self.execs = self.secs = self.ft = self.cov = self.crashes = self.errors = 0
        self.before = self.after = 0
        self.opts = []


class Fuzz:
    def __init__(self, fuzzers, binaries):
        self.fuzzers = fuzzers
        self.binaries = binaries   # name -> path relative to ROOT
        self.kernel = nflib.DEFAULT_KERNEL  # the kernel fuzzers' version (--kernel)
        self.totals = {n: Totals() for n in fuzzers}
        self.instances = []
        self.interrupted = False
        self.start = time.monotonic()
        self.crashes = 0

    def now(self):
        return time.monotonic() - self.start

    # --- signals
    def on_interrupt(self, signum, frame):
        if self.interrupted:
            for i in self.instances:
                if i.end is None:
                    try:
                        i.proc.kill()
                    except OSError:
                        pass
            warn("aborted")
            os._exit(130)
        self.interrupted = True
        warn("interrupted: stopping the fuzzers, then merging what they found "
             "(Ctrl-C again aborts)")
        for i in self.instances:
            if i.end is None:
                try:
                    i.proc.send_signal(signal.SIGINT)
                except OSError:
                    pass

    # --- one wave
    def start_instance(self, name, wave, idx, secs):
        log = f"{FUZZ_DIR}/logs/{name}.wave{wave}.{idx}.log"
        args = [f"-timeout={DEFAULT_INPUT_TIMEOUT}"]
        d = nflib.fuzzer_dict(name)
        if d:
            args.append(f"-dict={d}")
        args += self.totals[name].opts
        args += [f"-max_total_time={secs}", "-print_final_stats=1",
                 f"-artifact_prefix={FUZZ_DIR}/artifacts/{name}/",
                 f"{FUZZ_DIR}/new/{name}/", f"corpus/{name}/"]
        args += seed_dirs(name)
        binary = self.binaries[name]
        out = open(log, "w")
        out.write(" ".join(shlex.quote(a) for a in [binary, *args]) + " \n")
        out.flush()
        proc = subprocess.Popen([binary, *args], stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)
        out.close()
        self.instances.append(Instance(name, idx, proc, log, time.monotonic()))

    def print_progress(self):
        for i in self.instances:
            if i.end is not None:
                continue
            st = status_of(i.log)
            if st is None:
                print(f"  [{mmss(self.now()):>6}] {i.label():<28} starting (loading the corpus)",
                      flush=True)
                continue
            execs, rate, cov, ft, corp = st
            print(f"  [{mmss(self.now()):>6}] {i.label():<28} execs {execs:10d}  exec/s {rate:7d}"
                  f"  cov {cov:6d}  ft {ft:7d}  corpus {corp:6d}", flush=True)

    def run_wave(self, secs):
        """Waits for the instances started, with progress lines and a watchdog;
        then adds their results to the totals and clears the instance list."""
        next_progress = time.monotonic() + PROGRESS_EVERY
        while True:
            running = False
            for i in self.instances:
                if i.end is not None:
                    continue
                if i.proc.poll() is not None:
                    i.end = time.monotonic()
                    # Stopping early means a crash or an error, reported at the end.
                    if int(i.end - i.start) < secs and not self.interrupted:
                        print(f"  [{mmss(self.now()):>6}] {i.label():<28} stopped after "
                              f"{int(i.end - i.start)} s (log: {i.log})", flush=True)
                    continue
                running = True
                over = int(time.monotonic() - i.start - secs)
                if over > 2 * WATCHDOG_GRACE and i.signalled < 2:
                    try:
                        i.proc.kill()
                    except OSError:
                        pass
                    i.signalled = 2
                elif over > WATCHDOG_GRACE and i.signalled < 1:
                    warn(f"{i.name} overran its time by {over} s: stopping it")
                    try:
                        i.proc.send_signal(signal.SIGINT)
                    except OSError:
                        pass
                    i.signalled = 1
            if not running:
                break
            time.sleep(1)
            if time.monotonic() >= next_progress:
                self.print_progress()
                next_progress = time.monotonic() + PROGRESS_EVERY

        for i in self.instances:
            rc = i.proc.wait()
            if rc < 0:
                rc = 128 - rc  # as the shell reports a signal
            t = self.totals[i.name]
            elapsed = int(i.end - i.start)
            execs = final_stat(i.log, "number_of_executed_units")
            st = status_of(i.log)
            cov = ft = 0
            if st is not None:
                cov, ft = st[2], st[3]
            if execs is None:
                execs = st[0] if st is not None else 0
            t.execs += execs
            t.secs += elapsed
            t.ft = max(t.ft, ft)
            t.cov = max(t.cov, cov)
            # 0: budget used up; 72: libFuzzer's exit status after SIGINT (Ctrl-C).
            # Any other status is a crash, counted from the artifacts later, or an
            # error if the log names no artifact.
            if i.signalled:
                t.errors += 1
                warn(f"{i.name} hung: stopped by the watchdog (log: {i.log})")
            elif rc not in (0, 72) and not log_has(i.log, b"Test unit written to"):
                t.errors += 1
                warn(f"{i.name} exited with status {rc} and wrote no artifact")
                nflib.show_tail(i.log, 20)
        self.instances = []

    # --- after the waves
    def merge_corpus(self, name):
        """Merges build/fuzz/new/NAME/ into corpus/NAME/: the new inputs that add
        coverage over corpus/NAME/ and the fuzzer's read-only seed directories
        together (seed_dirs: a kernel fuzzer also reads its base fuzzer's corpus,
        whose inputs must not be copied into its own)."""
        new = f"{FUZZ_DIR}/new/{name}"
        log = f"{FUZZ_DIR}/logs/{name}.merge.log"
        if count_files(new) == 0:
            return
        # libFuzzer merges into its first directory what adds coverage over it:
        # that directory holds every input the fuzzer started from, and only
        # what the merge adds to it goes into corpus/NAME/.
        ref = f"{FUZZ_DIR}/merge/{name}"
        subprocess.run(["rm", "-rf", ref])
        os.makedirs(ref)
        for d in [f"corpus/{name}"] + seed_dirs(name):
            for root, _, files in os.walk(d):
                for f in files:
                    if not f.startswith("EXPECT") and not f.endswith((".nfp", ".md")):
                        with open(os.path.join(root, f), "rb") as src:
                            data = src.read()
                        with open(os.path.join(ref, hashlib.sha1(data).hexdigest()), "wb") as dst:
                            dst.write(data)
        before = set(os.listdir(ref))
        args = [f"-timeout={DEFAULT_INPUT_TIMEOUT}"]
        args += [o for o in self.totals[name].opts if not o.startswith("-dict=")]
        args += ["-merge=1", f"-artifact_prefix={FUZZ_DIR}/artifacts/{name}/", f"{ref}/", f"{new}/"]
        with open(log, "w") as out:
            ok = subprocess.run([self.binaries[name], *args], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT).returncode == 0
        if ok:
            for f in sorted(set(os.listdir(ref)) - before):
                shutil.copy(os.path.join(ref, f), f"corpus/{name}/{f}")
            subprocess.run(["rm", "-rf", ref])
            for e in os.scandir(new):
                if e.is_dir(follow_symlinks=False):
                    subprocess.run(["rm", "-rf", e.path])
                else:
                    os.unlink(e.path)
        else:
            self.totals[name].errors += 1
            warn(f"merging {new} into corpus/{name}/ failed (the inputs stay in {new}/)")
            nflib.show_tail(log, 20)

    def report_crashes(self, marker):
        """Prints every crash artifact written since the marker and counts them."""
        tool = nflib.locate("nf_tool", "fuzz")
        since = os.stat(marker).st_mtime
        found = []
        for d, _, files in os.walk(f"{FUZZ_DIR}/artifacts"):
            for f in files:
                path = os.path.join(d, f)
                if (f.startswith(("crash-", "leak-", "timeout-", "oom-"))
                        and os.stat(path).st_mtime > since):
                    found.append(path)
        for file in sorted(found):
            name = file[len(f"{FUZZ_DIR}/artifacts/"):].split("/", 1)[0]
            base = os.path.basename(file)
            if name in self.totals:
                self.totals[name].crashes += 1
            self.crashes += 1
            log = None
            logs_dir = f"{FUZZ_DIR}/logs"
            for lf in sorted(os.listdir(logs_dir)):
                if lf.startswith(f"{name}.wave") and lf.endswith(".log") and \
                        log_has(os.path.join(logs_dir, lf), base.encode()):
                    log = os.path.join(logs_dir, lf)
                    break
            print(f"\n=== {base}: {name}")
            print(f"  input:     {file}")
            if log:
                print(f"  log:       {log}")
            binary = self.binaries.get(name, name)
            print(f"  reproduce: {binary} {file}")
            replay = replay_command(name, file, self.kernel)
            if replay:
                print(f"             {replay}")
            print(f"  triage:    ./nf triage {file} --binary {binary}")
            if log:
                with open(log, errors="replace") as f:
                    hits = [ln.rstrip("\n") for ln in f if REPORT_LINES.search(ln)]
                for ln in hits[:6]:
                    print(f"  | {ln}")
            if tool:
                print("  program (nf_tool decode):")
                p = subprocess.run([tool, "decode", file], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
                lines = p.stdout.decode(errors="replace").splitlines()
                for ln in lines[:80]:
                    print(f"    {ln}")
                if len(lines) > 80:
                    print(f"    ... {len(lines) - 80} more lines: ./nf decode {file}")
            else:
                print("  (no nf_tool built: cannot decode the input)")
            sys.stdout.flush()


def replay_command(name, file, kernel=nflib.DEFAULT_KERNEL):
    """The ./nf replay line that runs FILE under the checks of fuzzer NAME (a
    kernel fuzzer: on KERNEL's build), or "" for a fuzzer whose inputs are not op
    programs (codec, interval tree)."""
    base = nflib.base_fuzzer(name)
    if base not in ("concurrent_fuzzer", "sequential_fuzzer"):
        return ""
    flags = "" if base == "concurrent_fuzzer" else " --sequential"
    if base != name:
        flags += " --target kernel"
        if kernel != nflib.DEFAULT_KERNEL:
            flags += f" --kernel {kernel}"
    return f"./nf replay{flags} {file}"


def resolve_fuzzer(only, target):
    """The fuzz target NAME of --fuzzer (the _fuzzer and _kernel suffixes may be
    left out), checked against the fuzzer list before anything is built."""
    listed = nflib.fuzzers_of(target)
    if only in listed:
        return only
    name = only if only.endswith("_fuzzer") or only.endswith("_kernel") else only + "_fuzzer"
    if target == "kernel" and not name.endswith("_kernel"):
        name += "_kernel"
    if name not in listed:
        usage_error(f"no fuzz target '{only}' for --target {target} (have: {' '.join(listed)})")
    return name


def log_has(path, needle):
    try:
        with open(path, "rb") as f:
            return needle in f.read()
    except OSError:
        return False


def seed_dirs(name):
    """The read-only seed directories of fuzzer NAME besides corpus/NAME/. nf's
    fuzzers: corpus/regress/ (every reproducer). A kernel fuzzer: the corpus
    and the catalogue reproducers of the fuzzer it shares its source with
    (which pass on the kernel: FINDINGS.md), and its own reproducers."""
    base = nflib.base_fuzzer(name)
    if base == name:
        return ["corpus/regress/"] if os.path.isdir("corpus/regress") else []
    dirs = [f"corpus/{base}/", f"corpus/regress/{base}/", f"corpus/regress/kernel/{name}/"]
    return [d for d in dirs if os.path.isdir(d)]


def parse_args(argv):
    opts = {"minutes": "10", "fuzzer": "", "jobs": str(os.cpu_count() or 1),
            "engine": "libfuzzer", "target": "nf", "kernel": nflib.DEFAULT_KERNEL}
    flags = {"--minutes": "minutes", "--fuzzer": "fuzzer", "--jobs": "jobs", "-j": "jobs",
             "--engine": "engine", "--target": "target", "--kernel": "kernel"}
    i = 0
    while i < len(argv):
        a = argv[i]
        key, eq, value = a.partition("=")
        if eq and key in flags and key.startswith("--"):
            opts[flags[key]] = value
            i += 1
            continue
        if a in flags:
            if i + 1 >= len(argv):
                usage_error(f"{a} needs a value")
            opts[flags[a]] = argv[i + 1]
            i += 2
            continue
        if a.startswith("-"):
            usage_error(f"unknown flag '{a}'")
        usage_error(f"unexpected argument '{a}'")
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", opts["minutes"]):
        usage_error("--minutes needs a number")
    if not opts["jobs"].isdigit() or int(opts["jobs"]) == 0:
        usage_error("--jobs needs a positive number")
    opts["jobs"] = int(opts["jobs"])
    if opts["engine"] not in ("libfuzzer", "afl"):
        usage_error("--engine must be libfuzzer or afl")
    if opts["target"] not in nflib.TARGETS:
        usage_error(f"--target must be one of: {' '.join(nflib.TARGETS)}")
    if opts["kernel"] not in nflib.KERNEL_VERSIONS:
        usage_error(f"--kernel must be one of: {' '.join(nflib.KERNEL_VERSIONS)}")
    if opts["kernel"] != nflib.DEFAULT_KERNEL and opts["target"] != "kernel":
        usage_error("--kernel goes with --target kernel")
    if opts["engine"] == "afl" and opts["target"] != "nf":
        usage_error("--engine afl runs nf's fuzzers only (no --target kernel)")
    return opts


def main(argv):
    opts = parse_args(argv)
    only = resolve_fuzzer(opts["fuzzer"], opts["target"]) if opts["fuzzer"] else ""
    if opts["engine"] == "afl":
        cmd = [os.path.join(ROOT, "tools", "afl_fuzz.sh"), "--minutes", opts["minutes"]]
        if only:
            cmd += ["--fuzzer", only]
        os.execv(cmd[0], cmd)
    total_s = int(float(opts["minutes"]) * 60)
    if total_s < 10:
        usage_error("--minutes must be at least 10 seconds' worth")
    jobs = opts["jobs"]
    os.chdir(ROOT)

    os.makedirs(FUZZ_DIR, exist_ok=True)
    build_log = f"{FUZZ_DIR}/nf-build.log"
    build_start = time.monotonic()
    say(f"building the fuzz preset (log: {build_log})")
    open(build_log, "w").close()
    if not nflib.build("fuzz", log=build_log):
        nflib.show_build_failure(build_log)
        die("building the fuzz preset failed")
    say(f"built in {int(time.monotonic() - build_start)} s")

    listed = nflib.fuzzers_of(opts["target"])
    # The kernel's fuzzers on another version: the same names, built as <name>_6_12.
    suffix = nflib.kernel_suffix(opts["kernel"]) if opts["target"] == "kernel" else ""
    binaries = {}
    for name in listed:
        path = nflib.locate(name + suffix, "fuzz")
        if path:
            binaries[name] = rel(path)
    fuzzers = [n for n in listed if n in binaries]
    if not fuzzers:
        hint = (f" (the kernel target needs the linux-source-{opts['kernel']} package and the "
                f"version in the fuzz preset's NF_KERNEL_VERSIONS: see kernel/README.md)"
                if opts["target"] == "kernel" else "")
        die(f"no fuzz target was built in {FUZZ_DIR}/ (the list has: "
            f"{' '.join(listed) or 'none'}){hint}")
    if only:
        if only not in fuzzers:
            die(f"{only} was not built in {FUZZ_DIR}/ (see {build_log})")
        fuzzers = [only]

    # The plan: waves of J instances; see the docstring.
    nf = len(fuzzers)
    reserve = min(max(total_s // 10, 5), 60)
    fuzz_s = total_s - reserve
    waves = 1 if nf <= jobs else nf // math.gcd(nf, jobs)
    wave_s = max(fuzz_s // waves, 5)

    subprocess.run(["rm", "-rf", f"{FUZZ_DIR}/logs"])
    os.makedirs(f"{FUZZ_DIR}/logs")
    run = Fuzz(fuzzers, binaries)
    run.kernel = opts["kernel"]
    for name in fuzzers:
        if not os.path.isdir(f"corpus/{name}"):
            say(f"creating corpus/{name}/ (a new fuzzer: commit its corpus)")
            os.makedirs(f"corpus/{name}")
        os.makedirs(f"{FUZZ_DIR}/new/{name}", exist_ok=True)
        os.makedirs(f"{FUZZ_DIR}/artifacts/{name}", exist_ok=True)
        t = run.totals[name]
        t.before = count_files(f"corpus/{name}")
        t.opts = nflib.fuzzer_options(name)
    marker = f"{FUZZ_DIR}/logs/.start"
    open(marker, "w").close()  # artifacts newer than this are this run's

    if waves == 1:
        say(f"fuzzing {nf} target(s) on {jobs} job(s) for {wave_s} s, then merging "
            f"(about {mmss(total_s)})")
    else:
        say(f"fuzzing {nf} targets on {jobs} jobs: {waves} waves of {wave_s} s, then merging "
            f"(about {mmss(total_s)})")
    say(f"logs: {FUZZ_DIR}/logs/; crashes: {FUZZ_DIR}/artifacts/<fuzzer>/")
    signal.signal(signal.SIGINT, run.on_interrupt)
    signal.signal(signal.SIGTERM, run.on_interrupt)
    run.start = time.monotonic()
    for w in range(waves):
        if run.interrupted:
            break
        if nf <= jobs:
            for i, name in enumerate(fuzzers):
                k = jobs // nf + (1 if i < jobs % nf else 0)
                for idx in range(k):
                    run.start_instance(name, w, idx, wave_s)
        else:
            names = [fuzzers[(w * jobs + s) % nf] for s in range(jobs)]
            say(f"wave {w + 1}/{waves}: {' '.join(names)}")
            for name in names:
                run.start_instance(name, w, 0, wave_s)
        run.run_wave(wave_s)

    say("merging new inputs into corpus/<fuzzer>/")
    for name in fuzzers:
        run.merge_corpus(name)
        run.totals[name].after = count_files(f"corpus/{name}")
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

    run.report_crashes(marker)

    print(f"\n{'fuzzer':<28} {'executions':>12} {'exec/s':>8} {'corpus':>16} {'ft':>8} "
          f"{'crashes':>7}")
    errors = 0
    for name in fuzzers:
        t = run.totals[name]
        rate = t.execs // t.secs if t.secs else 0
        print(f"{name:<28} {t.execs:12d} {rate:8d} {f'{t.before} -> {t.after}':>16} {t.ft:8d} "
              f"{t.crashes:7d}")
        errors += t.errors
    print(flush=True)
    say(f"fuzzed for {mmss(run.now())} (budget {mmss(total_s)}); exec/s is per core")
    if run.crashes:
        die(f"{run.crashes} crash(es) found: see above")
    if errors:
        die(f"{errors} fuzzer run(s) failed without a crash: see the logs in {FUZZ_DIR}/logs/")
    if run.interrupted:
        warn("interrupted")
        return 130
    say("no crash; new corpus files are in corpus/<fuzzer>/ (git status shows them)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:  # Ctrl-C before the waves (during the build)
        warn("interrupted")
        sys.exit(130)
