"""Compliance with the Mozilla server-side TLS profiles, stored as versioned data beside this module."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

PROFILES_FILE = Path(__file__).with_name("mozilla_profiles.json")
CURVE_NAMES = {"secp256r1": "prime256v1", "secp384r1": "secp384r1", "secp521r1": "secp521r1"}
GROUP_NAMES = {"x25519": "X25519", "secp256r1": "prime256v1", "secp384r1": "secp384r1"}


@cache
def profiles() -> dict:
    return json.loads(PROFILES_FILE.read_text(encoding="utf-8"))


def profile(name: str, version: str | None = None) -> tuple[str, dict]:
    """The profile ``name`` of guidelines ``version`` (default: the newest stored); KeyError if absent."""
    data = profiles()
    version = version or data["default_version"]
    return version, data["versions"][version][name]


def deviations(
    prof: dict,
    protocols: list[str],
    suites: dict[str, list[str]],
    cert: dict | None,
    key_exchanges: list[dict],
    hsts: dict | None,
    stapled: bool | None,
) -> list[str]:
    """Every way the endpoint departs from the profile, one sentence each."""
    out: list[str] = []
    for proto in protocols:
        if proto not in prof["tls_versions"]:
            out.append(f"{proto} accepted; the profile allows only {', '.join(prof['tls_versions'])}")
    for proto in prof["tls_versions"]:
        if proto not in protocols and proto == "TLSv1.3":
            out.append("TLSv1.3 not accepted; the profile includes it")
    allowed = set(prof["ciphers"]) | set(prof["ciphersuites"])
    for proto, names in suites.items():
        for name in names:
            if name not in allowed:
                out.append(f"{name} accepted over {proto}; not in the profile")
    for kex in key_exchanges:
        if kex["type"] == "DHE" and "dh_prime_bits" in kex:
            if prof["dh_param_size"] is None:
                out.append(f"DHE accepted ({kex['suite']}); the profile has no DHE")
            elif kex["dh_prime_bits"] < prof["dh_param_size"]:
                out.append(f"DH group of {kex['dh_prime_bits']} bits; the profile wants {prof['dh_param_size']}")
        elif kex["type"] == "ECDHE" and "group" in kex:
            group = GROUP_NAMES.get(kex["group"], kex["group"])
            if group not in prof["tls_curves"]:
                out.append(f"key exchange group {kex['group']} used; the profile lists {', '.join(prof['tls_curves'])}")
    if cert:
        facts = cert["facts"]
        key = facts["key"]
        if key["type"] not in prof["certificate_types"]:
            out.append(f"{key['type']} certificate; the profile wants {', '.join(prof['certificate_types'])}")
        elif key["type"] == "rsa" and prof["rsa_key_size"] and key["bits"] < prof["rsa_key_size"]:
            out.append(f"RSA key of {key['bits']} bits; the profile wants {prof['rsa_key_size']}")
        elif key["type"] == "ecdsa" and CURVE_NAMES.get(key.get("curve", "")) not in prof["certificate_curves"]:
            out.append(
                f"certificate curve {key.get('curve')}; the profile wants {', '.join(prof['certificate_curves'])}"
            )
        signature = facts["signature_algorithm"]
        if signature not in prof["certificate_signatures"]:
            out.append(
                f"certificate signed with {signature}; the profile wants {', '.join(prof['certificate_signatures'])}"
            )
        if facts["lifetime_days"] > prof["maximum_certificate_lifespan"]:
            out.append(
                f"certificate lifetime {facts['lifetime_days']} days; the profile allows at most "
                f"{prof['maximum_certificate_lifespan']} (recommends {prof['recommended_certificate_lifespan']})"
            )
    age = (hsts or {}).get("max_age") or 0
    if age < prof["hsts_min_age"]:
        out.append(f"HSTS max-age {age}; the profile wants at least {prof['hsts_min_age']}")
    if prof["ocsp_staple"] and stapled is False:
        out.append("no OCSP staple; the profile wants stapling")
    return out
