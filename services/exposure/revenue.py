"""Role-checked reads of the Revenue at risk page: revenue and margin at risk by ship week, customer and supplier, and the what-if preview.

Every function checks the actor's role before it reads; nothing here writes.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, text

from services.auth.navigation import REVENUE_AT_RISK, require_page
from services.auth.roles import Actor
from services.exposure.backlog import MAX_ROWS, InvalidBacklogRequest, read_frame
from services.exposure.queries import revenue_at_risk_by_ship_week
from services.exposure.whatif import SupplyChange, WhatIfResult, simulate_supply_change

DEFAULT_TOP = 50

REVENUE_BY_CUSTOMER = """
    select c.customer_code, c.name as customer_name, c.tier, e.currency,
           count(*) as lines, sum(e.revenue_at_risk) as revenue_at_risk, sum(e.margin_at_risk) as margin_at_risk,
           sum(e.penalty_exposure) as penalty_exposure
    from exposure e
    join sales_order_lines l on l.id = e.so_line_id
    join customers c on c.id = l.customer_id
    group by c.customer_code, c.name, c.tier, e.currency
    order by revenue_at_risk desc, c.customer_code, e.currency
    limit :limit
"""

REVENUE_BY_SUPPLIER = f"""
    select coalesce(s.supplier_code, '(none)') as supplier_code, s.name as supplier_name, e.currency,
           count(*) as lines, sum(e.revenue_at_risk) as revenue_at_risk, sum(e.margin_at_risk) as margin_at_risk
    from exposure e
    left join suppliers s on s.id = e.supplier_id
    group by s.supplier_code, s.name, e.currency
    order by revenue_at_risk desc, supplier_code, e.currency
    limit :limit
"""

SUPPLIERS_WITH_OPEN_PO_LINES = """
    select s.id as supplier_id, s.supplier_code, s.name as supplier_name, count(*) as open_po_lines
    from purchase_order_lines p
    join suppliers s on s.id = p.supplier_id
    where p.status = 'open'
    group by s.id, s.supplier_code, s.name
    order by s.supplier_code
"""

PO_LINE_BY_NUMBER = """
    select id from purchase_order_lines where po_number = :po_number and line_number = :line_number
"""


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_ROWS:
        raise InvalidBacklogRequest(f"limit {limit} is outside 1 to {MAX_ROWS:,}; pick a number in that range")


def revenue_by_ship_week(engine: Engine, actor: Actor) -> pd.DataFrame:
    """Sum lines, revenue, margin and penalty at risk by the Monday of the projected ship week (P50), per currency."""
    require_page(actor, REVENUE_AT_RISK)
    return revenue_at_risk_by_ship_week(engine)


def revenue_by_customer(engine: Engine, actor: Actor, *, limit: int = DEFAULT_TOP) -> pd.DataFrame:
    """Return the customers with the most revenue at risk, with margin and penalty at risk, largest first."""
    require_page(actor, REVENUE_AT_RISK)
    _check_limit(limit)
    with engine.connect() as connection:
        return read_frame(connection, REVENUE_BY_CUSTOMER, {"limit": limit})


def revenue_by_supplier(engine: Engine, actor: Actor, *, limit: int = DEFAULT_TOP) -> pd.DataFrame:
    """Return the suppliers with the most revenue at risk, largest first.

    A line counts for the supplier of the purchase order line it waits for,
    else for its item's preferred supplier; '(none)' collects lines with neither.
    """
    require_page(actor, REVENUE_AT_RISK)
    _check_limit(limit)
    with engine.connect() as connection:
        return read_frame(connection, REVENUE_BY_SUPPLIER, {"limit": limit})


def whatif_suppliers(engine: Engine, actor: Actor) -> pd.DataFrame:
    """List the suppliers that have open purchase order lines, the ones a what-if can delay."""
    require_page(actor, REVENUE_AT_RISK)
    with engine.connect() as connection:
        return read_frame(connection, SUPPLIERS_WITH_OPEN_PO_LINES)


def find_po_line(engine: Engine, actor: Actor, po_number: str, line_number: int) -> int:
    """Return the id of a purchase order line by its number; raise InvalidBacklogRequest when none has it."""
    require_page(actor, REVENUE_AT_RISK)
    with engine.connect() as connection:
        found = connection.execute(
            text(PO_LINE_BY_NUMBER), {"po_number": po_number.strip(), "line_number": line_number}
        ).scalar_one_or_none()
    if found is None:
        raise InvalidBacklogRequest(
            f"purchase order {po_number.strip()!r} has no line {line_number}; check the number and the line"
        )
    return found


def preview_supply_change(engine: Engine, actor: Actor, change: SupplyChange) -> WhatIfResult:
    """Show how exposure would change if the change happened; nothing is written.

    Raises InvalidWhatIf when the change names no open purchase order line.
    """
    require_page(actor, REVENUE_AT_RISK)
    return simulate_supply_change(engine, change)
