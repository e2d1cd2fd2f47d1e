"""A loopback TCP listener that counts the connections it accepts: proof that a target was (not) contacted.

It accepts on its own thread, so it counts even while the event loop of the test is busy inside a request."""

from __future__ import annotations

import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class Listener:
    """Where it listens and one entry per accepted connection (each is closed at once)."""

    host: str
    port: int = 0
    accepted: list[int] = field(default_factory=list)


@asynccontextmanager
async def counting_listener(host: str = "127.0.0.1") -> AsyncIterator[Listener]:
    state = Listener(host)
    stop = threading.Event()
    with socket.socket() as server:
        server.bind((host, 0))
        server.listen(16)
        server.settimeout(0.05)
        state.port = int(server.getsockname()[1])

        def accept() -> None:
            while not stop.is_set():
                try:
                    connection, _peer = server.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                state.accepted.append(1)
                connection.close()

        thread = threading.Thread(target=accept, name="counting-listener", daemon=True)
        thread.start()
        try:
            yield state
        finally:
            stop.set()
            thread.join(timeout=2)
