"""The policy packs cover both checklists item by item, and name only real or planned checks."""

from __future__ import annotations

import re

import pytest
from conftest import CHECKLISTS

from readiness.policy import builtin_pack_names, load_pack, load_packs, planned_checks
from readiness.probe import load_probes

CHECKBOX = re.compile(r"^- \[ \] (.+)$")


def checklist_lines(name: str) -> list[tuple[str, str]]:
    """(section title, item title) for every checkbox line, with sections as the packs spell them."""
    out = []
    h2 = h3 = None
    for line in (CHECKLISTS / name).read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            h2, h3 = line[3:].strip(), None
        elif line.startswith("### "):
            h3 = line[4:].strip()
        elif m := CHECKBOX.match(line):
            if name.startswith("production"):
                section = re.sub(r"^\d+\.\s+", "", h3).removesuffix(" ✓ Complete")
            else:
                section = f"{h2} / {h3}" if h3 else h2
            out.append((section, m.group(1)))
    return out


@pytest.mark.parametrize(
    ("pack_name", "checklist", "count"),
    [
        ("production-deployment", "production-deployment-checklist.md", 141),
        ("devops-deployment", "devops-deployment-checklist.md", 124),
    ],
)
def test_every_checkbox_is_exactly_one_item(pack_name, checklist, count):
    lines = checklist_lines(checklist)
    assert len(lines) == count
    pack = load_pack(pack_name)
    assert len(pack.items) == count
    items = [(pack.section(i.section).title, i.title) for i in pack.items]
    # Same lines, same order, each exactly once.
    assert items == lines


def test_item_ids_unique_across_packs():
    packs = load_packs(builtin_pack_names())
    ids = [i.id for p in packs for i in p.items]
    assert len(ids) == len(set(ids)) == 265


def test_every_named_check_exists_or_is_planned_and_every_check_is_used():
    offered = {c.id for cls in load_probes() for c in cls.checks}
    planned = set(planned_checks())
    named = {c for p in load_packs(builtin_pack_names()) for i in p.items if i.evidence for c in i.evidence.checks()}
    assert named - offered - planned == set(), "checks named by items but neither offered nor planned"
    assert offered - named == set(), "probe checks that no item uses"
    assert planned - named == set(), "planned checks that no item uses"
    assert offered & planned == set(), "implemented checks still listed as planned in roadmap.yaml"


def test_signoff_blocks_are_manual_with_their_role():
    pack = load_pack("production-deployment")
    roles = {
        "Technical Lead Sign-Off": "Technical Lead",
        "Security Officer Sign-Off": "Security Officer",
        "Operations Lead Sign-Off": "Operations Lead",
        "Product Owner Sign-Off": "Product Owner",
    }
    signoff = [i for i in pack.items if pack.section(i.section).title in roles]
    assert len(signoff) == 15
    for item in signoff:
        assert item.manual and item.manual.role == roles[pack.section(item.section).title]


def test_secret_file_items_are_decided_by_the_secret_files_probe():
    prod = {i.title: i for i in load_pack("production-deployment").items}
    assert "secret_files.owner_only" in prod["All secret files have 600 permissions"].evidence.checks()
    devops = {i.title: i for i in load_pack("devops-deployment").items}
    assert "secret_files.not_tracked" in devops["Never commit secrets to version control"].evidence.checks()


def test_critical_severities_where_a_breach_follows():
    prod = {i.title: i for i in load_pack("production-deployment").items}
    for title in (
        "No hardcoded credentials in any configuration files",
        "All containers running as non-root users",
        "TLS 1.2+ only, strong cipher suites",
    ):
        assert prod[title].severity == "critical", title
