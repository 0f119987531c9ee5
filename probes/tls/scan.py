"""One endpoint, scanned: protocols, cipher suites per protocol, key exchange, OCSP staple, Heartbleed.

Everything is blocking and bounded by one ``Deadline``; the probe runs many
endpoints at once in threads (see ``concurrency``).
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass, field

from . import connections
from .ciphers import LEGACY_SUITES, TLS13_SUITES, describe
from .wire import (
    GROUP_BITS,
    GROUP_NAMES,
    SSL3,
    TLS10,
    TLS11,
    TLS12,
    TLS13,
    VERSION_NAMES,
    Deadline,
    ServerAnswer,
    client_hello,
    exchange,
    sslv2_exchange,
)

PROTOCOLS = (SSL3, TLS10, TLS11, TLS12, TLS13)
SSL_VERSIONS = {
    TLS10: ssl.TLSVersion.TLSv1,
    TLS11: ssl.TLSVersion.TLSv1_1,
    TLS12: ssl.TLSVersion.TLSv1_2,
    TLS13: ssl.TLSVersion.TLSv1_3,
}
MAX_ELIMINATION_ROUNDS = 128
BACKOFF_SECONDS = 0.2


class Unreachable(Exception):
    """The endpoint cannot be scanned at all; the message says what happened."""


@dataclass(frozen=True)
class Target:
    """One endpoint to scan: where to connect, which name to ask for, which CAs to trust."""

    host: str
    port: int = 443
    sni: str | None = None
    ca_bundle: str | None = None
    http_port: int | None = 80

    @property
    def endpoint(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def name(self) -> str:
        return self.sni or self.host


@dataclass
class ProtocolScan:
    """Suites accepted per protocol (names), and what the server did for each offered protocol."""

    accepted: dict[str, list[int]] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    confirmed: dict[str, bool | None] = field(default_factory=dict)
    key_exchanges: list[dict] = field(default_factory=list)
    certificates: list[bytes] = field(default_factory=list)
    heartbleed: bool | None = None
    heartbeat_offered: bool = False
    sslv2: dict = field(default_factory=lambda: {"accepted": None, "answer": "not probed", "ciphers": []})


def _answer_text(answer: ServerAnswer) -> str:
    if answer.outcome == "alert":
        return f"alert {answer.alert}"
    if answer.outcome == "closed":
        return "connection closed"
    version = VERSION_NAMES.get(answer.version or 0, f"0x{answer.version or 0:04X}")
    kind = "HelloRetryRequest" if answer.retry_request else "ServerHello"
    return f"{kind} {version} {describe(answer.suite or 0).name}"


def _offer(target: Target, version: int, suites: list[int], deadline: Deadline, timeout: float, **kw) -> ServerAnswer:
    names = TLS13_SUITES if version == TLS13 else LEGACY_SUITES
    hello = client_hello(version, suites, target.sni or target.host, **kw)
    heart = kw.get("heartbeat", False)
    try:
        answer = exchange(
            (target.host, target.port), hello, deadline, timeout, suite_names=names, heartbleed_probe=heart
        )
        if answer.outcome == "closed":
            # Refusals normally come as alerts; a bare close may be a connection limit, so back off and ask again.
            time.sleep(min(BACKOFF_SECONDS, deadline.remaining()))
            answer = exchange((target.host, target.port), hello, deadline, timeout, suite_names=names)
        return answer
    except (ConnectionRefusedError, socket.gaierror) as exc:
        raise Unreachable(f"cannot connect: {exc.strerror or exc}") from exc
    except TimeoutError as exc:
        raise Unreachable(f"no answer within the timeout ({exc or 'timed out'})") from exc


def _record_kex(scan: ProtocolScan, protocol: str, answer: ServerAnswer) -> None:
    kex = answer.key_exchange
    if not kex:
        return
    entry = {"protocol": protocol, "suite": describe(answer.suite or 0).name, "type": kex["type"]}
    if "group" in kex:
        entry["group"] = GROUP_NAMES.get(kex["group"], f"0x{kex['group']:04X}")
        entry["bits"] = GROUP_BITS.get(kex["group"], 0)
    else:
        entry["bits"] = kex["bits"]
        entry["dh_prime_bits"] = kex["bits"]
    if entry not in scan.key_exchanges:
        scan.key_exchanges.append(entry)


def _enumerate(target: Target, version: int, deadline: Deadline, timeout: float, scan: ProtocolScan) -> None:
    """Offer every suite; remove the one the server chose; repeat until it refuses."""
    protocol = VERSION_NAMES[version]
    remaining = list(TLS13_SUITES if version == TLS13 else LEGACY_SUITES)
    chosen: list[int] = []
    for _ in range(MAX_ELIMINATION_ROUNDS):
        if not remaining:
            break
        answer = _offer(target, version, remaining, deadline, timeout, heartbeat=version == TLS12 and not chosen)
        if not chosen:
            scan.answers[protocol] = _answer_text(answer)
        if not answer.accepted or answer.version != version or answer.suite not in remaining:
            break
        if version == TLS12 and not chosen:
            scan.heartbleed = answer.heartbleed
            scan.heartbeat_offered = 15 in answer.extensions
        if answer.certificates and not scan.certificates:
            scan.certificates = answer.certificates
        _record_kex(scan, protocol, answer)
        chosen.append(answer.suite)
        remaining.remove(answer.suite)
    if chosen:
        scan.accepted[protocol] = chosen


def _confirm(target: Target, version: int, deadline: Deadline, timeout: float) -> bool | None:
    """A real handshake through ``ssl`` at exactly this version; None when the local OpenSSL cannot try.

    Pinning TLS 1.0/1.1 raises Python's DeprecationWarning: offering them on purpose is what a scanner does.
    (warnings.catch_warnings() is not thread-safe, and endpoints are scanned in threads, so it is not used.)
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        ctx.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
        ctx.minimum_version = ctx.maximum_version = SSL_VERSIONS[version]
    except (ValueError, ssl.SSLError):
        return None
    try:
        with connections.connection((target.host, target.port), deadline, timeout) as raw:
            raw.settimeout(deadline.remaining(timeout))
            with ctx.wrap_socket(raw, server_hostname=target.sni or None) as tls:
                return tls.version() == ssl.TLSVersion(SSL_VERSIONS[version]).name.replace("_", ".")
    except ssl.SSLError as exc:
        if "no protocols available" in str(exc) or "NO_CIPHERS_AVAILABLE" in str(exc):
            return None
        return False
    except (ConnectionResetError, BrokenPipeError, EOFError):
        return False
    except (TimeoutError, ConnectionRefusedError) as exc:
        raise Unreachable(f"real handshake failed: {exc}") from exc


