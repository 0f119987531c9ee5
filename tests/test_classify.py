"""One-pass file classification claims exactly what per-probe glob matching claimed.

The reference below is the algorithm the runner used before ``classify``: each
probe's claims, one ``GitIgnoreSpec`` each, matched against every file, a sniff
reading the file's head per claim.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pathspec
import pytest
from conftest import REPO

from readiness.classify import Classification
from readiness.config import Config
from readiness.discovery import discover
from readiness.model import Artifact, VcsState
from readiness.probe import Claim, Files, Probe, load_probes

sys.path.append(str(REPO / "benchmarks"))  # after the standard library: benchmarks/secrets.py must not shadow it
from monorepo_tree import generate  # noqa: E402

FIXTURES = sorted(d.name for d in (REPO / "fixtures").iterdir() if d.is_dir())


def _reference_matches(probe: type[Probe], artifacts: list[Artifact]):
    for claim in probe.claims:
        spec = pathspec.GitIgnoreSpec.from_lines(claim.globs)
        for art in artifacts:
            if art.vcs is VcsState.IGNORED and not claim.include_ignored:
                continue
            if spec.match_file(art.path):
                yield art, claim


def reference_claimed(probe: type[Probe], artifacts: list[Artifact], files: Files) -> list[Artifact]:
    unique: dict[str, Artifact] = {}
    for art, claim in _reference_matches(probe, artifacts):
        if claim.sniff is None or (art.skipped is None and claim.sniff.search(files.head(art))):
            unique[art.path] = art
    return [unique[p] for p in sorted(unique)]


def reference_unreadable(probe: type[Probe], artifacts: list[Artifact]) -> list[tuple[Artifact, Claim]]:
    seen: dict[str, tuple[Artifact, Claim]] = {}
    for art, claim in _reference_matches(probe, [a for a in artifacts if a.skipped]):
        seen.setdefault(art.path, (art, claim))
    return [seen[p] for p in sorted(seen)]


class TrickyProbe(Probe):
    """Glob shapes the built-in probes do not use (yet): anchors, classes, escapes, directories, negations."""

    name = "tricky"
    version = "0"
    claims = (
        Claim(("/top.yml", "docs/", "[ab]*.txt", "\\#literal", "**/deep/**", "*", "!*.md", "!**/keep/**")),
        Claim(("sub/*/x.conf", "a?c.ini", "weird name.txt", "**/*.yaml/**"), include_ignored=True),
        Claim(("*.yaml", "*.yml"), sniff=re.compile(rb"kind:\s*Tricky"), include_ignored=True),
        Claim(("*.lock",), checks=("tricky.check",)),
    )


def assert_same_claims(root: Path, config: Config | None = None) -> int:
    """Both algorithms over ``root``; returns how many (probe, file) claims they agreed on."""
    found = discover(root, config or Config())
    probes = [*load_probes(), TrickyProbe]
    classified = Classification(probes, found.artifacts, Files(found.root))
    agreed = 0
    for cls in probes:
        expected = reference_claimed(cls, found.artifacts, Files(found.root))
        assert [a.path for a in classified.claimed(cls)] == [a.path for a in expected], cls.name
        assert classified.unreadable_claims(cls) == reference_unreadable(cls, found.artifacts), cls.name
        assert Probe.claimed(cls(), found.artifacts, Files(found.root)) == expected, cls.name
        agreed += len(expected)
    return agreed


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_claims_equal_per_probe_matching(name, fixture_repo):
    assert assert_same_claims(fixture_repo(name)) > 0


def test_generated_monorepo_claims_equal_per_probe_matching(tmp_path):
    root = tmp_path / "mono"
    written = generate(root, scale=0.15)
    edge = {
        "top.yml": "a: 1\n",
        "nested/top.yml": "a: 1\n",
        "docs/guide.txt": "x\n",
        "b-notes.txt": "x\n",
        "#literal": "x\n",
        "x/deep/y/z.md": "x\n",
        "x/keep/y.txt": "x\n",
        "sub/one/x.conf": "x\n",
        "sub/one/two/x.conf": "x\n",
        "abc.ini": "x\n",
        "weird name.txt": "x\n",
        "dir.yaml/inner.txt": "x\n",
        "k8s/thing.yaml": "kind: Tricky\n",
        "deploy/compose.yml/notes.md": "x\n",
        "Dockerfile.dockerignore": "x\n",
        ".env.example": "A=1\n",
        "big.lock": "x" * 5000,
        "big.yaml": "kind: Tricky\n" + "x" * 5000,
        ".gitignore": "*.env\nignored/\n",
        "prod.env": "A=1\n",
        "ignored/thing.yaml": "kind: Tricky\n",
        "ignored/docker-compose.yml": "services: {}\n",
    }
    for rel, text in edge.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "gone.yaml").symlink_to(root / "missing-target.yaml")
    (root / "gone.lock").symlink_to(root / "missing-target.lock")
    subprocess.run(["git", "-C", str(root), "add", "gone.yaml", "top.yml", "docs"], check=True)
    agreed = assert_same_claims(root, Config(max_file_size=4096))
    assert agreed > written  # most files are claimed by one probe or more


def test_unreadable_claims_name_the_first_claim_that_matched(tmp_path):
    (tmp_path / "a.lock").symlink_to(tmp_path / "nowhere")
    found = discover(tmp_path, Config())
    [(art, claim)] = Classification([TrickyProbe], found.artifacts, Files(tmp_path)).unreadable_claims(TrickyProbe)
    assert art.path == "a.lock" and art.skipped == "broken symlink"
    assert claim is TrickyProbe.claims[0]  # `*` comes before `*.lock`
