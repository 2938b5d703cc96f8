"""baseline: the schema of labelsieve 0.1.0

Revision ID: 0001
Revises: nothing (first revision)
Create Date: 2026-12-02 00:51:34.039450
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('annotation',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('task_id', sa.BigInteger(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('annotator', sa.Integer(), nullable=True),
    sa.Column('lead_time', sa.Float(), nullable=True),
    sa.Column('was_cancelled', sa.Boolean(), nullable=False),
    sa.Column('ground_truth', sa.Boolean(), nullable=False),
    sa.Column('predicted_labels', sa.JSON(), nullable=True),
    sa.Column('predicted_version', sa.String(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('annotation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_annotation_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_annotation_task_id'), ['task_id'], unique=False)

    op.create_table('modelversion',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.String(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('learner', sa.String(), nullable=False),
    sa.Column('learner_params', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('n_train', sa.Integer(), nullable=False),
    sa.Column('class_counts', sa.JSON(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('artifact', sa.String(), nullable=False),
    sa.Column('train_seconds', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('project_id', 'version')
    )
    with op.batch_alter_table('modelversion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_modelversion_project_id'), ['project_id'], unique=False)

    op.create_table('prediction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('task_id', sa.BigInteger(), nullable=False),
    sa.Column('model_version', sa.String(), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=True),
    sa.Column('utility', sa.Float(), nullable=True),
    sa.Column('cluster', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('task_id', 'model_version')
    )
    with op.batch_alter_table('prediction', schema=None) as batch_op:
        batch_op.create_index('ix_prediction_project_version', ['project_id', 'model_version'], unique=False)

    op.create_table('project',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('title', sa.String(), nullable=False),
    sa.Column('label_config', sa.Text(), nullable=False),
    sa.Column('model_version', sa.String(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('ls_hostname', sa.String(), nullable=False),
    sa.Column('ls_access_token', sa.String(), nullable=False),
    sa.Column('annotations_since_train', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('queryround',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('model_version', sa.String(), nullable=False),
    sa.Column('strategy', sa.String(), nullable=False),
    sa.Column('strategy_params', sa.JSON(), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('n_pool', sa.Integer(), nullable=False),
    sa.Column('n_labeled', sa.Integer(), nullable=False),
    sa.Column('batch', sa.JSON(), nullable=False),
    sa.Column('select_seconds', sa.Float(), nullable=False),
    sa.Column('pushed', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('queryround', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_queryround_project_id'), ['project_id'], unique=False)

    op.create_table('syntheticsample',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('model_version', sa.String(), nullable=False),
    sa.Column('label', sa.String(), nullable=False),
    sa.Column('synthesizer', sa.String(), nullable=False),
    sa.Column('quality', sa.Float(), nullable=True),
    sa.Column('artifact', sa.String(), nullable=False),
    sa.Column('synthetic', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('syntheticsample', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_syntheticsample_project_id'), ['project_id'], unique=False)

    op.create_table('task',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_project_id'), ['project_id'], unique=False)

    op.create_table('webhookevent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('action', sa.String(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('webhookevent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhookevent_project_id'), ['project_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('webhookevent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhookevent_project_id'))

    op.drop_table('webhookevent')
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_project_id'))

    op.drop_table('task')
    with op.batch_alter_table('syntheticsample', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_syntheticsample_project_id'))

    op.drop_table('syntheticsample')
    with op.batch_alter_table('queryround', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_queryround_project_id'))

    op.drop_table('queryround')
    op.drop_table('project')
    with op.batch_alter_table('prediction', schema=None) as batch_op:
        batch_op.drop_index('ix_prediction_project_version')

    op.drop_table('prediction')
    with op.batch_alter_table('modelversion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_modelversion_project_id'))

    op.drop_table('modelversion')
    with op.batch_alter_table('annotation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_annotation_task_id'))
        batch_op.drop_index(batch_op.f('ix_annotation_project_id'))

    op.drop_table('annotation')
