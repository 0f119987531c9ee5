"""Real TLS servers on loopback for the TLS probe's tests: a test PKI, nginx configurations, fake servers.

Certificates and keys are generated at test time with ``cryptography``; nothing
secret is committed. nginx is Debian's, started per session with its own
prefix, config, pid file and logs in a temporary directory, on free ports.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

NOW = dt.datetime.now(dt.UTC)
INTERMEDIATE_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)
STARTUP_WAIT_SECONDS = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


@dataclass
class Issued:
    cert: x509.Certificate
    key: object

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def new_key(kind: str):
    if kind == "ec256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=int(kind.removeprefix("rsa")))


def issue(
    common: str,
    *,
    issuer: Issued | None = None,
    ca: bool = False,
    key: str = "ec256",
    digest=hashes.SHA256,
    names: tuple[str, ...] = (),
    not_before: dt.datetime | None = None,
    days: int = 90,
) -> Issued:
    """A certificate for ``common`` (self-signed when no issuer), with SANs ``names``."""
    private = new_key(key)
    start = not_before or NOW - dt.timedelta(days=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        builder = builder.add_extension(usage, critical=True)
    if digest is hashes.SHA1:
        return Issued(_sign_sha1(builder.issuer_name(_name(common)).sign(private, hashes.SHA256()), issuer), private)
    builder = builder.issuer_name(issuer.cert.subject if issuer else _name(common))
    return Issued(builder.sign(issuer.key if issuer else private, digest()), private)


def _pem_key(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _sign_sha1(draft: x509.Certificate, issuer: Issued | None) -> x509.Certificate:
    """cryptography refuses SHA-1 signatures, so Debian's openssl re-signs the self-signed draft with SHA-1."""
    if issuer is None:
        raise ValueError("SHA-1 test certificates need an issuer")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "draft.pem").write_bytes(draft.public_bytes(serialization.Encoding.PEM))
        (folder / "issuer.pem").write_bytes(issuer.pem())
        (folder / "issuer.key").write_bytes(_pem_key(issuer.key))
        args = ["openssl", "x509", "-in", "draft.pem", "-out", "sha1.pem", "-sha1", "-preserve_dates"]
        args += ["-CA", "issuer.pem", "-CAkey", "issuer.key", "-set_serial", str(draft.serial_number)]
        done = subprocess.run(args, cwd=folder, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"openssl could not sign with SHA-1: {done.stderr[-500:]}")
        return x509.load_pem_x509_certificate((folder / "sha1.pem").read_bytes())


