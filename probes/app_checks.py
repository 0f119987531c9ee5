"""The application checks, the files the app probe reads, and the libraries that show a check in use."""

from __future__ import annotations

from readiness.model import Check
from readiness.probe import Claim

RATIONALES = {
    "production_mode": "Debug modes show stack traces, settings and sometimes secrets to anyone who triggers an error.",
    "timeouts": "A call without a timeout waits forever on a slow dependency, holding a worker until none is left.",
    "rate_limiting": "Without a limit, one client (or one bug) can exhaust the service for everyone else.",
    "cors_restricted": "A permissive CORS policy lets any web page call the API with the user's credentials.",
    "circuit_breakers": "Retries on a failing dependency multiply its load; a breaker fails fast so it can recover.",
    "connection_pooling": "Opening a database connection per request costs latency and can exhaust the server's slots.",
    "caching": "Recomputing expensive reads on every request wastes capacity that peaks then lack.",
    "audit_logging": "Without a record of who changed what, an incident or a dispute cannot be reconstructed.",
    "feature_flags": "An unmanaged flag turns untested code on in production with no record of who did it.",
}


def _check(key: str, title: str, remediation: str) -> Check:
    return Check(f"app.{key}", title, RATIONALES[key], remediation)


PRODUCTION_MODE = _check(
    "production_mode",
    "Services run in production mode (debug off, NODE_ENV=production, ...)",
    "Turn debug off and set the framework's production mode in the production configuration.",
)
TIMEOUTS = _check(
    "timeouts",
    "Outbound connections (HTTP clients, database) have connect and read timeouts",
    "Pass timeouts to every HTTP client call and database connection.",
)
RATE_LIMITING = _check(
    "rate_limiting",
    "The application rate-limits its API",
    "Add a rate limiter (DRF throttling, slowapi, express-rate-limit, bucket4j) or rate-limit at the gateway.",
)
CORS = _check(
    "cors_restricted",
    "The application's CORS policy allows only known origins",
    "List allowed origins explicitly; never allow all origins with credentials.",
)
BREAKERS = _check(
    "circuit_breakers",
    "Calls to dependencies go through circuit breakers",
    "Wrap calls to dependencies in a circuit breaker (pybreaker, opossum, resilience4j, gobreaker).",
)
POOLING = _check(
    "connection_pooling",
    "The application uses a database connection pool with bounded size",
    "Configure a bounded pool (SQLAlchemy pool_size, CONN_MAX_AGE, HikariCP, SetMaxOpenConns).",
)
CACHING = _check(
    "caching",
    "A caching layer is configured (Redis, Memcached, HTTP caching)",
    "Configure a shared cache (Redis or Memcached) for expensive reads.",
)
AUDIT = _check(
    "audit_logging",
    "The application writes an audit log of authentication events and data-changing API calls",
    "Record who changed what (django-auditlog, Envers, an audit logger on auth and write endpoints).",
)
FLAGS = _check(
    "feature_flags",
    "Feature flags are managed explicitly per environment (no unknown or test flags enabled in production)",
    "Manage flags with a flag service or per-environment files; keep test flags off in production.",
)
CHECKS = (PRODUCTION_MODE, TIMEOUTS, RATE_LIMITING, CORS, BREAKERS, POOLING, CACHING, AUDIT, FLAGS)

SKIP = ("node_modules/", ".venv/", "venv/", "vendor/", "site-packages/", "tests/", "test/", "fixtures/", "dist/")
CODE = (".py", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".go", ".java", ".kt", ".rb")
MANIFESTS = ("requirements.txt", "pyproject.toml", "Pipfile", "package.json", "go.mod", "pom.xml", "Gemfile")
CLAIMS = (
    Claim(tuple(f"*{ext}" for ext in CODE)),
    Claim((*MANIFESTS, "requirements*.txt", "build.gradle", "build.gradle.kts")),
    Claim(("application*.properties", "application*.yml", "application*.yaml", ".env.production", "flags*.y*ml")),
)

# library (as it appears in a manifest) -> what shows it in use in the code
LIBRARIES = {
    RATE_LIMITING.id: {
        "django-ratelimit": r"@ratelimit|ratelimit\(",
        "djangorestframework": r"DEFAULT_THROTTLE_CLASSES|throttle_classes",
        "slowapi": r"Limiter\(",
        "flask-limiter": r"Limiter\(",
        "express-rate-limit": r"rateLimit\(",
        "rate-limiter-flexible": r"RateLimiter\w+\(",
        "@nestjs/throttler": r"ThrottlerModule",
        "bucket4j": r"Bucket4j|Bandwidth",
        "resilience4j-ratelimiter": r"RateLimiter",
        "golang.org/x/time/rate": r"rate\.NewLimiter",
        "tollbooth": r"tollbooth\.",
        "rack-attack": r"Rack::Attack",
    },
    BREAKERS.id: {
        "pybreaker": r"CircuitBreaker\(",
        "circuitbreaker": r"@circuit|CircuitBreaker",
        "aiobreaker": r"CircuitBreaker\(",
        "opossum": r"new CircuitBreaker\(|CircuitBreaker\(",
        "cockatiel": r"circuitBreaker\(",
        "resilience4j-circuitbreaker": r"CircuitBreaker",
        "spring-cloud-starter-circuitbreaker-resilience4j": r"@CircuitBreaker|CircuitBreakerFactory",
        "github.com/sony/gobreaker": r"gobreaker\.NewCircuitBreaker",
        "hystrix": r"@HystrixCommand|hystrix\.",
    },
    AUDIT.id: {
        "django-auditlog": r"auditlog",
        "django-simple-history": r"HistoricalRecords",
        "django-reversion": r"reversion",
        "sqlalchemy-continuum": r"make_versioned",
        "spring-boot-starter-data-envers": r"@Audited",
        "javers": r"Javers",
        "paper_trail": r"has_paper_trail",
        "audited": r"\baudited\b",
    },
    FLAGS.id: {
        "launchdarkly-server-sdk": r"ldclient|LDClient",
        "@launchdarkly/node-server-sdk": r"LaunchDarkly|init\(",
        "UnleashClient": r"UnleashClient",
        "unleash-client": r"initialize\(|startUnleash",
        "flagsmith": r"Flagsmith",
        "openfeature-sdk": r"openfeature|OpenFeature",
        "@openfeature/server-sdk": r"OpenFeature",
        "growthbook": r"GrowthBook",
        "django-waffle": r"waffle",
        "flipper": r"Flipper",
    },
}
