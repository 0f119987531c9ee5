"""The Azure and GCP resources behind the same checks as the AWS ones: TLS, HTTPS, key rotation and deletion
protection (replication, backups and open admin ports of both clouds are judged beside the AWS resources).

An attribute left out takes the provider's default, and the default is named in the finding: Azure SQL's
``minimum_tls_version`` is 1.2 unless set, App Service's ``https_only`` is false, Cloud SQL's
``deletion_protection`` is true. Values not known statically are ``unknown``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from readiness.model import Status

from . import terraform_audit_logs
from .terraform_checks import (
    DELETION_PROTECTION,
    ENCRYPTION_AT_REST,
    ENCRYPTION_IN_TRANSIT,
    HTTPS_ENFORCED,
    Finding,
    Judge,
    _flag,
    _truth,
)
from .terraform_resolve import MISSING, Block, Estate, Resource, Unknown

OLD_TLS = {"TLS1_0", "TLS1_1", "1.0", "1.1", "TLS_1_0", "TLS_1_1", "Disabled", "TLSEnforcementDisabled"}
AZURE_WEB_APPS = ("azurerm_linux_web_app", "azurerm_windows_web_app", "azurerm_app_service")
MAX_ROTATION_SECONDS = 90 * 86400


def azurerm_major(estate: Estate) -> int | None:
    """The azurerm provider major version the configuration pins, or None when it allows several.

    Several defaults changed in azurerm 3.0 (storage accounts and Redis went from TLS 1.0 to 1.2, SQL servers
    from no minimum to 1.2), so an attribute left out means different things under 2.x and 3.x.
    """
    constraints: list[str] = []
    for _, block in estate.root.module.top("provider"):
        if block.labels[:1] == ("azurerm",) and isinstance(block.attrs.get("version"), str):
            constraints.append(block.attrs["version"])
    for _, block in estate.root.module.top("terraform"):
        for required in block.sub("required_providers"):
            spec = required.attrs.get("azurerm")
            if isinstance(spec, dict) and isinstance(spec.get("version"), str):
                constraints.append(spec["version"])
            elif isinstance(spec, str):
                constraints.append(spec)
    majors: set[int] = set()
    for constraint in constraints:
        for op, major in re.findall(r"(~>|>=|<=|!=|=|>|<)?\s*v?(\d+)(?:\.\d+)*", constraint):
            if op in ("", "=", "~>"):
                majors.add(int(major))
            elif op in (">=", ">") and int(major) >= 3:
                majors.add(3)  # 3.x and later share the newer defaults
    return majors.pop() if len(majors) == 1 else None


def _azure_default(estate: Estate, v2: str, v3: str) -> str | Unknown:
    major = azurerm_major(estate)
    if major is None:
        return Unknown(f"left to the provider, whose default depends on the azurerm major version ({v2} in 2.x, "
                       f"{v3} from 3.0) and the configuration does not pin one")  # fmt: skip
    return v2 if major < 3 else v3


def _setting(res: Resource, attr: str, block: Block | None, default: Any) -> tuple[Any, bool]:
    """The value of ``attr`` and whether it is the provider's default (absent from the code)."""
    value = res.get(attr, block)
    return (default, True) if value is MISSING or value is None else (value, False)


def _tls_minimum(check: str, res: Resource, attr: str, default: str | Unknown, block: Block | None = None) -> Finding:
    value, defaulted = _setting(res, attr, block, default)
    if isinstance(value, Unknown):
        return Finding(check, Status.UNKNOWN, f"{attr}: {value.reason}", res, attr if not defaulted else None, block)
    shown = f"{value} (provider default)" if defaulted else str(value)
    if str(value) in OLD_TLS:
        return Finding(check, Status.FAIL, f"{attr} = {shown}: TLS below 1.2 accepted", res, attr, block)
    return Finding(check, Status.PASS, f"{attr} = {shown}", res, attr, block, {attr: value})


