"""Discovery: one walk, git-aware, bounded, never leaving the root."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from conftest import git

from readiness.config import Config
from readiness.discovery import discover
from readiness.model import Artifact, VcsState
from readiness.probe import ArtifactUnreadable, Files


def by_path(found) -> dict[str, Artifact]:
    return {a.path: a for a in found.artifacts}


def write(root: Path, rel: str, text: str = "x\n", mode: int | None = None) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    if mode is not None:
        p.chmod(mode)
    return p


def test_git_states_tracked_untracked_ignored(tmp_path):
    write(tmp_path, ".gitignore", ".env\nbuild/\nnode_modules/\n")
    write(tmp_path, "app.yml")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "init")
    write(tmp_path, "new.yml")
    write(tmp_path, ".env", mode=0o600)
    write(tmp_path, "build/secret.key")
    write(tmp_path, "node_modules/pkg/index.js")

    found = discover(tmp_path, Config())
    arts = by_path(found)
    assert arts["app.yml"].vcs is VcsState.TRACKED
    assert arts["new.yml"].vcs is VcsState.UNTRACKED
    assert arts[".env"].vcs is VcsState.IGNORED
    assert arts[".env"].mode == 0o600
    assert arts["build/secret.key"].vcs is VcsState.IGNORED  # inside an ignored directory
    assert not any(p.startswith("node_modules/") for p in arts)  # dependency folders are never walked
    assert found.git and found.git.commit and found.git.dirty


def test_plain_directory_honours_nested_gitignore(tmp_path):
    write(tmp_path, ".gitignore", "*.log\n")
    write(tmp_path, "sub/.gitignore", "local.yml\n/only-here.txt\n!keep.log\n")
    for rel in (
        "a.log",
        "sub/b.log",
        "sub/keep.log",
        "sub/local.yml",
        "sub/deep/local.yml",
        "sub/only-here.txt",
        "sub/deep/only-here.txt",
        "main.yml",
    ):
        write(tmp_path, rel)
    arts = by_path(discover(tmp_path, Config()))
    ignored = {p for p, a in arts.items() if a.vcs is VcsState.IGNORED}
    assert ignored == {"a.log", "sub/b.log", "sub/local.yml", "sub/deep/local.yml", "sub/only-here.txt"}
    assert arts["sub/keep.log"].vcs is VcsState.NO_VCS
    assert arts["sub/deep/only-here.txt"].vcs is VcsState.NO_VCS


def test_excludes_size_cap_symlinks_and_special_files(tmp_path):
    outside = tmp_path / "outside"
    root = tmp_path / "root"
    write(outside, "secret.txt")
    write(root, "vendor/lib.yml")
    write(root, "big.json", "x" * 5000)
    write(root, "ok.yml")
    (root / "escape.yml").symlink_to(outside / "secret.txt")
    (root / "inside.yml").symlink_to(root / "ok.yml")
    (root / "dangling.yml").symlink_to(root / "missing.yml")
    (root / "dirlink").symlink_to(root / "vendor")
    os.mkfifo(root / "pipe")

    found = discover(root, Config(exclude=("vendor/",), max_file_size=1000))
    arts = by_path(found)
    assert "vendor/lib.yml" not in arts and found.excluded == 1
    assert arts["big.json"].skipped.startswith("too large (5000 bytes")
    assert "leaves the audited root" in arts["escape.yml"].skipped
    assert arts["inside.yml"].skipped is None
    assert arts["dangling.yml"].skipped == "broken symlink"
    assert "symlink to a directory" in arts["dirlink"].skipped
    assert arts["pipe"].skipped == "not a regular file"
    assert arts["ok.yml"].skipped is None


def test_production_scope_defaults_and_config(tmp_path):
    for rel in (
        "docker-compose.yml",
        "docker-compose.dev.yml",
        "tests/compose.yml",
        "examples/k8s.yaml",
        ".env.example",
        "k8s/deploy.yaml",
    ):
        write(tmp_path, rel)
    arts = by_path(discover(tmp_path, Config()))
    assert {p for p, a in arts.items() if a.production} == {"docker-compose.yml", "k8s/deploy.yaml"}
    arts = by_path(discover(tmp_path, Config(production=("k8s/",))))
    assert {p for p, a in arts.items() if a.production} == {"k8s/deploy.yaml"}


def test_files_reads_hashes_and_refuses_binary_or_vanished(tmp_path):
    write(tmp_path, "a.yml", "key: value\n")
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01binary")
    write(tmp_path, "gone.yml")
    found = discover(tmp_path, Config())
    arts = by_path(found)
    files = Files(found.root)
    assert files.read_text(arts["a.yml"]) == "key: value\n"
    assert files.digests == {"a.yml": hashlib.sha256(b"key: value\n").hexdigest()}
    with pytest.raises(ArtifactUnreadable, match="binary"):
        files.read_text(arts["blob.bin"])
    (tmp_path / "gone.yml").unlink()
    with pytest.raises(ArtifactUnreadable, match="cannot read"):
        files.read_text(arts["gone.yml"])
