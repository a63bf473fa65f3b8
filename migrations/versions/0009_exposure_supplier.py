"""Store on each exposure row the supplier its line waits for.

Revision ID: 0009
Revises: 0005
Create Date: 2026-12-05 00:05:00+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("exposure", sa.Column("supplier_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_exposure_supplier_id_suppliers"), "exposure", "suppliers", ["supplier_id"], ["id"]
    )
    op.create_index(op.f("ix_exposure_supplier_id"), "exposure", ["supplier_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_exposure_supplier_id"), table_name="exposure")
    op.drop_constraint(op.f("fk_exposure_supplier_id_suppliers"), "exposure", type_="foreignkey")
    op.drop_column("exposure", "supplier_id")
