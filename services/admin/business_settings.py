"""Use cases: read and change the priority weights and the governance policy stored in business_settings.

A change is validated by the parser the readers use, so a value that is
stored can always be read back. The row and its audit entry are written in
one transaction.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, Mapping

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects.postgresql import insert

from services.admin.common import audit_change, require_administrator
from services.admin.errors import InvalidAdminChange
from services.auth.roles import Actor, Role, require_role
from services.db import schema
from services.exposure.settings import (
    PRIORITY_WEIGHTS_KEY,
    InvalidPriorityWeights,
    PriorityWeights,
    parse_priority_weights,
    read_priority_weights,
)
from services.recommend.governance import (
    GOVERNANCE_POLICY_KEY,
    GovernancePolicy,
    InvalidGovernancePolicy,
    parse_governance_policy,
    read_governance_policy,
)

logger = logging.getLogger(__name__)

ENTITY = "business_setting"
DESCRIPTIONS = {
    PRIORITY_WEIGHTS_KEY: "Points each priority component adds at its maximum (docs/exposure.md).",
    GOVERNANCE_POLICY_KEY: "Classes recommendations as auto, planner or leader approval (docs/recommendations.md).",
}


def get_priority_weights(engine: Engine, actor: Actor) -> PriorityWeights:
    """Return the priority weights in force: the stored ones, or the defaults."""
    require_role(actor, "read the priority weights", Role.ADMINISTRATOR)
    with engine.connect() as connection:
        return read_priority_weights(connection)


def get_governance_policy(engine: Engine, actor: Actor) -> GovernancePolicy:
    """Return the governance policy in force: the stored one, or the defaults."""
    require_role(actor, "read the governance policy", Role.ADMINISTRATOR)
    with engine.connect() as connection:
        return read_governance_policy(connection)


def update_priority_weights(engine: Engine, actor: Actor, weights: Mapping[str, Any]) -> PriorityWeights:
    """Store new priority weights and audit the change; raise InvalidAdminChange naming a bad weight.

    The weights take effect at the next exposure recompute.
    """
    require_administrator(engine, actor, "change priority weights", ENTITY, PRIORITY_WEIGHTS_KEY)
    stored = {name: _json_number(value) for name, value in weights.items()}
    try:
        parsed = parse_priority_weights(stored)
    except InvalidPriorityWeights as error:
        raise InvalidAdminChange(str(error)) from None

    with engine.begin() as connection:
        before = _stored_value(connection, PRIORITY_WEIGHTS_KEY)
        _write_setting(connection, actor, PRIORITY_WEIGHTS_KEY, stored)
        audit_change(
            connection, actor, "update_priority_weights", ENTITY, PRIORITY_WEIGHTS_KEY, before, stored,
            "weights are numbers of 0 or more, at least one above 0",
        )
    logger.info("priority weights changed by %s: %s", actor.username, stored)
    return parsed


def update_governance_policy(engine: Engine, actor: Actor, policy: Mapping[str, Any]) -> GovernancePolicy:
    """Store a new governance policy and audit the change; raise InvalidAdminChange naming a bad value.

    Keys the mapping leaves out keep their defaults. The policy classes the
    recommendations of the next recommendation run.
    """
    require_administrator(engine, actor, "change the governance policy", ENTITY, GOVERNANCE_POLICY_KEY)
    given = {name: _json_number(value) for name, value in policy.items()}
    try:
        parsed = parse_governance_policy(given)
    except InvalidGovernancePolicy as error:
        raise InvalidAdminChange(str(error)) from None

    stored = parsed.as_json()
    with engine.begin() as connection:
        before = _stored_value(connection, GOVERNANCE_POLICY_KEY)
        _write_setting(connection, actor, GOVERNANCE_POLICY_KEY, stored)
        audit_change(
            connection, actor, "update_governance_policy", ENTITY, GOVERNANCE_POLICY_KEY, before, stored,
            "the policy must parse as the recommendation run reads it",
        )
    logger.info("governance policy changed by %s: %s", actor.username, stored)
    return parsed


def _json_number(value: Any) -> Any:
    """Return a Decimal as an int when whole, else as a float, so it is stored as a JSON number."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _stored_value(connection: Connection, key: str) -> Any:
    table = schema.business_settings
    return connection.execute(select(table.c.value).where(table.c.key == key).with_for_update()).scalar_one_or_none()


def _write_setting(connection: Connection, actor: Actor, key: str, value: Any) -> None:
    table = schema.business_settings
    statement = insert(table).values(key=key, value=value, description=DESCRIPTIONS[key], updated_by=actor.username)
    connection.execute(statement.on_conflict_do_update(
        index_elements=["key"],
        set_={"value": statement.excluded.value, "updated_by": statement.excluded.updated_by, "updated_at": statement.excluded.updated_at},
    ))
