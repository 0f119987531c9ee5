"""Time budgets: a probe, and the work on one file, stop when their time is up.

A probe may meet input that makes it slow (a file built to take a parser the
long way round) or a server that keeps it waiting. Each probe run and each
file a probe guards (``ProbeContext.guard``) gets a deadline; when it passes,
``BudgetExceeded`` is raised in the audit's main thread by a ``SIGALRM``
timer, interrupting Python code and blocking system calls (a socket read, a
wait on a program) alike. The runner turns what the probe did not finish into
``error`` observations, so no check it feeds can pass.

``BudgetExceeded`` derives from ``BaseException``: a probe's ``except
Exception`` must not swallow it. A deadline that has passed fires again every
half second until the work it bounds has ended, in case something caught it
anyway. C code that holds the interpreter (a regular expression, libyaml's
scanner) is interrupted only when it returns. Outside the main thread, or
where ``SIGALRM`` does not exist, no timer is set and the budget is not
enforced (worker threads have their own timeouts).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

DEFAULT_PROBE_SECONDS = 600.0
DEFAULT_FILE_SECONDS = 60.0
REFIRE_SECONDS = 0.5


class BudgetExceeded(BaseException):  # noqa: N818 - named for what happened, like KeyboardInterrupt
    """The time of ``what`` is up (``scope``: "probe" or "file")."""

    def __init__(self, scope: str, what: str, seconds: float) -> None:
        super().__init__(f"{what} did not finish within its time budget of {seconds:g} s")
        self.scope = scope
        self.what = what
        self.seconds = seconds


@dataclass
class _Deadline:
    at: float
    scope: str
    what: str
    seconds: float


_stack: list[_Deadline] = []


def _enforceable() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def _arm() -> None:
    if not _stack:
        signal.setitimer(signal.ITIMER_REAL, 0)
        return
    left = min(d.at for d in _stack) - time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, max(left, 0.001))


def _fire(_signum: int, _frame: object) -> None:
    now = time.monotonic()
    expired = [d for d in _stack if d.at <= now]
    if not expired:
        _arm()  # woke early
        return
    # Fire again soon, in case the exception is caught by code that should not have caught it.
    signal.setitimer(signal.ITIMER_REAL, REFIRE_SECONDS)
    first = min(expired, key=lambda d: d.at)
    raise BudgetExceeded(first.scope, first.what, first.seconds)


@contextlib.contextmanager
def deadline(seconds: float | None, scope: str, what: str) -> Iterator[None]:
    """Raise ``BudgetExceeded`` in this block once ``seconds`` have passed (None or 0: no budget)."""
    if not seconds or not _enforceable():
        yield
        return
    entry = _Deadline(time.monotonic() + seconds, scope, what, seconds)
    previous = signal.signal(signal.SIGALRM, _fire) if not _stack else None
    _stack.append(entry)
    try:
        _arm()
        yield
    finally:
        # The timer may fire during this cleanup: retry until the entry is off the stack and the timer re-armed.
        while True:
            try:
                if entry in _stack:
                    _stack.remove(entry)
                _arm()
                if not _stack and previous is not None:
                    signal.signal(signal.SIGALRM, previous)
                break
            except BudgetExceeded:
                continue


class ExchangeTimeout(TimeoutError):
    """A whole exchange with a live system (connect, request, every byte of the answer) took too long."""


@contextlib.contextmanager
def exchange(seconds: float, what: str) -> Iterator[None]:
    """Bound a whole exchange with a server, not each read: a server trickling one byte a second never
    lets a per-read timeout expire. Raises ``ExchangeTimeout`` when ``seconds`` have passed."""
    try:
        with deadline(seconds, "exchange", what):
            yield
    except BudgetExceeded as exc:
        if exc.scope != "exchange" or exc.what != what:
            raise
        raise ExchangeTimeout(f"no complete answer within {seconds:g} s") from None
