"""The parse cache: a cached audit's evidence equals an uncached one; changed files miss; the cache stays bounded."""

from __future__ import annotations

import json
import os
import shutil

from readiness import cache, cli

TIMESTAMPS = ("started", "finished")


class _Hcl:
    """The Terraform parser's cache counters of the last audit."""

    def __getattr__(self, name: str) -> int:
        return getattr(cache.STATS["python-hcl2"], name)


HCL = _Hcl()


def evidence(repo, out, *args: str) -> dict:
    cache.STATS.clear()
    assert cli.main(["audit", str(repo), "--format", "json", "-o", str(out), "--fail-on", "none", *args]) == 0
    report = json.loads(out.read_text())
    return {k: v for k, v in report.items() if k not in TIMESTAMPS}


def two_module_repo(fixture_repo, tmp_path):
    repo, other = fixture_repo("terraform-insecure"), fixture_repo("terraform-multicloud")
    for name in ("azure.tf", "gcp.tf"):
        shutil.copy(other / name, repo / name)
    (repo / "broken.tf").write_text('resource "aws_s3_bucket" "x" {\n  bucket = \n')
    return repo


def test_cached_audit_evidence_equals_uncached(fixture_repo, tmp_path):
    repo = two_module_repo(fixture_repo, tmp_path)
    uncached = evidence(repo, tmp_path / "uncached.json", "--no-cache")
    assert HCL.writes == 0 and not cache.directory().exists()

    cold = evidence(repo, tmp_path / "cold.json")
    assert HCL.writes == 4 and HCL.hits == 0  # every .tf file, the broken one too
    warm = evidence(repo, tmp_path / "warm.json")
    assert HCL.hits == 4 and HCL.misses == 0 and HCL.writes == 0

    assert cold == uncached and warm == uncached
    terraform = [o for o in warm["observations"] if o["probe"] == "terraform"]
    assert any(o["status"] == "fail" for o in terraform)
    assert any(o["status"] == "error" and o["subject"].get("path") == "broken.tf" for o in terraform)


def test_a_changed_file_alone_is_parsed_again(fixture_repo, tmp_path):
    repo = two_module_repo(fixture_repo, tmp_path)
    evidence(repo, tmp_path / "first.json")
    main = repo / "main.tf"
    main.write_text(main.read_text() + '\nresource "aws_s3_bucket" "added" {\n  bucket = "added"\n}\n')
    changed = evidence(repo, tmp_path / "changed.json")
    assert (HCL.hits, HCL.misses, HCL.writes) == (3, 1, 1)
    assert changed == evidence(repo, tmp_path / "uncached.json", "--no-cache")
    assert any("added" in json.dumps(o["subject"]) for o in changed["observations"])


def test_an_unreadable_entry_is_a_miss_and_is_replaced(fixture_repo, tmp_path):
    repo = two_module_repo(fixture_repo, tmp_path)
    expected = evidence(repo, tmp_path / "first.json")
    entries = [p for p in (cache.directory() / "parse" / "python-hcl2").rglob("*") if p.is_file()]
    assert len(entries) == 4
    for p in entries:
        p.write_bytes(b"not a pickle")
    assert evidence(repo, tmp_path / "again.json") == expected
    assert HCL.misses == 4 and HCL.writes == 4


def test_prune_removes_the_least_recently_used_entries_first():
    for n in range(20):
        cache.put("test-parser", "1", f"text {n}".encode(), "x" * 1000)
    entries = sorted((cache.directory() / "parse").rglob("*"), key=lambda p: str(p))
    files = [p for p in entries if p.is_file()]
    for age, path in enumerate(files):  # give every entry a distinct last use, oldest first
        os.utime(path, (1_000_000 + age, 1_000_000 + age))
    newest = files[-1]
    cache.prune(max_bytes=5 * 1100)
    kept = [p for p in (cache.directory() / "parse").rglob("*") if p.is_file()]
    assert 0 < len(kept) <= 5 and newest in kept
    assert sum(p.stat().st_size for p in kept) <= 5 * 1100
    hit, value = cache.get("test-parser", "1", b"text 0")
    assert not hit and value is None  # the oldest went first


def test_environment_switch_turns_the_cache_off(monkeypatch):
    monkeypatch.setenv("READINESS_NO_CACHE", "1")
    cache.put("test-parser", "1", b"data", 1)
    assert cache.get("test-parser", "1", b"data") == (False, None)
    assert not cache.directory().exists()


def test_a_validated_pack_is_not_validated_again(tmp_path):
    from readiness import policy

    cache.STATS.clear()
    packs = policy.load_packs(policy.builtin_pack_names())
    assert cache.STATS["policy-schema"].writes == len(packs) > 0
    again = policy.load_packs(policy.builtin_pack_names())
    assert cache.STATS["policy-schema"].hits == len(packs) and again == packs


def test_an_invalid_pack_is_rejected_every_time(tmp_path):
    import pytest

    from readiness import policy

    cache.STATS.clear()
    bad = tmp_path / "bad.yaml"
    bad.write_text("pack: x\nversion: 1\n")
    for _ in range(2):
        with pytest.raises(policy.PolicyError):
            policy.load_pack(str(bad))
    assert cache.STATS["policy-schema"].writes == 0
