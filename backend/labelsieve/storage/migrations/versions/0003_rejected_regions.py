"""rejected regions: the regions of a stored annotation its task type refuses, with the reason

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 19:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'rejectedregion',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.BigInteger(), nullable=False),
        sa.Column('annotation_id', sa.BigInteger(), nullable=False),
        sa.Column('task_id', sa.BigInteger(), nullable=False),
        sa.Column('region', sa.Text(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('rejectedregion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rejectedregion_annotation_id'), ['annotation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rejectedregion_project_id'), ['project_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rejectedregion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rejectedregion_project_id'))
        batch_op.drop_index(batch_op.f('ix_rejectedregion_annotation_id'))
    op.drop_table('rejectedregion')
