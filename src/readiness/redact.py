"""Connection strings and URLs shown without their secrets, found by parsing, never by pattern.

A pattern misses what a parser sees: an empty user (``postgresql://:pw@db``),
a quoted password (``password='a b'``), an ``@`` inside the password. These
functions parse with the standard library (URLs) and libpq's own grammar
(psycopg's conninfo, for ``key=value`` strings); what does not parse is not
shown at all.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

HIDDEN = "…"
# libpq parameters that hold a secret (paths to key files are not secrets)
SECRET_PARAMS = frozenset({"password", "sslpassword"})


def url(value: str, *, user: bool = True) -> str:
    """``scheme://user@host:port/path?key=…``: no password, no query value, no fragment; no user either
    with ``user=False`` (an HTTP URL's user is often a token)."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return "(a URL that does not parse)"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    shown_user = f"{parts.username}@" if parts.username and user else ""
    netloc = shown_user + host + (f":{port}" if port else "")
    query = "&".join(f"{key}={HIDDEN}" for key, _ in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _conninfo(value: str) -> dict[str, str] | None:
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:  # psycopg without libpq: nothing can be parsed, so nothing is shown
        return None
    try:
        return {k: str(v) for k, v in conninfo_to_dict(value).items()}
    except Exception:
        return None


def dsn(value: str) -> str:
    """A PostgreSQL connection string (URI or ``key=value``) without its secrets."""
    if "://" in value:
        return url(value)
    params = _conninfo(value)
    if params is None:
        return "(a connection string that does not parse)"
    written = sorted(params, key=lambda k: (value.find(k), k))  # in the order the string has them
    return " ".join(f"{k}={HIDDEN if k in SECRET_PARAMS else params[k]}" for k in written)


def secrets_of(value: str) -> list[str] | None:
    """Every secret a connection string or URL carries (password, query values), None when it does not parse."""
    found: list[str] = []
    if "://" in value:
        try:
            parts = urlsplit(value)
        except ValueError:
            return None
        if parts.password:
            found += [parts.password, unquote(parts.password)]
        if parts.username and not parts.password:  # https://TOKEN@host: a lone user is a credential
            found += [parts.username, unquote(parts.username)]
        found += [v for _, v in parse_qsl(parts.query, keep_blank_values=True) if v]
        found += [parts.query, parts.fragment]
    params = _conninfo(value)
    if params is None and "://" not in value:
        return None
    found += [v for k, v in (params or {}).items() if k in SECRET_PARAMS]
    return [s for s in found if s]


def scrub(text: str, value: str) -> str:
    """``text`` (a library's error message) with ``value`` and every secret in it replaced; when ``value``
    does not parse, its secrets are unknown, so only the kind of problem is kept."""
    secrets = secrets_of(value)
    if secrets is None:
        return "the connection string does not parse"
    for secret in sorted({value, *secrets} - {""}, key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return text
