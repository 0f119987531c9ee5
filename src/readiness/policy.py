"""Policy packs: checklist items as data, and the checks that decide them.

A pack is a YAML file (built-in ones live in ``policies/``). Each item is
decided by exactly one of: ``evidence`` (an all/any expression over check
ids), ``rollup`` (the items of other sections), or ``manual`` (a named role
attests it). ``policies/roadmap.yaml`` lists the checks that items name but no
probe implements yet, so a typo is told apart from planned work.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from . import config as config_mod
from .model import Severity, Strength


def _load_yaml(text: str) -> Any:
    """libyaml when PyYAML has it: the packs are read on every audit, and the pure-Python loader
    took most of an empty repository's audit. Imported here, not at start-up."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


class PolicyError(Exception):
    pass


@dataclass(frozen=True)
class CheckRef:
    check: str

    def checks(self) -> list[str]:
        return [self.check]


@dataclass(frozen=True)
class AllOf:
    terms: tuple[Expr, ...]

    def checks(self) -> list[str]:
        return [c for t in self.terms for c in t.checks()]


@dataclass(frozen=True)
class AnyOf:
    terms: tuple[Expr, ...]

    def checks(self) -> list[str]:
        return [c for t in self.terms for c in t.checks()]


Expr = CheckRef | AllOf | AnyOf


@dataclass(frozen=True)
class Manual:
    role: str
    attest: str
    valid_days: int


@dataclass(frozen=True)
class Section:
    id: str
    title: str


@dataclass(frozen=True)
class Item:
    id: str
    title: str
    section: str
    severity: Severity
    rationale: str
    evidence: Expr | None = None
    min_strength: Strength | None = None
    rollup: tuple[str, ...] | None = None
    manual: Manual | None = None

    @property
    def kind(self) -> str:
        return "manual" if self.manual else "rollup" if self.rollup else "evidence"


@dataclass(frozen=True)
class Pack:
    name: str
    version: int
    title: str
    source: str
    sha256: str
    sections: tuple[Section, ...]
    items: tuple[Item, ...]

    def section(self, section_id: str) -> Section:
        return next(s for s in self.sections if s.id == section_id)


def _expr(data: Any) -> Expr:
    if isinstance(data, str):
        return CheckRef(data)
    if "all" in data:
        return AllOf(tuple(_expr(t) for t in data["all"]))
    return AnyOf(tuple(_expr(t) for t in data["any"]))


def _schema() -> dict[str, Any]:
    return json.loads(_schema_text())


def _schema_text() -> str:
    return resources.files("readiness").joinpath("schema/policy.schema.json").read_text()


def _validate(data: Any, text: str, source: str) -> None:
    """Validate a pack against the schema, once per pack text: a pack that passed is remembered in the
    parse cache (keyed by its bytes, the schema's and jsonschema's version), so an audit with the
    built-in packs neither imports jsonschema nor walks the packs again (a fifth of an empty audit)."""
    from importlib.metadata import version

    from . import cache

    checked_by = hashlib.sha256(_schema_text().encode()).hexdigest()[:16] + "+" + version("jsonschema")
    if cache.get("policy-schema", checked_by, text.encode())[0]:
        return
    try:
        config_mod.validate(data, _schema(), source)
    except config_mod.ConfigError as exc:
        raise PolicyError(str(exc)) from exc
    cache.put("policy-schema", checked_by, text.encode(), True)


