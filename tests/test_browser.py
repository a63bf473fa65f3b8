"""The running app rendered in headless Chromium, driven through Selenium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from services.settings import PROJECT_ROOT
from tests.builders import make_job_run, make_order_line, make_po_line, make_sync_run

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS_DIR = PROJECT_ROOT / "test-artifacts"
STARTUP_TIMEOUT_SECONDS = 60
RENDER_TIMEOUT_SECONDS = 60

CHROMIUM_ARGUMENTS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1100",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason=f"headless browser tests need {CHROMIUM} and {CHROMEDRIVER}; install the "
        "chromium and chromium-driver packages",
    ),
]


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(process: subprocess.Popen, port: int) -> None:
    """Poll the health endpoint until it returns ok, or fail with the server's output."""
    url = f"http://127.0.0.1:{port}/_stcore/health"
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            pytest.fail(f"streamlit exited with code {process.returncode}:\n{output}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    pytest.fail(f"streamlit did not answer {url} within {STARTUP_TIMEOUT_SECONDS} seconds")


@pytest.fixture
def loaded_database_url(engine, database_url) -> str:
    """The test database with three open order lines and runs that finished recently."""
    now = datetime.now(timezone.utc)
    with engine.begin() as connection:
        make_order_line(connection, ordered_qty=10, unit_price=Decimal("19.99"))
        make_order_line(connection, ordered_qty=4, unit_price=Decimal("125.50"))
        make_order_line(connection, ordered_qty=12, shipped_qty=5, unit_price=Decimal("7.25"))
        make_order_line(connection, ordered_qty=8, shipped_qty=8, status="shipped")
        make_po_line(connection, ordered_qty=100, received_qty=40, unit_cost=Decimal("3.10"))
        make_sync_run(
            connection, source="erp", entity="sales_order_lines", read_count=4,
            started_at=now - timedelta(hours=2), finished_at=now - timedelta(hours=2) + timedelta(minutes=1),
        )
        make_sync_run(
            connection, source="supplier_edi", entity="purchase_order_lines", status="failed",
            started_at=now - timedelta(minutes=40), error="missing column promised_date in row 1",
        )
        make_job_run(connection, job_name="sync_inbox", started_at=now - timedelta(minutes=20))
    return database_url


@pytest.fixture
def app_port(loaded_database_url, tmp_path):
    """Run `streamlit run app.py` on a free loopback port for one test and stop it afterwards."""
    port = free_loopback_port()
    environment = dict(os.environ, DATABASE_URL=loaded_database_url)
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        # A developer's own secrets.toml must not replace the test database.
        "--secrets.files", str(tmp_path / "no-secrets.toml"),
    ]
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=environment,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_until_healthy(process, port)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
        if process.stdout:
            process.stdout.close()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in CHROMIUM_ARGUMENTS:
        options.add_argument(argument)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def read_metric(browser, label: str) -> str | None:
    """Return the shown value of the metric with this label, or None while it is not drawn."""
    from selenium.webdriver.common.by import By

    for metric in browser.find_elements(By.CSS_SELECTOR, '[data-testid="stMetric"]'):
        shown_label = metric.find_element(By.CSS_SELECTOR, '[data-testid="stMetricLabel"]').text
        if shown_label.strip() == label:
            return metric.find_element(By.CSS_SELECTOR, '[data-testid="stMetricValue"]').text.strip()
    return None


def test_control_tower_renders_in_chromium(app_port, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"http://127.0.0.1:{app_port}/")
    WebDriverWait(browser, RENDER_TIMEOUT_SECONDS).until(
        lambda driver: read_metric(driver, "Open order lines") is not None
    )
    # The tables are drawn after the metrics, so wait for both before taking the screenshot.
    WebDriverWait(browser, RENDER_TIMEOUT_SECONDS).until(
        lambda driver: len(driver.find_elements(By.CSS_SELECTOR, '[data-testid="stDataFrame"]')) == 2
    )
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS_DIR / "control_tower.png"))

    assert read_metric(browser, "Open order lines") == "3"
    assert read_metric(browser, "Open units") == "21"
    assert read_metric(browser, "Open value") == "$752.65"
    assert read_metric(browser, "Open PO lines") == "1"
    assert browser.find_element(By.CSS_SELECTOR, "h1").text.strip() == "Control tower"
    assert not browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
