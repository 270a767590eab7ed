"""legal holds, the calls they cover, and the per-call usage rollup

Calls archived before this revision get their usage row the first time `recorder usage` runs
(``db.usage.backfill``), so nothing is computed here.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 07:39:21.706515
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('legal_holds',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('tenant', sa.String(length=255), nullable=True),
    sa.Column('query', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('actor', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('released_by', sa.String(length=255), nullable=True),
    sa.Column('release_reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_holds'))
    )
    op.create_table('call_usage',
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('tenant', sa.String(length=255), nullable=True),
    sa.Column('agent', sa.String(length=255), nullable=True),
    sa.Column('model', sa.String(length=255), nullable=True),
    sa.Column('caller_audio_ms', sa.Float(), nullable=False),
    sa.Column('agent_audio_ms_received', sa.Float(), nullable=False),
    sa.Column('agent_audio_ms_heard', sa.Float(), nullable=False),
    sa.Column('responses', sa.Integer(), nullable=False),
    sa.Column('completed', sa.Integer(), nullable=False),
    sa.Column('cancelled', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('input_tokens', sa.BigInteger(), nullable=False),
    sa.Column('output_tokens', sa.BigInteger(), nullable=False),
    sa.Column('total_tokens', sa.BigInteger(), nullable=False),
    sa.Column('tool_calls', sa.Integer(), nullable=False),
    sa.Column('flag_usage_missing', sa.Integer(), nullable=False),
    sa.Column('flag_tokens_implausible', sa.Integer(), nullable=False),
    sa.Column('flag_recording_incomplete', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_call_usage_session_id_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', name=op.f('pk_call_usage'))
    )
    with op.batch_alter_table('call_usage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_usage_day'), ['day'], unique=False)

    op.create_table('held_sessions',
    sa.Column('hold_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['hold_id'], ['legal_holds.id'], name=op.f('fk_held_sessions_hold_id_legal_holds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('hold_id', 'session_id', name=op.f('pk_held_sessions'))
    )
    with op.batch_alter_table('held_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_held_sessions_session_id'), ['session_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('held_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_held_sessions_session_id'))

    op.drop_table('held_sessions')
    with op.batch_alter_table('call_usage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_usage_day'))

    op.drop_table('call_usage')
    op.drop_table('legal_holds')
