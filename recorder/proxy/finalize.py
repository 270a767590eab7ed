"""What happens to a call once both legs are closed: its rows, in one transaction.

Runs in a worker thread, after forwarding has ended. (The encrypted journal and archive of
DESIGN.md take this place in the recording pipeline; until then the rows are the record.)
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from recorder.capture.session import CaptureSession
from recorder.db.engine import transaction
from recorder.db.write import CallMeta, write_call
from recorder.redact import redact_payload


def database_finalizer(engine: Engine) -> Callable[[CallMeta, CaptureSession], None]:
    """Tool-call arguments and outputs are PII (reference §14.5): redacted before storing."""

    def finalize(meta: CallMeta, capture: CaptureSession) -> None:
        with transaction(engine) as session:
            write_call(session, meta, capture.summary(), redact_json=redact_payload)

    return finalize