@dataclass
class Pki:
    root: Issued
    intermediate: Issued

    @classmethod
    def create(cls) -> Pki:
        root = issue("readiness test root", ca=True, days=3650)
        return cls(root, issue("readiness test intermediate", issuer=root, ca=True, days=1825))

    def leaf(self, name: str, **kw) -> Issued:
        kw.setdefault("names", (name,))
        return issue(name, issuer=self.intermediate, **kw)

    def staple(self, leaf: Issued, revoked: bool = False) -> bytes:
        """An OCSP response for ``leaf`` (GOOD, or REVOKED yesterday), signed by its issuer, valid for a week."""
        single = ocsp.OCSPResponseBuilder().add_response(
            cert=leaf.cert,
            issuer=self.intermediate.cert,
            algorithm=hashes.SHA1(),
            cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
            this_update=NOW - dt.timedelta(hours=1),
            next_update=NOW + dt.timedelta(days=7),
            revocation_time=NOW - dt.timedelta(days=1) if revoked else None,
            revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
        )
        response = single.responder_id(ocsp.OCSPResponderEncoding.HASH, self.intermediate.cert)
        return response.sign(self.intermediate.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@dataclass
class Site:
    """One nginx server block: a name, its certificate chain and extra directives."""

    name: str
    chain: list[Issued]
    directives: str
    staple: bytes | None = None
    http_redirect: bool = False
    dhparam_bits: int | None = None
    port: int = 0
    http_port: int | None = None


@dataclass
class Nginx:
    directory: Path
    sites: dict[str, Site] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    def conf(self) -> str:
        blocks = []
        for site in self.sites.values():
            base = self.directory / site.name
            base.with_suffix(".crt").write_bytes(b"".join(c.pem() for c in site.chain))
            base.with_suffix(".key").write_bytes(site.chain[0].key_pem())
            os.chmod(base.with_suffix(".key"), 0o600)
            staple = ""
            if site.staple:
                base.with_suffix(".ocsp").write_bytes(site.staple)
                staple = f"ssl_stapling on; ssl_stapling_file {base.with_suffix('.ocsp')};"
            if site.dhparam_bits:
                dh = base.with_suffix(".dh")
                # -dsaparam: fast to generate; the group size is what the test is about
                args = ["openssl", "dhparam", "-dsaparam", "-out", str(dh), str(site.dhparam_bits)]
                subprocess.run(args, check=True, capture_output=True)
                staple += f" ssl_dhparam {dh};"
            blocks.append(
                f"""
  server {{
    listen 127.0.0.1:{site.port} ssl;
    server_name {site.name};
    ssl_certificate {base.with_suffix(".crt")};
    ssl_certificate_key {base.with_suffix(".key")};
    {staple}
    {site.directives}
    location / {{ return 200 "ok\\n"; }}
  }}"""
            )
            if site.http_port:
                plain = 'return 200 "plain\\n";'
                action = f"return 301 https://$host:{site.port}$request_uri;" if site.http_redirect else plain
                blocks.append(
                    f"""
  server {{
    listen 127.0.0.1:{site.http_port};
    server_name {site.name};
    location / {{ {action} }}
  }}"""
                )
        user = "user root;" if os.geteuid() == 0 else ""
        temp = self.directory / "tmp"
        return f"""{user}
daemon off;
worker_processes 1;
pid {self.directory / "nginx.pid"};
error_log {self.directory / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {temp}/body;
  proxy_temp_path {temp}/proxy;
  fastcgi_temp_path {temp}/fastcgi;
  uwsgi_temp_path {temp}/uwsgi;
  scgi_temp_path {temp}/scgi;
  {"".join(blocks)}
}}
"""

    def start(self) -> None:
        (self.directory / "tmp").mkdir(exist_ok=True)
        conf = self.directory / "nginx.conf"
        conf.write_text(self.conf())
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.process = subprocess.Popen(
            [binary, "-c", str(conf), "-p", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.directory / "stderr.log", "wb"),  # noqa: SIM115 - lives as long as nginx
        )
        ports = [s.port for s in self.sites.values()] + [s.http_port for s in self.sites.values() if s.http_port]
        give_up = time.monotonic() + STARTUP_WAIT_SECONDS
        while ports and time.monotonic() < give_up:
            if self.process.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", ports[0]), timeout=0.5).close()
                ports.pop(0)
            except OSError:
                time.sleep(0.05)
        if ports:
            self.stop()
            log = (self.directory / "stderr.log").read_text() + (self.directory / "error.log").read_text()
            raise RuntimeError(f"nginx did not start: {log[-2000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def standard_sites(pki: Pki) -> dict[str, Site]:
    """The configurations the issue asks for: one strong, the rest weak in one way each."""
    strong_leaf = pki.leaf("strong.test")
    hsts2y = 'add_header Strict-Transport-Security "max-age=63072000; includeSubDomains; preload" always;'
    modern = f"ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers {INTERMEDIATE_CIPHERS}; ssl_prefer_server_ciphers off;"
    modern += " ssl_ecdh_curve X25519:prime256v1:secp384r1;"
    full = [strong_leaf, pki.intermediate]
    sites = [
        Site("strong.test", full, f"{modern} {hsts2y}", staple=pki.staple(strong_leaf), http_redirect=True),
        Site(
            "legacy.test",
            [pki.leaf("legacy.test", key="rsa1024", digest=hashes.SHA1, days=400), pki.intermediate],
            "ssl_protocols TLSv1 TLSv1.1 TLSv1.2; ssl_ciphers ALL:eNULL:@SECLEVEL=0;"
            ' add_header Strict-Transport-Security "max-age=300";',
            dhparam_bits=1024,
        ),
        Site(
            "expired.test",
            [pki.leaf("expired.test", not_before=NOW - dt.timedelta(days=100), days=30), pki.intermediate],
            f"{modern} {hsts2y}",
        ),
        Site("selfsigned.test", [issue("selfsigned.test", names=("selfsigned.test",))], f"{modern} {hsts2y}"),
        Site("mismatch.test", [pki.leaf("other.test"), pki.intermediate], f"{modern} {hsts2y}"),
        Site("nochain.test", [pki.leaf("nochain.test")], f"{modern} {hsts2y}"),
        Site(
            "somepaths.test",
            [pki.leaf("somepaths.test"), pki.intermediate],
            f'{modern} location /admin {{ add_header Strict-Transport-Security "max-age=63072000" always; '
            'return 200 "admin\\n"; }',
        ),
    ]
    revoked = pki.leaf("revoked.test")
    sites.append(Site("revoked.test", [revoked, pki.intermediate], modern, staple=pki.staple(revoked, revoked=True)))
    sites.append(
        Site(
            "redirecting.test",
            [pki.leaf("redirecting.test"), pki.intermediate],
            f'{modern} location = / {{ return 301 /home; }} location /home {{ {hsts2y} return 200 "home\\n"; }}',
        )
    )
    for site in sites:
        site.port = free_port()
        site.http_port = free_port() if site.name in ("strong.test", "legacy.test") else None
    return {s.name: s for s in sites}


class FakeServer:
    """A loopback TCP server that answers every connection with ``respond(first_bytes) -> bytes | None``.

    ``None`` means hang: keep the connection open and say nothing until the test ends.
    """

    def __init__(self, respond, followup=None) -> None:
        self.respond = respond
        self.followup = followup
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conn.settimeout(2)
            try:
                first = conn.recv(16384)
            except OSError:
                first = b""
            try:
                answer = self.respond(first)
            except Exception:  # a hello this fake does not understand (SSLv2): close, as a real server does
                answer = b""
            if answer is None:
                self.held.append(conn)
                continue
            try:
                conn.sendall(answer)
                if self.followup:
                    conn.sendall(self.followup(conn.recv(16384)))
                time.sleep(0.05)
            except OSError:
                pass
            conn.close()

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        for conn in self.held:
            conn.close()
        self.sock.close()


def offered(client_hello: bytes) -> tuple[int, list[int], dict[int, bytes]]:
    """The protocol version, suites and extensions a ClientHello offers (TLS 1.3 via supported_versions)."""
    body = client_hello[9:]
    version = struct.unpack_from("!H", body)[0]
    pos = 34 + 1 + body[34]
    count = struct.unpack_from("!H", body, pos)[0]
    suites = [struct.unpack_from("!H", body, pos + 2 + i)[0] for i in range(0, count, 2)]
    pos += 2 + count
    pos += 1 + body[pos]
    exts, end = {}, pos + 2 + struct.unpack_from("!H", body, pos)[0]
    pos += 2
    while pos + 4 <= end:
        kind, length = struct.unpack_from("!HH", body, pos)
        exts[kind] = body[pos + 4 : pos + 4 + length]
        pos += 4 + length
    if 43 in exts and b"\x03\x04" in exts[43]:
        version = 0x0304
    return version, suites, exts


def server_hello(version: int, suite: int, extensions: bytes = b"", random: bytes | None = None, done=True) -> bytes:
    """A ServerHello record, plus ServerHelloDone unless ``done`` is false (TLS 1.3 / HelloRetryRequest)."""
    legacy = min(version, 0x0303)
    body = struct.pack("!H", legacy) + (random or os.urandom(32)) + b"\x00" + struct.pack("!H", suite) + b"\x00"
    if extensions:
        body += struct.pack("!H", len(extensions)) + extensions
    hello = b"\x02" + len(body).to_bytes(3, "big") + body
    done = b"\x0e\x00\x00\x00" if done else b""
    record_version = 0x0300 if version == 0x0300 else 0x0301
    return struct.pack("!BHH", 22, record_version, len(hello + done)) + hello + done


def alert(description: int = 40) -> bytes:
    return struct.pack("!BHHBB", 21, 0x0301, 2, 2, description)


def sslv2_server(kinds: list[int], fallback=None):
    """A fake server that answers an SSLv2 CLIENT-HELLO with an SSLv2 SERVER-HELLO choosing from ``kinds``;
    anything else goes to ``fallback`` (or is refused with an alert)."""

    def respond(data: bytes) -> bytes | None:
        if len(data) > 3 and data[0] & 0x80 and data[2] == 1:
            specs_len = struct.unpack_from("!H", data, 5)[0]
            offered = [int.from_bytes(data[11 + i : 14 + i], "big") for i in range(0, specs_len, 3)]
            chosen = b"".join(k.to_bytes(3, "big") for k in kinds if k in offered)
            cert = b"FAKE-CERTIFICATE-NOT-DER"
            body = b"\x04\x00\x01" + struct.pack("!HHHH", 0x0002, len(cert), len(chosen), 16) + cert + chosen
            body += os.urandom(16)
            return struct.pack("!H", 0x8000 | len(body)) + body
        return fallback(data) if fallback else alert(70)

    return respond


def legacy_server(accepts: dict[int, list[int]]):
    """A fake server that speaks only ``accepts``: version -> suites it would choose, in its order."""

    def respond(data: bytes) -> bytes:
        if len(data) < 50 or data[0] != 22:
            return alert(10)
        version, suites, _ = offered(data)
        for suite in accepts.get(version, []):
            if suite in suites:
                return server_hello(version, suite)
        return alert(40 if version in accepts else 70)

    return respond


class CountingProxy:
    """TCP proxies on ``ports`` loopback ports, all forwarding to one upstream, counting how many client
    connections are open at the same time across all of them (the peak is what a per-host budget bounds).

    One selector loop serves everything and handles closes before accepts in each round: a client closes one
    connection before it opens the next, so counting in that order never sees a close as late.
    """

    def __init__(self, upstream_port: int, ports: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.active = self.peak = self.total = 0
        self.stopping = threading.Event()
        self.listeners = [socket.create_server(("127.0.0.1", 0)) for _ in range(ports)]
        self.ports = [s.getsockname()[1] for s in self.listeners]
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        import selectors

        sel = selectors.DefaultSelector()
        for listener in self.listeners:
            sel.register(listener, selectors.EVENT_READ, ("listen", None))
        peers: dict[socket.socket, socket.socket] = {}

        def drop(sock: socket.socket) -> None:
            other = peers.pop(sock, None)
            for s in (sock, other):
                if s is not None:
                    peers.pop(s, None)
                    with contextlib.suppress(KeyError, ValueError):
                        kind = sel.get_key(s).data[0]
                        sel.unregister(s)
                        if kind == "client":
                            self.active -= 1
                    s.close()

        def relay(sock: socket.socket) -> None:
            if sock not in peers:
                return
            try:
                chunk = sock.recv(65536)
                if chunk:
                    peers[sock].sendall(chunk)
                    return
            except OSError:
                pass
            drop(sock)

        while not self.stopping.is_set():
            events = sel.select(timeout=0.1)
            for key, _ in events:
                if key.data[0] != "listen":
                    relay(key.fileobj)
            for key, _ in events:
                if key.data[0] != "listen":
                    continue
                # A close the client made before this connect may still be in flight on a loaded machine:
                # let it land and count it first, so the peak is not one too high.
                time.sleep(0.005)
                for pending, _ in sel.select(timeout=0):
                    if pending.data[0] != "listen":
                        relay(pending.fileobj)
                try:
                    client, _ = key.fileobj.accept()
                except OSError:
                    continue
                try:
                    upstream = socket.create_connection(self.upstream, timeout=5)
                except OSError:
                    client.close()
                    continue
                for s in (client, upstream):
                    s.settimeout(5)
                peers[client], peers[upstream] = upstream, client
                sel.register(client, selectors.EVENT_READ, ("client", None))
                sel.register(upstream, selectors.EVENT_READ, ("upstream", None))
                self.active += 1
                self.total += 1
                self.peak = max(self.peak, self.active)
        for sock in list(peers):
            drop(sock)
        sel.close()

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        for s in self.listeners:
            s.close()
