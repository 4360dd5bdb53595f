"""BureauSetting: the bureau's own settings by key (the issuing agency's name, `agency_name`); none at first.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("bureausetting",
                    sa.Column("key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.Column("value", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.PrimaryKeyConstraint("key"))


def downgrade() -> None:
    op.drop_table("bureausetting")
