"""Verdicts: an item passes only on passing evidence; silence, errors and gaps never pass."""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from readiness.evaluate import evaluate, gate_failures
from readiness.model import Observation, Severity, Status, Strength, Subject, VerdictStatus
from readiness.policy import parse_pack

PACK = """
pack: demo
version: 1
title: Demo
sections:
  - {id: "1", title: One}
  - {id: "2", title: Two}
items:
  - {id: d.all, title: All, section: "1", severity: critical, evidence: {all: [p.a, p.b]}}
  - {id: d.any, title: Any, section: "1", severity: high, evidence: {any: [p.a, p.b]}}
  - {id: d.nested, title: Nested, section: "1", severity: low, evidence: {all: [p.a, {any: [p.b, p.c]}]}}
  - {id: d.strong, title: Strong, section: "1", severity: medium, evidence: {all: [p.a], min_strength: live}}
  - {id: d.planned, title: Planned, section: "1", severity: critical, evidence: {all: [p.a, future.x]}}
  - {id: d.manual, title: Manual, section: "1", severity: high, manual: {role: Security Officer}}
  - {id: d.rollup, title: Rollup, section: "2", severity: high, rollup: {sections: ["1"]}}
"""
OFFERED = {"p.a", "p.b", "p.c"}
PLANNED = {"future.x": {"probe": "future", "title": "later"}}
TODAY = dt.date(2026, 11, 22)


def obs(check, status, strength=Strength.DECLARED, production=True, path="f.yml"):
    return Observation(
        check, Status(status), Subject(path=path, line=3), f"{check} {status}", strength, production=production
    )


def verdicts(observations, attestations=()):
    pack = parse_pack(PACK, "demo.yaml")
    out, _ = evaluate(
        [pack], sorted(observations, key=Observation.sort_key), OFFERED, PLANNED, list(attestations), {}, TODAY
    )
    return {v.item_id: v for v in out}


def test_all_any_nested():
    v = verdicts([obs("p.a", "pass"), obs("p.b", "fail"), obs("p.c", "pass")])
    assert v["d.all"].status is VerdictStatus.FAIL
    assert "f.yml:3" in v["d.all"].reason
    assert v["d.any"].status is VerdictStatus.PASS
    assert v["d.nested"].status is VerdictStatus.PASS


def test_one_failing_subject_fails_the_check_even_beside_passes():
    v = verdicts([obs("p.a", "pass"), obs("p.a", "fail", path="g.yml"), obs("p.b", "pass")])
    assert v["d.all"].status is VerdictStatus.FAIL


def test_error_makes_item_unknown_and_errored_and_fails_the_gate():
    v = verdicts([obs("p.a", "error"), obs("p.b", "pass")])
    assert v["d.all"].status is VerdictStatus.UNKNOWN and v["d.all"].errored
    assert v["d.any"].status is VerdictStatus.PASS  # another check proved it
    failing = gate_failures(list(v.values()), Severity.CRITICAL, False)
    assert {f.item_id for f in failing} == {"d.all", "d.planned"}  # both rest on the errored check


def test_non_production_observations_do_not_decide():
    v = verdicts([obs("p.a", "pass", production=False), obs("p.b", "pass")])
    assert v["d.all"].status is VerdictStatus.UNKNOWN


def test_not_applicable_only_when_nothing_applies():
    v = verdicts([obs("p.a", "not_applicable"), obs("p.b", "not_applicable")])
    assert v["d.all"].status is VerdictStatus.NOT_APPLICABLE
    v = verdicts([obs("p.a", "not_applicable"), obs("p.b", "pass")])
    assert v["d.all"].status is VerdictStatus.PASS


def test_min_strength():
    assert verdicts([obs("p.a", "pass")])["d.strong"].status is VerdictStatus.UNKNOWN
    v = verdicts([obs("p.a", "pass"), obs("p.a", "pass", Strength.LIVE, path="h")])["d.strong"]
    assert v.status is VerdictStatus.PASS and v.strength is Strength.LIVE


def test_planned_check_keeps_item_unknown_with_reason():
    v = verdicts([obs("p.a", "pass")])["d.planned"]
    assert v.status is VerdictStatus.UNKNOWN
    assert "no probe implements future.x yet" in v.reason
    assert not v.errored


