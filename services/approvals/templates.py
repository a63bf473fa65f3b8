"""Customer message templates: the approved defaults, rendering a draft, and checking an edit against its template.

A template is text with placeholders in str.format syntax. Every placeholder
but {note} is filled from the order line and the recommendation when the
draft is made, and those values are stored with the draft. {note} is the one
free-text slot: it renders empty, and the person approving the message may
write there. An edit is within the template when the edited subject and body
equal the template rendered with the stored values and some note, after line
ends are made \\n and trailing spaces are dropped. So the fixed wording and
every placeholder's value stay as approved, and only the note can change.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Mapping

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert

from services.db import schema

NOTE = "note"

PROMISE_DATE_CHANGE = "promise_date_change"
SUBSTITUTE_OFFER = "substitute_offer"
DELAY_NOTICE = "delay_notice"


@dataclass(frozen=True)
class Template:
    code: str
    name: str
    subject: str
    body: str


DEFAULT_TEMPLATES = (
    Template(
        PROMISE_DATE_CHANGE,
        "New delivery date",
        "Order {order_number} line {line_number}: new delivery date for {item_sku}",
        "Dear {customer_name},\n"
        "\n"
        "we have secured {qty} x {item_sku} ({item_description}) for your order {order_number}, "
        "line {line_number}. The delivery date moves from {old_promise_date} to {new_promise_date}.\n"
        "{note}\n"
        "Kind regards,\n"
        "Customer service\n",
    ),
    Template(
        SUBSTITUTE_OFFER,
        "Substitute item",
        "Order {order_number} line {line_number}: {substitute_sku} in place of {item_sku}",
        "Dear {customer_name},\n"
        "\n"
        "{item_sku} ({item_description}) on your order {order_number}, line {line_number}, is short. "
        "We will ship {substitute_qty} x {substitute_sku} ({substitute_description}) in its place for "
        "{qty} x {item_sku}. The delivery date moves from {old_promise_date} to {new_promise_date}.\n"
        "{note}\n"
        "Kind regards,\n"
        "Customer service\n",
    ),
    Template(
        DELAY_NOTICE,
        "Delay under review",
        "Order {order_number} line {line_number}: {item_sku} is delayed",
        "Dear {customer_name},\n"
        "\n"
        "{qty} x {item_sku} ({item_description}) on your order {order_number}, line {line_number}, "
        "cannot ship by {old_promise_date}. Our purchasing team is securing supply, and we will send "
        "you a new delivery date as soon as it is confirmed.\n"
        "{note}\n"
        "Kind regards,\n"
        "Customer service\n",
    ),
)

TEMPLATE_FOR_ACTION = {
    "allocate": PROMISE_DATE_CHANGE,
    "split": PROMISE_DATE_CHANGE,
    "transfer": PROMISE_DATE_CHANGE,
    "expedite": PROMISE_DATE_CHANGE,
    "substitute": SUBSTITUTE_OFFER,
    "escalate": DELAY_NOTICE,
}


def seed_message_templates(connection: Connection) -> int:
    """Insert the default templates, approved, where their code is missing; return how many were inserted.

    An existing template is left as it is, so an administrator's wording survives.
    """
    rows = [
        {"code": t.code, "name": t.name, "subject": t.subject, "body": t.body, "approved": True}
        for t in DEFAULT_TEMPLATES
    ]
    table = schema.message_templates
    statement = insert(table).values(rows).on_conflict_do_nothing(index_elements=["code"]).returning(table.c.code)
    return len(connection.execute(statement).all())


def load_template(connection: Connection, code: str) -> Mapping | None:
    """Return the template row, seeding the defaults first when the code is missing."""
    table = schema.message_templates
    row = connection.execute(select(table).where(table.c.code == code)).mappings().first()
    if row is None:
        seed_message_templates(connection)
        row = connection.execute(select(table).where(table.c.code == code)).mappings().first()
    return row


def placeholders(text: str) -> list[str]:
    """Return the placeholder names of a template text, in order."""
    return [field for _, field, _, _ in string.Formatter().parse(text) if field]


def render(text: str, values: Mapping[str, str], note: str = "") -> str:
    """Fill a template text; raise KeyError naming a placeholder that has no value."""
    return text.format_map({**values, NOTE: note})


def match_edit(template_text: str, values: Mapping[str, str], edited: str) -> str | None:
    """Return the note of an edited text that is within the template, or None when it is not.

    The fixed text and the placeholder values must appear unchanged; only the
    {note} slot may hold any text.
    """
    pattern = []
    for literal, field, _, _ in string.Formatter().parse(normalise_text(template_text)):
        pattern.append(re.escape(literal))
        if field == NOTE:
            pattern.append(r"(?P<note>.*?)")
        elif field:
            pattern.append(re.escape(str(values[field])))
    match = re.fullmatch("".join(pattern), normalise_text(edited), flags=re.DOTALL)
    if match is None:
        return None
    return match.groupdict().get(NOTE) or ""


def normalise_text(text: str) -> str:
    """Make line ends \\n and drop trailing spaces of each line and trailing blank lines."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).rstrip("\n")
