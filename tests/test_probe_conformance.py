"""Every installed probe keeps the interface's promises (as pre-commit tests every language module)."""

from __future__ import annotations

import pytest

from readiness.probe import Probe, load_probes

PROBES = load_probes()


@pytest.mark.parametrize("cls", PROBES, ids=[c.name for c in PROBES])
def test_probe_declares_its_checks_as_data(cls: type[Probe]):
    prefix = (cls.check_prefix or cls.name) + "."
    assert cls.checks, "a probe offers at least one check"
    for check in cls.checks:
        assert check.id.startswith(prefix), f"{check.id} does not start with {prefix}"
        assert check.title and check.rationale and check.remediation, check.id
        assert check.title != check.rationale, check.id
    assert cls.existential_checks <= cls.check_ids(), cls.existential_checks - cls.check_ids()
    assert cls.version and cls.description and cls.kind in ("static", "live")


def test_no_two_probes_share_a_check_prefix():
    prefixes = [c.check_prefix or c.name for c in PROBES]
    assert len(prefixes) == len(set(prefixes))


def test_every_check_has_its_own_rationale():
    for cls in PROBES:
        rationales = [c.rationale for c in cls.checks]
        assert len(rationales) == len(set(rationales)), cls.name
