"""ScreeningRun: each 智能监控 screening run (`yibao screen run`) with its rules, digests and per-institution risk;
none at first.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("screeningrun",
                    sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.Column("ran_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
                    sa.Column("rules", sa.JSON(), nullable=False),
                    sa.Column("input_digest", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.Column("result_digest", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.Column("hits", sa.Integer(), nullable=False),
                    sa.Column("risk", sa.JSON(), nullable=False),
                    sa.PrimaryKeyConstraint("id"))
    with op.batch_alter_table("screeningrun", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_screeningrun_ran_at"), ["ran_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("screeningrun", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_screeningrun_ran_at"))
    op.drop_table("screeningrun")
