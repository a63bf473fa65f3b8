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
from pathlib import Path

import pytest
from sqlalchemy import text

from services.settings import PROJECT_ROOT
from seed_data.generator import generate_demo
from services.auth.users import ensure_demo_users
from services.approvals.queries import recommendation_queue
from services.auth.roles import Actor, Role
from services.exposure.recompute import recompute_exposure
from services.recommend.run import recommend
from services.sync.canonical import load_canonical_folder
from tests.builders import make_job_run

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS_DIR = PROJECT_ROOT / "test-artifacts"
STARTUP_TIMEOUT_SECONDS = 60
RENDER_TIMEOUT_SECONDS = 60
DEMO_LINES = 1_000

# Each demo user and the menu of its role, in order.
ROLE_PAGES = [
    ("executive", "executive-demo", ["Control tower", "Weekly KPIs"]),
    (
        "leader", "leader-demo",
        ["Control tower", "Exposure", "Revenue at risk", "Recommendations", "Supplier ETA", "Weekly KPIs", "Operations"],
    ),
    ("planner", "planner-demo", ["Control tower", "Recommendations", "Exposure", "Supplier ETA", "Customer updates"]),
    ("admin", "admin-demo", ["Control tower", "Settings", "Operations", "Weekly KPIs", "Supplier ETA"]),
]
# Tables each page draws on the demo: Control tower (top exposures, sources,
# jobs), Exposure (backlog, aging, root causes), Revenue at risk (weeks,
# customers, suppliers), Settings (users). The other pages are awaited until
# their script has finished, as their table count depends on the data.
PAGE_TABLES = {"Control tower": 3, "Exposure": 3, "Revenue at risk": 3, "Settings": 1}

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
def loaded_database_url(engine, database_url, tmp_path) -> str:
    """The test database with the demo distributor at 1,000 open lines, its exposure and its users."""
    today = datetime.now(timezone.utc).date()
    folder = tmp_path / "demo"
    generate_demo(folder, seed=7, lines=DEMO_LINES, as_of=today)
    load_canonical_folder(engine, folder, source="demo", business_timezone="America/Chicago")
    recompute_exposure(engine, as_of=today)
    ensure_demo_users(engine)
    with engine.begin() as connection:
        make_job_run(connection, job_name="sync_inbox", started_at=datetime.now(timezone.utc) - timedelta(minutes=20))
    return database_url


@pytest.fixture
def recommended_database_url(loaded_database_url, engine) -> str:
    """The loaded demo with the recommendations computed as of today."""
    recommend(engine, as_of=datetime.now(timezone.utc).date())
    return loaded_database_url


@pytest.fixture
def app_port(loaded_database_url, tmp_path):
    """Run `streamlit run app.py` on the loaded demo for one test."""
    yield from run_streamlit(loaded_database_url, tmp_path)


@pytest.fixture
def recommended_app_port(recommended_database_url, tmp_path):
    """Run `streamlit run app.py` on the loaded demo with its recommendations for one test."""
    yield from run_streamlit(recommended_database_url, tmp_path)


def run_streamlit(database_url: str, tmp_path):
    """Run `streamlit run app.py` on a free loopback port, yield the port, and stop it afterwards."""
    port = free_loopback_port()
    environment = dict(os.environ, DATABASE_URL=database_url)
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


def heading(browser) -> str:
    from selenium.webdriver.common.by import By

    headings = browser.find_elements(By.CSS_SELECTOR, "h1")
    return headings[0].text.strip() if headings else ""


def is_running(browser) -> bool:
    """Tell whether the app is still running a script: a spinner or the running status is shown."""
    from selenium.webdriver.common.by import By

    return bool(browser.find_elements(By.CSS_SELECTOR, '[data-testid="stSpinner"], [data-testid="stStatusWidget"] img'))


def wait_for(browser, condition, what: str) -> None:
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(browser, RENDER_TIMEOUT_SECONDS, ignored_exceptions=(StaleElementReferenceException,)).until(condition)
    except TimeoutException:
        screenshot = ARTIFACTS_DIR / "timeout.png"
        browser.save_screenshot(str(screenshot))
        pytest.fail(f"timed out after {RENDER_TIMEOUT_SECONDS} s waiting for {what}; screenshot in {screenshot}")


def sign_in(browser, port: int, username: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"http://127.0.0.1:{port}/")
    wait_for(browser, lambda driver: driver.find_elements(By.CSS_SELECTOR, 'input[aria-label="Username"]'), "the sign-in form")
    browser.find_element(By.CSS_SELECTOR, 'input[aria-label="Username"]').send_keys(username)
    browser.find_element(By.CSS_SELECTOR, 'input[aria-label="Password"]').send_keys(password)
    browser.find_element(By.XPATH, "//button[.//p[text()='Sign in']]").click()
    wait_for(browser, lambda driver: heading(driver) == "Control tower", f"the Control tower after signing in as {username}")


def open_page(browser, title: str) -> None:
    from selenium.webdriver.common.by import By

    links = browser.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebar"] a')
    matching = [link for link in links if link_title(link) == title]
    assert matching, f"no sidebar link {title!r}; links: {[link.text for link in links]}"
    matching[0].click()
    wait_for(browser, lambda driver: heading(driver) == title, f"the {title} page")


