"""The governance policy: which recommendations apply themselves, and which need a planner or a leader.

The policy lives in business_settings under the key governance_policy, as a
JSON object; keys it leaves out keep their defaults, so an administrator can
change one limit alone. classify() is a pure function: the first rule that
holds decides the class, and its name is kept with the recommendation.

Rules, in the order they are tested:

| rule | class | holds when |
|---|---|---|
| regulated_item | leader | regulated_item_to_leader and the ordered item or the substitute is regulated |
| strategic_customer | leader | strategic_customer_to_leader and the customer's tier is strategic |
| value_above_leader_limit | leader | the recommendation's value is above leader_value_limit |
| substitute_margin_below_floor | leader | a substitution's margin share is below substitute_margin_floor |
| forecast_confidence_below_minimum | leader | its supply is a purchase order line whose ETA forecast confidence is below minimum_forecast_confidence |
| action_needs_planner | planner | the action is not in auto_actions (escalations are never automatic) |
| substitute_needs_approval | planner | the substitute's master data says it needs an approval |
| value_above_auto_limit | planner | the value is above auto_approve_value_limit |
| within_auto_limits | auto | none of the above |
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert

from services.db import schema

logger = logging.getLogger(__name__)

GOVERNANCE_POLICY_KEY = "governance_policy"
# updated_by of the default policy row, which the first recommendation run stores.
SEEDED_BY = "default"
AUTO, PLANNER, LEADER = "auto", "planner", "leader"
ACTIONS = ("allocate", "transfer", "substitute", "split", "expedite", "escalate")
# ETA forecast confidences from the lowest to the highest (eta_forecasts.confidence).
CONFIDENCE_LEVELS = ("low_data", "low", "medium", "high")


class InvalidGovernancePolicy(ValueError):
    """The stored governance policy cannot be used; the message names the value and the fix."""


@dataclass(frozen=True)
class GovernancePolicy:
    """Limits and switches that class recommendations; money is in the line's currency."""

    auto_approve_value_limit: Decimal = Decimal("1000")
    leader_value_limit: Decimal = Decimal("25000")
    substitute_margin_floor: Decimal = Decimal("0.15")
    minimum_forecast_confidence: str = "medium"
    strategic_customer_to_leader: bool = True
    regulated_item_to_leader: bool = True
    auto_actions: tuple[str, ...] = ("allocate", "transfer", "split")

    def as_json(self) -> dict:
        """Return the policy as the JSON object stored in business_settings."""
        return {
            "auto_approve_value_limit": str(self.auto_approve_value_limit),
            "leader_value_limit": str(self.leader_value_limit),
            "substitute_margin_floor": str(self.substitute_margin_floor),
            "minimum_forecast_confidence": self.minimum_forecast_confidence,
            "strategic_customer_to_leader": self.strategic_customer_to_leader,
            "regulated_item_to_leader": self.regulated_item_to_leader,
            "auto_actions": list(self.auto_actions),
        }


POLICY_KEYS = tuple(field.name for field in fields(GovernancePolicy))


def _decimal(name: str, raw: object, *, share: bool = False) -> Decimal:
    rule = "a share between 0 and 1" if share else "an amount of 0 or more"
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise InvalidGovernancePolicy(f"{GOVERNANCE_POLICY_KEY}.{name} {raw!r} is not a number; store {rule}")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise InvalidGovernancePolicy(f"{GOVERNANCE_POLICY_KEY}.{name} {raw!r} is not a number; store {rule}") from None
    if not value.is_finite() or value < 0 or (share and value > 1):
        raise InvalidGovernancePolicy(f"{GOVERNANCE_POLICY_KEY}.{name} {raw!r} is out of range; store {rule}")
    return value


def _flag(name: str, raw: object) -> bool:
    if not isinstance(raw, bool):
        raise InvalidGovernancePolicy(f"{GOVERNANCE_POLICY_KEY}.{name} {raw!r} is not a boolean; store true or false")
    return raw


def _confidence(raw: object) -> str:
    if raw not in CONFIDENCE_LEVELS:
        raise InvalidGovernancePolicy(
            f"{GOVERNANCE_POLICY_KEY}.minimum_forecast_confidence {raw!r} is not a confidence level; "
            f"store one of {', '.join(CONFIDENCE_LEVELS)}"
        )
    return str(raw)


def _actions(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list) or any(action not in ACTIONS for action in raw):
        raise InvalidGovernancePolicy(
            f"{GOVERNANCE_POLICY_KEY}.auto_actions {raw!r} is not a list of actions; "
            f"store a list drawn from {', '.join(ACTIONS)}"
        )
    if "escalate" in raw:
        raise InvalidGovernancePolicy(
            f"{GOVERNANCE_POLICY_KEY}.auto_actions {raw!r} contains escalate, which always needs a planner; remove it"
        )
    return tuple(raw)


