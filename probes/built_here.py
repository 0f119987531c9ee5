"""Registry images the repository builds itself.

``ghcr.io/jitsi/base:latest`` beside ``base/Dockerfile``, ``penpotapp/frontend:2.16`` beside
``docker/images/Dockerfile.frontend``: the image is this repository's own build, so its Dockerfile says what
runs, and a moving tag on it is the repository's own build order, not a third party's release.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from readiness.model import Artifact


def image_name(image: str) -> str:
    """`ghcr.io/jitsi/base:latest@sha256:..` -> `base`."""
    return image.split("@")[0].rsplit("/", 1)[-1].split(":")[0]


def dockerfile_for(image: str, artifacts: Iterable[Artifact]) -> str | None:
    """The one production Dockerfile that builds ``image``: `<name>/Dockerfile`, `Dockerfile.<name>` or
    `<name>.Dockerfile`. None when there is none, or more than one (the match would be a guess)."""
    name = image_name(image)
    if not name or "$" in name:
        return None
    wanted = {f"Dockerfile.{name}", f"{name}.Dockerfile", f"{name}.dockerfile"}
    candidates = [
        a.path
        for a in artifacts
        if a.skipped is None
        and a.production
        and (
            posixpath.basename(a.path) in wanted
            or (posixpath.basename(a.path) == "Dockerfile" and posixpath.basename(posixpath.dirname(a.path)) == name)
        )
    ]
    return candidates[0] if len(candidates) == 1 else None
