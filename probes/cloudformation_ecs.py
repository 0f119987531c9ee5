"""ECS task definitions in CloudFormation: the user, capabilities and root filesystem of each container.

A task's containers are as much a production workload as a compose service or a Kubernetes pod; the same
three hardening items apply. A property not written takes ECS's default: the image's user (root for most
base images), Docker's default capability set, a writable root filesystem.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from readiness.model import Check, Status

from .image_defaults import default_user

ECS_NON_ROOT = Check(
    id="cloudformation.ecs_non_root",
    title="ECS containers in CloudFormation run as a non-root user",
    rationale="A container running as root turns any escape or mounted-file mistake into host-level access.",
    remediation="Set User to a non-root UID in every ContainerDefinition (or use an image whose USER is not root).",
)
ECS_CAP_DROP = Check(
    id="cloudformation.ecs_cap_drop_all",
    title="ECS containers in CloudFormation drop all Linux capabilities",
    rationale="Docker's default capability set (NET_RAW, CHOWN, SETUID, ...) gives a compromised process powers it "
    "does not need.",
    remediation="Set LinuxParameters.Capabilities.Drop: [ALL] and add back only what the process needs.",
)
ECS_READ_ONLY = Check(
    id="cloudformation.ecs_read_only_rootfs",
    title="ECS containers in CloudFormation have a read-only root filesystem",
    rationale="A writable root filesystem lets an attacker drop tools and persist changes inside the container.",
    remediation="Set ReadonlyRootFilesystem: true and mount volumes for the paths that must be written.",
)
ECS_CHECKS = (ECS_NON_ROOT, ECS_CAP_DROP, ECS_READ_ONLY)
ROOT = {"0", "root", "0:0", "root:root"}


def container_findings(props: dict, resolve) -> Iterator[tuple[str, Status, str]]:
    """(check id, status, message) for each container of an AWS::ECS::TaskDefinition's resolved Properties;
    ``resolve`` turns an intrinsic into a value, or an object with a ``reason`` when it cannot be known."""
    containers = props.get("ContainerDefinitions")
    if not isinstance(containers, list):
        return
    for c in containers:
        if not isinstance(c, dict):
            continue
        name = str(c.get("Name") or "?")
        yield _user(name, c, resolve)
        yield _capabilities(name, c, resolve)
        ro = resolve(c.get("ReadonlyRootFilesystem"))
        if ro is True or str(ro).lower() == "true":
            yield ECS_READ_ONLY.id, Status.PASS, f"container {name}: ReadonlyRootFilesystem: true"
        elif hasattr(ro, "reason"):
            yield ECS_READ_ONLY.id, Status.UNKNOWN, f"container {name}: ReadonlyRootFilesystem: {ro.reason}"
        else:
            yield ECS_READ_ONLY.id, Status.FAIL, f"container {name}: ReadonlyRootFilesystem not set: writable"


def _user(name: str, c: dict, resolve) -> tuple[str, Status, str]:
    user = resolve(c.get("User"))
    if hasattr(user, "reason"):
        return ECS_NON_ROOT.id, Status.UNKNOWN, f"container {name}: User {user.reason}"
    if user not in (None, ""):
        text = str(user)
        status = Status.FAIL if text.lower() in ROOT else Status.PASS
        return (
            ECS_NON_ROOT.id,
            status,
            f"container {name}: User {text!r}" + (" is root" if status is Status.FAIL else ""),
        )
    image = resolve(c.get("Image"))
    known = default_user(image) if isinstance(image, str) else None
    if known == "root":
        return ECS_NON_ROOT.id, Status.FAIL, f"container {name}: no User, and the image {image} starts as root"
    if known:
        return ECS_NON_ROOT.id, Status.PASS, f"container {name}: no User; the image {image} runs as {known!r}"
    return ECS_NON_ROOT.id, Status.UNKNOWN, f"container {name}: no User: the image decides"


def _capabilities(name: str, c: dict, resolve) -> tuple[str, Status, str]:
    linux: Any = resolve(c.get("LinuxParameters"))
    caps = resolve(linux.get("Capabilities")) if isinstance(linux, dict) else None
    drop = resolve(caps.get("Drop")) if isinstance(caps, dict) else None
    if hasattr(drop, "reason"):
        return ECS_CAP_DROP.id, Status.UNKNOWN, f"container {name}: Capabilities.Drop {drop.reason}"
    if isinstance(drop, list) and any(str(d).upper() == "ALL" for d in drop):
        return ECS_CAP_DROP.id, Status.PASS, f"container {name}: drops ALL capabilities"
    return (
        ECS_CAP_DROP.id,
        Status.FAIL,
        f"container {name}: LinuxParameters.Capabilities.Drop has no ALL: the default set stays",
    )
