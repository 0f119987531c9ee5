"""The Dockerfile probe on real Dockerfiles, parsed by BuildKit's own parser."""

from __future__ import annotations

import json

import pytest
from conftest import git
from readiness.probes import dockerfile as df

from readiness import runner
from readiness.config import Config
from readiness.model import Observation, Status, Strength

CHECK_IDS = {c.id for c in df.DockerfileProbe.checks}


@pytest.fixture(autouse=True)
def observations_only(monkeypatch):
    """These tests judge observations, not checklist items: keep them independent of the policy packs."""
    monkeypatch.setattr(runner, "planned_checks", dict)


def observe(root) -> list[Observation]:
    report = runner.audit(root, Config(policies=()), policies=[])
    return [o for o in report.observations if o.probe == "dockerfile"]


def of(obs: list[Observation], check: str, path: str = "Dockerfile") -> list[tuple[Status, int | None]]:
    return sorted((o.status, o.subject.line) for o in obs if o.check == check and o.subject.path == path)


def repo_with(tmp_path, files: dict[str, str | bytes]):
    for rel, content in files.items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "init")
    return tmp_path


def test_hardened_dockerfile_passes_every_check(fixture_repo):
    obs = observe(fixture_repo("dockerfile-hardened"))
    assert {o.check for o in obs} == CHECK_IDS
    assert {o.status for o in obs} == {Status.PASS}
    assert of(obs, "dockerfile.non_root") == [(Status.PASS, 11)]  # USER ${APP_UID} from the stage's ARG default
    assert of(obs, "dockerfile.base_pinned") == [(Status.PASS, 3), (Status.PASS, 5)]  # ${PYTHON_VERSION} resolved
    assert of(obs, "dockerfile.no_remote_add") == [(Status.PASS, 9)]  # ADD --checksum
    assert of(obs, "dockerfile.healthcheck") == [(Status.PASS, 12)]
    assert of(obs, "dockerfile.stopsignal") == [(Status.PASS, 13)]
    user = next(o for o in obs if o.check == "dockerfile.non_root")
    assert user.facts["user"] == "10001" and user.strength is Strength.DECLARED


def test_insecure_dockerfile_fails_each_check_at_its_line(fixture_repo):
    obs = observe(fixture_repo("dockerfile-insecure"))
    assert of(obs, "dockerfile.non_root") == [(Status.FAIL, 9)]  # USER 0
    assert of(obs, "dockerfile.healthcheck") == [(Status.FAIL, 10)]  # HEALTHCHECK NONE
    assert of(obs, "dockerfile.stopsignal") == [(Status.FAIL, 11)]  # shell-form CMD
    # FROM node (no tag), FROM ${BASE_IMAGE} (no default: unknown), FROM node:latest
    assert of(obs, "dockerfile.base_pinned") == [(Status.FAIL, 2), (Status.FAIL, 5), (Status.UNKNOWN, 4)]
    assert of(obs, "dockerfile.no_secrets") == [(Status.FAIL, 6), (Status.FAIL, 7)]
    assert of(obs, "dockerfile.no_remote_add") == [(Status.FAIL, 8)]
    text = json.dumps([[o.message, o.facts] for o in obs])
    assert "sk_live" not in text and "ghp_" not in text and "token=abc" not in text  # values and URL tokens


def test_final_stage_inherits_from_the_stage_it_builds_on(fixture_repo):
    obs = observe(fixture_repo("dockerfile-multistage"))
    # `FROM base AS final` inherits USER 65532 and the HEALTHCHECK; the build stage's USER root does not count.
    assert of(obs, "dockerfile.non_root") == [(Status.PASS, 5)]
    assert of(obs, "dockerfile.healthcheck") == [(Status.PASS, 6)]
    assert of(obs, "dockerfile.stopsignal") == [(Status.PASS, 9)]  # exec-form ENTRYPOINT
    assert of(obs, "dockerfile.non_root", "named.Dockerfile") == [(Status.PASS, 3)]  # USER appuser:appgroup
    assert of(obs, "dockerfile.stopsignal", "named.Dockerfile") == [(Status.FAIL, 4)]  # ["/bin/sh", "-c", ...]
    no_user = [o for o in obs if o.check == "dockerfile.non_root" and o.subject.path == "Dockerfile.nouser"]
    assert [(o.status, o.facts["base_image"]) for o in no_user] == [(Status.FAIL, "debian:12.7")]


@pytest.mark.parametrize(
    ("user", "status"),
    [
        ("0", Status.FAIL),
        ("root", Status.FAIL),
        ("0:0", Status.FAIL),
        ("root:root", Status.FAIL),
        ("ROOT", Status.FAIL),
        ("1000:0", Status.PASS),
        ("nobody", Status.PASS),
        ("${MISSING}", Status.UNKNOWN),
    ],
)
def test_user_spellings(user, status):
    analysis = df.analyse(f"FROM alpine:3.20\nUSER {user}\n")
    assert df.user_verdict(analysis, analysis.stages[-1]).status is status


