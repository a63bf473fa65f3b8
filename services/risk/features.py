"""The one feature pipeline of the backorder-risk model, for the public data set and the product's own data.

Both sources are first put into the canonical columns of the public
"Can you predict product backorders?" data set (CANONICAL_COLUMNS), in its
units: quantities in units, lead time in weeks, forecasts and sales as
quantities over the named months, supplier performance as an on-time share
between 0 and 1. build_matrix turns such a frame into the model matrix.

Missing values stay missing (NaN): a blank lead time is not a zero lead
time, and -99, the public data set's mark of an unknown supplier
performance, becomes NaN. The gradient-boosted trees route NaN to the side
of each split that fits best. Negative on hand (an ERP that allows stock to
go negative) is kept as it is, because the amount below zero is demand
already owed; the flag negative_on_hand says so to the model and to the
explanations.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd

QUANTITY_COLUMNS = (
    "national_inv",
    "lead_time",
    "in_transit_qty",
    "forecast_3_month",
    "forecast_6_month",
    "forecast_9_month",
    "sales_1_month",
    "sales_3_month",
    "sales_6_month",
    "sales_9_month",
    "min_bank",
    "pieces_past_due",
    "perf_6_month_avg",
    "perf_12_month_avg",
    "local_bo_qty",
)
FLAG_COLUMNS = ("potential_issue", "deck_risk", "oe_constraint", "ppap_risk", "stop_auto_buy", "rev_stop")
CANONICAL_COLUMNS = QUANTITY_COLUMNS + FLAG_COLUMNS
# Columns the public data set lacks and the product has, with the value a
# frame without them gets: open purchase order quantity not yet shipped
# (unknown), and whether min_bank is a real minimum stock (the public data
# set has one; the product's schema has none and sends 0 with this flag 0).
OPTIONAL_COLUMNS = {"open_po_qty": np.nan, "min_bank_known": 1.0}
LABEL_COLUMN = "went_on_backorder"
PERFORMANCE_COLUMNS = ("perf_6_month_avg", "perf_12_month_avg")
MISSING_PERFORMANCE = -99

WEEKS_PER_MONTH = 52 / 12

DERIVED_COLUMNS = (
    "negative_on_hand",
    "weekly_demand",
    "weeks_of_cover",
    "cover_minus_lead_weeks",
    "cover_to_lead_ratio",
    "net_position_3_month",
    "net_position_lead_time",
    "sales_trend_1_to_3",
    "forecast_to_sales_3",
    "past_due_share",
    "min_bank_gap",
)
FEATURE_COLUMNS = CANONICAL_COLUMNS + tuple(OPTIONAL_COLUMNS) + DERIVED_COLUMNS


class MissingColumns(ValueError):
    """A feature file or frame lacks canonical columns the model needs."""

    def __init__(self, missing: list[str], where: str):
        self.missing = missing
        super().__init__(
            f"{where} lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
            f"add {'them' if len(missing) > 1 else 'it'} with the names of the public backorder data set "
            f"(every column of services.risk.features.CANONICAL_COLUMNS is required, blank where unknown)"
        )


def check_columns(frame: pd.DataFrame, where: str, *, label: bool = False) -> None:
    """Raise MissingColumns naming every canonical column (and the label when asked) that frame lacks."""
    wanted = CANONICAL_COLUMNS + ((LABEL_COLUMN,) if label else ())
    missing = [name for name in wanted if name not in frame.columns]
    if missing:
        raise MissingColumns(missing, where)


def _flag(values: pd.Series) -> np.ndarray:
    """Turn Yes/No text, booleans or 0/1 into 0.0/1.0, keeping unknown values as NaN."""
    if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
        text = values.astype("string").str.strip().str.lower()
        mapped = text.map({"yes": 1.0, "no": 0.0, "true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0})
        return mapped.astype("float64").to_numpy()
    return pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()


def canonical_values(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the canonical columns as float64, flags as 0/1 and -99 performance as NaN."""
    check_columns(frame, "the feature frame")
    values = pd.DataFrame(index=frame.index)
    for name in QUANTITY_COLUMNS:
        values[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    for name in PERFORMANCE_COLUMNS:
        values.loc[values[name] == MISSING_PERFORMANCE, name] = np.nan
    for name in FLAG_COLUMNS:
        values[name] = _flag(frame[name])
    for name, default in OPTIONAL_COLUMNS.items():
        values[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64") if name in frame.columns else default
    return values


def _ratio(numerator: np.ndarray, denominator: np.ndarray, cap: float) -> np.ndarray:
    """numerator / denominator clipped to [-cap, cap], and cap (signed) where the denominator is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = numerator / denominator
    ratio = np.where((denominator == 0) & (numerator != 0), np.sign(numerator) * cap, ratio)
    ratio = np.where((denominator == 0) & (numerator == 0), 0.0, ratio)
    return np.clip(ratio, -cap, cap)


def build_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn a frame with the canonical columns into the model matrix of FEATURE_COLUMNS.

    Weekly demand is the larger of the 3-month forecast and 3-month sales
    rates, so a forecast of zero against real sales still shows demand.
    Weeks of cover is on hand plus in transit over weekly demand, capped at
    520 (10 years) for items without demand.
    """
    values = canonical_values(frame)
    on_hand = values["national_inv"].to_numpy()
    in_transit = values["in_transit_qty"].to_numpy()
    lead_weeks = values["lead_time"].to_numpy()
    forecast_3 = values["forecast_3_month"].to_numpy()
    sales_1 = values["sales_1_month"].to_numpy()
    sales_3 = values["sales_3_month"].to_numpy()
    weekly_demand = np.fmax(forecast_3, sales_3) / (3 * WEEKS_PER_MONTH)
    supply = on_hand + in_transit
    cover = _ratio(supply, weekly_demand, 520.0)

    values["negative_on_hand"] = (on_hand < 0).astype("float64")
    values["weekly_demand"] = weekly_demand
    values["weeks_of_cover"] = cover
    values["cover_minus_lead_weeks"] = cover - lead_weeks
    values["cover_to_lead_ratio"] = _ratio(cover, lead_weeks, 100.0)
    values["net_position_3_month"] = supply - forecast_3
    values["net_position_lead_time"] = supply - weekly_demand * np.nan_to_num(lead_weeks, nan=0.0)
    values["sales_trend_1_to_3"] = _ratio(3 * sales_1, sales_3, 10.0)
    values["forecast_to_sales_3"] = _ratio(forecast_3, sales_3, 10.0)
    values["past_due_share"] = _ratio(values["pieces_past_due"].to_numpy(), np.fmax(forecast_3, 1.0), 10.0)
    values["min_bank_gap"] = values["min_bank"].to_numpy() - supply
    # Rows of unknown lead time keep NaN in every lead-time feature.
    unknown_lead = np.isnan(lead_weeks)
    values.loc[unknown_lead, ["cover_to_lead_ratio", "net_position_lead_time"]] = np.nan
    return values[list(FEATURE_COLUMNS)]


def read_backorder_csv(path: Path) -> pd.DataFrame:
    """Read a file in the public data set's layout (.csv or .csv.gz) with its label column.

    The public file ends with a footer line such as "(242075 rows)", which is
    dropped. Raises MissingColumns naming the absent columns.
    """
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    lines = raw.rstrip(b"\r\n").rsplit(b"\n", 1)
    if len(lines) == 2 and lines[1].strip().startswith(b"(") and lines[1].strip().endswith(b"rows)"):
        raw = lines[0] + b"\n"
    frame = pd.read_csv(io.BytesIO(raw), dtype={"sku": "string"}, low_memory=False)
    check_columns(frame, f"{path}", label=True)
    frame = frame.dropna(subset=[LABEL_COLUMN]).reset_index(drop=True)
    return frame


def labels_of(frame: pd.DataFrame) -> np.ndarray:
    """Return went_on_backorder as 0/1 integers."""
    if LABEL_COLUMN not in frame.columns:
        raise MissingColumns([LABEL_COLUMN], "the training frame")
    return np.nan_to_num(_flag(frame[LABEL_COLUMN]), nan=0.0).astype(np.int8)
