"""Who may decide a recommendation of each governance class: plain rules, no database.

The value a planner's approval limit is compared with is the recommendation's
revenue_recovered, the revenue the decision brings back to the order book.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from services.approvals.errors import OverApprovalLimit, format_money
from services.auth.roles import Actor, Role, require_role

DECIDING_ROLES = (Role.PLANNER, Role.OPERATIONS_LEADER)


class GovernanceClass(StrEnum):
    AUTO = "auto"
    PLANNER = "planner"
    LEADER = "leader"


class RecommendationStatus(StrEnum):
    """Status of a recommendation; a decision moves it out of 'proposed' exactly once."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    STALE = "stale"
    EXECUTED = "executed"


def require_deciding_role(actor: Actor, action: str) -> None:
    """Raise RoleRefused unless the actor is a planner or an operations leader."""
    require_role(actor, action, *DECIDING_ROLES)


def check_authority(
    actor: Actor,
    recommendation_id: int,
    governance_class: str,
    value: Decimal,
    currency: str,
    approval_limit: Decimal,
) -> str:
    """Return the rule that lets the actor decide, or raise OverApprovalLimit naming the value and the limit.

    A 'leader' recommendation needs an operations leader. A 'planner' or
    'auto' one needs an operations leader, or a planner whose approval_limit
    is at least the value.
    """
    klass = GovernanceClass(governance_class)
    if actor.role is Role.OPERATIONS_LEADER:
        return f"governance class {klass}: an operations leader may decide it"
    if klass is GovernanceClass.LEADER:
        raise OverApprovalLimit(
            recommendation_id,
            f"recommendation {recommendation_id} has governance class leader, and {actor.username} is a "
            f"{actor.role.label}; ask an operations leader to decide it",
        )
    if value > approval_limit:
        raise OverApprovalLimit(
            recommendation_id,
            f"recommendation {recommendation_id} recovers {format_money(value, currency)}, above the approval "
            f"limit {format_money(approval_limit, currency)} of {actor.role.label} {actor.username}; "
            "ask an operations leader to decide it, or an administrator to raise the limit",
        )
    return (
        f"governance class {klass}: {actor.role.label} within approval limit "
        f"{format_money(approval_limit, currency)} (revenue recovered {format_money(value, currency)})"
    )
