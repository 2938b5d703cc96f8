"""query round audit: the task ids placed in a round's batch at random (``audit_share``), for unbiased estimates

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 02:23:10.753013
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
    with op.batch_alter_table('queryround', schema=None) as batch_op:
        # rounds stored before this revision had no audit: an empty list
        batch_op.add_column(sa.Column('audit', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))



def downgrade() -> None:
    with op.batch_alter_table('queryround', schema=None) as batch_op:
        batch_op.drop_column('audit')

