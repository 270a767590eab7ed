"""A free loopback port for a server that a test starts as its own process.

Such a port is chosen before the process binds it, so it must not be one the kernel could hand
to anyone else meanwhile: ports come from below the ephemeral range (32768 and up on Linux, where
every `bind(("127.0.0.1", 0))` and outgoing connection draws), in a block of their own per
pytest-xdist worker, so two workers running at once never pick the same one.
"""

from __future__ import annotations

import itertools
import os
import socket

_BLOCK = 1500  # ports per worker: 20000 + 8 workers * 1500 stays below 32768
_FIRST = 20000


def _worker_index() -> int:
    """0 without xdist, else N of the worker id "gwN"."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker.removeprefix("gw") or 0)


_next = itertools.cycle(range(_FIRST + _worker_index() * _BLOCK, _FIRST + (_worker_index() + 1) * _BLOCK))


def free_port() -> int:
    """The next port of this worker's block that nothing is bound to right now."""
    for _ in range(_BLOCK):
        port = next(_next)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free loopback port in {_FIRST}+{_worker_index() * _BLOCK}..+{_BLOCK}")
