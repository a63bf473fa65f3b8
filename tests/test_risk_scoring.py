"""Risk scoring rebuilds each pair's features from history, marks pairs without history, and lists pairs at risk."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import insert, select

from services.db import schema
from services.risk import repository
from services.risk.features import CANONICAL_COLUMNS, LABEL_COLUMN
from services.risk.model import train_model
from services.risk.service import (
    NO_DATA_EXPLANATION,
    NoModel,
    at_risk_not_yet_short,
    risk_job,
    score_pairs,
)
from services.risk.snapshots import snapshots
from services.settings import load_settings
from tests.builders import (
    make_inventory,
    make_item,
    make_job_run,
    make_order_line,
    make_po_line,
    make_receipt,
    make_shipment,
    make_supplier,
    make_supplier_item,
    make_warehouse,
)

REFERENCE = date(2026, 3, 2)


@pytest.fixture(scope="module")
def cover_model():
    """A model trained on rows whose backorders come from too little cover against the lead time."""
    rng = np.random.default_rng(5)
    rows = 2_000
    sales = rng.integers(0, 200, rows).astype(float)
    lead = rng.integers(1, 12, rows).astype(float)
    on_hand = rng.integers(0, 400, rows).astype(float)
    frame = pd.DataFrame({name: 0.0 for name in CANONICAL_COLUMNS}, index=range(rows))
    frame["national_inv"], frame["lead_time"] = on_hand, lead
    frame["sales_3_month"] = frame["forecast_3_month"] = sales
    frame["sales_1_month"], frame["sales_6_month"], frame["sales_9_month"] = sales / 3, sales * 2, sales * 3
    frame["perf_6_month_avg"] = frame["perf_12_month_avg"] = 0.9
    cover = on_hand / np.maximum(sales / 13, 0.01)
    labels = ((cover < lead) & (rng.random(rows) < 0.8)).astype(np.int8)
    return train_model(frame, labels, where="the synthetic cover rows")


def _store(connection, model, source="kaggle") -> int:
    return repository.insert_model(connection, source=source, features=model.features,
                                   training_rows=model.training_rows, positive_rows=10, threshold=model.threshold,
                                   scores=model.scores, model_bytes=model.to_bytes())


def test_snapshot_rolls_stock_back_and_labels_the_late_line(engine):
    with engine.begin() as connection:
        item, warehouse, supplier = make_item(connection), make_warehouse(connection), make_supplier(connection)
        ids = {"item_id": item["id"], "warehouse_id": warehouse["id"]}
        make_supplier_item(connection, supplier_id=supplier["id"], item_id=item["id"], lead_days=42)
        make_inventory(connection, **ids, on_hand_qty=Decimal(50))
        po_line = make_po_line(connection, supplier_id=supplier["id"], **ids, order_date=date(2026, 1, 5),
                               promised_date=date(2026, 2, 2), ordered_qty=Decimal(30), received_qty=Decimal(30),
                               status="received")
        make_receipt(connection, po_line_id=po_line["id"], warehouse_id=warehouse["id"],
                     receipt_date=date(2026, 2, 16), received_qty=Decimal(30))
        line = make_order_line(connection, **ids, order_date=date(2026, 2, 18), requested_date=date(2026, 2, 20),
                               ordered_qty=Decimal(20), shipped_qty=Decimal(20), status="shipped")
        make_shipment(connection, item_id=item["id"], so_line_id=line["id"], from_warehouse_id=warehouse["id"],
                      qty=Decimal(20), ship_date=date(2026, 2, 25), status="delivered", delivered_date=date(2026, 2, 26))
        events = repository.load_events(connection, REFERENCE, date(2025, 1, 1))

    rows = snapshots(events, [-4, -3, 0], label_weeks=4).set_index("feature_date")

    four_weeks_ago, three_weeks_ago, today = rows.loc[date(2026, 2, 2)], rows.loc[date(2026, 2, 9)], rows.loc[REFERENCE]
    assert (four_weeks_ago["national_inv"], four_weeks_ago["pieces_past_due"], four_weeks_ago["open_po_qty"]) == (40.0, 0.0, 30.0)
    assert four_weeks_ago[LABEL_COLUMN] == 1
    assert (three_weeks_ago["national_inv"], three_weeks_ago["pieces_past_due"]) == (40.0, 30.0)
    assert math.isnan(three_weeks_ago[LABEL_COLUMN])
    assert (today["national_inv"], today["pieces_past_due"], today["open_po_qty"], today["sales_1_month"]) == (50.0, 0.0, 0.0, 20.0)
    assert (today["lead_time"], today["min_bank"], today["min_bank_known"]) == (6.0, 0.0, 0.0)
    # The one PO line came in on 2026-02-16, two weeks after its promise: 0% on time.
    assert (today["perf_6_month_avg"], today["perf_12_month_avg"]) == (0.0, 0.0)
    assert math.isnan(four_weeks_ago["perf_6_month_avg"])



def test_pair_without_any_history_is_marked_no_data_not_zero_risk(engine, cover_model):
    with engine.begin() as connection:
        _store(connection, cover_model)
        item, warehouse = make_item(connection), make_warehouse(connection)
        make_inventory(connection, item_id=item["id"], warehouse_id=warehouse["id"], on_hand_qty=Decimal(0))

    result = score_pairs(engine, as_of=REFERENCE)

    with engine.connect() as connection:
        row = connection.execute(select(schema.risk_scores)).mappings().one()
    assert (result.pairs, result.scored, result.no_data, result.flagged) == (1, 0, 1, 0)
    assert (row["status"], row["probability"], row["flagged"], row["model_version"]) == ("no_data", None, False, None)
    assert row["explanation"] == NO_DATA_EXPLANATION
    assert row["feature_date"] == REFERENCE


def test_pair_short_of_cover_is_flagged_with_its_reason_in_words(engine, cover_model):
    with engine.begin() as connection:
        version = _store(connection, cover_model)
        item, warehouse, supplier = make_item(connection), make_warehouse(connection), make_supplier(connection)
        ids = {"item_id": item["id"], "warehouse_id": warehouse["id"]}
        make_supplier_item(connection, supplier_id=supplier["id"], item_id=item["id"], lead_days=42)
        make_inventory(connection, **ids, on_hand_qty=Decimal(20))
        for week in range(1, 13):
            make_order_line(connection, **ids, order_date=REFERENCE - timedelta(days=7 * week),
                            requested_date=REFERENCE - timedelta(days=7 * week - 3), ordered_qty=Decimal(10),
                            shipped_qty=Decimal(10), status="shipped")

    result = score_pairs(engine, as_of=REFERENCE)

    with engine.connect() as connection:
        row = connection.execute(select(schema.risk_scores)).mappings().one()
    assert (result.scored, result.flagged, row["status"], row["flagged"], row["model_version"]) == (1, 1, "scored", True, version)
    assert row["probability"] > Decimal("0.5")
    # Weekly demand is the larger of the 3-month sales (120 / 13 = 9.23 a week) and the
    # projected rate, so 20 on hand is 2.2 weeks of cover against 42 days of lead time.
    assert row["explanation"].startswith("2.2 weeks of cover against a 6-week lead time")


def test_scoring_without_a_model_says_how_to_train_one(engine):
    with pytest.raises(NoModel) as error:
        score_pairs(engine, as_of=REFERENCE)

    assert str(error.value) == (
        "no risk model is stored; train one with `control-tower risk train --kaggle PATH` (the public backorder file) "
        "before scoring"
    )


def test_at_risk_list_leaves_out_pairs_with_a_short_line_and_unflagged_pairs(engine):
    with engine.begin() as connection:
        version = repository.insert_model(connection, source="kaggle", features=["national_inv"], training_rows=10,
                                          positive_rows=2, threshold=0.2, scores={}, model_bytes=b"x")
        warehouse = make_warehouse(connection, warehouse_code="DAL")
        pairs = {}
        for sku, probability, flagged in (("SKU-AT-RISK", "0.420000", True), ("SKU-SHORT", "0.800000", True),
                                          ("SKU-SAFE", "0.030000", False)):
            item = make_item(connection, sku=sku)
            pairs[sku] = item["id"]
            connection.execute(insert(schema.risk_scores).values(
                item_id=item["id"], warehouse_id=warehouse["id"], model_version=version, feature_date=REFERENCE,
                probability=Decimal(probability), flagged=flagged, explanation=f"reason of {sku}", status="scored"))
        short_line = make_order_line(connection, item_id=pairs["SKU-SHORT"], warehouse_id=warehouse["id"])
        connection.execute(insert(schema.exposure).values(
            so_line_id=short_line["id"], status="backordered", shortage_qty=Decimal(4), root_cause="no_supply_ordered",
            revenue_at_risk=Decimal(40), margin_at_risk=Decimal(16), penalty_exposure=Decimal(0), backlog_age_days=3,
            priority_score=Decimal(1)))

    listed = at_risk_not_yet_short(engine, limit=10)

    assert listed[["sku", "warehouse_code", "probability", "explanation"]].values.tolist() == [
        ["SKU-AT-RISK", "DAL", Decimal("0.420000"), "reason of SKU-AT-RISK"]
    ]


def test_risk_job_waits_for_an_exposure_run(engine):
    with engine.begin() as connection:
        job_run_id = make_job_run(connection, job_name="risk", status="running")["id"]

    outcome = risk_job(engine, job_run_id, load_settings())

    assert outcome.counts == {"waiting_for_exposure": 1}


def test_risk_job_scores_with_the_public_data_model_when_history_is_too_short(engine, cover_model):
    now = datetime.now(timezone.utc)
    with engine.begin() as connection:
        version = _store(connection, cover_model)
        item, warehouse = make_item(connection), make_warehouse(connection)
        make_order_line(connection, item_id=item["id"], warehouse_id=warehouse["id"],
                        order_date=now.date() - timedelta(days=10), requested_date=now.date() - timedelta(days=5))
        make_job_run(connection, job_name="exposure", started_at=now - timedelta(minutes=2),
                     finished_at=now - timedelta(minutes=1))
        job_run_id = make_job_run(connection, job_name="risk", status="running", started_at=now)["id"]

    outcome = risk_job(engine, job_run_id, load_settings())

    counts = outcome.counts
    assert (counts["retrained"], counts["history_too_short"], counts["kaggle_model"]) == (0, 1, 1)
    assert (counts["model_version"], counts["pairs"], counts["scored"], counts["no_data"]) == (version, 1, 1, 0)


def test_risk_job_uses_business_date(engine, cover_model):
    now = datetime.now(timezone.utc)
    as_of = date(2020, 11, 2)
    with engine.begin() as connection:
        _store(connection, cover_model)
        item, warehouse = make_item(connection), make_warehouse(connection)
        make_order_line(connection, item_id=item["id"], warehouse_id=warehouse["id"],
                        order_date=as_of - timedelta(days=10), requested_date=as_of - timedelta(days=5))
        make_job_run(connection, job_name="exposure", started_at=now - timedelta(minutes=2),
                     finished_at=now - timedelta(minutes=1))
        job_run_id = make_job_run(connection, job_name="risk", status="running", started_at=now)["id"]

    outcome = risk_job(engine, job_run_id, load_settings({"CONTROL_TOWER_AS_OF": as_of.isoformat()}))

    with engine.connect() as connection:
        feature_dates = connection.execute(select(schema.risk_scores.c.feature_date)).scalars().all()
    assert feature_dates == [as_of]
    assert outcome.counts["scored"] == 1


@pytest.mark.slow
def test_demo_distributor_is_scored_and_history_training_counts_its_weeks(engine, cover_model, tmp_path):
    from seed_data import generate_demo
    from services.risk.service import history_rows, labelled_weeks, train_on_history
    from services.sync.canonical import load_canonical_folder

    generate_demo(tmp_path / "demo", seed=7, lines=1_000, as_of=REFERENCE)
    load_canonical_folder(engine, tmp_path / "demo", source="demo", business_timezone="America/Chicago")
    with engine.begin() as connection:
        _store(connection, cover_model)

    result = score_pairs(engine, as_of=REFERENCE)
    rows = history_rows(engine, REFERENCE)

    with engine.connect() as connection:
        stored = connection.execute(select(schema.risk_scores.c.status)).scalars().all()
    assert result.pairs == len(stored) == result.scored + result.no_data
    assert result.scored > 0
    # Weekly snapshots from 52 to 4 weeks before the reference date, labelled, of pairs with history.
    assert sorted(rows["feature_date"].unique().tolist())[0] == REFERENCE - timedelta(weeks=52)
    assert rows[LABEL_COLUMN].isin([0, 1]).all()
    assert labelled_weeks(rows) == 49
    trained = train_on_history(engine, REFERENCE)
    assert (trained.source, trained.version, trained.training_rows) == ("history", 2, len(rows))


def test_risk_job_without_a_model_succeeds_and_says_how_to_train_one(engine):
    now = datetime.now(timezone.utc)
    with engine.begin() as connection:
        make_job_run(connection, job_name="exposure", started_at=now - timedelta(minutes=2),
                     finished_at=now - timedelta(minutes=1))
        job_run_id = make_job_run(connection, job_name="risk", status="running", started_at=now)["id"]

    outcome = risk_job(engine, job_run_id, load_settings())

    assert (outcome.partial, outcome.counts) == (False, {"retrained": 0, "history_too_short": 1, "no_model": 1})
    assert outcome.error.startswith("no risk model is stored; train one with `control-tower risk train --kaggle PATH`")
