"""The priority score of an order line: a weighted sum of six components, each kept for the explanation.

Each component first becomes a value between 0 and 1, so the weights
compare: the customer's tier maps to a fixed value, and every unbounded
fact x maps to x / (x + reference), which is half at its reference and
approaches 1 above it. A component contributes weight x value points,
rounded to 4 decimals, and the score is the exact sum of the contributions.
Scores are held as integers of 1/10,000 point, and money as integers of
1/10,000 currency unit, so sums are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.exposure.settings import PriorityWeights

TIER_VALUES = {"strategic": 1.0, "key": 0.6, "standard": 0.2}
# Each reference is the fact at which its component reaches half its weight.
SLA_REFERENCE = 500.0  # penalty in the line's currency
MARGIN_REFERENCE = 500.0  # margin of the open quantity in the line's currency
FILL_GAP_REFERENCE = 0.05  # fill rate share below the contract target
AGE_REFERENCE_DAYS = 14.0
LATE_SHARE_REFERENCE = 0.2  # share of the customer's recent lines that were late
SCALE = 10_000  # score and money are integers of 1/SCALE


@dataclass(frozen=True)
class PriorityFacts:
    """The facts behind each line's score, one array element per line.

    tier_value is the customer's tier from TIER_VALUES. Money is in integers
    of 1/10,000 currency unit. fill_gap and late_share are shares between 0
    and 1, and 0 when the customer has no recent lines.
    """

    tier_value: np.ndarray
    sla_penalty: np.ndarray
    margin: np.ndarray
    fill_gap: np.ndarray
    age_days: np.ndarray
    late_share: np.ndarray


@dataclass(frozen=True)
class ScoreComponents:
    """Points each component adds, in integers of 1/10,000 point, one array element per line."""

    tier: np.ndarray
    sla: np.ndarray
    margin: np.ndarray
    fill_gap: np.ndarray
    age: np.ndarray
    churn: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return self.tier + self.sla + self.margin + self.fill_gap + self.age + self.churn

    def as_dict(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in PriorityWeights.names()}


def _saturating(values: np.ndarray, reference: float) -> np.ndarray:
    values = np.maximum(np.asarray(values, dtype=np.float64), 0.0)
    return values / (values + reference)


def _points(weight, share: np.ndarray) -> np.ndarray:
    return np.rint(float(weight) * share * SCALE).astype(np.int64)


def tier_values(tiers: np.ndarray) -> np.ndarray:
    """Map tier names to values; an unknown tier counts as standard."""
    tiers = np.asarray(tiers, dtype=object)
    values = np.full(len(tiers), TIER_VALUES["standard"])
    for name, value in TIER_VALUES.items():
        values[tiers == name] = value
    return values


def score_components(facts: PriorityFacts, weights: PriorityWeights) -> ScoreComponents:
    """Compute each component's points for every line."""
    return ScoreComponents(
        tier=_points(weights.tier, facts.tier_value),
        sla=_points(weights.sla, _saturating(facts.sla_penalty / SCALE, SLA_REFERENCE)),
        margin=_points(weights.margin, _saturating(facts.margin / SCALE, MARGIN_REFERENCE)),
        fill_gap=_points(weights.fill_gap, _saturating(facts.fill_gap, FILL_GAP_REFERENCE)),
        age=_points(weights.age, _saturating(facts.age_days, AGE_REFERENCE_DAYS)),
        churn=_points(weights.churn, _saturating(facts.late_share, LATE_SHARE_REFERENCE)),
    )
