"""Real PostgreSQL servers for the tests: Debian's binaries, initdb'd into a temp dir as the postgres OS user
(initdb refuses root), on a free loopback port. One weak (md5, no TLS) and one strong (scram, TLS only)."""

from __future__ import annotations

import datetime as dt
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PASSWORD = "FAKE-test-password-not-a-secret"


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (make system-deps installs postgresql)")
    return found[-1]


def _as_postgres(*args: str, **kw) -> subprocess.CompletedProcess:
    command = list(args)
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=60, **kw)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _self_signed(directory: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    (directory / "server.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file = directory / "server.key"
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_file.chmod(0o600)


@dataclass
class Postgres:
    root: Path
    port: int
    strong: bool

    @property
    def dsn(self) -> str:
        mode = "require" if self.strong else "disable"
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres sslmode={mode}"

    @classmethod
    def start(cls, strong: bool) -> Postgres:
        root = Path(tempfile.mkdtemp(prefix="readiness-pg-"))
        owner = pwd.getpwnam("postgres")
        if os.geteuid() == 0:
            os.chown(root, owner.pw_uid, owner.pw_gid)
        data, sockets = root / "data", root / "sock"
        _as_postgres(_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust", "--auth-host=md5")
        _as_postgres("mkdir", "-p", str(sockets))
        conf = data / "postgresql.conf"
        if strong:
            _self_signed(data)
            if os.geteuid() == 0:
                for f in ("server.crt", "server.key"):
                    os.chown(data / f, owner.pw_uid, owner.pw_gid)
            extra = "ssl = on\npassword_encryption = 'scram-sha-256'\nlog_min_duration_statement = 500\n"
            hba = "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n"
        else:
            extra = "ssl = off\npassword_encryption = 'md5'\n"
            hba = "local all all trust\nhost all all 127.0.0.1/32 md5\nhost all all 0.0.0.0/0 md5\n"
        with conf.open("a") as fh:
            fh.write(extra)
        (data / "pg_hba.conf").write_text(hba)
        port = _free_port()
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1"
        _as_postgres(_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "-t", "30", "start")
        server = cls(root, port, strong)
        table = "orders" if strong else "invoices"
        sql = (
            f"ALTER USER postgres PASSWORD '{PASSWORD}';"
            f"CREATE TABLE {table} (id serial primary key, tenant_id int not null, total numeric);"
            + (f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;" if strong else "")
        )
        _as_postgres(
            _bin("psql"), "-h", str(sockets), "-p", str(port), "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql
        )
        return server

    def stop(self) -> None:
        try:
            _as_postgres(_bin("pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
