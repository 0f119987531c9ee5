"""Misbehaving servers on 127.0.0.1 for the live fault suite: real sockets, a thread per connection.

Each server listens on a free port (or a unix socket), serves every connection with one behaviour, and
stops (closing every connection) when the ``with`` block ends. Connections and their lifetime are
bounded so a test that goes wrong cannot leave threads trickling bytes forever.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

MAX_CONNECTIONS = 64
MAX_SECONDS = 240  # a connection is closed after this long whatever its behaviour


class Stop(Exception):
    pass


class Conn:
    """One accepted connection, with sends that give up when the server stops."""

    def __init__(self, sock: socket.socket, stop: threading.Event) -> None:
        self.sock = sock
        self.stop = stop
        self.until = time.monotonic() + MAX_SECONDS

    def alive(self) -> bool:
        return not self.stop.is_set() and time.monotonic() < self.until

    def wait(self, seconds: float) -> None:
        if self.stop.wait(seconds) or time.monotonic() > self.until:
            raise Stop

    def send(self, data: bytes) -> None:
        if not self.alive():
            raise Stop
        self.sock.sendall(data)

    def trickle(self, data: bytes, every: float = 1.0) -> None:
        for i in range(len(data)):
            self.send(data[i : i + 1])
            self.wait(every)

    def read_some(self, timeout: float = 2.0) -> bytes:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536)
        except OSError:
            return b""
        finally:
            self.sock.settimeout(None)


def _hang(c: Conn) -> None:
    c.read_some()
    while True:
        c.wait(1)


def _garbage(c: Conn) -> None:
    c.read_some()
    c.send(os.urandom(4096) + b"\r\n\r\n" + os.urandom(4096))


def _reset(c: Conn) -> None:
    c.read_some()
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST


def _plain_http(c: Conn) -> None:
    c.read_some()
    c.send(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\nConnection: close\r\n\r\nplain http\n")


def _trickle_headers(c: Conn) -> None:
    c.read_some()
    c.trickle(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + b"X-Slow: " + b"a" * 100_000)


def _trickle_body(c: Conn) -> None:
    c.read_some()
    c.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
    c.trickle(b'{"status": "success", "data": {"activeTargets": []}, "pad": "' + b"x" * 99_000)


def _huge_body(c: Conn) -> None:
    c.read_some()
    c.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 8000000000\r\n\r\n")
    c.send(b'{"status": "success", "data": {"activeTargets": [')
    block = b'{"health": "up"},' * 4096
    while True:
        c.send(block)


def _trickle_tls(c: Conn) -> None:
    """A TLS ServerHello record whose header promises 16 KiB, sent one byte a second."""
    c.read_some()
    c.trickle(b"\x16\x03\x03\x40\x00\x02\x00\x3f\xfc\x03\x03" + os.urandom(16_000))


BEHAVIOURS: dict[str, Callable[[Conn], None]] = {
    "accept-and-hang": _hang,
    "garbage": _garbage,
    "reset": _reset,
    "plain-http": _plain_http,
    "trickle-http-headers": _trickle_headers,
    "trickle-http-body": _trickle_body,
    "huge-http-body": _huge_body,
    "trickle-tls-record": _trickle_tls,
}


@contextlib.contextmanager
def serve(behaviour: str, unix_path: str | None = None) -> Iterator[int | str]:
    """Serve ``behaviour`` on a free loopback port (yielded) or on the unix socket ``unix_path``."""
    act = BEHAVIOURS[behaviour]
    stop = threading.Event()
    family = socket.AF_UNIX if unix_path else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.bind(unix_path or ("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    conns: list[socket.socket] = []

    def one(sock: socket.socket) -> None:
        with contextlib.suppress(Stop, OSError), sock:
            act(Conn(sock, stop))

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if len(conns) >= MAX_CONNECTIONS:
                sock.close()
                continue
            conns.append(sock)
            threading.Thread(target=one, args=(sock,), daemon=True).start()

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    try:
        yield unix_path or listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
