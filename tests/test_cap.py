"""Findings capped per check (readiness.cap): the report stays proportionate and no verdict changes."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from readiness.cap import Cap
from readiness.evaluate import check_result
from readiness.model import Observation, Status, Subject

CHECKS = ("p.a", "p.b")


@given(
    st.lists(st.tuples(st.sampled_from(CHECKS), st.sampled_from(list(Status)), st.booleans()), max_size=40),
    st.integers(min_value=1, max_value=3),
    st.booleans(),
)
def test_capping_never_changes_a_verdict(rows, limit, existential):
    observations = [
        Observation(check, status, Subject(path=f"f{i}.yml"), "m", production=production)
        for i, (check, status, production) in enumerate(rows)
    ]
    cap = Cap(limit)
    kept = [o for o in observations if cap.admit(o)]
    assert len(kept) + sum(cap.left_out.values()) == len(observations)
    flagged = frozenset(CHECKS) if existential else frozenset()
    for check in CHECKS:
        full = check_result(check, observations, set(CHECKS), {}, flagged)
        capped = check_result(check, kept, set(CHECKS), {}, flagged)
        assert (capped.status, capped.errored) == (full.status, full.errored)


def test_a_million_findings_of_one_kind_make_a_proportionate_report(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    # random at run time, never committed ("fake" in the value would make the scanner call it a placeholder)
    lines = "".join(f"DB_PASSWORD_{i}=Zx{secrets.token_hex(8)}\n" for i in range(30_000))
    (repo / "settings.env").write_text(lines)
    done = subprocess.run(
        [sys.executable, "-m", "readiness", "audit", str(repo), "--format", "json"], capture_output=True, timeout=600
    )
    assert done.returncode == 1, done.stderr.decode(errors="replace")
    report = json.loads(done.stdout)
    found = [o for o in report["observations"] if o["check"] == "secrets.no_hardcoded"]
    assert 0 < len(found) <= 500 and {o["status"] for o in found} == {"fail"}
    notes = [g["reason"] for g in report["coverage"]["gaps"] if g["reason"].startswith("secrets.no_hardcoded:")]
    assert notes and "more observations not listed (at most 500 per check and status)" in notes[0]
    left_out = int(notes[0].split(": ")[1].split(" ")[0].replace(",", ""))
    assert left_out > 20_000  # found, counted, only not listed
