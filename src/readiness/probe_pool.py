"""Check-stage probes run side by side, in processes forked from the audit, ``--jobs`` at a time.

Probes are Python and CPU-bound, so threads would take turns on one core;
forked workers inherit everything built before them (the discovered files, the
deployment map, the classification, the inventory the inventory-stage probes
filled) and send back what the runner keeps of a probe: its observations, gaps
and run record, the digests of the files it read and its parse-cache counters.
Check-stage probes only read the inventory, so they are independent. Results
come back in the probes' order, so the report is the serial one. Where fork is
unavailable, with ``--jobs 1``, or for a probe whose worker died, the probe
runs in this process. A probe keeps its own pool inside a worker: Terraform's
parse is most of the work in a large tree, and serial in one worker it left the
other cores idle (50k files).
"""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from . import cache, parallel
from .probe import Files

R = TypeVar("R")
MIN_WEIGHT = 500  # claimed files below which forking workers costs more than it saves
_job: Callable[[int], Any] | None = None  # set before the workers fork; they inherit it


def _run(index: int) -> tuple[Any, dict[str, str], dict[str, tuple[int, int, int]]]:
    assert _job is not None
    cache.STATS.clear()
    result, digests = _job(index)
    stats = {name: (s.hits, s.misses, s.writes) for name, s in cache.STATS.items()}
    return result, digests, stats


def run_all(
    count: int,
    run_one: Callable[[int], R],
    files: Files,
    weights: Sequence[float] = (),
    announce: Callable[[int], None] = lambda _i: None,
    here_only: frozenset[int] = frozenset(),
) -> list[R]:
    """``run_one(i)`` for ``i`` in ``range(count)``, side by side in forked workers; results in index order.

    ``weights`` (expected cost: files claimed) decide which start first, so the longest do not start last,
    and whether workers pay at all (under ``MIN_WEIGHT`` in total, all run here). ``announce(i)``
    is called in this process as ``i`` starts (serially) or its result arrives (in workers). The indices in
    ``here_only`` run in this process (while the workers run the others): what they call does not survive fork.
    """

    def here(i: int) -> R:
        announce(i)
        return run_one(i)

    jobs = min(parallel.jobs(), count)
    if jobs <= 1 or sum(weights) < MIN_WEIGHT:
        return [here(i) for i in range(count)]
    import multiprocessing as mp  # here: start-up time an audit with --jobs 1 need not pay
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    if "fork" not in mp.get_all_start_methods():
        return [here(i) for i in range(count)]

    global _job

    def job(i: int) -> tuple[R, dict[str, str]]:
        before = set(files.digests)
        result = run_one(i)
        return result, {p: d for p, d in files.digests.items() if p not in before}

    _job = job
    gc.freeze()  # the workers' collections would otherwise touch, hence copy, every page of this heap
    order = sorted(
        (i for i in range(count) if i not in here_only), key=lambda i: -(weights[i] if i < len(weights) else 0.0)
    )
    results: dict[int, R] = {}
    try:
        with ProcessPoolExecutor(jobs, mp_context=mp.get_context("fork")) as pool:
            futures = {i: pool.submit(_run, i) for i in order}
            for i in sorted(here_only):
                results[i] = here(i)
            for i, future in futures.items():
                try:
                    result, digests, stats = future.result()
                except BrokenProcessPool:
                    continue  # run below, in this process
                results[i] = result
                announce(i)
                for path, digest in digests.items():
                    files.digests.setdefault(path, digest)
                for name, (hits, misses, writes) in stats.items():
                    s = cache.STATS[name]
                    cache.STATS[name] = dataclasses.replace(
                        s, hits=s.hits + hits, misses=s.misses + misses, writes=s.writes + writes
                    )
    except OSError:
        pass  # no processes to be had here
    finally:
        _job = None
        gc.unfreeze()
    return [results[i] if i in results else here(i) for i in range(count)]
