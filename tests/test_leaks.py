"""No value leaves the process, and untrusted text cannot steer a terminal or break the JSON."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys

import pytest
from conftest import git

from readiness import redact
from readiness.reporters import escape


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def random_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(24).replace("-", "x").replace("_", "y")


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("postgresql://app:PW@db:5432/app?sslmode=require", "postgresql://app@db:5432/app?sslmode=…"),
        ("postgresql://:PW@db/app", "postgresql://db/app"),  # empty user
        ("postgresql://app:PW@with@at@db/app", "postgresql://app@db/app"),  # '@' inside the password
        ("postgresql://app:PW%40x@db/app", "postgresql://app@db/app"),
        ("host=db user=app password='PW with spaces' dbname=x", "host=db user=app password=… dbname=x"),
        ("host=db user='' password=PW", "host=db user= password=…"),
        ("host=db password = PW sslpassword=PW", "host=db password=… sslpassword=…"),
        ("postgresql://app:PW@db:notaport/x", "(a URL that does not parse)"),
        ("host=db password='PW", "(a connection string that does not parse)"),
    ],
)
def test_dsn_redaction_by_parsing(dsn, shown):
    assert redact.dsn(dsn) == shown
    assert "PW" not in redact.dsn(dsn)


def test_error_messages_are_scrubbed_of_every_secret_the_dsn_carries():
    dsn = "postgresql://app:PW@x@db/app?token=TOK"
    assert redact.scrub('failed for "PW@x" and TOK and ' + dsn, dsn) == 'failed for "…" and … and …'
    assert redact.scrub('missing "=" after "PW" in connection info string', "host=db password='PW") == (
        "the connection string does not parse"
    )


def test_escape_makes_control_characters_visible():
    name = "a\x1b[31mred\x07\r\n\u202egnp.exe" + os.fsdecode(b"\xff")
    assert escape.text(name) == "a\\x1b[31mred\\x07\\x0d\\x0a\\u202egnp.exe\\xff"
    assert escape.text("plain path/é.yml\tok") == "plain path/é.yml\tok"
    safe = escape.json_safe({"path": os.fsdecode(b"x\xfe.env"), "n": [1, os.fsdecode(b"\xff")]})
    assert safe == {"path": "x\\xfe.env", "n": [1, "\\xff"]}
    json.dumps(safe, ensure_ascii=False).encode("utf-8")  # valid UTF-8, no lone surrogate


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "readiness", *args], capture_output=True, timeout=300)


def test_planted_secrets_never_reach_any_output(tmp_path):
    """Random values planted in every input kind the probes read, in history and on the command line;
    the text and JSON reports and stderr are searched for each value and every 8-character piece of it."""
    planted = {kind: random_secret() for kind in ("env", "compose", "k8s", "docker", "tf", "json", "props", "hist")}
    planted["dsn"] = random_secret()
    planted["config_dsn"] = random_secret()
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "old.env").write_text(f"API_TOKEN={planted['hist']}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a secret, removed below")
    (repo / "old.env").unlink()
    (repo / ".env").write_text(f"DB_PASSWORD={planted['env']}\n")
    (repo / "docker-compose.yml").write_text(
        f"services:\n  app:\n    image: nginx:1.27\n    environment:\n      API_SECRET: {planted['compose']}\n"
    )
    (repo / "k8s").mkdir()
    (repo / "k8s/secret.yaml").write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData:\n  password: {planted['k8s']}\n"
    )
    (repo / "Dockerfile").write_text(f"FROM python:3.12\nENV API_KEY={planted['docker']}\nUSER app\n")
    (repo / "main.tf").write_text(f'variable "db_password" {{\n  default = "{planted["tf"]}"\n}}\n')
    (repo / "config.json").write_text(json.dumps({"client_secret": planted["json"]}))
    (repo / "application.properties").write_text(f"spring.datasource.password={planted['props']}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "app")
    (repo / ".readiness.yaml").write_text(
        f"live:\n  postgres:\n    - dsn: postgresql://app:{planted['config_dsn']}@127.0.0.1:{closed_port()}/app\n"
    )
    dsn = f"postgresql://app:{planted['dsn']}@127.0.0.1:{closed_port()}/app?connect_timeout=2"
    outputs = []
    bad_config = _run("audit", str(repo))  # live.postgres given as a list: rejected without its value
    assert bad_config.returncode == 2
    outputs.append(bad_config.stdout + bad_config.stderr)
    (repo / ".readiness.yaml").unlink()
    # every output format: text and JSON on stdout, the others written to files beside the text run
    others = {f: tmp_path / f"report.{f}" for f in ("sarif", "junit", "markdown", "html", "codequality")}
    for fmt in ("text", "json"):
        extra = [a for f, out in others.items() for a in ("--format", f"{f}={out}")] if fmt == "text" else []
        done = _run("audit", str(repo), "--history", "--format", fmt, *extra, "--postgres", dsn)
        assert done.returncode in (0, 1), done.stderr.decode(errors="replace")
        outputs.append(done.stdout + done.stderr)
        if fmt == "json":
            report = json.loads(done.stdout)
            assert any(o["check"] == "secrets.no_hardcoded" and o["status"] == "fail" for o in report["observations"])
            assert any(o["subject"].get("endpoint") for o in report["observations"] if o["probe"] == "postgres")
    outputs += [out.read_bytes() for out in others.values()]
    blob = b"\n".join(outputs)
    for kind, value in planted.items():
        pieces = {value[i : i + 8] for i in range(len(value) - 7)}
        leaked = sorted(p for p in pieces if p.encode() in blob)
        assert not leaked, f"{kind}: {leaked}"


def test_hostile_file_names_reach_reports_escaped(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    evil = b"\x1b[2J\x1b[31mevil\r\xff.env"
    token = random_secret("ghp_")[:40]
    (repo / os.fsdecode(evil)).write_bytes(f"GITHUB_TOKEN={token}\n".encode())
    text = _run("audit", str(repo))
    assert text.returncode == 1 and b"\x1b" not in text.stdout and b"\r" not in text.stdout
    assert b"\\x1b[2J\\x1b[31mevil\\x0d\\xff.env" in text.stdout
    text.stdout.decode("utf-8")  # strict: no raw undecodable byte reaches the terminal
    js = _run("audit", str(repo), "--format", "json")
    report = json.loads(js.stdout.decode("utf-8"))
    paths = {o["subject"].get("path") for o in report["observations"]}
    assert "\x1b[2J\x1b[31mevil\r\\xff.env" in paths  # JSON escapes controls itself; the odd byte written out
