"""The fleet file (``repos.yaml``): the repositories to audit, and how they are split into shards.

image: registry.example/readiness:0.1.0   # optional: the container image the planned jobs run
repositories:
  - name: shop                      # the name runs are recorded under (unique)
    url: https://git.example/shop.git   # cloned by a shard when no local checkout is there
    path: ../checkouts/shop         # a local checkout (relative to this file), used first
    ref: main                       # branch or tag to clone (default: the remote's default)
    deployment: production          # recorded with each run
    policies: [production-deployment]   # packs (default: the repository's own config)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from ..store.errors import StoreError

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["repositories"],
    "properties": {
        "image": {"type": "string", "minLength": 1},
        "repositories": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "anyOf": [{"required": ["url"]}, {"required": ["path"]}],
                "properties": {
                    "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$"},
                    "url": {"type": "string", "minLength": 1},
                    "path": {"type": "string", "minLength": 1},
                    "ref": {"type": "string", "pattern": "^[^-\\s][^\\s]*$"},
                    "deployment": {"type": "string", "minLength": 1},
                    "policies": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}


@dataclass(frozen=True)
class Repository:
    name: str
    url: str | None
    path: Path | None
    ref: str | None
    deployment: str | None
    policies: tuple[str, ...]


@dataclass(frozen=True)
class Fleet:
    source: Path
    image: str | None
    repositories: tuple[Repository, ...]


def load_fleet(path: Path) -> Fleet:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StoreError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise StoreError(f"{path}: not YAML: {str(exc).splitlines()[0]}") from exc
    import jsonschema  # here: the CLI starts without it

    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(SCHEMA).iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise StoreError(f"{path}: at {where}: {error.message[:200]}")
    names = [r["name"] for r in data["repositories"]]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise StoreError(f"{path}: repository names must be unique: {', '.join(duplicates)}")
    base = path.resolve().parent
    return Fleet(
        source=path,
        image=data.get("image"),
        repositories=tuple(
            Repository(
                name=r["name"],
                url=r.get("url"),
                path=(base / r["path"]) if r.get("path") else None,
                ref=r.get("ref"),
                deployment=r.get("deployment"),
                policies=tuple(r.get("policies") or ()),
            )
            for r in data["repositories"]
        ),
    )


def shard(repositories: tuple[Repository, ...], index: int, count: int) -> list[Repository]:
    """Round-robin by position in the file: every repository in exactly one shard, shards within one of each
    other in size, and a shard's share stable while the file only grows at its end."""
    if count < 1 or not 0 <= index < count:
        raise StoreError(f"shard index {index} is not within 0..{count - 1}")
    return [r for position, r in enumerate(repositories) if position % count == index]
