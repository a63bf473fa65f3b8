"""The Control tower's headline: revenue at risk, late lines, recommendations waiting, the top exposures and stale sources."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd
from sqlalchemy import Engine, text

from services.auth.navigation import CONTROL_TOWER, require_page
from services.auth.roles import Actor
from services.exposure.queries import top_lines_by_priority

# A source whose last successful sync finished longer ago than this is
# shown as stale. NOTE: one limit for every source until the Settings page
# stores a limit per source.
STALE_AFTER_HOURS = 24.0
TOP_EXPOSURES = 5

# A line is late when its P50 falls after its current promise, or after its
# requested date when it has no promise, or when its promise date is today
# or past and stock does not cover it (backordered).
EXPOSURE_HEADLINE = text(
    """
    select currency,
           sum(revenue_at_risk) as revenue_at_risk,
           count(*) filter (
               where coalesce(days_late_promise, days_late_request) > 0 or status = 'backordered'
           ) as lines_late
    from exposure
    group by currency
    order by currency
    """
)

RECOMMENDATIONS_WAITING = text("select count(*) from recommendations where status = 'proposed'")


@dataclass(frozen=True)
class ExposureHeadline:
    """Revenue at risk per currency code, exposed lines that are late, and recommendations waiting for a decision."""

    revenue_at_risk: dict[str, Decimal] = field(default_factory=dict)
    lines_late: int = 0
    recommendations_waiting: int = 0


def get_exposure_headline(engine: Engine, actor: Actor) -> ExposureHeadline:
    """Sum revenue at risk per currency, count late lines and proposed recommendations."""
    require_page(actor, CONTROL_TOWER)
    with engine.connect() as connection:
        rows = connection.execute(EXPOSURE_HEADLINE).mappings().all()
        waiting = connection.execute(RECOMMENDATIONS_WAITING).scalar_one()
    return ExposureHeadline(
        revenue_at_risk={row["currency"]: row["revenue_at_risk"] for row in rows},
        lines_late=sum(row["lines_late"] for row in rows),
        recommendations_waiting=waiting,
    )


def get_top_exposures(engine: Engine, actor: Actor, limit: int = TOP_EXPOSURES) -> pd.DataFrame:
    """Return the exposed lines of highest priority score."""
    require_page(actor, CONTROL_TOWER)
    return top_lines_by_priority(engine, limit=limit)


def stale_sources(freshness: pd.DataFrame, max_age_hours: float = STALE_AFTER_HOURS) -> pd.DataFrame:
    """Return the rows of a source freshness table whose last success is older than the limit or missing."""
    if freshness.empty:
        return freshness
    stale = freshness["age_hours"].isna() | (freshness["age_hours"] > max_age_hours)
    return freshness[stale].reset_index(drop=True)
