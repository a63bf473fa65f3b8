"""Weekly KPIs: compute a week's figures, store them in kpi_snapshots, and read the trend back.

snapshot_weekly_kpis is the use case and kpi_snapshot_job its worker job,
which runs on Monday at 06:00 in the business time zone and snapshots the
week that just ended. The definitions are in services/kpis/definitions.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Connection, Engine, delete, insert, select, text

from services.auth.roles import Actor, Role, require_role
from services.db import schema
from services.kpis.definitions import (
    ALL_SCOPE,
    BACKLOG_AGING,
    BACKLOG_BUCKETS,
    BACKLOG_OLD_DAYS,
    EXCEPTION_CYCLE_TIME,
    FILL_RATE,
    KPIS,
    KPIS_BY_KEY,
    OTIF,
    PROMISE_ACCURACY_CURRENT,
    PROMISE_ACCURACY_FIRST,
    PROMISE_STABILITY,
    RECOMMENDATION_ACCEPTANCE,
    REVENUE_AT_RISK,
    KpiDefinition,
)
from services.settings import Settings

logger = logging.getLogger(__name__)

KPI_SNAPSHOT_JOB_NAME = "kpi_snapshot"
KPI_READERS = (Role.EXECUTIVE, Role.OPERATIONS_LEADER, Role.ADMINISTRATOR)
TREND_WEEKS = 12

# Per order line with a requested, first or current promised date in the
# week: units shipped by the requested date, and the date its shipments
# reached the net ordered quantity. Shipments on one date are summed
# together, because the window's default frame includes peers.
LINE_DELIVERY_FIGURES = text(
    """
    with due as (
        select id, requested_date, first_promised_date, current_promised_date,
               ordered_qty - cancelled_qty as net_qty
        from sales_order_lines
        where ordered_qty - cancelled_qty > 0
          and (requested_date >= :week_start and requested_date < :week_end
               or first_promised_date >= :week_start and first_promised_date < :week_end
               or current_promised_date >= :week_start and current_promised_date < :week_end)
    ),
    shipped as (
        select due.id, shipments.ship_date, shipments.qty, due.requested_date, due.net_qty,
               sum(shipments.qty) over (partition by due.id order by shipments.ship_date) as shipped_to_date
        from due
        join shipments on shipments.so_line_id = due.id
        where shipments.kind = 'customer' and shipments.status <> 'cancelled'
    ),
    per_line as (
        select id,
               sum(qty) filter (where ship_date <= requested_date) as shipped_by_request,
               min(ship_date) filter (where shipped_to_date >= net_qty) as completed_on
        from shipped
        group by id
    ),
    lines as (
        select due.*, coalesce(per_line.shipped_by_request, 0) as shipped_by_request, per_line.completed_on,
               due.requested_date >= :week_start and due.requested_date < :week_end as requested_in_week,
               due.first_promised_date >= :week_start and due.first_promised_date < :week_end as first_in_week,
               due.current_promised_date >= :week_start and due.current_promised_date < :week_end as current_in_week
        from due
        left join per_line using (id)
    )
    select
        coalesce(sum(least(shipped_by_request, net_qty)) filter (where requested_in_week), 0) as fill_numerator,
        coalesce(sum(net_qty) filter (where requested_in_week), 0) as fill_denominator,
        count(*) filter (where requested_in_week and completed_on <= requested_date) as otif_numerator,
        count(*) filter (where requested_in_week) as otif_denominator,
        count(*) filter (where first_in_week and completed_on <= first_promised_date) as first_numerator,
        count(*) filter (where first_in_week) as first_denominator,
        count(*) filter (where current_in_week and completed_on <= current_promised_date) as current_numerator,
        count(*) filter (where current_in_week) as current_denominator,
        count(*) filter (where current_in_week and first_promised_date = current_promised_date) as stable_numerator,
        count(*) filter (where current_in_week and first_promised_date is not null) as stable_denominator
    from lines
    """
)

# Open backlog lines by age on the week's last day; lines ordered after it
# were not in that week's backlog.
BACKLOG_AGES = text(
    """
    select :last_day - order_date as age_days, count(*) as line_count
    from sales_order_lines
    where status = 'open' and ordered_qty - shipped_qty - cancelled_qty > 0 and order_date <= :last_day
    group by 1
    """
)

REVENUE_AT_RISK_BY_CURRENCY = text(
    """
    select currency, sum(revenue_at_risk) as revenue_at_risk, count(*) as line_count
    from exposure
    where status <> 'on_track'
    group by currency
    order by currency
    """
)

DECISION_FIGURES = text(
    """
    select count(*) as decided,
           count(*) filter (where decisions.decision = 'approve') as approved,
           coalesce(sum(extract(epoch from decisions.decided_at - recommendations.created_at) / 3600), 0)
               as cycle_hours
    from decisions
    join recommendations on recommendations.id = decisions.recommendation_id
    where (decisions.decided_at at time zone :time_zone)::date >= :week_start
      and (decisions.decided_at at time zone :time_zone)::date < :week_end
    """
)

# The weeks count back from the latest snapshot week, so a worker that
# stopped for a while still leaves a trend to show.
SNAPSHOTS_OF_LATEST_WEEKS = text(
    """
    select week_start, kpi, scope, value, numerator, denominator, taken_at
    from kpi_snapshots
    where week_start > (select max(week_start) from kpi_snapshots) - 7 * cast(:weeks as integer)
    order by week_start, kpi, scope
    """
)

SNAPSHOT_COLUMNS = ["week_start", "kpi", "scope", "value", "numerator", "denominator", "taken_at"]


class InvalidWeek(ValueError):
    """A week start that is not a Monday."""

    def __init__(self, week_start: date):
        self.week_start = week_start
        monday = week_start - timedelta(days=week_start.weekday())
        super().__init__(
            f"week start {week_start.isoformat()} is a {week_start.strftime('%A')}; weeks start on Monday, "
            f"so use {monday.isoformat()}"
        )


@dataclass(frozen=True)
class KpiValue:
    """One KPI figure of one week and scope; value is None when the denominator is zero."""

    kpi: str
    scope: str
    value: Decimal | None
    numerator: Decimal
    denominator: Decimal


@dataclass(frozen=True)
class KpiComparison:
    """A KPI's headline value this week and last week, with its definition."""

    definition: KpiDefinition
    scope: str
    this_week: Decimal | None
    last_week: Decimal | None

    @property
    def change(self) -> Decimal | None:
        if self.this_week is None or self.last_week is None:
            return None
        return self.this_week - self.last_week


