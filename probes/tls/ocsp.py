"""Judging a stapled OCSP response with ``cryptography``."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.x509 import ocsp


def assess_staple(staple: bytes, leaf_der: bytes | None, now: dt.datetime) -> dict:
    """Status, validity window and whether the staple is about the served certificate."""
    try:
        response = ocsp.load_der_ocsp_response(staple)
    except ValueError as exc:
        return {"valid": False, "problem": f"staple does not parse: {exc}"}
    facts: dict = {"response_status": response.response_status.name}
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        return {**facts, "valid": False, "problem": f"OCSP response status {response.response_status.name}"}
    facts.update(
        cert_status=response.certificate_status.name,
        this_update=response.this_update_utc.isoformat(),
        next_update=response.next_update_utc.isoformat() if response.next_update_utc else None,
        serial=format(response.serial_number, "x"),
    )
    if leaf_der is not None:
        leaf = x509.load_der_x509_certificate(leaf_der)
        if leaf.serial_number != response.serial_number:
            return {**facts, "valid": False, "problem": "staple is about another certificate (serial differs)"}
    if response.certificate_status is not ocsp.OCSPCertStatus.GOOD:
        return {**facts, "valid": False, "problem": f"certificate status {response.certificate_status.name}"}
    if response.next_update_utc and response.next_update_utc < now:
        return {**facts, "valid": False, "problem": f"staple expired at {response.next_update_utc.isoformat()}"}
    return {**facts, "valid": True, "problem": None}
