"""Settings for operators (log format, archive URL, Object Lock) and the JSON log line."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from recorder import logs
from recorder.archive.s3store import parse_s3_url
from recorder.cli.main import cli
from recorder.config import load_settings
from recorder.errors import ConfigError
from recorder.metrics import close_code_label
from tests.conftest import TEST_API_KEY


def test_archive_url_and_log_format_come_from_the_environment() -> None:
    settings = load_settings(environ={"RECORDER_ARCHIVE_URL": "s3://b/p/q", "RECORDER_LOG_FORMAT": "json"})
    assert (settings.archive_url, settings.log_format) == ("s3://b/p/q", "json")
    assert parse_s3_url(settings.archive_url) == ("b", "p/q")


@pytest.mark.parametrize("overrides, key", [
    ({"log_format": "xml"}, "log_format"),
    ({"archive_url": "/srv/archive"}, "archive_url"),
    ({"archive_lock_mode": "FOREVER", "archive_retain_days": 1}, "archive_lock_mode"),
    ({"archive_lock_mode": "COMPLIANCE"}, "archive_retain_days"),
    ({"archive_retain_days": 30}, "archive_retain_days"),
])
def test_bad_operator_settings_name_the_key(overrides: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(overrides=overrides, environ={})
    assert caught.value.key == key


@pytest.mark.parametrize("url", ["s3://", "s3:///prefix", "gs://b/p", "s3://b/p?x=1"])
def test_malformed_s3_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        parse_s3_url(url)


def test_json_line_carries_the_call_id_and_no_secret() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    logs.configure("INFO", stream, fmt="json")
    log = logging.getLogger("recorder.test")
    token = logs.CALL_ID.set("call-1")
    try:
        try:
            raise RuntimeError(f"upstream said no to api_key={TEST_API_KEY}")
        except RuntimeError:
            log.exception("failed with Bearer %s", TEST_API_KEY)
    finally:
        logs.CALL_ID.reset(token)
    log.info("outside a call")
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["call_id"] == "call-1" and first["level"] == "ERROR"
    assert "RuntimeError" in first["exception"]
    assert "call_id" not in second
    assert TEST_API_KEY not in stream.getvalue()


def test_close_code_labels_are_a_bounded_set() -> None:
    labels = {close_code_label(code) for code in [None, *range(0, 5000)]}
    assert labels == {"none", "other", *(str(c) for c in range(1000, 1016) if c != 1004)}


@pytest.mark.parametrize("args", [["erase", "sess_1", "--reason", "subject request"],
                                  ["retention", "status"], ["retention", "apply", "--dry-run"],
                                  ["console"]])
def test_commands_that_work_on_the_archive_directory_refuse_a_bucket(
    args: list[str], tmp_path: Path
) -> None:
    """Erasure, retention and the console do not reach archives in object storage yet: they
    say so instead of reporting a directory that is not where the archives are."""
    result = CliRunner().invoke(cli, [*args, "--home", str(tmp_path), "--archive-url", "s3://recordings/x"])
    assert result.exit_code == 2, result.output
    assert "archives in object storage (s3://recordings/x) are not supported" in result.output
