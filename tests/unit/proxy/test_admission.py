"""Admission slots and the not-an-upgrade answer: pure decisions, no sockets."""

from __future__ import annotations

import pytest

from recorder.proxy.admission import Admission
from recorder.proxy.handshake import upgrade_refusal

KEY = ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
UPGRADE = [("Host", "x"), ("Upgrade", "websocket"), ("Connection", "keep-alive, Upgrade"), KEY,
           ("Sec-WebSocket-Version", "13")]


def test_slots_hold_the_limit_and_come_back_once() -> None:
    admission = Admission(limit=2)
    a, b = admission.take("10.0.0.1"), admission.take("10.0.0.2")
    assert a is not None and b is not None
    assert admission.take("10.0.0.3") is None
    assert "2 calls active (limit 2)" in admission.refusal("10.0.0.3")
    a.release()
    a.release()  # idempotent: a second release must not free someone else's slot
    assert admission.taken == 1
    assert admission.take("10.0.0.3") is not None
    assert admission.take("10.0.0.4") is None


def test_per_client_limit_counts_each_address() -> None:
    admission = Admission(limit=10, per_client=2)
    first = [admission.take("10.0.0.1") for _ in range(2)]
    assert admission.take("10.0.0.1") is None
    assert "from 10.0.0.1 (limit 2 per client)" in admission.refusal("10.0.0.1")
    assert admission.take("10.0.0.2") is not None
    first[0].release()  # type: ignore[union-attr]
    assert admission.take("10.0.0.1") is not None
    assert admission.taken == 3


def test_a_proper_upgrade_passes() -> None:
    assert upgrade_refusal("GET", UPGRADE) is None


@pytest.mark.parametrize(("method", "headers", "status"), [
    ("POST", UPGRADE, 405),
    ("GET", [h for h in UPGRADE if h[0] != "Upgrade"], 426),
    ("GET", [("Connection", "close") if h[0] == "Connection" else h for h in UPGRADE], 426),
    ("GET", [h for h in UPGRADE if h is not KEY], 400),
    ("GET", [("Sec-WebSocket-Key", "not base64!") if h is KEY else h for h in UPGRADE], 400),
    ("GET", [*UPGRADE, KEY], 400),
    ("GET", [("Sec-WebSocket-Version", "8") if h[0] == "Sec-WebSocket-Version" else h for h in UPGRADE], 426),
])
def test_requests_that_are_not_upgrades_get_their_status(
    method: str, headers: list[tuple[str, str]], status: int
) -> None:
    refusal = upgrade_refusal(method, headers)
    assert refusal is not None and refusal.status == status
    if status == 405:
        assert ("Allow", "GET") in refusal.headers
