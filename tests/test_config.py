"""`.readiness.yaml`: defaults, validation that names the key, and the `init` template."""

from __future__ import annotations

import pytest
import yaml
from conftest import run_cli

from readiness import config


def write(tmp_path, text):
    (tmp_path / ".readiness.yaml").write_text(text)
    return tmp_path


def test_defaults_without_a_file(tmp_path):
    cfg = config.load(tmp_path)
    assert cfg.policies == config.DEFAULT_POLICIES and cfg.source is None


def test_values_are_read(tmp_path):
    cfg = config.load(
        write(
            tmp_path,
            "policies: [devops-deployment]\nexclude: [vendor/]\n"
            "scope: {production: [deploy/]}\nseverity: {do.x: low}\n",
        )
    )
    assert cfg.policies == ("devops-deployment",)
    assert cfg.exclude == ("vendor/",) and cfg.production == ("deploy/",)
    assert cfg.severity == {"do.x": "low"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("polices: [x]\n", "unknown key 'polices'"),
        ("scope: {prod: []}\n", "unknown key 'prod' at scope"),
        ("max_file_size: big\n", "max_file_size: expected integer, found a string"),
        ("severity: {pd.x: urgent}\n", "severity.pd.x"),
        ("exclude: vendor/\n", "exclude: expected array, found a string"),
        ("scope: [\n", "not valid YAML"),
    ],
)
def test_rejected_with_the_key_named(tmp_path, text, message):
    with pytest.raises(config.ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        config.load(write(tmp_path, text))


def test_cli_config_error_exits_2_with_one_line(tmp_path):
    done = run_cli("audit", write(tmp_path, "polices: []\n"))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "unknown key 'polices'" in done.stderr


def test_unknown_probe_settings_and_overrides_are_rejected(tmp_path):
    done = run_cli("audit", write(tmp_path, "probes: {nosuch: {a: 1}}\n"))
    assert done.returncode == 2 and "no installed probe is named nosuch" in done.stderr
    done = run_cli("audit", write(tmp_path, "severity: {pd.no-such-item: low}\n"))
    assert done.returncode == 2 and "no item pd.no-such-item" in done.stderr


def test_init_writes_a_template_that_loads(tmp_path):
    done = run_cli("init", tmp_path)
    assert done.returncode == 0, done.stderr
    cfg = config.load(tmp_path)
    assert cfg.source and cfg.policies == config.DEFAULT_POLICIES
    assert yaml.safe_load((tmp_path / ".readiness.yaml").read_text())["version"] == 1
    again = run_cli("init", tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr
