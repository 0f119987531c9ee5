"""HTTP over the endpoint: the HSTS header on HTTPS (following same-host redirects) and HTTP->HTTPS redirects."""

from __future__ import annotations

import re
import socket
import ssl
from urllib.parse import urlsplit

from . import connections
from .scan import Target, Unreachable
from .wire import Deadline

MAX_REDIRECTS = 5
MAX_HEAD_BYTES = 65536
SSL_LABS_A_PLUS = 15_552_000  # 180 days
PRELOAD_LIST = 31_536_000  # one year, plus includeSubDomains and preload
MOZILLA = 63_072_000  # two years


def _request(sock: socket.socket, name: str, path: str, deadline: Deadline, timeout: float) -> tuple[int, dict]:
    request = f"GET {path} HTTP/1.1\r\nHost: {name}\r\nUser-Agent: readiness-tls\r\nConnection: close\r\n\r\n"
    sock.sendall(request.encode("ascii"))
    data = b""
    while b"\r\n\r\n" not in data and len(data) < MAX_HEAD_BYTES:
        sock.settimeout(deadline.remaining(timeout))
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("iso-8859-1")
    lines = head.split("\r\n")
    match = re.match(r"HTTP/\d(?:\.\d)? (\d{3})", lines[0])
    if not match:
        raise ValueError(f"not an HTTP response: {lines[0][:60]!r}")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers.setdefault(key.strip().lower(), []).append(value.strip())
    return int(match.group(1)), headers


def parse_hsts(values: list[str]) -> dict:
    """RFC 6797: the first header counts; directives are case-insensitive; max-age is required."""
    value = values[0]
    out: dict = {"raw": value, "max_age": None, "include_subdomains": False, "preload": False}
    for part in value.split(";"):
        key, _, arg = part.strip().partition("=")
        key = key.strip().lower()
        if key == "max-age":
            arg = arg.strip().strip('"')
            out["max_age"] = int(arg) if arg.isdigit() else None
        elif key == "includesubdomains":
            out["include_subdomains"] = True
        elif key == "preload":
            out["preload"] = True
    age = out["max_age"] or 0
    out["meets"] = {
        "ssl_labs_a_plus": age >= SSL_LABS_A_PLUS,
        "preload_list": age >= PRELOAD_LIST and out["include_subdomains"] and out["preload"],
        "mozilla": age >= MOZILLA,
    }
    return out


def fetch_hsts(target: Target, deadline: Deadline, timeout: float) -> dict:
    """GET / over HTTPS, following redirects on the same host; the final HTTPS response's HSTS header."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # trust is tls.certificate_valid's concern
    port, path, hops = target.port, "/", []
    for _ in range(MAX_REDIRECTS + 1):
        try:
            with connections.connection((target.host, port), deadline, timeout) as raw:
                raw.settimeout(deadline.remaining(timeout))
                with ctx.wrap_socket(raw, server_hostname=target.sni or None) as tls:
                    status, headers = _request(tls, target.name, path, deadline, timeout)
        except (OSError, ValueError, ssl.SSLError) as exc:
            raise Unreachable(f"HTTPS request to {target.name}:{port}{path} failed: {exc}") from exc
        hops.append({"url": f"https://{target.name}:{port}{path}", "status": status})
        location = (headers.get("location") or [""])[0]
        if status in (301, 302, 303, 307, 308) and location:
            url = urlsplit(location)
            if url.scheme not in ("", "https") or (url.hostname and url.hostname != target.name):
                hops[-1]["redirect_elsewhere"] = location
                break
            port, path = url.port or (port if not url.scheme else 443), url.path or "/"
            continue
        break
    hsts = headers.get("strict-transport-security")
    return {"hops": hops, "status": status, "hsts": parse_hsts(hsts) if hsts else None}


def check_redirect(target: Target, deadline: Deadline, timeout: float) -> dict:
    """GET / over plain HTTP: a redirect to https:// on the same host is the good answer."""
    port = target.http_port
    result: dict = {"http_port": port}
    try:
        with connections.connection((target.host, port), deadline, timeout) as sock:
            status, headers = _request(sock, target.name, "/", deadline, timeout)
    except ConnectionRefusedError:
        result["listening"] = False
        return result
    except (OSError, ValueError) as exc:
        raise Unreachable(f"HTTP request to {target.host}:{port} failed: {exc}") from exc
    location = (headers.get("location") or [""])[0]
    url = urlsplit(location)
    result.update(
        listening=True,
        status=status,
        location=location or None,
        hsts_over_http_ignored=bool(headers.get("strict-transport-security")),
        redirects_to_https=status in (301, 302, 303, 307, 308) and url.scheme == "https",
        same_host=url.hostname == target.name,
    )
    return result
