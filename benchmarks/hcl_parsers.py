"""Benchmark: python-hcl2 (what the Terraform probe parses with) against a tree-sitter HCL grammar.

    .venv/bin/python benchmarks/hcl_parsers.py [DIR ...]

Parses every ``.tf`` file under the project's fixtures and the given folders
(e.g. a TerraGoat checkout) with each parser, in its own process, 3 rounds,
and prints for each: the time of its first parse (loading the grammar), the
best round's seconds and MB/s over all files, and the files it could not
parse. python-hcl2 is timed twice: its raw parse (``hcl2.parses``) and the
probe's ``parse_hcl`` (parse plus the conversion into the probe's blocks).
tree-sitter runs from its own virtualenv under bench-out/ (``tree-sitter`` and
``tree-sitter-hcl`` from PyPI, installed on first use): it is not a project
dependency. Its parse yields a syntax tree only; a tree-sitter path would
still need a converter into the probe's model, which this does not time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench-out"
ROUNDS = 3


def tf_files(dirs: list[Path]) -> list[Path]:
    found = sorted((REPO / "fixtures").rglob("*.tf"))
    for d in dirs:
        found += sorted(p for p in d.rglob("*.tf") if ".terraform" not in p.parts)
    return found


def run_parser(kind: str, paths: list[str]) -> dict:
    """In a child process: time one parser over the files."""
    texts = [Path(p).read_text(encoding="utf-8", errors="replace") for p in paths]
    if kind == "tree-sitter":
        import tree_sitter_hcl
        from tree_sitter import Language, Parser

        start = time.perf_counter()
        parser = Parser(Language(tree_sitter_hcl.language()))
        parser.parse(b"")

        def parse(text: str) -> bool:
            return not parser.parse(text.encode()).root_node.has_error

    else:
        import hcl2
        from readiness.probes.terraform_resolve import ParseFailure, parse_hcl

        start = time.perf_counter()
        hcl2.parses("")

        def parse(text: str) -> bool:
            try:
                if kind == "hcl2":
                    hcl2.parses(text)
                else:
                    parse_hcl(text)
            except (ParseFailure, Exception):
                return False
            return True

    first = time.perf_counter() - start
    rounds, failed = [], []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        failed = [p for p, t in zip(paths, texts, strict=True) if not parse(t)]
        rounds.append(time.perf_counter() - start)
    return {"first": first, "best": min(rounds), "bytes": sum(len(t.encode()) for t in texts), "failed": failed}


def tree_sitter_python() -> Path:
    env = OUT / "tshcl-venv"
    python = env / "bin" / "python"
    if not python.exists():
        print(f"installing tree-sitter and tree-sitter-hcl into {env} (first run only)", file=sys.stderr)
        venv.create(env, with_pip=True)
        subprocess.run([env / "bin" / "pip", "install", "--quiet", "tree-sitter", "tree-sitter-hcl"], check=True)
    return python


def child(python: Path | str, kind: str, paths: list[Path]) -> dict:
    out = subprocess.run(
        [str(python), __file__, "--child", kind, *map(str, paths)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", type=Path)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    opts, rest = parser.parse_known_args()
    if opts.child:
        print(json.dumps(run_parser(opts.child, [str(d) for d in opts.dirs] + rest)))
        return 0
    paths = tf_files(opts.dirs)
    print(f"{len(paths)} .tf files ({', '.join(['fixtures', *map(str, opts.dirs)])})")
    results = {
        "python-hcl2 raw parse": child(sys.executable, "hcl2", paths),
        "python-hcl2 + probe model": child(sys.executable, "model", paths),
        "tree-sitter-hcl parse": child(tree_sitter_python(), "tree-sitter", paths),
    }
    base = results["python-hcl2 raw parse"]["best"]
    for name, r in results.items():
        mbs = r["bytes"] / r["best"] / 1e6
        print(
            f"{name:<26} first parse {r['first']:.3f} s, all files {r['best']:.3f} s ({mbs:.2f} MB/s, "
            f"{base / r['best']:.1f}x python-hcl2), could not parse {len(r['failed'])}"
        )
        for p in r["failed"][:5]:
            print(f"    {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
