"""Use cases of a decision on a recommendation: approve one, reject one, approve every proposed 'auto' one.

Each decision is one transaction. It locks the recommendation and checks the
role, the limit, the data version and what remains of the supply. Then it
writes the decision, the allocation, the tasks, the customer message draft,
the audit entry and the outbox messages together, or nothing. A refusal of the
role, the limit, the quantity or the supply is audited in a transaction of
its own, because the decision's transaction rolls back. A stale
recommendation is marked 'stale' and audited in the decision's transaction,
which commits, and the approval is then refused.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Mapping

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import IntegrityError

from services.approvals import effects, repository
from services.approvals.audit import record_audit, record_audit_alone
from services.approvals.effects import Approval, LockedSupply
from services.approvals.errors import (
    AlreadyDecided,
    ApprovalRefused,
    InactiveUser,
    InvalidRecommendation,
    LineAlreadyCovered,
    NotEnoughSupply,
    NotProposed,
    QuantityChanged,
    RecommendationNotFound,
    StaleRecommendation,
    format_qty,
)
from services.approvals.governance import GovernanceClass, RecommendationStatus, check_authority, require_deciding_role
from services.approvals.templates import TEMPLATE_FOR_ACTION, load_template, render
from services.approvals.versions import (
    INVENTORY,
    INVENTORY_FIELDS,
    PO_LINE_FIELDS,
    SO_LINE_FIELDS,
    DataVersion,
    DataVersionUnreadable,
    SupplyRef,
    describe_changes,
    parse_data_version,
    supply_of_recommendation,
)
from services.auth.roles import Actor, RoleRefused
from services.db import schema

logger = logging.getLogger(__name__)

ENTITY = "recommendation"
ERP_TARGET = "erp"
TASKS_TARGET = "tasks"


class MissingReason(ApprovalRefused):
    rule = "a rejection states its reason"


@dataclass(frozen=True)
class DecisionResult:
    """The rows one decision wrote; ids are None or empty for rows a rejection or an escalation does not write."""

    recommendation_id: int
    decision: str
    decision_id: int
    decided_by: str
    decided_at: datetime
    rule: str
    allocation_id: int | None = None
    task_ids: tuple[int, ...] = ()
    customer_message_id: int | None = None
    outbox_message_ids: tuple[uuid.UUID, ...] = ()


@dataclass
class BulkApprovalSummary:
    """The outcome of approving every proposed 'auto' recommendation, one transaction each."""

    approved: list[DecisionResult] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {"approved": len(self.approved), "refused": len(self.refused)}


def approve_recommendation(
    engine: Engine,
    actor: Actor,
    recommendation_id: int,
    *,
    comment: str | None = None,
    expected_qty: Decimal | None = None,
) -> DecisionResult:
    """Approve a proposed recommendation and write everything it sets in motion, in one transaction.

    expected_qty is the quantity the user saw; when given and different from
    the stored one, the approval is refused. Raises RoleRefused or an
    ApprovalRefused subclass that names why: AlreadyDecided, NotProposed,
    OverApprovalLimit, QuantityChanged, StaleRecommendation, NotEnoughSupply,
    LineAlreadyCovered, InvalidRecommendation or RecommendationNotFound.
    """
    try:
        require_deciding_role(actor, "approve recommendations")
        with engine.begin() as connection:
            outcome = _approve(connection, actor, recommendation_id, comment, expected_qty)
    except (RoleRefused, ApprovalRefused) as error:
        _audit_refusal(engine, actor, "approve_recommendation", recommendation_id, error)
        raise
    except IntegrityError as error:
        raise _already_decided_or(engine, recommendation_id, error) from None

    if isinstance(outcome, StaleRecommendation):
        logger.warning("recommendation %d marked stale at approval by %s: %s", recommendation_id, actor.username, outcome)
        raise outcome
    logger.info(
        "recommendation %d approved by %s: allocation %s, %d tasks, message %s",
        recommendation_id, actor.username, outcome.allocation_id, len(outcome.task_ids), outcome.customer_message_id,
    )
    return outcome


def reject_recommendation(engine: Engine, actor: Actor, recommendation_id: int, reason: str) -> DecisionResult:
    """Reject a proposed recommendation with its reason: a decision and an audit entry, no allocation."""
    try:
        require_deciding_role(actor, "reject recommendations")
        if not reason or not reason.strip():
            raise MissingReason(
                recommendation_id, f"rejecting recommendation {recommendation_id} needs a reason; write why it is rejected"
            )
        with engine.begin() as connection:
            result = _reject(connection, actor, recommendation_id, reason.strip())
    except (RoleRefused, ApprovalRefused) as error:
        _audit_refusal(engine, actor, "reject_recommendation", recommendation_id, error)
        raise
    except IntegrityError as error:
        raise _already_decided_or(engine, recommendation_id, error) from None
    logger.info("recommendation %d rejected by %s", recommendation_id, actor.username)
    return result


def approve_all_auto(engine: Engine, actor: Actor) -> BulkApprovalSummary:
    """Approve every proposed recommendation of class 'auto', one transaction each, and report each refusal."""
    try:
        require_deciding_role(actor, "approve recommendations")
    except RoleRefused as error:
        _audit_refusal(engine, actor, "approve_all_auto", None, error)
        raise
    table = schema.recommendations
    with engine.connect() as connection:
        ids = connection.execute(
            select(table.c.id)
            .where(table.c.status == RecommendationStatus.PROPOSED, table.c.governance_class == GovernanceClass.AUTO)
            .order_by(table.c.id)
        ).scalars().all()

    summary = BulkApprovalSummary()
    for recommendation_id in ids:
        try:
            summary.approved.append(approve_recommendation(engine, actor, recommendation_id))
        except ApprovalRefused as error:
            summary.refused.append((recommendation_id, str(error)))
    logger.info(
        "approve all auto by %s: %d approved, %d refused of %d proposed",
        actor.username, len(summary.approved), len(summary.refused), len(ids),
    )
    return summary


# --- The approval transaction ------------------------------------------------


def _approve(
    connection: Connection, actor: Actor, recommendation_id: int, comment: str | None, expected_qty: Decimal | None
) -> DecisionResult | StaleRecommendation:
    recommendation = _lock_undecided(connection, recommendation_id)
    if expected_qty is not None and Decimal(expected_qty) != recommendation["qty"]:
        raise QuantityChanged(recommendation_id, Decimal(expected_qty), recommendation["qty"])
    rule = _check_authority(connection, actor, recommendation)

    version = _data_version(recommendation)
    line = repository.lock_order_line(connection, recommendation["so_line_id"])
    supply_ref = _supply_ref(recommendation, line, version)
    supply, substitute, changes = _lock_supply(connection, recommendation, line, supply_ref, version)
    changes = describe_changes(SO_LINE_FIELDS, version.so_line, line, _line_label(line)) + changes
    if changes:
        return _mark_stale(connection, actor, recommendation, changes)

    _check_line_open(connection, recommendation, line)
    _check_available(recommendation, supply)

    approval = _decide(connection, actor, recommendation, "approve", comment)
    destination = line["warehouse_code"]
    context = Approval(recommendation, line, supply, substitute, destination, actor.username, approval["decided_at"])
    return _write_approval(connection, actor, context, approval, rule, comment)


def _lock_undecided(connection: Connection, recommendation_id: int) -> Mapping[str, Any]:
    """Lock the recommendation row; raise unless it is proposed and has no decision."""
    recommendation = repository.lock_recommendation(connection, recommendation_id)
    if recommendation is None:
        raise RecommendationNotFound(
            recommendation_id, f"recommendation {recommendation_id} does not exist; reload the queue"
        )
    decision = repository.find_decision(connection, recommendation_id)
    if decision is not None:
        raise AlreadyDecided(recommendation_id, decision["decision"], decision["decided_by"], decision["decided_at"])
    if recommendation["status"] != RecommendationStatus.PROPOSED:
        raise NotProposed(
            recommendation_id,
            f"recommendation {recommendation_id} is {recommendation['status']}, not proposed; "
            "only a proposed recommendation can be decided. Recompute recommendations for current data",
        )
    return recommendation


def _check_authority(connection: Connection, actor: Actor, recommendation: Mapping[str, Any]) -> str:
    limit = actor.approval_limit
    if actor.user_id is not None:
        user = repository.user_limit(connection, actor.user_id)
        if user is None or not user["active"]:
            raise InactiveUser(
                recommendation["id"],
                f"user {actor.username} (id {actor.user_id}) is missing or inactive and may not decide "
                "recommendations; ask an administrator to activate the account",
            )
        limit = user["approval_limit"]
    return check_authority(
        actor, recommendation["id"], recommendation["governance_class"],
        recommendation["revenue_recovered"], recommendation["currency"], limit,
    )


def _data_version(recommendation: Mapping[str, Any]) -> DataVersion:
    try:
        return parse_data_version(recommendation["data_version"])
    except DataVersionUnreadable as error:
        raise InvalidRecommendation(
            recommendation["id"], f"recommendation {recommendation['id']} cannot be checked: {error}; recompute recommendations"
        ) from None


def _supply_ref(recommendation: Mapping[str, Any], line: Mapping[str, Any], version: DataVersion) -> SupplyRef | None:
    """Return the supply the columns name, after checking that the data version names the same one."""
    try:
        named = supply_of_recommendation(
            recommendation["action"], recommendation["item_id"], recommendation["substitute_item_id"],
            recommendation["source_warehouse_id"], recommendation["source_po_line_id"], line["warehouse_id"],
        )
    except ValueError as error:
        raise InvalidRecommendation(recommendation["id"], f"recommendation {recommendation['id']} is invalid: {error}") from None
    if named != version.supply_ref:
        raise InvalidRecommendation(
            recommendation["id"],
            f"recommendation {recommendation['id']} draws on {named} but its data version was computed from "
            f"{version.supply_ref}; recompute recommendations",
        )
    return named


def _lock_supply(
    connection: Connection,
    recommendation: Mapping[str, Any],
    line: Mapping[str, Any],
    ref: SupplyRef | None,
    version: DataVersion,
) -> tuple[LockedSupply | None, Mapping[str, Any] | None, list[str]]:
    """Lock the supply row; return it, the substitute row, and the changes against the data version."""
    if ref is None:
        return None, None, []
    substitute = None
    ratio = Decimal(1)
    if recommendation["substitute_item_id"] is not None:
        substitute = repository.substitute(connection, recommendation["item_id"], ref.item_id)
        if substitute is None:
            sku = (repository.item(connection, ref.item_id) or {}).get("sku", ref.item_id)
            return None, None, [f"{sku} is no longer a listed substitute for {line['item_sku']}"]
        ratio = substitute["ratio"]
    needed = recommendation["qty"] * ratio

    if ref.kind == INVENTORY:
        row = repository.lock_inventory(connection, ref.item_id, ref.warehouse_id)
        if row is None:
            sku = (repository.item(connection, ref.item_id) or {}).get("sku", ref.item_id)
            code = repository.warehouse_code(connection, ref.warehouse_id) or ref.warehouse_id
            return None, substitute, [f"the stock row of {sku} at {code} no longer exists"]
        label = f"{row['item_sku']} at {row['warehouse_code']}"
        available = row["on_hand_qty"] - row["quality_hold_qty"] - row["allocated_qty"]
        changes = describe_changes(INVENTORY_FIELDS, version.supply, row, label)
    else:
        row = repository.lock_po_line(connection, ref.po_line_id)
        if row is None:
            return None, substitute, [f"PO line {ref.po_line_id} no longer exists"]
        label = f"PO {row['po_number']} line {row['line_number']} ({row['item_sku']})"
        available = row["open_qty"] - repository.po_line_allocated(connection, ref.po_line_id)
        changes = describe_changes(PO_LINE_FIELDS, version.supply, row, label)
    return LockedSupply(ref.kind, row, label, max(available, Decimal(0)), needed), substitute, changes


def _mark_stale(
    connection: Connection, actor: Actor, recommendation: Mapping[str, Any], changes: list[str]
) -> StaleRecommendation:
    refusal = StaleRecommendation(recommendation["id"], changes)
    repository.set_recommendation_status(connection, recommendation["id"], RecommendationStatus.STALE)
    record_audit(
        connection, actor=actor.username, action="mark_stale", entity=ENTITY, entity_id=recommendation["id"],
        before={"status": recommendation["status"]},
        after={"status": RecommendationStatus.STALE, "changes": changes},
        rule=refusal.rule, reason=str(refusal),
    )
    return refusal


def _check_line_open(connection: Connection, recommendation: Mapping[str, Any], line: Mapping[str, Any]) -> None:
    if recommendation["action"] == "escalate":
        return
    open_qty = line["ordered_qty"] - line["shipped_qty"] - line["cancelled_qty"]
    covered = repository.line_covered(connection, line["id"])
    if recommendation["qty"] > open_qty - covered:
        raise LineAlreadyCovered(
            recommendation["id"],
            f"{_line_label(line)} has {format_qty(open_qty)} units open and {format_qty(covered)} already covered "
            f"by approved allocations, so recommendation {recommendation['id']} for {format_qty(recommendation['qty'])} "
            "would allocate more than the line needs; nothing was allocated",
        )


def _check_available(recommendation: Mapping[str, Any], supply: LockedSupply | None) -> None:
    if supply is not None and supply.needed_qty > supply.available_qty:
        raise NotEnoughSupply(recommendation["id"], supply.label, supply.needed_qty, supply.available_qty)


def _decide(
    connection: Connection, actor: Actor, recommendation: Mapping[str, Any], decision: str, comment: str | None
) -> Mapping[str, Any]:
    row = repository.insert_decision(connection, recommendation["id"], actor, decision, comment)
    status = RecommendationStatus.APPROVED if decision == "approve" else RecommendationStatus.REJECTED
    repository.set_recommendation_status(connection, recommendation["id"], status)
    return row


def _write_approval(
    connection: Connection, actor: Actor, approval: Approval, decision: Mapping[str, Any], rule: str, comment: str | None
) -> DecisionResult:
    recommendation, line, supply = approval.recommendation, approval.line, approval.supply

    allocation_id = None
    values = effects.allocation_values(approval)
    if values is not None:
        allocation_id = repository.insert_allocation(connection, values)
        if supply.kind == INVENTORY:
            repository.reserve_stock(connection, supply.row["id"], supply.needed_qty, line["id"], approval.qty)

    message_id = _draft_customer_message(connection, approval)
    tasks = effects.plan_tasks(approval, message_id)
    task_ids = repository.insert_tasks(connection, recommendation["id"], tasks)

    record_audit(
        connection, actor=actor.username, action="approve_recommendation", entity=ENTITY,
        entity_id=recommendation["id"],
        before=_audit_state(recommendation["status"], supply, None),
        after={
            **_audit_state(RecommendationStatus.APPROVED, supply, supply.needed_qty if supply else None),
            "decision_id": decision["id"], "allocation_id": allocation_id, "task_ids": task_ids,
            "customer_message_id": message_id,
        },
        rule=rule, reason=comment,
    )

    outbox_ids = []
    if allocation_id is not None:
        outbox_ids.append(repository.insert_outbox(
            connection, ERP_TARGET, "allocation", effects.erp_allocation_payload(approval, allocation_id)
        ))
    feed = [{"task_id": task_id, **task} for task_id, task in zip(task_ids, tasks)]
    outbox_ids.append(repository.insert_outbox(
        connection, TASKS_TARGET, "task_feed", {"recommendation_id": recommendation["id"], "tasks": feed}
    ))

    return DecisionResult(
        recommendation_id=recommendation["id"], decision="approve", decision_id=decision["id"],
        decided_by=actor.username, decided_at=decision["decided_at"], rule=rule, allocation_id=allocation_id,
        task_ids=tuple(task_ids), customer_message_id=message_id, outbox_message_ids=tuple(outbox_ids),
    )


def _draft_customer_message(connection: Connection, approval: Approval) -> int | None:
    """Insert the draft from the action's template; None when that template is not approved."""
    code = TEMPLATE_FOR_ACTION[approval.action]
    template = load_template(connection, code)
    if template is None or not template["approved"]:
        logger.warning(
            "recommendation %d: template %s is missing or not approved; no customer message drafted",
            approval.recommendation["id"], code,
        )
        return None
    values = effects.placeholder_values(approval)
    return repository.insert_customer_message(connection, {
        "so_line_id": approval.line["id"],
        "recommendation_id": approval.recommendation["id"],
        "template_code": code,
        "subject": render(template["subject"], values),
        "body": render(template["body"], values),
        "placeholder_values": values,
    })


