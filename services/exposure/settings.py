"""Priority weights: read from business_settings under the key priority_weights, with defaults in code.

The stored value is a JSON object of component names to weights, such as
{"tier": 35, "sla": 20}. A component the object leaves out keeps its
default weight, so an administrator can change one weight alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation

from sqlalchemy import Connection, select

from services.db import schema

logger = logging.getLogger(__name__)

PRIORITY_WEIGHTS_KEY = "priority_weights"


class InvalidPriorityWeights(ValueError):
    """The stored priority weights cannot be used; the message names the value and the fix."""


@dataclass(frozen=True)
class PriorityWeights:
    """Points each priority component adds at its maximum; the defaults add up to 100."""

    tier: Decimal = Decimal(35)
    sla: Decimal = Decimal(20)
    margin: Decimal = Decimal(15)
    fill_gap: Decimal = Decimal(10)
    age: Decimal = Decimal(10)
    churn: Decimal = Decimal(10)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in fields(cls))

    def as_dict(self) -> dict[str, Decimal]:
        return {name: getattr(self, name) for name in self.names()}


def parse_priority_weights(value: object) -> PriorityWeights:
    """Build weights from a stored JSON value; raise InvalidPriorityWeights for an unusable value."""
    if not isinstance(value, dict):
        raise InvalidPriorityWeights(
            f"{PRIORITY_WEIGHTS_KEY} {value!r} is not a JSON object; "
            f"store an object such as {{\"tier\": 35, \"sla\": 20}} with keys among {', '.join(PriorityWeights.names())}"
        )
    unknown = sorted(set(value) - set(PriorityWeights.names()))
    if unknown:
        raise InvalidPriorityWeights(
            f"{PRIORITY_WEIGHTS_KEY} has unknown component {', '.join(map(repr, unknown))}; "
            f"use only {', '.join(PriorityWeights.names())}"
        )
    weights = {name: _weight(name, raw) for name, raw in value.items()}
    parsed = PriorityWeights(**weights)
    if not any(parsed.as_dict().values()):
        raise InvalidPriorityWeights(
            f"{PRIORITY_WEIGHTS_KEY} sets every weight to 0, so no line would rank above another; "
            "give at least one component a weight above 0"
        )
    return parsed


def _weight(name: str, raw: object) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise InvalidPriorityWeights(f"{PRIORITY_WEIGHTS_KEY}.{name} {raw!r} is not a number; store a number of 0 or more")
    try:
        weight = Decimal(str(raw))
    except InvalidOperation:
        raise InvalidPriorityWeights(f"{PRIORITY_WEIGHTS_KEY}.{name} {raw!r} is not a number; store a number of 0 or more") from None
    if not weight.is_finite() or weight < 0:
        raise InvalidPriorityWeights(f"{PRIORITY_WEIGHTS_KEY}.{name} {raw!r} is negative or not finite; store a number of 0 or more")
    return weight


def read_priority_weights(connection: Connection) -> PriorityWeights:
    """Return the stored priority weights, or the defaults when business_settings has no such row."""
    stored = connection.execute(
        select(schema.business_settings.c.value).where(schema.business_settings.c.key == PRIORITY_WEIGHTS_KEY)
    ).scalar_one_or_none()
    if stored is None:
        logger.debug("no %s row in business_settings; using the default weights", PRIORITY_WEIGHTS_KEY)
        return PriorityWeights()
    return parse_priority_weights(stored)
