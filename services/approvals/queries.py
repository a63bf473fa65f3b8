"""Read services for the approval pages: the recommendation queue, decision history, tasks and customer message drafts.

Each returns a DataFrame with one row per record and the columns a page shows.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, text

from services.approvals.governance import GovernanceClass, RecommendationStatus
from services.recommend.governance import ACTIONS
from services.auth.roles import Actor, Role, require_role

READING_ROLES = (Role.PLANNER, Role.OPERATIONS_LEADER, Role.ADMINISTRATOR)
MAX_ROWS = 1000

# The stale reason is the reason of the recommendation's latest mark_stale audit entry.
QUEUE = text("""
    select r.id as recommendation_id,
           l.order_number || '/' || l.line_number as order_line,
           c.name as customer, c.tier as customer_tier,
           i.sku as item, r.action, r.qty,
           coalesce(w.warehouse_code, p.po_number || '/' || p.line_number) as source,
           si.sku as substitute,
           r.expected_date, r.explanation,
           r.revenue_recovered, r.days_saved, r.cost, r.currency,
           r.governance_class, r.status,
           stale.reason as stale_reason,
           r.created_at
    from recommendations r
    join sales_order_lines l on l.id = r.so_line_id
    join customers c on c.id = l.customer_id
    join items i on i.id = r.item_id
    left join warehouses w on w.id = r.source_warehouse_id
    left join purchase_order_lines p on p.id = r.source_po_line_id
    left join items si on si.id = r.substitute_item_id
    left join lateral (
        select a.reason from audit_log a
        where a.entity = 'recommendation' and a.entity_id = r.id::text and a.action = 'mark_stale'
        order by a.id desc limit 1
    ) stale on true
    where (cast(:status as text) is null or r.status = :status)
      and (cast(:governance_class as text) is null or r.governance_class = :governance_class)
      and (cast(:action as text) is null or r.action = :action)
    order by r.revenue_recovered desc, r.id
    limit :limit offset :offset
""")

QUEUE_COUNT = text("""
    select count(*) from recommendations r
    where (cast(:status as text) is null or r.status = :status)
      and (cast(:governance_class as text) is null or r.governance_class = :governance_class)
      and (cast(:action as text) is null or r.action = :action)
""")

DECISIONS = text("""
    select d.id as decision_id, d.recommendation_id, d.decision, d.decided_by, d.decided_at, d.comment,
           l.order_number || '/' || l.line_number as order_line, i.sku as item, r.action, r.qty,
           r.revenue_recovered, r.currency, r.governance_class
    from decisions d
    join recommendations r on r.id = d.recommendation_id
    join sales_order_lines l on l.id = r.so_line_id
    join items i on i.id = r.item_id
    order by d.decided_at desc, d.id desc
    limit :limit offset :offset
""")

TASKS = text("""
    select t.id as task_id, t.kind, t.title, t.status, t.due_date, t.recommendation_id, t.created_at, t.detail
    from tasks t
    where (cast(:kind as text) is null or t.kind = :kind)
      and (cast(:status as text) is null or t.status = :status)
    order by t.due_date nulls last, t.id
    limit :limit offset :offset
""")

MESSAGES = text("""
    select m.id as message_id, m.recommendation_id, l.order_number || '/' || l.line_number as order_line,
           c.name as customer, m.placeholder_values->>'item_sku' as item,
           m.placeholder_values->>'old_promise_date' as old_promise_date,
           m.placeholder_values->>'new_promise_date' as new_promise_date, m.template_code, m.subject, m.body, m.status, m.created_at,
           m.approved_by, m.approved_at
    from customer_messages m
    join sales_order_lines l on l.id = m.so_line_id
    join customers c on c.id = l.customer_id
    where (cast(:status as text) is null or m.status = :status)
    order by m.created_at, m.id
    limit :limit offset :offset
""")

# Customer mails of the outbox with the message they carry; the payload is what approve_customer_message queued.
CUSTOMER_MAIL = text("""
    select o.message_id, (o.payload->>'customer_message_id')::bigint as customer_message_id,
           o.payload->>'order_number' || '/' || (o.payload->>'line_number') as order_line,
           o.payload->>'customer_name' as customer, o.payload->>'subject' as subject,
           o.status, o.attempts, o.created_at, o.delivered_at, o.last_error
    from outbox o
    where o.target = 'customer_mail'
      and (cast(:status as text) is null or o.status = :status)
    order by o.created_at desc, o.id desc
    limit :limit offset :offset
