"""The weekly KPIs: their names, units and written definitions, shown on the page and in docs/kpis.md.

A week starts on Monday and covers seven business dates. A share is stored
as a fraction from 0 to 1 with its numerator and denominator.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class KpiUnit(StrEnum):
    SHARE = "share"
    HOURS = "hours"
    MONEY = "money"


@dataclass(frozen=True)
class KpiDefinition:
    """One KPI: its key in kpi_snapshots, its label, its unit, whether higher is better, and its definition."""

    key: str
    label: str
    unit: KpiUnit
    higher_is_better: bool
    definition: str
    # A state KPI measures the tables when the snapshot is taken, so it
    # cannot be rebuilt for an earlier week.
    state: bool = False


FILL_RATE = KpiDefinition(
    "fill_rate", "Fill rate", KpiUnit.SHARE, True,
    "Units shipped by the requested date over units ordered, for the order lines whose requested date "
    "falls in the week. Units ordered are net of cancelled units, so a fully cancelled line leaves the "
    "figure. A line's shipped units count up to its net ordered units, so over-shipping one line cannot "
    "make up for another. Ship dates come from the customer shipments of each line, so a line shipped "
    "in two shipments counts the units of each shipment made by the requested date.",
)
OTIF = KpiDefinition(
    "otif", "OTIF", KpiUnit.SHARE, True,
    "On time in full: the share of order lines with a requested date in the week whose shipments reached "
    "the net ordered quantity on or before the requested date. A line shipped in parts is complete on the "
    "date of the shipment that brought it to its full quantity. A line still short when the week is "
    "measured counts as a miss. Fully cancelled lines leave the figure.",
)
PROMISE_ACCURACY_FIRST = KpiDefinition(
    "promise_accuracy_first", "Promise accuracy (first promise)", KpiUnit.SHARE, True,
    "The share of order lines whose first promised date falls in the week that were shipped in full on "
    "or before that first promise. Lines without a promise and fully cancelled lines leave the figure.",
)
PROMISE_ACCURACY_CURRENT = KpiDefinition(
    "promise_accuracy_current", "Promise accuracy (current promise)", KpiUnit.SHARE, True,
    "The share of order lines whose current promised date falls in the week that were shipped in full on "
    "or before that current promise. Lines without a promise and fully cancelled lines leave the figure.",
)
PROMISE_STABILITY = KpiDefinition(
    "promise_stability", "Promise stability", KpiUnit.SHARE, True,
    "The share of order lines whose current promised date falls in the week and whose current promise "
    "still equals their first promise, that is, lines never re-promised. The order line keeps only its "
    "first and its current promised date, so a line re-promised twice counts like a line re-promised once.",
)
BACKLOG_AGING = KpiDefinition(
    "backlog_aging", "Backlog older than 30 days", KpiUnit.SHARE, False,
    "The share of open backlog lines (status open, ordered minus shipped minus cancelled above zero) whose "
    "order date is more than 30 days before the last day of the week. The buckets 0-7, 8-30, 31-60 and "
    "61+ days give each age band's share of the open lines. Measured from the order lines when the "
    "snapshot is taken.",
    state=True,
)
REVENUE_AT_RISK = KpiDefinition(
    "revenue_at_risk", "Revenue at risk", KpiUnit.MONEY, False,
    "The sum of revenue at risk over the exposed order lines (every exposure status except on track), "
    "per currency, as the latest exposure recompute stored it when the snapshot is taken.",
    state=True,
)
EXCEPTION_CYCLE_TIME = KpiDefinition(
    "exception_cycle_time", "Exception cycle time", KpiUnit.HOURS, False,
    "The mean hours from detection to resolution over the decisions made in the week. An exception is "
    "detected when a recommendation for its order line is created, and resolved when a planner or leader "
    "approves or rejects that recommendation. Recommendations never decided are not counted.",
)
RECOMMENDATION_ACCEPTANCE = KpiDefinition(
    "recommendation_acceptance", "Recommendation acceptance", KpiUnit.SHARE, True,
    "Approved recommendations over decided recommendations (approved plus rejected), for the decisions "
    "made in the week in the business time zone.",
)

KPIS: tuple[KpiDefinition, ...] = (
    FILL_RATE, OTIF, PROMISE_ACCURACY_FIRST, PROMISE_ACCURACY_CURRENT, PROMISE_STABILITY, BACKLOG_AGING,
    REVENUE_AT_RISK, EXCEPTION_CYCLE_TIME, RECOMMENDATION_ACCEPTANCE,
)
KPIS_BY_KEY = {kpi.key: kpi for kpi in KPIS}

ALL_SCOPE = "all"
# Age bands of the backlog, in days since the order date: (scope, lowest age, highest age or None).
BACKLOG_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-7 days", 0, 7), ("8-30 days", 8, 30), ("31-60 days", 31, 60), ("61+ days", 61, None),
)
BACKLOG_OLD_DAYS = 30
