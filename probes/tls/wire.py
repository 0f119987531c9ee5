"""TLS on the wire, as far as a scanner needs it: build a ClientHello, read up to ServerHelloDone.

The local OpenSSL cannot offer SSLv3, RC4, 3DES or export suites and Python
cannot pick TLS 1.3 suites, so the scanner writes its own ClientHello and reads
the server's plaintext answer: ServerHello (or HelloRetryRequest), and for
TLS 1.2 and older the Certificate, CertificateStatus and ServerKeyExchange
messages. Nothing is ever decrypted.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from dataclasses import dataclass, field

from .connections import connection

SSL3, TLS10, TLS11, TLS12, TLS13 = 0x0300, 0x0301, 0x0302, 0x0303, 0x0304
VERSION_NAMES = {SSL3: "SSLv3", TLS10: "TLSv1.0", TLS11: "TLSv1.1", TLS12: "TLSv1.2", TLS13: "TLSv1.3"}

HANDSHAKE, ALERT, CHANGE_CIPHER_SPEC, APPLICATION_DATA, HEARTBEAT = 22, 21, 20, 23, 24
SERVER_HELLO, CERTIFICATE, SERVER_KEY_EXCHANGE, SERVER_HELLO_DONE, CERTIFICATE_STATUS = 2, 11, 12, 14, 22
EXT_SERVER_NAME, EXT_STATUS_REQUEST, EXT_GROUPS, EXT_POINT_FORMATS, EXT_SIG_ALGS = 0, 5, 10, 11, 13
EXT_HEARTBEAT, EXT_EMS, EXT_SUPPORTED_VERSIONS, EXT_PSK_MODES, EXT_KEY_SHARE, EXT_RENEGOTIATION = (
    15,
    23,
    43,
    45,
    51,
    0xFF01,
)
HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")

GROUP_NAMES = {
    23: "secp256r1",
    24: "secp384r1",
    25: "secp521r1",
    29: "x25519",
    30: "x448",
    256: "ffdhe2048",
    257: "ffdhe3072",
    258: "ffdhe4096",
    0x11EC: "X25519MLKEM768",
}
# RSA-equivalent strength of each group, as the SSL Labs guide compares key exchanges.
GROUP_BITS = {23: 3072, 24: 7680, 25: 15360, 29: 3072, 30: 7680, 256: 2048, 257: 3072, 258: 4096, 0x11EC: 3072}
ECC_GROUPS = (29, 23, 24, 25, 30)
SIG_ALGS = (0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201)
ALERT_NAMES = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    40: "handshake_failure",
    47: "illegal_parameter",
    50: "decode_error",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    109: "missing_extension",
    112: "unrecognized_name",
}
MAX_HANDSHAKE_BYTES = 1 << 18


class NotTls(Exception):
    """The peer answered with bytes that are not a TLS record."""


class Malformed(Exception):
    """The peer sent TLS records that do not parse."""


class Deadline:
    """A point in time every socket operation of one endpoint must finish by."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def remaining(self, cap: float | None = None) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError("endpoint time budget exhausted")
        return min(left, cap) if cap else left


def _ext(kind: int, body: bytes) -> bytes:
    return struct.pack("!HH", kind, len(body)) + body


def _u16_list(values) -> bytes:
    data = b"".join(struct.pack("!H", v) for v in values)
    return struct.pack("!H", len(data)) + data


def _is_ip(name: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, name)
            return True
        except OSError:
            pass
    return False


