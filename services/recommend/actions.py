"""Recommendations from a solved allocation: one row per part of a line, with its action, impact, explanation and class.

Actions:

| action | when |
|---|---|
| allocate | the line's one part is free stock in its own warehouse, or a purchase order line arriving by the due date |
| transfer | the line's one part is free stock in another warehouse, sent through a transfer lane |
| substitute | the line's one part is a substitute item's free stock in the line's warehouse |
| expedite | the line's one part is a purchase order line expected after the due date: ask the supplier to pull it in |
| split | the line is covered by two or more sources; each part is a row, and its source columns say its kind |
| escalate | no source covers the line, or the rest of it after its parts |

A row's item_id is the ordered item and qty the units of it covered; a
substitution takes ratio x qty units of substitute_item_id. Stock parts name
source_warehouse_id (the line's own warehouse for allocate and substitute),
purchase order parts name source_po_line_id.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import pandas as pd

from services.exposure.netting import NO_DAY, date_of_day
from services.recommend.allocation import Allocation, Arcs, SourceKind, Sources, priorities
from services.recommend.governance import GovernanceFacts, GovernancePolicy, classify
from services.recommend.repository import RunInput
from services.recommend.versions import data_version, inventory_part, po_line_part, so_line_part

ALLOCATE, TRANSFER, SUBSTITUTE, SPLIT, EXPEDITE, ESCALATE = (
    "allocate", "transfer", "substitute", "split", "expedite", "escalate",
)
# Quantities below this are solver noise, not a part or a remainder.
QTY_EPSILON = 5e-7
CENT = Decimal("0.0001")


@dataclass(frozen=True)
class _Part:
    """One recommendation row before it is written."""

    line: int
    arc: int  # -1 for an escalation
    qty: float
    action: str


def _parts(run: RunInput, arcs: Arcs, allocation: Allocation) -> list[_Part]:
    """Split each line's allocation into parts: one per arc with units, and an escalation for the uncovered rest."""
    lines = run.allocation.lines
    demand = lines["demand"].to_numpy(np.float64)
    due = lines["due_day"].to_numpy(np.int64)
    used = np.flatnonzero(allocation.qty > QTY_EPSILON) if len(arcs) else np.zeros(0, dtype=np.int64)
    covered = np.bincount(arcs.line[used], weights=allocation.qty[used], minlength=len(lines)) if len(used) else np.zeros(len(lines))
    part_count = np.bincount(arcs.line[used], minlength=len(lines)) if len(used) else np.zeros(len(lines), dtype=np.int64)

    parts = []
    for arc in used.tolist():
        line = int(arcs.line[arc])
        if part_count[line] > 1:
            action = SPLIT
        else:
            action = _single_action(int(arcs.kind[arc]), int(arcs.arrival_day[arc]), int(due[line]))
        parts.append(_Part(line=line, arc=arc, qty=float(allocation.qty[arc]), action=action))
    rest = np.round(demand - covered, 6)
    for line in np.flatnonzero(rest > QTY_EPSILON).tolist():
        parts.append(_Part(line=line, arc=-1, qty=float(rest[line]), action=ESCALATE))
    return parts


def _single_action(kind: int, arrival_day: int, due_day: int) -> str:
    if kind == SourceKind.STOCK:
        return ALLOCATE
    if kind == SourceKind.TRANSFER:
        return TRANSFER
    if kind == SourceKind.SUBSTITUTE:
        return SUBSTITUTE
    return EXPEDITE if arrival_day > due_day else ALLOCATE


def _displaced(run: RunInput, sources: Sources, arcs: Arcs, allocation: Allocation) -> dict[int, list[tuple[int, float]]]:
    """Return per exhausted source the two highest-priority lines that could take from it and stay short.

    Each entry is (line position, units the line stays short).
    """
    if not len(arcs):
        return {}
    lines = run.allocation.lines
    served = np.bincount(arcs.line, weights=allocation.qty, minlength=len(lines))
    short = lines["demand"].to_numpy(np.float64) - served
    taken = np.bincount(arcs.source, weights=allocation.qty * arcs.rate, minlength=len(sources.capacity))
    exhausted = taken >= sources.capacity - 1e-6
    candidates = np.flatnonzero(exhausted[arcs.source] & (short[arcs.line] > QTY_EPSILON))
    if not len(candidates):
        return {}
    frame = pd.DataFrame({
        "source": arcs.source[candidates], "line": arcs.line[candidates],
        "priority": priorities(lines)[arcs.line[candidates]], "short": short[arcs.line[candidates]],
    }).sort_values(["source", "priority", "line"], ascending=[True, False, True]).groupby("source").head(2)
    result: dict[int, list[tuple[int, float]]] = {}
    for source, line, remaining in zip(frame["source"].tolist(), frame["line"].tolist(), frame["short"].tolist()):
        result.setdefault(source, []).append((line, remaining))
    return result


