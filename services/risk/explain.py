"""Plain-words reasons for a flagged pair, from the features that raise its probability most.

Method: for each of the CANDIDATES most important features of the model
(permutation importance on the training rows), the row's value is replaced
by the median of that feature over the training rows that did not go on
backorder, and the probability is predicted again. The features whose
replacement lowers the probability most, by at least MIN_DROP, are the
reasons, largest drop first. This is a one-feature-at-a-time attribution:
it ignores interactions between features, and it says how much more typical
a value would have made the pair look, not a causal effect.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

CANDIDATES = 8
REASONS = 3
MIN_DROP = 0.01

# Features that say the same thing in words share a group; one reason per group.
GROUPS = {
    "weeks_of_cover": "cover", "cover_minus_lead_weeks": "cover", "cover_to_lead_ratio": "cover",
    "net_position_lead_time": "cover", "net_position_3_month": "cover", "weekly_demand": "cover",
    "national_inv": "cover", "negative_on_hand": "cover", "min_bank_gap": "cover", "lead_time": "cover",
    "forecast_3_month": "demand", "forecast_6_month": "demand", "forecast_9_month": "demand",
    "sales_1_month": "demand", "sales_3_month": "demand", "sales_6_month": "demand", "sales_9_month": "demand",
    "sales_trend_1_to_3": "trend", "forecast_to_sales_3": "trend",
    "perf_6_month_avg": "supplier", "perf_12_month_avg": "supplier",
    "pieces_past_due": "past_due", "past_due_share": "past_due",
}


def _number(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    return f"{value:,.0f}" if abs(value) >= 10 or float(value).is_integer() else f"{value:,.1f}"


def _lead_time(value: float) -> str:
    if math.isnan(value):
        return "an unknown lead time"
    return f"a {value:.0f}-week lead time" if value >= 1 else "a lead time under 1 week"


def describe(feature: str, row: pd.Series) -> str:
    """Describe the feature's value in the row in one phrase, in the planner's words."""
    group = GROUPS.get(feature, feature)
    if group == "cover":
        if row["national_inv"] < 0:
            return f"on hand is negative ({_number(row['national_inv'])}), so demand is already owed"
        cover = row["weeks_of_cover"]
        if cover >= 520:
            cover_text = "over 10 years"
        elif cover < 10:
            cover_text = f"{cover:.1f} weeks"
        else:
            cover_text = f"{cover:.0f} weeks"
        return f"{cover_text} of cover against {_lead_time(row['lead_time'])}"
    if group == "demand":
        return (f"demand of {_number(row['sales_1_month'])} in the last month and "
                f"{_number(row['sales_3_month'])} over 3 months, forecast {_number(row['forecast_3_month'])} for the next 3")
    if group == "trend":
        return f"last month's sales run at {row['sales_trend_1_to_3']:.1f} times the 3-month rate"
    if group == "supplier":
        six, twelve = row["perf_6_month_avg"], row["perf_12_month_avg"]
        if math.isnan(six) and math.isnan(twelve):
            return "no supplier on-time record"
        parts = [f"{six:.0%} on time over 6 months" if not math.isnan(six) else None,
                 f"{twelve:.0%} over 12 months" if not math.isnan(twelve) else None]
        return "supplier " + ", ".join(part for part in parts if part)
    if group == "past_due":
        return f"{_number(row['pieces_past_due'])} units past due from suppliers"
    phrases = {
        "local_bo_qty": lambda: f"{_number(row['local_bo_qty'])} units already on backorder",
        "in_transit_qty": lambda: f"{_number(row['in_transit_qty'])} units in transit",
        "open_po_qty": lambda: f"{_number(row['open_po_qty'])} units on open purchase orders not yet shipped",
        "potential_issue": lambda: "the supplier reported a backorder, a rejection or a later date in the last 4 weeks",
        "deck_risk": lambda: "stock on quality hold",
        "ppap_risk": lambda: "a regulated item",
        "oe_constraint": lambda: "an operational constraint on the part",
        "stop_auto_buy": lambda: "automatic buying stopped",
        "rev_stop": lambda: "a revision stop on the part",
        "min_bank": lambda: f"a minimum stock of {_number(row['min_bank'])}",
        "min_bank_known": lambda: "no minimum stock recorded",
        "open_po_qty_known": lambda: "open purchase orders unknown",
    }
    return phrases.get(feature, lambda: f"{feature.replace('_', ' ')} {_number(row[feature])}")()


def top_reasons(model, matrix: pd.DataFrame, probabilities: np.ndarray) -> list[list[str]]:
    """Return, per row, the features whose replacement by the typical value lowers its probability most."""
    ranked = sorted(model.importances, key=lambda name: -model.importances[name])
    candidates = [name for name in ranked if model.importances[name] > 0][:CANDIDATES]
    if not len(matrix) or not candidates:
        return [[] for _ in range(len(matrix))]
    drops = np.zeros((len(matrix), len(candidates)))
    for position, name in enumerate(candidates):
        typical = matrix.copy()
        typical[name] = model.negative_medians[name]
        drops[:, position] = probabilities - model.predict(typical)
    reasons = []
    for row_drops in drops:
        chosen, groups = [], set()
        for position in np.argsort(-row_drops):
            name = candidates[position]
            group = GROUPS.get(name, name)
            if row_drops[position] < MIN_DROP or group in groups:
                continue
            chosen.append(name)
            groups.add(group)
            if len(chosen) == REASONS:
                break
        reasons.append(chosen)
    return reasons


def explain_rows(model, matrix: pd.DataFrame, probabilities: np.ndarray) -> list[str]:
    """One sentence per row: the reasons in plain words, or why none stands out."""
    texts = []
    for (_, row), names in zip(matrix.iterrows(), top_reasons(model, matrix, probabilities)):
        if names:
            texts.append("; ".join(describe(name, row) for name in names))
        else:
            texts.append("no single feature stands out; the risk comes from the combination of "
                         + describe("weeks_of_cover", row))
    return texts
