"""observer state as rows: one row per observing project (read position, last round) and one per observed task

Before this revision each project's state was one JSON file under ``data_dir/observer``, rewritten whole when a
read changed anything. Those files are not imported: the first round after the upgrade reads the project once
(the read state is a cache of Label Studio), then rounds are incremental again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 22:12:02.000816
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'observedproject',
        sa.Column('project_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('max_id', sa.BigInteger(), nullable=False),
        sa.Column('watermark', sa.String(), nullable=True),
        sa.Column('settled', sa.Boolean(), nullable=False),
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('pushed_key', sa.String(), nullable=True),
        sa.Column('status', sa.JSON(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('project_id'),
    )
    op.create_table(
        'observedtask',
        sa.Column('project_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('task_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('labeled', sa.Boolean(), nullable=False),
        sa.Column('versions', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('project_id', 'task_id'),
    )


def downgrade() -> None:
    op.drop_table('observedtask')
    op.drop_table('observedproject')
