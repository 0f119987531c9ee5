"""`readiness sign` / `verify` / `keygen`: a real audit of a real git repository, keys made here, tampering.

Private keys are generated in tmp_path at test time and never leave it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import stat

import pytest
from conftest import git, run_cli
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from readiness import dsse
from readiness.cli import main

TRIALS = 200


@pytest.fixture
def signed(fixture_repo, tmp_path):
    """A committed fixture repository, its JSON evidence, a key pair and the signed bundle."""
    repo = fixture_repo("compose-hardened")
    report = tmp_path / "evidence.json"
    done = run_cli("audit", repo, "--fail-on", "none", "--format", f"json={report}")
    assert done.returncode == 0, done.stderr
    key = tmp_path / "keys" / "signer.pem"
    key.parent.mkdir()
    assert main(["keygen", "--out", str(key)]) == 0
    bundle = tmp_path / "evidence.dsse.json"
    assert main(["sign", str(report), "--key", str(key)]) == 0
    return repo, report, key, key.with_name("signer.pem.pub"), bundle


def _verify(bundle, pub, repo, *extra) -> int:
    return main(["verify", str(bundle), "--key", str(pub), "--repo", str(repo), *map(str, extra)])


def test_pae_is_the_dsse_encoding():
    # the worked example of the DSSE protocol: type and body each preceded by their byte length
    assert dsse.pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )
    assert dsse.pae("t", "é".encode()) == b"DSSEv1 1 t 2 \xc3\xa9"


def test_keygen_writes_an_owner_only_ed25519_key_and_never_overwrites(tmp_path):
    key = tmp_path / "k.pem"
    assert main(["keygen", "--out", str(key)]) == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    loaded = serialization.load_pem_private_key(key.read_bytes(), password=None)
    assert isinstance(loaded, Ed25519PrivateKey)
    before = key.read_bytes()
    assert main(["keygen", "--out", str(key)]) == 2
    assert key.read_bytes() == before


def test_bundle_is_a_dsse_envelope_of_an_in_toto_statement(signed):
    repo, report, key, pub, bundle = signed
    env = json.loads(bundle.read_text())
    assert env["payloadType"] == "application/vnd.in-toto+json"
    payload = base64.b64decode(env["payload"], validate=True)
    stmt = json.loads(payload)
    assert stmt["_type"] == "https://in-toto.io/Statement/v1"
    digests = {s["name"]: s["digest"] for s in stmt["subject"]}
    assert digests["evidence.json"] == {"sha256": hashlib.sha256(report.read_bytes()).hexdigest()}
    assert digests["repository"] == {"gitCommit": git(repo, "rev-parse", "HEAD").strip()}
    assert stmt["predicateType"].startswith("https://readiness.")
    evidence = json.loads(report.read_text())
    read = [{"path": a["path"], "sha256": a["sha256"]} for a in evidence["artifacts"] if "sha256" in a]
    assert read and stmt["predicate"]["artifacts"] == read
    for a in read:  # the digests the audit recorded are those of the files
        assert hashlib.sha256((repo / a["path"]).read_bytes()).hexdigest() == a["sha256"]
    # the signature checks out with the public key alone, over the spec's PAE built here independently
    public = serialization.load_pem_public_key(pub.read_bytes())
    [sig] = env["signatures"]
    pae = b"DSSEv1 %d %s %d %s" % (len(env["payloadType"]), env["payloadType"].encode(), len(payload), payload)
    public.verify(base64.b64decode(sig["sig"]), pae)  # raises when it does not verify
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert sig["keyid"] == hashlib.sha256(der).hexdigest()


def test_verify_passes_on_the_untouched_repository(signed):
    repo, report, key, pub, bundle = signed
    done = run_cli("verify", bundle, "--key", pub, "--repo", repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verified" in done.stdout and "MISMATCH" not in done.stdout


def test_wrong_key_is_rejected(signed, tmp_path):
    repo, report, key, pub, bundle = signed
    other = tmp_path / "other.pem"
    assert main(["keygen", "--out", str(other)]) == 0
    done = run_cli("verify", bundle, "--key", f"{other}.pub", "--repo", repo)
    assert done.returncode == 1 and "MISMATCH" in done.stdout


def test_changed_missing_file_and_other_commit_are_each_reported(signed):
    repo, report, key, pub, bundle = signed
    paths = [a["path"] for a in json.loads(report.read_text())["artifacts"] if "sha256" in a]
    (repo / paths[0]).write_text((repo / paths[0]).read_text() + "\n# changed after the audit\n")
    (repo / paths[1]).unlink()
    done = run_cli("verify", bundle, "--key", pub, "--repo", repo)
    assert done.returncode == 1
    assert f"changed: {paths[0]}" in done.stdout and f"missing: {paths[1]}" in done.stdout
    git(repo, "commit", "-qam", "after the audit")
    done = run_cli("verify", bundle, "--key", pub, "--repo", repo)
    assert done.returncode == 1 and "the evidence is of commit" in done.stdout


def test_unusable_inputs_exit_2(signed, tmp_path):
    repo, report, key, pub, bundle = signed
    assert _verify(report, pub, repo) == 2  # a report is not a bundle
    assert _verify(bundle, report, repo) == 2  # a report is not a key
    moved = tmp_path / "elsewhere.dsse.json"
    moved.write_bytes(bundle.read_bytes())
    (tmp_path / "sub").mkdir()
    moved = moved.rename(tmp_path / "sub" / moved.name)
    assert _verify(moved, pub, repo) == 2  # no report beside it
    assert _verify(moved, pub, repo, "--report", report) == 0


def _flip(data: bytes, rng: random.Random) -> bytes:
    i = rng.randrange(len(data))
    out = bytearray(data)
    out[i] ^= rng.randrange(1, 256)
    return bytes(out)


@pytest.mark.parametrize("target", ["bundle", "report", "artifact"])
def test_every_flipped_byte_is_detected(signed, target):
    repo, report, key, pub, bundle = signed
    artifact = repo / next(a["path"] for a in json.loads(report.read_text())["artifacts"] if "sha256" in a)
    path = {"bundle": bundle, "report": report, "artifact": artifact}[target]
    original = path.read_bytes()
    rng = random.Random(f"tamper-{target}")
    codes = []
    for _ in range(TRIALS):
        path.write_bytes(_flip(original, rng))
        codes.append(_verify(bundle, pub, repo))
    path.write_bytes(original)
    assert _verify(bundle, pub, repo) == 0
    assert len(codes) == TRIALS and 0 not in codes and set(codes) <= {1, 2}, sorted(set(codes))


def test_every_file_the_audit_read_is_in_the_report_with_its_digest(fixture_repo):
    from readiness.config import load
    from readiness.runner import audit

    repo = fixture_repo("drift-claims")  # compose files, a Dockerfile, Markdown the drift step reads
    report = audit(repo, load(repo))
    gate = report.gate(None, False)
    listed = {a["path"]: a.get("sha256") for a in report.to_json(gate)["artifacts"]}
    assert report.digests and {p: listed.get(p) for p in report.digests} == report.digests
    assert "docs/checklist.md" in report.digests  # what drift read is bound by a signature too


def test_an_artifact_replaced_by_a_symlink_out_of_the_repository_is_a_mismatch(signed, tmp_path):
    repo, report, key, pub, bundle = signed
    path = next(a["path"] for a in json.loads(report.read_text())["artifacts"] if "sha256" in a)
    outside = tmp_path / "outside-copy"
    outside.write_bytes((repo / path).read_bytes())  # the same bytes, but not the repository's file
    (repo / path).unlink()
    (repo / path).symlink_to(outside)
    done = run_cli("verify", bundle, "--key", pub, "--repo", repo)
    assert done.returncode == 1 and f"changed: {path} now leads outside the repository" in done.stdout
