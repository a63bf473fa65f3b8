"""Keep the placeholder values a customer message draft was rendered with.

Revision ID: 0006
Revises: 0008
Create Date: 2026-12-05 10:00:00+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "customer_messages",
        sa.Column(
            "placeholder_values",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("customer_messages", "placeholder_values")
