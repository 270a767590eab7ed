"""Logging configuration, done once at the CLI edge.

A scrubbing filter sits on every handler, whatever the format; `websockets.client` (DEBUG
prints request headers) and `httpx` (INFO prints full URLs) are held at WARNING. `json` writes
one object per line for log shippers, with the call id of the task (or thread) that logged.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from recorder.scrub import scrub_text

_NOISY = ("websockets", "websockets.client", "websockets.server", "httpx", "httpcore", "alembic",
          "botocore", "boto3", "s3transfer", "urllib3")

# Set by the proxy in each call's task (asyncio copies it into what the task starts) and by
# the archiver around each call's job.
CALL_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("recorder_call_id", default=None)


@contextmanager
def call_id(value: str | None) -> Iterator[None]:
    """Lines logged inside carry this call id (work for one call outside its task: the
    archiver's jobs, the proxy's handling of the archiver's replies)."""
    token = CALL_ID.set(value)
    try:
        yield
    finally:
        CALL_ID.reset(token)


class ScrubFilter(logging.Filter):
    """Rewrites each record's message with secrets removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub_text(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, call_id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        call_id = CALL_ID.get()
        if call_id is not None:
            entry["call_id"] = call_id
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str = "INFO", stream: object = None, fmt: str = "text") -> None:
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ScrubFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
