"""The approvals commands of the command line, run as a process against the test database."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import text

from tests.builders import make_inventory, make_item, make_order_line, make_recommendation, make_user, make_warehouse
from tests.test_settings import run_cli


def test_approve_auto_then_deliver_outbox(engine, database_url, tmp_path):
    with engine.begin() as connection:
        make_user(connection, username="ann", role="planner")
        item = make_item(connection)
        warehouse = make_warehouse(connection)
        make_inventory(connection, item_id=item["id"], warehouse_id=warehouse["id"], on_hand_qty=Decimal(5))
        for _ in range(2):
            line = make_order_line(connection, item_id=item["id"], warehouse_id=warehouse["id"], ordered_qty=Decimal(3))
            make_recommendation(connection, so_line_id=line["id"], governance_class="auto")
    environment = {"DATABASE_URL": database_url, "CONTROL_TOWER_DATA_DIR": str(tmp_path)}

    approved = run_cli("approvals", "approve-auto", "--user", "ann", environment=environment)
    delivered = run_cli("approvals", "deliver-outbox", environment=environment)
    unknown = run_cli("approvals", "approve-auto", "--user", "nobody", environment=environment)

    assert approved.returncode == 0, approved.stderr
    assert approved.stdout.splitlines()[0] == "approved 1, refused 1"
    assert "needs 3 units" in approved.stdout
    assert "only 2 remain available" in approved.stdout
    assert delivered.stdout.split() == ["written", "2", "already_present", "0", "retried", "0", "failed", "0"]
    assert len(list((tmp_path / "outbound" / "erp").glob("*.json"))) == 1
    assert len(list((tmp_path / "outbound" / "tasks").glob("*.json"))) == 1
    assert (unknown.returncode, unknown.stderr.strip().splitlines()[-1]) == (
        1, "error: no active user is named 'nobody'; check the name in the users table"
    )
    with engine.connect() as connection:
        assert connection.execute(text("select count(*) from decisions")).scalar_one() == 1


def test_approvals_commands_have_help():
    for command in (["approvals", "approve-auto"], ["approvals", "seed-templates"], ["approvals", "deliver-outbox"]):
        result = run_cli(*command, "--help", environment={})

        assert result.returncode == 0, command
        assert "Usage: " in result.stdout, command
