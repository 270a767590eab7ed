"""Typed SQLAlchemy 2 models of what crossed the wire.

Rows are written once per call, at finalization, never on the forwarding path (DESIGN.md
"Database"). Times inside a call are milliseconds since the proxy accepted the session.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    literal_column,
)
from sqlalchemy.dialects import postgresql  # noqa: F401  registers to_tsvector's types
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

intpk = Annotated[int, mapped_column(Integer, primary_key=True, autoincrement=True)]
str_id = Annotated[str, mapped_column(String(64))]
opt_str = Annotated[str | None, mapped_column(String(255))]
opt_text = Annotated[str | None, mapped_column(Text)]
opt_ms = Annotated[float | None, mapped_column(Float)]
opt_int = Annotated[int | None, mapped_column(Integer)]
timestamp = Annotated[dt.datetime, mapped_column(DateTime(timezone=True))]
session_fk = Annotated[
    str, mapped_column(String(64), ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
]
sha256_hex = Annotated[str, mapped_column(String(64))]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CallSession(Base):
    """One client connection through the proxy, i.e. one Hydra session."""

    __tablename__ = "sessions"

    id: Mapped[str_id] = mapped_column(primary_key=True)
    hydra_session_id: Mapped[str | None] = mapped_column(String(128), index=True)
    started_at: Mapped[timestamp] = mapped_column(index=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[opt_ms]
    state: Mapped[str] = mapped_column(String(32))
    close_code: Mapped[opt_int]
    close_reason: Mapped[opt_text]
    close_side: Mapped[str | None] = mapped_column(String(16))
    upstream_status: Mapped[opt_int]
    model: Mapped[opt_str]
    path: Mapped[opt_text]
    query: Mapped[opt_text]
    call_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JSON)
    voice: Mapped[opt_str]
    tools: Mapped[list[str]] = mapped_column(JSON)
    warnings: Mapped[list[str]] = mapped_column(JSON)
    frames_c2s: Mapped[int] = mapped_column(Integer)
    frames_s2c: Mapped[int] = mapped_column(Integer)
    unparsed_frames: Mapped[int] = mapped_column(Integer)
    bytes_c2s: Mapped[int] = mapped_column(BigInteger)
    bytes_s2c: Mapped[int] = mapped_column(BigInteger)
    caller_audio_ms: Mapped[float] = mapped_column(Float)
    agent_audio_ms_received: Mapped[float] = mapped_column(Float)
    agent_audio_ms_heard: Mapped[float] = mapped_column(Float)

    responses: Mapped[list[Response]] = relationship(
        back_populates="session", order_by="Response.seq", cascade="all, delete-orphan"
    )
    tool_calls: Mapped[list[ToolCall]] = relationship(
        back_populates="session", order_by="ToolCall.seq", cascade="all, delete-orphan"
    )
    errors: Mapped[list[CallError]] = relationship(
        back_populates="session", order_by="CallError.seq", cascade="all, delete-orphan"
    )


class Response(Base):
    """One agent turn (`response.created` … `response.done`)."""

    __tablename__ = "responses"
    __table_args__ = (UniqueConstraint("session_id", "seq"),)

    id: Mapped[intpk]
    session_id: Mapped[session_fk]
    seq: Mapped[int] = mapped_column(Integer)
    response_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(64))
    created_ms: Mapped[opt_ms]
    first_audio_ms: Mapped[opt_ms]
    done_ms: Mapped[opt_ms]
    input_tokens: Mapped[opt_int]
    output_tokens: Mapped[opt_int]
    total_tokens: Mapped[opt_int]
    audio_ms_received: Mapped[float] = mapped_column(Float)
    audio_ms_heard: Mapped[float] = mapped_column(Float)
    latency_ms: Mapped[opt_ms]
    cut_ms: Mapped[opt_ms]

    session: Mapped[CallSession] = relationship(back_populates="responses")


class ToolCall(Base):
    """A function call the model made and the output the client returned."""

    __tablename__ = "tool_calls"
    __table_args__ = (UniqueConstraint("session_id", "seq"),)

    id: Mapped[intpk]
    session_id: Mapped[session_fk]
    seq: Mapped[int] = mapped_column(Integer)
    call_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[opt_str]
    response_id: Mapped[str | None] = mapped_column(String(128))
    arguments: Mapped[opt_text]
    output: Mapped[opt_text]
    requested_ms: Mapped[opt_ms]
    output_ms: Mapped[opt_ms]

    session: Mapped[CallSession] = relationship(back_populates="tool_calls")


class CallError(Base):
    """An `error` event Hydra sent during the call."""

    __tablename__ = "errors"
    __table_args__ = (UniqueConstraint("session_id", "seq"),)

    id: Mapped[intpk]
    session_id: Mapped[session_fk]
    seq: Mapped[int] = mapped_column(Integer)
    code: Mapped[opt_str]
    type: Mapped[opt_str]
    message: Mapped[opt_text]
    param: Mapped[opt_str]
    client_event_id: Mapped[opt_str]
    at_ms: Mapped[float] = mapped_column(Float)

    session: Mapped[CallSession] = relationship(back_populates="errors")


class Recording(Base):
    """The archive of one call on disk (DESIGN.md "Encryption and integrity").

    ``archive_path`` is relative to the data dir; ``manifest_version``/``manifest_sha256`` pin the
    latest signed manifest, so a swapped or edited manifest shows up in ``recorder verify``.
    """

    __tablename__ = "recordings"

    session_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    archive_path: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(32))  # complete | incomplete
    reason: Mapped[opt_text]
    manifest_version: Mapped[int] = mapped_column(Integer)
    manifest_sha256: Mapped[sha256_hex]
    key_ids: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[timestamp]


class LedgerEntry(Base):
    """One manifest version, hash-chained to the entry before it (``recorder.db.ledger``).

    No foreign key: the ledger outlives erased sessions, so the chain stays checkable.
    """

    __tablename__ = "ledger"
    __table_args__ = (UniqueConstraint("session_id", "manifest_version"),)

    seq: Mapped[intpk]
    session_id: Mapped[str_id]
    manifest_version: Mapped[int] = mapped_column(Integer)
    manifest_sha256: Mapped[sha256_hex]
    prev_hash: Mapped[sha256_hex]
    entry_hash: Mapped[sha256_hex] = mapped_column(unique=True)
    created_at: Mapped[timestamp]


class AccessLogEntry(Base):
    """One access to recorded content (an export, a show), hash-chained (``recorder.db.access_log``).

    Append only. No foreign key: the log outlives erased sessions, so who saw what stays provable.
    """

    __tablename__ = "access_log"

    seq: Mapped[intpk]
    at: Mapped[timestamp]
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(64), index=True)
    reason: Mapped[opt_text]
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[sha256_hex]
    entry_hash: Mapped[sha256_hex] = mapped_column(unique=True)


# --- transcription (issue 6; DESIGN.md "Transcription") ----------------------------------------

TURNS_FTS = "turns_fts"  # SQLite FTS5 index over turns.text, created by migration 0004


class Job(Base):
    """One recording's transcription job, claimed under a lease (``recorder.transcribe.jobs``).

    ``state``: queued | running | done | failed. A running job whose ``lease_until`` has passed
    belongs to a worker that died; any worker may claim it again.
    """

    __tablename__ = "jobs"

    session_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[opt_text]
    created_at: Mapped[timestamp]
    updated_at: Mapped[timestamp]


class WorkerLock(Base):
    """A named exclusive lease (SQLite: one transcription worker at a time)."""

    __tablename__ = "worker_locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    lease_until: Mapped[timestamp]


class Transcript(Base):
    """The redacted transcript of one recording; one row per session, written once."""

    __tablename__ = "transcripts"

    session_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(32))
    redaction: Mapped[str] = mapped_column(String(16))  # policy: strict | balanced
    pulse_request_ids: Mapped[list[str]] = mapped_column(JSON)
    pulse_requests: Mapped[int] = mapped_column(Integer)
    audio_seconds_billed: Mapped[float] = mapped_column(Float)
    created_at: Mapped[timestamp]


class TranscriptWord(Base):
    """One word on the recording timeline; ``text`` is redacted (a placeholder when ``redacted``)."""

    __tablename__ = "transcript_words"
    __table_args__ = (UniqueConstraint("session_id", "seq"),)

    id: Mapped[intpk]
    session_id: Mapped[session_fk]
    seq: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    start_ms: Mapped[float] = mapped_column(Float)
    end_ms: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    redacted: Mapped[bool] = mapped_column(Boolean)


class RedactionSpan(Base):
    """A redacted stretch of one channel: type and times, never the value."""

    __tablename__ = "redaction_spans"
    __table_args__ = (UniqueConstraint("session_id", "seq"),)

    id: Mapped[intpk]
    session_id: Mapped[session_fk]
    seq: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(32))
    start_ms: Mapped[float] = mapped_column(Float)
    end_ms: Mapped[float] = mapped_column(Float)


class TranscriptTurn(Base):
    """Consecutive words of one speaker (caller | agent), redacted; what search looks through."""

    __tablename__ = "turns"
    __table_args__ = (
        UniqueConstraint("session_id", "seq"),
        # PostgreSQL full-text search; SQLite uses the FTS5 table TURNS_FTS instead.
        Index(
            "ix_turns_text_tsv",
            func.to_tsvector(literal_column("'simple'"), literal_column("text")),
            postgresql_using="gin",
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[intpk]
    session_id: Mapped[session_fk]
    seq: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(16))
    start_ms: Mapped[float] = mapped_column(Float)
    end_ms: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)


def include_object(dialect: str) -> Any:
    """An Alembic ``include_object`` hook: what autogenerate compares on ``dialect``.

    SQLite's FTS5 table and its shadow tables are created by hand in migration 0004, and the
    PostgreSQL-only GIN index does not exist there.
    """

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table" and name is not None and name.startswith(TURNS_FTS):
            return False
        if type_ == "index" and name == "ix_turns_text_tsv" and dialect != "postgresql":
            return False
        return True

    return include
