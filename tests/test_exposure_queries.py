"""Exposure page queries and what-if simulations on a small distributor with hand-computed results.

The scene, as of Monday 2 March 2026, with warehouses DAL and ATL (lane ATL -> DAL):

| line | customer | item, warehouse | open | price/cost | age | status, root cause |
|---|---|---|---|---|---|---|
| L1 | C1 strategic | GLV at DAL | 10 | 20/12 | 3 | at_risk, supplier_delay (PO1 pushed from 3 to 16 March) |
| L2 | C2 standard | GLV at DAL | 5 | 20/12 | 8 | no_supply, no_supply_ordered |
| L3 | C2 standard | CBL at DAL | 4 | 50/30 | 20 | no_supply, stock_in_other_warehouse (ATL has 10) |
| L4 | C1 strategic | GLV at ATL | 2 | 20/12 | 45 | no_supply, quality_hold |
| L5 | C2 standard | CBL at DAL | 3 | 50/30 | 90 | never_confirmed (PO2 on 9 March), stock_in_other_warehouse |
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, text

from services.db import schema
from services.db.engine import make_engine
from services.exposure import queries
from services.exposure.recompute import recompute_exposure
from services.exposure.whatif import InvalidWhatIf, SupplyChange, cancel_po_line, delay_po_line, delay_supplier, simulate_supply_change
from tests.builders import make_customer, make_item, make_order_line, make_po_line, make_supplier, make_warehouse
from tests.test_exposure_recompute import _lineage, exposure_rows, make_inventory, make_supplier_event

AS_OF = date(2026, 3, 2)


def make_lane(connection, from_id, to_id, lead_days):
    connection.execute(insert(schema.transfer_lanes).values(
        from_warehouse_id=from_id, to_warehouse_id=to_id, lead_days=lead_days, cost_per_unit=Decimal("0.50"),
        **_lineage(f"lane/{from_id}/{to_id}"),
    ))


def make_supplier_item(connection, supplier_id, item_id):
    connection.execute(insert(schema.supplier_items).values(
        supplier_id=supplier_id, item_id=item_id, lead_days=10, **_lineage(f"si/{supplier_id}/{item_id}"),
    ))


@pytest.fixture
def scene(engine):
    """Write the scene of the module docstring, recompute exposure, and return its ids."""
    with engine.begin() as c:
        dal = make_warehouse(c, warehouse_code="DAL", time_zone="America/Chicago")["id"]
        atl = make_warehouse(c, warehouse_code="ATL", time_zone="America/New_York")["id"]
        glv = make_item(c, sku="GLV", family="PPE")["id"]
        cbl = make_item(c, sku="CBL", family="Electrical")["id"]
        s1 = make_supplier(c, supplier_code="S1")["id"]
        s2 = make_supplier(c, supplier_code="S2")["id"]
        c1 = make_customer(c, customer_code="C1", tier="strategic", late_penalty_per_day=Decimal("100.00"))["id"]
        c2 = make_customer(c, customer_code="C2", tier="standard")["id"]
        make_lane(c, atl, dal, 2)
        make_supplier_item(c, s1, glv)
        make_supplier_item(c, s2, cbl)
        make_inventory(c, glv, dal, 3, hold=3)
        make_inventory(c, glv, atl, 2, hold=2)
        make_inventory(c, cbl, atl, 10)

        def order(number, customer_id, item_id, warehouse_id, qty, price, cost, age, due):
            ordered = AS_OF - timedelta(days=age)
            return make_order_line(
                c, customer_id=customer_id, item_id=item_id, warehouse_id=warehouse_id, order_number=number,
                ordered_qty=Decimal(qty), unit_price=Decimal(price), unit_cost=Decimal(cost), order_date=ordered,
                requested_date=due or ordered + timedelta(days=7), current_promised_date=due,
            )["id"]

        ids = {
            "L1": order("SO-L1", c1, glv, dal, 10, "20.00", "12.00", 3, date(2026, 3, 4)),
            "L2": order("SO-L2", c2, glv, dal, 5, "20.00", "12.00", 8, date(2026, 2, 27)),
            "L3": order("SO-L3", c2, cbl, dal, 4, "50.00", "30.00", 20, date(2026, 2, 20)),
            "L4": order("SO-L4", c1, glv, atl, 2, "20.00", "12.00", 45, date(2026, 1, 20)),
            "L5": order("SO-L5", c2, cbl, dal, 3, "50.00", "30.00", 90, None),
        }
        po1 = make_po_line(c, po_number="PO1", supplier_id=s1, item_id=glv, warehouse_id=dal, ordered_qty=Decimal(10),
                           order_date=date(2026, 2, 20), promised_date=date(2026, 3, 16))
        po2 = make_po_line(c, po_number="PO2", supplier_id=s2, item_id=cbl, warehouse_id=dal, ordered_qty=Decimal(3),
                           order_date=date(2026, 2, 20), promised_date=date(2026, 3, 9))
        received = make_po_line(c, po_number="PO3", supplier_id=s2, item_id=cbl, warehouse_id=dal, ordered_qty=Decimal(3),
                                received_qty=Decimal(3), status="received", order_date=date(2026, 1, 5), promised_date=date(2026, 1, 15))
        make_supplier_event(c, po1, "PO1-moved", date(2026, 3, 3), date(2026, 3, 16))
    recompute_exposure(engine, as_of=AS_OF)
    return {**ids, "PO1": po1["id"], "PO2": po2["id"], "PO3": received["id"], "S1": s1, "S2": s2, "DAL": dal, "ATL": atl}


def money(value: str) -> Decimal:
    return Decimal(value).quantize(Decimal("0.0001"))


def test_scene_statuses_and_causes(engine, scene):
    rows = {row["so_line_id"]: row for row in exposure_rows(engine)}

    assert {name: (rows[scene[name]]["status"], rows[scene[name]]["root_cause"]) for name in ("L1", "L2", "L3", "L4", "L5")} == {
        "L1": ("at_risk", "supplier_delay"),
        "L2": ("no_supply", "no_supply_ordered"),
        "L3": ("no_supply", "stock_in_other_warehouse"),
        "L4": ("no_supply", "quality_hold"),
        "L5": ("never_confirmed", "stock_in_other_warehouse"),
    }
    assert rows[scene["L1"]]["root_cause_detail"]["slip_days"] == 13
    assert rows[scene["L5"]]["projected_date_p50"] == date(2026, 3, 9)


@pytest.mark.parametrize(
    ("dimension", "expected"),
    [
        ("warehouse", [("DAL", 4, "22", "650", "260", "1200"), ("ATL", 1, "2", "40", "16", "4100")]),
        ("item_family", [("Electrical", 2, "7", "350", "140", "0"), ("PPE", 3, "17", "340", "136", "5300")]),
        ("supplier", [("S2", 2, "7", "350", "140", "0"), ("S1", 3, "17", "340", "136", "5300")]),
        ("customer", [("C2", 3, "12", "450", "180", "0"), ("C1", 2, "12", "240", "96", "5300")]),
        ("root_cause", [
            ("stock_in_other_warehouse", 2, "7", "350", "140", "0"), ("supplier_delay", 1, "10", "200", "80", "1200"),
            ("no_supply_ordered", 1, "5", "100", "40", "0"), ("quality_hold", 1, "2", "40", "16", "4100"),
        ]),
    ],
)
def test_exposure_by_dimension(engine, scene, dimension, expected):
    frame = queries.exposure_by(engine, dimension)

    key = frame.columns[0]
    assert [
        (row[key], row["lines"], row["shortage_qty"], row["revenue_at_risk"], row["margin_at_risk"], row["penalty_exposure"])
        for row in frame.to_dict("records")
    ] == [(name, lines, Decimal(short), money(revenue), money(margin), money(penalty)) for name, lines, short, revenue, margin, penalty in expected]
    assert set(frame["currency"]) == {"USD"}


def test_unknown_dimension_is_rejected(engine):
    with pytest.raises(queries.UnknownDimension) as raised:
        queries.exposure_by(engine, "region")

    assert str(raised.value) == "dimension 'region' is unknown; use one of warehouse, item_family, supplier, customer, root_cause"


def test_aging_buckets_list_every_bucket(engine, scene):
    frame = queries.aging_buckets(engine)

    assert frame[["bucket", "lines", "revenue_at_risk"]].values.tolist() == [
        ["0-7", 1, money("200")], ["8-14", 1, money("100")], ["15-30", 1, money("200")],
        ["31-60", 1, money("40")], ["60+", 1, money("150")],
    ]


def test_aging_buckets_are_zero_without_exposure(engine):
    frame = queries.aging_buckets(engine)

    assert frame[["bucket", "currency", "lines", "revenue_at_risk"]].values.tolist() == [
        [name, "USD", 0, Decimal(0)] for name in ("0-7", "8-14", "15-30", "31-60", "60+")
    ]


def test_root_cause_pareto_accumulates_shares(engine, scene):
    frame = queries.root_cause_pareto(engine)

    assert frame["root_cause"].tolist() == ["stock_in_other_warehouse", "supplier_delay", "no_supply_ordered", "quality_hold"]
    assert [round(value, 6) for value in frame["share"]] == [Decimal("0.507246"), Decimal("0.289855"), Decimal("0.144928"), Decimal("0.057971")]
    assert [round(value, 6) for value in frame["cumulative_share"]] == [Decimal("0.507246"), Decimal("0.797101"), Decimal("0.942029"), Decimal("1.000000")]


def test_revenue_at_risk_by_projected_ship_week(engine, scene):
    frame = queries.revenue_at_risk_by_ship_week(engine)

    assert frame[["week_start", "lines", "revenue_at_risk"]].values.tolist() == [
        [date(2026, 3, 9), 1, money("150")], [date(2026, 3, 16), 1, money("200")], [None, 3, money("340")],
    ]


def test_top_lines_by_priority_carry_their_components(engine, scene):
    frame = queries.top_lines_by_priority(engine, limit=2)

    l1 = frame[frame["so_line_id"] == scene["L1"]].iloc[0]
    assert frame["so_line_id"].tolist() == [scene["L4"], scene["L1"]]
    # Tier 35; SLA 1,200.00 of penalty (12 days x 100.00) -> 1200/1700 of 20; margin 80.00 -> 80/580 of 15;
    # fill gap 0.95 (L4 is C1's only recent line and is unshipped) -> 0.95/1.00 of 10; age 3 -> 3/17 of 10;
    # late share 1 -> 1/1.2 of 10.
    assert [l1[f"score_{name}"] for name in ("tier", "sla", "margin", "fill_gap", "age", "churn")] == [
        Decimal("35.0000"), Decimal("14.1176"), Decimal("2.0690"), Decimal("9.5000"), Decimal("1.7647"), Decimal("8.3333"),
    ]
    assert l1["priority_score"] == Decimal("70.7846")
    assert (l1["cause_po_number"], l1["cause_po_line_number"], l1["days_late_promise"]) == ("PO1", 1, 12)


def test_top_lines_limit_must_be_positive(engine):
    with pytest.raises(ValueError) as raised:
        queries.top_lines_by_priority(engine, limit=0)

    assert str(raised.value) == "limit 0 is below 1; ask for at least one line"


def test_line_supply_picture_lists_supply(engine, scene):
    picture = queries.line_supply_picture(engine, scene["L1"])

    assert picture.line["order_number"] == "SO-L1"
    assert picture.stock[["on_hand_qty", "quality_hold_qty", "free_qty"]].values.tolist() == [[Decimal(3), Decimal(3), Decimal(0)]]
    assert picture.inbound[["kind", "reference", "supplier_code", "qty", "promised_date"]].values.tolist() == [
        ["purchase", "PO1", "S1", Decimal(10), date(2026, 3, 16)],
    ]
    assert picture.other_warehouses[["on_hand_qty", "quality_hold_qty", "free_qty", "lane_lead_days"]].values.tolist() == [
        [Decimal(2), Decimal(2), Decimal(0), 2],
    ]
    assert picture.exposure["status"].tolist() == ["at_risk"]


def test_unknown_line_has_no_supply_picture(engine):
    with pytest.raises(queries.OrderLineNotFound) as raised:
        queries.line_supply_picture(engine, 424242)

    assert str(raised.value) == "sales order line id 424242 does not exist; pick a line from the exposure list"


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "UTC", "Pacific/Pago_Pago"])
def test_dates_same_in_every_time_zone(database_url, zone):
    viewer = make_engine(database_url, connect_args={"options": f"-c timezone={zone}"})
    with viewer.begin() as c:
        warehouse = make_warehouse(c, time_zone="America/Chicago")["id"]
        make_order_line(c, warehouse_id=warehouse, order_date=date(2024, 3, 1), requested_date=date(2024, 3, 10),
                        current_promised_date=date(2024, 3, 10))
    recompute_exposure(viewer, as_of=date(2024, 3, 8))

    frame = queries.top_lines_by_priority(viewer, limit=1)
    week = queries.revenue_at_risk_by_ship_week(viewer)
    viewer.dispose()

    assert frame.loc[0, "current_promised_date"] == date(2024, 3, 10)
    assert frame.loc[0, "backlog_age_days"] == 7
    assert week["week_start"].tolist() == [None]


def test_delay_reports_change_writes_nothing(engine, scene):
    before = exposure_rows(engine)

    result = delay_po_line(engine, scene["PO1"], 7, as_of=AS_OF)

    assert exposure_rows(engine) == before
    assert result.lines[["so_line_id", "status_before", "status_after", "projected_date_before", "projected_date_after"]].values.tolist() == [
        [scene["L1"], "at_risk", "at_risk", date(2026, 3, 16), date(2026, 3, 23)],
    ]
    totals = result.summary.set_index("status").loc["all"]
    assert (totals["lines_before"], totals["lines_after"], totals["revenue_at_risk_change"]) == (3, 3, Decimal(0))


def test_cancel_moves_demand_to_no_supply(engine, scene):
    result = cancel_po_line(engine, scene["PO2"], as_of=AS_OF)

    summary = result.summary.set_index("status")
    assert result.lines[["so_line_id", "status_before", "status_after"]].values.tolist() == [[scene["L5"], "never_confirmed", "no_supply"]]
    assert (summary.loc["never_confirmed", "lines_change"], summary.loc["no_supply", "lines_change"]) == (-1, 1)
    assert summary.loc["no_supply", "revenue_at_risk_change"] == money("150")
    assert summary.loc["all", "revenue_at_risk_change"] == Decimal(0)


def test_delaying_a_supplier_moves_each_of_its_lines(engine, scene):
    result = delay_supplier(engine, scene["S2"], 10, as_of=AS_OF)

    assert result.lines[["so_line_id", "projected_date_before", "projected_date_after"]].values.tolist() == [
        [scene["L5"], date(2026, 3, 9), date(2026, 3, 19)],
    ]


def test_what_if_before_matches_the_stored_exposure(engine, scene):
    result = delay_supplier(engine, scene["S1"], 1, as_of=AS_OF)

    with engine.connect() as connection:
        stored = connection.execute(text(
            "select count(*), sum(e.revenue_at_risk) from exposure e join sales_order_lines l on l.id = e.so_line_id"
            " join items i on i.id = l.item_id where i.sku = 'GLV'"
        )).one()
    totals = result.summary.set_index("status").loc["all"]
    assert (totals["lines_before"], totals["revenue_at_risk_before"]) == (stored[0], stored[1])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (SupplyChange("delay", po_line_id=987654, days=3), "purchase order line id 987654 does not exist; pick a line from the purchase order list"),
        (SupplyChange("delay", supplier_id=987654, days=3), "supplier id 987654 does not exist; pick a supplier from the supplier list"),
        (SupplyChange("delay", po_line_id=1, days=0), "delay of 0 days is not a delay; give 1 day or more"),
        (SupplyChange("cancel", po_line_id=1, supplier_id=1), "name either a supplier or one purchase order line, not both and not neither"),
    ],
)
def test_invalid_what_if_is_rejected_with_the_value(engine, scene, change, message):
    with pytest.raises(InvalidWhatIf) as raised:
        simulate_supply_change(engine, change, as_of=AS_OF)

    assert str(raised.value) == message


def test_received_line_cannot_be_delayed(engine, scene):
    with pytest.raises(InvalidWhatIf) as raised:
        delay_po_line(engine, scene["PO3"], 5, as_of=AS_OF)

    assert str(raised.value) == f"purchase order line id {scene['PO3']} is received, not open; only open lines can be delayed or cancelled"


@pytest.mark.parametrize("code", ["at_risk", "backordered", "no_supply", "never_confirmed"])
def test_status_help_explains_every_status(code):
    from services.exposure.backlog import STATUS_HELP
    from services.exposure.netting import STATUSES

    assert code in STATUSES
    assert f"{code}: " in STATUS_HELP


def test_root_cause_help_explains_every_cause():
    from services.exposure.backlog import ROOT_CAUSE_HELP, ROOT_CAUSES

    missing = [cause for cause in ROOT_CAUSES if f"{cause}: " not in ROOT_CAUSE_HELP]

    assert missing == []
