"""Secrets scrubbing and settings precedence: pure, no sockets."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from recorder.config import load_settings
from recorder.errors import ConfigError
from recorder.logs import ScrubFilter
from recorder.scrub import SCRUBBED, scrub_headers, scrub_query, scrub_text

KEY = "sk_live_9f8e7d6c5b4a"


def test_scrub_query_keeps_order_and_other_values() -> None:
    assert scrub_query(f"model=hydra-v1.1&api_key={KEY}&x=1") == (
        f"model=hydra-v1.1&api_key={SCRUBBED}&x=1"
    )


def test_scrub_headers_and_free_text() -> None:
    assert scrub_headers([("Authorization", f"Bearer {KEY}"), ("X-A", "b")]) == [
        ("Authorization", SCRUBBED), ("X-A", "b")
    ]
    text = f"GET /waves/v1/s2s?model=hydra&api_key={KEY} failed; Authorization: Bearer {KEY}"
    assert KEY not in scrub_text(text)


def test_log_filter_scrubs_messages_and_arguments() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "url %s", (f"wss://h/?api_key={KEY}",), None)
    ScrubFilter().filter(record)
    assert KEY not in record.getMessage()


def test_precedence_flags_over_env_over_toml(tmp_path: Path) -> None:
    toml = tmp_path / "r.toml"
    toml.write_text('[recorder]\nmax_sessions = 5\nlisten = "0.0.0.0:1"\nupstream_url = "ws://toml"\n')
    env = {"RECORDER_UPSTREAM_URL": "ws://env", "RECORDER_HOME": str(tmp_path)}
    settings = load_settings({"listen": "127.0.0.1:2", "max_sessions": None}, environ=env, config_file=toml)
    assert settings.listen == "127.0.0.1:2"
    assert settings.upstream_url == "ws://env"
    assert settings.max_sessions == 5
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'recorder.db'}"


def test_api_key_never_in_repr() -> None:
    settings = load_settings(environ={"SMALLEST_API_KEY": KEY})
    assert settings.api_key == KEY
    assert KEY not in repr(settings)


@pytest.mark.parametrize(
    ("content", "key"),
    [("max_sessions = 'many'", "max_sessions"), ("nonsense = 1", "nonsense"), ("= broken", "config")],
)
def test_bad_toml_names_the_key(tmp_path: Path, content: str, key: str) -> None:
    toml = tmp_path / "r.toml"
    toml.write_text(content)
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={}, config_file=toml)
    assert caught.value.key == key


@pytest.mark.parametrize(
    ("flags", "key"),
    [({"max_message_mb": 0}, "max_message_mb"), ({"max_message_mb": 2048}, "max_message_mb"),
     ({"max_sessions_per_client": -1}, "max_sessions_per_client")],
)
def test_limits_out_of_range_are_refused(flags: dict[str, int], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(flags, environ={})
    assert caught.value.key == key


def test_limit_defaults() -> None:
    settings = load_settings(environ={})
    assert (settings.max_message_mb, settings.max_sessions_per_client) == (8, 0)
