"""Widen eta_forecasts.model, which now names lines dated from the tail of late deliveries.

A name such as prophet_linear_yearly_lead_time_given_late has 42 characters.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 02:10:00+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("eta_forecasts", "model", type_=sa.String(64), existing_type=sa.String(32), existing_nullable=False)


def downgrade() -> None:
    op.alter_column("eta_forecasts", "model", type_=sa.String(32), existing_type=sa.String(64), existing_nullable=False)
