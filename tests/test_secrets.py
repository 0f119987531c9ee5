"""The secrets probe on a generated corpus, real git history, and the CLI output."""

from __future__ import annotations

import json

import pytest
from conftest import git, run_cli
from readiness.probes.secret_rules import scan_text
from secret_corpus import LOOKALIKES, write_corpus

from readiness.config import Config
from readiness.model import Status
from readiness.runner import audit


def _obs(root, **settings):
    report = audit(root, Config(probes={"secrets": settings}))
    return [o for o in report.observations if o.probe == "secrets"]


def _repo(tmp_path):
    table = write_corpus(tmp_path)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "corpus")
    return table


def test_recall_and_no_false_positives(tmp_path):
    table = _repo(tmp_path)
    fails = [o for o in _obs(tmp_path) if o.check == "secrets.no_hardcoded" and o.status is Status.FAIL]
    found = {(o.subject.path, o.facts["rule"]) for o in fails}
    for rule, (rel, _, _) in table.items():
        assert (rel, rule) in found, rule
    assert not [o for o in fails if o.subject.path in LOOKALIKES]


def test_no_secret_in_any_output(tmp_path):
    table = _repo(tmp_path)
    text = run_cli("audit", tmp_path)
    js = run_cli("audit", tmp_path, "--format", "json")
    assert json.loads(js.stdout)["observations"]
    blob = text.stdout + text.stderr + js.stdout + js.stderr
    assert "secrets.no_hardcoded" in blob or "hardcoded" in blob
    for _, _, secret in table.values():
        assert secret not in blob


def test_waivers_show_up(tmp_path):
    (tmp_path / "a.env").write_text("API_TOKEN=Zq8vR2mK9xLp4TsW7yB3nC6d  # readiness:ignore rotated test token\n")
    obs = [o for o in _obs(tmp_path) if o.check == "secrets.no_hardcoded"]
    assert [o.facts["reason"] for o in obs if o.facts.get("waived")] == ["rotated test token"]
    assert not [o for o in obs if o.status is Status.FAIL]


