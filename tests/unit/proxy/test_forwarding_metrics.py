"""The forwarding counters behind `/metrics`: what a scrape shows for the messages counted."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from recorder import metrics
from recorder.values import Direction


def _scrape(collector: metrics._Forwarding) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_counts_frames_bytes_and_forwarding_time_per_direction(monkeypatch) -> None:
    fresh = metrics._Forwarding()
    monkeypatch.setattr(metrics, "FORWARDING", fresh)
    teed: list[tuple[Direction, str | bytes, int]] = []
    now = [0]
    tee = metrics.counting_tee(lambda *a: teed.append(a), origin_ns=1_000, clock=lambda: now[0])
    # forwarding times: exactly a bucket bound (counted in it: Prometheus buckets are "≤"),
    # just above it, and beyond every bound
    for direction, message, arrival, sent in (
        (Direction.C2S, "abcd", 0, 1_000 + 100_000),  # 100 µs
        (Direction.C2S, "ef", 10, 1_000 + 10 + 100_001),  # just over 100 µs
        (Direction.S2C, b"\x00\x01\x02", 0, 1_000 + 2_000_000_000),  # 2 s
    ):
        now[0] = sent
        tee(direction, message, arrival)
    assert [m for _, m, _ in teed] == ["abcd", "ef", b"\x00\x01\x02"]
    samples = _scrape(fresh)
    assert samples[("recorder_frames_total", (("direction", "c2s"),))] == 2
    assert samples[("recorder_frames_total", (("direction", "s2c"),))] == 1
    assert samples[("recorder_bytes_total", (("direction", "c2s"),))] == 6
    assert samples[("recorder_bytes_total", (("direction", "s2c"),))] == 3
    bucket = {dict(labels)["le"]: v for (name, labels), v in samples.items()
              if name == "recorder_forward_seconds_bucket"}
    assert bucket["5e-05"] == 0
    assert bucket["0.0001"] == 1
    assert bucket["0.00025"] == 2
    assert bucket["0.25"] == 2
    assert bucket["+Inf"] == 3
    assert samples[("recorder_forward_seconds_count", ())] == 3
    assert abs(samples[("recorder_forward_seconds_sum", ())] - (100e-6 + 100.001e-6 + 2.0)) < 1e-9