@dataclass(frozen=True)
class SnapshotResult:
    """The result of one snapshot: its week, the KPI rows written and whether state KPIs were measured."""

    week_start: date
    rows_written: int
    state_measured: bool


def week_start_of(day: date) -> date:
    """Return the Monday of the week that contains day."""
    return day - timedelta(days=day.weekday())


def last_completed_week(now: datetime, time_zone: str) -> date:
    """Return the Monday of the last full week before now in the business time zone."""
    today = now.astimezone(ZoneInfo(time_zone)).date()
    return week_start_of(today) - timedelta(days=7)


def _ratio(kpi: str, numerator, denominator, scope: str = ALL_SCOPE) -> KpiValue:
    """Build a KPI value as numerator over denominator, with value None over an empty denominator."""
    numerator, denominator = Decimal(numerator), Decimal(denominator)
    value = numerator / denominator if denominator else None
    return KpiValue(kpi, scope, value, numerator, denominator)


# --- Computing a week --------------------------------------------------------


def compute_delivery_kpis(connection: Connection, week_start: date) -> list[KpiValue]:
    """Fill rate, OTIF, promise accuracy against the first and current promise, and promise stability."""
    row = connection.execute(
        LINE_DELIVERY_FIGURES, {"week_start": week_start, "week_end": week_start + timedelta(days=7)}
    ).mappings().one()
    return [
        _ratio(FILL_RATE.key, row["fill_numerator"], row["fill_denominator"]),
        _ratio(OTIF.key, row["otif_numerator"], row["otif_denominator"]),
        _ratio(PROMISE_ACCURACY_FIRST.key, row["first_numerator"], row["first_denominator"]),
        _ratio(PROMISE_ACCURACY_CURRENT.key, row["current_numerator"], row["current_denominator"]),
        _ratio(PROMISE_STABILITY.key, row["stable_numerator"], row["stable_denominator"]),
    ]


