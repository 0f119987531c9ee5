"""Ansible: playbooks, roles and an inventory are present and parse (presence only, no deep checks).

A playbook is a YAML list of plays (``hosts`` with ``tasks``/``roles``, or
``import_playbook``); a role is ``roles/<name>/tasks/main.yml``; an inventory
is an ``inventory``/``hosts`` file or folder, or the path ``ansible.cfg``
names. YAML is read with PyYAML through ``readiness.yaml_lines``; Ansible's
own tags (``!vault``, ``!unsafe``) are accepted as opaque values.
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Iterator
from typing import Any

import yaml

from readiness.model import Artifact, Check, Observation, Status, Subject
from readiness.probe import Claim, Probe, ProbeContext
from readiness.yaml_lines import LineLoader, error_line

CONFIG_MANAGEMENT_PRESENT = Check(
    id="ansible.config_management_present",
    title="Hosts are configured by Ansible playbooks or roles that parse, with an inventory",
    rationale="Configuration applied by code is reviewable and repeatable; a playbook that does not parse "
    "or has no inventory to run against configures nothing.",
    remediation="Keep the playbooks and roles that configure the hosts in the repository, fix any that do "
    "not parse (ansible-playbook --syntax-check), and keep the inventory beside them (or name it in ansible.cfg).",
)

PLAY_KEYS = ("tasks", "roles", "pre_tasks", "post_tasks", "handlers")
ROLE_TASKS = ("roles/*/tasks/main.yml", "roles/*/tasks/main.yaml")
INVENTORY_GLOBS = (
    "inventory",
    "inventory/**",
    "inventories/**",
    "hosts",
    "hosts.ini",
    "hosts.yml",
    "hosts.yaml",
    "inventory.ini",
    "inventory.yml",
    "inventory.yaml",
    "*.inventory",
)
# Code under a folder named inventory (an application's src/inventory/) is no inventory: Ansible runs a
# file there only when it is executable (a dynamic inventory script) and reads no other code.
SOURCE_SUFFIXES = (".py", ".js", ".jsx", ".ts", ".tsx", ".go", ".java", ".kt", ".rb", ".php", ".rs", ".cs", ".scala")
LISTED = 20  # paths named in each observation's facts: every observation listing every file is quadratic
# A playbook's first lines: a play with `hosts:` and a task-ish key, or an import.
# Anchored at the start: the lookaheads see the whole head from there, so where they hold at all they
# hold at \A; unanchored, a search retried them at every offset (quadratic: 1.6 ms per 8 KiB YAML head).
PLAYBOOK_SNIFF = re.compile(
    rb"(?s)\A(?=.*^(?:- |  )hosts\s*:)(?=.*^(?:- |  )(?:tasks|roles|pre_tasks)\s*:)|^- import_playbook\s*:", re.M
)


class _AnsibleLoader(LineLoader):  # type: ignore[misc, valid-type]
    """The line-keeping loader; Ansible's tags become their plain scalar (never a secret written out)."""