def _money(qty: float, price: Decimal) -> Decimal:
    return (Decimal(f"{qty:.6f}") * price).quantize(CENT, rounding=ROUND_HALF_EVEN)


def _qty_text(qty: float) -> str:
    return f"{qty:.6f}".rstrip("0").rstrip(".")


def _iso(day: int) -> str | None:
    found = date_of_day(day)
    return found.isoformat() if found else None


class _Explainer:
    """Sentences of a recommendation's explanation: why this line, why this source, whom it displaces."""

    def __init__(self, run: RunInput):
        self.run = run
        self.lines = run.allocation.lines.to_dict("records")
        self.skus = dict(zip(run.items["item_id"].tolist(), run.items["sku"].tolist()))
        self.codes = run.warehouse_codes

    def line_name(self, line: int) -> str:
        row = self.lines[line]
        return f"{row['order_number']}/{row['line_number']}"

    def why_line(self, line: int) -> str:
        row = self.lines[line]
        components = ", ".join(
            f"{label} {row[column]}" for label, column in (
                ("tier", "score_tier"), ("SLA", "score_sla"), ("margin", "score_margin"),
                ("fill gap", "score_fill_gap"), ("age", "score_age"), ("churn", "score_churn"),
            )
        )
        return (
            f"Line {self.line_name(line)} of {row['customer_code']} ({row['tier']}) waits for "
            f"{_qty_text(row['demand'])} of {self.skus.get(row['item_id'], row['item_id'])} at "
            f"{self.codes.get(row['warehouse_id'], row['warehouse_id'])}, due {_iso(row['due_day'])}; "
            f"priority {row['priority_text']} ({components}), {row['exposure_status']}, root cause {row['root_cause']}."
        )

    def why_source(self, part: _Part, arcs: Arcs, purchase: dict | None, ratio_text: str | None) -> str:
        row = self.lines[part.line]
        qty = _qty_text(part.qty)
        if part.arc < 0:
            return f"No free stock, transfer, inbound purchase order line or allowed substitute is left for {qty} of it."
        arc = part.arc
        kind = int(arcs.kind[arc])
        arrival = _iso(int(arcs.arrival_day[arc]))
        if kind == SourceKind.STOCK:
            return f"{qty} from free stock at {self.codes.get(int(arcs.source_warehouse_id[arc]))}, available {arrival}."
        if kind == SourceKind.TRANSFER:
            source = int(arcs.source_warehouse_id[arc])
            lead = int(arcs.arrival_day[arc] - row["today"])
            return (
                f"{qty} by transfer from {self.codes.get(source)} at {arcs.unit_cost[arc]:.2f} a unit, arriving {arrival} "
                f"after {lead} lead days."
            )
        if kind == SourceKind.SUBSTITUTE:
            substitute = int(arcs.substitute_item_id[arc])
            return (
                f"{qty} replaced by {self.skus.get(substitute, substitute)} ({ratio_text} per ordered unit) from free stock at "
                f"{self.codes.get(int(arcs.source_warehouse_id[arc]))}, available {arrival}; the customer may receive it."
            )
        name = f"purchase order line {purchase['po_number']}/{purchase['line_number']}"
        confidence = f", confidence {purchase['confidence']}" if purchase["confidence"] else ""
        expected = f"expected {purchase['expected_date']} ({purchase['date_source']}{confidence})"
        late = int(arcs.arrival_day[arc] - row["due_day"])
        if late > 0:
            return f"{qty} on {name}, {expected}, {late} days after the due date: ask the supplier to pull it in."
        return f"{qty} on {name}, {expected}, by the due date."

    def displacement(self, part: _Part, arcs: Arcs, displaced: dict) -> str:
        if part.arc < 0:
            return ""
        for line, remaining in displaced.get(int(arcs.source[part.arc]), []):
            if line != part.line:
                other = self.lines[line]
                return (
                    f" It takes the last of this source, which line {self.line_name(line)} (priority {other['priority_text']}) "
                    f"could also take; that line stays {_qty_text(remaining)} short."
                )
        return ""