def in_transit(estate: Estate) -> Iterator[Finding]:
    check = ENCRYPTION_IN_TRANSIT.id
    for account in estate.of("azurerm_storage_account"):
        yield _tls_minimum(check, account, "min_tls_version", _azure_default(estate, "TLS1_0", "TLS1_2"))
        attr = "https_traffic_only_enabled" if account.get("https_traffic_only_enabled") is not MISSING else None
        attr = attr or "enable_https_traffic_only"  # the azurerm 3.x name
        value = _truth(account.get(attr))
        if isinstance(value, Unknown):
            yield Finding(check, Status.UNKNOWN, f"{attr}: {value.reason}", account, attr)
        elif value is False:
            yield Finding(check, Status.FAIL, f"{attr} = false: plain HTTP accepted", account, attr)
    for server in estate.of("azurerm_mssql_server", "azurerm_sql_server"):
        yield _tls_minimum(check, server, "minimum_tls_version", _azure_default(estate, "Disabled", "1.2"))
    for server in estate.of("azurerm_postgresql_server", "azurerm_mysql_server"):  # the single-server offerings
        enforced = _truth(server.get("ssl_enforcement_enabled"))
        if isinstance(enforced, Unknown):
            yield Finding(check, Status.UNKNOWN, f"ssl_enforcement_enabled: {enforced.reason}", server)
        elif enforced is not True:
            yield Finding(check, Status.FAIL, "ssl_enforcement_enabled is not true: plain connections accepted", server)
        else:
            default = _azure_default(estate, "TLSEnforcementDisabled", "TLS1_2")
            yield _tls_minimum(check, server, "ssl_minimal_tls_version_enforced", default)
    for cache in estate.of("azurerm_redis_cache"):
        yield _tls_minimum(check, cache, "minimum_tls_version", _azure_default(estate, "1.0", "1.2"))
        for attr in ("non_ssl_port_enabled", "enable_non_ssl_port"):
            if _truth(cache.get(attr)) is True:
                yield Finding(check, Status.FAIL, f"{attr} = true: the plain port 6379 is open", cache, attr)
    for app in estate.of(*AZURE_WEB_APPS):
        attr = "min_tls_version" if app.type == "azurerm_app_service" else "minimum_tls_version"
        for site in app.block.sub("site_config"):
            yield _tls_minimum(check, app, attr, "1.2", site)
    for policy in estate.of("google_compute_ssl_policy"):
        yield _tls_minimum(check, policy, "min_tls_version", "TLS_1_0")
    for db in estate.of("google_sql_database_instance"):
        yield _cloud_sql_tls(check, db)


def _cloud_sql_tls(check: str, db: Resource) -> Finding:
    settings = db.block.sub("settings")
    ip = settings[0].sub("ip_configuration") if settings else []
    if not ip:
        return Finding(check, Status.FAIL, "no settings.ip_configuration: unencrypted connections accepted", db)
    mode = db.get("ssl_mode", ip[0])
    require = _truth(db.get("require_ssl", ip[0]))
    if isinstance(mode, Unknown) or isinstance(require, Unknown):
        reason = mode.reason if isinstance(mode, Unknown) else require.reason
        return Finding(check, Status.UNKNOWN, reason, db, block=ip[0])
    if mode in ("ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED") or (mode is MISSING and require is True):
        shown = mode if mode is not MISSING else "require_ssl = true"
        return Finding(check, Status.PASS, f"Cloud SQL accepts only TLS ({shown})", db, block=ip[0])
    shown = mode if isinstance(mode, str) else "ALLOW_UNENCRYPTED_AND_ENCRYPTED (default)"
    return Finding(check, Status.FAIL, f"Cloud SQL ssl_mode {shown}: unencrypted connections accepted", db, block=ip[0])


