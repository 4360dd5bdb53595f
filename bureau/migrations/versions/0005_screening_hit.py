"""ScreeningHit: each hit of a screening run, kept so an assignment can carry its institution's 疑点 to the tablet and
the bureau can count the inspectors' verdicts per rule; none at first (runs before this revision kept no hits).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("screeninghit",
                    sa.Column("hit_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.Column("run_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.Column("seq", sa.Integer(), nullable=False),
                    sa.Column("rule", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.Column("settlement_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
                    sa.Column("institution_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.Column("person", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.Column("day", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
                    sa.Column("month", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
                    sa.Column("amount_yuan", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.Column("evidence", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.PrimaryKeyConstraint("hit_id"))
    with op.batch_alter_table("screeninghit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_screeninghit_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_screeninghit_rule"), ["rule"], unique=False)
        batch_op.create_index(batch_op.f("ix_screeninghit_institution_code"), ["institution_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("screeninghit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_screeninghit_institution_code"))
        batch_op.drop_index(batch_op.f("ix_screeninghit_rule"))
        batch_op.drop_index(batch_op.f("ix_screeninghit_run_id"))
    op.drop_table("screeninghit")
