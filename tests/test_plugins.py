"""A third-party probe plugs in through the entry-point group, exactly like the built-in ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

PLUGIN = """
from readiness.model import Check, Status, Subject
from readiness.probe import Claim, CliOption, Probe


class MotdProbe(Probe):
    name = "acme_motd"
    version = "1.0"
    claims = (Claim(("motd.txt",)),)
    checks = (Check("acme_motd.polite", "The motd is polite", "Manners.", "Say please."),)
    settings_schema = {"type": "object", "additionalProperties": False, "properties": {"word": {"type": "string"}}}
    cli_options = (CliOption("--motd-word", "Word that makes a motd polite", ("probes", "acme_motd", "word")),)

    def run(self, ctx):
        word = ctx.settings.get("word", "please")
        for art in ctx.artifacts:
            with ctx.guard(art):
                text = ctx.read_text(art)
                status = Status.PASS if word in text else Status.FAIL
                yield ctx.observe("acme_motd.polite", status, Subject(path=art.path, line=1), text.strip()[:20])


class CrashingProbe(Probe):
    name = "acme_crash"
    version = "1.0"
    checks = (Check("acme_crash.works", "Never works", "Tests crashes.", "None."),)

    def run(self, ctx):
        raise RuntimeError("plugin bug")
"""

PACK = """
pack: acme
version: 1
title: ACME
sections: [{id: "1", title: One}]
items:
  - {id: acme.motd, title: Polite motd, section: "1", severity: low, evidence: {all: [acme_motd.polite]}}
  - {id: acme.crash, title: Crashes, section: "1", severity: critical, evidence: {all: [acme_crash.works]}}
"""


def install_plugin(where: Path) -> dict[str, str]:
    (where / "acme_probe.py").write_text(PLUGIN)
    dist = where / "acme_probe-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-probe\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[readiness.probes]\nacme_motd = acme_probe:MotdProbe\nacme_crash = acme_probe:CrashingProbe\n"
    )
    return {**os.environ, "PYTHONPATH": str(where)}


def test_third_party_probe_is_discovered_and_a_crash_becomes_data(tmp_path):
    env = install_plugin(tmp_path)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "motd.txt").write_text("Welcome, please wipe your feet\n")
    (tmp_path / "acme.yaml").write_text(textwrap.dedent(PACK))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "readiness",
            "audit",
            str(repo),
            "--policy",
            str(tmp_path / "acme.yaml"),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    report = json.loads(done.stdout)
    items = {i["id"]: i for i in report["items"]}
    assert items["acme.motd"]["status"] == "pass"
    crash = items["acme.crash"]
    assert crash["status"] == "unknown" and crash["errored"]
    assert "crashed: RuntimeError: plugin bug" in crash["reason"]
    assert done.returncode == 1  # fail closed: a critical item's probe errored
    assert {"acme_motd", "acme_crash", "secret_files"} <= {p["name"] for p in report["probes"]}

    strict = subprocess.run(
        [
            sys.executable,
            "-m",
            "readiness",
            "audit",
            str(repo),
            "--policy",
            str(tmp_path / "acme.yaml"),
            "--format",
            "json",
            "--motd-word",
            "kindly",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert {i["id"]: i for i in json.loads(strict.stdout)["items"]}["acme.motd"]["status"] == "fail"
    helped = subprocess.run(
        [sys.executable, "-m", "readiness", "audit", "--help"], capture_output=True, text=True, env=env, timeout=60
    )
    assert "--motd-word" in helped.stdout and "probes.acme_motd.word" in helped.stdout

    listed = subprocess.run(
        [sys.executable, "-m", "readiness", "list", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert "acme_motd.polite" in listed.stdout
