"""The users well-known registry images start as, when compose says nothing."""

from __future__ import annotations

import pytest
from readiness.probes.image_defaults import default_user


@pytest.mark.parametrize(
    ("image", "user"),
    [
        ("postgres:16-alpine", "root"),
        ("docker.io/library/redis:7@sha256:" + "0" * 64, "root"),
        ("valkey/valkey:8.0-alpine", "root"),
        ("memcached:1.6", "memcache"),
        ("grafana/grafana:11.0.0", "472"),
        ("bitnami/postgresql:16", "1001"),
        ("ghcr.io/acme/app:1.0", None),  # not listed: the live engine decides
        ("${REGISTRY}/postgres:16", None),  # interpolated: not known which image
        ("localhost:5000/postgres:16", None),  # another registry's postgres is not the official one
    ],
)
def test_default_user(image, user):
    assert default_user(image) == user
