"""``call.json``: the proxy's ``CallMeta`` and capture's ``CallSummary`` as one JSON document.

It is everything needed to rebuild a call's database rows from its archive (``recorder
recover`` after a database loss), so the round trip ``load(dump(meta, summary))`` is exact.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from recorder.call import (
    CallMeta,
    CallSummary,
    CutTrigger,
    ErrorSummary,
    ResponseSummary,
    SpeechTurn,
    ToolCallSummary,
)
from recorder.errors import IntegrityError
from recorder.values import Direction

CALL_FORMAT = "recorder-call/1"


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def dump(meta: CallMeta, summary: CallSummary) -> bytes:
    doc = {
        "format": CALL_FORMAT,
        "meta": meta.to_json(),
        "summary": _plain(dataclasses.asdict(summary)),
    }
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, indent=1).encode("utf-8")


def _enum(cls: Any, value: str | None) -> Any:
    return None if value is None else cls(value)


def load(data: bytes, *, name: str = "call.json") -> tuple[CallMeta, CallSummary]:
    """Parse ``dump`` output; any damage is an ``IntegrityError`` naming the file."""
    try:
        doc = json.loads(data)
        if doc.get("format") != CALL_FORMAT:
            raise ValueError(f"format is {doc.get('format')!r}, expected {CALL_FORMAT}")
        meta = CallMeta.from_json(doc["meta"])
        s = dict(doc["summary"])
        s["tools"] = tuple(s["tools"])
        s["warnings"] = tuple(s["warnings"])
        s["closed_by"] = _enum(Direction, s.get("closed_by"))
        s["responses"] = tuple(
            ResponseSummary(**{**r, "cut_trigger": _enum(CutTrigger, r.get("cut_trigger")),
                               "item_ids": tuple(r.get("item_ids", ()))})
            for r in s["responses"]
        )
        s["tool_calls"] = tuple(ToolCallSummary(**t) for t in s["tool_calls"])
        s["errors"] = tuple(ErrorSummary(**e) for e in s["errors"])
        s["speech_turns"] = tuple(SpeechTurn(**t) for t in s["speech_turns"])
        return meta, CallSummary(**s)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IntegrityError(name, f"not a recorder call document: {exc}") from exc
