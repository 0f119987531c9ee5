"""Property-based fuzzing of every loader and of the judging behind them (issue 15, item 7).

Each loader, given any text, returns data or raises its one documented error type (never a
RecursionError, a KeyError, an IndexError...), and a file a loader refuses never makes a check pass.
The normal run uses the fixed-seed "ci" profile of tests/conftest.py; ``make fuzz`` runs the same
properties with the "fuzz" profile (random, thousands of examples).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from readiness.probes import dockerfile, nginx, postgres, secret_rules, secrets
from readiness.probes.terraform_resolve import ParseFailure, parse_hcl

from readiness import compose_boundary, safe_load
from readiness.config import Config
from readiness.discovery import discover
from readiness.inventory import Inventory
from readiness.model import Status
from readiness.probe import Files, load_probes
from readiness.runner import run_probe

# Text that looks like the formats: their punctuation and keywords, mixed with anything.
PIECES = [
    "{", "}", "[", "]", "(", ")", ":", ";", ",", "=", "\"", "'", "#", "&a", "*a", "<<", "- ", "\n", "  ", "\t",
    "\\", "$", "${x}", "!!python/object", "!reset", "%YAML 1.1", "---", "...", "|", ">", "?", "@", "\x00", "\ufeff",
    "services:", "image:", "user: root", "password", "secret", "FROM ", "USER ", "RUN ", "ARG ", "ENV ",
    "HEALTHCHECK ", "server", "listen 443 ssl;", "include", "location /", "resource", "variable", "default",
    "host", "all", "0.0.0.0/0", "trust", "ssl = on", "AKIA", "-----BEGIN RSA PRIVATE KEY-----", "é", "\u202e",
]  # fmt: skip
TEXT = st.one_of(st.text(max_size=300), st.lists(st.sampled_from(PIECES), max_size=60).map("".join))


@given(TEXT)
def test_yaml_loader_raises_only_yaml_errors(text):
    with contextlib.suppress(yaml.YAMLError):
        safe_load.load_yaml_all(text)


@given(TEXT)
def test_json_loader_raises_only_value_errors(text):
    with contextlib.suppress(ValueError):
        safe_load.load_json(text)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda c: st.lists(c) | st.dictionaries(st.text(max_size=5), c),
        max_leaves=30,
    )
)
def test_json_loader_reads_what_json_writes(value):
    assert safe_load.load_json(json.dumps(value)) == value


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(TEXT)
def test_hcl_loader_raises_only_parse_failures(text):
    with contextlib.suppress(ParseFailure):
        parse_hcl(text)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(TEXT)
def test_nginx_loader_raises_only_parse_errors(text):
    if "\x00" in text:  # crossplane reads a file; a NUL cannot be in one the discovery layer hands over
        return
    with contextlib.suppress(nginx.ParseError):
        nginx.parse_text(text, "nginx.conf")


@given(TEXT)
def test_postgres_loaders_never_raise(text):
    postgres.conf_settings(text)
    postgres.hba_rules(text)
    list(postgres.judge_hba("pg_hba.conf", text))


@given(TEXT)
def test_dockerfile_loader_raises_only_dockerfile_errors(text):
    try:
        analysis = dockerfile.analyse(text)
    except dockerfile.DockerfileError:
        return
    for stage in analysis.stages:
        dockerfile.user_verdict(analysis, stage)
        dockerfile.healthcheck_verdict(analysis, stage)


@given(TEXT, st.binary(max_size=200))
def test_secret_scanner_and_env_files_never_raise(text, data):
    list(secret_rules.scan_text(text))
    decoded = secrets.decode_text(data)
    assert decoded is None or isinstance(decoded, str)


# -- the evaluation behind the loaders: a file a loader refuses never passes a check


def _refused(text: str, loader) -> bool:
    try:
        loader(text)
    except Exception:
        return True
    return False


# Each kind with a tail that its loader refuses whatever comes before it, so every example exercises the
# path where the loader refuses the file.
KINDS = {
    "Dockerfile": ("dockerfile", dockerfile.analyse, "\n\\"),
    "docker-compose.yml": ("compose", safe_load.load_yaml_all, "\n\t- [unclosed"),
    "k8s/deploy.yaml": ("kubernetes", safe_load.load_yaml_all, "\n\t- [unclosed"),
    "main.tf": ("terraform", parse_hcl, "\n}}} {{"),
    "nginx/nginx.conf": ("nginx", lambda t: nginx.parse_text(t, "nginx.conf"), "\n}"),
}


@pytest.mark.parametrize("path", sorted(KINDS))
@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=TEXT)
def test_no_check_passes_on_a_file_its_loader_refuses(tmp_path_factory, path, text):
    name, loader, tail = KINDS[path]
    head = "apiVersion: apps/v1\nkind: Deployment\n" if name == "kubernetes" else ""  # what its claim sniffs
    text = head + text.replace("\x00", "") + tail
    assume(_refused(text, loader))
    repo = tmp_path_factory.mktemp("repo")
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    found = discover(repo, Config())
    probe = next(p for p in load_probes() if p.name == name)
    observations, _, _ = run_probe(probe, found, Files(repo), Inventory(), Config(), now=dt.datetime.now(dt.UTC))
    mine = [o for o in observations if o.subject.path == path]
    assert mine, "the refused file left no trace"
    assert [o for o in mine if o.status is Status.PASS] == []


COMPOSE_PIECES = st.sampled_from(
    ["include:", "  - ", "path:", "env_file:", "project_directory:", "extends:", "file:", "service:", "services:",
     "label_file:", "  ", "\n", "../x.yml", "/etc/passwd", "${X}", "oci://r/x", "a.yml", "[", "]", "{", "}", "null"]
)  # fmt: skip


@given(st.lists(COMPOSE_PIECES, max_size=40).map("".join))
def test_compose_references_are_judged_without_raising(text):
    try:
        doc = safe_load.load_yaml(text)
    except yaml.YAMLError:
        return
    found = compose_boundary.crossings(Path("/nonexistent-root"), ["c.yml"], {"c.yml": doc}, str, follow=False)
    assert all(c.path == "c.yml" and c.reason for c in found)
