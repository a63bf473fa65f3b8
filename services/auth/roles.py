"""Roles, the signed-in actor, and the check every use case makes before it acts.

Pages hide what a role may not use, but the services check the role again:
a hidden page is never the only guard.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class Role(StrEnum):
    EXECUTIVE = "executive"
    OPERATIONS_LEADER = "operations_leader"
    PLANNER = "planner"
    ADMINISTRATOR = "administrator"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


@dataclass(frozen=True)
class Actor:
    """The person (or the worker, as user_id None) on whose behalf a use case runs."""

    username: str
    role: Role
    approval_limit: Decimal = Decimal("0")
    user_id: int | None = None
    display_name: str = ""


class RoleRefused(PermissionError):
    """The actor's role may not do what was asked."""

    def __init__(self, actor: Actor, action: str, allowed: tuple[Role, ...]):
        self.actor = actor
        self.action = action
        self.allowed = allowed
        names = ", ".join(role.label for role in allowed)
        super().__init__(
            f"{actor.username} ({actor.role.label}) may not {action}; "
            f"ask a user with one of these roles: {names}"
        )


def require_role(actor: Actor, action: str, *allowed: Role) -> None:
    """Raise RoleRefused unless the actor has one of the allowed roles."""
    if actor.role not in allowed:
        raise RoleRefused(actor, action, allowed)
