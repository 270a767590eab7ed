"""Spans and redaction results: where PII sits, never what it is.

A `Span` holds character offsets into the input and an entity type. It never holds the value, so
spans can be logged, stored in the database and shown to auditors.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ENTITY_TYPES = (
    "PERSON", "EMAIL", "PHONE", "ADDRESS", "ZIP", "DATE_OF_BIRTH", "SSN", "CREDIT_CARD",
    "CARD_EXPIRY", "CVV", "BANK_ACCOUNT", "ROUTING_NUMBER", "IBAN", "PASSPORT",
    "DRIVER_LICENSE", "IP_ADDRESS", "NUMBER",
)
"""The 16 entity types of the dev set, plus NUMBER: a long digit run of unknown kind that the
conservative fallback redacts anyway."""

# When two detections overlap, the more specific type names the merged span.
_PRIORITY = {t: i for i, t in enumerate(reversed(ENTITY_TYPES))}


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """Half-open character range [start, end) of one entity in the input text."""

    start: int
    end: int
    type: str

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"bad span [{self.start}, {self.end})")

    def to_dict(self) -> dict[str, int | str]:
        return {"start": self.start, "end": self.end, "type": self.type}


@dataclass(frozen=True, slots=True)
class Redaction:
    """The redacted text (with `[TYPE]` placeholders) and the spans into the original text."""

    text: str
    spans: tuple[Span, ...]

    def __repr__(self) -> str:
        types = ",".join(s.type for s in self.spans)
        return f"Redaction(text_len={len(self.text)}, spans={len(self.spans)} [{types}])"


def merge_spans(spans: Iterable[Span]) -> tuple[Span, ...]:
    """Sort and merge overlapping spans; the more specific type names a merged span."""
    out: list[Span] = []
    for span in sorted(spans):
        if out and span.start < out[-1].end:
            last = out[-1]
            keep = last.type if _PRIORITY.get(last.type, 0) >= _PRIORITY.get(span.type, 0) else span.type
            out[-1] = Span(last.start, max(last.end, span.end), keep)
        else:
            out.append(span)
    return tuple(out)


def render(text: str, spans: Sequence[Span]) -> str:
    """Replace every span of `text` by its `[TYPE]` placeholder; spans must be merged."""
    parts: list[str] = []
    pos = 0
    for span in spans:
        parts.append(text[pos:span.start])
        parts.append(f"[{span.type}]")
        pos = span.end
    parts.append(text[pos:])
    return "".join(parts)


def make_redaction(text: str, spans: Iterable[Span]) -> Redaction:
    merged = merge_spans(spans)
    return Redaction(render(text, merged), merged)
