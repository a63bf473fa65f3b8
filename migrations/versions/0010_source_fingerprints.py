"""Store on each synced row the fingerprint (a 64-bit hash) of the source record that last loaded it.

A re-sync skips records whose fingerprint matches, so an unchanged export
is read and compared, not typed, checked and upserted again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 01:40:00+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SYNCED_TABLES = (
    "warehouses",
    "customers",
    "suppliers",
    "items",
    "units",
    "supplier_items",
    "substitutes",
    "transfer_lanes",
    "inventory",
    "sales_order_lines",
    "purchase_order_lines",
    "receipts",
    "supplier_events",
    "shipments",
)


def upgrade() -> None:
    for table in SYNCED_TABLES:
        op.add_column(table, sa.Column("source_fingerprint", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    for table in SYNCED_TABLES:
        op.drop_column(table, "source_fingerprint")
