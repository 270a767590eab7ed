"""Typed SQLAlchemy 2 models of what crossed the wire.

Rows are written once per call, at finalization, never on the forwarding path, so a database
outage delays rows but loses nothing. Times inside a call are milliseconds since the proxy
accepted the session.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
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
    literal_column,
    text,
)
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


METADATA_INDEXED = ("agent_id", "tenant")  # call metadata keys with an expression index


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CallSession(Base):
    """One client connection through the proxy, i.e. one Hydra session."""

    __tablename__ = "sessions"
    __table_args__ = tuple(
        # The console filters calls by agent and tenant (PostgreSQL; migration 0007).
        Index(f"ix_sessions_{key}", literal_column("metadata").op("->>")(literal_column(f"'{key}'")))
        .ddl_if(dialect="postgresql")
        for key in METADATA_INDEXED
    )

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

    @property
    def tenant(self) -> str | None:
        """The ``X-Recorder-Tenant`` the client sent, if any."""
        return self.call_metadata.get("tenant") or None

    @property
    def agent(self) -> str | None:
        """The ``X-Recorder-Agent-Id`` the client sent, if any."""
        return self.call_metadata.get("agent_id") or None


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
    """The archive of one call on disk.

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


# --- transcription -----------------------------------------------------------------------------

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
        # PostgreSQL full-text search (a GIN index, made by migration 0004); SQLite uses the
        # FTS5 table TURNS_FTS instead. Written as text and without postgresql_using: either
        # func.to_tsvector() or a postgresql_* argument imports the PostgreSQL dialect, a cost
        # every command that reads the database would pay (Alembic compares neither).
        Index("ix_turns_text_tsv", text("to_tsvector('simple', text)")).ddl_if(dialect="postgresql"),
    )

    id: Mapped[intpk]
    session_id: Mapped[session_fk]
    seq: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(16))
    start_ms: Mapped[float] = mapped_column(Float)
    end_ms: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)


class ConsoleUser(Base):
    """Someone who may sign in to the web console (``recorder users``); an argon2id hash only."""

    __tablename__ = "console_users"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # auditor | supervisor
    password_hash: Mapped[str] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[timestamp]
    updated_at: Mapped[timestamp]


def include_object(dialect: str) -> Any:
    """An Alembic ``include_object`` hook: what autogenerate compares on ``dialect``.

    SQLite's FTS5 table and its shadow tables are created by hand in migration 0004, and the
    PostgreSQL-only indexes (the GIN index, the call-metadata expression indexes) do not exist there.
    """

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table" and name is not None and name.startswith(TURNS_FTS):
            return False
        pg_only = ("ix_turns_text_tsv", *(f"ix_sessions_{key}" for key in METADATA_INDEXED))
        if type_ == "index" and name in pg_only and dialect != "postgresql":
            return False
        return True

    return include


# --- the record's life: legal holds and the per-call usage rollup --------------------------------


class LegalHold(Base):
    """A legal hold: while ``released_at`` is null no command deletes or erases what it covers.

    ``scope``: ``session`` and ``query`` holds cover the calls listed in ``held_sessions`` (a
    query hold lists the calls its transcript search matched when it was placed); a ``tenant``
    hold covers every call of ``tenant``, present and future.
    """

    __tablename__ = "legal_holds"

    id: Mapped[intpk]
    scope: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[opt_str]
    query: Mapped[opt_text]
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[timestamp]
    released_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    released_by: Mapped[opt_str]
    release_reason: Mapped[opt_text]


class HeldSession(Base):
    """One call covered by a session or query hold. No foreign key to sessions: a hold may name
    a call whose rows are not written yet, and it must outlive anything done to the call."""

    __tablename__ = "held_sessions"

    hold_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("legal_holds.id", ondelete="CASCADE"), primary_key=True
    )
    session_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class CallUsage(Base):
    """One call's usage, rolled up once so the usage report aggregates one narrow row per call.

    Written with the call's rows (``db.usage``); ``day`` is the call's start date in UTC. The
    ``flag_*`` columns are 0/1 so that SUM counts them on every engine.
    """

    __tablename__ = "call_usage"

    session_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    tenant: Mapped[opt_str]
    agent: Mapped[opt_str]
    model: Mapped[opt_str]
    caller_audio_ms: Mapped[float] = mapped_column(Float)
    agent_audio_ms_received: Mapped[float] = mapped_column(Float)
    agent_audio_ms_heard: Mapped[float] = mapped_column(Float)
    responses: Mapped[int] = mapped_column(Integer)
    completed: Mapped[int] = mapped_column(Integer)
    cancelled: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    total_tokens: Mapped[int] = mapped_column(BigInteger)
    tool_calls: Mapped[int] = mapped_column(Integer)
    flag_usage_missing: Mapped[int] = mapped_column(Integer)
    flag_tokens_implausible: Mapped[int] = mapped_column(Integer)
    flag_recording_incomplete: Mapped[int] = mapped_column(Integer)
