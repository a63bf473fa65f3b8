"""The whole product on the public sample files: start it on an empty database, drop the files, read the pages.

`control-tower up` runs against an empty database with the business date
set to 2 November 2020, the date the frePPLe network is replayed at. The
test copies the files of ../shared/realdata into the inbox folders and then
only waits: the worker must sync them, forecast the SCMS suppliers' ETAs,
compute exposure and write recommendations within five minutes. The Control
tower, Exposure, Recommendations and Supplier ETA pages are then read with
AppTest against the same database and their figures compared with it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from services.auth.roles import Actor, Role
from services.forecast.queries import list_eta_suppliers, supplier_backtests
from services.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow

REPLAY_DATE = date(2020, 11, 2)
DEADLINE_SECONDS = 300
POLL_SECONDS = 5
APP_PATH = str(PROJECT_ROOT / "app.py")

# Each public file and the inbox folder a user drops it into.
INBOX_FOLDER_OF = {
    "erp/DataCoSupplyChainDataset_sample.csv": "exports",
    "erp/frepple_distribution_demo.json": "frepple",
    "supplier/SCMS_Delivery_History_Dataset.csv": "exports",
    "edi/x12_850.edi": "edi",
    "edi/x12_855.edi": "edi",
    "edi/x12_856.edi": "edi",
    "edi/edifact_ordrsp_brodart.edi": "edi",
}

PIPELINE_STATE = text(
    """
    select
        (select count(*) from inbox_files where status = 'processed') as files_loaded,
        (select count(*) from forecast_series s join forecast_backtests b on b.series_key = s.series_key) as backtested,
        (select count(*) from exposure e join sales_order_lines l on l.id = e.so_line_id
          where l.source = 'frepple') as frepple_exposed,
        (select count(*) from recommendations) as recommendations,
        (select count(*) from job_runs where job_name = 'recommend' and status = 'succeeded'
          and (counts ->> 'skipped')::int = 0) as recommend_runs
    """
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_product(database_url: str, data_dir: Path, log_path: Path) -> subprocess.Popen:
    environment = dict(os.environ)
    environment.update(
        DATABASE_URL=database_url,
        CONTROL_TOWER_DATA_DIR=str(data_dir),
        CONTROL_TOWER_PORT=str(free_port()),
        CONTROL_TOWER_AS_OF=REPLAY_DATE.isoformat(),
        CONTROL_TOWER_INBOX_POLL_SECONDS=str(POLL_SECONDS),
    )
    with log_path.open("w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "services.cli", "up", "--no-demo"],
            cwd=PROJECT_ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
        )


def stop_product(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("the product did not stop within 90 s of SIGINT")


def drop_files(realdata_dir: Path, inbox: Path) -> None:
    for relative, folder in INBOX_FOLDER_OF.items():
        target = inbox / folder
        target.mkdir(parents=True, exist_ok=True)
        # Written under a temporary name and renamed, because the inbox skips .part files.
        partial = target / (Path(relative).name + ".part")
        shutil.copyfile(realdata_dir / relative, partial)
        partial.rename(target / Path(relative).name)


def wait_for_pipeline(engine, process: subprocess.Popen, log_path: Path) -> tuple[dict, float]:
    started = time.monotonic()
    state: dict = {}
    while time.monotonic() - started < DEADLINE_SECONDS:
        if process.poll() is not None:
            pytest.fail("the product stopped:\n" + log_path.read_text()[-4000:])
        with engine.connect() as connection:
            state = dict(connection.execute(PIPELINE_STATE).one()._mapping)
        if (state["files_loaded"] == len(INBOX_FOLDER_OF) and state["backtested"] and state["frepple_exposed"]
                and state["recommendations"] and state["recommend_runs"]):
            return state, time.monotonic() - started
        time.sleep(2)
    pytest.fail(f"after {DEADLINE_SECONDS} s the pipeline reached only {state}:\n" + log_path.read_text()[-4000:])


def open_page(monkeypatch, database_url: str, actor: Actor, page: str) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
    st.cache_data.clear()
    st.cache_resource.clear()
    app = AppTest.from_file(APP_PATH, default_timeout=120)
    app.session_state["actor"] = actor
    app.run()
    app.switch_page(page)
    app.run()
    assert not app.exception, [exception.value for exception in app.exception]
    return app


def metric(app: AppTest, label: str) -> str:
    values = [shown.value for shown in app.metric if shown.label == label]
    assert len(values) == 1, f"expected one metric labelled {label!r}, found {values}"
    return values[0]


def test_public_files_reach_pages_within_five_minutes(
    engine, database_url, realdata_dir, tmp_path, monkeypatch
):
    data_dir = tmp_path / "data"
    log_path = tmp_path / "product.log"
    process = start_product(database_url, data_dir, log_path)
    try:
        drop_files(realdata_dir, data_dir / "inbox")
        state, seconds = wait_for_pipeline(engine, process, log_path)
    finally:
        stop_product(process)

    assert seconds < DEADLINE_SECONDS
    with engine.connect() as connection:
        failed = connection.execute(text("select count(*) from job_runs where status = 'failed'")).scalar_one()
        scms_supplier_id = connection.execute(text(
            "select p.supplier_id from purchase_order_lines p where p.source = 'scms'"
            " group by p.supplier_id order by count(*) desc, p.supplier_id limit 1"
        )).scalar_one()
        scms_suppliers = connection.execute(text(
            "select count(distinct s.id) from suppliers s join purchase_order_lines p on p.supplier_id = s.id"
            " where p.source = 'scms'"
        )).scalar_one()
        open_lines = connection.execute(text(
            "select count(*) from sales_order_lines"
            " where status = 'open' and ordered_qty - shipped_qty - cancelled_qty > 0"
        )).scalar_one()
        exposed = connection.execute(text("select count(*) from exposure")).scalar_one()
        waiting = connection.execute(text("select count(*) from recommendations where status = 'proposed'")).scalar_one()
        open_po_lines = connection.execute(text(
            "select count(*) from purchase_order_lines"
            " where status = 'open' and ordered_qty - received_qty - cancelled_qty > 0"
        )).scalar_one()
    assert failed == 0
    assert scms_suppliers > 0
    assert state["frepple_exposed"] > 0

    leader = Actor("leader", Role.OPERATIONS_LEADER)
    tower = open_page(monkeypatch, database_url, leader, "pages/control_tower.py")
    assert metric(tower, "Open order lines") == f"{open_lines:,}"
    assert metric(tower, "Open PO lines") == f"{open_po_lines:,}"
    assert metric(tower, "Recommendations waiting") == f"{waiting:,}"

    exposure = open_page(monkeypatch, database_url, leader, "pages/exposure.py")
    assert metric(exposure, "Exposed lines") == f"{exposed:,}"

    queue = open_page(monkeypatch, database_url, leader, "pages/recommendations.py")
    shown_rows = min(waiting, 200)
    assert f"Rows 1-{shown_rows:,} of {waiting:,}. Select a row to decide it." in [
        caption.value for caption in queue.caption
    ]

    eta = open_page(monkeypatch, database_url, leader, "pages/supplier_eta.py")
    listed = list_eta_suppliers(engine, leader)
    scms_code = listed.loc[listed["supplier_id"] == scms_supplier_id, "supplier_code"].item()
    [choice] = [box for box in eta.selectbox if box.label == "Supplier"]
    assert len(choice.options) == len(listed) >= scms_suppliers + 1
    choice.set_value(scms_supplier_id).run()
    shown = [frame.value for frame in eta.dataframe if "mae_promise_days" in frame.value.columns]
    expected = supplier_backtests(engine, leader, scms_code)
    assert len(shown) == 1
    assert len(expected) > 0
    assert len(shown[0]) == len(expected)
    assert list(shown[0]["mae_p50_days"]) == list(expected["mae_p50_days"])
