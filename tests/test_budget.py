"""Time budgets (readiness.budget): a probe, or its work on one file, that overruns becomes error observations.

The slow probes here are plugins of the kind any package can register: they sleep where a real probe
would be stuck in a parser or on a socket, and swallow every ``Exception`` as a careless probe might.
"""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys
import threading
import time

import pytest

from readiness import budget, runner
from readiness.config import Config
from readiness.model import Check, Status, Subject
from readiness.probe import Claim, Probe

PACK = """
pack: t
version: 1
title: T
sections: [{id: "1", title: One}]
items:
  - {id: t.a, title: A, section: "1", severity: critical, evidence: {all: [slow.a]}}
  - {id: t.b, title: B, section: "1", severity: critical, evidence: {all: [slow.b]}}
"""


def _sleep_swallowing(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with contextlib.suppress(Exception):  # a careless probe: the budget must still win
            time.sleep(0.05)


class SlowFileProbe(Probe):
    name = "slow"
    version = "1"
    claims = (Claim(("*.slow",)),)
    checks = (Check("slow.a", "A", "r", "fix"), Check("slow.b", "B", "r", "fix"))

    def run(self, ctx):
        for art in sorted(ctx.artifacts, key=lambda a: a.path):
            with ctx.guard(art):
                if "stuck" in art.path:
                    _sleep_swallowing(120)
                yield ctx.observe("slow.a", Status.PASS, Subject(path=art.path), "fine")
                yield ctx.observe("slow.b", Status.PASS, Subject(path=art.path), "fine")


class StuckProbe(SlowFileProbe):
    def run(self, ctx):
        yield ctx.observe("slow.a", Status.PASS, Subject(path="a.slow"), "fine before it got stuck")
        _sleep_swallowing(120)
        yield ctx.observe("slow.b", Status.PASS, Subject(path="a.slow"), "never reached")


@pytest.fixture
def audit(monkeypatch, tmp_path):
    (tmp_path / "pack.yaml").write_text(PACK)

    def run(probe, root, **time_budget):
        monkeypatch.setattr(runner, "load_probes", lambda: [probe])
        config = Config(time_budget=time_budget)
        # Had the budget not cut the sleeps (120 s), the observations would pass instead of err.
        report = runner.audit(root, config, policies=[str(tmp_path / "pack.yaml")])
        return report, {v.item_id: v for v in report.verdicts}

    return run


def test_a_file_over_its_budget_is_an_error_and_the_probe_goes_on(audit, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.slow").write_text("x")
    (repo / "stuck.slow").write_text("x")
    report, items = audit(SlowFileProbe, repo, file_seconds=0.5)
    by_file = {(o.subject.path, o.check): o for o in report.observations if o.subject.path}
    assert by_file[("a.slow", "slow.a")].status is Status.PASS
    stuck = by_file[("stuck.slow", "slow.a")]
    assert stuck.status is Status.ERROR
    assert stuck.message == "not finished within the per-file time budget of 0.5 s"
    assert items["t.a"].status != "pass" and items["t.b"].status != "pass"


def test_a_probe_over_its_budget_keeps_what_it_saw_and_errs_on_every_check(audit, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.slow").write_text("x")
    report, items = audit(StuckProbe, repo, probe_seconds=1)
    statuses = {(o.check, o.status) for o in report.observations}
    assert (("slow.a", Status.PASS)) in statuses  # what it observed in time stands
    errors = [o for o in report.observations if o.status is Status.ERROR]
    assert {o.check for o in errors} == {"slow.a", "slow.b"}
    assert (
        errors[0].message
        == "probe slow did not finish within its time budget of 1 s: the rest of its work was not done"
    )
    assert items["t.a"].status != "pass" and items["t.b"].status != "pass"
    assert report.probes[0].crashed == "time budget of 1 s exhausted"


def test_zero_disables_the_budget(audit, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.slow").write_text("x")
    report, items = audit(SlowFileProbe, repo, file_seconds=0, probe_seconds=0)
    assert items["t.a"].status == "pass"


def test_an_exchange_that_trickles_is_cut_at_its_deadline():
    """A real server sending one byte every 0.2 s: each recv returns in time, the exchange does not."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle():
        conn, _ = listener.accept()
        with conn:
            while not stop.wait(0.2):
                conn.sendall(b"x")

    threading.Thread(target=trickle, daemon=True).start()
    try:
        with (
            socket.create_connection(listener.getsockname(), timeout=1) as sock,
            pytest.raises(budget.ExchangeTimeout, match=r"no complete answer within 1 s"),
            budget.exchange(1, "trickle"),
        ):
            while sock.recv(1):
                pass
    finally:
        stop.set()
        listener.close()


def test_time_budget_in_the_configuration_is_validated(tmp_path):
    (tmp_path / ".readiness.yaml").write_text("time_budget:\n  probe_seconds: soon\n")
    done = subprocess.run([sys.executable, "-m", "readiness", "audit", str(tmp_path)], capture_output=True, timeout=120)
    assert done.returncode == 2
    assert re.fullmatch(rb"readiness: .*time_budget\.probe_seconds: expected number, found a string\n", done.stderr)
