"""recordings and ledger: one archive per call, and the hash chain over its manifests

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 12:43:23.907994
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ledger',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('manifest_version', sa.Integer(), nullable=False),
    sa.Column('manifest_sha256', sa.String(length=64), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_ledger')),
    sa.UniqueConstraint('entry_hash', name=op.f('uq_ledger_entry_hash')),
    sa.UniqueConstraint('session_id', 'manifest_version', name=op.f('uq_ledger_session_id'))
    )
    op.create_table('recordings',
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('archive_path', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('manifest_version', sa.Integer(), nullable=False),
    sa.Column('manifest_sha256', sa.String(length=64), nullable=False),
    sa.Column('key_ids', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_recordings_session_id_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', name=op.f('pk_recordings'))
    )


def downgrade() -> None:
    op.drop_table('recordings')
    op.drop_table('ledger')
