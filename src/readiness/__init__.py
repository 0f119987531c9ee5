"""readiness: production-readiness audits with evidence."""

__version__ = "0.1.0"
