"""Append-only audit entries: who did what to which row, when, with the state before and after, the rule and the reason."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, insert

from services.approvals.errors import format_qty
from services.db import schema


def jsonable(value: Any) -> Any:
    """Return the value with Decimal as text without trailing zeros, and dates, instants and UUIDs as text."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return format_qty(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def record_audit(
    connection: Connection,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: Any,
    before: Any = None,
    after: Any = None,
    rule: str | None = None,
    reason: str | None = None,
    source: str = "app",
) -> int:
    """Insert one audit_log row in the caller's transaction and return its id."""
    statement = (
        insert(schema.audit_log)
        .values(
            actor=actor,
            action=action,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id),
            before=jsonable(before),
            after=jsonable(after),
            rule=rule,
            reason=reason,
            source=source,
        )
        .returning(schema.audit_log.c.id)
    )
    return connection.execute(statement).scalar_one()


def record_audit_alone(engine: Engine, **entry: Any) -> int:
    """Insert one audit_log row in a transaction of its own, for a refusal whose use case rolled back."""
    with engine.begin() as connection:
        return record_audit(connection, **entry)