def https(estate: Estate) -> Iterator[Finding]:
    check = HTTPS_ENFORCED.id
    for app in estate.of(*AZURE_WEB_APPS):
        yield _flag(check, app, "https_only", "https_only = true", "App Service answers plain HTTP")
    for proxy in estate.of("google_compute_target_http_proxy"):
        url_map = estate.target(proxy.get("url_map"))
        redirect = [b for b in (url_map.block.sub("default_url_redirect") if url_map else [])]
        if redirect and _truth(url_map.get("https_redirect", redirect[0])) is True:
            yield Finding(check, Status.PASS, "HTTP proxy only redirects to HTTPS", proxy, block=redirect[0])
        elif url_map is None and isinstance(proxy.get("url_map"), Unknown):
            yield Finding(check, Status.UNKNOWN, "url_map not known statically", proxy, "url_map")
        else:
            yield Finding(check, Status.FAIL, "HTTP proxy serves plain HTTP (no https_redirect)", proxy, "url_map")


def _seconds(value: str) -> int | None:
    m = re.fullmatch(r"(\d+)(?:\.\d+)?s", value.strip())
    return int(m.group(1)) if m else None


def key_rotation(estate: Estate) -> Iterator[Finding]:
    check = ENCRYPTION_AT_REST.id
    for key in estate.of("google_kms_crypto_key"):
        period = key.get("rotation_period")
        if isinstance(period, Unknown):
            yield Finding(check, Status.UNKNOWN, f"rotation_period: {period.reason}", key, "rotation_period")
        elif not isinstance(period, str) or _seconds(period) is None:
            yield Finding(check, Status.FAIL, "no rotation_period: the key is never rotated", key)
        elif _seconds(period) > MAX_ROTATION_SECONDS:
            days = _seconds(period) // 86400
            yield Finding(check, Status.FAIL, f"rotation every {days} days (more than 90)", key, "rotation_period")
        else:
            days = _seconds(period) // 86400
            yield Finding(check, Status.PASS, f"rotated every {days} days", key, "rotation_period")
    for key in estate.of("azurerm_key_vault_key"):
        policy = key.block.sub("rotation_policy")
        if policy:
            yield Finding(check, Status.PASS, "rotation_policy set", key, block=policy[0])
        else:
            yield Finding(check, Status.FAIL, "no rotation_policy: the key is never rotated", key)
    for cluster in estate.of("google_container_cluster"):
        encryption = cluster.block.sub("database_encryption")
        state = cluster.get("state", encryption[0]) if encryption else MISSING
        if isinstance(state, Unknown):
            yield Finding(check, Status.UNKNOWN, f"database_encryption.state: {state.reason}", cluster)
        elif state == "ENCRYPTED":
            yield Finding(check, Status.PASS, "Kubernetes secrets encrypted with a Cloud KMS key", cluster)
        else:
            yield Finding(check, Status.FAIL, "secrets in etcd not encrypted with a KMS key", cluster)


def deletion(estate: Estate) -> Iterator[Finding]:
    check = DELETION_PROTECTION.id
    for db in estate.of("google_sql_database_instance"):
        value = _truth(db.get("deletion_protection"))
        if isinstance(value, Unknown):
            yield Finding(check, Status.UNKNOWN, f"deletion_protection: {value.reason}", db, "deletion_protection")
        elif value is False:
            yield Finding(check, Status.FAIL, "deletion_protection = false", db, "deletion_protection")
        else:
            shown = "deletion_protection = true" if value else "deletion_protection on (provider default)"
            yield Finding(check, Status.PASS, shown, db, "deletion_protection" if value else None)
    for vault in estate.of("azurerm_key_vault"):
        yield _flag(
            check,
            vault,
            "purge_protection_enabled",
            "purge protection on",
            "a deleted vault and its keys can be purged at once",
        )


JUDGES: tuple[tuple[Any, Judge], ...] = (
    (ENCRYPTION_IN_TRANSIT, in_transit),
    (HTTPS_ENFORCED, https),
    (ENCRYPTION_AT_REST, key_rotation),
    (DELETION_PROTECTION, deletion),
    (terraform_audit_logs.AUDIT_LOGGING, terraform_audit_logs.audit_logging),
)