def parse_governance_policy(value: object) -> GovernancePolicy:
    """Build a policy from a stored JSON value; raise InvalidGovernancePolicy naming the first unusable value."""
    if not isinstance(value, dict):
        raise InvalidGovernancePolicy(
            f"{GOVERNANCE_POLICY_KEY} {value!r} is not a JSON object; store an object with keys among {', '.join(POLICY_KEYS)}"
        )
    unknown = sorted(set(value) - set(POLICY_KEYS))
    if unknown:
        raise InvalidGovernancePolicy(
            f"{GOVERNANCE_POLICY_KEY} has unknown key {', '.join(map(repr, unknown))}; use only {', '.join(POLICY_KEYS)}"
        )
    parsed = {}
    for name, raw in value.items():
        if name in ("auto_approve_value_limit", "leader_value_limit"):
            parsed[name] = _decimal(name, raw)
        elif name == "substitute_margin_floor":
            parsed[name] = _decimal(name, raw, share=True)
        elif name == "minimum_forecast_confidence":
            parsed[name] = _confidence(raw)
        elif name == "auto_actions":
            parsed[name] = _actions(raw)
        else:
            parsed[name] = _flag(name, raw)
    policy = GovernancePolicy(**parsed)
    if policy.auto_approve_value_limit > policy.leader_value_limit:
        raise InvalidGovernancePolicy(
            f"{GOVERNANCE_POLICY_KEY}.auto_approve_value_limit {policy.auto_approve_value_limit} is above "
            f"leader_value_limit {policy.leader_value_limit}; lower it to the leader limit or below"
        )
    return policy


def read_governance_policy(connection: Connection) -> GovernancePolicy:
    """Return the stored governance policy, or the defaults when business_settings has no such row."""
    stored = connection.execute(
        select(schema.business_settings.c.value).where(schema.business_settings.c.key == GOVERNANCE_POLICY_KEY)
    ).scalar_one_or_none()
    if stored is None:
        logger.debug("no %s row in business_settings; using the default policy", GOVERNANCE_POLICY_KEY)
        return GovernancePolicy()
    return parse_governance_policy(stored)


def seed_governance_policy(connection: Connection) -> bool:
    """Store the default policy when business_settings has none; return True when a row was inserted."""
    statement = (
        insert(schema.business_settings)
        .values(
            key=GOVERNANCE_POLICY_KEY,
            value=GovernancePolicy().as_json(),
            description="Classes recommendations as auto, planner or leader approval (docs/recommendations.md).",
            updated_by=SEEDED_BY,
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(schema.business_settings.c.key)
    )
    inserted = connection.execute(statement).scalar_one_or_none() is not None
    if inserted:
        logger.info("stored the default %s: %s", GOVERNANCE_POLICY_KEY, json.dumps(GovernancePolicy().as_json()))
    return inserted


@dataclass(frozen=True)
class GovernanceFacts:
    """What the policy looks at for one recommendation.

    value is the revenue the recommendation recovers, in the line's
    currency. substitute_margin_share is (price - ratio x substitute cost) /
    price for a substitution, else None. forecast_confidence is the ETA
    forecast confidence of a purchase order line source, None when the
    source has no forecast or is not a purchase order line.
    """

    action: str
    value: Decimal
    customer_tier: str
    regulated: bool
    substitute_margin_share: Decimal | None = None
    substitute_needs_approval: bool = False
    forecast_confidence: str | None = None


@dataclass(frozen=True)
class Classification:
    """A governance class and the rule that decided it."""

    governance_class: str
    rule: str


def classify(policy: GovernancePolicy, facts: GovernanceFacts) -> Classification:
    """Class one recommendation as auto, planner or leader by the first rule that holds (see the module table)."""
    if policy.regulated_item_to_leader and facts.regulated:
        return Classification(LEADER, "regulated_item")
    if policy.strategic_customer_to_leader and facts.customer_tier == "strategic":
        return Classification(LEADER, "strategic_customer")
    if facts.value > policy.leader_value_limit:
        return Classification(LEADER, "value_above_leader_limit")
    if facts.substitute_margin_share is not None and facts.substitute_margin_share < policy.substitute_margin_floor:
        return Classification(LEADER, "substitute_margin_below_floor")
    if facts.forecast_confidence is not None and (
        CONFIDENCE_LEVELS.index(facts.forecast_confidence) < CONFIDENCE_LEVELS.index(policy.minimum_forecast_confidence)
    ):
        return Classification(LEADER, "forecast_confidence_below_minimum")
    if facts.action not in policy.auto_actions:
        return Classification(PLANNER, "action_needs_planner")
    if facts.substitute_needs_approval:
        return Classification(PLANNER, "substitute_needs_approval")
    if facts.value > policy.auto_approve_value_limit:
        return Classification(PLANNER, "value_above_auto_limit")
    return Classification(AUTO, "within_auto_limits")
