"""Many concurrent approvals on overlapping supply: no double allocation, no negative availability, no deadlock."""

from __future__ import annotations

import queue
import random
import threading
from collections import Counter
from decimal import Decimal

from sqlalchemy import text

from services.approvals import approve_recommendation
from services.approvals.errors import AlreadyDecided, LineAlreadyCovered, NotEnoughSupply
from services.auth.roles import Actor, Role
from tests.builders import (
    make_customer,
    make_inventory,
    make_item,
    make_order_line,
    make_po_line,
    make_recommendation,
    make_warehouse,
)

LEADER = Actor("lee", Role.OPERATIONS_LEADER)
RECOMMENDATIONS = 1000
REPEATED_CLICKS = 200
THREADS = 6
EXPECTED_REFUSALS = (NotEnoughSupply, LineAlreadyCovered, AlreadyDecided)


def _seed(engine, rng: random.Random) -> list[int]:
    """Create 4 items in 2 warehouses with scarce stock and PO lines, and 1000 recommendations that compete for them."""
    recommendation_ids = []
    with engine.begin() as connection:
        warehouses = [make_warehouse(connection)["id"] for _ in range(2)]
        items = [make_item(connection)["id"] for _ in range(4)]
        customer = make_customer(connection)["id"]
        po_lines = {}
        for item in items:
            for warehouse in warehouses:
                make_inventory(connection, item_id=item, warehouse_id=warehouse,
                               on_hand_qty=Decimal(rng.randint(40, 120)), quality_hold_qty=Decimal(rng.randint(0, 10)))
            po_lines[item] = make_po_line(connection, item_id=item, warehouse_id=warehouses[0],
                                          ordered_qty=Decimal(rng.randint(30, 80)))["id"]
        lines = [
            make_order_line(connection, customer_id=customer, item_id=rng.choice(items), warehouse_id=rng.choice(warehouses),
                            ordered_qty=Decimal(rng.randint(4, 12)))
            for _ in range(300)
        ]
        for _ in range(RECOMMENDATIONS):
            line = rng.choice(lines)
            source = rng.random()
            qty = Decimal(rng.randint(1, 6))
            if source < 0.2:
                extra = {"action": "expedite", "source_po_line_id": po_lines[line["item_id"]]}
            elif source < 0.5:
                other = [warehouse for warehouse in warehouses if warehouse != line["warehouse_id"]][0]
                extra = {"action": "transfer", "source_warehouse_id": other}
            else:
                extra = {"action": "allocate"}
            recommendation = make_recommendation(connection, so_line_id=line["id"], qty=qty, **extra)
            recommendation_ids.append(recommendation["id"])
    return recommendation_ids


def _approve_concurrently(engine, attempts: list[int]) -> Counter:
    work: queue.Queue[int] = queue.Queue()
    for recommendation_id in attempts:
        work.put(recommendation_id)
    outcomes: Counter = Counter()
    lock = threading.Lock()

    def worker() -> None:
        while True:
            try:
                recommendation_id = work.get_nowait()
            except queue.Empty:
                return
            try:
                approve_recommendation(engine, LEADER, recommendation_id)
                name = "approved"
            except EXPECTED_REFUSALS as error:
                name = type(error).__name__
            except Exception as error:  # any other outcome is a failure the assert below names
                name = f"unexpected {type(error).__name__}: {error}"
            with lock:
                outcomes[name] += 1

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _scalar(engine, sql: str):
    with engine.connect() as connection:
        return connection.execute(text(sql)).scalar_one()


def test_concurrent_approvals_never_over_allocate(engine):
    rng = random.Random(20260302)
    recommendation_ids = _seed(engine, rng)
    attempts = recommendation_ids + rng.choices(recommendation_ids, k=REPEATED_CLICKS)
    rng.shuffle(attempts)

    outcomes = _approve_concurrently(engine, attempts)

    assert sum(outcomes.values()) == RECOMMENDATIONS + REPEATED_CLICKS
    assert [name for name in outcomes if name.startswith("unexpected")] == []
    assert outcomes["approved"] >= 100
    assert outcomes["NotEnoughSupply"] + outcomes["LineAlreadyCovered"] >= 50
    assert _scalar(engine, "select count(*) from decisions") == outcomes["approved"]
    assert _scalar(engine, "select count(*) from allocations") == outcomes["approved"]
    assert _scalar(engine, "select count(*) from recommendations where status = 'approved'") == outcomes["approved"]
    assert _scalar(engine, "select count(*) from (select recommendation_id from allocations group by 1 having count(*) > 1) d") == 0
    assert _scalar(engine, "select count(*) from inventory where on_hand_qty - quality_hold_qty - allocated_qty < 0") == 0
    assert _scalar(engine, """
        select count(*) from inventory i
        where i.allocated_qty <> (select coalesce(sum(a.qty), 0) from allocations a
                                  where a.item_id = i.item_id and a.warehouse_id = i.warehouse_id and a.po_line_id is null)
    """) == 0
    assert _scalar(engine, """
        select count(*) from purchase_order_lines p
        where (select coalesce(sum(a.qty), 0) from allocations a where a.po_line_id = p.id)
              > p.ordered_qty - p.received_qty - p.cancelled_qty
    """) == 0
    assert _scalar(engine, """
        select count(*) from sales_order_lines l
        where (select coalesce(sum(r.qty), 0) from allocations a join recommendations r on r.id = a.recommendation_id
               where a.so_line_id = l.id) > l.ordered_qty - l.shipped_qty - l.cancelled_qty
           or l.allocated_qty <> (select coalesce(sum(r.qty), 0) from allocations a
                                  join recommendations r on r.id = a.recommendation_id
                                  where a.so_line_id = l.id and a.po_line_id is null)
    """) == 0
    assert _scalar(engine, "select count(*) from outbox where target = 'erp'") == outcomes["approved"]