""")


def recommendation_queue(
    engine: Engine,
    actor: Actor,
    *,
    status: str | None = RecommendationStatus.PROPOSED,
    governance_class: str | None = None,
    action: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> pd.DataFrame:
    """Return recommendations of a status, class and action (None matches every one), largest revenue recovered first, with their impact."""
    require_role(actor, "read the recommendation queue", *READING_ROLES)
    filters = _queue_filters(status, governance_class, action)
    frame = _read(engine, QUEUE, **filters, limit=limit, offset=offset)
    frame.insert(frame.columns.get_loc("revenue_recovered"), "impact", [_impact(row) for row in frame.itertuples()])
    return frame


def count_recommendations(
    engine: Engine,
    actor: Actor,
    *,
    status: str | None = RecommendationStatus.PROPOSED,
    governance_class: str | None = None,
    action: str | None = None,
) -> int:
    """Return how many recommendations recommendation_queue lists with the same filters, over all its pages."""
    require_role(actor, "read the recommendation queue", *READING_ROLES)
    with engine.connect() as connection:
        return connection.execute(QUEUE_COUNT, _queue_filters(status, governance_class, action)).scalar_one()


def _queue_filters(status: str | None, governance_class: str | None, action: str | None) -> dict[str, str | None]:
    """Check the filters against the known statuses, classes and actions; raise ValueError naming an unknown one."""
    if action is not None and action not in ACTIONS:
        raise ValueError(f"action {action!r} is unknown; use one of {', '.join(ACTIONS)}")
    return {
        "status": None if status is None else RecommendationStatus(status).value,
        "governance_class": None if governance_class is None else GovernanceClass(governance_class).value,
        "action": action,
    }


def decision_history(engine: Engine, actor: Actor, *, limit: int = 200, offset: int = 0) -> pd.DataFrame:
    """Return decisions, newest first, with what was decided."""
    require_role(actor, "read the decision history", *READING_ROLES)
    return _read(engine, DECISIONS, limit=limit, offset=offset)


def task_list(
    engine: Engine, actor: Actor, *, kind: str | None = None, status: str | None = "open", limit: int = 200, offset: int = 0
) -> pd.DataFrame:
    """Return tasks of a kind and status (every one for None), earliest due first."""
    require_role(actor, "read tasks", *READING_ROLES)
    return _read(engine, TASKS, kind=kind, status=status, limit=limit, offset=offset)


def customer_message_drafts(
    engine: Engine, actor: Actor, *, status: str | None = "draft", limit: int = 200, offset: int = 0
) -> pd.DataFrame:
    """Return customer messages of a status (drafts by default), oldest first."""
    require_role(actor, "read customer messages", *READING_ROLES)
    return _read(engine, MESSAGES, status=status, limit=limit, offset=offset)


def delivered_customer_mail(
    engine: Engine, actor: Actor, *, status: str | None = None, limit: int = 200, offset: int = 0
) -> pd.DataFrame:
    """Return the customer mails of the outbox, newest first, with their delivery status and time."""
    require_role(actor, "read the customer mail outbox", *READING_ROLES)
    return _read(engine, CUSTOMER_MAIL, status=status, limit=limit, offset=offset)


def _read(engine: Engine, statement, *, limit: int, offset: int, **parameters) -> pd.DataFrame:
    if not 1 <= limit <= MAX_ROWS or offset < 0:
        raise ValueError(f"limit {limit} and offset {offset} are invalid; use a limit from 1 to {MAX_ROWS} and an offset of 0 or more")
    with engine.connect() as connection:
        result = connection.execute(statement, {**parameters, "limit": limit, "offset": offset})
        return pd.DataFrame(result.mappings().all(), columns=list(result.keys()))


def _impact(row) -> str:
    parts = [f"recovers {row.revenue_recovered:,.2f} {row.currency}"]
    if row.days_saved:
        parts.append(f"{row.days_saved} days earlier")
    if row.cost:
        parts.append(f"costs {row.cost:,.2f} {row.currency}")
    return ", ".join(parts)


class UnknownUser(LookupError):
    """No active user has the given username."""


def load_actor(engine: Engine, username: str) -> Actor:
    """Return the Actor of an active user by username, for commands run on a user's behalf; raise UnknownUser."""
    with engine.connect() as connection:
        row = connection.execute(
            text("select id, username, role, approval_limit, display_name from users where username = :name and active"),
            {"name": username},
        ).mappings().first()
    if row is None:
        raise UnknownUser(f"no active user is named {username!r}; check the name in the users table")
    return Actor(row["username"], Role(row["role"]), row["approval_limit"], row["id"], row["display_name"])
