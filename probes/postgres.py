"""PostgreSQL: authentication, TLS, slow-query logging, pooling, supported version and row-level security.

Static evidence comes from ``postgresql.conf`` (and ``postgresql.auto.conf``), ``pg_hba.conf``, the
``postgres`` services of Compose files (image tag, ``POSTGRES_HOST_AUTH_METHOD``, ``-c`` settings on the
command line), PgBouncer/Pgpool configuration and services, and SQL migrations (``ENABLE ROW LEVEL
SECURITY``, ``CREATE POLICY``). A live server named in ``live.postgres`` (or ``--postgres DSN``) is asked
directly: ``SHOW`` settings, ``pg_hba_file_rules`` when the role may read it, the server version and the
tables with row-level security. The password comes from the environment (``password_env``), never from
the configuration file, and never reaches the evidence.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from readiness import budget, redact
from readiness.deployment.compose import ServiceView
from readiness.model import Check, Observation, Status, Strength, Subject
from readiness.probe import Claim, CliOption, Probe, ProbeContext

EXCHANGE_FACTOR = 4  # the whole live conversation may take this many times connect_timeout

SCRAM = Check(
    "postgres.scram_sha_256",
    "PostgreSQL authenticates with scram-sha-256 (no md5, password or trust for network access)",
    "trust lets anyone in; password sends it in clear; md5 hashes are replayable and cracked offline.",
    "Set password_encryption = scram-sha-256 and use scram-sha-256 on every host line of pg_hba.conf.",
)
SSL_REQUIRED = Check(
    "postgres.ssl_required",
    "PostgreSQL requires TLS for client connections (hostssl, ssl = on)",
    "Without TLS, credentials and data cross the network in clear.",
    "Set ssl = on and use hostssl (not host) lines for every non-loopback client in pg_hba.conf.",
)
SLOW_QUERIES = Check(
    "postgres.slow_query_logging",
    "PostgreSQL logs slow queries (log_min_duration_statement or pg_stat_statements)",
    "Slow queries are the usual cause of latency incidents; without a log they are guessed at.",
    "Set log_min_duration_statement (e.g. 500ms) or load pg_stat_statements.",
)
POOLING = Check(
    "postgres.connection_pooling",
    "A connection pooler (PgBouncer, pgpool) sits in front of PostgreSQL",
    "Each PostgreSQL connection is a process; traffic spikes exhaust max_connections without a pooler.",
    "Put PgBouncer (or Pgpool-II) between the application and the database.",
)
VERSION = Check(
    "postgres.version_supported",
    "PostgreSQL runs a supported major version at its latest minor release",
    "An end-of-life major gets no security fixes; an old minor misses the ones already released.",
    "Upgrade to a supported major version and keep the minor release current.",
)
RLS = Check(
    "postgres.row_level_security",
    "Tables holding tenant or user data have row-level security enabled",
    "Row-level security keeps one tenant's rows from another even when the application forgets a filter.",
    "ALTER TABLE ... ENABLE ROW LEVEL SECURITY and CREATE POLICY on tables keyed by tenant or user.",
)
CHECKS = (SCRAM, SSL_REQUIRED, SLOW_QUERIES, POOLING, VERSION, RLS)

# The PostgreSQL versioning policy (postgresql.org/support/versioning): five years of fixes per major.
EOL = {12: "2024-11-21", 13: "2025-11-13", 14: "2026-11-12", 15: "2027-11-11", 16: "2028-11-09", 17: "2029-11-08"}
EOL |= {18: "2030-11-14"}
LATEST_MINOR = {18: 4, 17: 10, 16: 14, 15: 18, 14: 23}  # as released on 2026-05-14
LATEST_KNOWN_AS_OF = "2026-05-14"
WEAK_METHODS = {"trust", "password", "md5"}
POOLER_IMAGES = re.compile(r"(^|/)(pgbouncer|pgpool|pgcat|supavisor|odyssey)\b", re.I)
TENANT_COLUMNS = re.compile(r"\b(tenant_id|organization_id|org_id|account_id|customer_id|user_id|owner_id)\b", re.I)

CLAIMS = (
    Claim(("postgresql.conf", "postgresql.auto.conf", "**/postgresql/*.conf", "**/conf.d/*.conf")),
    Claim(("pg_hba.conf",)),
    Claim(("pgbouncer.ini", "pgpool.conf", "**/pgbouncer/*.ini")),
    Claim(("*.sql",), sniff=re.compile(rb"(?i)create\s+table|row\s+level\s+security|create\s+policy")),
)
TARGET = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "dsn": {"type": "string", "description": "libpq connection string or URI, without a password"},
        "password_env": {"type": "string", "description": "environment variable that holds the password"},
        "connect_timeout": {"type": "integer", "minimum": 1, "maximum": 60},
        "sslrootcert": {"type": "string"},
    },
    "required": ["dsn"],
}


@dataclass
class Evidence:
    check: Check
    status: Status
    subject: Subject
    message: str
    facts: dict[str, Any] = field(default_factory=dict)
    strength: Strength = Strength.DECLARED
    production: bool | None = None  # None: the scope of the subject's file


def conf_settings(text: str) -> dict[str, tuple[str, int]]:
    """name -> (value, line) of a postgresql.conf; the last assignment wins, as in PostgreSQL."""
    out: dict[str, tuple[str, int]] = {}
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        m = re.match(r"^([A-Za-z_.]+)\s*=?\s*(.+)$", line)
        if m:
            out[m.group(1).lower()] = (m.group(2).strip().strip("'\""), no)
    return out


def hba_rules(text: str) -> list[tuple[str, str, str, int]]:
    """(type, address, method, line) of each pg_hba.conf rule."""
    rules = []
    for no, raw in enumerate(text.splitlines(), 1):
        parts = raw.split("#", 1)[0].split()
        if len(parts) < 3 or parts[0].startswith("include"):
            continue
        kind = parts[0]
        if kind == "local":
            rules.append((kind, "", parts[3] if len(parts) > 3 else "", no))
        elif len(parts) >= 5:
            # ADDRESS may be followed by a separate netmask column (host all all 10.0.0.0 255.0.0.0 md5)
            netmask = len(parts) > 5 and re.fullmatch(r"\d+\.\d+\.\d+\.\d+", parts[4])
            rules.append((kind, parts[3], parts[5] if netmask else parts[4], no))
    return rules


def _loopback(address: str) -> bool:
    return address.split("/")[0] in ("127.0.0.1", "::1", "localhost", "samehost")


def judge_hba(path: str, text: str) -> Iterator[Evidence]:
    rules = hba_rules(text)
    network = [r for r in rules if r[0].startswith("host") and r[2] != "reject"]
    weak = [r for r in network if r[2] in WEAK_METHODS]
    for kind, address, method, line in weak:
        yield Evidence(SCRAM, Status.FAIL, Subject(path=path, line=line), f"{kind} {address} uses {method}")
    if network and not weak:
        methods = sorted({r[2] for r in network})
        yield Evidence(
            SCRAM, Status.PASS, Subject(path=path, line=network[0][3]), f"network rules use {', '.join(methods)}"
        )
    plain = [r for r in network if r[0] in ("host", "hostnossl") and not _loopback(r[1])]
    for kind, address, _method, line in plain:
        yield Evidence(
            SSL_REQUIRED,
            Status.FAIL,
            Subject(path=path, line=line),
            f"{kind} {address} accepts connections without TLS",
        )
    if network and not plain:
        yield Evidence(
            SSL_REQUIRED, Status.PASS, Subject(path=path, line=network[0][3]), "every non-loopback rule is hostssl"
        )


def judge_conf(path: str, settings: dict[str, tuple[str, int]]) -> Iterator[Evidence]:
    if "password_encryption" in settings:
        value, line = settings["password_encryption"]
        status = Status.PASS if value.lower() == "scram-sha-256" else Status.FAIL
        yield Evidence(SCRAM, status, Subject(path=path, line=line), f"password_encryption = {value}")
    if "ssl" in settings:
        value, line = settings["ssl"]
        on = value.lower() in ("on", "true", "1", "yes")
        if not on:
            yield Evidence(SSL_REQUIRED, Status.FAIL, Subject(path=path, line=line), f"ssl = {value}")
    slow = settings.get("log_min_duration_statement")
    preload = settings.get("shared_preload_libraries")
    if slow and slow[0] not in ("-1",):
        yield Evidence(
            SLOW_QUERIES, Status.PASS, Subject(path=path, line=slow[1]), f"log_min_duration_statement = {slow[0]}"
        )
    elif preload and "pg_stat_statements" in preload[0]:
        yield Evidence(SLOW_QUERIES, Status.PASS, Subject(path=path, line=preload[1]), "pg_stat_statements is loaded")
    elif slow:
        yield Evidence(
            SLOW_QUERIES, Status.FAIL, Subject(path=path, line=slow[1]), "log_min_duration_statement = -1 (off)"
        )


def judge_version(
    subject: Subject, major: int, minor: int | None, today: dt.date, strength=Strength.DECLARED
) -> Evidence:
    facts = {"major": major, "minor": minor, "eol": EOL.get(major), "latest_known_minor": LATEST_MINOR.get(major)}
    if major not in EOL:
        return Evidence(
            VERSION, Status.UNKNOWN, subject, f"PostgreSQL {major}: not in the stored support table", facts, strength
        )
    eol = dt.date.fromisoformat(EOL[major])
    if today > eol:
        return Evidence(
            VERSION, Status.FAIL, subject, f"PostgreSQL {major} reached end of life on {eol}", facts, strength
        )
    latest = LATEST_MINOR.get(major)
    if minor is None:
        message = (
            f"PostgreSQL {major} (supported until {eol}) on a tag that floats across minor releases: each pull "
            "brings the newest patch release"
        )
        return Evidence(VERSION, Status.PASS, subject, message, facts, strength)
    if latest is not None and minor < latest:
        message = f"PostgreSQL {major}.{minor} is behind {major}.{latest} (released by {LATEST_KNOWN_AS_OF})"
        return Evidence(VERSION, Status.FAIL, subject, message, facts, strength)
    message = (
        f"PostgreSQL {major}.{minor}, supported until {eol}; at or past the newest minor known on {LATEST_KNOWN_AS_OF}"
    )
    return Evidence(VERSION, Status.PASS, subject, message, facts, strength)


def judge_compose(view: ServiceView, today: dt.date, production: bool) -> tuple[list[Evidence], bool, bool]:
    """Evidence from one compose service as its project merges it; whether it is a database; a pooler."""
    image = str(view.get("image") or "")
    repo, _, tag = image.split("@")[0].rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
    subject = view.where("image")
    if POOLER_IMAGES.search(repo or image):
        return (
            [Evidence(POOLING, Status.PASS, subject, f"service {view.name} runs {image}", production=production)],
            False,
            True,
        )
    if not re.search(r"(^|/)(postgres|postgis/postgis|timescale/timescaledb\S*|bitnami/postgresql)$", repo or image):
        return [], False, False
    out: list[Evidence] = []
    m = re.match(r"^(\d+)(?:\.(\d+))?", tag)
    if m:
        out.append(judge_version(subject, int(m.group(1)), int(m.group(2)) if m.group(2) else None, today))
    else:
        out.append(Evidence(VERSION, Status.UNKNOWN, subject, f"image {image} pins no version tag"))
    method = view.environment().get("POSTGRES_HOST_AUTH_METHOD", "")
    if method in WEAK_METHODS:
        out.append(
            Evidence(
                SCRAM, Status.FAIL, view.where_env("POSTGRES_HOST_AUTH_METHOD"), f"POSTGRES_HOST_AUTH_METHOD={method}"
            )
        )
    command = view.get("command")
    command = " ".join(map(str, command)) if isinstance(command, list) else str(command or "")
    where = view.where("command")
    settings = dict(re.findall(r"-c\s+([a-z_]+)=(\S+)", command))
    for key, value in settings.items():
        out += list(judge_conf(where.path or "", {key: (value, where.line or 0)}))
    out += _image_defaults(view, repo or image, m, method, settings)
    return [dataclasses.replace(e, production=production) for e in out], True, False


def _image_defaults(
    view: ServiceView, repo: str, version: re.Match[str] | None, method: str, settings: dict[str, str]
) -> list[Evidence]:
    """What the official image does when the service leaves it alone: scram-sha-256 host rules from PostgreSQL
    14 on (md5 before), and ssl = off. A mounted postgresql.conf or pg_hba.conf decides instead."""
    if not re.search(r"(^|/)(library/)?postgres$", repo):
        return []  # other images (bitnami, postgis builds) have their own defaults
    mounts = " ".join(str(v) for v in view.get("volumes") or ())
    own_conf = "postgresql.conf" in mounts or "config_file" in settings
    own_hba = "pg_hba.conf" in mounts or "hba_file" in settings
    out: list[Evidence] = []
    subject = view.where("image")
    if not method and not own_hba and version:
        major = int(version.group(1))
        if major >= 14:
            message = f"the official image's default for PostgreSQL {major}: scram-sha-256 for every host connection"
            out.append(Evidence(SCRAM, Status.PASS, subject, message))
        else:
            message = f"the official image's default before PostgreSQL 14 is md5 for host connections ({major})"
            out.append(Evidence(SCRAM, Status.FAIL, subject, message))
    if "ssl" not in settings and not own_conf:
        message = f"service {view.name}: the official image runs with ssl = off unless told otherwise"
        message += " (-c ssl=on, or a postgresql.conf)"
        out.append(Evidence(SSL_REQUIRED, Status.FAIL, subject, message))
    return out


def judge_sql(path: str, text: str) -> tuple[list[tuple[str, int]], set[str]]:
    """Tables with tenant/user columns (name, line), and tables with row-level security enabled."""
    import logging

    import sqlglot
    from sqlglot import exp

    # sqlglot warns on stderr for statements it keeps as raw commands (CREATE POLICY); the report says enough
    logging.getLogger("sqlglot").setLevel(logging.ERROR)

    tenant_tables: list[tuple[str, int]] = []
    protected = {
        m.group(1).split(".")[-1].strip('"').lower()
        for m in re.finditer(r"(?i)alter\s+table\s+(?:only\s+)?([\w.\"]+)\s+enable\s+row\s+level\s+security", text)
    }
    for statement in sqlglot.parse(text, read="postgres", error_level=sqlglot.ErrorLevel.IGNORE):
        if isinstance(statement, exp.Create) and statement.args.get("kind") == "TABLE":
            schema = statement.this
            table = schema.this if isinstance(schema, exp.Schema) else schema
            name = table.name.lower() if isinstance(table, exp.Table) else str(table).lower()
            columns = [c.name for c in statement.find_all(exp.ColumnDef)]
            if any(TENANT_COLUMNS.fullmatch(c) for c in columns):
                where = re.search(rf"(?i)create\s+table\s+(?:if\s+not\s+exists\s+)?[\w.\"]*{re.escape(name)}", text)
                tenant_tables.append((name, text[: where.start()].count("\n") + 1 if where else 1))
    return tenant_tables, protected


class PostgresProbe(Probe):
    name = "postgres"
    version = "0.1.0"
    kind = "live"
    runs_without_targets = True  # configuration files decide most checks; a live server corroborates
    description = "PostgreSQL: scram-sha-256, TLS, slow-query log, pooler, supported version, row-level security."
    claims = CLAIMS
    checks = CHECKS
    targets_schema = {"oneOf": [{"type": "string"}, TARGET]}
    cli_options = (
        CliOption("--postgres", "a PostgreSQL server to inspect, as a DSN without password (PGPASSWORD is read)",
                  ("live", "postgres"), metavar="DSN"),
    )  # fmt: skip

    def run(self, ctx: ProbeContext) -> Iterator[Observation]:
        today = ctx.now.date()
        found: list[Evidence] = []
        databases: list[str] = []
        pooler = False
        tenant_tables: list[tuple[str, str, int]] = []
        protected: set[str] = set()
        for art in ctx.artifacts:
            with ctx.guard(art):
                text = ctx.read_text(art)
                name = posixpath.basename(art.path)
                if name == "pg_hba.conf":
                    found += judge_hba(art.path, text)
                elif name in ("pgbouncer.ini", "pgpool.conf") or "/pgbouncer/" in f"/{art.path}":
                    pooler = True
                    found.append(
                        Evidence(POOLING, Status.PASS, Subject(path=art.path, line=1), f"{name} configures a pooler")
                    )
                elif name.endswith(".conf"):
                    found += judge_conf(art.path, conf_settings(text))
                elif name.endswith(".sql"):
                    tables, enabled = judge_sql(art.path, text)
                    tenant_tables += [(t, art.path, line) for t, line in tables]
                    protected |= enabled
        # Compose services as their deployment merges them: an override file's environment counts.
        for deployment, view in ctx.compose_services():
            evidence, is_database, has_pooler = judge_compose(view, today, deployment.production)
            found += evidence
            if is_database and deployment.production:
                databases.append(view.name)
            pooler = pooler or has_pooler
        if ctx.targets:
            found += self._live(ctx, ctx.targets, today)
        yield from self._emit(ctx, found, databases, pooler, tenant_tables, protected)

    def _emit(self, ctx, found, databases, pooler, tenant_tables, protected) -> Iterator[Observation]:
        for e in found:
            yield ctx.observe(
                e.check.id, e.status, e.subject, e.message, strength=e.strength, facts=e.facts, production=e.production
            )
        seen = {e.check.id for e in found}
        if POOLING.id not in seen and databases:
            message = f"no PgBouncer or Pgpool in front of {', '.join(databases)}"
            yield ctx.observe(POOLING.id, Status.FAIL, Subject(), message)
        for table, path, line in tenant_tables:
            status = Status.PASS if table in protected else Status.FAIL
            message = f"table {table} has a tenant/user column and " + (
                "row-level security" if status is Status.PASS else "no row-level security"
            )
            yield ctx.observe(RLS.id, status, Subject(path=path, line=line, name=table), message)
        if RLS.id not in seen and not tenant_tables:
            yield ctx.observe(
                RLS.id, Status.UNKNOWN, Subject(), "no table with a tenant or user column in the SQL here"
            )

    def _live(self, ctx: ProbeContext, target: Any, today: dt.date) -> list[Evidence]:
        import psycopg

        spec = {"dsn": target} if isinstance(target, str) else dict(target)
        endpoint = _redact(spec["dsn"])
        subject = Subject(endpoint=endpoint)
        kwargs: dict[str, Any] = {"connect_timeout": int(spec.get("connect_timeout", 5))}
        password = os.environ.get(spec.get("password_env") or "PGPASSWORD")
        if password:
            kwargs["password"] = password
        if spec.get("sslrootcert"):
            kwargs["sslrootcert"] = str(Path(ctx.root) / spec["sslrootcert"])
        # The whole conversation is bounded: connect_timeout covers connecting only, and a server that
        # answers the handshake and then trickles or hangs would keep a query waiting for ever.
        exchange = EXCHANGE_FACTOR * kwargs["connect_timeout"]
        try:
            with (
                budget.exchange(exchange, endpoint),
                psycopg.connect(spec["dsn"], **kwargs) as conn,
                conn.cursor() as cur,
            ):
                show = {}
                for name in ("ssl", "password_encryption", "log_min_duration_statement", "shared_preload_libraries"):
                    cur.execute(f"SHOW {name}")
                    show[name] = str(cur.fetchone()[0])
                cur.execute("SELECT current_setting('server_version_num')::int")
                version_num = cur.fetchone()[0]
                rules = None
                try:
                    cur.execute("SELECT type, address, auth_method, line_number FROM pg_hba_file_rules")
                    rules = cur.fetchall()
                except psycopg.Error:
                    conn.rollback()
                cur.execute(
                    "SELECT c.relname, c.relrowsecurity FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "JOIN pg_attribute a ON a.attrelid = c.oid WHERE c.relkind = 'r' AND a.attnum > 0 "
                    "AND NOT a.attisdropped AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                    "AND a.attname = ANY(%s)",
                    (["tenant_id", "organization_id", "org_id", "account_id", "customer_id", "user_id", "owner_id"],),
                )
                tables = sorted(set(cur.fetchall()))
        except budget.ExchangeTimeout as exc:
            ctx.emitted.extend(ctx.errors(subject, f"cannot query PostgreSQL at {endpoint}: {exc}"))
            return []
        except psycopg.Error as exc:
            reason = f"cannot query PostgreSQL at {endpoint}: {_reason(exc, spec['dsn'])}"
            ctx.emitted.extend(ctx.errors(subject, reason))
            return []
        live = Strength.LIVE
        out = [
            Evidence(e.check, e.status, subject, f"live: {e.message}", e.facts, live)
            for e in judge_conf(endpoint, {k: (v, 0) for k, v in show.items()})
        ]
        if show["ssl"] == "on" and rules is None:
            out.append(
                Evidence(
                    SSL_REQUIRED,
                    Status.UNKNOWN,
                    subject,
                    "live: ssl = on, but this role cannot read pg_hba_file_rules: whether TLS is required is not known",
                    {},
                    live,
                )
            )
        if rules is not None:
            network = [r for r in rules if str(r[0]).startswith("host")]
            weak = [r for r in network if r[2] in WEAK_METHODS]
            plain = [r for r in network if r[0] in ("host", "hostnossl") and not _loopback(str(r[1] or ""))]
            out.append(
                Evidence(
                    SCRAM,
                    Status.FAIL if weak else Status.PASS,
                    subject,
                    f"live: pg_hba rules {sorted({r[2] for r in weak})} on network lines"
                    if weak
                    else "live: network rules use scram-sha-256 or stronger",
                    {},
                    live,
                )
            )
            if show["ssl"] != "on":
                pass  # judged by judge_conf above
            elif plain:
                out.append(
                    Evidence(
                        SSL_REQUIRED,
                        Status.FAIL,
                        subject,
                        f"live: ssl = on but {len(plain)} pg_hba line(s) accept plain connections",
                        {},
                        live,
                    )
                )
            else:
                out.append(
                    Evidence(
                        SSL_REQUIRED,
                        Status.PASS,
                        subject,
                        "live: ssl = on and every non-loopback rule is hostssl",
                        {},
                        live,
                    )
                )
        out.append(judge_version(subject, version_num // 10000, version_num % 10000, today, live))
        for table, enabled in tables:
            status = Status.PASS if enabled else Status.FAIL
            out.append(
                Evidence(
                    RLS,
                    status,
                    Subject(endpoint=endpoint, name=table),
                    f"live: table {table} row-level security {'on' if enabled else 'off'}",
                    {},
                    live,
                )
            )
        return out


def _redact(dsn: str) -> str:
    return redact.dsn(dsn)


def _reason(exc: Exception, dsn: str = "") -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return redact.scrub(text, dsn)[:200]
