"""The bad-input corpus (issue 15) as generated fixtures, each run through the real CLI in a child process.

Every case asserts: the exit code is 0, 1 or 2, never 3 (no crash); no observation of the hostile file
passes, and no passing item cites one (a structural check over an ambiguous or unreadable file is unknown);
the child's peak memory (``ru_maxrss`` of the audit and of the programs it ran, measured by ``resource``
inside the child) stays under the ceiling of docs/security.md; planted values never reach the output.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

MEMORY_CEILING_KIB = 500 * 1024  # docs/security.md: the audit, and each program it runs, under 500 MB

# Runs the CLI in-process in a fresh interpreter and reports the peak resident set sizes last on stderr.
CHILD = """
import resource, sys
from readiness import cli
code = cli.main(sys.argv[1:])
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
sys.stderr.write(f"\\nMAXRSS {own} {children}\\n")
sys.exit(code)
"""


def laughs(levels: int = 9, width: int = 9, indent: str = "") -> str:
    lines = [f"{indent}l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [f"{indent}l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def block_nesting(depth: int, indent: str = "") -> str:
    return "".join(f"{indent}{' ' * i}k{i}:\n" for i in range(depth)) + f"{indent}{' ' * depth}leaf\n"


DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      securityContext:
        runAsNonRoot: false
      containers:
        - name: web
          image: nginx:1.27
          securityContext:
            runAsNonRoot: true
            readOnlyRootFilesystem: true
            allowPrivilegeEscalation: false
"""


def write(repo: Path, rel: str, content: str | bytes) -> str:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return rel


# Each case writes its hostile input into a fresh repository and returns the paths that must not pass.
CASES: dict[str, Callable[[Path], list[str]]] = {
    "compose-alias-bomb": lambda r: [
        write(r, "docker-compose.yml", laughs() + "services:\n  app:\n    image: nginx:1.27\n    command: *l8\n")
    ],
    "k8s-alias-bomb": lambda r: [
        write(
            r,
            "k8s/deploy.yaml",
            DEPLOYMENT.replace("  name: web\n", "  name: web\n  labels:\n" + laughs(indent="    ")),
        )
    ],
    "compose-deep-flow": lambda r: [
        write(
            r, "docker-compose.yml", "services:\n  app:\n    image: nginx:1.27\n    command: " + "[" * 900 + "]" * 900
        )
    ],
    "k8s-deep-block": lambda r: [
        write(r, "k8s/deploy.yaml", DEPLOYMENT + "  extra:\n" + block_nesting(400, indent="    "))
    ],
    "k8s-duplicate-keys": lambda r: [
        write(
            r,
            "k8s/deploy.yaml",
            DEPLOYMENT.replace("runAsNonRoot: true\n", "runAsNonRoot: false\n            runAsNonRoot: true\n"),
        )
    ],
    "compose-duplicate-keys": lambda r: [
        write(r, "docker-compose.yml", "services:\n  app:\n    image: nginx:1.27\n    user: root\n    user: app\n")
    ],
    "cloudformation-json-duplicate-keys": lambda r: [
        write(
            r,
            "cfn/stack.json",
            '{"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Db": {"Type": "AWS::RDS::DBInstance",'
            ' "Properties": {"StorageEncrypted": false, "StorageEncrypted": true}}}}',
        )
    ],
    "binary-compose": lambda r: [write(r, "docker-compose.yml", os.urandom(4096) + b"\0services:")],
    "huge-compose": lambda r: [
        write(r, "docker-compose.yml", "services:\n  app:\n    image: nginx:1.27\n" + "# pad\n" * 400_000)
    ],
    "long-yaml-line": lambda r: [
        write(r, "k8s/deploy.yaml", DEPLOYMENT + "  note: " + "x" * 1_900_000 + "\n" + "  note: dup\n")
    ],
}


def run_audit(repo: Path, *args: str, prefix: tuple[str, ...] = ()) -> tuple[int, bytes, bytes, int]:
    """Exit code, stdout, stderr and the peak memory in KiB (the audit or the largest program it ran)."""
    done = subprocess.run(
        [*prefix, sys.executable, "-c", CHILD, "audit", str(repo), "--format", "json", *args],
        capture_output=True,
        timeout=600,
        cwd=repo,
    )
    head, _, tail = done.stderr.rpartition(b"\nMAXRSS ")
    own, children = (int(n) for n in tail.split()[:2])
    return done.returncode, done.stdout, head, max(own, children)


