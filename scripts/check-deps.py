#!/usr/bin/python3
"""Checks that scripts/setup.sh installs everything kiln's tests use.

A test that imports a Python module, runs a tool or loads a shared library
from a Debian package that scripts/setup.sh does not install passes on a
machine where someone installed that package by hand, and fails on a fresh
one (python3-onnx was missing that way). This script finds those uses on the
machine it runs on and maps each one to the Debian package that provides it
(`dpkg-query -S`); every such package must be in the closure of setup.sh's
list under Depends/Pre-Depends (`apt-cache depends --recurse`), or be part
of every Debian root (Essential or Priority required, as in debootstrap's
minbase), or be one of the packages CI needs to clone the repository at all
(git, ca-certificates).

What is scanned:
  - Python: every `import` in the repository's *.py files that tests run
    (tests/, scripts/, files a lit RUN line names; bench/ with --bench,
    examples/ with --examples, each against setup.sh's list with that flag) and
    in `python3 -c` code inside lit RUN lines; modules of the standard library and the repository's own
    modules are skipped; a module that does not import here is an error too.
  - tools: the first word of each command in lit RUN lines (after `not`,
    `env VAR=...`, pipes, `&&`, `;`), resolved on PATH plus LLVM 19's bin
    directory; the kiln tools of the build tree and shell builtins skipped.
  - libraries: `ldd` of every ELF executable and shared library in the build
    tree's bin/, lib/ and tests/unit/.

Usage: check-deps.py [--build DIR] [--without PKG ...] [--bench] [--examples]
  --without PKG  check as if PKG were not in setup.sh's list (the self-test
                 that shows the check can fail).
Exit status 0 when every use is covered, 1 otherwise (each gap listed with
the file that uses it, the package that provides it), 2 on usage errors.
"""

import argparse
import ast
import importlib.util
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LLVM_BIN = "/usr/lib/llvm-19/bin"
# What CI has before setup.sh runs: the clone needs git and certificates.
CLONE_PACKAGES = {"git", "ca-certificates"}
SHELL_BUILTINS = {
    "cd", "echo", "test", "[", "export", "exit", "true", "false", "set",
    "unset", "printf", "read", "eval", "exec", "wait", "kill", "trap",
    "shift", "source", ".", "ulimit", "umask", "type", "command", "for",
    "do", "done", "if", "then", "fi", "else", "while", "until", "case",
    "esac", "not", "env",
}


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def setup_packages(bench, examples):
    args = [os.path.join(ROOT, "scripts", "setup.sh"), "--list"]
    if bench:
        args.append("--bench")
    if examples:
        args.append("--examples")
    out = run(args)
    if out.returncode != 0:
        sys.exit(f"check-deps: scripts/setup.sh --list failed: {out.stderr}")
    return set(out.stdout.split())


def closure(packages):
    """Package names reachable from `packages` through Depends/Pre-Depends."""
    if not packages:
        return set()
    out = run(["apt-cache", "depends", "--recurse", "--no-recommends",
               "--no-suggests", "--no-conflicts", "--no-breaks",
               "--no-replaces", "--no-enhances"] + sorted(packages))
    names = set(packages)
    for line in out.stdout.splitlines():
        if line and not line.startswith(" "):
            names.add(line.strip().strip("<>").split(":")[0])
        else:
            m = re.match(r"\s*\|?(?:Pre)?Depends: <?([^>\s]+)>?", line)
            if m:
                names.add(m.group(1).split(":")[0])
    return names


def base_packages():
    """Installed packages every Debian root has (Essential or required)."""
    out = run(["dpkg-query", "-W", "-f", "${Package} ${Essential} ${Priority}\n"])
    base = set()
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and (parts[1] == "yes" or parts[2] == "required"):
            base.add(parts[0].split(":")[0])
    return base


_owner_cache = {}


def owning_package(path):
    """The Debian package that installed `path`, or None."""
    real = os.path.realpath(path)
    candidates = [real, path]
    for p in list(candidates):  # /lib is /usr/lib on merged-/usr roots
        if p.startswith("/usr/lib/") or p.startswith("/usr/bin/"):
            candidates.append(p[4:])
        elif p.startswith("/lib/") or p.startswith("/bin/"):
            candidates.append("/usr" + p)
    for p in candidates:
        if p in _owner_cache:
            return _owner_cache[p]
        out = run(["dpkg-query", "-S", p])
        for line in out.stdout.splitlines():
            if out.returncode == 0 and not line.startswith("diversion "):
                pkg = line.split(":")[0].split(",")[0].strip()
                _owner_cache[p] = pkg
                return pkg
    return None


def repo_files(suffix, folders):
    for folder in folders:
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, folder)):
            dirnames[:] = [d for d in dirnames if d not in ("build", ".git")]
            for name in filenames:
                if name.endswith(suffix):
                    yield os.path.join(dirpath, name)


def imports_of(source):
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    mods = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            mods.add(node.module.split(".")[0])
    return mods


def lit_run_lines():
    """(file, command text) of every RUN line, continuations joined."""
    for path in repo_files("", ["tests/lit"]):
        if not path.endswith((".mlir", ".test")):
            continue
        text = ""
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = re.search(r"RUN:(.*)$", line)
                if not m:
                    continue
                part = m.group(1).rstrip()
                if part.endswith("\\"):
                    text += part[:-1] + " "
                    continue
                yield path, text + part
                text = ""