def client_hello(
    version: int,
    suites: list[int],
    server_name: str | None,
    *,
    status_request: bool = False,
    heartbeat: bool = False,
) -> bytes:
    """A ClientHello record offering exactly ``version`` (TLS 1.3 via supported_versions) and ``suites``."""
    exts = []
    if server_name and not _is_ip(server_name):
        name = server_name.encode("idna")
        entry = b"\x00" + struct.pack("!H", len(name)) + name
        exts.append(_ext(EXT_SERVER_NAME, struct.pack("!H", len(entry)) + entry))
    # X25519MLKEM768 is offered without a key share: a server that prefers it says so in a HelloRetryRequest.
    groups = ((0x11EC,) + ECC_GROUPS + (256, 257, 258)) if version == TLS13 else ECC_GROUPS
    exts.append(_ext(EXT_GROUPS, _u16_list(groups)))
    exts.append(_ext(EXT_POINT_FORMATS, b"\x01\x00"))
    if version >= TLS12:
        exts.append(_ext(EXT_SIG_ALGS, _u16_list(SIG_ALGS)))
    if status_request:
        exts.append(_ext(EXT_STATUS_REQUEST, b"\x01\x00\x00\x00\x00"))
    if heartbeat:
        exts.append(_ext(EXT_HEARTBEAT, b"\x01"))
    if version != SSL3:
        exts.append(_ext(EXT_EMS, b""))
        exts.append(_ext(EXT_RENEGOTIATION, b"\x00"))
    if version == TLS13:
        exts.append(_ext(EXT_SUPPORTED_VERSIONS, b"\x02\x03\x04"))
        exts.append(_ext(EXT_PSK_MODES, b"\x01\x01"))
        share = struct.pack("!HH", 29, 32) + os.urandom(32)
        exts.append(_ext(EXT_KEY_SHARE, struct.pack("!H", len(share)) + share))
    legacy = TLS12 if version == TLS13 else version
    session_id = os.urandom(32) if version == TLS13 else b""
    body = (
        struct.pack("!H", legacy)
        + os.urandom(32)
        + bytes([len(session_id)])
        + session_id
        + _u16_list(suites)
        + b"\x01\x00"
    )
    ext_bytes = b"".join(exts)
    body += struct.pack("!H", len(ext_bytes)) + ext_bytes
    handshake = bytes([1]) + len(body).to_bytes(3, "big") + body
    record_version = SSL3 if version == SSL3 else TLS10
    return struct.pack("!BHH", HANDSHAKE, record_version, len(handshake)) + handshake


@dataclass
class ServerAnswer:
    """What the server said to one ClientHello, up to where encryption starts."""

    outcome: str  # "hello", "alert", "closed"
    version: int | None = None
    suite: int | None = None
    retry_request: bool = False
    extensions: dict[int, bytes] = field(default_factory=dict)
    certificates: list[bytes] = field(default_factory=list)
    ocsp_response: bytes | None = None
    key_exchange: dict | None = None
    alert: str | None = None
    heartbleed: bool | None = None

    @property
    def accepted(self) -> bool:
        return self.outcome == "hello"


def _recv_exact(sock: socket.socket, n: int, deadline: Deadline, cap: float) -> bytes:
    buf = b""
    while len(buf) < n:
        sock.settimeout(deadline.remaining(cap))
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def _read_record(sock: socket.socket, deadline: Deadline, cap: float) -> tuple[int, int, bytes]:
    header = _recv_exact(sock, 5, deadline, cap)
    kind, version, length = struct.unpack("!BHH", header)
    if kind not in (20, 21, 22, 23, 24) or header[1] != 3:
        raise NotTls(f"not a TLS record: first bytes {header.hex()}")
    if length > 18432:
        raise Malformed(f"record length {length} exceeds the TLS limit")
    return kind, version, _recv_exact(sock, length, deadline, cap)


