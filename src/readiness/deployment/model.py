"""The deployments a repository ships, as data: what each is made of, its environment, and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..model import Subject
from .environments import Environment

if TYPE_CHECKING:
    from .compose import ServiceView
    from .helm import Rendering


@dataclass(frozen=True)
class Unit:
    """Something a deployment runs: a compose service, a workload."""

    name: str
    image: str | None = None
    build: str | None = None  # repo-relative build context
    ports: tuple[str, ...] = ()
    entry_point: bool = False  # faces the outside: a reverse proxy, an ingress, a load balancer
    declared_in: Subject | None = None


@dataclass(frozen=True)
class Deployment:
    """One way the repository is deployed: a compose project, a kustomize overlay, a chart with its values,
    a Terraform root with its variables."""

    name: str
    kind: str  # compose | kustomize | helm | terraform | kubernetes
    files: tuple[str, ...]  # the entry files, in the order the tool merges them
    environment: Environment
    reasons: tuple[str, ...]
    units: tuple[Unit, ...] = ()
    uses: tuple[str, ...] = ()  # repository files and folders it pulls in (mounts, env files, builds)
    started_by: tuple[Subject, ...] = ()
    assumed: bool = False  # production only because nothing says otherwise (or a quick start runs it)

    @property
    def production(self) -> bool:
        return self.environment.is_production

    @property
    def folder(self) -> str:
        """Where the deployment's first file is: Compose's project directory."""
        return self.files[0].rsplit("/", 1)[0] if "/" in self.files[0] else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "files": list(self.files),
            "environment": str(self.environment),
            "production": self.production,
            "reasons": list(self.reasons),
            "units": [
                {
                    k: v
                    for k, v in {
                        "name": u.name,
                        "image": u.image,
                        "build": u.build,
                        "ports": list(u.ports),
                        "entry_point": u.entry_point,
                        "declared_in": u.declared_in.to_json() if u.declared_in else None,
                    }.items()
                    if v not in (None, [])
                }  # fmt: skip
                for u in self.units
            ],
            "uses": list(self.uses),
            "started_by": [s.to_json() for s in self.started_by],
        }


@dataclass(frozen=True)
class FileScope:
    """Why one file is (or is not) production."""

    production: bool
    reason: str
    deployment: str | None = None


@dataclass
class DeploymentMap:
    """Every deployment found, which are audited as production, and the scope of each file."""

    deployments: list[Deployment] = field(default_factory=list)
    orphans: dict[str, str] = field(default_factory=dict)  # path -> why nothing deploys it
    scope: dict[str, FileScope] = field(default_factory=dict)
    summary: str = ""
    selected: str | None = None  # --deployment NAME
    compose_docs: dict[str, Any] = field(default_factory=dict)  # parsed once, with lines, for every probe
    compose_errors: dict[str, Subject] = field(default_factory=dict)  # files that do not parse: where, and why
    compose_env: dict[str, dict[str, str]] = field(default_factory=dict)  # folder -> its .env (or example) values
    helm: dict[str, Rendering] = field(default_factory=dict)  # chart deployment name -> what `helm template` made

    def compose_services(self) -> list[tuple[Deployment, ServiceView]]:
        """Every service of every compose deployment, merged across the deployment's files."""
        from .compose import merged_services

        return [
            (d, view)
            for d in self.deployments
            if d.kind == "compose"
            for view in merged_services(d.files, self.compose_docs, self.compose_env.get(d.folder)).values()
        ]

    @property
    def production(self) -> list[Deployment]:
        return [d for d in self.deployments if d.production]

    def get(self, name: str) -> Deployment | None:
        return next((d for d in self.deployments if d.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "selected": self.selected,
            "deployments": [
                {**d.to_json(), "rendering": self.helm[d.name].to_json()} if d.name in self.helm else d.to_json()
                for d in self.deployments
            ],
            "orphans": [{"path": p, "reason": r} for p, r in sorted(self.orphans.items())],
        }
