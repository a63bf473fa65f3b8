"""Add customer_facts: the recent fill rate and late share each full exposure recompute stores.

Revision ID: 0008
Revises: 0003
Create Date: 2026-12-04 22:40:00+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_facts",
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("reference_date", sa.Date(), nullable=False),
        sa.Column("recent_fill_rate", sa.Float(precision=53), nullable=True),
        sa.Column("late_share", sa.Float(precision=53), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_customer_facts_customer_id_customers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_facts")),
    )


def downgrade() -> None:
    op.drop_table("customer_facts")
