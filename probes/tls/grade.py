"""An offline, SSL Labs-like grade: an approximation of the public SSL Server Rating Guide.

Scores follow the guide (protocol 30 %, key exchange 30 %, cipher strength
40 %; A >= 80, B >= 65, C >= 50, D >= 35, E >= 20, else F) and the caps
SSL Labs added since (2009r plus the 2014-2020 grading changes). It is not
SSL Labs: it sees only what this scanner measured, and says which caps applied.
"""

from __future__ import annotations

SPEC = "SSL Server Rating Guide 2009r with SSL Labs grading changes through 2020 (approximation)"
ORDER = ["A+", "A", "A-", "B", "C", "D", "E", "F"]
PROTOCOL_SCORES = {"SSLv2": 0, "SSLv3": 80, "TLSv1.0": 90, "TLSv1.1": 95, "TLSv1.2": 100, "TLSv1.3": 100}


def _key_score(bits: int) -> int:
    if bits <= 0:
        return 0
    for limit, score in ((512, 20), (1024, 40), (2048, 80), (4096, 90)):
        if bits < limit:
            return score
    return 100


def _cipher_score(bits: int) -> int:
    if bits <= 0:
        return 0
    return 20 if bits < 128 else 80 if bits < 256 else 100


def _band(score: float) -> str:
    for limit, grade in ((80, "A"), (65, "B"), (50, "C"), (35, "D"), (20, "E")):
        if score >= limit:
            return grade
    return "F"


def compute(
    protocols: list[str],
    suites: list,
    key_exchange_bits: int,
    cert: dict | None,
    hsts: dict | None,
    heartbleed: bool | None,
    warnings: list[str],
) -> dict:
    """The grade with its score, every cap and the reason for each, as data."""
    caps: list[tuple[str, str]] = []
    if not protocols or not suites:
        return {"grade": "F", "score": 0, "caps": [["F", "no protocol or suite accepted"]], "spec": SPEC}
    proto = [PROTOCOL_SCORES[p] for p in protocols]
    protocol_score = (max(proto) + min(proto)) / 2
    bits = [s.bits for s in suites]
    cipher_score = (_cipher_score(max(bits)) + _cipher_score(min(bits))) / 2
    kex_score = _key_score(key_exchange_bits)
    score = round(0.3 * protocol_score + 0.3 * kex_score + 0.4 * cipher_score, 1)
    grade = _band(score)
    if any(s.export for s in suites):
        caps.append(("F", "export suites accepted"))
    if min(bits) < 112 or any(s.name.endswith("NULL_SHA") or "_NULL_" in s.name for s in suites):
        caps.append(("F", f"suites under 112 bits accepted ({min(bits)} bits)"))
    if any(s.anonymous for s in suites):
        caps.append(("F", "anonymous suites accepted"))
    if heartbleed:
        caps.append(("F", "vulnerable to Heartbleed"))
    if cert and cert["facts"]["key"]["rsa_equivalent"] < 1024:
        caps.append(("F", "certificate key under 1024 bits"))
    if "SSLv2" in protocols:
        caps.append(("F", "SSLv2 accepted"))
    if "SSLv3" in protocols:
        caps.append(("C", "SSLv3 accepted"))
    if any(s.name.startswith("TLS_") and "RC4" in s.name for s in suites):
        caps.append(("C", "RC4 accepted"))
    if "TLSv1.2" not in protocols and "TLSv1.3" not in protocols:
        caps.append(("C", "no TLS 1.2 or 1.3"))
    if {"TLSv1.0", "TLSv1.1"} & set(protocols):
        caps.append(("B", "TLS 1.0 or 1.1 accepted"))
    if not any(s.forward_secrecy for s in suites):
        caps.append(("B", "no forward secrecy"))
    if not any(s.aead for s in suites):
        caps.append(("B", "no AEAD suite"))
    if any("3DES" in s.name for s in suites) and "TLSv1.0" in protocols:
        caps.append(("C", "3DES with TLS 1.0 (Sweet32)"))
    if 0 < key_exchange_bits < 1024:
        caps.append(("F", f"key exchange under 1024 bits ({key_exchange_bits})"))
    elif 0 < key_exchange_bits < 2048:
        caps.append(("B", f"key exchange under 2048 bits ({key_exchange_bits})"))
    for cap, _ in caps:
        if ORDER.index(cap) > ORDER.index(grade):
            grade = cap
    if cert and cert["faults"]:
        facts = cert["facts"]
        if not facts["hostname_match"]:
            grade = "M"
            caps.append(("M", "certificate name mismatch"))
        other = [f for f in cert["faults"] if not f.startswith("hostname mismatch") and not f.startswith("weak")]
        if other:
            grade = "T"
            caps.append(("T", "certificate not trusted: " + "; ".join(other)))
    if grade == "A":
        age = (hsts or {}).get("max_age") or 0
        if age >= 15_552_000 and not warnings:
            grade = "A+"
        elif age < 15_552_000:
            caps.append(("A", f"no A+: HSTS max-age {age} under 15552000 s"))
        else:
            caps.append(("A", "no A+: warnings: " + "; ".join(warnings)))
    return {
        "grade": grade,
        "score": score,
        "scores": {"protocol": protocol_score, "key_exchange": kex_score, "cipher": cipher_score},
        "caps": [list(c) for c in caps],
        "spec": SPEC,
        "approximation": True,
    }
