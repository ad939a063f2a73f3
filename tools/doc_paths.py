#!/usr/bin/env python3
"""tools/doc_paths.py: every path the docs and the file-header comments name exists.

usage: tools/doc_paths.py [--self-test]   (the ctest `doc_paths`, label unit)

Checked, in the files git tracks:
  - the Markdown docs (*.md): each path in backticks or in a link target that
    looks like one of the repository's (it starts with a top-level folder of the
    repository, or has a source extension and a slash);
  - the opening comment of every source, build, dictionary and options file (its
    first comment block, up to 15 lines): each such path in it.
A path counts if it exists relative to the repository's root or to the file's
own folder; `{a,b}` alternatives are expanded, and a path with a placeholder
(`<name>`, `*`, `...`) or under a build tree (`build/`) is skipped. Paths of the
kernel's tree (mm/, include/, lib/, arch/, drivers/, tools/memory-model/,
Documentation/) name the kernel's files, not the repository's, and are skipped.
Prints one line per dangling path, "FILE:LINE: PATH", and exits 1 if any.
--self-test: the checker on a made-up tree, where it must find exactly the
dangling paths planted there (so that a checker that finds nothing fails).
"""
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE_EXT = (".h", ".cc", ".c", ".py", ".sh", ".cmake", ".dict", ".options", ".txt",
              ".yml", ".yaml", ".in", ".cjs", ".json")
KERNEL = ("mm/", "include/", "lib/", "arch/", "drivers/", "tools/memory-model/", "linux/",
          "tools/testing/", "Documentation/", "kernel/kcsan", "virt/", "security/")
PATH = re.compile(r"(?<![\w./-])((?:\.\./)*[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.{},-]+)+/?)")
BACKTICK = re.compile(r"`([^`\s]+)`")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def tracked(root):
    out = subprocess.run(["git", "-C", root, "ls-files"], capture_output=True, text=True)
    return [f for f in out.stdout.splitlines() if os.path.isfile(os.path.join(root, f))]


def top_level(root, files):
    return {f.split("/", 1)[0] for f in files if "/" in f}


def expand(path):
    m = re.search(r"\{([^{}]*)\}", path)
    if not m:
        return [path]
    return [q for alt in m.group(1).split(",")
            for q in expand(path[:m.start()] + alt + path[m.end():])]


def looks_like_ours(path, tops):
    if any(c in path for c in "<>*$") or "..." in path or path.startswith(("build/", "/", "kernel-src/")):
        return False
    # A placeholder component: FUZZER, F, NAME (capitals), or a prefix (mut_).
    if any(part.isupper() or part.endswith("_") for part in path.strip("/").split("/")):
        return False
    p = re.sub(r"^(\.\./)+", "", path)
    if p.startswith(KERNEL) or re.match(r"https?:", path):
        return False
    head = p.split("/", 1)[0]
    if head in tops:
        return True
    return bool(re.search(r"\.(h|cc|c|py|sh|md|cmake|dict|options|txt|yml|json)$", p)) and "/" in p


def exists(root, doc, path):
    # "x.h/.cc" names a header and its source: the header stands for both. A
    # name without an extension may name a module ("core/notifier": its .h).
    path = re.sub(r"\.h/\.cc$", ".h", path)
    base = os.path.dirname(os.path.join(root, doc))
    if not os.path.splitext(path)[1] and not path.endswith("/"):
        path = "{" + path + "," + path + ".h," + path + ".cc," + path + ".py," + path + ".sh}"
        return any(os.path.exists(os.path.join(root, q)) or os.path.exists(os.path.join(base, q))
                   for q in expand(path))
    return all(os.path.exists(os.path.join(root, q)) or os.path.exists(os.path.join(base, q))
               for q in expand(path.rstrip("/")))


def opening_comment(lines):
    """(line number, text) of the first comment block of a source file."""
    out, started = [], False
    for i, line in enumerate(lines[:40], 1):
        s = line.strip()
        if s.startswith(("#!", "<!DOCTYPE", "<html")) and not started:
            continue
        if s.startswith(("//", "#", "<!--", "/*", "*", "--")) and not s.startswith(
                ("#include", "#ifndef", "#define", "#if", "#pragma")):
            out.append((i, s))
            started = True
            if len(out) >= 15:
                break
        elif started or s:
            break
    return out


def check(root):
    files = tracked(root)
    tops = top_level(root, files)
    bad = []
    for f in files:
        if f.startswith(("corpus/", "build/")):
            continue
        try:
            with open(os.path.join(root, f), errors="replace") as fh:
                lines = fh.read().splitlines()
        except OSError:
            continue
        if f.endswith(".md"):
            in_code = False
            for i, line in enumerate(lines, 1):
                if line.lstrip().startswith("```"):
                    in_code = not in_code
                    continue
                if in_code:
                    continue
                cands = BACKTICK.findall(line) + LINK.findall(line)
                for c in cands:
                    for m in PATH.finditer(c):
                        p = m.group(1).rstrip(".,:;")
                        if m.start() == 0 and looks_like_ours(p, tops) and not exists(root, f, p):
                            bad.append(f"{f}:{i}: {p}")
        elif f.endswith(SOURCE_EXT):
            for i, text in opening_comment(lines):
                for m in PATH.finditer(text):
                    p = m.group(1).rstrip(".,:;)")
                    if looks_like_ours(p, tops) and not exists(root, f, p):
                        bad.append(f"{f}:{i}: {p}")
    return sorted(set(bad))


def self_test():
    with tempfile.TemporaryDirectory() as d:
        def w(path, text):
            os.makedirs(os.path.dirname(os.path.join(d, path)) or d, exist_ok=True)
            with open(os.path.join(d, path), "w") as fh:
                fh.write(text)
        w("core/a.h", "// core/a.h: see core/b.h and core/gone.h\nint x;\n")
        w("core/b.h", "// core/b.h: fine, and mm/mmu_notifier.c is the kernel's\n")
        w("README.md", "`core/a.h`, `core/{a,b}.h`, [x](core/missing.md), `build/x/y.h`\n"
                       "```\ncore/in_code_block.h\n```\n`core/<name>.h`\n")
        w("docs/d.md", "[up](../core/a.h) and `../core/nope.cc`\n")
        subprocess.run(["git", "init", "-q", d], check=True)
        subprocess.run(["git", "-C", d, "add", "-A"], check=True)
        got = check(d)
    want = ["README.md:1: core/missing.md", "core/a.h:1: core/gone.h",
            "docs/d.md:1: ../core/nope.cc"]
    if got != want:
        print(f"doc_paths self-test: found {got}, planted {want}")
        return 1
    print(f"doc_paths self-test: the {len(want)} planted dangling paths, and nothing else")
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    if sys.argv[1:]:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    bad = check(ROOT)
    for b in bad:
        print(b)
    print(f"doc_paths: {len(bad)} dangling path(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
