"""Files keeps only recent reads in memory, and a file read twice must not have changed in between."""

from __future__ import annotations

import pytest

from readiness.model import Artifact, VcsState
from readiness.probe import ArtifactUnreadable, Files


def artifact(path: str) -> Artifact:
    return Artifact(path=path, size=0, mode=0o644, vcs=VcsState.TRACKED, production=True)


def test_reads_beyond_the_bound_are_dropped_and_read_again(tmp_path):
    for n in range(5):
        (tmp_path / f"f{n}.txt").write_text(f"file {n}\n" * 100)
    files = Files(tmp_path, keep_bytes=2000)
    texts = [files.read_text(artifact(f"f{n}.txt")) for n in range(5)]
    assert sum(len(b) for b in files._bytes.values()) <= 2000 and "f0.txt" not in files._bytes
    assert files.read_text(artifact("f0.txt")) == texts[0]  # read from disk again, same bytes
    assert sorted(files.digests) == [f"f{n}.txt" for n in range(5)]


def test_a_file_changed_between_two_reads_is_unreadable(tmp_path):
    (tmp_path / "a.txt").write_text("first\n" * 500)
    (tmp_path / "b.txt").write_text("other\n" * 500)
    files = Files(tmp_path, keep_bytes=3500)
    first = files.read_bytes(artifact("a.txt"))
    files.read_bytes(artifact("b.txt"))  # pushes a.txt out
    (tmp_path / "a.txt").write_text("second\n" * 500)
    with pytest.raises(ArtifactUnreadable, match="changed while the audit was reading it"):
        files.read_bytes(artifact("a.txt"))
    assert first.startswith(b"first")


def test_a_file_kept_in_memory_is_not_read_again(tmp_path):
    (tmp_path / "a.txt").write_text("kept\n")
    files = Files(tmp_path)
    data = files.read_bytes(artifact("a.txt"))
    (tmp_path / "a.txt").unlink()
    assert files.read_bytes(artifact("a.txt")) is data