def _opaque(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    return f"<!{suffix}>" if isinstance(node, yaml.ScalarNode) else None


_AnsibleLoader.add_multi_constructor("!", _opaque)


def _kind(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    if name == "ansible.cfg":
        return "config"
    if re.search(r"(^|/)roles/[^/]+/tasks/main\.ya?ml$", path):
        return "role"
    if Claim(INVENTORY_GLOBS).spec().match_file(path):
        return "inventory"
    return "playbook"


def is_playbook(doc: Any) -> bool:
    """A non-empty list of plays, each a mapping with ``hosts`` or an ``import_playbook``."""
    return (
        isinstance(doc, list)
        and bool(doc)
        and all(
            isinstance(p, dict) and ("hosts" in p or "import_playbook" in p or "ansible.builtin.import_playbook" in p)
            for p in doc
        )
    )


def _cfg_inventory(text: str) -> list[str]:
    """The inventory paths ansible.cfg names under [defaults]; raises configparser.Error when malformed."""
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"))
    parser.read_string(text)
    value = parser.get("defaults", "inventory", fallback="") or parser.get("defaults", "hostfile", fallback="")
    return [p.strip().removeprefix("./").rstrip("/") for p in value.split(",") if p.strip()]


class AnsibleProbe(Probe):
    name = "ansible"
    version = "0.1.0"
    description = "Ansible playbooks, roles and inventory: present and parseable."
    claims = (
        Claim(("*.yml", "*.yaml"), sniff=PLAYBOOK_SNIFF),
        Claim(ROLE_TASKS + INVENTORY_GLOBS + ("ansible.cfg",)),
    )
    checks = (CONFIG_MANAGEMENT_PRESENT,)

    def run(self, ctx: ProbeContext) -> Iterator[Observation]:
        found: dict[str, list[str]] = {"playbook": [], "role": [], "inventory": [], "config": []}
        cfg_inventory: list[str] = []
        code_in_inventory_folders = 0
        for art in ctx.artifacts:
            kind = _kind(art.path)
            if kind == "inventory" and art.path.endswith(SOURCE_SUFFIXES) and not art.mode & 0o111:
                code_in_inventory_folders += 1
                continue
            with ctx.guard(art):
                text = ctx.read_text(art)
                if kind == "config":
                    try:
                        cfg_inventory += _cfg_inventory(text)
                    except configparser.Error as exc:
                        line = getattr(exc, "lineno", None)
                        reason = f"malformed ansible.cfg: {str(exc).splitlines()[0]}"
                        ctx.emitted.extend(ctx.errors(Subject(path=art.path, line=line), reason))
                        continue
                elif kind != "inventory" or art.path.endswith((".yml", ".yaml")):
                    outcome = self._yaml(ctx, art, kind, text)
                    if isinstance(outcome, Observation):
                        yield outcome
                    if outcome is not True:
                        continue
                found[kind].append(art.path)
        inventories = found["inventory"] + [p for p in cfg_inventory if self._exists(ctx, p)]
        if code_in_inventory_folders and not any(found.values()):
            yield ctx.observe(
                CONFIG_MANAGEMENT_PRESENT.id,
                CONFIG_MANAGEMENT_PRESENT.when_absent,
                Subject(),
                f"no Ansible playbook, role, inventory or ansible.cfg ({code_in_inventory_folders} source files "
                "in folders named inventory are application code, not inventories)",
            )
        yield from self._summary(ctx, found, sorted(set(inventories)), cfg_inventory)

    def _yaml(self, ctx: ProbeContext, art: Artifact, kind: str, text: str) -> Observation | bool:
        """True when the file parses as its kind; False when errors were emitted; else why it does not count."""
        try:
            doc = yaml.load(text, Loader=_AnsibleLoader)
        except yaml.YAMLError as exc:
            reason = f"malformed YAML: {getattr(exc, 'problem', None) or exc}"
            ctx.emitted.extend(ctx.errors(Subject(path=art.path, line=error_line(exc)), reason))
            return False
        if kind == "playbook" and not is_playbook(doc):
            return ctx.observe(
                CONFIG_MANAGEMENT_PRESENT.id,
                Status.NOT_APPLICABLE,
                Subject(path=art.path),
                "YAML mentions hosts and tasks but is not a list of plays: not a playbook",
            )
        if kind == "role" and not (doc is None or isinstance(doc, list)):
            reason = "a role's tasks/main.yml must be a list of tasks"
            ctx.emitted.extend(ctx.errors(Subject(path=art.path, line=1), reason))
            return False
        return True

    @staticmethod
    def _exists(ctx: ProbeContext, path: str) -> bool:
        return ctx.artifact(path) is not None or any(a.path.startswith(path + "/") for a in ctx.all_artifacts)

    def _summary(
        self, ctx: ProbeContext, found: dict[str, list[str]], inventories: list[str], cfg_inventory: list[str]
    ) -> Iterator[Observation]:
        code = found["playbook"] + found["role"]
        facts: dict[str, Any] = {}
        for key, paths in (
            ("playbooks", found["playbook"]),
            ("roles", found["role"]),
            ("inventories", inventories),
            ("ansible_cfg", found["config"]),
        ):
            facts[key] = paths[:LISTED]
            if len(paths) > LISTED:
                facts[f"{key}_not_listed"] = len(paths) - LISTED
        listed = ", ".join(inventories[:LISTED]) + (
            f" and {len(inventories) - LISTED} more" if len(inventories) > LISTED else ""
        )
        check = CONFIG_MANAGEMENT_PRESENT.id
        for path in code:
            what = "playbook" if path in found["playbook"] else "role task list"
            if inventories:
                msg = f"{what} parses; inventory: {listed}"
                yield ctx.observe(check, Status.PASS, Subject(path=path, line=1), msg, facts=facts)
            else:
                named = (
                    f" (ansible.cfg names {', '.join(cfg_inventory)}, not in the repository)" if cfg_inventory else ""
                )
                msg = f"{what} parses, but no inventory in the repository{named}: hosts come from elsewhere or nowhere"
                yield ctx.observe(check, Status.UNKNOWN, Subject(path=path, line=1), msg, facts=facts)
        if not code:
            for path in found["inventory"] + found["config"]:
                msg = "Ansible inventory or config, but no playbook or role that parses in the repository"
                yield ctx.observe(check, Status.UNKNOWN, Subject(path=path), msg, facts=facts)