def test_rollup_and_manual():
    v = verdicts([obs("p.a", "pass"), obs("p.b", "pass"), obs("p.c", "pass")])
    assert v["d.manual"].status is VerdictStatus.MANUAL
    assert "Security Officer" in v["d.manual"].reason
    assert v["d.rollup"].status is VerdictStatus.UNKNOWN  # planned and manual items are open
    v = verdicts([obs("p.a", "fail")])
    assert v["d.rollup"].status is VerdictStatus.FAIL


def test_gate_thresholds_and_attestation_requirement():
    v = list(verdicts([obs("p.a", "pass"), obs("p.b", "fail")]).values())
    assert {f.item_id for f in gate_failures(v, Severity.CRITICAL, False)} == {"d.all"}
    assert {f.item_id for f in gate_failures(v, Severity.LOW, False)} == {"d.all", "d.rollup"}
    assert {f.item_id for f in gate_failures(v, Severity.HIGH, True)} == {"d.all", "d.manual", "d.rollup"}
    assert gate_failures(v, None, True) == []


STATUSES = st.sampled_from([s.value for s in Status])
OBSERVATIONS = st.lists(
    st.tuples(st.sampled_from(sorted(OFFERED)), STATUSES, st.booleans(), st.sampled_from(list(Strength))),
    max_size=8,
)


@given(OBSERVATIONS)
def test_no_item_passes_without_a_passing_production_observation_behind_it(raw):
    observations = sorted((obs(c, s, strength, prod) for c, s, prod, strength in raw), key=Observation.sort_key)
    pack = parse_pack(PACK, "demo.yaml")
    out, _ = evaluate([pack], observations, OFFERED, PLANNED, [], {}, TODAY)
    for v in out:
        if v.status is VerdictStatus.PASS and v.item_id != "d.rollup":
            behind = [observations[i] for i in v.observations]
            assert any(o.status is Status.PASS and o.production for o in behind), v
    by_id = {v.item_id: v for v in out}
    production = [o for o in observations if o.production and o.check in ("p.a", "p.b")]
    if by_id["d.all"].status is VerdictStatus.PASS:
        assert not any(o.status in (Status.FAIL, Status.ERROR, Status.UNKNOWN) for o in production)


def test_waived_failures_fold_between_unknown_and_pass():
    # a waived failure beside passes: waived, not passed; a real failure or an unknown still decides
    v = verdicts([obs("p.a", "waived"), obs("p.a", "pass", path="g.yml"), obs("p.b", "pass"), obs("p.c", "pass")])
    assert v["d.all"].status is VerdictStatus.WAIVED and v["d.nested"].status is VerdictStatus.WAIVED
    assert v["d.any"].status is VerdictStatus.PASS  # another check proves it
    assert verdicts([obs("p.a", "waived"), obs("p.a", "fail", path="g")])["d.all"].status is VerdictStatus.FAIL
    assert verdicts([obs("p.a", "waived"), obs("p.b", "unknown")])["d.all"].status is VerdictStatus.UNKNOWN
    # with `any`, an accepted alternative counts as a passing one would, and stays visible
    assert verdicts([obs("p.a", "waived"), obs("p.b", "fail")])["d.any"].status is VerdictStatus.WAIVED
    # the roll-up sees the waived item, and the gate does not fail on it
    v = verdicts([obs("p.a", "waived"), obs("p.b", "pass"), obs("p.c", "pass")])
    assert v["d.rollup"].status is not VerdictStatus.FAIL and v["d.all"].status is VerdictStatus.WAIVED
    assert "d.all" not in {f.item_id for f in gate_failures(list(v.values()), Severity.LOW, False)}


def test_an_item_hook_turns_a_failing_item_into_a_waived_one_before_the_rollups():
    asked = []

    def waive(v):
        asked.append(v.item_id)
        return dataclasses.replace(v, status=VerdictStatus.WAIVED, waiver={"reason": "accepted"})

    observations = [obs("p.a", "pass"), obs("p.b", "fail"), obs("p.c", "pass")]
    out, _ = evaluate([parse_pack(PACK, "demo.yaml")], observations, OFFERED, PLANNED, [], {}, TODAY, waive=waive)
    by_id = {v.item_id: v for v in out}
    assert sorted(asked) == ["d.all"]  # asked only about failing items
    assert by_id["d.all"].status is VerdictStatus.WAIVED and by_id["d.all"].waiver == {"reason": "accepted"}
    assert by_id["d.any"].status is VerdictStatus.PASS
    assert by_id["d.rollup"].status is VerdictStatus.UNKNOWN  # not failing: d.planned and d.manual are open
