"""Use cases: list the customer message templates and change one's wording within the placeholders drafts fill.

A template may use only the placeholders that a draft stores values for
(services.approvals.effects.placeholder_values) and {note} at most once in
each text, because an edit of a draft is matched against the template with
{note} as its one free-text slot. Format specs and conversions are refused,
since that match compares the plain values.
"""

from __future__ import annotations

import logging
import string

import pandas as pd
from sqlalchemy import Engine, func, select, update

from services.admin.common import audit_change, require_administrator
from services.admin.errors import InvalidAdminChange
from services.approvals.templates import NOTE, normalise_text, seed_message_templates
from services.auth.roles import Actor, Role, require_role
from services.db import schema

logger = logging.getLogger(__name__)

ENTITY = "message_template"
PLACEHOLDERS = (
    "order_number", "line_number", "customer_name", "item_sku", "item_description", "qty",
    "old_promise_date", "new_promise_date", "substitute_sku", "substitute_description", "substitute_qty", NOTE,
)


def list_message_templates(engine: Engine, actor: Actor) -> pd.DataFrame:
    """Return every message template (seeding the defaults when none exist), by code."""
    require_role(actor, "read message templates", Role.ADMINISTRATOR)
    table = schema.message_templates
    with engine.begin() as connection:
        seed_message_templates(connection)
        rows = connection.execute(select(table).order_by(table.c.code)).mappings().all()
    return pd.DataFrame(rows, columns=[column.name for column in table.columns])


def check_template_text(part: str, text: str) -> str:
    """Return the text with normalised line ends; raise InvalidAdminChange naming a bad placeholder."""
    if not text.strip():
        raise InvalidAdminChange(f"the template {part} is empty; write the {part} of the message")
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError as error:
        raise InvalidAdminChange(
            f"the template {part} has an unmatched brace ({error}); write placeholders as {{name}} and a literal brace as {{{{ or }}}}"
        ) from None
    notes = 0
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            raise InvalidAdminChange(
                f"placeholder {{{name}}} in the template {part} is unknown; use only {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
            )
        if spec or conversion:
            raise InvalidAdminChange(
                f"placeholder {{{name}}} in the template {part} has a format spec or conversion; write it as {{{name}}}"
            )
        notes += name == NOTE
    if notes > 1:
        raise InvalidAdminChange(f"the template {part} has {{note}} {notes} times; keep at most one free-text slot")
    return normalise_text(text) + ("\n" if part == "body" else "")


def update_message_template(engine: Engine, actor: Actor, code: str, *, subject: str, body: str) -> None:
    """Store a template's new subject and body and audit the change; raise InvalidAdminChange for a bad text.

    NOTE: a draft keeps the text rendered from the old wording, but its
    approval is matched against the new wording, so an unchanged old draft
    is refused until it is rewritten in the new wording.
    """
    require_administrator(engine, actor, "change message templates", ENTITY, code)
    checked_subject = check_template_text("subject", subject)
    if "\n" in checked_subject:
        raise InvalidAdminChange("the template subject has a line break; write the subject on one line")
    checked_body = check_template_text("body", body)

    table = schema.message_templates
    with engine.begin() as connection:
        before = connection.execute(
            select(table.c.subject, table.c.body).where(table.c.code == code).with_for_update()
        ).mappings().first()
        if before is None:
            raise InvalidAdminChange(f"message template {code!r} does not exist; pick one of the listed templates")
        connection.execute(
            update(table).where(table.c.code == code).values(subject=checked_subject, body=checked_body, updated_at=func.now())
        )
        audit_change(
            connection, actor, "update_message_template", ENTITY, code, dict(before),
            {"subject": checked_subject, "body": checked_body}, "templates use only the placeholders drafts fill",
        )
    logger.info("message template %s changed by %s", code, actor.username)

