"""console users: who may sign in to the web console, with which role; on PostgreSQL,
expression indexes on the call metadata the console filters by (agent_id, tenant)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 07:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('console_users',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_console_users'))
    )
    if op.get_bind().dialect.name == "postgresql":  # the console's agent and tenant filters
        for key in ("agent_id", "tenant"):
            op.execute(f"CREATE INDEX ix_sessions_{key} ON sessions ((metadata ->> '{key}'))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for key in ("agent_id", "tenant"):
            op.execute(f"DROP INDEX ix_sessions_{key}")
    op.drop_table('console_users')
