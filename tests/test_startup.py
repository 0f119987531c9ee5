"""Start-up stays light: heavy libraries are imported by the code that uses them, not at import.

Each check runs in a fresh interpreter (this test process has imported everything already) and
looks at ``sys.modules``; the figures themselves are in docs/benchmarks.md, not asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys

# Libraries that cost tens of milliseconds each, needed only by some probes or some inputs.
HEAVY = (
    "jsonschema",
    "docker",
    "hcl2",
    "lark",
    "crossplane",
    "markdown_it",
    "sqlglot",
    "psycopg",
    "dns",
    "promql_parser",
    "cryptography",
    "requests",
    "asyncio",
    "multiprocessing",
)


def imported_after(code: str) -> set[str]:
    """Top-level package names present in ``sys.modules`` after running ``code`` in a new interpreter."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_importing_the_cli_imports_no_heavy_library():
    loaded = imported_after("import readiness.cli")
    assert "readiness" in loaded
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_help_loads_no_probe():
    script = (
        "import contextlib, io\nfrom readiness import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n    code = cli.main(['--help'])\n"
        "assert code == 0 and 'audit' in out.getvalue()\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('readiness.probes'))))"
    )
    out = subprocess.run([sys.executable, "-c", f"import json, sys\n{script}"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1]) == []


def test_loading_every_probe_imports_no_heavy_library():
    # What an audit of an empty repository pays before it reads a file.
    loaded = imported_after("from readiness.probe import load_probes\nassert len(load_probes()) > 20")
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_audit_help_still_lists_the_probe_options():
    out = subprocess.run([sys.executable, "-m", "readiness", "audit", "--help"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for flag in ("--endpoint", "--postgres", "--docker-host", "--history"):
        assert flag in out.stdout
