"""Compose judges of what a service exposes and carries: networks, published ports, images, logs, secrets."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from readiness.probes import dockerfile as df

from readiness.model import Status

from .compose_checks import (
    ALL_INTERFACES,
    IMAGE_PINNED,
    INTERNAL_NETWORKS,
    LOG_ROTATION,
    NO_LITERAL_SECRETS,
    PRIVATE_NETWORKS,
    PUBLIC_PORTS,
    REMOTE_LOG_DRIVERS,
)
from .compose_project import (
    Locator,
)
from .compose_runtime import (
    Built,
    Finding,
    _set,
)


def _publishes(svc: dict) -> bool:
    return bool(svc.get("ports"))


def judge_networks(svc: dict, built: Built | None, model: dict, locator: Locator, name: str) -> list[Finding]:
    """A service that publishes no ports sits only on internal networks (one finding per network)."""
    mode = str(svc.get("network_mode") or "")
    if mode == "none":
        return [Finding(INTERNAL_NETWORKS, Status.PASS, "network_mode: none (no network)", ("network_mode",))]
    if mode == "host":
        return [
            Finding(INTERNAL_NETWORKS, Status.FAIL, "network_mode: host: on the host's networks", ("network_mode",))
        ]
    if mode.startswith(("service:", "container:")):
        msg = f"network_mode {mode}: shares that container's network, judged there"
        return [Finding(INTERNAL_NETWORKS, Status.NOT_APPLICABLE, msg, ("network_mode",))]
    if _publishes(svc):
        msg = "publishes ports, so it is a front end that needs a non-internal network"
        return [Finding(INTERNAL_NETWORKS, Status.NOT_APPLICABLE, msg, ("ports",))]
    networks = model.get("networks") or {}
    out: list[Finding] = []
    for net in sorted(svc.get("networks") or {"default": None}):
        spec = networks.get(net) or {}
        where = locator.network(net) or ("networks",)
        if spec.get("internal") is True:
            out.append(
                Finding(INTERNAL_NETWORKS, Status.PASS, f"network {net} is internal", where, facts={"network": net})
            )
        elif spec.get("external") is True:
            msg = f"network {net} is external: defined outside this project, cannot tell if internal"
            out.append(Finding(INTERNAL_NETWORKS, Status.UNKNOWN, msg, where, facts={"network": net}))
        else:
            msg = f"publishes no ports but joins network {net}, which is not internal: it can reach the internet"
            out.append(Finding(INTERNAL_NETWORKS, Status.FAIL, msg, where, facts={"network": net}))
    return out


def _port_numbers(published: str) -> list[int] | None:
    m = re.fullmatch(r"(\d+)(?:-(\d+))?", published)
    if not m:
        return None
    low, high = int(m.group(1)), int(m.group(2) or m.group(1))
    return list(range(low, high + 1)) if high - low < 1024 else None


def _port_matcher(port: dict) -> Callable[[Any], bool]:
    target = str(port.get("target"))

    def match(raw: Any) -> bool:
        if isinstance(raw, dict):
            return str(raw.get("target")) == target
        container = str(raw).rsplit(":", 1)[-1].split("/", 1)[0]
        if "-" in container:
            low, _, high = container.partition("-")
            return low.isdigit() and high.isdigit() and int(low) <= int(target) <= int(high)
        return container == target

    return match


def _address_scope(host_ip: str) -> str:
    """``public`` for the wildcards and global addresses; else loopback, private, or a host name."""
    if host_ip in ALL_INTERFACES:
        return "public"
    try:
        address = ipaddress.ip_address(host_ip.strip("[]"))
    except ValueError:
        return "a named host address"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local or any(address in net for net in PRIVATE_NETWORKS if net.version == address.version):
        return "a private address"
    return "public"


def judge_ports(svc: dict, built: Built | None, allowed: frozenset[int], entry_point: bool = False) -> list[Finding]:
    """One finding per published port: public ones must be in the allowed set, or be the stack's entry point
    (its reverse proxy or the one web-facing unit), which is there to be reached."""
    if str(svc.get("network_mode") or "") == "host":
        msg = "network_mode: host: every port the container listens on is open on all host interfaces"
        return [Finding(PUBLIC_PORTS, Status.FAIL, msg, ("network_mode",))]
    ports = [p for p in svc.get("ports") or () if isinstance(p, dict)]
    if not ports:
        return [Finding(PUBLIC_PORTS, Status.PASS, "publishes no ports")]
    out: list[Finding] = []
    # The entry point's one HTTP and one HTTPS port; ports already allowed (80, 443) take their class first.
    web_classes_taken = {
        c
        for port in ports
        if (numbers := _port_numbers(str(port.get("published") or ""))) and set(numbers) <= allowed
        if (c := _web_class(port.get("target")))
    }
    for port in ports:
        host_ip = str(port.get("host_ip") or "")
        published = str(port.get("published") or "")
        shown = f"{host_ip or '*'}:{published or '(random)'}->{port.get('target')}/{port.get('protocol', 'tcp')}"
        facts = {"host_ip": host_ip or None, "published": published or None, "target": port.get("target")}
        where, match = ("ports",), _port_matcher(port)
        scope = _address_scope(host_ip)
        if scope != "public":
            msg = f"{shown}: bound to {host_ip} only ({scope})"
            out.append(Finding(PUBLIC_PORTS, Status.PASS, msg, where, match, facts))
            continue
        numbers = _port_numbers(published) if published else None
        what = "all interfaces (IPv4 and IPv6)" if host_ip in ALL_INTERFACES else f"the public address {host_ip}"
        if numbers and set(numbers) <= allowed:
            out.append(Finding(PUBLIC_PORTS, Status.PASS, f"{shown}: on {what}, and allowed", where, match, facts))
        elif entry_point and (web := _web_class(port.get("target"))) and web not in web_classes_taken:
            web_classes_taken.add(web)
            msg = f"{shown}: on {what}: the stack's entry point serving {web}, published to be reached"
            out.append(Finding(PUBLIC_PORTS, Status.PASS, msg, where, match, facts))
        elif str(port.get("protocol", "tcp")) == "udp":
            # Media, VPN and DNS servers answer on UDP to be reached; databases and admin interfaces are TCP.
            msg = f"{shown}: on {what}: a UDP transport port (media, VPN, DNS), published to be reached"
            out.append(Finding(PUBLIC_PORTS, Status.PASS, msg, where, match, facts))
        else:
            msg = f"{shown}: published on {what} but not an allowed public port"
            out.append(Finding(PUBLIC_PORTS, Status.FAIL, msg, where, match, facts))
    return out


HTTP_TARGETS = frozenset({80, 8000, 8080, 3000, 5000, 8081, 8888})
HTTPS_TARGETS = frozenset({443, 8443})


def _web_class(target: Any) -> str | None:
    if target in HTTPS_TARGETS:
        return "HTTPS"
    return "HTTP" if target in HTTP_TARGETS else None


def judge_image(svc: dict, built: Built | None) -> Finding:
    """A registry image pinned by tag (not latest) or digest; built images are the Dockerfile's."""
    if built is not None:
        return Finding(
            IMAGE_PINNED,
            Status.NOT_APPLICABLE,
            "built locally: its base images are dockerfile.base_pinned's",
            ("build",),
        )
    image = str(svc.get("image") or "")
    if not image:
        return Finding(IMAGE_PINNED, Status.UNKNOWN, "no image and no local build context")
    repo, tag = df.parse_repository_tag(image)
    facts = {"image": image}
    if tag and tag.startswith("sha256:"):
        return Finding(IMAGE_PINNED, Status.PASS, f"image {image}: pinned by digest", ("image",), facts=facts)
    if not tag or tag.lower() == "latest":
        return Finding(
            IMAGE_PINNED,
            Status.FAIL,
            f"image {image}: {'no tag, so latest' if not tag else 'latest moves'}",
            ("image",),
            facts=facts,
        )
    return Finding(
        IMAGE_PINNED, Status.PASS, f"image {image}: pinned to tag {tag} (a digest is stronger)", ("image",), facts=facts
    )


