"""`control-tower up`: database, migrations, demo data, worker and app as one product."""

from __future__ import annotations

import ctypes
import fcntl
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from datetime import datetime
from typing import Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text

from services.auth.users import ensure_demo_users
from services.db.engine import check_connection, make_engine
from services.db.migrate import upgrade_database
from services.settings import PROJECT_ROOT, Settings

logger = logging.getLogger(__name__)

CHILD_STOP_SECONDS = 15
APP_START_SECONDS = 120


class LaunchError(RuntimeError):
    """A part of the product did not start."""


class AlreadyRunning(LaunchError):
    """Another `control-tower up` already runs from the same data folder."""


@contextmanager
def single_instance(settings: Settings) -> Iterator[None]:
    """Lock the data folder exclusively for as long as the product runs.

    Raises AlreadyRunning when another process has the lock, before anything
    is started, so a second `up` cannot stop the first one's database.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock_path = settings.data_dir / "control-tower.lock"
    with lock_path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise AlreadyRunning(
                f"the product already runs from the data folder {settings.data_dir} (pid {holder}); "
                "stop it first, or set CONTROL_TOWER_DATA_DIR to another folder"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def check_port_free(address: str, port: int) -> None:
    """Raise LaunchError when the app's address and port cannot be bound."""
    try:
        infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise LaunchError(f"the address {address!r} cannot be resolved ({error}); set CONTROL_TOWER_ADDRESS") from None
    family, _, _, _, socket_address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(socket_address)
        except OSError as error:
            raise LaunchError(
                f"port {port} on {address} is in use ({error.strerror}); "
                "stop what uses it or set CONTROL_TOWER_PORT to a free port"
            ) from None


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM to this child when the launcher dies.

    This covers the app and the worker. An embedded PostgreSQL left by a killed
    launcher keeps running until the next `up` adopts and stops it.
    """
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def database_is_empty(engine: Engine) -> bool:
    with engine.connect() as connection:
        return not connection.execute(text("select exists (select 1 from sales_order_lines)")).scalar_one()


def load_demo(engine: Engine, settings: Settings, *, seed: int = 7, lines: int = 20_000) -> None:
    """Generate the demo distributor's files under the data folder and load them through the loader."""
    from seed_data.generator import generate_demo
    from services.sync.canonical import load_canonical_folder

    as_of = datetime.now(ZoneInfo(settings.business_timezone)).date()
    folder = settings.data_dir / "demo" / f"seed-{seed}-lines-{lines}-{as_of.isoformat()}"
    started = time.monotonic()
    generate_demo(folder, seed=seed, lines=lines, as_of=as_of)
    results = load_canonical_folder(
        engine, folder, source="demo", business_timezone=settings.business_timezone
    )
    ensure_demo_users(engine)
    loaded = sum(result.inserted + result.updated for result in results)
    rejected = sum(result.rejected for result in results)
    logger.info(
        "demo distributor loaded from %s: %d records in %d files, %d rejected, %.1f s",
        folder, loaded, len(results), rejected, time.monotonic() - started,
    )


def _child_environment(database_url: str) -> dict[str, str]:
    environment = dict(os.environ)
    environment["DATABASE_URL"] = database_url
    return environment


def _start_child(name: str, command: list[str], database_url: str) -> subprocess.Popen:
    process = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=_child_environment(database_url),
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    logger.info("started %s (pid %d)", name, process.pid)
    return process


def _wait_for_app(address: str, port: int, app: subprocess.Popen) -> None:
    deadline = time.monotonic() + APP_START_SECONDS
    url = f"http://{'127.0.0.1' if address in ('0.0.0.0', '::') else address}:{port}/_stcore/health"
    while time.monotonic() < deadline:
        if app.poll() is not None:
            raise LaunchError(f"the Streamlit app exited with code {app.returncode} before it served a page")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise LaunchError(f"the Streamlit app did not respond on port {port} within {APP_START_SECONDS} s")


def _stop_child(name: str, process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(CHILD_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        logger.warning("%s (pid %d) did not stop within %d s; killing it", name, process.pid, CHILD_STOP_SECONDS)
        process.kill()
        process.wait()
    logger.info("stopped %s (pid %d)", name, process.pid)


class _StopRequested:
    def __init__(self) -> None:
        self.signal_name: str | None = None

    def __call__(self, signum, _frame) -> None:
        self.signal_name = signal.Signals(signum).name


def run_product(settings: Settings, database_url: str, *, load_demo_data: bool = True, demo_lines: int = 20_000) -> int:
    """Prepare the database, start the worker and the app, and stop both on SIGINT or SIGTERM."""
    engine = make_engine(database_url)
    check_connection(engine)
    upgrade_database(engine)
    if load_demo_data and database_is_empty(engine):
        logger.info("the database has no order lines; loading the demo distributor")
        load_demo(engine, settings, lines=demo_lines)
    elif load_demo_data:
        # A demo loaded before the demo had users gets them now.
        ensure_demo_users(engine)
    engine.dispose()

    stop = _StopRequested()
    for signal_number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signal_number, stop)

    python = sys.executable
    worker = _start_child("worker", [python, "-m", "services.cli", "worker"], database_url)
    app = _start_child(
        "app",
        [python, "-m", "streamlit", "run", str(PROJECT_ROOT / "app.py"),
         "--server.address", settings.app_address, "--server.port", str(settings.app_port),
         "--server.headless", "true"],
        database_url,
    )
    children = {"app": app, "worker": worker}
    exit_code = 0
    try:
        _wait_for_app(settings.app_address, settings.app_port, app)
        shown = "localhost" if settings.app_address in ("127.0.0.1", "0.0.0.0", "::") else settings.app_address
        print(f"Backorder control tower is running at http://{shown}:{settings.app_port} (Ctrl-C stops it)", flush=True)
        while stop.signal_name is None:
            ended = [name for name, process in children.items() if process.poll() is not None]
            if ended:
                logger.error("%s exited unexpectedly with code %s; stopping the product", ended[0], children[ended[0]].returncode)
                exit_code = 1
                break
            time.sleep(0.5)
    except LaunchError as error:
        logger.error("%s", error)
        exit_code = 1
    finally:
        if stop.signal_name:
            logger.info("received %s; stopping the app and the worker", stop.signal_name)
        for name, process in children.items():
            _stop_child(name, process)
    return exit_code