def parse_pack(text: str, source: str, trusted: bool = False) -> Pack:
    """A pack from its YAML. Built-in packs (``trusted``) are read with libyaml for speed; a pack file a user
    names goes through the bounded loader, as every other input does."""
    import yaml

    from . import safe_load

    try:
        data = _load_yaml(text) if trusted else safe_load.load_yaml(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: {safe_load.describe_error(exc)}") from None
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: not a policy pack (a mapping with sections and items)")
    _validate(data, text, source)
    valid_days = data.get("attestation_valid_days", 90)
    section_ids = {s["id"] for s in data["sections"]}
    items: list[Item] = []
    seen: set[str] = set()
    for raw in data["items"]:
        if raw["id"] in seen:
            raise PolicyError(f"{source}: item id {raw['id']} appears twice")
        seen.add(raw["id"])
        if raw["section"] not in section_ids:
            raise PolicyError(f"{source}: item {raw['id']} names unknown section {raw['section']!r}")
        manual = raw.get("manual")
        evidence = raw.get("evidence")
        rollup = raw.get("rollup")
        if rollup and not set(rollup["sections"]) <= section_ids:
            raise PolicyError(f"{source}: item {raw['id']} rolls up an unknown section")
        items.append(
            Item(
                id=raw["id"],
                title=raw["title"],
                section=raw["section"],
                severity=Severity(raw["severity"]),
                rationale=raw.get("rationale", ""),
                evidence=_expr(evidence) if evidence else None,
                min_strength=Strength(evidence["min_strength"]) if evidence and "min_strength" in evidence else None,
                rollup=tuple(rollup["sections"]) if rollup else None,
                manual=Manual(
                    role=manual["role"],
                    attest=manual.get("attest", ""),
                    valid_days=manual.get("valid_days", valid_days),
                )
                if manual
                else None,
            )
        )
    return Pack(
        name=data["pack"],
        version=data["version"],
        title=data["title"],
        source=data.get("source", source),
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        sections=tuple(Section(s["id"], s["title"]) for s in data["sections"]),
        items=tuple(items),
    )


def builtin_pack_names() -> list[str]:
    base = resources.files("readiness.policies")
    return sorted(
        p.name.removesuffix(".yaml") for p in base.iterdir() if p.name.endswith(".yaml") and p.name != "roadmap.yaml"
    )


def load_pack(name: str) -> Pack:
    """A built-in pack by name, or a pack file by path."""
    if name.endswith((".yaml", ".yml")) or "/" in name:
        from . import safe_load

        path = Path(name)
        try:
            text = safe_load.read_bounded(path, safe_load.CONFIG_MAX_BYTES).decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"{name}: cannot read policy pack: {safe_load.describe_error(exc)}") from None
        return parse_pack(text, str(path))
    if name not in builtin_pack_names():
        raise PolicyError(f"unknown policy pack {name!r} (built in: {', '.join(builtin_pack_names())})")
    text = resources.files("readiness.policies").joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return parse_pack(text, f"{name}.yaml", trusted=True)


def load_packs(names: list[str] | tuple[str, ...]) -> list[Pack]:
    packs = [load_pack(n) for n in names]
    ids: dict[str, str] = {}
    for pack in packs:
        for item in pack.items:
            if ids.setdefault(item.id, pack.name) != pack.name:
                raise PolicyError(f"item id {item.id} is in both {ids[item.id]} and {pack.name}")
    return packs


def with_max_validity(packs: list[Pack], days: int | None) -> list[Pack]:
    """``packs`` with every manual item's attestation validity capped at ``days`` (the configuration's
    ``attestation_max_days``): an organisation may be stricter than a pack, never looser."""
    if days is None:
        return packs
    out = []
    for pack in packs:
        items = tuple(
            dataclasses.replace(i, manual=dataclasses.replace(i.manual, valid_days=min(i.manual.valid_days, days)))
            if i.manual and i.manual.valid_days > days
            else i
            for i in pack.items
        )
        out.append(dataclasses.replace(pack, items=items))
    return out


def planned_checks() -> dict[str, dict[str, str]]:
    """Checks that items name and no probe implements yet: {check id: {probe, title}}."""
    text = resources.files("readiness.policies").joinpath("roadmap.yaml").read_text(encoding="utf-8")
    return dict((_load_yaml(text) or {}).get("planned_checks") or {})
