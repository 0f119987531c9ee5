"""How much of the audit runs at once: ``readiness audit --jobs N`` (default: the machine's cores).

Compose processes run in a thread pool of this size (they are separate programs,
so threads suffice), and CPU-bound parsing (Terraform) in a process pool of
this size. ``--jobs 1`` runs everything in this process, one thing at a time;
the evidence is the same whatever the number (tests/test_parallel.py).
"""

from __future__ import annotations

import os

_jobs: int | None = None


def set_jobs(jobs: int | None) -> None:
    """Use ``jobs`` workers (None: the default) for the rest of this process."""
    global _jobs
    if jobs is not None and jobs < 1:
        raise ValueError("jobs must be at least 1")
    _jobs = jobs


def jobs() -> int:
    """The workers to use: ``--jobs``, else ``READINESS_JOBS``, else the cores this process may run on."""
    if _jobs is not None:
        return _jobs
    env = os.environ.get("READINESS_JOBS", "")
    if env.isdigit() and int(env) >= 1:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
