"""Write docs/checks/<check-id>.md for every check of every installed probe, and remove pages of checks that left.

python scripts/gen_check_docs.py           # (re)write the pages
python scripts/gen_check_docs.py --check   # exit 1 and name the pages that are missing, stale or orphaned
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from readiness.check_docs import PAGES_DIR, page_path, render
from readiness.policy import builtin_pack_names, load_packs
from readiness.probe import load_probes

REPO = Path(__file__).resolve().parent.parent


def checkov_mapping() -> dict[str, tuple[str, ...]]:
    """Our check -> Checkov checks, from the Terraform benchmark's mapping (absent outside a checkout)."""
    path = REPO / "benchmarks" / "terraform.py"
    if not path.is_file():
        return {}
    spec = importlib.util.spec_from_file_location("_bench_terraform", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return dict(module.MAPPING)


def expected_pages() -> dict[Path, str]:
    packs = load_packs(builtin_pack_names())
    mapping = checkov_mapping()
    return {REPO / page_path(c.id): render(p, c, packs, mapping) for p in load_probes() for c in p.checks}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify; change nothing")
    args = parser.parse_args(argv)
    pages = expected_pages()
    folder = REPO / PAGES_DIR
    present = set(folder.glob("*.md")) - {folder / "README.md"}
    stale = sorted(p for p, text in pages.items() if not p.is_file() or p.read_text(encoding="utf-8") != text)
    orphans = sorted(present - set(pages))
    if args.check:
        for p in stale:
            print(f"{p.relative_to(REPO)}: missing or out of date", file=sys.stderr)
        for p in orphans:
            print(f"{p.relative_to(REPO)}: no installed probe has this check", file=sys.stderr)
        return 1 if stale or orphans else 0
    folder.mkdir(parents=True, exist_ok=True)
    for p in stale:
        p.write_text(pages[p], encoding="utf-8")
    for p in orphans:
        p.unlink()
    print(f"{len(pages)} pages: {len(stale)} written, {len(orphans)} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
