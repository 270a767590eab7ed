"""Pure handshake decisions and close-code mapping."""

from __future__ import annotations

import pytest

from recorder.errors import ConfigError
from recorder.proxy.handshake import plan_upstream, validate_upstream
from recorder.proxy.relay import forwardable

KEY = "sk_test_abcdef123456"


def test_plan_keeps_query_drops_handshake_and_metadata_headers() -> None:
    plan = plan_upstream(
        "wss://api.smallest.ai/waves/v1/s2s",
        f"/custom/path?model=hydra&api_key={KEY}",
        [
            ("Host", "proxy:8765"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "abc"), ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"),
            ("Authorization", f"Bearer {KEY}"), ("X-Recorder-Call-Id", "c-1"),
            ("User-Agent", "sdk/5"), ("X-Source", "smallest-python-sdk"),
        ],
    )
    assert plan.url == f"wss://api.smallest.ai/waves/v1/s2s?model=hydra&api_key={KEY}"
    assert plan.headers == (("Authorization", f"Bearer {KEY}"), ("X-Source", "smallest-python-sdk"))
    assert plan.metadata == {"call_id": "c-1"}
    assert plan.user_agent == "sdk/5"
    assert plan.compression is True
    assert plan.model == "hydra"
    assert KEY not in plan.scrubbed_query
    assert KEY not in repr(plan)


def test_upstream_must_be_websocket_url() -> None:
    with pytest.raises(ConfigError):
        validate_upstream("https://api.smallest.ai/waves/v1/s2s")


@pytest.mark.parametrize(
    ("code", "reason", "lost", "expected"),
    [
        (1000, "bye", 1011, (1000, "bye")),
        (1013, "full", 1011, (1013, "full")),
        (4001, "app", 1001, (4001, "app")),
        (1005, "", 1001, (None, "")),
        (1006, "", 1011, (1011, "")),
        (1006, "", 1001, (1001, "")),
        (1015, "tls", 1011, (1011, "tls")),
        (None, "", 1011, (1011, "")),
    ],
)
def test_close_codes_map_to_what_can_be_sent(
    code: int | None, reason: str, lost: int, expected: tuple[int | None, str]
) -> None:
    assert forwardable(code, reason, lost=lost) == expected
