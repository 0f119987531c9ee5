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


_index: tuple[object, dict[str, list[str]]] | None = None


def dockerfile_for(image: str, artifacts: Iterable[Artifact]) -> str | None:
    """The one production Dockerfile that builds ``image``: `<name>/Dockerfile`, `Dockerfile.<name>` or
    `<name>.Dockerfile`. None when there is none, or more than one (the match would be a guess)."""
    name = image_name(image)
    if not name or "$" in name:
        return None
    candidates = _by_name(artifacts).get(name.lower(), [])
    return candidates[0] if len(candidates) == 1 else None


def _by_name(artifacts: Iterable[Artifact]) -> dict[str, list[str]]:
    """Production Dockerfiles by the image name they build, indexed once per list of artifacts: looking at
    every file for every service was quadratic in a large tree."""
    global _index
    if _index is None or _index[0] is not artifacts:
        index: dict[str, list[str]] = {}
        for a in artifacts:
            if a.skipped is not None or not a.production:
                continue
            base = posixpath.basename(a.path)
            if base == "Dockerfile":
                name = posixpath.basename(posixpath.dirname(a.path))
            elif base.startswith("Dockerfile."):
                name = base[len("Dockerfile.") :]
            elif base.lower().endswith(".dockerfile"):
                name = base[: -len(".dockerfile")]
            else:
                continue
            if name:
                index.setdefault(name.lower(), []).append(a.path)
        _index = (artifacts, index)
    return _index[1]