def judge_logging(svc: dict, built: Built | None) -> Finding:
    """A logging driver that rotates or ships logs off the host."""
    logging = svc.get("logging") if isinstance(svc.get("logging"), dict) else {}
    driver = str(logging.get("driver") or "")
    options = logging.get("options") or {}
    where = ("logging",) if logging else ()
    facts = {"driver": driver or None}
    if driver == "local":
        return Finding(LOG_ROTATION, Status.PASS, "logging driver local: rotated by default", where, facts=facts)
    if driver in REMOTE_LOG_DRIVERS:
        return Finding(LOG_ROTATION, Status.PASS, f"logging driver {driver}: logs leave the host", where, facts=facts)
    if driver == "none":
        return Finding(LOG_ROTATION, Status.NOT_APPLICABLE, "logging driver none: no logs are kept", where, facts=facts)
    if driver in ("", "json-file"):
        if _set(options.get("max-size")):
            msg = f"json-file with max-size {options['max-size']}, max-file {options.get('max-file', 1)}"
            return Finding(LOG_ROTATION, Status.PASS, msg, where, facts=facts)
        return Finding(LOG_ROTATION, Status.FAIL, "json-file logs without max-size: never rotated", where, facts=facts)
    return Finding(
        LOG_ROTATION,
        Status.UNKNOWN,
        f"logging driver {driver}: a plugin whose rotation is not known",
        where,
        facts=facts,
    )


def judge_secrets(svc: dict, built: Built | None, locator: Locator, name: str) -> list[Finding]:
    """Secret-named environment variables and build args, judged as written (before interpolation)."""
    out: list[Finding] = []
    sections = [("environment",), ("build", "args")]
    for section in sections:
        resolved = svc
        for key in section:
            resolved = resolved.get(key) if isinstance(resolved, dict) else None
        for var in sorted(resolved or {}) if isinstance(resolved, dict) else ():
            if not df.is_secret_name(var):
                continue
            raw = locator.raw_value(name, section, var)
            if raw is None:
                continue
            subject, value = raw
            if df.is_literal_secret(var, None if value is None else str(value)):
                msg = f"{'.'.join(section)} {var} has a literal value in the compose file"
                out.append(Finding(NO_LITERAL_SECRETS, Status.FAIL, msg, subject, facts={"variable": var}))
    if not out:
        out.append(
            Finding(NO_LITERAL_SECRETS, Status.PASS, "no secret-named variable has a literal value", ("environment",))
        )
    return out