def python_in_run_line(command):
    """The code strings given to python3 -c in a RUN line."""
    for m in re.finditer(r"(?:%refpython|python3)\s+-c\s+([\"'])(.*?)\1",
                         command):
        yield m.group(2).replace(";", "\n")


def tools_in_run_line(command):
    # Drop quoted strings (python code, messages) before splitting.
    command = re.sub(r"\"[^\"]*\"|'[^']*'", " ", command)
    for segment in re.split(r"\|\||&&|[|;()]", command):
        words = segment.split()
        while words and (words[0] in ("not", "env", "!", "--crash")
                         or re.match(r"^[A-Za-z_]+=", words[0])):
            words.pop(0)
        if words:
            yield words[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--without", action="append", default=[])
    parser.add_argument("--bench", action="store_true")
    parser.add_argument("--examples", action="store_true")
    args = parser.parse_args()

    if not os.path.isfile(os.path.join(args.build, "bin", "kilnc")):
        parser.error(f"{args.build} has no bin/kilnc: build first "
                     "(scripts/build.sh) or name the build tree with --build")
    all_listed = setup_packages(args.bench, args.examples)
    full_closure = closure(all_listed) if args.without else set()
    for pkg in args.without:
        if pkg not in full_closure:
            parser.error(f"--without {pkg}: setup.sh does not install it")
    listed = all_listed - set(args.without)
    # A package left out with --without can still be allowed when another
    # listed package depends on it: then it is installed after all.
    allowed = closure(listed) | CLONE_PACKAGES | base_packages()

    gaps = []  # (what, used by, package)

    def check(what, user, path):
        pkg = owning_package(path)
        if pkg is None:
            return  # not from a package (built here, /usr/local, pip)
        if pkg not in allowed:
            gaps.append((what, user, pkg))

    # Python modules.
    folders = (["tests", "scripts"] + (["bench"] if args.bench else []) +
               (["examples"] if args.examples else []))
    local = {os.path.splitext(os.path.basename(p))[0]
             for p in repo_files(".py", folders + ["bench", "examples"])}
    scripts = set(repo_files(".py", folders))
    for _, command in lit_run_lines():
        for m in re.finditer(r"%kiln_src/(\S+\.py)", command):
            scripts.add(os.path.join(ROOT, m.group(1)))
    uses = {}
    for path in sorted(scripts):
        with open(path, encoding="utf-8", errors="replace") as f:
            for mod in imports_of(f.read()):
                uses.setdefault(mod, os.path.relpath(path, ROOT))
    for path, command in lit_run_lines():
        for code in python_in_run_line(command):
            for mod in imports_of(code):
                uses.setdefault(mod, os.path.relpath(path, ROOT))
    for mod, user in sorted(uses.items()):
        if mod in sys.stdlib_module_names or mod in local or mod == "lit":
            continue
        spec = importlib.util.find_spec(mod)
        if spec is None or spec.origin is None:
            gaps.append((f"python module '{mod}'", user, "not installed"))
            continue
        check(f"python module '{mod}'", user, spec.origin)

    # Tools in lit RUN lines.
    # lit puts LLVM 19's tools before PATH (lit.cfg.py).
    path_env = LLVM_BIN + os.pathsep + os.environ.get("PATH", "")
    build_bin = os.path.realpath(args.build)
    substitutions = {"%refpython": "/usr/bin/python3", "%cc": "clang-19",
                     "%python": sys.executable}
    seen = set()
    for path, command in lit_run_lines():
        for word in tools_in_run_line(command):
            word = substitutions.get(word, word)
            if (word in SHELL_BUILTINS or word.startswith("%")
                    or not re.match(r"^[A-Za-z/][\w./+-]*$", word)
                    or word in seen):
                continue
            seen.add(word)
            found = shutil.which(word, path=path_env)
            if found is None or os.path.realpath(found).startswith(build_bin):
                continue
            check(f"tool '{word}'", os.path.relpath(path, ROOT), found)

    # Shared libraries of the built programs and tests.
    # (Not tests/lit: the programs lit tests link appear and vanish while
    # this runs; they link what kilnc and the runtime archives link.)
    elf_dirs = [os.path.join(args.build, d) for d in ("bin", "lib", "tests/unit")]
    libs = {}
    for d in elf_dirs:
        for dirpath, _, filenames in os.walk(d):
            for name in filenames:
                p = os.path.join(dirpath, name)
                if not os.access(p, os.X_OK) or not os.path.isfile(p):
                    continue
                try:
                    with open(p, "rb") as f:
                        if f.read(4) != b"\x7fELF":
                            continue
                except OSError:
                    continue
                out = run(["ldd", p])
                for line in out.stdout.splitlines():
                    m = re.match(r"\s*(\S+) => (/\S+)", line)
                    if m:
                        libs.setdefault(m.group(2), os.path.relpath(p, ROOT))
    for lib, user in sorted(libs.items()):
        check(f"library '{os.path.basename(lib)}'", user, lib)

    if gaps:
        print("check-deps: scripts/setup.sh does not install what these "
              "tests use:", file=sys.stderr)
        for what, user, pkg in gaps:
            print(f"  {what} (used by {user}) comes from package '{pkg}'",
                  file=sys.stderr)
        return 1
    print(f"check-deps: {len(uses)} python modules, {len(seen)} tools, "
          f"{len(libs)} libraries: all from packages setup.sh installs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
