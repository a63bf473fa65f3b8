"""Allocation settings: read from business_settings under the key recommendation_settings, with defaults in code.

The stored value is a JSON object such as {"strategic_protected_share": 0.3};
keys it leaves out keep their defaults.

- strategic_protected_share: at every stock location, this share of the
  stock free for recommendations is held back for lines of strategic
  customers while strategic customers have open demand for the item; lines
  of key and standard customers may take only the rest. The held-back
  quantity is min(share x free stock, strategic open quantity of the item).
- wait_day_weight, late_day_weight, cost_weight: the second objective,
  which picks among the allocations that serve the most priority-weighted
  quantity. Each unit served costs priority x (wait_day_weight x days until
  it arrives + late_day_weight x days it arrives after the line's due
  date) + cost_weight x its transfer or substitution cost per unit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation

from sqlalchemy import Connection, select

from services.db import schema

logger = logging.getLogger(__name__)

RECOMMENDATION_SETTINGS_KEY = "recommendation_settings"


class InvalidRecommendationSettings(ValueError):
    """The stored recommendation settings cannot be used; the message names the value and the fix."""


@dataclass(frozen=True)
class RecommendationSettings:
    """Protected stock for strategic customers and the weights of the second objective."""

    strategic_protected_share: float = 0.2
    wait_day_weight: float = 1.0
    late_day_weight: float = 5.0
    cost_weight: float = 10.0


SETTING_KEYS = tuple(field.name for field in fields(RecommendationSettings))


def _number(name: str, raw: object) -> float:
    rule = "a share between 0 and 1" if name == "strategic_protected_share" else "a number of 0 or more"
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise InvalidRecommendationSettings(f"{RECOMMENDATION_SETTINGS_KEY}.{name} {raw!r} is not a number; store {rule}")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise InvalidRecommendationSettings(f"{RECOMMENDATION_SETTINGS_KEY}.{name} {raw!r} is not a number; store {rule}") from None
    if not value.is_finite() or value < 0 or (name == "strategic_protected_share" and value > 1):
        raise InvalidRecommendationSettings(f"{RECOMMENDATION_SETTINGS_KEY}.{name} {raw!r} is out of range; store {rule}")
    return float(value)


def parse_recommendation_settings(value: object) -> RecommendationSettings:
    """Build settings from a stored JSON value; raise InvalidRecommendationSettings naming the unusable value."""
    if not isinstance(value, dict):
        raise InvalidRecommendationSettings(
            f"{RECOMMENDATION_SETTINGS_KEY} {value!r} is not a JSON object; "
            f"store an object with keys among {', '.join(SETTING_KEYS)}"
        )
    unknown = sorted(set(value) - set(SETTING_KEYS))
    if unknown:
        raise InvalidRecommendationSettings(
            f"{RECOMMENDATION_SETTINGS_KEY} has unknown key {', '.join(map(repr, unknown))}; use only {', '.join(SETTING_KEYS)}"
        )
    return RecommendationSettings(**{name: _number(name, raw) for name, raw in value.items()})


def read_recommendation_settings(connection: Connection) -> RecommendationSettings:
    """Return the stored settings, or the defaults when business_settings has no such row."""
    stored = connection.execute(
        select(schema.business_settings.c.value).where(schema.business_settings.c.key == RECOMMENDATION_SETTINGS_KEY)
    ).scalar_one_or_none()
    if stored is None:
        return RecommendationSettings()
    return parse_recommendation_settings(stored)
