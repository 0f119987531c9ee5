"""DSSE (Dead Simple Signing Envelope) with Ed25519 keys, as the DSSE v1 protocol defines it.

A signature covers ``PAE(payloadType, payload)``, never the payload alone, so a signature made
for one payload type cannot be replayed as another. The envelope is written in one canonical
form (sorted keys, two-space indent, standard base64 with padding, a final newline) and read back
only in that form: a byte changed anywhere in a bundle, even one a lenient JSON or base64 reader
would ignore (whitespace, the unused bits of a base64 character, the unsigned ``keyid``), makes
it unusable or unverified, never silently the same.

``cryptography`` is imported inside the functions: ``readiness --help`` must not pay for it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PASSPHRASE_ENV = "READINESS_KEY_PASSPHRASE"


class SigningError(Exception):
    """A key or an envelope that cannot be used at all (exit 2), said in one line."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """The pre-authentication encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body,
    LEN being the byte length in ASCII decimal, no leading zeros."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode_canonical(text: Any, what: str) -> bytes:
    """Standard base64 that re-encodes to exactly ``text``: padding bits and stray characters refused."""
    if not isinstance(text, str):
        raise SigningError(f"{what}: expected a base64 string")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise SigningError(f"{what}: not valid base64") from None
    if b64encode(data) != text:
        raise SigningError(f"{what}: not in canonical base64 (re-encoding differs)")
    return data


@dataclass(frozen=True)
class PublicKey:
    key: Any  # cryptography Ed25519PublicKey
    keyid: str  # sha256 of the DER SubjectPublicKeyInfo, lowercase hex
    source: str

    def verify(self, signature: bytes, message: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature

        try:
            self.key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class PrivateKey:
    key: Any  # cryptography Ed25519PrivateKey
    public: PublicKey

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message)


def _keyid(public_key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def public_key_from_pem(data: bytes, source: str) -> PublicKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise SigningError(f"{source}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(f"{source}: not an Ed25519 public key (make one: readiness keygen)")
    return PublicKey(key, _keyid(key), source)


def load_public_key(path: Path) -> PublicKey:
    data = _read_key(path)
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public  # the private key holds the public one
    return public_key_from_pem(data, str(path))


def load_private_key(path: Path) -> PrivateKey:
    """A PEM (PKCS#8) Ed25519 private key; an encrypted one takes its passphrase from $READINESS_KEY_PASSPHRASE."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data = _read_key(path)
    passphrase = os.environ.get(PASSPHRASE_ENV)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:  # encrypted: it needs the passphrase
        if not passphrase:
            raise SigningError(f"{path}: the key is encrypted; set {PASSPHRASE_ENV}") from None
        try:
            key = serialization.load_pem_private_key(data, password=passphrase.encode("utf-8"))
        except (ValueError, TypeError):
            raise SigningError(f"{path}: cannot decrypt the key with ${PASSPHRASE_ENV}") from None
    except ValueError:
        raise SigningError(f"{path}: not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{path}: not an Ed25519 private key (make one: readiness keygen)")
    public = key.public_key()
    return PrivateKey(key, PublicKey(public, _keyid(public), str(path)))


def _read_key(path: Path) -> bytes:
    try:
        if path.stat().st_size > 64 * 1024:
            raise SigningError(f"{path}: too large for a key file")
        return path.read_bytes()
    except OSError as exc:
        raise SigningError(f"{path}: cannot read the key: {exc.strerror or exc}") from None


def generate(private_path: Path, public_path: Path) -> PublicKey:
    """A new Ed25519 key pair: the private key written owner-only (0600), never over an existing file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    for path in (private_path, public_path):
        if path.exists() or path.is_symlink():
            raise SigningError(f"{path}: exists; not overwritten")
    key = Ed25519PrivateKey.generate()
    passphrase = os.environ.get(PASSPHRASE_ENV)
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode("utf-8"))
        if passphrase
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    public = key.public_key()
    public_path.write_bytes(
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return PublicKey(public, _keyid(public), str(public_path))


def envelope(payload_type: str, payload: bytes, key: PrivateKey) -> dict[str, Any]:
    sig = key.sign(pae(payload_type, payload))
    return {
        "payload": b64encode(payload),
        "payloadType": payload_type,
        "signatures": [{"keyid": key.public.keyid, "sig": b64encode(sig)}],
    }


def dumps(env: dict[str, Any]) -> bytes:
    """The one form a bundle is written in (and must be read in)."""
    return (json.dumps(env, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")


@dataclass(frozen=True)
class Opened:
    payload_type: str
    payload: bytes
    signatures: list[tuple[str, bytes]]  # (keyid, signature)


def parse(data: bytes, source: str) -> Opened:
    """An envelope read strictly: exactly the canonical bytes, the DSSE fields and nothing else."""
    try:
        env = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SigningError(f"{source}: not a JSON DSSE envelope") from None
    if not isinstance(env, dict) or set(env) != {"payload", "payloadType", "signatures"}:
        raise SigningError(f"{source}: not a DSSE envelope (expected payload, payloadType, signatures)")
    sigs = env["signatures"]
    if not isinstance(env["payloadType"], str) or not isinstance(sigs, list) or not sigs:
        raise SigningError(f"{source}: a DSSE envelope needs a payloadType and at least one signature")
    opened = []
    for i, s in enumerate(sigs):
        if not isinstance(s, dict) or set(s) != {"keyid", "sig"} or not isinstance(s["keyid"], str):
            raise SigningError(f"{source}: signature {i + 1} must have exactly keyid and sig")
        opened.append((s["keyid"], b64decode_canonical(s["sig"], f"{source}: signature {i + 1}")))
    payload = b64decode_canonical(env["payload"], f"{source}: payload")
    try:
        canonical = dumps(env)
    except (TypeError, ValueError):
        raise SigningError(f"{source}: not a DSSE envelope") from None
    if canonical != data:
        raise SigningError(f"{source}: not in the form readiness writes (a byte was changed or the file re-formatted)")
    return Opened(env["payloadType"], payload, opened)


def unverified(opened: Opened, keys: list[PublicKey]) -> list[str]:
    """Why the envelope's signatures do not all verify with ``keys``; empty when every one does.

    The ``keyid`` is not signed, so it is only trusted after the signature verifies with the key it names:
    a signature whose keyid names no given key fails, even if some given key would verify it."""
    by_id = {k.keyid: k for k in keys}
    message = pae(opened.payload_type, opened.payload)
    problems = []
    for i, (keyid, sig) in enumerate(opened.signatures, 1):
        key = by_id.get(keyid)
        if key is None:
            problems.append(f"signature {i} names key {keyid[:16]}…, which is not the key given")
        elif not key.verify(sig, message):
            problems.append(f"signature {i} does not verify with {key.source} (key {keyid[:16]}…)")
    return problems
