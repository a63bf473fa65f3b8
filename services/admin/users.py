"""Use cases: list users, add one, change a role or an approval limit, deactivate or reactivate, each audited.

At least one active administrator always remains: a change that would
leave none is refused, so the Settings page stays reachable.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

import pandas as pd
from sqlalchemy import Connection, Engine, select, update

from services.admin.common import audit_change, require_administrator
from services.admin.errors import InvalidAdminChange
from services.auth.roles import Actor, Role, require_role
from services.auth.users import InvalidUser, insert_user
from services.db import schema

logger = logging.getLogger(__name__)

ENTITY = "user"
USER_COLUMNS = ("id", "username", "display_name", "role", "approval_limit", "active", "created_at")


def list_user_accounts(engine: Engine, actor: Actor) -> pd.DataFrame:
    """Return every user with role, approval limit and active flag, by username; never the password hash."""
    require_role(actor, "read the users", Role.ADMINISTRATOR)
    columns = [schema.users.c[name] for name in USER_COLUMNS]
    with engine.connect() as connection:
        rows = connection.execute(select(*columns).order_by(schema.users.c.username)).mappings().all()
    return pd.DataFrame(rows, columns=list(USER_COLUMNS))


def add_user(
    engine: Engine,
    actor: Actor,
    username: str,
    password: str,
    role: str,
    *,
    display_name: str = "",
    approval_limit: Any = Decimal("0"),
) -> int:
    """Create a user with a hashed password and audit it; raise InvalidAdminChange for a bad or taken value."""
    require_administrator(engine, actor, "add users", ENTITY, username)
    limit = parse_approval_limit(approval_limit, username)
    with engine.begin() as connection:
        try:
            user_id = insert_user(
                connection, username, password, role, display_name=display_name, approval_limit=limit
            )
        except InvalidUser as error:
            raise InvalidAdminChange(str(error)) from None
        after = _user(connection, user_id)
        audit_change(connection, actor, "add_user", ENTITY, user_id, None, after, "users are added by an administrator")
    return user_id


def change_role(engine: Engine, actor: Actor, user_id: int, role: str) -> None:
    """Give a user another role and audit it; the last active administrator keeps the role."""
    require_administrator(engine, actor, "change roles", ENTITY, user_id)
    try:
        new_role = Role(role)
    except ValueError:
        raise InvalidAdminChange(f"role {role!r} is unknown; use one of {', '.join(r.value for r in Role)}") from None

    with engine.begin() as connection:
        before = _lock_user(connection, user_id)
        if before["role"] == Role.ADMINISTRATOR and new_role is not Role.ADMINISTRATOR:
            _keep_one_administrator(connection, before, f"change the role of {before['username']} to {new_role.label}")
        _write_user(connection, actor, before, {"role": new_role.value}, "change_role")


def set_approval_limit(engine: Engine, actor: Actor, user_id: int, approval_limit: Any) -> None:
    """Set the revenue a planner may approve alone and audit it; raise InvalidAdminChange for a negative limit."""
    require_administrator(engine, actor, "change approval limits", ENTITY, user_id)
    with engine.begin() as connection:
        before = _lock_user(connection, user_id)
        limit = parse_approval_limit(approval_limit, before["username"])
        _write_user(connection, actor, before, {"approval_limit": limit}, "set_approval_limit")


def set_user_active(engine: Engine, actor: Actor, user_id: int, active: bool) -> None:
    """Deactivate or reactivate a user and audit it; a deactivated user can neither sign in nor decide."""
    require_administrator(engine, actor, "deactivate users" if not active else "reactivate users", ENTITY, user_id)
    with engine.begin() as connection:
        before = _lock_user(connection, user_id)
        if not active and before["role"] == Role.ADMINISTRATOR:
            _keep_one_administrator(connection, before, f"deactivate {before['username']}")
        _write_user(connection, actor, before, {"active": active}, "activate_user" if active else "deactivate_user")


def parse_approval_limit(raw: Any, username: str) -> Decimal:
    """Return the limit as a Decimal; raise InvalidAdminChange unless it is a finite amount of 0 or more."""
    try:
        limit = Decimal(str(raw).strip())
    except InvalidOperation:
        raise InvalidAdminChange(f"approval limit {raw!r} of user {username} is not a number; use an amount of 0 or more") from None
    if not limit.is_finite() or limit < 0:
        raise InvalidAdminChange(f"approval limit {raw} of user {username} is negative or not finite; use an amount of 0 or more")
    return limit


def _lock_user(connection: Connection, user_id: int) -> Mapping[str, Any]:
    row = connection.execute(
        select(*[schema.users.c[name] for name in USER_COLUMNS]).where(schema.users.c.id == user_id).with_for_update()
    ).mappings().first()
    if row is None:
        raise InvalidAdminChange(f"user id {user_id} does not exist; reload the user list")
    return row


def _user(connection: Connection, user_id: int) -> dict[str, Any]:
    row = connection.execute(
        select(*[schema.users.c[name] for name in USER_COLUMNS if name != "created_at"]).where(schema.users.c.id == user_id)
    ).mappings().one()
    return dict(row)


def _keep_one_administrator(connection: Connection, user: Mapping[str, Any], change: str) -> None:
    """Raise InvalidAdminChange when the user is the only active administrator."""
    table = schema.users
    # Locking every active administrator makes two concurrent demotions wait for each other.
    others = connection.execute(
        select(table.c.id).where(table.c.role == Role.ADMINISTRATOR.value, table.c.active, table.c.id != user["id"])
        .with_for_update()
    ).all()
    if user["active"] and not others:
        raise InvalidAdminChange(
            f"cannot {change}: {user['username']} is the last active administrator; make another user an administrator first"
        )


def _write_user(connection: Connection, actor: Actor, before: Mapping[str, Any], values: dict[str, Any], action: str) -> None:
    connection.execute(update(schema.users).where(schema.users.c.id == before["id"]).values(**values))
    old = {name: before[name] for name in values}
    audit_change(connection, actor, action, ENTITY, before["id"], {"username": before["username"], **old},
                 {"username": before["username"], **values}, "users and roles are changed by an administrator")
    logger.info("user %s (id %d): %s by %s: %s", before["username"], before["id"], action, actor.username, values)
