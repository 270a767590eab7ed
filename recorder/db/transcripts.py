"""Redacted transcripts in the database: write once, read back, search.

Only redacted text is ever handed to this module (transcripts and their
words hold redacted text only; redaction spans hold type and times, never the value).
``write_transcript`` adds the transcript, its words, turns and spans in the caller's
transaction, or nothing when a transcript is already there, so a rerun never duplicates.

Search: PostgreSQL ``to_tsvector('simple', text) @@ plainto_tsquery('simple', q)`` over turns
(GIN index ``ix_turns_text_tsv``); SQLite the FTS5 table ``turns_fts`` (migration 0004), every
query word quoted so user input is never FTS syntax; a SQLite built without FTS5 falls back to
``LIKE`` on every word.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, select, text
from sqlalchemy.orm import Session

from recorder.db.models import (
    TURNS_FTS,
    CallSession,
    RedactionSpan,
    Transcript,
    TranscriptTurn,
    TranscriptWord,
)

_QUERY_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class StoredWord:
    seq: int
    channel: str
    start_ms: float
    end_ms: float
    text: str = field(repr=False)
    redacted: bool


@dataclass(frozen=True, slots=True)
class StoredTurn:
    seq: int
    speaker: str
    start_ms: float
    end_ms: float
    text: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class StoredSpan:
    seq: int
    channel: str
    type: str
    start_ms: float
    end_ms: float


@dataclass(frozen=True, slots=True)
class TranscriptRecord:
    """One recording's redacted transcript as stored. The repr shows counts, not text."""

    session_id: str
    text: str = field(repr=False)
    language: str
    model: str
    redaction: str  # the policy the transcript was redacted under: strict | balanced
    pulse_request_ids: tuple[str, ...]
    pulse_requests: int
    audio_seconds_billed: float
    words: tuple[StoredWord, ...] = field(repr=False)
    turns: tuple[StoredTurn, ...] = field(repr=False)
    spans: tuple[StoredSpan, ...]
    created_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A turn whose redacted text matches a search."""

    session_id: str
    seq: int
    speaker: str
    start_ms: float
    end_ms: float
    text: str = field(repr=False)


def has_transcript(session: Session, session_id: str) -> bool:
    return session.get(Transcript, session_id) is not None


def write_transcript(session: Session, record: TranscriptRecord, *, now: dt.datetime) -> bool:
    """Add the transcript and its rows (flushed, not committed); False if one already exists."""
    if has_transcript(session, record.session_id):
        return False
    sid = record.session_id
    session.add(Transcript(
        session_id=sid, text=record.text, language=record.language, model=record.model,
        redaction=record.redaction, pulse_request_ids=list(record.pulse_request_ids), pulse_requests=record.pulse_requests,
        audio_seconds_billed=record.audio_seconds_billed, created_at=now,
    ))
    session.add_all(TranscriptWord(session_id=sid, seq=w.seq, channel=w.channel, start_ms=w.start_ms,
                                   end_ms=w.end_ms, text=w.text, redacted=w.redacted)
                    for w in record.words)
    session.add_all(TranscriptTurn(session_id=sid, seq=t.seq, speaker=t.speaker, start_ms=t.start_ms,
                                   end_ms=t.end_ms, text=t.text) for t in record.turns)
    session.add_all(RedactionSpan(session_id=sid, seq=s.seq, channel=s.channel, type=s.type,
                                  start_ms=s.start_ms, end_ms=s.end_ms) for s in record.spans)
    session.flush()
    return True


def read_transcript(session: Session, session_id: str) -> TranscriptRecord | None:
    row = session.get(Transcript, session_id)
    if row is None:
        return None
    words = session.scalars(select(TranscriptWord).where(TranscriptWord.session_id == session_id)
                            .order_by(TranscriptWord.seq))
    turns = session.scalars(select(TranscriptTurn).where(TranscriptTurn.session_id == session_id)
                            .order_by(TranscriptTurn.seq))
    spans = session.scalars(select(RedactionSpan).where(RedactionSpan.session_id == session_id)
                            .order_by(RedactionSpan.seq))
    return TranscriptRecord(
        session_id=session_id, text=row.text, language=row.language, model=row.model,
        redaction=row.redaction, pulse_request_ids=tuple(row.pulse_request_ids), pulse_requests=row.pulse_requests,
        audio_seconds_billed=row.audio_seconds_billed,
        words=tuple(StoredWord(w.seq, w.channel, w.start_ms, w.end_ms, w.text, w.redacted) for w in words),
        turns=tuple(StoredTurn(t.seq, t.speaker, t.start_ms, t.end_ms, t.text) for t in turns),
        spans=tuple(StoredSpan(s.seq, s.channel, s.type, s.start_ms, s.end_ms) for s in spans),
        created_at=row.created_at,
    )


def query_words(query: str) -> list[str]:
    """The words of a search query, lower-cased; punctuation and operators are dropped."""
    return [w.lower() for w in _QUERY_WORD.findall(query)]


def _has_fts5(session: Session) -> bool:
    found = session.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"), {"name": TURNS_FTS}
    ).first()
    return found is not None


def _turn_matches(session: Session, words: list[str]) -> ColumnElement[bool]:
    """A condition on ``TranscriptTurn``: its text has every one of ``words`` (non-empty)."""
    t = TranscriptTurn
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return func.to_tsvector(literal_column("'simple'"), t.text).bool_op("@@")(
            func.plainto_tsquery(literal_column("'simple'"), " ".join(words)))
    if dialect == "sqlite" and _has_fts5(session):
        match = " ".join('"' + w.replace('"', '""') + '"' for w in words)
        ids: Select[Any] = select(literal_column("rowid")).select_from(text(TURNS_FTS)).where(
            text(f"{TURNS_FTS} MATCH :match").bindparams(match=match))
        return t.id.in_(ids)
    return and_(*(func.lower(t.text).contains(w, autoescape=True) for w in words))


def search_turns(session: Session, query: str, *, limit: int = 100) -> list[SearchHit]:
    """Turns containing every word of ``query`` (most recent recordings first)."""
    words = query_words(query)
    if not words:
        return []
    t = TranscriptTurn
    stmt = (select(t.session_id, t.seq, t.speaker, t.start_ms, t.end_ms, t.text)
            .join(CallSession, CallSession.id == t.session_id)
            .where(_turn_matches(session, words))
            .order_by(CallSession.started_at.desc(), t.session_id, t.seq).limit(limit))
    return [SearchHit(*row) for row in session.execute(stmt).all()]


def sessions_matching(session: Session, query: str) -> Select[Any] | None:
    """Ids of the calls with a turn containing every word of ``query``, as a subquery to filter
    a call list by; None when the query has no words (no filter)."""
    words = query_words(query)
    if not words:
        return None
    # OFFSET 0 keeps PostgreSQL from pulling the subquery into a semi-join that computes
    # to_tsvector row by row for every call it walks; evaluated once, it uses the GIN index.
    return select(TranscriptTurn.session_id).where(_turn_matches(session, words)).offset(0)
