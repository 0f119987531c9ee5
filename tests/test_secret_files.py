"""The secret-files probe on real files, modes and git states."""

from __future__ import annotations

import datetime as dt

from conftest import git
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from readiness.config import Config
from readiness.model import Status, Strength
from readiness.runner import audit


def observations(root, check=None):
    report = audit(root, Config(policies=("production-deployment",)))
    return {
        (o.subject.path, o.check): o
        for o in report.observations
        if o.probe == "secret_files" and (check is None or o.check == check)
    }


def committed_repo(tmp_path, files: dict[str, str], gitignore: str = ""):
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    (tmp_path / ".gitignore").write_text(gitignore)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "init")
    return tmp_path


def test_modes_and_git_states(tmp_path):
    repo = committed_repo(tmp_path, {"app.yml": "a: 1\n", "prod.env": "FAKE=1\n"}, ".env\n")
    (repo / ".env").write_text("FAKE_TOKEN=fake-value-for-tests\n")
    (repo / ".env").chmod(0o600)
    (repo / "deploy.key").write_text("fake key material for tests\n")
    (repo / "deploy.key").chmod(0o640)
    (repo / ".env.example").write_text("TOKEN=<your-token>\n")
    obs = observations(repo)
    assert obs[(".env", "secret_files.owner_only")].status is Status.PASS
    assert obs[(".env", "secret_files.not_tracked")].status is Status.PASS
    key = obs[("deploy.key", "secret_files.owner_only")]
    assert key.status is Status.FAIL and "mode 0640: group can access it" in key.message
    untracked = obs[("deploy.key", "secret_files.not_tracked")]
    assert untracked.status is Status.FAIL and "not in .gitignore" in untracked.message
    assert obs[("prod.env", "secret_files.not_tracked")].status is Status.FAIL  # committed
    assert obs[("prod.env", "secret_files.owner_only")].status is Status.NOT_APPLICABLE
    assert not any(path == ".env.example" for path, _ in obs)  # examples are not secret files


def _certificate_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "readiness.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_public_certificate_is_not_a_secret_but_a_private_key_is(tmp_path):
    repo = committed_repo(tmp_path, {"README.md": "x\n"}, "certs/\n")
    cert, key = _certificate_pem()
    (repo / "certs").mkdir()
    (repo / "certs/site.pem").write_bytes(cert)
    (repo / "certs/site.pem").chmod(0o644)
    (repo / "certs/site-key.pem").write_bytes(key)
    (repo / "certs/site-key.pem").chmod(0o644)
    obs = observations(repo)
    assert obs[("certs/site.pem", "secret_files.owner_only")].status is Status.NOT_APPLICABLE
    assert obs[("certs/site-key.pem", "secret_files.owner_only")].status is Status.FAIL


def test_compose_secret_gives_deployed_strength_and_a_missing_one_is_unknown(tmp_path):
    compose = (
        "services:\n  api:\n    image: example/api:1.0\n    secrets: [db, missing]\n"
        "secrets:\n  db:\n    file: ./run/db.txt\n  missing:\n    file: ./run/missing.txt\n"
    )
    repo = committed_repo(tmp_path, {"docker-compose.yml": compose}, "run/\n")
    (repo / "run").mkdir()
    (repo / "run/db.txt").write_text("fake-db-password-for-tests\n")  # not a secret by name: only compose says so
    (repo / "run/db.txt").chmod(0o600)
    obs = observations(repo)
    db = obs[("run/db.txt", "secret_files.owner_only")]
    assert db.status is Status.PASS and db.strength is Strength.DEPLOYED
    assert db.facts["mounted_by"] == ["api"]
    missing = obs[("run/missing.txt", "secret_files.owner_only")]
    assert missing.status is Status.UNKNOWN and "docker-compose.yml:4" in missing.message


def test_outside_git_cannot_tell_tracking(tmp_path):
    (tmp_path / ".env").write_text("FAKE=1\n")
    (tmp_path / ".env").chmod(0o600)
    obs = observations(tmp_path)
    assert obs[(".env", "secret_files.not_tracked")].status is Status.UNKNOWN
    assert obs[(".env", "secret_files.owner_only")].status is Status.PASS


def test_symlink_leaving_the_repo_is_an_error_not_a_pass(tmp_path):
    outside = tmp_path / "outside.env"
    outside.write_text("FAKE=1\n")
    outside.chmod(0o600)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".env").symlink_to(outside)
    obs = observations(repo)
    err = obs[(".env", "secret_files.owner_only")]
    assert err.status is Status.ERROR and "leaves the audited root" in err.message


def test_no_secret_files_is_not_applicable(tmp_path):
    committed_repo(tmp_path, {"README.md": "x\n"})
    obs = observations(tmp_path)
    assert obs[(None, "secret_files.owner_only")].status is Status.NOT_APPLICABLE
    assert "no artifact of this kind" in obs[(None, "secret_files.owner_only")].message