def assert_nothing_passes_from(report: dict, hostile: list[str], skip_checks: tuple[str, ...] = ()) -> None:
    obs = report["observations"]
    from_hostile = [
        i for i, o in enumerate(obs) if o["subject"].get("path") in hostile and not o["check"].startswith(skip_checks)
    ]
    assert from_hostile, "the hostile input left no trace in the report"
    assert [obs[i] for i in from_hostile if obs[i]["status"] == "pass"] == []
    cited = set(from_hostile)
    assert [i["id"] for i in report["items"] if i["status"] == "pass" and cited & set(i["observations"])] == []


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_artifact(tmp_path, case):
    repo = tmp_path / "repo"
    repo.mkdir()
    hostile = CASES[case](repo)
    code, out, err, peak = run_audit(repo)
    assert code in (0, 1), err.decode(errors="replace")
    report = json.loads(out)
    # the secrets scanner reads these files as text, not structure: its verdicts on them stand
    assert_nothing_passes_from(report, hostile, skip_checks=("secrets.",))
    assert peak < MEMORY_CEILING_KIB, f"{peak} KiB"


def test_duplicate_key_error_names_the_key_and_line(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    CASES["k8s-duplicate-keys"](repo)
    _, out, _, _ = run_audit(repo)
    errors = {
        (o["subject"].get("line"), o["message"])
        for o in json.loads(out)["observations"]
        if o["subject"].get("path") == "k8s/deploy.yaml" and o["status"] == "error"
    }
    assert errors and all(line == 15 and "duplicate key 'runAsNonRoot' (first at line 14)" in m for line, m in errors)


@pytest.mark.parametrize(
    ("where", "text"),
    [
        (".readiness.yaml", laughs() + "exclude: *l8\n"),
        (".readiness/attestations.yaml", laughs() + "attestations: *l8\n"),
        (".readiness.yaml", "exclude:\n" + block_nesting(300, indent="  ")),
        (".readiness/attestations.yaml", "attestations: " + "[" * 800 + "]" * 800 + "\n"),
        (".readiness.yaml", "exclude: [a]\nexclude: [b]\n"),
        (".readiness.yaml", os.urandom(2048)),
    ],
    ids=["config-bomb", "attestations-bomb", "config-deep", "attestations-deep", "config-duplicate", "config-binary"],
)
def test_hostile_configuration_is_exit_2_in_one_line(tmp_path, where, text):
    repo = tmp_path / "repo"
    repo.mkdir()
    write(repo, where, text)
    code, out, err, peak = run_audit(repo)
    assert code == 2, err.decode(errors="replace")
    assert out == b"" and len(err.strip().splitlines()) == 1 and b"Traceback" not in err
    assert peak < MEMORY_CEILING_KIB


def test_fifo_named_env_is_never_opened(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    os.mkfifo(repo / ".env")  # opening it would block the audit until a writer came
    write(repo, "docker-compose.yml", "services:\n  app:\n    image: nginx:1.27\n    user: app\n")
    code, out, err, _ = run_audit(repo)
    assert code in (0, 1), err.decode(errors="replace")
    report = json.loads(out)
    assert_nothing_passes_from(report, [".env"])
    # Compose reads the project's .env itself: it is not run on a project whose .env would block it
    non_root = [o for o in report["observations"] if o["check"] == "compose.non_root"]
    assert [(o["status"], o["message"]) for o in non_root] == [
        ("error", "the project's .env is not a regular file: not read, values unknown")
    ]
    artifact = next(a for a in report["artifacts"] if a["path"] == ".env")
    assert artifact["skipped"] == "not a regular file"


def test_env_symlinked_out_of_the_repository_is_not_read(tmp_path):
    value = secrets.token_hex(16)
    (tmp_path / "outside.env").write_text(f"DB_PASSWORD=Zk{value}\nIMAGE_TAG=v{value}\nAPP_USER=root\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".env").symlink_to(tmp_path / "outside.env")
    write(repo, "docker-compose.yml", "services:\n  app:\n    image: nginx:${IMAGE_TAG}\n    user: ${APP_USER:-app}\n")
    code, out, err, _ = run_audit(repo)
    assert code in (0, 1), err.decode(errors="replace")
    assert value.encode() not in out + err  # Compose would have interpolated it into the report
    report = json.loads(out)
    # without the .env, the default `app` would stand in for `root`: the project is an error instead
    assert_nothing_passes_from(report, [".env", "docker-compose.yml"], skip_checks=("secrets.",))
    non_root = [o for o in report["observations"] if o["check"] == "compose.non_root"]
    assert [o["status"] for o in non_root] == ["error"] and "symlink leaving the repository" in non_root[0]["message"]


def test_unreadable_files_are_errors_not_passes(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    write(repo, "docker-compose.yml", "services:\n  app:\n    image: nginx:1.27\n    user: app\n")
    write(repo, "k8s/deploy.yaml", DEPLOYMENT.replace("runAsNonRoot: false", "runAsNonRoot: true"))
    for rel in ("docker-compose.yml", "k8s/deploy.yaml"):
        os.chmod(repo / rel, 0)
    # Root (as CI runs) reads any file whatever its mode: the audit runs without the capabilities that allow it.
    prefix = ("setpriv", "--bounding-set", "-dac_override,-dac_read_search") if os.geteuid() == 0 else ()
    code, out, err, _ = run_audit(repo, prefix=prefix)
    assert code in (0, 1), err.decode(errors="replace")
    report = json.loads(out)
    assert_nothing_passes_from(report, ["docker-compose.yml", "k8s/deploy.yaml"])
    skipped = {a["path"]: a["skipped"] for a in report["artifacts"]}
    assert skipped["docker-compose.yml"] == skipped["k8s/deploy.yaml"] == "unreadable: permission denied"


def test_many_password_lines_stay_under_the_memory_ceiling(tmp_path):
    """A 2 MB file of password= lines (52,000 findings): the findings are capped, memory is bounded."""
    repo = tmp_path / "repo"
    repo.mkdir()
    # random at run time, never committed
    write(repo, "conf.env", "".join(f"DB_PASSWORD_{i}=Zx{secrets.token_hex(8)}\n" for i in range(2_000_000 // 38)))
    code, out, err, peak = run_audit(repo)
    assert code == 1, err.decode(errors="replace")
    assert len(out) < 5_000_000  # the report stays proportionate (it was 28 MB per such file)
    assert peak < MEMORY_CEILING_KIB, f"{peak} KiB"


def test_huge_nested_terraform_default_is_cut_by_the_file_budget(tmp_path):
    """python-hcl2 takes minutes over a wide nested list: the per-file budget cuts it, nothing passes on it."""
    repo = tmp_path / "repo"
    repo.mkdir()
    inner = "[" + ", ".join(['"x"'] * 8) + "]"
    for _ in range(5):
        inner = "[" + ", ".join([inner] * 6) + "]"
    write(repo, "main.tf", f'variable "subnets" {{\n  default = {inner}\n}}\n')
    write(repo, ".readiness.yaml", "time_budget:\n  file_seconds: 3\n")
    code, out, err, peak = run_audit(repo)
    assert code in (0, 1), err.decode(errors="replace")
    report = json.loads(out)
    assert_nothing_passes_from(report, ["main.tf"], skip_checks=("secrets.",))
    cut = [o for o in report["observations"] if o["subject"].get("path") == "main.tf" and o["status"] == "error"]
    assert cut and "per-file time budget of 3 s" in cut[0]["message"]
    assert peak < MEMORY_CEILING_KIB, f"{peak} KiB"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_stdout_on_a_full_disk_is_exit_2_in_one_line(tmp_path):
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "readiness", "audit", str(tmp_path)],
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=300,
        )
    assert done.returncode == 2
    assert done.stderr == b"readiness: cannot write the report to standard output: No space left on device\n"


def test_circular_locals_and_recursive_modules_are_unknown_not_pass(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    write(
        repo,
        "main.tf",
        'locals {\n  enc = local.c\n  c = local.enc\n}\nmodule "a" {\n  source = "./modules/a"\n}\n'
        'resource "aws_db_instance" "db" {\n  storage_encrypted = local.enc\n}\n',
    )
    write(repo, "modules/a/main.tf", 'module "b" {\n  source = "../b"\n}\n')
    write(repo, "modules/b/main.tf", 'module "a" {\n  source = "../a"\n}\nmodule "self" {\n  source = "./"\n}\n')
    code, out, err, peak = run_audit(repo)
    assert code in (0, 1), err.decode(errors="replace")
    report = json.loads(out)
    at_rest = [o for o in report["observations"] if o["check"] == "terraform.encryption_at_rest"]
    assert [(o["status"], o["message"]) for o in at_rest] == [
        ("unknown", "storage_encrypted: local.enc refers to itself")
    ]
    assert peak < MEMORY_CEILING_KIB, f"{peak} KiB"
