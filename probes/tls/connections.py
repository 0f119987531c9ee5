"""Every TCP connection the TLS probe opens goes through here: at most N at once to any one host.

A scan opens dozens of connections per endpoint (one per offered protocol and
suite). Servers and the firewalls in front of them throttle or drop clients
that open many at once, and a scan of 40 endpoints on one host must not look
like a flood. The budget counts connections, not endpoints, so an endpoint
waiting between OCSP attempts holds no slot.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .wire import Deadline


class HostBudget:
    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()

    def _slot(self, host: str) -> threading.BoundedSemaphore:
        with self._lock:
            if host not in self._slots:
                self._slots[host] = threading.BoundedSemaphore(self.per_host)
            return self._slots[host]

    @contextmanager
    def connection(self, address: tuple[str, int], deadline: Deadline, timeout: float) -> Iterator[socket.socket]:
        """A connected socket to ``address`` once a slot for its host is free, within the deadline."""
        slot = self._slot(address[0])
        if not slot.acquire(timeout=deadline.remaining()):
            raise TimeoutError(f"no free connection to {address[0]} within the time budget")
        try:
            with socket.create_connection(address, timeout=deadline.remaining(timeout)) as sock:
                yield sock
        finally:
            slot.release()


# One budget per audit: ``concurrency.scan_many`` installs it before scanning; a scan outside an audit
# (tests of one function) gets the default.
_current = HostBudget(2)


def use(budget: HostBudget) -> None:
    global _current
    _current = budget


def connection(address: tuple[str, int], deadline: Deadline, timeout: float):
    return _current.connection(address, deadline, timeout)