def _sslv2(target: Target, deadline: Deadline, timeout: float) -> dict:
    """Our own SSLv2 hello (no OpenSSL here can speak SSLv2, so there is no real handshake to confirm it)."""
    try:
        accepted, answer, ciphers = sslv2_exchange((target.host, target.port), deadline, timeout)
    except (ConnectionRefusedError, socket.gaierror) as exc:
        raise Unreachable(f"cannot connect: {exc.strerror or exc}") from exc
    except TimeoutError:
        # Many TLS servers wait for more bytes after an SSLv2 hello they do not understand: a refusal.
        return {"accepted": False, "answer": "no answer to an SSLv2 hello", "ciphers": []}
    return {"accepted": accepted, "answer": answer, "ciphers": ciphers}


def scan_protocols(target: Target, deadline: Deadline, timeout: float) -> ProtocolScan:
    """Which protocols and suites the endpoint accepts, confirmed by real handshakes where OpenSSL can."""
    scan = ProtocolScan()
    scan.sslv2 = _sslv2(target, deadline, timeout)
    if scan.sslv2["accepted"]:
        scan.accepted["SSLv2"] = []  # SSLv2 cipher kinds are not TLS suites: they are named in ``sslv2``
    for version in PROTOCOLS:
        _enumerate(target, version, deadline, timeout, scan)
    for version in (TLS10, TLS11, TLS12, TLS13):
        scan.confirmed[VERSION_NAMES[version]] = _confirm(target, version, deadline, timeout)
    return scan


def fetch_staple(target: Target, deadline: Deadline, timeout: float, attempts: int, interval: float) -> dict:
    """Ask for an OCSP staple over TLS 1.2 up to ``attempts`` times, ``interval`` seconds apart.

    Servers fetch their staple lazily, so one empty answer proves little. Over
    TLS 1.3 the staple travels encrypted, so only TLS 1.2 can show it here.
    """
    tries = []
    for attempt in range(attempts):
        if attempt:
            time.sleep(min(interval, deadline.remaining()))
        answer = _offer(target, TLS12, list(LEGACY_SUITES), deadline, timeout, status_request=True)
        tries.append(_answer_text(answer))
        if not answer.accepted or answer.version != TLS12:
            return {"tls12": False, "attempts": tries, "staple": None}
        if answer.ocsp_response:
            return {"tls12": True, "attempts": tries, "staple": answer.ocsp_response, "chain": answer.certificates}
    return {"tls12": True, "attempts": tries, "staple": None}
