"""Job definitions for the engine a team already runs: each shard runs `readiness fleet shard` in the project's
container image and pushes to the shared store named by the READINESS_STORE secret (never written here)."""

from __future__ import annotations

from pathlib import PurePosixPath

import yaml

from .. import __version__
from ..store.errors import StoreError
from .repos import Fleet

TARGETS = ("github", "gitlab", "kubernetes")
DEFAULT_IMAGE = f"readiness:{__version__}"
GITLAB_MAX_PARALLEL = 200  # GitLab's limit for `parallel:`
K8S_CONFIG_DIR = "/etc/readiness"
DEFAULT_SHARD_TIMEOUT_MIN = 60


class _Dumper(yaml.SafeDumper):
    """Plain YAML for people to review: no anchors, multi-line strings as literal blocks."""

    def ignore_aliases(self, data) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def shard_command(fleet_file: str, index: str, count: int) -> str:
    return f"readiness fleet shard {fleet_file} --index {index} --count {count}"


def github_workflow(fleet: Fleet, fleet_file: str, shards: int, image: str) -> dict:
    return {
        "name": "readiness fleet audit",
        "on": {"schedule": [{"cron": "17 3 * * *"}], "workflow_dispatch": {}},
        "permissions": {"contents": "read"},
        "concurrency": {"group": "readiness-fleet", "cancel-in-progress": False},
        "jobs": {
            "audit": {
                "name": "audit shard ${{ matrix.shard }}",
                "runs-on": "ubuntu-latest",
                "timeout-minutes": DEFAULT_SHARD_TIMEOUT_MIN,
                "container": {"image": image},
                "strategy": {"fail-fast": False, "matrix": {"shard": list(range(shards))}},
                "steps": [
                    {"uses": "actions/checkout@v4", "with": {"persist-credentials": False}},
                    {
                        "name": "audit this shard's repositories and push to the store",
                        "run": shard_command(fleet_file, "${{ matrix.shard }}", shards),
                        "env": {"READINESS_STORE": "${{ secrets.READINESS_STORE }}"},
                    },
                ],
            }
        },
    }


def gitlab_job(fleet: Fleet, fleet_file: str, shards: int, image: str) -> dict:
    if shards > GITLAB_MAX_PARALLEL:
        raise StoreError(f"GitLab runs at most {GITLAB_MAX_PARALLEL} parallel jobs; ask for fewer shards")
    return {
        "readiness-fleet": {
            "image": image,
            "parallel": shards,
            "timeout": f"{DEFAULT_SHARD_TIMEOUT_MIN} minutes",
            "rules": [
                {"if": '$CI_PIPELINE_SOURCE == "schedule"'},
                {"if": '$CI_PIPELINE_SOURCE == "web"'},
            ],
            # CI_NODE_INDEX counts from 1; READINESS_STORE is a masked CI/CD variable.
            "script": [
                shard_command(fleet_file, "$((CI_NODE_INDEX - 1))", shards).replace(
                    f"--count {shards}", "--count $CI_NODE_TOTAL"
                )
            ],
        }
    }


def kubernetes_objects(fleet: Fleet, fleet_file: str, shards: int, image: str, parallelism: int) -> list[dict]:
    """A ConfigMap holding the fleet file and an Indexed Job; each pod's shard is its JOB_COMPLETION_INDEX."""
    labels = {"app.kubernetes.io/name": "readiness-fleet", "app.kubernetes.io/version": __version__}
    mounted = f"{K8S_CONFIG_DIR}/{PurePosixPath(fleet_file).name}"
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "readiness-fleet-repos", "labels": labels},
        "data": {PurePosixPath(fleet_file).name: fleet.source.read_text(encoding="utf-8")},
    }
    container = {
        "name": "readiness",
        "image": image,
        "command": ["readiness"],
        # No --index: `fleet shard` takes it from JOB_COMPLETION_INDEX, which the Job controller sets per pod.
        "args": ["fleet", "shard", mounted, "--count", str(shards)],
        "env": [{"name": "READINESS_STORE", "valueFrom": {"secretKeyRef": {"name": "readiness-store", "key": "url"}}}],
        "resources": {
            "requests": {"cpu": "500m", "memory": "512Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "fleet", "mountPath": K8S_CONFIG_DIR, "readOnly": True},
            {"name": "scratch", "mountPath": "/tmp"},
        ],
    }
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "readiness-fleet", "labels": labels},
        "spec": {
            "completionMode": "Indexed",
            "completions": shards,
            "parallelism": min(parallelism, shards),
            "backoffLimit": shards * 2,
            "activeDeadlineSeconds": DEFAULT_SHARD_TIMEOUT_MIN * 60 * max(1, -(-shards // max(1, parallelism))),
            "ttlSecondsAfterFinished": 7 * 24 * 3600,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 10001,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [
                        {"name": "fleet", "configMap": {"name": "readiness-fleet-repos"}},
                        {"name": "scratch", "emptyDir": {}},
                    ],
                },
            },
        },
    }
    return [config_map, job]


def plan(fleet: Fleet, fleet_file: str, target: str, shards: int, image: str | None, parallelism: int) -> str:
    """The definitions for ``target`` as YAML (Kubernetes: two documents)."""
    image = image or fleet.image or DEFAULT_IMAGE
    shards = min(shards, len(fleet.repositories))
    header = f"# readiness fleet plan --target {target}: {len(fleet.repositories)} repositories in {shards} shards\n"
    if target == "github":
        docs = [github_workflow(fleet, fleet_file, shards, image)]
    elif target == "gitlab":
        docs = [gitlab_job(fleet, fleet_file, shards, image)]
    else:
        docs = kubernetes_objects(fleet, fleet_file, shards, image, parallelism)
    return header + yaml.dump_all(docs, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000)