def build_recommendations(run: RunInput, sources: Sources, arcs: Arcs, allocation: Allocation,
                          policy: GovernancePolicy) -> pd.DataFrame:
    """Return one row per recommendation with the columns of the recommendations table, and the governance rule."""
    explainer = _Explainer(run)
    lines = explainer.lines
    stock = run.allocation.stock.to_dict("records")
    purchases = run.allocation.purchases.to_dict("records")
    substitutes = run.allocation.substitutes.to_dict("records")
    items = {row["item_id"]: row for row in run.items.to_dict("records")}
    displaced = _displaced(run, sources, arcs, allocation)

    rows = []
    for part in _parts(run, arcs, allocation):
        line = lines[part.line]
        price = Decimal(line["unit_price"])
        so_line = so_line_part(line["so_line_id"], line["ordered_qty"], line["shipped_qty"], line["cancelled_qty"], line["status"])
        row = {
            "so_line_id": int(line["so_line_id"]), "action": part.action, "item_id": int(line["item_id"]),
            "qty": f"{part.qty:.6f}", "source_warehouse_id": None, "source_po_line_id": None, "substitute_item_id": None,
            "expected_date": None, "revenue_recovered": Decimal(0), "days_saved": 0, "cost": Decimal(0),
            "currency": line["currency"],
        }
        purchase = None
        ratio_text = None
        supply = None
        facts = {"substitute_margin_share": None, "substitute_needs_approval": False, "forecast_confidence": None}
        regulated = bool(items[int(line["item_id"])]["regulated"])
        if part.arc >= 0:
            arc = part.arc
            kind = int(arcs.kind[arc])
            arrival = int(arcs.arrival_day[arc])
            row["expected_date"] = _iso(arrival)
            row["revenue_recovered"] = _money(part.qty, price)
            row["cost"] = _money(part.qty, Decimal(f"{arcs.unit_cost[arc]:.4f}"))
            if kind == SourceKind.PURCHASE:
                purchase = purchases[int(arcs.source[arc]) - sources.stock_count]
                row["source_po_line_id"] = int(purchase["po_line_id"])
                supply = po_line_part(purchase["po_line_id"], purchase["ordered_qty"], purchase["received_qty"],
                                      purchase["cancelled_qty"], purchase["status"], purchase["expected_date"])
                facts["forecast_confidence"] = purchase["confidence"] or None
            else:
                source = stock[int(arcs.source[arc])]
                row["source_warehouse_id"] = int(source["warehouse_id"])
                supply = inventory_part(source["item_id"], source["warehouse_id"], source["on_hand_qty"], source["quality_hold_qty"])
            if kind == SourceKind.SUBSTITUTE:
                substitute = substitutes[int(arcs.substitute_row[arc])]
                row["substitute_item_id"] = int(substitute["substitute_item_id"])
                ratio_text = substitute["ratio_text"]
                substitute_cost = Decimal(str(items[int(substitute["substitute_item_id"])]["unit_cost"]))
                margin = (price - Decimal(ratio_text) * substitute_cost) / price if price else Decimal(0)
                facts["substitute_margin_share"] = margin.quantize(CENT)
                facts["substitute_needs_approval"] = bool(substitute["needs_approval"])
                regulated = regulated or bool(items[int(substitute["substitute_item_id"])]["regulated"])
            row["days_saved"] = _days_saved(part.action, arrival, int(line["projected_day"]), int(line["due_day"]))
        value = row["revenue_recovered"] if part.arc >= 0 else _money(part.qty, price)
        decided = classify(policy, GovernanceFacts(
            action=part.action, value=value, customer_tier=line["tier"], regulated=regulated, **facts,
        ))
        row["governance_class"] = decided.governance_class
        row["governance_rule"] = decided.rule
        row["explanation"] = (
            explainer.why_line(part.line) + " " + explainer.why_source(part, arcs, purchase, ratio_text)
            + explainer.displacement(part, arcs, displaced)
            + f" Needs {_approval_text(decided.governance_class)} by rule {decided.rule}."
        )
        row["data_version"] = data_version(so_line, supply)
        rows.append(row)
    return _frame(rows)


def _days_saved(action: str, arrival: int, projected: int, due: int) -> int:
    """Days earlier than the line's projected date; for an expedite, the days the supplier must pull in to meet the due date."""
    if action == EXPEDITE:
        return max(arrival - due, 0)
    if projected == NO_DAY:
        return 0
    return max(projected - arrival, 0)


def _approval_text(governance_class: str) -> str:
    return {"auto": "no approval", "planner": "a planner's approval", "leader": "a leader's approval"}[governance_class]


ROW_COLUMNS = (
    "so_line_id", "action", "item_id", "qty", "source_warehouse_id", "source_po_line_id", "substitute_item_id",
    "expected_date", "revenue_recovered", "days_saved", "cost", "currency", "explanation", "governance_class",
    "governance_rule", "data_version",
)


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(ROW_COLUMNS))
    for name in ("source_warehouse_id", "source_po_line_id", "substitute_item_id"):
        frame[name] = pd.array(frame[name].tolist(), dtype="Int64")
    return frame
