"""Built-in probes: one module per artifact kind or live system.

Each is registered under the ``readiness.probes`` entry-point group in
pyproject.toml, exactly as a third-party probe package would register its own.
"""
