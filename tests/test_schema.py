"""The canonical schema rejects rows that break the domain's rules."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from services.db import schema
from alembic.script import ScriptDirectory

from services.db.migrate import alembic_config, current_revision

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)


def _lineage(key: str) -> dict:
    return {"source": "test", "source_key": key, "source_updated_at": NOW}


def _seed_master(connection) -> dict:
    ids = {}
    ids["customer"] = connection.execute(
        insert(schema.customers).values(customer_code="C1", name="Acme Hospital", **_lineage("C1")).returning(schema.customers.c.id)
    ).scalar_one()
    ids["item"] = connection.execute(
        insert(schema.items).values(sku="SKU-1", description="Glove", family="PPE", unit_cost=2, list_price=3, **_lineage("SKU-1")).returning(schema.items.c.id)
    ).scalar_one()
    ids["warehouse"] = connection.execute(
        insert(schema.warehouses).values(warehouse_code="DAL", name="Dallas", time_zone="America/Chicago", **_lineage("DAL")).returning(schema.warehouses.c.id)
    ).scalar_one()
    return ids


def _order_line(ids: dict, **overrides) -> dict:
    values = dict(
        order_number="SO-1", line_number=1, customer_id=ids["customer"], item_id=ids["item"],
        warehouse_id=ids["warehouse"], order_date=date(2026, 3, 1), requested_date=date(2026, 3, 5),
        ordered_qty=10, unit_price=3, **_lineage("SO-1/1"),
    )
    values.update(overrides)
    return values


def test_migrations_reach_head(engine):
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()

    assert current_revision(engine) == head


@pytest.mark.parametrize(
    "overrides, constraint",
    [
        ({"shipped_qty": -1}, "ck_sales_order_lines_shipped_qty_not_negative"),
        ({"shipped_qty": 8, "cancelled_qty": 3}, "ck_sales_order_lines_shipped_and_cancelled_within_ordered"),
        ({"allocated_qty": 11}, "ck_sales_order_lines_allocated_within_ordered"),
        ({"requested_date": date(2026, 2, 28)}, "ck_sales_order_lines_requested_not_before_order"),
        ({"status": "lost"}, "ck_sales_order_lines_status_known"),
    ],
)
def test_order_line_check_constraints(engine, overrides, constraint):
    with engine.begin() as connection:
        ids = _seed_master(connection)

    with pytest.raises(IntegrityError) as raised:
        with engine.begin() as connection:
            connection.execute(insert(schema.sales_order_lines).values(**_order_line(ids, **overrides)))

    assert raised.value.orig.diag.constraint_name == constraint


def test_order_line_source_key_is_unique(engine):
    with engine.begin() as connection:
        ids = _seed_master(connection)
        connection.execute(insert(schema.sales_order_lines).values(**_order_line(ids)))

    with pytest.raises(IntegrityError) as raised:
        with engine.begin() as connection:
            connection.execute(insert(schema.sales_order_lines).values(**_order_line(ids, line_number=2)))

    assert raised.value.orig.diag.constraint_name == "uq_sales_order_lines_source_key"


def test_quality_hold_cannot_exceed_on_hand(engine):
    with engine.begin() as connection:
        ids = _seed_master(connection)

    with pytest.raises(IntegrityError) as raised:
        with engine.begin() as connection:
            connection.execute(
                insert(schema.inventory).values(
                    item_id=ids["item"], warehouse_id=ids["warehouse"], on_hand_qty=5,
                    quality_hold_qty=6, as_of=NOW, **_lineage("SKU-1@DAL"),
                )
            )

    assert raised.value.orig.diag.constraint_name == "ck_inventory_hold_within_on_hand"


def test_unknown_item_is_rejected_by_foreign_key(engine):
    with engine.begin() as connection:
        ids = _seed_master(connection)

    with pytest.raises(IntegrityError) as raised:
        with engine.begin() as connection:
            connection.execute(insert(schema.sales_order_lines).values(**_order_line(ids, item_id=999999)))

    assert raised.value.orig.diag.constraint_name == "fk_sales_order_lines_item_id_items"


def test_sync_run_counts_must_balance_when_succeeded(engine):
    with pytest.raises(IntegrityError) as raised:
        with engine.begin() as connection:
            connection.execute(
                insert(schema.sync_runs).values(
                    source="erp", entity="items", status="succeeded", read_count=10,
                    inserted_count=4, updated_count=3, unchanged_count=1, rejected_count=1,
                )
            )

    assert raised.value.orig.diag.constraint_name == "ck_sync_runs_counts_balance"


def test_audit_log_rejects_update_and_delete(engine):
    with engine.begin() as connection:
        audit_id = connection.execute(
            insert(schema.audit_log).values(actor="planner1", action="approve", entity="recommendation", entity_id="7").returning(schema.audit_log.c.id)
        ).scalar_one()

    for statement in (
        text("update audit_log set actor = 'someone else' where id = :id"),
        text("delete from audit_log where id = :id"),
    ):
        with pytest.raises(DBAPIError, match="audit_log is append-only"):
            with engine.begin() as connection:
                connection.execute(statement, {"id": audit_id})

    with engine.connect() as connection:
        actor = connection.execute(select(schema.audit_log.c.actor)).scalar_one()
    assert actor == "planner1"


def test_decision_is_unique_per_recommendation(engine):
    with engine.begin() as connection:
        ids = _seed_master(connection)
        line_id = connection.execute(insert(schema.sales_order_lines).values(**_order_line(ids)).returning(schema.sales_order_lines.c.id)).scalar_one()
        recommendation_id = connection.execute(
            insert(schema.recommendations).values(
                so_line_id=line_id, action="allocate", item_id=ids["item"], qty=4,
                explanation="on hand in DAL", governance_class="planner", data_version="v1",
            ).returning(schema.recommendations.c.id)
        ).scalar_one()
        connection.execute(insert(schema.decisions).values(recommendation_id=recommendation_id, decided_by="planner1", decision="approve"))

    with pytest.raises(IntegrityError) as raised:
        with engine.begin() as connection:
            connection.execute(insert(schema.decisions).values(recommendation_id=recommendation_id, decided_by="planner2", decision="approve"))

    assert raised.value.orig.diag.constraint_name == "uq_decisions_recommendation_id"
