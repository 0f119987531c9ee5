"""Each shortcut taken for speed gives what the slow path gave, on the project's fixtures and a generated tree."""

from __future__ import annotations

import re
import sys

from conftest import REPO

sys.path.append(str(REPO / "benchmarks"))  # after the standard library: benchmarks/secrets.py must not shadow it
from monorepo_tree import generate  # noqa: E402


def test_anchored_playbook_sniff_claims_what_the_unanchored_one_did():
    from readiness.probes.ansible import PLAYBOOK_SNIFF

    unanchored = re.compile(PLAYBOOK_SNIFF.pattern.replace(rb"\A", b"", 1), PLAYBOOK_SNIFF.flags)
    heads = [p.read_bytes()[:8192] for p in (REPO / "fixtures").rglob("*.y*ml")]
    heads += [
        b"- hosts: all\n  tasks: []\n",
        b"# comment\n- name: x\n  hosts: web\n  roles: [a]\n",
        b"  tasks:\n- hosts: all\n",
        b"- hosts: all\n",
        b"x: 1\n- import_playbook: site.yml\n",
        b"services:\n  web: {}\n",
    ]
    agreed = [bool(PLAYBOOK_SNIFF.search(h)) == bool(unanchored.search(h)) for h in heads]
    assert all(agreed) and len(heads) > 50
    assert sum(bool(PLAYBOOK_SNIFF.search(h)) for h in heads) >= 4


def test_block_only_markdown_gives_the_headings_of_a_full_parse(tmp_path):
    from markdown_it import MarkdownIt
    from readiness.probes.docs import _heading_parser

    generate(tmp_path / "tree", scale=0.1, git=False)
    texts = [p.read_text() for p in [*(REPO / "fixtures").rglob("*.md"), *(tmp_path / "tree").rglob("*.md")]]
    texts.append("Title\n=====\n\n# [a *link*](x) `code`\n\n> ## quoted\n\n- ### in a list\n\n    # not a heading\n")
    full = MarkdownIt("commonmark")

    def headings(tokens):
        return [(t.tag, t.map, tokens[i + 1].content) for i, t in enumerate(tokens) if t.type == "heading_open"]

    compared = [(headings(full.parse(t)), headings(_heading_parser().parse(t))) for t in texts]
    assert all(a == b for a, b in compared)
    assert sum(len(a) for a, _ in compared) > 100