def compute_decision_kpis(connection: Connection, week_start: date, time_zone: str) -> list[KpiValue]:
    """Exception cycle time and recommendation acceptance over the decisions made in the week."""
    row = connection.execute(
        DECISION_FIGURES,
        {"week_start": week_start, "week_end": week_start + timedelta(days=7), "time_zone": time_zone},
    ).mappings().one()
    return [
        _ratio(EXCEPTION_CYCLE_TIME.key, row["cycle_hours"], row["decided"]),
        _ratio(RECOMMENDATION_ACCEPTANCE.key, row["approved"], row["decided"]),
    ]


def compute_state_kpis(connection: Connection, week_start: date) -> list[KpiValue]:
    """Backlog aging (headline and age bands) on the week's last day, and revenue at risk by currency."""
    last_day = week_start + timedelta(days=6)
    ages = connection.execute(BACKLOG_AGES, {"last_day": last_day}).all()
    total = sum(row.line_count for row in ages)
    values = [_ratio(BACKLOG_AGING.key, sum(row.line_count for row in ages if row.age_days > BACKLOG_OLD_DAYS), total)]
    for scope, lowest, highest in BACKLOG_BUCKETS:
        in_band = sum(
            row.line_count for row in ages if row.age_days >= lowest and (highest is None or row.age_days <= highest)
        )
        values.append(_ratio(BACKLOG_AGING.key, in_band, total, scope))

    for row in connection.execute(REVENUE_AT_RISK_BY_CURRENCY):
        values.append(
            KpiValue(REVENUE_AT_RISK.key, row.currency, row.revenue_at_risk, row.revenue_at_risk, Decimal(row.line_count))
        )
    return values


def compute_week_kpis(connection: Connection, week_start: date, time_zone: str, *, include_state: bool) -> list[KpiValue]:
    """Compute every KPI of the week; state KPIs only when include_state is set."""
    if week_start.weekday() != 0:
        raise InvalidWeek(week_start)
    values = compute_delivery_kpis(connection, week_start) + compute_decision_kpis(connection, week_start, time_zone)
    if include_state:
        values += compute_state_kpis(connection, week_start)
    return values


# --- The snapshot use case and its job ---------------------------------------


def snapshot_weekly_kpis(engine: Engine, week_start: date, *, time_zone: str, now: datetime | None = None) -> SnapshotResult:
    """Compute the week's KPIs and replace the week's stored rows of those KPIs, in one transaction.

    State KPIs (backlog aging, revenue at risk) describe the tables as they
    are now. So they are measured only for the last completed week before
    now, and an earlier week keeps the state rows it has. Raises
    InvalidWeek when week_start is not a Monday.
    """
    now = now or datetime.now(timezone.utc)
    include_state = week_start == last_completed_week(now, time_zone)

    with engine.begin() as connection:
        values = compute_week_kpis(connection, week_start, time_zone, include_state=include_state)

        written_kpis = sorted({value.kpi for value in values} | _always_replaced(include_state))
        connection.execute(
            delete(schema.kpi_snapshots).where(
                schema.kpi_snapshots.c.week_start == week_start, schema.kpi_snapshots.c.kpi.in_(written_kpis)
            )
        )
        if values:
            connection.execute(insert(schema.kpi_snapshots), [_snapshot_row(week_start, value, now) for value in values])

    logger.info(
        "kpi snapshot of week %s: %d rows written (state KPIs %s)",
        week_start, len(values), "measured" if include_state else "kept",
    )
    return SnapshotResult(week_start, len(values), include_state)


def _always_replaced(include_state: bool) -> set[str]:
    # Revenue at risk writes one row per currency, and none when nothing is
    # exposed, so its old rows are deleted even when no new row replaces them.
    return {REVENUE_AT_RISK.key, BACKLOG_AGING.key} if include_state else set()


def _snapshot_row(week_start: date, value: KpiValue, taken_at: datetime) -> dict:
    return {
        "week_start": week_start,
        "kpi": value.kpi,
        "scope": value.scope,
        "value": value.value,
        "numerator": value.numerator,
        "denominator": value.denominator,
        "taken_at": taken_at,
    }


