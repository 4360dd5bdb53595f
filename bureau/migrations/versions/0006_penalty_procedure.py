"""The administrative-penalty procedure: ReviewCase.filed_on (立案, the 90-day clock) and ReviewCase.procedure (the
steps recorded: 立案审批, 法制审核, 集体讨论, 告知, 听证, 送达, 执行, 结案, 归档; empty for cases before this
revision), and CasePayment (payments per payee under a decision; none at first).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reviewcase", schema=None) as batch_op:
        batch_op.add_column(sa.Column("filed_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("procedure", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        batch_op.create_index(batch_op.f("ix_reviewcase_filed_on"), ["filed_on"], unique=False)
    op.create_table("casepayment",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("record_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.Column("payee", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.Column("amount_yuan", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.Column("paid_on", sa.Date(), nullable=False),
                    sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.Column("recorded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
                    sa.PrimaryKeyConstraint("id"))
    with op.batch_alter_table("casepayment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_casepayment_record_id"), ["record_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("casepayment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_casepayment_record_id"))
    op.drop_table("casepayment")
    with op.batch_alter_table("reviewcase", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reviewcase_filed_on"))
        batch_op.drop_column("procedure")
        batch_op.drop_column("filed_on")
