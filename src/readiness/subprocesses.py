"""Every external program the audit starts (git, the Compose binary): bounded, and never left behind.

Each program runs in its own session, hence its own process group, with a
deadline and a cap on its data segment (``RLIMIT_DATA``: heap and anonymous
memory, not the files it maps, so git can still map large packs). On timeout
the whole group is killed, grandchildren included; the programs still running
when the audit ends, or when it receives SIGINT or SIGTERM, are killed the same
way. A program that could expand hostile input (a YAML alias bomb handed to
Compose) therefore costs at most its cap and its deadline, and nothing outlives
the audit. A grandchild that starts a session of its own leaves the group and
is out of reach; none of the programs we run does that.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import resource
import signal
import subprocess
import threading
from collections.abc import Iterator, Sequence
from typing import Any

DEFAULT_TIMEOUT = 120.0
DEFAULT_MEMORY = 2 * 1024**3  # bytes of data segment per program

_live: set[subprocess.Popen] = set()
_lock = threading.RLock()  # re-entrant: the signal handler may interrupt a holder in the main thread


def _limit_memory(limit: int) -> None:  # runs in the child between fork and exec
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def kill_all() -> None:
    """Kill every program still running, with its group. Safe to call from a signal handler."""
    with _lock:
        procs = list(_live)
    for proc in procs:
        _kill_group(proc)


def popen(args: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT, memory: int = DEFAULT_MEMORY, **kwargs: Any):
    """``subprocess.Popen`` in a new session with a memory cap. Its group is killed when the program exits
    (so no grandchild holds its pipes open) or after ``timeout`` seconds (``proc.timed_out`` then says so).
    Call ``finish(proc)`` when done with it."""
    proc = subprocess.Popen(
        list(args),
        start_new_session=True,
        preexec_fn=functools.partial(_limit_memory, memory),
        **kwargs,
    )
    proc.timed_out = False  # type: ignore[attr-defined]

    def watch() -> None:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.timed_out = True  # type: ignore[attr-defined]
        _kill_group(proc)

    with _lock:
        _live.add(proc)
    threading.Thread(target=watch, name=f"deadline of {args[0]}", daemon=True).start()
    return proc


def finish(proc: subprocess.Popen) -> None:
    """Stop watching ``proc``: kill what is left of its group and reap it."""
    _kill_group(proc)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    with _lock:
        _live.discard(proc)


def run(
    args: Sequence[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    memory: int = DEFAULT_MEMORY,
    capture_output: bool = True,
    input: str | bytes | None = None,
    check: bool = False,
    **kwargs: Any,
) -> subprocess.CompletedProcess:
    """Like ``subprocess.run`` (same result, ``TimeoutExpired`` on timeout), bounded as described above."""
    if capture_output:
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
    if input is not None:
        kwargs["stdin"] = subprocess.PIPE
    proc = popen(args, timeout=timeout, memory=memory, **kwargs)
    try:
        out, err = proc.communicate(input)
    finally:
        finish(proc)
    if proc.timed_out:  # type: ignore[attr-defined]
        raise subprocess.TimeoutExpired(list(args), timeout, out, err)
    done = subprocess.CompletedProcess(list(args), proc.returncode, out, err)
    if check:
        done.check_returncode()
    return done


def _on_signal(signum: int, _frame: Any) -> None:
    kill_all()
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def bounded() -> Iterator[None]:
    """For the length of an audit: SIGINT and SIGTERM kill every program first, and so does the end."""
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, _on_signal)
    try:
        yield
    finally:
        kill_all()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


atexit.register(kill_all)