def _snapshot_now(settings: Settings) -> datetime:
    """Return the instant a snapshot job runs at: now, or noon of the business date a replay runs at."""
    if settings.as_of is not None:
        return datetime.combine(settings.as_of, time(12), ZoneInfo(settings.business_timezone))
    return datetime.now(timezone.utc)


def weekly_snapshot_missing(engine: Engine, settings: Settings) -> bool:
    """Return True when the week that ended before now has no KPI snapshot, as after a worker was down on Monday."""
    week_start = last_completed_week(_snapshot_now(settings), settings.business_timezone)
    with engine.connect() as connection:
        stored_week = connection.execute(
            select(schema.kpi_snapshots.c.week_start).where(schema.kpi_snapshots.c.week_start == week_start).limit(1)
        ).first()
    return stored_week is None


def kpi_snapshot_job(engine: Engine, job_run_id: int, settings: Settings) -> dict[str, int]:
    """Worker job: snapshot the week that ended before now in the business time zone."""
    now = _snapshot_now(settings)
    week_start = last_completed_week(now, settings.business_timezone)
    logger.info("kpi snapshot job run %d: week %s", job_run_id, week_start)
    result = snapshot_weekly_kpis(engine, week_start, time_zone=settings.business_timezone, now=now)
    return {"rows_written": result.rows_written, "state_measured": int(result.state_measured)}


# --- Reading the snapshots ---------------------------------------------------


def get_kpi_snapshots(engine: Engine, actor: Actor, *, weeks: int = TREND_WEEKS) -> pd.DataFrame:
    """Return the stored KPI rows of the `weeks` weeks ending with the latest snapshot week, oldest first."""
    require_role(actor, "read the weekly KPIs", *KPI_READERS)
    if weeks < 1:
        raise ValueError(f"weeks {weeks} is below 1; ask for at least one week")
    with engine.connect() as connection:
        rows = connection.execute(SNAPSHOTS_OF_LATEST_WEEKS, {"weeks": weeks}).mappings().all()

    frame = pd.DataFrame([dict(row) for row in rows], columns=SNAPSHOT_COLUMNS)
    frame["week_start"] = pd.to_datetime(frame["week_start"])
    return frame


def compare_latest_weeks(snapshots: pd.DataFrame) -> list[KpiComparison]:
    """Return each KPI's headline in the latest snapshot week against the week before it.

    The headline scope is 'all', except revenue at risk, which has one
    headline per currency.
    """
    weeks = sorted(snapshots["week_start"].unique())
    latest = weeks[-1] if weeks else None
    previous = weeks[-2] if len(weeks) > 1 else None
    comparisons = []
    for definition in KPIS:
        rows = snapshots[snapshots["kpi"] == definition.key]
        scopes = sorted(set(rows["scope"])) if definition.key == REVENUE_AT_RISK.key else [ALL_SCOPE]
        for scope in scopes:
            comparisons.append(
                KpiComparison(
                    definition, scope, _value_in(rows, latest, scope), _value_in(rows, previous, scope)
                )
            )
    return comparisons


def _value_in(rows: pd.DataFrame, week, scope: str) -> Decimal | None:
    if week is None:
        return None
    match = rows[(rows["week_start"] == week) & (rows["scope"] == scope)]
    if match.empty or match.iloc[0]["value"] is None or pd.isna(match.iloc[0]["value"]):
        return None
    return Decimal(match.iloc[0]["value"])


def latest_snapshot_week(snapshots: pd.DataFrame) -> date | None:
    if snapshots.empty:
        return None
    return snapshots["week_start"].max().date()


def kpi_trend(snapshots: pd.DataFrame, kpi: str, scope: str = ALL_SCOPE) -> pd.DataFrame:
    """Return week_start and value of one KPI and scope, oldest week first."""
    if kpi not in KPIS_BY_KEY:
        raise ValueError(f"unknown KPI {kpi!r}; use one of {', '.join(KPIS_BY_KEY)}")
    rows = snapshots[(snapshots["kpi"] == kpi) & (snapshots["scope"] == scope)]
    trend = rows[["week_start", "value", "numerator", "denominator"]].copy()
    for column in ("value", "numerator", "denominator"):
        trend[column] = trend[column].astype("float64")
    return trend.reset_index(drop=True)
