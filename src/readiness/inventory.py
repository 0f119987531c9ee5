"""The deployment inventory: what production runs, and which repo files it uses.

Inventory probes (compose, Kubernetes, ...) run first and fill it; every other
probe reads it. A config file that no production service mounts is an orphan:
its findings are reported, but it never satisfies a production item.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from .model import Subject


@dataclass(frozen=True)
class Service:
    name: str
    origin: str  # the probe that declared it, e.g. "compose"
    declared_in: Subject
    production: bool
    image: str | None = None
    build_context: str | None = None  # repo-relative directory, if built locally
    ports: tuple[str, ...] = ()
    facts: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Mount:
    """A repo file or directory a service sees at ``target`` inside its container."""

    service: str
    source: str  # repo-relative path
    target: str
    declared_in: Subject
    production: bool
    kind: str = "volume"  # volume | secret | config | env_file


@dataclass
class Inventory:
    services: list[Service] = field(default_factory=list)
    mounts: list[Mount] = field(default_factory=list)

    def add_service(self, service: Service) -> None:
        self.services.append(service)

    def add_mount(self, mount: Mount) -> None:
        self.mounts.append(mount)

    def mounts_of(self, path: str) -> list[Mount]:
        """Every mount through which ``path`` reaches a container (file or parent directory)."""
        p = PurePosixPath(path)
        return [m for m in self.mounts if p == PurePosixPath(m.source) or PurePosixPath(m.source) in p.parents]

    def deployed_by(self, path: str) -> list[Mount]:
        """The production mounts of ``path``: empty means it is not deployed (an orphan)."""
        return [m for m in self.mounts_of(path) if m.production]

    def to_json(self) -> dict[str, Any]:
        return {
            "services": [
                {
                    "name": s.name,
                    "origin": s.origin,
                    "declared_in": s.declared_in.to_json(),
                    "production": s.production,
                    "image": s.image,
                    "build_context": s.build_context,
                    "ports": list(s.ports),
                }
                for s in sorted(self.services, key=lambda s: (s.declared_in.path or "", s.name))
            ],
            "mounts": [
                {
                    "service": m.service,
                    "source": m.source,
                    "target": m.target,
                    "kind": m.kind,
                    "declared_in": m.declared_in.to_json(),
                    "production": m.production,
                }
                for m in sorted(self.mounts, key=lambda m: (m.source, m.service, m.target, m.kind))
            ],
        }
