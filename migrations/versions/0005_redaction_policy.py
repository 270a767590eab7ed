"""transcripts.redaction: the redaction policy each transcript was made under

Transcripts stored before this revision were redacted by an engine without policies; they are
recorded as 'balanced' (only detected values were redacted), which is what that engine did.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transcripts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("redaction", sa.String(length=16), nullable=False,
                                      server_default="balanced"))
    with op.batch_alter_table("transcripts", schema=None) as batch_op:
        batch_op.alter_column("redaction", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("transcripts", schema=None) as batch_op:
        batch_op.drop_column("redaction")
