"""Many endpoints at once: asyncio over a thread pool; ``connections`` caps the connections per host."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from . import connections
from .endpoint import EndpointResult, Settings, scan_endpoint
from .scan import Target

# The thread keeps its own deadline; this margin only covers scheduling.
GRACE_SECONDS = 2.0


async def _scan_all(targets: list[Target], settings: Settings, root: Path, now: dt.datetime) -> list[EndpointResult]:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    loop = asyncio.get_running_loop()
    # Endpoints run side by side; the connections they open are what each host's budget limits.
    connections.use(connections.HostBudget(settings.per_host_connections))
    with ThreadPoolExecutor(max_workers=max(1, min(settings.max_concurrency, len(targets)))) as pool:

        async def one(target: Target) -> EndpointResult:
            job = loop.run_in_executor(pool, scan_endpoint, target, settings, root, now)
            try:
                return await asyncio.wait_for(job, settings.endpoint_timeout + GRACE_SECONDS)
            except TimeoutError:
                return EndpointResult(target, error=f"no verdict within {settings.endpoint_timeout:g} s")

        return list(await asyncio.gather(*(one(t) for t in targets)))


def scan_many(targets: list[Target], settings: Settings, root: Path, now: dt.datetime) -> list[EndpointResult]:
    """Scan every target; results in the order of ``targets``."""
    if not targets:
        return []
    # Imported here: asyncio is a fifth of the start-up of an audit that scans nothing.
    import asyncio

    return asyncio.run(_scan_all(targets, settings, root, now))
