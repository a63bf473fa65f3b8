"""The role check and the audit entry every administration use case makes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine

from services.approvals.audit import record_audit, record_audit_alone
from services.auth.roles import Actor, Role, RoleRefused, require_role

ADMIN_SOURCE = "settings"


def require_administrator(engine: Engine, actor: Actor, action: str, entity: str, entity_id: Any) -> None:
    """Raise RoleRefused unless the actor is an administrator, and audit the refusal."""
    try:
        require_role(actor, action, Role.ADMINISTRATOR)
    except RoleRefused as error:
        record_audit_alone(
            engine, actor=actor.username, action=f"{action.replace(' ', '_')}_refused", entity=entity,
            entity_id=entity_id, after={"role": actor.role.value}, rule="only an administrator may change settings",
            reason=str(error), source=ADMIN_SOURCE,
        )
        raise


def audit_change(
    connection: Connection, actor: Actor, action: str, entity: str, entity_id: Any, before: Any, after: Any, rule: str
) -> int:
    """Record one administration change with its state before and after, in the change's transaction."""
    return record_audit(
        connection, actor=actor.username, action=action, entity=entity, entity_id=entity_id,
        before=before, after=after, rule=rule, source=ADMIN_SOURCE,
    )