def menu_titles(browser) -> list[str]:
    from selenium.webdriver.common.by import By

    return [link_title(link) for link in browser.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebar"] a')]


def link_title(link) -> str:
    """Return a sidebar link's label without the name of its icon, which shares its text."""
    lines = link.text.strip().splitlines()
    return lines[-1] if lines else ""


@pytest.mark.parametrize(("username", "password", "titles"), ROLE_PAGES)
def test_each_role_sees_its_pages(app_port, browser, username, password, titles):
    from selenium.webdriver.common.by import By

    sign_in(browser, app_port, username, password)
    # The sidebar may be drawn after the heading, on the first run of a cold server.
    wait_for(browser, lambda driver: menu_titles(driver) == titles, f"the menu of {username}")
    assert menu_titles(browser) == titles

    ARTIFACTS_DIR.mkdir(exist_ok=True)
    for title in titles:
        open_page(browser, title)
        tables = PAGE_TABLES.get(title)
        if tables is not None:
            wait_for(
                browser,
                lambda driver: len(driver.find_elements(By.CSS_SELECTOR, '[data-testid="stDataFrame"]')) == tables,
                f"{tables} tables on {title}",
            )
        wait_for(browser, lambda driver: not is_running(driver), f"{title} to finish running")
        browser.save_screenshot(str(ARTIFACTS_DIR / f"{username}_{title.lower().replace(' ', '_')}.png"))

        assert not browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]'), title
        assert not browser.find_elements(By.CSS_SELECTOR, '[data-testid="stAlertContentError"]'), title

    browser.find_element(By.XPATH, "//button[.//p[text()='Sign out']]").click()
    wait_for(browser, lambda driver: driver.find_elements(By.CSS_SELECTOR, 'input[aria-label="Username"]'), "the sign-in form after signing out")
    # The sign-in form can render a moment before the page menu is removed.
    wait_for(browser, lambda driver: menu_titles(driver) == [], "the page menu to go after signing out")
    assert menu_titles(browser) == []


def test_control_tower_figures_in_chromium(app_port, browser, loaded_database_url, engine):
    sign_in(browser, app_port, "executive", "executive-demo")
    wait_for(browser, lambda driver: read_metric(driver, "Open order lines") is not None, "the backlog metrics")

    assert read_metric(browser, "Open order lines") == f"{DEMO_LINES:,}"
    assert read_metric(browser, "Recommendations waiting") == "0"


def test_wrong_password_in_chromium(app_port, browser):
    from selenium.webdriver.common.by import By

    browser.get(f"http://127.0.0.1:{app_port}/")
    wait_for(browser, lambda driver: driver.find_elements(By.CSS_SELECTOR, 'input[aria-label="Username"]'), "the sign-in form")
    browser.find_element(By.CSS_SELECTOR, 'input[aria-label="Username"]').send_keys("leader")
    browser.find_element(By.CSS_SELECTOR, 'input[aria-label="Password"]').send_keys("not the password")
    browser.find_element(By.XPATH, "//button[.//p[text()='Sign in']]").click()
    wait_for(browser, lambda driver: driver.find_elements(By.CSS_SELECTOR, '[data-testid="stAlertContentError"]'), "the sign-in error")

    error = browser.find_element(By.CSS_SELECTOR, '[data-testid="stAlertContentError"]').text.strip().splitlines()[-1]
    assert error == "Unknown username or wrong password; check both and try again."


def test_planner_approves_a_recommendation_in_chromium(recommended_app_port, browser, engine):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    planner = Actor("planner", Role.PLANNER)
    queue = recommendation_queue(engine, planner, limit=200)
    # The demo planner's approval limit is 25,000.00, so pick a recommendation within it.
    within = queue[(queue["governance_class"] != "leader") & (queue["revenue_recovered"] <= 25000)]
    recommendation_id = int(within["recommendation_id"].iloc[0])
    sign_in(browser, recommended_app_port, "planner", "planner-demo")
    open_page(browser, "Recommendations")
    wait_for(browser, lambda driver: driver.find_elements(By.CSS_SELECTOR, '[data-testid="stDataFrame"]'), "the queue")
    wait_for(browser, lambda driver: not is_running(driver), "the Recommendations page to finish running")

    # Selecting the first row of the table picks it. The grid is drawn on a canvas, so the click goes to
    # the selection checkbox of the first row: about 18 px from the left, below the 35 px header.
    grid = browser.find_element(By.CSS_SELECTOR, '[data-testid="stDataFrame"]')
    ActionChains(browser).move_to_element_with_offset(
        grid, 18 - grid.size["width"] // 2, 35 + 16 - grid.size["height"] // 2
    ).click().perform()
    first_id = int(queue["recommendation_id"].iloc[0])
    wait_for(
        browser,
        lambda driver: any(
            element.text.startswith(f"#{first_id} ")
            for element in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stMarkdownContainer"] strong')
        ),
        f"recommendation {first_id} picked by selecting the first row",
    )

    picker = browser.find_element(
        By.XPATH, "//div[@data-testid='stSelectbox'][.//label//p[text()='Recommendation']]//input"
    )
    picker.click()
    picker.send_keys(f"#{recommendation_id} ")
    picker.send_keys(Keys.ENTER)
    wait_for(browser, lambda driver: driver.find_elements(By.XPATH, "//button[.//p[text()='Approve']]"), "the Approve button")
    wait_for(browser, lambda driver: not is_running(driver), "the picked recommendation")
    browser.find_element(By.XPATH, "//button[.//p[text()='Approve']]").click()
    wait_for(
        browser,
        lambda driver: any(
            f"Recommendation {recommendation_id} approved" in toast.text
            for toast in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stToast"]')
        ),
        "the approval toast",
    )
    browser.save_screenshot(str(ARTIFACTS_DIR / "planner_recommendation_approved.png"))

    with engine.connect() as connection:
        decisions = connection.execute(text(
            "select decision, decided_by from decisions where recommendation_id = :id"
        ), {"id": recommendation_id}).all()
    assert decisions == [("approve", "planner")]
    assert not browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