def test_history_finds_removed_secret(tmp_path):
    (tmp_path / "c.env").write_text("x=1\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "one")
    (tmp_path / "c.env").write_text("GH=ghp_" + "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5\n")
    git(tmp_path, "commit", "-qam", "two")
    (tmp_path / "c.env").write_text("x=1\n")
    git(tmp_path, "commit", "-qam", "three")
    hist = [o for o in _obs(tmp_path, history=True) if o.check == "secrets.history_clean"]
    assert [(o.subject.path, o.status) for o in hist] == [("c.env", Status.FAIL)]
    off = [o for o in _obs(tmp_path) if o.check == "secrets.history_clean"]
    assert off[0].status is Status.UNKNOWN and "enable probes.secrets.history" in off[0].message


def test_manager_rotation_and_audit_evidence(tmp_path):
    (tmp_path / "main.tf").write_text(
        'resource "aws_secretsmanager_secret" "db" {}\nresource "aws_secretsmanager_secret_rotation" "db" {}\n'
    )
    by = {o.check: o.status for o in _obs(tmp_path) if o.subject.path == "main.tf" or o.subject.path is None}
    assert by["secrets.manager_configured"] is Status.PASS
    assert by["secrets.rotation_configured"] is Status.PASS
    assert by["secrets.access_audited"] is Status.UNKNOWN
    (tmp_path / "main.tf").write_text('resource "aws_s3_bucket" "b" {}\n')
    by = {o.check: o.status for o in _obs(tmp_path)}
    assert by["secrets.manager_configured"] is Status.FAIL
    assert by["secrets.rotation_configured"] is Status.FAIL


def test_severity_by_context_and_binary_skipped(tmp_path):
    (tmp_path / "tests").mkdir()
    token = "ghp_" + "Qw3rTy5uI7oP9aS1dF3gH5jK7lZ9xC1vB3nM"
    (tmp_path / "tests" / "ci.yml").write_text(f"t: {token}\n")
    (tmp_path / "prod.yml").write_text(f"t: {token}\n")
    (tmp_path / "blob.json").write_bytes(b"\0\1\2password=" + b"A" * 30)
    report = audit(tmp_path, Config(probes={"secrets": {"severity": {"example": "medium"}}}))
    sev = {
        o.subject.path: (o.facts["severity"], o.production)
        for o in report.observations
        if o.check == "secrets.no_hardcoded" and o.status is Status.FAIL
    }
    assert sev == {"tests/ci.yml": ("medium", False), "prod.yml": ("critical", True)}
    assert any(g.subject.path == "blob.json" and "binary" in g.reason for g in report.gaps)


def test_history_with_missing_blob_goes_commit_by_commit(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "a.env").write_text("GH=ghp_" + "Zx9cV8bN7mL6kJ5hG4fD3sA2qW1eR0tY9uI8\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "one")
    (tmp_path / "b.txt").write_text("lost blob\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "two")
    blob = git(tmp_path, "rev-parse", "HEAD:b.txt").strip()
    (tmp_path / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    hist = [o for o in _obs(tmp_path, history=True) if o.check == "secrets.history_clean"]
    statuses = {(o.subject.path, o.status) for o in hist}
    assert ("a.env", Status.FAIL) in statuses
    assert (None, Status.UNKNOWN) in statuses


def test_ignore_file_waives_by_fingerprint(tmp_path):
    from readiness.probes.secret_rules import fingerprint
    from readiness.probes.secrets import fingerprint_key

    token = "glpat-" + "Ab1Cd2Ef3Gh4Ij5Kl6Mn"
    (tmp_path / "ci.sh").write_text(f"export T={token}\n")
    key, _ = fingerprint_key(tmp_path)
    (tmp_path / "ign.yaml").write_text(f"- fingerprint: {fingerprint(token, key)}\n  reason: revoked 2026-11-01\n")
    obs = [o for o in _obs(tmp_path, ignore_file="ign.yaml") if o.subject.path == "ci.sh"]
    assert [(o.status, o.facts.get("reason")) for o in obs] == [(Status.NOT_APPLICABLE, "revoked 2026-11-01")]
    assert token not in json.dumps([o.facts for o in obs]) + "".join(o.message for o in obs)


def test_history_flag_turns_on_history_scanning(tmp_path):
    """`--history` on the command line is the same as `probes.secrets.history: true`."""
    import json
    import subprocess
    import sys

    from conftest import git

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("hello\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "init")

    def history_obs(*flags):
        done = subprocess.run(
            [sys.executable, "-m", "readiness", "audit", str(repo), "--format", "json", *flags],
            capture_output=True,
            text=True,
            timeout=120,
        )
        report = json.loads(done.stdout)
        return [o for o in report["observations"] if o["check"] == "secrets.history_clean"]

    assert all("history not scanned" in o["message"] for o in history_obs())
    scanned = history_obs("--history")
    assert scanned and not any("history not scanned" in o["message"] for o in scanned)


def _pem(body_seed: int) -> str:
    import random
    import string

    rng = random.Random(body_seed)
    body = "".join(rng.choice(string.ascii_letters + string.digits + "+/") for _ in range(256))
    lines = [body[i : i + 64] for i in range(0, 256, 64)]
    return "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END RSA PRIVATE KEY-----\n"


def test_private_keys_are_fingerprinted_by_their_body(tmp_path):
    from readiness.probes.secret_rules import scan_text

    one, two = _pem(1), _pem(2)
    fp_one = [f.fingerprint for f in scan_text(one)]
    fp_two = [f.fingerprint for f in scan_text(two)]
    assert len(fp_one) == len(fp_two) == 1 and fp_one != fp_two  # same BEGIN line, different keys
    moved = [f.fingerprint for f in scan_text("# deploy key\n\n" + one)]
    assert moved == fp_one  # the same key elsewhere is the same finding
    assert all(len(f.masked) <= 5 for f in scan_text(one))  # at most 4 characters and an ellipsis


def test_history_max_commits_caps_the_scan_and_says_what_was_left(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "old.env").write_text("GH=ghp_" + "Qw3rTy5uIo7pAs9dFg1hJk3lZx5cVb7nM9qW\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "old secret")
    (tmp_path / "old.env").unlink()
    for n in range(3):
        (tmp_path / f"n{n}.txt").write_text(f"{n}\n")
        git(tmp_path, "add", "-A")
        git(tmp_path, "commit", "-q", "-m", f"change {n}")
    capped = [o for o in _obs(tmp_path, history=True, history_max_commits=2) if o.check == "secrets.history_clean"]
    assert [o.status for o in capped] == [Status.UNKNOWN] and "2 older commit(s) not scanned" in capped[0].message
    full = [o for o in _obs(tmp_path, history=True) if o.check == "secrets.history_clean"]
    assert [(o.status, o.subject.path) for o in full] == [(Status.FAIL, "old.env")]


def test_a_key_in_history_is_one_finding_with_the_body_fingerprint(tmp_path):
    from readiness.probes.secret_rules import scan_text
    from readiness.probes.secrets import fingerprint_key

    key = _pem(3)
    git(tmp_path, "init", "-q")
    (tmp_path / "id_rsa.txt").write_text(key)
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "oops")
    hist = [o for o in _obs(tmp_path, history=True) if o.check == "secrets.history_clean"]
    repo_key, source = fingerprint_key(tmp_path)
    assert source == "first commit"
    assert [o.facts["fingerprint"] for o in hist] == [f.fingerprint for f in scan_text(key, key=repo_key)]


def test_every_rule_finds_its_format_across_many_random_values():
    """Recall per rule over 50 corpora (random values differ each time), and no look-alike flagged."""
    import random

    from readiness.probes.secret_rules import RULES, scan_text
    from secret_corpus import planted, provider_tokens

    missed: dict[str, int] = {}
    for seed in range(50):
        rng = random.Random(seed)
        for rule, (_path, text, _secret) in {**planted(rng), **provider_tokens(rng)}.items():
            if rule != "k8s-secret-data" and rule not in {f.rule for f in scan_text(text)}:
                missed[rule] = missed.get(rule, 0) + 1
    assert missed == {}
    covered = set(planted(random.Random(0))) | set(provider_tokens(random.Random(0)))
    assert covered == {r.id for r in RULES}, "every rule has a generator in the corpus"
    assert [(p, f.rule) for p, t in LOOKALIKES.items() for f in scan_text(t)] == []


def test_template_expressions_are_not_secrets():
    from readiness.probes.secret_rules import is_placeholder

    assert is_placeholder(".Env.JIGASI_SIP_PASSWORD", "org.jitsi.sip.PASSWORD={{ .Env.JIGASI_SIP_PASSWORD }}")
    assert is_placeholder("db_password", "password: <%= ENV['db_password'] %>")
    assert not is_placeholder("q8Zr2LmT4vWx9KpN", "password=q8Zr2LmT4vWx9KpN  # {{ not around the value }}")


@pytest.mark.parametrize(
    "line",
    [
        "NOT_SECRET_SUFFIX = re.compile(",
        "        secrets = secret_findings(analysis)",
        '    password = os.environ.get(spec.get("password_env") or "PGPASSWORD")',
        '        "PasswordAuthentication": password[0],',
        "ENV API_KEY=bench_not_a_real_key_{n} NODE_ENV=production",
        "password_encryption = scram-sha-256",
        'secret_files = "readiness.probes.secret_files:SecretFilesProbe"',
    ],
)
def test_code_and_references_beside_credential_names_are_not_secrets(line):
    # found by auditing this repository with itself: calls, subscripts, templates, entry points, algorithm names
    assert list(scan_text(line)) == []


def test_a_quoted_value_with_brackets_is_still_a_secret():
    (finding,) = scan_text('db_password = "Xk9(qL2w]Vz8pR4t"')
    assert finding.rule == "generic-assignment"


# ------------------------------------------------------------------ hostile histories and file names (issue 15)


def _history(root):
    return [o for o in _obs(root, history=True) if o.check == "secrets.history_clean"]


def _committed_repo(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "app.txt").write_text("nothing secret\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "one")
    return git(tmp_path, "rev-parse", "HEAD").strip()


def test_history_with_a_dangling_ref_is_unknown_with_the_reason_never_pass(tmp_path):
    _committed_repo(tmp_path)
    assert [o.status for o in _history(tmp_path)] == [Status.PASS]  # the same repository, intact
    (tmp_path / ".git/refs/heads/x").write_text("0123456789abcdef0123456789abcdef01234567\n")
    hist = _history(tmp_path)
    assert [o.status for o in hist] == [Status.UNKNOWN]
    assert "git cannot walk every ref" in hist[0].message and "refs/heads/x" in hist[0].message


def test_history_with_a_corrupt_commit_object_is_unknown_never_pass(tmp_path):
    head = _committed_repo(tmp_path)
    (tmp_path / "app.txt").write_text("second\n")
    git(tmp_path, "commit", "-q", "-am", "two")
    obj = tmp_path / ".git/objects" / head[:2] / head[2:]
    obj.chmod(0o644)
    obj.write_bytes(b"not a zlib stream")  # the first commit, which the second names as its parent
    hist = _history(tmp_path)
    assert hist and all(o.status is not Status.PASS for o in hist)
    assert any(o.status is Status.UNKNOWN for o in hist)


def test_every_text_file_is_scanned_whatever_its_name_or_encoding(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                       serialization.NoEncryption())
    )  # fmt: skip
    (tmp_path / "deploy_key").write_bytes(pem)
    aws_id, aws_secret = "AKIA" + "Q7ZT4M2XW5RB6K3N", "wJ8rXq2Lm9Tz4Vb7Nc1Kd5Hf3Gs6Pa0YeUi2Ro8E"
    (tmp_path / "env").write_text(f"AWS_ACCESS_KEY_ID={aws_id}\nAWS_SECRET_ACCESS_KEY={aws_secret}\n")
    url = "postgresql://app:Vq3xZ8mK2pL9sT4w@db.internal:5432/app"
    xml = f'<?xml version="1.0" encoding="UTF-16"?>\n<config><db url="{url}"/></config>\n'
    (tmp_path / "settings.xml").write_bytes(xml.encode("utf-16"))  # with its byte-order mark
    (tmp_path / "notes.utf32").write_bytes(f"token: {aws_id}\n".encode("utf-32"))
    (tmp_path / "data.csv").write_text(f"name,key\nci,{aws_id}\n")
    (tmp_path / "image.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + aws_id.encode())
    fails = [o for o in _obs(tmp_path) if o.check == "secrets.no_hardcoded" and o.status is Status.FAIL]
    found = {(o.subject.path, o.facts["rule"]) for o in fails}
    assert ("deploy_key", "private-key") in found
    assert {r for p, r in found if p == "env"} >= {"aws-access-key-id"}
    assert any(p == "settings.xml" for p, _ in found)
    assert any(p == "notes.utf32" for p, _ in found) and any(p == "data.csv" for p, _ in found)
    assert not any(p == "image.bin" for p, _ in found)  # binary by content: not scanned, a coverage gap


def test_examples_in_documentation_are_not_secrets_but_keys_are():
    readme = "RTCSTATS_MONGODB_URI=mongodb://root:root@mongodb.example.invalid:27017\npassword = hunter2\n"
    assert list(scan_text(readme, documentation=True)) == []
    assert {f.rule for f in scan_text(readme)} == {"database-url-password"}  # the same line in a config file
    aws = "AKIA" + "Q7ZT4M2XW5RB6K3N"
    assert [f.rule for f in scan_text(f"aws_access_key_id = {aws}\n", documentation=True)] == ["aws-access-key-id"]


def test_a_throwaway_test_database_in_a_pipeline_is_not_a_secret(tmp_path):
    wf = tmp_path / ".github" / "workflows" / "ci.yml"
    wf.parent.mkdir(parents=True)
    wf.write_text("env:\n  DATABASE_URL: postgres://user:pass@localhost:5432/test\n")
    assert [o.status for o in _obs(tmp_path) if o.check == "secrets.no_hardcoded"] == [Status.PASS]


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ('  auth_provider_x509_cert_url: "https://www.googleapis.com/oauth2/v1/certs",', False),
        ("GOOGLE_APPLICATION_CREDENTIALS_JSON=/run/app/config/key.json", False),
        ("api_token = ./secrets/token.txt", False),
        # a URL whose path carries a random segment is a webhook secret, not a location
        ("SLACK_TOKEN=https://hooks.slack.com/services/T0000000/B0000000/Xq9wLz3kP0aB7cD2eF4gH6jK", True),
        ('password: "Zx8qLw2mNp4rT6vY"', True),
    ],
)
def test_locations_are_not_secret_values(line, secret):
    assert bool(list(scan_text(line))) is secret