def _audit_state(status: str, supply: LockedSupply | None, taken: Decimal | None) -> dict[str, Any]:
    state: dict[str, Any] = {"status": status}
    if supply is not None:
        state["supply"] = supply.label
        state["available_qty"] = supply.available_qty - (taken or Decimal(0))
    return state


# --- Rejection and refusals ----------------------------------------------------


def _reject(connection: Connection, actor: Actor, recommendation_id: int, reason: str) -> DecisionResult:
    recommendation = _lock_undecided(connection, recommendation_id)
    rule = _check_authority(connection, actor, recommendation)

    decision = _decide(connection, actor, recommendation, "reject", reason)

    record_audit(
        connection, actor=actor.username, action="reject_recommendation", entity=ENTITY, entity_id=recommendation_id,
        before={"status": recommendation["status"]},
        after={"status": RecommendationStatus.REJECTED, "decision_id": decision["id"]},
        rule=rule, reason=reason,
    )
    return DecisionResult(
        recommendation_id=recommendation_id, decision="reject", decision_id=decision["id"],
        decided_by=actor.username, decided_at=decision["decided_at"], rule=rule,
    )


def _audit_refusal(engine: Engine, actor: Actor, action: str, recommendation_id: int | None, error: Exception) -> None:
    """Audit a refused attempt, except AlreadyDecided from a second click and a missing row, which change nothing."""
    if isinstance(error, (AlreadyDecided, RecommendationNotFound, StaleRecommendation)):
        return
    rule = getattr(error, "rule", "role must allow the action")
    record_audit_alone(
        engine, actor=actor.username, action=f"{action}_refused", entity=ENTITY, entity_id=recommendation_id,
        before=None, after={"role": actor.role.value}, rule=rule, reason=str(error),
    )
    logger.warning("%s of recommendation %s by %s refused: %s", action, recommendation_id, actor.username, error)


def _already_decided_or(engine: Engine, recommendation_id: int, error: IntegrityError) -> Exception:
    """Turn a unique violation on decisions into AlreadyDecided; return any other integrity error unchanged."""
    constraint = getattr(getattr(error.orig, "diag", None), "constraint_name", None)
    if constraint != "uq_decisions_recommendation_id":
        return error
    with engine.connect() as connection:
        decision = repository.find_decision(connection, recommendation_id)
    return AlreadyDecided(recommendation_id, decision["decision"], decision["decided_by"], decision["decided_at"])


def _line_label(line: Mapping[str, Any]) -> str:
    return f"order {line['order_number']} line {line['line_number']}"
