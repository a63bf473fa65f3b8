"""Use case: approve a customer message draft, with edits only within its approved template, and queue the mail."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, text, update

from services.approvals import repository
from services.approvals.audit import record_audit, record_audit_alone
from services.approvals.errors import InvalidMessageEdit
from services.approvals.governance import require_deciding_role
from services.approvals.templates import load_template, match_edit, normalise_text, placeholders
from services.auth.roles import Actor, RoleRefused
from services.db import schema

logger = logging.getLogger(__name__)

ENTITY = "customer_message"
CUSTOMER_MAIL_TARGET = "customer_mail"

LOCK_MESSAGE = text("""
    select m.*, l.order_number, l.line_number, c.customer_code, c.name as customer_name
    from customer_messages m
    join sales_order_lines l on l.id = m.so_line_id
    join customers c on c.id = l.customer_id
    where m.id = :id
    for update of m
""")


class MessageNotDraft(ValueError):
    """Only a draft can be approved; the message names who approved it and when."""


@dataclass(frozen=True)
class MessageApproval:
    message_id: int
    approved_by: str
    approved_at: datetime
    note: str
    outbox_message_id: uuid.UUID


def approve_customer_message(engine: Engine, actor: Actor, message_id: int, *, subject: str, body: str) -> MessageApproval:
    """Approve a draft as edited, if the edit stays within its template, and queue the mail in the outbox.

    Raises RoleRefused, MessageNotDraft, or InvalidMessageEdit naming the part
    that left the template and the values that must stay.
    """
    try:
        require_deciding_role(actor, "approve customer messages")
    except RoleRefused as error:
        record_audit_alone(
            engine, actor=actor.username, action="approve_customer_message_refused", entity=ENTITY,
            entity_id=message_id, after={"role": actor.role.value}, rule="role must allow the action", reason=str(error),
        )
        raise
    with engine.begin() as connection:
        result = _approve_message(connection, actor, message_id, subject, body)
    logger.info("customer message %d approved by %s; mail %s queued", message_id, actor.username, result.outbox_message_id)
    return result


def _approve_message(connection: Connection, actor: Actor, message_id: int, subject: str, body: str) -> MessageApproval:
    message = connection.execute(LOCK_MESSAGE, {"id": message_id}).mappings().first()
    if message is None:
        raise MessageNotDraft(f"customer message {message_id} does not exist; reload the drafts")
    if message["status"] != "draft":
        raise MessageNotDraft(
            f"customer message {message_id} is {message['status']} (approved by {message['approved_by']} at "
            f"{message['approved_at'].isoformat(timespec='seconds') if message['approved_at'] else 'an unknown time'}); "
            "only a draft can be approved"
        )
    template = load_template(connection, message["template_code"])
    if template is None or not template["approved"]:
        raise InvalidMessageEdit(
            message_id, f"template {message['template_code']} of customer message {message_id} is not approved; "
            "ask an administrator to approve the template first",
        )
    values = message["placeholder_values"]
    _check_within(message_id, "subject", template["subject"], values, subject)
    note = _check_within(message_id, "body", template["body"], values, body)

    approved_at = connection.execute(text("select now()")).scalar_one()
    table = schema.customer_messages
    connection.execute(
        update(table).where(table.c.id == message_id).values(
            subject=normalise_text(subject), body=normalise_text(body) + "\n",
            status="approved", approved_by=actor.username, approved_at=approved_at,
        )
    )
    record_audit(
        connection, actor=actor.username, action="approve_customer_message", entity=ENTITY, entity_id=message_id,
        before={"status": "draft", "subject": message["subject"], "body": message["body"]},
        after={"status": "approved", "subject": normalise_text(subject), "body": normalise_text(body) + "\n"},
        rule=f"edits only within approved template {message['template_code']}", reason=note or None,
    )
    outbox_id = repository.insert_outbox(connection, CUSTOMER_MAIL_TARGET, "customer_message", {
        "customer_message_id": message_id,
        "recommendation_id": message["recommendation_id"],
        "customer_code": message["customer_code"],
        "customer_name": message["customer_name"],
        "order_number": message["order_number"],
        "line_number": message["line_number"],
        "subject": normalise_text(subject),
        "body": normalise_text(body) + "\n",
    })
    return MessageApproval(message_id, actor.username, approved_at, note, outbox_id)


def _check_within(message_id: int, part: str, template_text: str, values, edited: str) -> str:
    note = match_edit(template_text, values, edited)
    if note is None:
        fixed = ", ".join(f"{name} {values[name]!r}" for name in placeholders(template_text) if name in values)
        slot = " and write free text only in the note line" if "{note}" in template_text else ""
        raise InvalidMessageEdit(
            message_id,
            f"the edited {part} of customer message {message_id} is not within its approved template: keep the "
            f"template's wording and the values {fixed}{slot}",
        )
    return note
