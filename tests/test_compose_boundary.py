"""The repository boundary for what Compose would read: include, extends, label_file, env_file, included .env.

Each case writes a real repository beside a folder "outside" holding a literal secret, runs the real CLI
(which runs the real Compose binary), and asserts: the reference is an error on the file and line that
wrote it, the credential items do not pass, and no piece of the outside value reaches any output.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from readiness.probes import docker_engine

from readiness import compose_boundary


def _secret() -> str:
    return "fake" + secrets.token_hex(16)


def _run(repo: Path, fmt: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "readiness", "audit", str(repo), "--format", fmt], capture_output=True, timeout=300
    )


def _tree(tmp_path: Path, value: str) -> tuple[Path, Path]:
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    repo.mkdir()
    outside.mkdir()
    (outside / "base.yml").write_text(
        f"services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: {value}\n"
    )
    (outside / "x.env").write_text(f"POSTGRES_PASSWORD={value}\nTAG={value}\n")
    return repo, outside


def _symlinked_include(repo: Path, outside: Path) -> str:
    (repo / "base.yml").symlink_to(outside / "base.yml")
    return "include:\n  - base.yml\nservices:\n  web:\n    image: nginx:1.27\n"


def _included_dotenv(repo: Path, outside: Path) -> str:
    (repo / "sub").mkdir()
    (repo / "sub/.env").symlink_to(outside / "x.env")
    (repo / "sub/compose.yml").write_text('services:\n  s:\n    image: "nginx:${TAG:-1.27}"\n')
    return "include:\n  - sub/compose.yml\nservices:\n  web:\n    image: nginx:1.27\n"


# Each case returns the compose file's text; the line of the reference is where the error must be.
CASES = {
    "include": (lambda r, o: "include:\n  - ../outside/base.yml\nservices:\n  web:\n    image: nginx:1.27\n", 2),
    "include-absolute": (lambda r, o: f"include:\n  - {o / 'base.yml'}\nservices:\n  web:\n    image: nginx\n", 2),
    "include-long-syntax": (
        lambda r, o: "include:\n  - path: ../outside/base.yml\nservices:\n  web:\n    image: nginx:1.27\n",
        2,
    ),
    "include-symlink": (_symlinked_include, 2),
    "include-dotenv-symlink": (_included_dotenv, 2),
    "include-env-file": (
        lambda r, o: "include:\n  - path: sub.yml\n    env_file: ../outside/x.env\nservices:\n  w:\n    image: nginx\n",
        2,
    ),
    "extends": (
        lambda r, o: (
            "services:\n  web:\n    image: nginx:1.27\n    extends:\n      file: ../outside/base.yml\n"
            "      service: db\n"
        ),
        5,
    ),
    "label-file": (
        lambda r, o: "services:\n  web:\n    image: nginx:1.27\n    label_file: ../outside/x.env\n",
        4,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_reference_leaving_the_repository_is_an_error_and_never_read(tmp_path, case):
    value = _secret()
    repo, outside = _tree(tmp_path, value)
    make, line = CASES[case]
    (repo / "sub.yml").write_text("services:\n  s:\n    image: nginx:1.27\n")
    (repo / "docker-compose.yml").write_text(make(repo, outside))
    js, text = _run(repo, "json"), _run(repo, "text")
    for done in (js, text):
        assert done.returncode in (0, 1), done.stderr.decode(errors="replace")
    report = json.loads(js.stdout)
    errors = [
        o
        for o in report["observations"]
        if o["check"] == "compose.no_literal_secrets" and o["status"] == "error" and o["subject"].get("line") == line
    ]
    assert errors and errors[0]["subject"]["path"] == "docker-compose.yml", report["observations"]
    assert not [
        o for o in report["observations"] if o["check"] == "compose.no_literal_secrets" and o["status"] == "pass"
    ]
    # the deployment model's view of its services is incomplete too: probes judging them err on the file
    assert {"postgres", "redis"} <= {
        o["probe"] for o in report["observations"] if o["status"] == "error" and o["subject"].get("line") == line
    }
    items = {i["id"]: i["status"] for i in report["items"]}
    assert items["pd.secrets.no-hardcoded-credentials"] != "pass"
    blob = js.stdout + js.stderr + text.stdout + text.stderr
    assert not [value[i : i + 8] for i in range(len(value) - 7) if value[i : i + 8].encode() in blob]


def test_reference_inside_the_repository_still_resolves(tmp_path):
    repo, _ = _tree(tmp_path, _secret())
    (repo / "common.yml").write_text("services:\n  base:\n    image: nginx:1.27\n    read_only: true\n")
    (repo / "sub").mkdir()
    (repo / "sub/compose.yml").write_text("services:\n  worker:\n    image: busybox:1.36\n")
    (repo / "docker-compose.yml").write_text(
        "include:\n  - sub/compose.yml\nservices:\n  web:\n    extends:\n      file: common.yml\n      service: base\n"
    )
    report = json.loads(_run(repo, "json").stdout)
    ro = {
        o["subject"].get("name"): o["status"]
        for o in report["observations"]
        if o["check"] == "compose.read_only_rootfs"
    }
    assert ro == {"web": "pass", "worker": "fail"}


def test_remote_variable_and_bomb_references_are_not_handed_to_compose(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    levels = ["l0: &l0 [" + ", ".join(["x"] * 9) + "]"]
    levels += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 9)]
    (repo / "bomb.yml").write_text("\n".join(levels) + "\nservices:\n  b:\n    image: nginx\n    command: *l8\n")
    (repo / "docker-compose.yml").write_text(
        "include:\n  - oci://registry.invalid/stack:1\n  - ${STACK_DIR}/x.yml\n  - bomb.yml\n"
        "services:\n  web:\n    image: nginx:1.27\n"
    )
    found = compose_boundary.crossings(
        repo, ["docker-compose.yml"], {}, lambda p: (repo / p).read_text(), env_files=False
    )
    reasons = [(c.line, c.reason) for c in found]
    assert [line for line, _ in reasons] == [2, 3, 4]
    assert "remote resource" in reasons[0][1] and "built from variables" in reasons[1][1]
    assert "alias" in reasons[2][1] and "bomb.yml" in reasons[2][1]
    report = json.loads(_run(repo, "json").stdout)
    lines = {o["subject"].get("line") for o in report["observations"] if o["check"] == "compose.not_privileged"}
    assert lines == {2, 3, 4}


def test_docker_engine_drift_does_not_hand_compose_an_env_file_outside(tmp_path):
    """Drift resolution does not reset env_file (Compose hashes it): one outside the repository is refused."""
    value = _secret()
    repo, _ = _tree(tmp_path, value)
    (repo / "docker-compose.yml").write_text(
        "services:\n  web:\n    image: nginx:1.27\n    env_file: ../outside/x.env\n"
    )
    ref = docker_engine.ComposeRef("p", "web", "h", (str(repo / "docker-compose.yml"),), str(repo))
    binary = docker_engine.compose_binary(None)
    with pytest.raises(docker_engine.DriftUnknown) as exc:
        docker_engine.resolve_declared(ref, repo, ["docker-compose.yml"], binary, lambda p: (repo / p).read_text())
    assert "docker-compose.yml:4: env_file '../outside/x.env' leaves the audited repository" in str(exc.value)
    assert value not in str(exc.value)
