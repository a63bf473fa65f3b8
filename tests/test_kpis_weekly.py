"""Weekly KPI definitions with exact figures on hand-built rows, the snapshot use case and its Monday schedule.

The week under test starts on Monday 23 February 2026 and ends on Sunday
1 March 2026. The delivery scene:

| line | ordered, cancelled | requested | first / current promise | shipments | fill | OTIF |
|---|---|---|---|---|---|---|
| A | 10, 0 | 25 Feb | 24 Feb / 25 Feb | 6 on 24 Feb, 4 on 3 Mar | 6 of 10 | miss |
| B | 10, 0 | 26 Feb | 26 Feb / 26 Feb | 4 on 24 Feb, 6 on 26 Feb | 10 of 10 | hit |
| C | 10, 10 (cancelled) | 25 Feb | 25 Feb / 25 Feb | none | out | out |
| D | 10, 4 | 25 Feb | 20 Feb / 25 Feb | 6 on 25 Feb | 6 of 6 | hit |
| E | 5, 0 | 27 Feb | 27 Feb / 27 Feb | 5 and 3 on 26 Feb | 5 of 5 | hit |
| F | 10, 0 (open) | 28 Feb | 27 Feb / 27 Feb | none | 0 of 10 | miss |
| H | 10, 0 | 10 Mar | 24 Feb / 2 Mar | 10 on 25 Feb | out | out |
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from services.auth.roles import Actor, Role, RoleRefused
from services.db import schema
from services.kpis.weekly import (
    InvalidWeek,
    compare_latest_weeks,
    compute_decision_kpis,
    compute_delivery_kpis,
    compute_state_kpis,
    get_kpi_snapshots,
    kpi_snapshot_job,
    last_completed_week,
    snapshot_weekly_kpis,
)
from services.settings import load_settings
from services.worker.scheduler import JOBS, weekly_kpi_trigger
from tests.builders import (
    NOW,
    make_customer,
    make_decision,
    make_exposure,
    make_item,
    make_order_line,
    make_recommendation,
    make_shipment,
    make_warehouse,
)

WEEK = date(2026, 2, 23)
ORDERED_ON = date(2026, 2, 1)
TIME_ZONE = "America/Chicago"
EXECUTIVE = Actor("erin", Role.EXECUTIVE)


def d(day: str) -> date:
    return date.fromisoformat(day)


@pytest.fixture
def shared_parents(engine):
    with engine.begin() as connection:
        return {
            "customer_id": make_customer(connection)["id"],
            "item_id": make_item(connection)["id"],
            "warehouse_id": make_warehouse(connection)["id"],
        }


def line(connection, parents, ordered, requested, first=None, current=None, cancelled=0, shipped=0, status="open", ordered_on=ORDERED_ON):
    return make_order_line(
        connection, **parents, ordered_qty=Decimal(ordered), cancelled_qty=Decimal(cancelled),
        shipped_qty=Decimal(shipped), status=status, order_date=ordered_on, requested_date=d(requested),
        first_promised_date=d(first) if first else None, current_promised_date=d(current) if current else None,
    )["id"]


def ship(connection, parents, so_line_id, qty, on):
    make_shipment(connection, so_line_id=so_line_id, item_id=parents["item_id"], qty=Decimal(qty), ship_date=d(on))


@pytest.fixture
def delivery_scene(engine, shared_parents):
    """Write the lines and shipments of the module docstring."""
    p = shared_parents
    with engine.begin() as c:
        a = line(c, p, 10, "2026-02-25", "2026-02-24", "2026-02-25", shipped=10, status="shipped")
        ship(c, p, a, 6, "2026-02-24")
        ship(c, p, a, 4, "2026-03-03")
        b = line(c, p, 10, "2026-02-26", "2026-02-26", "2026-02-26", shipped=10, status="shipped")
        ship(c, p, b, 4, "2026-02-24")
        ship(c, p, b, 6, "2026-02-26")
        line(c, p, 10, "2026-02-25", "2026-02-25", "2026-02-25", cancelled=10, status="cancelled")
        d_line = line(c, p, 10, "2026-02-25", "2026-02-20", "2026-02-25", cancelled=4, shipped=6, status="shipped")
        ship(c, p, d_line, 6, "2026-02-25")
        e = line(c, p, 5, "2026-02-27", "2026-02-27", "2026-02-27", shipped=5, status="shipped")
        ship(c, p, e, 5, "2026-02-26")
        ship(c, p, e, 3, "2026-02-26")
        line(c, p, 10, "2026-02-28", "2026-02-27", "2026-02-27")
        h = line(c, p, 10, "2026-03-10", "2026-02-24", "2026-03-02", shipped=10, status="shipped")
        ship(c, p, h, 10, "2026-02-25")


def by_key(values):
    return {(value.kpi, value.scope): value for value in values}


# --- Delivery KPIs -------------------------------------------------------------


def test_fill_rate_counts_partial_split_and_cancelled_lines(engine, delivery_scene):
    with engine.connect() as connection:
        values = by_key(compute_delivery_kpis(connection, WEEK))

    fill = values[("fill_rate", "all")]
    # A 6 + B 10 + D 6 + E 5 (of 8 shipped) + F 0, over 10 + 10 + 6 + 5 + 10.
    assert fill.numerator == Decimal(27)
    assert fill.denominator == Decimal(41)
    assert fill.value == Decimal(27) / Decimal(41)


def test_otif_needs_full_quantity_by_request(engine, delivery_scene):
    with engine.connect() as connection:
        values = by_key(compute_delivery_kpis(connection, WEEK))

    otif = values[("otif", "all")]
    assert (otif.numerator, otif.denominator) == (Decimal(3), Decimal(5))
    assert otif.value == Decimal("0.6")


def test_promise_accuracy_first_and_current(engine, delivery_scene):
    with engine.connect() as connection:
        values = by_key(compute_delivery_kpis(connection, WEEK))

    first = values[("promise_accuracy_first", "all")]
    current = values[("promise_accuracy_current", "all")]
    # First promises in the week: A miss, B hit, E hit, F miss, H hit (shipped 25 Feb, promised 24 Feb: miss).
    assert (first.numerator, first.denominator) == (Decimal(2), Decimal(5))
    # Current promises in the week: A miss, B hit, D hit, E hit, F miss.
    assert (current.numerator, current.denominator) == (Decimal(3), Decimal(5))


def test_promise_stability_counts_unchanged_promises(engine, delivery_scene):
    with engine.connect() as connection:
        values = by_key(compute_delivery_kpis(connection, WEEK))

    stability = values[("promise_stability", "all")]
    # Current promises in the week: A and D were re-promised; B, E and F were not.
    assert (stability.numerator, stability.denominator) == (Decimal(3), Decimal(5))


def test_on_time_rate_never_exceeds_full(engine, shared_parents):
    p = shared_parents
    with engine.begin() as c:
        split = line(c, p, 10, "2026-02-26", shipped=10, status="shipped")
        ship(c, p, split, 5, "2026-02-24")
        ship(c, p, split, 5, "2026-02-25")
        over = line(c, p, 5, "2026-02-27", shipped=5, status="shipped")
        ship(c, p, over, 5, "2026-02-26")
        ship(c, p, over, 3, "2026-02-26")

    with engine.connect() as connection:
        values = by_key(compute_delivery_kpis(connection, WEEK))

    # Counting shipments would give 4 on-time shipments over 2 lines, and
    # 18 shipped units over 15 ordered.
    assert values[("otif", "all")].value == Decimal(1)
    assert values[("fill_rate", "all")].numerator == Decimal(15)
    assert values[("fill_rate", "all")].value == Decimal(1)


def test_cancelled_line_leaves_every_delivery_kpi(engine, shared_parents):
    with engine.begin() as c:
        line(c, shared_parents, 10, "2026-02-25", "2026-02-25", "2026-02-25", cancelled=10, status="cancelled")

    with engine.connect() as connection:
        values = compute_delivery_kpis(connection, WEEK)

    assert [(value.kpi, value.denominator, value.value) for value in values] == [
        ("fill_rate", Decimal(0), None),
        ("otif", Decimal(0), None),
        ("promise_accuracy_first", Decimal(0), None),
        ("promise_accuracy_current", Decimal(0), None),
        ("promise_stability", Decimal(0), None),
    ]


def test_cancelled_shipment_does_not_count(engine, shared_parents):
    p = shared_parents
    with engine.begin() as c:
        so_line = line(c, p, 10, "2026-02-25")
        make_shipment(c, so_line_id=so_line, item_id=p["item_id"], qty=Decimal(10), ship_date=d("2026-02-24"), status="cancelled")

    with engine.connect() as connection:
        values = by_key(compute_delivery_kpis(connection, WEEK))

    assert values[("fill_rate", "all")].numerator == Decimal(0)
    assert values[("otif", "all")].numerator == Decimal(0)


# --- Decision KPIs -------------------------------------------------------------


def test_cycle_time_and_acceptance_in_business_week(engine, shared_parents):
    def utc(text):
        return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)

    with engine.begin() as c:
        so_line = line(c, shared_parents, 10, "2026-02-25")
        cases = [
            ("2026-02-23T15:00", "2026-02-24T15:00", "approve"),  # 24 h
            ("2026-02-24T12:00", "2026-02-24T18:00", "reject"),  # 6 h
            ("2026-03-01T21:00", "2026-03-02T03:00", "approve"),  # 6 h, Sunday 21:00 in Chicago
            ("2026-02-22T05:00", "2026-02-23T05:00", "approve"),  # Sunday 23:00 in Chicago: the week before
        ]
        for created, decided, decision in cases:
            recommendation = make_recommendation(c, so_line_id=so_line, created_at=utc(created), data_version="test")
            make_decision(c, recommendation_id=recommendation["id"], decided_at=utc(decided), decision=decision)
        make_recommendation(c, so_line_id=so_line, created_at=utc("2026-02-24T00:00"), data_version="test")  # never decided

    with engine.connect() as connection:
        values = by_key(compute_decision_kpis(connection, WEEK, TIME_ZONE))

    cycle = values[("exception_cycle_time", "all")]
    acceptance = values[("recommendation_acceptance", "all")]
    assert (cycle.numerator, cycle.denominator, cycle.value) == (Decimal(36), Decimal(3), Decimal(12))
    assert (acceptance.numerator, acceptance.denominator) == (Decimal(2), Decimal(3))


# --- State KPIs ----------------------------------------------------------------


def test_backlog_aging_buckets_on_last_day(engine, shared_parents):
    p = shared_parents
    with engine.begin() as c:
        for ordered_on in ("2026-03-01", "2026-02-22", "2026-02-21", "2026-01-30", "2026-01-29", "2025-12-30"):
            line(c, p, 10, "2026-03-20", ordered_on=d(ordered_on))
        line(c, p, 10, "2026-03-20", ordered_on=d("2026-03-02"))  # ordered after the week
        line(c, p, 10, "2026-03-20", shipped=10, ordered_on=d("2025-12-01"))  # open status, nothing left
        line(c, p, 10, "2026-03-20", shipped=10, status="shipped", ordered_on=d("2025-12-01"))

    with engine.connect() as connection:
        values = by_key(compute_state_kpis(connection, WEEK))

    assert (values[("backlog_aging", "all")].numerator, values[("backlog_aging", "all")].denominator) == (2, 6)
    assert {scope: values[("backlog_aging", scope)].numerator for scope in ("0-7 days", "8-30 days", "31-60 days", "61+ days")} == {
        "0-7 days": 2, "8-30 days": 2, "31-60 days": 1, "61+ days": 1,
    }


def test_revenue_at_risk_per_currency_without_on_track(engine, shared_parents):
    p = shared_parents
    with engine.begin() as c:
        make_exposure(c, so_line_id=line(c, p, 10, "2026-03-20"), revenue_at_risk=Decimal("100.00"))
        make_exposure(c, so_line_id=line(c, p, 10, "2026-03-20"), status="at_risk", revenue_at_risk=Decimal("50.50"))
        make_exposure(c, so_line_id=line(c, p, 10, "2026-03-20"), status="on_track", root_cause="none", revenue_at_risk=Decimal("70.00"))
        make_exposure(c, so_line_id=line(c, p, 10, "2026-03-20"), currency="EUR", revenue_at_risk=Decimal("30.00"))

    with engine.connect() as connection:
        values = by_key(compute_state_kpis(connection, WEEK))

    assert values[("revenue_at_risk", "USD")].value == Decimal("150.50")
    assert values[("revenue_at_risk", "USD")].denominator == Decimal(2)
    assert values[("revenue_at_risk", "EUR")].value == Decimal("30.00")


# --- Snapshots -------------------------------------------------------------------


def stored(engine, week=WEEK):
    table = schema.kpi_snapshots
    with engine.connect() as connection:
        rows = connection.execute(select(table).where(table.c.week_start == week).order_by(table.c.kpi, table.c.scope)).all()
    return {(row.kpi, row.scope): row for row in rows}


def test_snapshot_rerun_replaces_the_week(engine, delivery_scene, shared_parents):
    snapshot_weekly_kpis(engine, WEEK, time_zone=TIME_ZONE, now=NOW)
    with engine.begin() as c:
        make_exposure(c, so_line_id=line(c, shared_parents, 10, "2026-03-20"), revenue_at_risk=Decimal("12.00"))
        late = line(c, shared_parents, 10, "2026-02-24")
        ship(c, shared_parents, late, 10, "2026-02-24")

    result = snapshot_weekly_kpis(engine, WEEK, time_zone=TIME_ZONE, now=NOW)

    rows = stored(engine)
    assert result.state_measured is True
    assert result.rows_written == len(rows)
    assert (rows[("otif", "all")].numerator, rows[("otif", "all")].denominator) == (Decimal(4), Decimal(6))
    assert rows[("revenue_at_risk", "USD")].value == Decimal("12.000000")
    # F, the exposed line and the late line are open (the late line's shipped_qty was never updated).
    assert rows[("backlog_aging", "all")].denominator == Decimal(3)


def test_earlier_week_keeps_its_state_rows(engine, delivery_scene):
    with engine.begin() as connection:
        connection.execute(schema.kpi_snapshots.insert().values(
            week_start=date(2026, 2, 16), kpi="revenue_at_risk", scope="USD", value=Decimal(5), numerator=Decimal(5), denominator=1,
        ))

    result = snapshot_weekly_kpis(engine, date(2026, 2, 16), time_zone=TIME_ZONE, now=NOW)

    rows = stored(engine, date(2026, 2, 16))
    assert result.state_measured is False
    assert rows[("revenue_at_risk", "USD")].value == Decimal(5)
    assert ("otif", "all") in rows


def test_snapshot_rejects_week_not_monday(engine):
    with pytest.raises(InvalidWeek, match="week start 2026-02-25 is a Wednesday; weeks start on Monday, so use 2026-02-23"):
        snapshot_weekly_kpis(engine, date(2026, 2, 25), time_zone=TIME_ZONE, now=NOW)


def test_snapshot_job_takes_last_completed_week(engine, database_url, tmp_path, delivery_scene):
    settings = load_settings({"DATABASE_URL": database_url, "CONTROL_TOWER_DATA_DIR": str(tmp_path)})
    expected_week = last_completed_week(datetime.now(timezone.utc), settings.business_timezone)

    counts = kpi_snapshot_job(engine, 0, settings)

    assert counts["rows_written"] == len(stored(engine, expected_week))
    assert counts["state_measured"] == 1


def test_last_completed_week_uses_business_zone():
    # Monday 2 March 05:00 UTC is still Sunday 1 March in Chicago.
    assert last_completed_week(datetime(2026, 3, 2, 5, 0, tzinfo=timezone.utc), TIME_ZONE) == date(2026, 2, 16)
    assert last_completed_week(datetime(2026, 3, 2, 7, 0, tzinfo=timezone.utc), TIME_ZONE) == date(2026, 2, 23)


def test_reading_snapshots_needs_kpi_role(engine):
    with pytest.raises(RoleRefused, match=r"pat \(planner\) may not read the weekly KPIs; ask a user with one of these roles: executive, operations leader, administrator"):
        get_kpi_snapshots(engine, Actor("pat", Role.PLANNER))


def test_latest_week_compared_with_week_before(engine, delivery_scene):
    snapshot_weekly_kpis(engine, date(2026, 2, 16), time_zone=TIME_ZONE, now=NOW)
    snapshot_weekly_kpis(engine, WEEK, time_zone=TIME_ZONE, now=NOW)

    snapshots = get_kpi_snapshots(engine, EXECUTIVE)
    comparisons = {(item.definition.key, item.scope): item for item in compare_latest_weeks(snapshots)}

    otif = comparisons[("otif", "all")]
    assert otif.this_week == Decimal("0.6")
    # Week of 16 February: line D's first promise (20 Feb) is its only line.
    assert comparisons[("promise_accuracy_first", "all")].last_week == Decimal(0)
    assert otif.last_week is None
    assert otif.change is None


# --- Schedule --------------------------------------------------------------------


def fire_times(time_zone: str, after: datetime, count: int) -> list[datetime]:
    trigger = weekly_kpi_trigger(load_settings({"CONTROL_TOWER_TIMEZONE": time_zone}))
    times, previous, now = [], None, after
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        times.append(fire.astimezone(timezone.utc))
        previous, now = fire, fire
    return times


def test_snapshot_fires_monday_six_across_march_change():
    times = fire_times("America/New_York", datetime(2026, 2, 24, tzinfo=timezone.utc), 3)

    # 06:00 EST is 11:00 UTC; after 8 March, 06:00 EDT is 10:00 UTC.
    assert times == [
        datetime(2026, 3, 2, 11, 0, tzinfo=timezone.utc),
        datetime(2026, 3, 9, 10, 0, tzinfo=timezone.utc),
        datetime(2026, 3, 16, 10, 0, tzinfo=timezone.utc),
    ]


def test_snapshot_fires_monday_six_across_november_change():
    times = fire_times("America/New_York", datetime(2026, 10, 20, tzinfo=timezone.utc), 3)

    # Daylight time ends on 1 November 2026.
    assert times == [
        datetime(2026, 10, 26, 10, 0, tzinfo=timezone.utc),
        datetime(2026, 11, 2, 11, 0, tzinfo=timezone.utc),
        datetime(2026, 11, 9, 11, 0, tzinfo=timezone.utc),
    ]


def test_snapshot_job_is_registered_with_weekly_trigger():
    job = next(job for job in JOBS if job.name == "kpi_snapshot")
    settings = load_settings({"CONTROL_TOWER_TIMEZONE": "Europe/Berlin"})

    assert job.interval_seconds(settings) == 7 * 24 * 3600
    assert str(job.trigger(settings).timezone) == "Europe/Berlin"
