"""Several proxy processes on one port (SO_REUSEPORT), for hosts with more cores than one
process can use: the forwarding loop is single-threaded Python.

The parent creates keys once, then starts the workers and waits; each worker runs its own
archiver process, and the archivers recover orphaned journals in the background (a journal's
owner lock keeps two of them, or one and a live call, apart). SIGTERM/SIGINT is passed on;
each worker drains its own calls. If a worker dies, the parent stops the others and exits
non-zero, so the service manager restarts the whole proxy and recovery archives what the dead
worker left in the spool.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import multiprocessing
import signal
import threading
from types import FrameType

from recorder import logs
from recorder.config import Settings

log = logging.getLogger(__name__)


def _worker(settings: Settings, index: int) -> None:
    from recorder.proxy.run import run

    logs.configure(settings.log_level, fmt=settings.log_format)
    run(settings, worker=index)


def run_workers(settings: Settings) -> int:
    """Run `settings.workers` proxy processes until a signal; the exit code for the CLI."""
    from recorder.proxy.startup import prepare_recorder

    prepare_recorder(settings)
    share = dataclasses.replace(
        settings, max_sessions=math.ceil(settings.max_sessions / settings.workers)
    )
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_worker, args=(share, i), name=f"recorder-proxy-{i}")
        for i in range(settings.workers)
    ]
    stop = threading.Event()

    def forward(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for process in processes:
            process.start()
        log.info("started %d proxy workers, %d calls each", len(processes), share.max_sessions)
        failed = False
        while not stop.wait(0.2):
            dead = [p for p in processes if not p.is_alive()]
            if dead:
                log.error("proxy worker %s exited with %s; stopping the others",
                          dead[0].name, dead[0].exitcode)
                failed = True
                break
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: the worker drains
        for process in processes:
            process.join(settings.drain_timeout_s + 30)
            if process.is_alive():
                process.kill()
        return 1 if failed else 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
