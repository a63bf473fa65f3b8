"""Netting, status, root cause, money and priority of exposure, computed in memory and checked by hand."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from services.exposure.netting import (
    CUSTOMER_COLUMNS,
    IN_TRANSIT_COLUMNS,
    LANE_COLUMNS,
    LINE_COLUMNS,
    NO_DAY,
    PURCHASE_COLUMNS,
    QTY_SCALE,
    STOCK_COLUMNS,
    SupplyPicture,
    date_of_day,
    day_number,
    net_exposure,
    root_cause_details,
    scaled_text,
)
from services.exposure.settings import InvalidPriorityWeights, PriorityWeights, parse_priority_weights
from services.exposure.whatif import SupplyChange, simulate

AS_OF = date(2024, 5, 27)
DAL, ATL = 1, 2
WEIGHTS = PriorityWeights()


def qty(value) -> int:
    return int(Decimal(str(value)) * QTY_SCALE)


def money(value) -> int:
    return int(Decimal(str(value)) * 10_000)


def order_line(so_line_id, open_qty, *, due=None, requested=None, promised="due", customer_id=1, item_id=1,
               warehouse_id=DAL, order_date=AS_OF - timedelta(days=7), reserved=0, price="10.00", cost="6.00"):
    """An open line; due sets both the requested and the promised date unless they are given."""
    requested = requested or due or AS_OF + timedelta(days=7)
    promised = (due or requested) if promised == "due" else promised
    return {
        "so_line_id": so_line_id, "customer_id": customer_id, "item_id": item_id, "warehouse_id": warehouse_id,
        "order_day": day_number(order_date), "requested_day": day_number(requested), "promised_day": day_number(promised),
        "open_qty": qty(open_qty), "reserved_qty": qty(reserved), "unit_price": money(price), "unit_cost": money(cost),
        "currency": "USD",
    }


def customer(customer_id, tier="standard", *, penalty="0", target=0.95, fill=None, late=None):
    return {
        "customer_id": customer_id, "tier": tier, "late_penalty": money(penalty), "fill_rate_target": target,
        "recent_fill_rate": np.nan if fill is None else fill, "late_share": np.nan if late is None else late,
    }


def stock(on_hand, *, hold=0, allocated=0, item_id=1, warehouse_id=DAL):
    return {"item_id": item_id, "warehouse_id": warehouse_id, "on_hand": qty(on_hand), "hold": qty(hold), "allocated": qty(allocated)}


def purchase(po_line_id, open_qty, expected, *, baseline=None, p90=None, confidence="", source="promised",
             item_id=1, warehouse_id=DAL, supplier_id=1):
    return {
        "po_line_id": po_line_id, "supplier_id": supplier_id, "item_id": item_id, "warehouse_id": warehouse_id,
        "open_qty": qty(open_qty), "expected_day": day_number(expected), "p90_day": day_number(p90),
        "baseline_day": day_number(baseline or expected), "date_source": source, "confidence": confidence,
    }


def in_transit(shipment_id, kind, quantity, expected, *, po_line_id=0, item_id=1, warehouse_id=DAL):
    return {
        "shipment_id": shipment_id, "kind": kind, "po_line_id": po_line_id, "item_id": item_id,
        "warehouse_id": warehouse_id, "qty": qty(quantity), "expected_day": day_number(expected),
    }


def frame(rows, columns) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(columns))


def picture(lines, *, customers=None, stocks=(), purchases=(), transit=(), lanes=(), today=AS_OF) -> SupplyPicture:
    return SupplyPicture(
        lines=frame(lines, LINE_COLUMNS),
        customers=frame(customers or [customer(1)], CUSTOMER_COLUMNS),
        stock=frame(stocks, STOCK_COLUMNS).astype("int64"),
        purchases=frame(purchases, PURCHASE_COLUMNS),
        in_transit=frame(transit, IN_TRANSIT_COLUMNS),
        lanes=frame(lanes, LANE_COLUMNS).astype("int64"),
        warehouses=pd.DataFrame({"warehouse_id": [DAL, ATL], "warehouse_code": ["DAL", "ATL"], "today": [day_number(today)] * 2}),
    )


def rows_by_line(result: pd.DataFrame) -> dict[int, dict]:
    return {row["so_line_id"]: row for row in result.to_dict("records")}


def projected(row) -> date | None:
    return date_of_day(row["projected_day_p50"])


def test_one_unit_of_supply_is_promised_once():
    june_1, june_5 = date(2024, 6, 1), date(2024, 6, 5)
    scene = picture(
        [order_line(1, 10, due=june_1), order_line(2, 10, due=june_1)],
        purchases=[purchase(501, 10, june_5)],
    )

    rows = rows_by_line(net_exposure(scene, WEIGHTS))

    assert rows[1]["status"] == "at_risk"
    assert projected(rows[1]) == june_5
    assert rows[1]["shortage_qty"] == qty(10)
    assert rows[1]["unsupplied_qty"] == 0
    assert rows[1]["days_late_promise"] == 4
    assert rows[2]["status"] == "no_supply"
    assert projected(rows[2]) is None
    assert rows[2]["unsupplied_qty"] == qty(10)
    assert rows[2]["root_cause"] == "no_supply_ordered"


def test_reserved_stock_serves_its_own_line_first():
    scene = picture(
        [order_line(1, 7, reserved=10, customer_id=1), order_line(2, 5, customer_id=2)],
        customers=[customer(1, "standard"), customer(2, "strategic")],
        stocks=[stock(10, allocated=10)],
    )

    rows = rows_by_line(net_exposure(scene, WEIGHTS))

    assert 1 not in rows
    assert rows[2]["status"] == "no_supply"
    assert rows[2]["shortage_qty"] == qty(5)
    assert rows[2]["location_supply"] == 0


def test_reservation_beyond_reserved_stock_joins_the_netting():
    scene = picture([order_line(1, 8, reserved=8)], stocks=[stock(6, allocated=5)])

    rows = rows_by_line(net_exposure(scene, WEIGHTS))

    assert rows[1]["shortage_qty"] == qty(2)
    assert rows[1]["status"] == "no_supply"
    assert rows[1]["unsupplied_qty"] == qty(2)


def test_asn_is_part_of_its_purchase_line():
    june_3, june_10, june_20, june_30 = date(2024, 6, 3), date(2024, 6, 10), date(2024, 6, 20), date(2024, 6, 30)
    scene = picture(
        [order_line(1, 6, due=june_10), order_line(2, 5, due=june_30)],
        purchases=[purchase(501, 10, june_20)],
        transit=[in_transit(71, "asn", 4, june_3, po_line_id=501)],
    )

    rows = rows_by_line(net_exposure(scene, WEIGHTS))

    assert projected(rows[1]) == june_20
    assert rows[1]["status"] == "at_risk"
    assert rows[2]["status"] == "no_supply"
    assert rows[2]["unsupplied_qty"] == qty(1)
    assert rows[2]["location_supply"] == qty(10)


def test_asn_covers_a_line_at_its_own_date():
    june_3, june_20 = date(2024, 6, 3), date(2024, 6, 20)
    scene = picture(
        [order_line(1, 4, due=date(2024, 6, 2)), order_line(2, 3, due=date(2024, 6, 2))],
        purchases=[purchase(501, 10, june_20)],
        transit=[in_transit(71, "asn", 4, june_3, po_line_id=501)],
    )

    rows = rows_by_line(net_exposure(scene, WEIGHTS))

    assert projected(rows[1]) == june_3
    assert projected(rows[2]) == june_20
    assert rows[1]["days_late_promise"] == 1
    assert rows[2]["days_late_promise"] == 18


def test_transfer_in_transit_arrives_at_its_expected_date():
    may_30 = date(2024, 5, 30)
    scene = picture([order_line(1, 8, due=date(2024, 5, 29))], transit=[in_transit(81, "transfer", 8, may_30)])

    rows = rows_by_line(net_exposure(scene, WEIGHTS))

    assert rows[1]["status"] == "at_risk"
    assert projected(rows[1]) == may_30
    assert rows[1]["days_late_promise"] == 1
    assert rows[1]["shortage_qty"] == qty(8)


def test_inbound_before_promise_is_on_track():
    scene = picture([order_line(1, 5, due=date(2024, 6, 10))], purchases=[purchase(501, 5, date(2024, 6, 3))])

    result = net_exposure(scene, WEIGHTS)

    assert result.empty


def test_past_due_line_without_stock_is_backordered():
    scene = picture([order_line(1, 5, due=date(2024, 5, 24))], purchases=[purchase(501, 5, date(2024, 6, 3))])

    rows = rows_by_line(net_exposure(scene, WEIGHTS))

    assert rows[1]["status"] == "backordered"
    assert projected(rows[1]) == date(2024, 6, 3)
    assert rows[1]["days_late_promise"] == 10
    assert rows[1]["days_late_request"] == 10


def test_overdue_purchase_is_supplier_delay():
    promised = date(2024, 5, 20)
    scene = picture([order_line(1, 5, due=date(2024, 5, 24))], purchases=[purchase(501, 5, promised)])

    rows = rows_by_line(net_exposure(scene, WEIGHTS))
    detail = root_cause_details(pd.DataFrame([rows[1]]), {})[0]

    assert rows[1]["status"] == "backordered"
    assert projected(rows[1]) == AS_OF
    assert rows[1]["root_cause"] == "supplier_delay"
    assert rows[1]["cause_po_line_id"] == 501
    assert detail == {
        "po_line_id": 501, "slip_days": 7, "original_date": "2024-05-20", "expected_date": "2024-05-27",
        "date_source": "promised",
    }


def test_pushed_purchase_delay_keeps_slip():
    scene = picture(
        [order_line(1, 5, due=date(2024, 6, 5))],
        purchases=[purchase(501, 5, date(2024, 6, 26), baseline=date(2024, 6, 5))],
    )

    rows = rows_by_line(net_exposure(scene, WEIGHTS))

    assert rows[1]["status"] == "at_risk"
    assert rows[1]["root_cause"] == "supplier_delay"
    assert rows[1]["cause_slip_days"] == 21
    assert rows[1]["days_late_promise"] == 21


def test_late_p90_puts_line_at_risk():
    scene = picture(
        [order_line(1, 5, due=date(2024, 6, 12))],
        purchases=[purchase(501, 5, date(2024, 6, 10), p90=date(2024, 6, 14), baseline=date(2024, 6, 8),
                            confidence="medium", source="forecast")],
    )

    rows = rows_by_line(net_exposure(scene, WEIGHTS))

    assert rows[1]["status"] == "at_risk"
    assert projected(rows[1]) == date(2024, 6, 10)
    assert date_of_day(rows[1]["projected_day_p90"]) == date(2024, 6, 14)
    assert rows[1]["days_late_promise"] == 0
    assert rows[1]["root_cause"] == "supplier_delay"
    assert rows[1]["cause_slip_days"] == 2


def test_low_confidence_puts_line_at_risk():
    scene = picture(
        [order_line(1, 5, due=date(2024, 6, 12))],
        purchases=[purchase(501, 5, date(2024, 6, 5), p90=date(2024, 6, 6), confidence="low", source="forecast")],
    )

    rows = rows_by_line(net_exposure(scene, WEIGHTS))

    assert rows[1]["status"] == "at_risk"
    assert rows[1]["root_cause"] == "supplier_delay"
    assert rows[1]["cause_slip_days"] == 0


def test_p90_is_empty_without_forecast_intervals():
    scene = picture([order_line(1, 5, due=date(2024, 6, 1))], purchases=[purchase(501, 5, date(2024, 6, 5))])

    rows = rows_by_line(net_exposure(scene, WEIGHTS))

    assert rows[1]["projected_day_p90"] == NO_DAY


def test_quality_hold_root_cause():
    scene = picture([order_line(1, 8, due=date(2024, 5, 24))], stocks=[stock(10, hold=6)])

    rows = rows_by_line(net_exposure(scene, WEIGHTS))
    detail = root_cause_details(pd.DataFrame([rows[1]]), {})[0]

    assert rows[1]["status"] == "no_supply"
    assert rows[1]["shortage_qty"] == qty(4)
    assert rows[1]["root_cause"] == "quality_hold"
    assert detail == {"hold_qty": "6"}


def test_stock_in_other_warehouse_needs_a_transfer_lane():
    line = order_line(1, 5, due=date(2024, 5, 24), warehouse_id=DAL)
    stocks = [stock(0, warehouse_id=DAL), stock(20, warehouse_id=ATL)]
    with_lane = picture([line], stocks=stocks, lanes=[{"from_warehouse_id": ATL, "to_warehouse_id": DAL}])
    without_lane = picture([line], stocks=stocks)

    laned = rows_by_line(net_exposure(with_lane, WEIGHTS))[1]
    unlaned = rows_by_line(net_exposure(without_lane, WEIGHTS))[1]

    assert laned["root_cause"] == "stock_in_other_warehouse"
    assert root_cause_details(pd.DataFrame([laned]), {ATL: "ATL"})[0] == {"warehouse_code": "ATL", "spare_qty": "20"}
    assert unlaned["root_cause"] == "no_supply_ordered"


def test_spare_stock_covers_limited_shortage():
    lines = [order_line(1, 5, due=date(2024, 5, 24)), order_line(2, 5, due=date(2024, 5, 25))]
    scene = picture(
        lines + [order_line(3, 4, warehouse_id=ATL, due=date(2024, 5, 24))],
        stocks=[stock(0, warehouse_id=DAL), stock(12, warehouse_id=ATL)],
        lanes=[{"from_warehouse_id": ATL, "to_warehouse_id": DAL}],
    )

    rows = rows_by_line(net_exposure(scene, WEIGHTS))

    assert rows[1]["root_cause"] == "stock_in_other_warehouse"
    assert rows[1]["cause_spare_qty"] == qty(8)
    assert rows[2]["root_cause"] == "no_supply_ordered"
    assert 3 not in rows


def test_taken_by_higher_priority_line():
    scene = picture(
        [order_line(1, 10, due=date(2024, 6, 20), customer_id=1), order_line(2, 10, due=date(2024, 5, 30), customer_id=2)],
        customers=[customer(1, "strategic"), customer(2, "standard")],
        stocks=[stock(10)],
        purchases=[purchase(501, 10, date(2024, 6, 15))],
    )

    rows = rows_by_line(net_exposure(scene, WEIGHTS))
    detail = root_cause_details(pd.DataFrame([rows[2]]), {})[0]

    assert 1 not in rows
    assert rows[2]["status"] == "at_risk"
    assert projected(rows[2]) == date(2024, 6, 15)
    assert rows[2]["root_cause"] == "taken_by_higher_priority"
    assert detail == {"projected_date_in_due_date_order": "2024-05-27"}


def test_never_confirmed_line_is_included():
    scene = picture(
        [order_line(1, 5, requested=date(2024, 6, 1), promised=None)],
        purchases=[purchase(501, 5, date(2024, 6, 5))],
    )

    rows = rows_by_line(net_exposure(scene, WEIGHTS))

    assert rows[1]["status"] == "never_confirmed"
    assert rows[1]["root_cause"] == "never_confirmed"
    assert pd.isna(rows[1]["days_late_promise"])
    assert rows[1]["days_late_request"] == 4
    assert projected(rows[1]) == date(2024, 6, 5)


def test_unconfirmed_line_without_supply():
    scene = picture([order_line(1, 5, requested=date(2024, 5, 20), promised=None)])

    rows = rows_by_line(net_exposure(scene, WEIGHTS))

    assert rows[1]["status"] == "no_supply"
    assert rows[1]["root_cause"] == "never_confirmed"
    assert rows[1]["days_late_request"] == 7


@pytest.mark.parametrize(
    ("price", "cost", "revenue", "margin"),
    [("0.10", "0.04", Decimal("0.30"), Decimal("0.18")), ("19.99", "12.50", Decimal("59.97"), Decimal("22.47"))],
)
def test_money_at_risk_sums_exactly(price, cost, revenue, margin):
    lines = [order_line(number, 1, due=date(2024, 5, 24), price=price, cost=cost) for number in (1, 2, 3)]

    result = net_exposure(picture(lines), WEIGHTS)

    assert Decimal(int(result["revenue_at_risk"].sum())).scaleb(-4) == revenue
    assert Decimal(int(result["margin_at_risk"].sum())).scaleb(-4) == margin


def test_fractional_money_rounds_half_even():
    lines = [order_line(1, "0.333333", due=date(2024, 5, 24), price="19.99"), order_line(2, "0.5", due=date(2024, 5, 24), price="0.0001")]

    rows = rows_by_line(net_exposure(picture(lines), WEIGHTS))

    assert rows[1]["revenue_at_risk"] == 66633  # 6.66332667 rounds to 6.6633
    assert rows[2]["revenue_at_risk"] == 0  # 0.00005 rounds half to even, down to 0.0000


def test_penalty_uses_days_late_to_request():
    scene = picture(
        [order_line(1, 5, requested=date(2024, 5, 24), promised=date(2024, 5, 31))],
        customers=[customer(1, penalty="150.00")],
        purchases=[purchase(501, 5, date(2024, 6, 3))],
    )

    rows = rows_by_line(net_exposure(scene, WEIGHTS))

    assert rows[1]["days_late_request"] == 10
    assert rows[1]["days_late_promise"] == 3
    assert rows[1]["penalty_exposure"] == money("1500.00")


def test_backlog_age_counts_days_since_the_order():
    scene = picture([order_line(1, 5, due=date(2024, 5, 24), order_date=date(2024, 4, 27))])

    rows = rows_by_line(net_exposure(scene, WEIGHTS))

    assert rows[1]["backlog_age_days"] == 30


PRIORITY_CUSTOMERS = [
    customer(1, "strategic", penalty="100.00", target=0.95, fill=0.90, late=0.2),
    customer(2, "key"),
    customer(3, "standard"),
]


def priority_line(so_line_id, customer_id):
    """A line due five days ago, ordered fourteen days ago, 10 units with a margin of 50.00 each."""
    return order_line(
        so_line_id, 10, customer_id=customer_id, due=AS_OF - timedelta(days=5), order_date=AS_OF - timedelta(days=14),
        price="60.00", cost="10.00",
    )


def test_priority_allocates_and_ranks():
    scene = picture(
        [priority_line(1, 3), priority_line(2, 2), priority_line(3, 1)],
        customers=PRIORITY_CUSTOMERS,
        stocks=[stock(10)],
    )

    result = net_exposure(scene, WEIGHTS)
    ranked = result[["so_line_id", "priority_score", "score_tier", "score_sla", "score_margin", "score_fill_gap", "score_age", "score_churn"]]

    assert ranked.values.tolist() == [
        [2, 335_000, 210_000, 0, 75_000, 0, 50_000, 0],
        [1, 195_000, 70_000, 0, 75_000, 0, 50_000, 0],
    ]


def test_stored_score_uses_projected_lateness():
    scene = picture(
        [priority_line(1, 1)],
        customers=PRIORITY_CUSTOMERS,
        purchases=[purchase(501, 10, AS_OF + timedelta(days=5))],
    )

    rows = rows_by_line(net_exposure(scene, WEIGHTS))

    # Today the line is 5 days late: 5 x 100.00 = 500.00 of penalty, half of the SLA weight (10 points).
    # Its supply comes in 5 days, so it ships 10 days late: 1,000.00, or 1000 / 1500 of 20 points.
    assert rows[1]["score_sla"] == 133_333
    assert [rows[1][f"score_{name}"] for name in ("tier", "margin", "fill_gap", "age", "churn")] == [350_000, 75_000, 50_000, 50_000, 50_000]
    assert rows[1]["priority_score"] == 708_333
    assert rows[1]["penalty_exposure"] == money("1000.00")


def test_weights_change_the_netting_order():
    lines = [
        order_line(1, 10, customer_id=1, due=AS_OF, price="11.00", cost="10.00"),
        order_line(2, 10, customer_id=2, due=AS_OF, price="500.00", cost="10.00"),
    ]
    customers = [customer(1, "strategic"), customer(2, "standard")]
    scene = picture(lines, customers=customers, stocks=[stock(10)])
    margin_only = PriorityWeights(tier=Decimal(0), sla=Decimal(0), margin=Decimal(100), fill_gap=Decimal(0), age=Decimal(0), churn=Decimal(0))

    by_default = rows_by_line(net_exposure(scene, WEIGHTS))
    by_margin = rows_by_line(net_exposure(scene, margin_only))

    assert list(by_default) == [2]
    assert list(by_margin) == [1]


def test_supply_change_delays_or_cancels_in_memory():
    june_1 = date(2024, 6, 1)
    scene = picture(
        [order_line(1, 10, due=june_1), order_line(2, 4, due=date(2024, 6, 20))],
        purchases=[purchase(501, 14, date(2024, 5, 31))],
    )

    delayed = simulate(scene, SupplyChange("delay", po_line_id=501, days=5), WEIGHTS)
    cancelled = simulate(scene, SupplyChange("cancel", po_line_id=501), WEIGHTS)

    assert delayed.lines[["so_line_id", "status_before", "status_after", "projected_date_before", "projected_date_after"]].values.tolist() == [
        [1, "on_track", "at_risk", None, date(2024, 6, 5)],
    ]
    totals = delayed.summary.set_index("status").loc["all"]
    assert (totals["lines_change"], totals["revenue_at_risk_change"]) == (1, Decimal("100.0000"))
    assert cancelled.summary.set_index("status").loc["no_supply", "lines_after"] == 2
    assert cancelled.summary.set_index("status").loc["no_supply", "shortage_qty_after"] == Decimal("14.000000")


def test_delay_of_an_overdue_line_counts_from_today():
    scene = picture([order_line(1, 5, due=AS_OF + timedelta(days=2))], purchases=[purchase(501, 5, date(2024, 5, 20))])

    result = simulate(scene, SupplyChange("delay", po_line_id=501, days=3), WEIGHTS)

    assert result.lines["projected_date_after"].tolist() == [AS_OF + timedelta(days=3)]


def test_scaled_text_is_exact():
    assert [scaled_text(value, 6) for value in (0, 1, 6_000_000, 1_500_000, -2_500_000)] == ["0", "0.000001", "6", "1.5", "-2.5"]


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        ([30, 20], "priority_weights [30, 20] is not a JSON object; store an object such as {\"tier\": 35, \"sla\": 20} with keys among tier, sla, margin, fill_gap, age, churn"),
        ({"tier": 30, "speed": 5}, "priority_weights has unknown component 'speed'; use only tier, sla, margin, fill_gap, age, churn"),
        ({"tier": -1}, "priority_weights.tier -1 is negative or not finite; store a number of 0 or more"),
        ({"sla": "high"}, "priority_weights.sla 'high' is not a number; store a number of 0 or more"),
        ({"tier": 0, "sla": 0, "margin": 0, "fill_gap": 0, "age": 0, "churn": 0},
         "priority_weights sets every weight to 0, so no line would rank above another; give at least one component a weight above 0"),
    ],
)
def test_invalid_priority_weights_are_rejected_with_the_value(stored, message):
    with pytest.raises(InvalidPriorityWeights) as raised:
        parse_priority_weights(stored)

    assert str(raised.value) == message


def test_missing_weights_keep_their_defaults():
    weights = parse_priority_weights({"tier": 50, "churn": "2.5"})

    assert weights.as_dict() == {
        "tier": Decimal(50), "sla": Decimal(20), "margin": Decimal(15), "fill_gap": Decimal(10), "age": Decimal(10), "churn": Decimal("2.5"),
    }
