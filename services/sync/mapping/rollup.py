"""Roll receipts up into purchase order lines and shipments up into sales order lines.

An export that gives receipts or shipments, rather than a received or
shipped total per line, leaves the total to be summed here. A cancelled
shipment never counts as shipped.
"""

from __future__ import annotations

import logging
from typing import Iterable

from sqlalchemy import Connection, text

logger = logging.getLogger(__name__)

ROLL_UP_RECEIPTS = text(
    """
    with totals as (
        select po_line_id, sum(received_qty) as received
        from receipts
        where po_line_id = any(:ids)
        group by po_line_id
    ), rolled as (
        select p.id,
               t.received,
               case
                   when p.status = 'open' and p.ordered_qty - p.cancelled_qty > 0
                        and t.received >= p.ordered_qty - p.cancelled_qty then 'received'
                   else p.status
               end as status
        from purchase_order_lines p
        join totals t on t.po_line_id = p.id
    )
    update purchase_order_lines p
    set received_qty = r.received, status = r.status, source_fingerprint = null
    from rolled r
    where p.id = r.id and (p.received_qty <> r.received or p.status <> r.status)
    returning p.id
    """
)

ROLL_UP_SHIPMENTS = text(
    """
    with totals as (
        select so_line_id, coalesce(sum(qty) filter (where status <> 'cancelled'), 0) as shipped
        from shipments
        where kind = 'customer' and so_line_id = any(:ids)
        group by so_line_id
    ), rolled as (
        select s.id,
               least(t.shipped, s.ordered_qty - s.cancelled_qty) as shipped,
               t.shipped > s.ordered_qty - s.cancelled_qty as over_shipped,
               case
                   when s.status = 'open' and s.ordered_qty - s.cancelled_qty > 0
                        and t.shipped >= s.ordered_qty - s.cancelled_qty then 'shipped'
                   else s.status
               end as status
        from sales_order_lines s
        join totals t on t.so_line_id = s.id
    )
    update sales_order_lines s
    set shipped_qty = r.shipped, status = r.status, source_fingerprint = null
    from rolled r
    where s.id = r.id and (s.shipped_qty <> r.shipped or s.status <> r.status)
    returning s.id, r.over_shipped
    """
)


def roll_up_receipts(connection: Connection, po_line_ids: Iterable[int]) -> int:
    """Set each PO line's received quantity to the sum of its receipts; return how many lines changed.

    An open line whose receipts cover its ordered minus cancelled quantity
    becomes received. Lines without receipts keep their received quantity.
    """
    ids = sorted(set(po_line_ids))
    if not ids:
        return 0
    changed = connection.execute(ROLL_UP_RECEIPTS, {"ids": ids}).fetchall()
    logger.info("rolled receipts up into %d of %d purchase order lines", len(changed), len(ids))
    return len(changed)


def roll_up_shipments(connection: Connection, so_line_ids: Iterable[int]) -> int:
    """Set each order line's shipped quantity to the sum of its customer shipments that are not cancelled.

    Returns how many lines changed. An open line whose shipments cover its
    ordered minus cancelled quantity becomes shipped. The shipped quantity
    is capped at ordered minus cancelled, which the schema requires, and an
    over-shipped line is logged.
    """
    ids = sorted(set(so_line_ids))
    if not ids:
        return 0
    changed = connection.execute(ROLL_UP_SHIPMENTS, {"ids": ids}).fetchall()
    over = [row.id for row in changed if row.over_shipped]
    if over:
        logger.warning(
            "%d order lines have more shipped than ordered; shipped quantity capped for lines %s",
            len(over), ", ".join(map(str, over[:10])),
        )
    logger.info("rolled shipments up into %d of %d sales order lines", len(changed), len(ids))
    return len(changed)
