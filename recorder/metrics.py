"""Prometheus metrics: the proxy's `/metrics` and the transcription job's textfile.

Only the proxy and `transcribe` import this module (prometheus_client stays out of the other
commands). Labels are bounded sets: direction, outcome, a close code from a fixed list,
refusal reason; never a session id. Counters the proxy already keeps (`ProxyStats`, the
admission's slots, the archiver process's replies in `ArchiverStats`) are read when scraped
rather than counted twice. Archiving runs in the archiver process: its durations and store
errors reach these metrics through its replies to the proxy.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    write_to_textfile,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from recorder.capture.records import Direction

# Close codes Hydra and the proxy use; anything else is "other" so the label set stays small.
_KNOWN_CODES = frozenset({1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011,
                          1012, 1013, 1014, 1015})

CALLS = Counter("recorder_calls_total", "Calls that ended, by outcome and close code.",
                ["outcome", "close_code"])
_FORWARD_BUCKETS = (5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25)
FINALIZE = Histogram(
    "recorder_finalize_seconds",
    "Archiving a call in the archiver process (replay, render, encrypt, store, rows), per attempt that succeeded.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
STORE_ERRORS = Counter("recorder_archive_store_errors_total",
                       "Failed operations on the archive store.", ["operation"])

Tee = Callable[[Direction, "str | bytes", int], object]


def close_code_label(code: int | None) -> str:
    if code is None:
        return "none"
    return str(code) if code in _KNOWN_CODES else "other"


class _Forwarding(Collector):
    """Frames, bytes and forwarding time of every message, counted on the event loop.

    Plain integers rather than prometheus_client's metrics: those take a lock per update,
    three updates per message, which cost the forwarding loop a few per cent of its CPU. Only
    the event loop's thread writes them; a scrape reads them as they are.
    """

    def __init__(self) -> None:
        self.frames = {d: 0 for d in Direction}
        self.bytes = {d: 0 for d in Direction}
        self.buckets = [0] * (len(_FORWARD_BUCKETS) + 1)  # the last: above every bound
        self.seconds = 0.0

    def collect(self) -> Iterator[Any]:
        frames = CounterMetricFamily("recorder_frames", "Messages forwarded, by direction.",
                                     labels=["direction"])
        size = CounterMetricFamily("recorder_bytes", "Message bytes forwarded, by direction.",
                                   labels=["direction"])
        for d in Direction:
            frames.add_metric([d.value], self.frames[d])
            size.add_metric([d.value], self.bytes[d])
        cumulative, total = [], 0
        for bound, n in zip((*map(str, _FORWARD_BUCKETS), "+Inf"), self.buckets, strict=True):
            total += n
            cumulative.append((bound, total))
        yield frames
        yield size
        yield HistogramMetricFamily(
            "recorder_forward_seconds",
            "From receiving a message on one leg to having sent it on the other.",
            buckets=cumulative, sum_value=self.seconds,
        )


FORWARDING = _Forwarding()
REGISTRY.register(FORWARDING)


def counting_tee(
    tee: Tee, origin_ns: int, clock: Callable[[], int] = time.monotonic_ns
) -> Callable[[Direction, "str | bytes", int], None]:
    """`tee` that first counts the message it is given: the relay calls it just after sending,
    with the arrival time, so the clock now gives receive → send. No parsing."""
    counts = FORWARDING
    bounds = _FORWARD_BUCKETS

    def counted(direction: Direction, message: str | bytes, arrival_ns: int) -> None:
        counts.frames[direction] += 1
        counts.bytes[direction] += len(message)
        seconds = (clock() - origin_ns - arrival_ns) / 1e9
        counts.buckets[bisect_left(bounds, seconds)] += 1
        counts.seconds += seconds
        tee(direction, message, arrival_ns)

    return counted


def call_ended(state: str, close_code: int | None) -> None:
    CALLS.labels(state, close_code_label(close_code)).inc()


def store_error(operation: str) -> None:
    STORE_ERRORS.labels(operation).inc()


# ProxyStats field → refusal reason
REFUSALS = {
    "refused_upstream": "upstream_refused",
    "unreachable": "upstream_unreachable",
    "over_capacity": "server_full",
    "not_upgrades": "not_an_upgrade",
    "abandoned_handshakes": "abandoned_handshake",
}


class _ProxyCollector(Collector):
    def __init__(self, active_calls: int, max_sessions: int, draining: bool,
                 counts: Mapping[str, int]) -> None:
        self._active, self._max, self._draining, self._counts = active_calls, max_sessions, draining, counts

    def collect(self) -> Iterator[Any]:
        counts = self._counts
        yield GaugeMetricFamily("recorder_active_calls", "Calls holding a slot.",
                                value=self._active)
        yield GaugeMetricFamily("recorder_max_sessions", "Slots of this process (--max-sessions).",
                                value=self._max)
        yield GaugeMetricFamily("recorder_draining", "1 while shutting down.",
                                value=int(self._draining))
        refusals = CounterMetricFamily("recorder_refusals", "Calls refused, by reason.",
                                       labels=["reason"])
        for name, reason in REFUSALS.items():
            refusals.add_metric([reason], counts.get(name, 0))
        yield refusals
        yield CounterMetricFamily("recorder_recording_failures", "Journals that could not be "
                                  "opened or written.", value=counts.get("recording_failures", 0))
        yield CounterMetricFamily("recorder_finalize_failures", "Calls whose archiving failed "
                                  "(their journal waits for recover).",
                                  value=counts.get("finalize_failures", 0))
        yield CounterMetricFamily("recorder_finalize_retries", "Archiving attempts that failed "
                                  "on the database or the store and are retried.",
                                  value=counts.get("finalize_retries", 0))
        yield GaugeMetricFamily("recorder_archive_queue", "Ended calls the archiver process has "
                                "not yet archived.", value=counts.get("archive_queue", 0))
        yield CounterMetricFamily("recorder_archiver_restarts", "Archiver processes that died "
                                  "and were restarted.", value=counts.get("archiver_restarts", 0))


def exposition(active_calls: int, max_sessions: int, draining: bool, stats: object,
               archiver: object) -> tuple[bytes, str]:
    """The body and content type of `GET /metrics`: this process's metrics, and the proxy's
    own counters as they are now (`stats`: the server's `ProxyStats`; `archiver`: its
    `ArchiverProcess`, whose replies say how each call's archiving went)."""
    counts = {name: int(getattr(stats, name)) for name in (*REFUSALS, "recording_failures")}
    done = getattr(archiver, "stats")
    # a call that could not be handed over, or that the archiver gave up on
    counts["finalize_failures"] = int(getattr(stats, "finalize_failures")) + int(done.failed)
    counts["finalize_retries"] = int(done.retries)
    counts["archiver_restarts"] = int(done.restarts)
    counts["archive_queue"] = int(getattr(archiver, "pending"))
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_ProxyCollector(active_calls, max_sessions, draining, counts))
    return generate_latest(REGISTRY) + generate_latest(scrape), CONTENT_TYPE_LATEST


def finalized(seconds: float) -> None:
    """One call archived (the archiver process's reply says how long it took)."""
    FINALIZE.observe(seconds)


def write_transcribe_textfile(path: Path, run: Mapping[str, float]) -> None:
    """The last run of `recorder transcribe`, for node_exporter's textfile collector.

    `write_to_textfile` writes a temporary file and renames it: a scrape never reads half."""
    registry = CollectorRegistry(auto_describe=False)
    for name, help_text in TRANSCRIBE_FIELDS.items():
        Gauge(f"recorder_transcribe_last_run_{name}", help_text, registry=registry).set(run[name])
    Gauge("recorder_transcribe_last_run_timestamp_seconds", "When the last run ended.",
          registry=registry).set(time.time())
    write_to_textfile(str(path), registry)


TRANSCRIBE_FIELDS = {
    "recordings": "Recordings transcribed.",
    "skipped": "Recordings skipped (already done by another worker).",
    "failures": "Recordings that failed.",
    "pulse_requests": "HTTP requests sent to Pulse, retries included.",
    "pulse_429": "Pulse answers 429 (rate limited).",
    "retries": "Pulse requests repeated after a transient fault.",
    "elapsed_seconds": "How long the run took.",
}
