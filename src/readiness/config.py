"""`.readiness.yaml`: what to audit, what counts as production, live targets.

The file is validated against a JSON Schema shipped with the package, so an
unknown key or a wrong type is rejected with a message that names the key.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from . import safe_load

CONFIG_FILE = ".readiness.yaml"
DEFAULT_POLICIES = ("production-deployment", "devops-deployment")
DEFAULT_MAX_FILE_SIZE = 2 * 1024 * 1024
DEFAULT_ATTESTATIONS = ".readiness/attestations.yaml"
DEFAULT_WAIVERS = ".readiness/waivers.yaml"
DEFAULT_WAIVER_MAX_DAYS = 365

# Files that describe how to develop or test, not how production runs. Their
# findings are still reported, but they never decide a production item.
DEFAULT_NON_PRODUCTION = (
    "test/",
    "tests/",
    "__tests__/",
    "spec/",
    "testdata/",
    "fixtures/",
    "example/",
    "examples/",
    "sample/",
    "samples/",
    "*.example",
    "*.example.*",
    "*.sample",
    "*.sample.*",
    "*env.template",  # .env.template: an example env; nginx's *.conf.template is rendered at start, production
    "*.dist",
    "*.dev.*",
    "*-dev.*",
    "*.local.*",
    "*.test.*",
    "*-test.*",
)


class ConfigError(Exception):
    """The configuration is unusable; the message says which key and why."""


@dataclass(frozen=True)
class Config:
    policies: tuple[str, ...] = DEFAULT_POLICIES
    exclude: tuple[str, ...] = ()
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    production: tuple[str, ...] = ()
    non_production: tuple[str, ...] = DEFAULT_NON_PRODUCTION
    severity: dict[str, str] = field(default_factory=dict)
    attestations: str = DEFAULT_ATTESTATIONS
    attestation_max_days: int | None = None  # caps every manual item's validity (the pack's own cap may be lower)
    probes: dict[str, dict[str, Any]] = field(default_factory=dict)
    live: dict[str, Any] = field(default_factory=dict)
    deployments: tuple[dict[str, Any], ...] = ()  # named or overridden deployments
    time_budget: dict[str, float] = field(default_factory=dict)  # probe_seconds, file_seconds (readiness.budget)
    attestation_signing: dict[str, Any] = field(default_factory=dict)  # {required, keys: {role: [PEM]}}
    waivers_file: str = DEFAULT_WAIVERS
    waiver_max_days: int = DEFAULT_WAIVER_MAX_DAYS
    source: str | None = None  # the file it came from, if any

    def probe_settings(self, probe: str) -> dict[str, Any]:
        return self.probes.get(probe, {})

    def live_targets(self, probe: str) -> Any:
        return self.live.get(probe)


def with_values(config: Config, values: list[tuple[tuple[str, ...], Any, bool]]) -> Config:
    """``config`` with command-line values set at config paths such as ("live", "tls").

    Each value is (path, value, append): appended to a list at the path, or set there.
    """
    blocks = {"live": copy.deepcopy(config.live), "probes": copy.deepcopy(config.probes)}
    for path, value, append in values:
        node: Any = blocks[path[0]]
        for key in path[1:-1]:
            node = node.setdefault(key, {})
        if append:
            existing = node.get(path[-1])
            node[path[-1]] = (existing if isinstance(existing, list) else []) + [value]
        else:
            node[path[-1]] = value
    return replace(config, live=blocks["live"], probes=blocks["probes"])


def _schema() -> dict[str, Any]:
    text = resources.files("readiness").joinpath("schema/config.schema.json").read_text()
    return json.loads(text)


def describe_validation_error(err: Any, source: str) -> str:
    """One line naming the key at fault, from a jsonschema ValidationError.

    jsonschema's own message quotes the offending value (a DSN with its
    password, a whole file read as one string); this one names the key and
    what the schema expected, never the value.
    """
    where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        return f"{source}: unknown key {', '.join(_short(k) for k in extra)} at {where}"
    if err.validator == "required":
        missing = [k for k in err.validator_value if isinstance(err.instance, dict) and k not in err.instance]
        return f"{source}: {where}: missing required key {', '.join(map(repr, missing))}"
    if err.validator == "type":
        return f"{source}: {where}: expected {_expected(err.validator_value)}, found {_json_type(err.instance)}"
    if err.validator in ("oneOf", "anyOf"):
        forms = " or ".join(_expected(sub.get("type", "?")) for sub in err.validator_value if isinstance(sub, dict))
        return f"{source}: {where}: expected {forms}, found {_json_type(err.instance)} that fits none"
    if err.validator in ("enum", "const"):
        return f"{source}: {where}: not one of the allowed values {_short(err.validator_value)}"
    return f"{source}: {where}: fails the schema's {err.validator!r} rule ({_short(err.validator_value)})"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _expected(types: Any) -> str:
    return " or ".join(types) if isinstance(types, list) else str(types)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def validate(data: Any, schema: dict[str, Any], source: str) -> None:
    # Imported here: jsonschema costs a tenth of a second at start-up and most
    # audits validate nothing but a short config.
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError(describe_validation_error(errors[0], source))


def load(root: Path, explicit: Path | None = None) -> Config:
    """Read the config of the audited root (or an explicit file); defaults when absent."""
    path = explicit or root / CONFIG_FILE
    if not path.exists():
        if explicit:
            raise ConfigError(f"{explicit}: no such config file")
        return Config()

    try:
        data = safe_load.load_yaml(
            safe_load.read_bounded(path, safe_load.CONFIG_MAX_BYTES).decode("utf-8-sig"), safe_load.CONFIG_LIMITS
        )
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path.name}: {safe_load.describe_error(exc)}") from None
    if data is None:
        return Config(source=str(path))
    validate(data, _schema(), path.name)
    data = _plain(data)
    scope = data.get("scope", {})
    return Config(
        policies=tuple(data.get("policies", DEFAULT_POLICIES)),
        exclude=tuple(data.get("exclude", ())),
        max_file_size=data.get("max_file_size", DEFAULT_MAX_FILE_SIZE),
        production=tuple(scope.get("production", ())),
        non_production=tuple(scope.get("non_production", DEFAULT_NON_PRODUCTION)),
        severity=dict(data.get("severity", {})),
        attestations=data.get("attestations", DEFAULT_ATTESTATIONS),
        attestation_max_days=data.get("attestation_max_days"),
        probes=dict(data.get("probes", {})),
        live=dict(data.get("live", {})),
        deployments=tuple(data.get("deployments", ())),
        time_budget=dict(data.get("time_budget", {})),
        attestation_signing=dict(data.get("attestation_signing", {})),
        waivers_file=data.get("waivers", {}).get("file", DEFAULT_WAIVERS),
        waiver_max_days=data.get("waivers", {}).get("max_days", DEFAULT_WAIVER_MAX_DAYS),
        source=str(path),
    )


def _plain(data: Any) -> Any:
    """Plain dicts and lists (the loader's line-keeping subclasses are for findings, not settings)."""
    if isinstance(data, dict):
        return {k: _plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_plain(v) for v in data]
    return data


def template() -> str:
    """The commented starter file `readiness init` writes."""
    return resources.files("readiness").joinpath("templates/readiness.yaml").read_text()
