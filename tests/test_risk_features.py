"""The risk feature pipeline keeps unknown values unknown and refuses what it cannot read or learn from."""

from __future__ import annotations

import gzip
import math

import numpy as np
import pandas as pd
import pytest

from services.risk.features import (
    MissingColumns,
    build_matrix,
    labels_of,
    read_backorder_csv,
)
from services.risk.model import TrainingRefused, train_model

# The header of the public file.
HEADER = (
    "sku,national_inv,lead_time,in_transit_qty,forecast_3_month,forecast_6_month,forecast_9_month,sales_1_month,"
    "sales_3_month,sales_6_month,sales_9_month,min_bank,potential_issue,pieces_past_due,perf_6_month_avg,"
    "perf_12_month_avg,local_bo_qty,deck_risk,oe_constraint,ppap_risk,stop_auto_buy,rev_stop,went_on_backorder"
)


def canonical_row(**overrides) -> dict:
    row = {
        "national_inv": 10, "lead_time": 6, "in_transit_qty": 0, "forecast_3_month": 26, "forecast_6_month": 52,
        "forecast_9_month": 78, "sales_1_month": 8, "sales_3_month": 26, "sales_6_month": 50, "sales_9_month": 75,
        "min_bank": 0, "pieces_past_due": 0, "perf_6_month_avg": 0.4, "perf_12_month_avg": 0.5, "local_bo_qty": 0,
        "potential_issue": "No", "deck_risk": "No", "oe_constraint": "No", "ppap_risk": "No", "stop_auto_buy": "Yes",
        "rev_stop": "No",
    }
    row.update(overrides)
    return row


def test_blank_lead_time_stays_missing_not_zero():
    frame = pd.DataFrame([canonical_row(lead_time=None)])

    matrix = build_matrix(frame)

    assert math.isnan(matrix.at[0, "lead_time"])
    assert math.isnan(matrix.at[0, "cover_minus_lead_weeks"])
    assert math.isnan(matrix.at[0, "cover_to_lead_ratio"])


def test_minus_99_performance_becomes_missing():
    frame = pd.DataFrame([canonical_row(perf_6_month_avg=-99, perf_12_month_avg=-99.0)])

    matrix = build_matrix(frame)

    assert math.isnan(matrix.at[0, "perf_6_month_avg"])
    assert math.isnan(matrix.at[0, "perf_12_month_avg"])


def test_negative_on_hand_is_kept_and_flagged():
    frame = pd.DataFrame([canonical_row(national_inv=-25, in_transit_qty=5)])

    matrix = build_matrix(frame)

    assert matrix.at[0, "national_inv"] == -25
    assert matrix.at[0, "negative_on_hand"] == 1.0
    # 26 units over 13 weeks is 2 a week, so -20 units of supply is -10 weeks of cover.
    assert matrix.at[0, "weeks_of_cover"] == pytest.approx(-10.0)
    assert matrix.at[0, "cover_minus_lead_weeks"] == pytest.approx(-16.0)


def test_weeks_of_cover_counts_on_hand_and_in_transit_against_weekly_demand():
    frame = pd.DataFrame([canonical_row(national_inv=3, in_transit_qty=1)])

    matrix = build_matrix(frame)

    assert matrix.at[0, "weekly_demand"] == pytest.approx(2.0)
    assert matrix.at[0, "weeks_of_cover"] == pytest.approx(2.0)
    assert matrix.at[0, "cover_to_lead_ratio"] == pytest.approx(2 / 6)


def test_yes_no_flags_become_one_and_zero():
    frame = pd.DataFrame([canonical_row(deck_risk="Yes", stop_auto_buy="No")])

    matrix = build_matrix(frame)

    assert (matrix.at[0, "deck_risk"], matrix.at[0, "stop_auto_buy"], matrix.at[0, "rev_stop"]) == (1.0, 0.0, 0.0)


def test_missing_column_is_named_with_what_to_do():
    frame = pd.DataFrame([canonical_row()]).drop(columns=["lead_time", "perf_12_month_avg"])

    with pytest.raises(MissingColumns) as error:
        build_matrix(frame)

    assert str(error.value) == (
        "the feature frame lacks the columns lead_time, perf_12_month_avg; add them with the names of the public "
        "backorder data set (every column of services.risk.features.CANONICAL_COLUMNS is required, blank where unknown)"
    )


def test_file_without_label_column_is_refused_naming_it(tmp_path):
    path = tmp_path / "skus.csv"
    path.write_text(HEADER.rsplit(",", 1)[0] + "\n1,10,6,0,26,52,78,8,26,50,75,0,No,0,0.4,0.5,0,No,No,No,Yes,No\n")

    with pytest.raises(MissingColumns, match=f"{path} lacks the column went_on_backorder; add it"):
        read_backorder_csv(path)


def test_footer_line_of_the_public_file_is_dropped(tmp_path):
    path = tmp_path / "sample.csv.gz"
    body = HEADER + "\n1,10,,0,26,52,78,8,26,50,75,0,No,0,-99,-99,0,No,No,No,Yes,No,Yes\n" \
        + "2,5,8,0,0,0,0,0,0,0,0,1,No,0,0.9,0.8,0,No,No,No,Yes,No,No\n(2 rows)\n"
    path.write_bytes(gzip.compress(body.encode()))

    frame = read_backorder_csv(path)

    assert frame["sku"].tolist() == ["1", "2"]
    assert labels_of(frame).tolist() == [1, 0]
    assert math.isnan(frame.at[0, "lead_time"])


def test_all_negative_training_window_is_refused_saying_why():
    frame = pd.DataFrame([canonical_row()] * 40)
    labels = np.zeros(40, dtype=np.int8)

    with pytest.raises(TrainingRefused) as error:
        train_model(frame, labels, where="the weeks 2026-01-05 to 2026-02-23")

    assert str(error.value) == (
        "the weeks 2026-01-05 to 2026-02-23 has 40 rows and none went on backorder, so there is nothing to learn a "
        "risk from; widen the training window or train on the public data set (control-tower risk train --kaggle PATH)"
    )


def test_cover_reason_says_when_the_lead_time_is_unknown():
    from services.risk.explain import describe

    known = build_matrix(pd.DataFrame([canonical_row(national_inv=3, in_transit_qty=1)])).iloc[0]
    unknown = build_matrix(pd.DataFrame([canonical_row(national_inv=3, in_transit_qty=1, lead_time=None)])).iloc[0]

    assert describe("cover_to_lead_ratio", known) == "2.0 weeks of cover against a 6-week lead time"
    assert describe("lead_time", unknown) == "2.0 weeks of cover against an unknown lead time"
    assert describe("perf_6_month_avg", known) == "supplier 40% on time over 6 months, 50% over 12 months"
