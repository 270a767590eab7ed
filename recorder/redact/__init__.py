"""PII redaction for spoken call transcripts: text, conversations, STT words, audio and JSON.

Public API (what the transcription job calls)::

    redact_text(text, channel=None, policy="strict") -> Redaction
    redact_conversation(turns, policy="strict") -> list[Redaction]
    redact_words(words, policy="strict") -> WordRedaction
    bleep_pcm(pcm, rate, spans_ms, mode="tone", pad_ms=...) -> numpy array (or bytes)
    redact_json(value) -> JsonRedaction

Spans carry offsets (characters or milliseconds) and a type, never the value.
"""

from __future__ import annotations

from recorder.redact.audio import bleep_pcm, padded_sample_ranges
from recorder.redact.engine import Turn, redact_conversation, redact_text
from recorder.redact.policy import BALANCED, POLICIES, STRICT
from recorder.redact.spans import ENTITY_TYPES, Redaction, Span
from recorder.redact.structured import JsonRedaction, redact_json, redact_payload
from recorder.redact.words import TimedSpan, Word, WordRedaction, redact_words

__all__ = [
    "BALANCED", "ENTITY_TYPES", "POLICIES", "STRICT", "JsonRedaction", "Redaction", "Span", "TimedSpan", "Turn", "Word",
    "WordRedaction", "bleep_pcm", "padded_sample_ranges", "redact_conversation", "redact_json",
    "redact_payload", "redact_text", "redact_words",
]