def _parse_extensions(data: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    pos = 0
    while pos + 4 <= len(data):
        kind, length = struct.unpack_from("!HH", data, pos)
        out[kind] = data[pos + 4 : pos + 4 + length]
        pos += 4 + length
    return out


def _parse_server_hello(body: bytes, answer: ServerAnswer) -> None:
    try:
        version = struct.unpack_from("!H", body, 0)[0]
        random = body[2:34]
        sid_len = body[34]
        pos = 35 + sid_len
        suite = struct.unpack_from("!H", body, pos)[0]
        pos += 3
        exts = _parse_extensions(body[pos + 2 :]) if len(body) > pos + 2 else {}
    except (struct.error, IndexError) as exc:
        raise Malformed(f"ServerHello does not parse: {exc}") from exc
    if EXT_SUPPORTED_VERSIONS in exts and len(exts[EXT_SUPPORTED_VERSIONS]) == 2:
        version = struct.unpack("!H", exts[EXT_SUPPORTED_VERSIONS])[0]
    answer.outcome, answer.version, answer.suite, answer.extensions = "hello", version, suite, exts
    answer.retry_request = random == HRR_RANDOM
    share = exts.get(EXT_KEY_SHARE)
    if share and len(share) >= 2:
        group = struct.unpack_from("!H", share)[0]
        answer.key_exchange = {"type": "ECDHE" if group < 256 or group == 0x11EC else "DHE", "group": group}


def _parse_certificates(body: bytes) -> list[bytes]:
    certs, pos, end = [], 3, 3 + int.from_bytes(body[:3], "big")
    while pos + 3 <= min(end, len(body)):
        length = int.from_bytes(body[pos : pos + 3], "big")
        certs.append(body[pos + 3 : pos + 3 + length])
        pos += 3 + length
    return certs


def _parse_key_exchange(body: bytes, suite_name: str) -> dict | None:
    kex = suite_name.removeprefix("TLS_").partition("_WITH_")[0]
    if kex.startswith("ECDHE") or kex.startswith("ECDH_anon"):
        if len(body) >= 3 and body[0] == 3:
            return {"type": "ECDHE", "group": struct.unpack_from("!H", body, 1)[0]}
    elif kex.startswith(("DHE", "DH_anon")) and len(body) >= 2:
        plen = struct.unpack_from("!H", body)[0]
        prime = int.from_bytes(body[2 : 2 + plen], "big")
        return {"type": "DHE", "bits": prime.bit_length()}
    return None


def exchange(
    address: tuple[str, int],
    hello: bytes,
    deadline: Deadline,
    timeout: float,
    *,
    suite_names: dict[int, str] | None = None,
    heartbleed_probe: bool = False,
) -> ServerAnswer:
    """Send ``hello`` and read the answer; connection errors and timeouts propagate, rejections do not."""
    with connection(address, deadline, timeout) as sock:
        sock.sendall(hello)
        answer = ServerAnswer("closed")
        pending = b""
        try:
            while True:
                kind, _, payload = _read_record(sock, deadline, timeout)
                if kind == ALERT:
                    if answer.outcome == "hello":
                        return answer
                    answer.outcome = "alert"
                    answer.alert = ALERT_NAMES.get(payload[1], str(payload[1])) if len(payload) > 1 else "?"
                    return answer
                if kind != HANDSHAKE:
                    if answer.outcome == "hello":
                        return answer
                    raise Malformed(f"record type {kind} before ServerHello")
                pending += payload
                if len(pending) > MAX_HANDSHAKE_BYTES:
                    raise Malformed("handshake larger than 256 KiB")
                while len(pending) >= 4:
                    msg_type, length = pending[0], int.from_bytes(pending[1:4], "big")
                    if len(pending) < 4 + length:
                        break
                    body, pending = pending[4 : 4 + length], pending[4 + length :]
                    if answer.outcome != "hello" and msg_type != SERVER_HELLO:
                        raise Malformed(f"handshake message {msg_type} before ServerHello")
                    if msg_type == SERVER_HELLO:
                        _parse_server_hello(body, answer)
                        if answer.version == TLS13 or answer.retry_request:
                            return answer  # everything after is encrypted
                    elif msg_type == CERTIFICATE:
                        answer.certificates = _parse_certificates(body)
                    elif msg_type == CERTIFICATE_STATUS and len(body) > 4 and body[0] == 1:
                        answer.ocsp_response = body[4 : 4 + int.from_bytes(body[1:4], "big")]
                    elif msg_type == SERVER_KEY_EXCHANGE and answer.suite is not None:
                        answer.key_exchange = _parse_key_exchange(body, (suite_names or {}).get(answer.suite, ""))
                    elif msg_type == SERVER_HELLO_DONE:
                        if heartbleed_probe:
                            answer.heartbleed = _heartbleed(sock, answer, deadline, timeout)
                        return answer
        except (EOFError, ConnectionResetError, BrokenPipeError):
            return answer


# SSLv2 cipher kinds (3 bytes each), the whole of that protocol's repertoire.
SSL2_CIPHERS = {
    0x010080: "SSL_CK_RC4_128_WITH_MD5",
    0x020080: "SSL_CK_RC4_128_EXPORT40_WITH_MD5",
    0x030080: "SSL_CK_RC2_128_CBC_WITH_MD5",
    0x040080: "SSL_CK_RC2_128_CBC_EXPORT40_WITH_MD5",
    0x050080: "SSL_CK_IDEA_128_CBC_WITH_MD5",
    0x060040: "SSL_CK_DES_64_CBC_WITH_MD5",
    0x0700C0: "SSL_CK_DES_192_EDE3_CBC_WITH_MD5",
}


def sslv2_client_hello() -> bytes:
    """An SSLv2 CLIENT-HELLO: a 2-byte record header with the high bit set, version 0x0002, every cipher kind."""
    specs = b"".join(kind.to_bytes(3, "big") for kind in SSL2_CIPHERS)
    challenge = os.urandom(16)
    body = bytes([1]) + struct.pack("!HHHH", 0x0002, len(specs), 0, len(challenge)) + specs + challenge
    return struct.pack("!H", 0x8000 | len(body)) + body


def sslv2_exchange(address: tuple[str, int], deadline: Deadline, timeout: float) -> tuple[bool, str, list[str]]:
    """Whether the server answers an SSLv2 hello with an SSLv2 SERVER-HELLO, what it said, and its ciphers."""
    with connection(address, deadline, timeout) as sock:
        sock.sendall(sslv2_client_hello())
        try:
            header = _recv_exact(sock, 2, deadline, timeout)
        except (EOFError, ConnectionResetError, BrokenPipeError):
            return False, "connection closed", []
        if not header[0] & 0x80:
            if header[0] == ALERT:
                return False, "TLS alert", []
            return False, f"not SSLv2 (first bytes {header.hex()})", []
        length = ((header[0] & 0x7F) << 8) | header[1]
        try:
            body = _recv_exact(sock, length, deadline, timeout)
        except (EOFError, ConnectionResetError, BrokenPipeError):
            return False, "connection closed mid-record", []
    if len(body) < 11 or body[0] != 4:
        return False, f"SSLv2 message type {body[0] if body else '?'}, not SERVER-HELLO", []
    version, cert_len, specs_len = struct.unpack_from("!HHH", body, 3)
    if version != 0x0002:
        return False, f"SERVER-HELLO with version 0x{version:04X}", []
    specs = body[11 + cert_len : 11 + cert_len + specs_len]
    kinds = [int.from_bytes(specs[i : i + 3], "big") for i in range(0, len(specs) - 2, 3)]
    names = [SSL2_CIPHERS.get(k, f"0x{k:06X}") for k in kinds]
    if not names:
        return False, "SSLv2 SERVER-HELLO with no cipher in common", []
    return True, f"SSLv2 SERVER-HELLO offering {len(names)} cipher(s)", names


def _heartbleed(sock: socket.socket, answer: ServerAnswer, deadline: Deadline, timeout: float) -> bool:
    """Send a heartbeat claiming 16 KiB of payload but carrying none: only a vulnerable server answers."""
    if EXT_HEARTBEAT not in answer.extensions:
        return False
    version = answer.version or TLS12
    sock.sendall(struct.pack("!BHH", HEARTBEAT, version, 3) + b"\x01\x40\x00")
    try:
        while True:
            kind, _, payload = _read_record(sock, deadline, min(timeout, 2.0))
            if kind == HEARTBEAT:
                return len(payload) > 3
            if kind == ALERT:
                return False
    except (EOFError, ConnectionResetError, TimeoutError):
        return False