def test_a_later_user_root_wins():
    analysis = df.analyse("FROM alpine:3.20\nUSER app\nRUN id\nUSER root\n")
    verdict = df.user_verdict(analysis, analysis.stages[-1])
    assert (verdict.status, verdict.line) == (Status.FAIL, 4)


@pytest.mark.parametrize(
    ("image", "status"),
    [
        ("nginx", Status.FAIL),
        ("nginx:latest", Status.FAIL),
        ("registry.example:5000/team/app", Status.FAIL),  # the port is not a tag
        ("registry.example:5000/team/app:2.1", Status.PASS),
        ("nginx@sha256:" + "b" * 64, Status.PASS),
    ],
)
def test_base_image_references(image, status):
    analysis = df.analyse(f"FROM {image}\n")
    verdict = df.base_verdict(analysis, analysis.stages[0])
    assert verdict is not None and verdict.status is status


def test_scratch_and_stage_references_are_not_judged_as_images():
    analysis = df.analyse("FROM golang:1.23.2 AS build\nFROM scratch\nCOPY --from=build /a /a\nFROM build\n")
    verdicts = [df.base_verdict(analysis, s) for s in analysis.stages]
    assert [v.status if v else None for v in verdicts] == [Status.PASS, None, None]


@pytest.mark.parametrize(
    ("name", "value", "secret"),
    [
        ("DB_PASSWORD", "hunter2-not-real", True),
        ("api_key", "abc123def", True),
        ("GITHUB_TOKEN", "ghp_x", True),
        ("DB_PASSWORD_FILE", "/run/secrets/db", False),  # the good pattern
        ("DB_PASSWORD", "${DB_PASSWORD}", False),
        ("DB_PASSWORD", "$DB_PASSWORD", False),
        ("DB_PASSWORD", "", False),
        ("DB_PASSWORD", "<your-password>", False),
        ("DB_PASSWORD", "changeme", False),
        ("DB_PASSWORD", None, False),  # ARG without default
        ("NODE_ENV", "production", False),
        ("TOKEN_URL", "https://auth.example/token", False),
    ],
)
def test_literal_secret_detection(name, value, secret):
    assert df.is_literal_secret(name, value) is secret


def test_shell_form_with_exec_hands_over_pid_1():
    analysis = df.analyse("FROM alpine:3.20\nCMD exec /app serve\n")
    assert df.stopsignal_verdict(analysis, analysis.stages[-1]).status is Status.PASS
    inherited = df.analyse("FROM alpine:3.20\nRUN true\n")
    assert df.stopsignal_verdict(inherited, inherited.stages[-1]).status is Status.UNKNOWN  # the base image's CMD


def test_bad_files_are_errors_and_the_audit_goes_on(tmp_path):
    root = repo_with(
        tmp_path,
        {
            "Dockerfile": "# no FROM here\nRUN echo hi\n",
            "bin/Dockerfile": b"\x00\x01binary\x00",
            "ok/Dockerfile": "FROM alpine:3.20\nUSER app\n",
        },
    )
    obs = observe(root)
    bad = {o.subject.path: o.message for o in obs if o.status is Status.ERROR}
    assert "no FROM instruction" in bad["Dockerfile"]
    assert "binary file" in bad["bin/Dockerfile"]
    assert {o.check for o in obs if o.subject.path == "Dockerfile"} == CHECK_IDS  # every check errors
    assert of(obs, "dockerfile.non_root", "ok/Dockerfile") == [(Status.PASS, 2)]


def test_dockerfile_built_by_a_production_service_is_deployed_evidence(fixture_repo):
    obs = observe(fixture_repo("compose-hardened"))
    user = next(o for o in obs if o.check == "dockerfile.non_root")
    assert user.strength is Strength.DEPLOYED and user.facts["built_by"] == ["web"]


def test_a_base_image_is_judged_through_the_images_built_from_it(tmp_path):
    root = repo_with(
        tmp_path,
        {
            "Dockerfile.base": "FROM node:22.11.0\nRUN npm ci\n",
            "base/Dockerfile": "FROM debian:12.7-slim\n",
            "web/Dockerfile": "FROM debian:12.7-slim\n",
        },
    )
    obs = observe(root)
    assert of(obs, "dockerfile.non_root", "Dockerfile.base")[0][0] is Status.NOT_APPLICABLE
    assert of(obs, "dockerfile.non_root", "base/Dockerfile")[0][0] is Status.NOT_APPLICABLE
    assert of(obs, "dockerfile.non_root", "web/Dockerfile")[0][0] is Status.FAIL
