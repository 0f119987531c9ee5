"""What the repository's nginx configuration says about a live endpoint's OCSP stapling.

From the wire, "no staple" cannot tell a server that never staples from one
that is configured to but has not fetched (or cannot fetch) a response. When
the repository holds the nginx configuration of the endpoint, the server block
that serves it settles which one it is.
"""

from __future__ import annotations

from typing import Any

from readiness.probes import nginx

from .scan import Target


def _listens_on(server: nginx.Scope, port: int) -> bool:
    for d in server.own("listen"):
        address = d.args[0] if d.args else ""
        if address.rsplit(":", 1)[-1].strip("]") == str(port) or address == str(port):
            return True
    return not server.own("listen") and port == 80


def _names(server: nginx.Scope) -> list[str]:
    return [n for d in server.own("server_name") for n in d.args]


def server_for(servers: list[nginx.Scope], target: Target) -> nginx.Scope | None:
    """The HTTPS server block nginx would pick for ``target``: by port, then by name, then the default."""
    on_port = [s for s in servers if nginx.is_https(s) and _listens_on(s, target.port)]
    name = target.name
    for server in on_port:
        for pattern in _names(server):
            if pattern == name or (pattern.startswith("*.") and name.endswith(pattern[1:])):
                return server
    defaults = [s for s in on_port if any("default_server" in d.args for d in s.own("listen"))]
    return (defaults or on_port or [None])[0]


def stapling_config(servers: list[nginx.Scope], target: Target) -> dict[str, Any] | None:
    """Where the endpoint's server block is and whether it enables stapling; None when not in the repository."""
    server = server_for(servers, target)
    if server is None:
        return None
    stapling = server.effective("ssl_stapling")
    on = bool(stapling and stapling[-1].args[:1] == ["on"])
    where = stapling[-1] if stapling else server.block
    return {
        "path": where.path,
        "line": where.line,
        "server": server.label,
        "ssl_stapling": on,
        "resolver": bool(server.effective("resolver")),
        "ssl_trusted_certificate": bool(server.effective("ssl_trusted_certificate")),
    }


def explain_missing_staple(config: dict[str, Any] | None) -> str:
    """The end of an "no staple" message: configured or not, and where."""
    if config is None:
        return "; its nginx configuration is not in the repository, so 'configured but not fetched' cannot be ruled out"
    where = f"{config['path']}:{config['line']}"
    if not config["ssl_stapling"]:
        return f"; not configured: {config['server']} ({where}) does not set ssl_stapling on"
    causes = []
    if not config["resolver"]:
        causes.append("no resolver, so nginx cannot reach the OCSP responder")
    if not config["ssl_trusted_certificate"]:
        causes.append("no ssl_trusted_certificate to verify the response")
    hint = "; ".join(causes) or "the OCSP responder may be unreachable from the server"
    return f"; configured but no staple sent: ssl_stapling on at {where} ({hint})"
