"""Governance policy: parsing the stored JSON and classing recommendations by the first rule that holds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import insert

from services.db import schema
from services.recommend.governance import (
    GOVERNANCE_POLICY_KEY,
    GovernanceFacts,
    GovernancePolicy,
    InvalidGovernancePolicy,
    classify,
    parse_governance_policy,
    read_governance_policy,
    seed_governance_policy,
)
from services.recommend.settings import InvalidRecommendationSettings, parse_recommendation_settings
from services.recommend.versions import data_version, inventory_part, so_line_part

POLICY = GovernancePolicy()


def _facts(**overrides) -> GovernanceFacts:
    values = {"action": "transfer", "value": Decimal("500"), "customer_tier": "standard", "regulated": False}
    values.update(overrides)
    return GovernanceFacts(**values)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (_facts(), ("auto", "within_auto_limits")),
        (_facts(value=Decimal("1000.01")), ("planner", "value_above_auto_limit")),
        (_facts(value=Decimal("25000.01")), ("leader", "value_above_leader_limit")),
        (_facts(regulated=True), ("leader", "regulated_item")),
        (_facts(customer_tier="strategic"), ("leader", "strategic_customer")),
        (_facts(action="substitute", substitute_margin_share=Decimal("0.1499")), ("leader", "substitute_margin_below_floor")),
        (_facts(action="split", substitute_margin_share=Decimal("0.40"), substitute_needs_approval=True),
         ("planner", "substitute_needs_approval")),
        (_facts(action="allocate", forecast_confidence="low"), ("leader", "forecast_confidence_below_minimum")),
        (_facts(action="allocate", forecast_confidence="medium"), ("auto", "within_auto_limits")),
        (_facts(action="expedite"), ("planner", "action_needs_planner")),
        (_facts(action="escalate", value=Decimal(0)), ("planner", "action_needs_planner")),
    ],
)
def test_classify_applies_first_rule_that_holds(facts, expected):
    decided = classify(POLICY, facts)

    assert (decided.governance_class, decided.rule) == expected


def test_classify_follows_switched_off_rules():
    policy = parse_governance_policy({"strategic_customer_to_leader": False, "regulated_item_to_leader": False})

    decided = classify(policy, _facts(customer_tier="strategic", regulated=True))

    assert (decided.governance_class, decided.rule) == ("auto", "within_auto_limits")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([1, 2], "governance_policy [1, 2] is not a JSON object"),
        ({"auto_limit": 5}, "unknown key 'auto_limit'"),
        ({"auto_approve_value_limit": "lots"}, "governance_policy.auto_approve_value_limit 'lots' is not a number"),
        ({"leader_value_limit": -1}, "governance_policy.leader_value_limit -1 is out of range"),
        ({"substitute_margin_floor": 1.5}, "governance_policy.substitute_margin_floor 1.5 is out of range"),
        ({"minimum_forecast_confidence": "certain"}, "minimum_forecast_confidence 'certain' is not a confidence level"),
        ({"strategic_customer_to_leader": "yes"}, "strategic_customer_to_leader 'yes' is not a boolean"),
        ({"auto_actions": ["allocate", "teleport"]}, "auto_actions ['allocate', 'teleport'] is not a list of actions"),
        ({"auto_actions": ["escalate"]}, "contains escalate, which always needs a planner"),
        ({"auto_approve_value_limit": 30000}, "auto_approve_value_limit 30000 is above leader_value_limit 25000"),
    ],
)
def test_invalid_policy_names_the_bad_value(value, message):
    with pytest.raises(InvalidGovernancePolicy, match=None) as raised:
        parse_governance_policy(value)

    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"strategic_protected_share": 2}, "recommendation_settings.strategic_protected_share 2 is out of range"),
        ({"late_day_weight": "x"}, "recommendation_settings.late_day_weight 'x' is not a number"),
        ({"share": 0.1}, "unknown key 'share'"),
    ],
)
def test_invalid_recommendation_settings_name_the_bad_value(value, message):
    with pytest.raises(InvalidRecommendationSettings) as raised:
        parse_recommendation_settings(value)

    assert message in str(raised.value)


def test_policy_is_seeded_once_and_partial_policy_keeps_defaults(engine):
    with engine.begin() as connection:
        first = seed_governance_policy(connection)
        second = seed_governance_policy(connection)
        seeded = read_governance_policy(connection)
        connection.execute(schema.business_settings.delete())
        connection.execute(insert(schema.business_settings).values(
            key=GOVERNANCE_POLICY_KEY, value={"leader_value_limit": "5000"}))
        partial = read_governance_policy(connection)

    assert (first, second) == (True, False)
    assert seeded == GovernancePolicy()
    assert partial.leader_value_limit == Decimal("5000")
    assert partial.auto_approve_value_limit == Decimal("1000")


def test_data_version_is_sorted_json_with_numeric_text():
    version = data_version(
        so_line_part(7, Decimal("10.000000"), Decimal("0E-6"), "1.500000", "open"),
        inventory_part(3, 2, Decimal("12.000000"), Decimal("0.000000")),
    )

    assert version == (
        '{"so_line": {"cancelled_qty": "1.500000", "id": 7, "ordered_qty": "10.000000", "shipped_qty": "0.000000",'
        ' "status": "open"}, "supply": {"item_id": 3, "kind": "inventory", "on_hand_qty": "12.000000",'
        ' "quality_hold_qty": "0.000000", "warehouse_id": 2}}'
    )
