"""What well-known registry images do when the compose file does not say: the user they start as.

Facts read off the images' own Dockerfiles (their `USER` lines), kept to images whose default has been the
same for years. An image not listed stays unknown: the live engine probe can tell.
"""

from __future__ import annotations

import re

# Images whose Dockerfile sets no USER: the container starts as root (some entrypoints drop privileges for
# the server process later, but the container, its entrypoint and anything exec'd into it run as root).
ROOT_BY_DEFAULT = frozenset(
    {
        "postgres", "redis", "valkey/valkey", "mysql", "mariadb", "mongo", "nginx", "httpd", "rabbitmq",
        "caddy", "traefik", "alpine", "debian", "ubuntu", "busybox", "node", "python", "php", "wordpress",
        "nextcloud", "ghost", "registry",
    }
)  # fmt: skip
# Images whose Dockerfile ends with a non-root USER.
NON_ROOT_BY_DEFAULT = {
    "memcached": "memcache",
    "grafana/grafana": "472",
    "grafana/grafana-oss": "472",
    "prom/prometheus": "nobody",
    "prom/alertmanager": "nobody",
    "prom/node-exporter": "nobody",
    "nginxinc/nginx-unprivileged": "101",
}
NON_ROOT_PUBLISHERS = {"bitnami": "1001"}  # every bitnami/* image runs as 1001


def repository(image: str) -> str:
    """`docker.io/library/postgres:16-alpine@sha256:..` -> `postgres`; `ghcr.io/x/y:1` -> `ghcr.io/x/y`."""
    name = re.split(r"[@]", image.strip(), maxsplit=1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/", "library/"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    return name.lower()


def default_user(image: str) -> str | None:
    """The user a listed image starts as ("root" or another), or None when the image is not listed or its
    name is interpolated."""
    if not image or "$" in image:
        return None
    repo = repository(image)
    if repo in ROOT_BY_DEFAULT:
        return "root"
    if repo in NON_ROOT_BY_DEFAULT:
        return NON_ROOT_BY_DEFAULT[repo]
    publisher = repo.split("/", 1)[0] if "/" in repo else ""
    return NON_ROOT_PUBLISHERS.get(publisher)
