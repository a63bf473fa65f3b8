"""Errors that reject an approval, a rejection or a message approval; each message names the value and what to do."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal


class ApprovalRefused(Exception):
    """A decision on a recommendation or a customer message was refused and nothing was written.

    `rule` names the rule that refused it, and the audit log records it.
    """

    rule = "approval refused"

    def __init__(self, recommendation_id: int | None, message: str):
        self.recommendation_id = recommendation_id
        super().__init__(message)


class RecommendationNotFound(ApprovalRefused):
    rule = "recommendation must exist"


class AlreadyDecided(ApprovalRefused):
    """A decision exists already; carries who decided and when, for the answer to a second click."""

    rule = "one decision per recommendation"

    def __init__(self, recommendation_id: int, decision: str, decided_by: str, decided_at: datetime):
        self.decision = decision
        self.decided_by = decided_by
        self.decided_at = decided_at
        verb = "approved" if decision == "approve" else "rejected"
        super().__init__(
            recommendation_id,
            f"recommendation {recommendation_id} was already {verb} by {decided_by} at "
            f"{decided_at.isoformat(timespec='seconds')}; nothing was changed",
        )


class NotProposed(ApprovalRefused):
    rule = "only a proposed recommendation can be decided"


class InactiveUser(ApprovalRefused):
    rule = "only an active user may decide"


class OverApprovalLimit(ApprovalRefused):
    rule = "approval limit of the governance class"


class QuantityChanged(ApprovalRefused):
    """The page showed another quantity than the stored one: an uncommitted edit is never approved with the old value."""

    rule = "approve only the quantity the user saw"

    def __init__(self, recommendation_id: int, expected_qty: Decimal, stored_qty: Decimal):
        self.expected_qty = expected_qty
        self.stored_qty = stored_qty
        super().__init__(
            recommendation_id,
            f"recommendation {recommendation_id} covers {format_qty(stored_qty)} units, but the approval was for "
            f"{format_qty(expected_qty)}; an edited quantity is not approved with the stored value. "
            "Reload the recommendation and approve the quantity it shows",
        )


class StaleRecommendation(ApprovalRefused):
    """The data a recommendation was computed from changed; the recommendation is now 'stale'."""

    rule = "the data version must match the current data"

    def __init__(self, recommendation_id: int, changes: list[str]):
        self.changes = changes
        super().__init__(
            recommendation_id,
            f"recommendation {recommendation_id} is stale: {'; '.join(changes)} since the recommendation was "
            "computed. It is marked stale; approve a recommendation computed from the current data instead",
        )


class NotEnoughSupply(ApprovalRefused):
    """The supply has fewer units left than the recommendation needs, after the allocations already approved."""

    rule = "available supply must cover the allocation"

    def __init__(self, recommendation_id: int, supply_label: str, needed: Decimal, available: Decimal):
        self.needed = needed
        self.available = available
        super().__init__(
            recommendation_id,
            f"recommendation {recommendation_id} needs {format_qty(needed)} units of {supply_label}, but only "
            f"{format_qty(available)} remain available after the allocations already approved; "
            "nothing was allocated. Recompute recommendations to use what remains",
        )


class LineAlreadyCovered(ApprovalRefused):
    """The order line's open quantity is already covered by other approved allocations."""

    rule = "allocations must not exceed the open quantity of the order line"


class InvalidRecommendation(ApprovalRefused):
    """The recommendation row contradicts itself, for example its supply differs from its data version."""

    rule = "a recommendation must name one supply consistently"


class InvalidMessageEdit(ValueError):
    """An edit of a customer message left the approved template or changed a placeholder's value."""

    def __init__(self, message_id: int, message: str):
        self.message_id = message_id
        super().__init__(message)


def format_qty(value: Decimal) -> str:
    """Return a quantity without trailing zeros or an exponent: Decimal('10.000000') gives '10'."""
    return format(value.normalize(), "f")


def format_money(value: Decimal, currency: str) -> str:
    """Return an amount with two decimals and thousands separators, then its currency: '6,000.00 USD'."""
    return f"{value.quantize(Decimal('0.01')):,} {currency}"
