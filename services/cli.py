"""The `control-tower` command line."""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Iterator, Optional

import typer

from services.auth.cli import users_app
from services.risk.cli import risk_app
from services.settings import Settings, SettingsError, configure_logging, load_settings

logger = logging.getLogger("services.cli")

app = typer.Typer(
    help="Backorder control tower for distributors: load ERP exports into PostgreSQL and watch the backlog.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
demo_app = typer.Typer(help="The demo distributor: generate its files or load them.", no_args_is_help=True)
approvals_app = typer.Typer(help="Governed decisions on recommendations and their write-back.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(approvals_app, name="approvals")
app.add_typer(users_app, name="users")
app.add_typer(risk_app, name="risk")


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _settings() -> Settings:
    try:
        settings = load_settings()
    except SettingsError as error:
        _fail(str(error), code=2)
    configure_logging(settings.log_level)
    return settings


@contextmanager
def _database(settings: Settings, *, own_embedded_server: bool = False) -> Iterator[str]:
    """Yield a reachable database URL, turning startup failures into one line and exit code 1."""
    from services.db.embedded import EmbeddedDatabaseError
    from services.db.engine import DatabaseUnavailable, check_connection, database_url, make_engine

    try:
        with database_url(settings, own_embedded_server=own_embedded_server) as url:
            engine = make_engine(url)
            check_connection(engine)
            engine.dispose()
            yield url
    except (DatabaseUnavailable, EmbeddedDatabaseError) as error:
        _fail(str(error))


@contextmanager
def _migrated_engine(settings: Settings) -> Iterator:
    """Yield an engine on a reachable database at the newest migration; dispose of it at exit."""
    from services.db.engine import make_engine
    from services.db.migrate import upgrade_database

    with _database(settings) as url:
        engine = make_engine(url)
        try:
            upgrade_database(engine)
            yield engine
        finally:
            engine.dispose()


@app.command()
def up(
    demo: Optional[bool] = typer.Option(
        None,
        help="Load the demo distributor when the database has no order lines "
        "(default: yes for the embedded database, no when DATABASE_URL is set).",
    ),
    demo_lines: int = typer.Option(20_000, help="Open order lines of the demo distributor, from 1,000 to 1,000,000."),
) -> None:
    """Run the product: database, migrations, demo data, worker and app; Ctrl-C stops it all."""
    from services.launcher import LaunchError, check_port_free, run_product, single_instance

    settings = _settings()
    load_demo_data = settings.uses_embedded_database if demo is None else demo
    try:
        with single_instance(settings):
            check_port_free(settings.app_address, settings.app_port)
            with _database(settings, own_embedded_server=True) as url:
                code = run_product(settings, url, load_demo_data=load_demo_data, demo_lines=demo_lines)
    except LaunchError as error:
        _fail(str(error))
    if settings.uses_embedded_database:
        typer.echo("The embedded PostgreSQL has stopped; its data stays in " + str(settings.data_dir / "postgres"))
    raise typer.Exit(code)


@app.command()
def worker() -> None:
    """Run the worker process: the scheduled jobs, until SIGINT or SIGTERM."""
    from services.worker.scheduler import run_worker

    settings = _settings()
    with _database(settings) as url:
        run_worker(settings, url)


@app.command()
def load(
    path: Path = typer.Argument(..., help="A canonical CSV file, or a folder of them named after their entity (items.csv, sales_order_lines.csv, ...)."),
    source: str = typer.Option("erp", help="Name of the source system, stored with every record."),
) -> None:
    """Load canonical CSV files now and print the counts of each sync run."""
    from services.sync.canonical import FileRejected, canonical_files, load_canonical_file, load_canonical_folder

    settings = _settings()
    if not path.exists():
        _fail(f"{path} does not exist; name a canonical CSV file or a folder of them")
    if path.is_dir():
        loadable, skipped = canonical_files(path)
        for skipped_path, reason in skipped:
            typer.echo(f"skipped {skipped_path.name}: {reason}")
        if not loadable:
            _fail(f"{path} holds no canonical CSV file; see docs/data-formats.md for the file names")
    with _migrated_engine(settings) as engine:
        try:
            if path.is_dir():
                results = load_canonical_folder(engine, path, source=source, business_timezone=settings.business_timezone)
            else:
                results = [load_canonical_file(engine, path, source=source, business_timezone=settings.business_timezone)]
        except FileRejected as error:
            _fail(str(error))
    _print_results(results)


@app.command()
def sync(
    paths: list[Path] = typer.Argument(..., help="Files or folders to load: canonical CSV, mapped exports, frePPLe fixtures, supplier EDI."),
    as_of: Optional[str] = typer.Option(None, help="Replay date for frePPLe fixtures, YYYY-MM-DD; default: the fixture's own current date."),
) -> None:
    """Load files through the connector each one needs and print the counts per file."""
    from services.sync.sources import sync_paths

    settings = _settings()
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        _fail(f"{', '.join(missing)} does not exist; name files or folders to load")
    replay = _parse_as_of(as_of, settings) if as_of else None
    with _migrated_engine(settings) as engine:
        synced = sync_paths(engine, paths, settings, as_of=replay)
    failed = 0
    for synced_file in synced:
        if synced_file.kind == "skipped":
            typer.echo(f"\n{synced_file.path}: skipped, {synced_file.error}")
            continue
        detail = f", {Path(synced_file.detail).name if synced_file.kind == 'export' else synced_file.detail}" if synced_file.detail else ""
        typer.echo(f"\n{synced_file.path} ({synced_file.kind}{detail})")
        if synced_file.error:
            failed += 1
            typer.echo(f"    rejected: {synced_file.error}")
            continue
        _print_results(synced_file.results)
    if failed:
        raise typer.Exit(1)


@app.command()
def exposure(
    as_of: Optional[str] = typer.Option(None, help="Business date to net at, YYYY-MM-DD; default today in each warehouse's zone."),
) -> None:
    """Recompute exposure now: net open order lines against supply and print the counts."""
    from services.exposure.recompute import ExposureBusy, recompute_exposure

    settings = _settings()
    as_of_date = _parse_as_of(as_of, settings) if as_of else None
    with _migrated_engine(settings) as engine:
        try:
            result = recompute_exposure(engine, as_of=as_of_date)
        except ExposureBusy as error:
            _fail(str(error))
    for name, value in result.counts().items():
        typer.echo(f"{name:<24} {value:>10}")


@app.command()
def recommend(
    as_of: Optional[str] = typer.Option(None, help="Business date to allocate at, YYYY-MM-DD; default today in each warehouse's zone."),
) -> None:
    """Recommend allocations for backordered lines now from the stored exposure, and print the counts."""
    from services.recommend.run import RecommendBusy, recommend as recommend_allocations

    settings = _settings()
    as_of_date = _parse_as_of(as_of, settings) if as_of else None
    with _migrated_engine(settings) as engine:
        try:
            result = recommend_allocations(engine, as_of=as_of_date)
        except RecommendBusy as error:
            _fail(str(error))
    for name, value in result.counts().items():
        typer.echo(f"{name:<24} {value:>10}")
    typer.echo(f"{'weighted_served':<24} {result.weighted_served:>10.1f}")
    typer.echo(f"{'greedy_weighted_served':<24} {result.greedy_weighted_served:>10.1f}")


@app.command()
def forecast() -> None:
    """Refresh the ETA forecasts of open PO lines now and print the counts."""
    from services.forecast.refresh import refresh_forecasts

    settings = _settings()
    with _migrated_engine(settings) as engine:
        result = refresh_forecasts(engine, workers=os.cpu_count() or 1)
    for name, value in result.counts.items():
        typer.echo(f"{name:<24} {value:>10}")
    for failure in result.failures:
        typer.echo(f"failed: {failure}")


@approvals_app.command("approve-auto")
def approvals_approve_auto(
    user: str = typer.Option(..., help="Username of the planner or operations leader the approvals are made as."),
) -> None:
    """Approve every proposed 'auto' recommendation as USER, one transaction each, and print each refusal."""
    from services.approvals import approve_all_auto
    from services.approvals.queries import UnknownUser, load_actor
    from services.auth.roles import RoleRefused

    settings = _settings()
    with _migrated_engine(settings) as engine:
        try:
            summary = approve_all_auto(engine, load_actor(engine, user))
        except (UnknownUser, RoleRefused) as error:
            _fail(str(error))
    typer.echo(f"approved {len(summary.approved)}, refused {len(summary.refused)}")
    for recommendation_id, reason in summary.refused:
        typer.echo(f"refused {recommendation_id}: {reason}")


@approvals_app.command("seed-templates")
def approvals_seed_templates() -> None:
    """Insert the default approved customer message templates whose code is missing."""
    from services.approvals.templates import seed_message_templates

    settings = _settings()
    with _migrated_engine(settings) as engine, engine.begin() as connection:
        inserted = seed_message_templates(connection)
    typer.echo(f"inserted {inserted} templates")


@approvals_app.command("deliver-outbox")
def approvals_deliver_outbox() -> None:
    """Deliver the due outbox messages now as files under <data>/outbound/<target>/ and print the counts."""
    from services.notify.outbox import deliver_outbox

    settings = _settings()
    with _migrated_engine(settings) as engine:
        result = deliver_outbox(engine, settings.outbound_dir, mail_from=settings.mail_from)
    for name, value in result.counts().items():
        typer.echo(f"{name:<24} {value:>10}")


def _print_results(results) -> None:
    header = f"{'entity':<24} {'read':>9} {'inserted':>9} {'updated':>9} {'unchanged':>9} {'rejected':>9}"
    typer.echo(header)
    for result in results:
        typer.echo(
            f"{result.entity:<24} {result.read:>9} {result.inserted:>9} {result.updated:>9} "
            f"{result.unchanged:>9} {result.rejected:>9}"
        )
        if result.duplicates:
            typer.echo(
                f"    {result.duplicates} of the unchanged records repeat the key of a later record, which replaced them"
            )
        for reason, count in result.reasons.most_common(3):
            typer.echo(f"    {count} rejected: {reason}")
            typer.echo(f"      first at {result.examples[reason]}")
        if result.rejected:
            typer.echo(f"    every rejected record is in the quarantine table under sync run {result.sync_run_id}")


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Alembic revision to reach.")) -> None:
    """Apply the schema migrations."""
    from services.db.engine import make_engine
    from services.db.migrate import current_revision, upgrade_database

    settings = _settings()
    with _database(settings) as url:
        engine = make_engine(url)
        upgrade_database(engine, revision)
        typer.echo(f"database schema at revision {current_revision(engine)}")
        engine.dispose()


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision the database is at."""
    from services.db.engine import make_engine
    from services.db.migrate import current_revision

    settings = _settings()
    with _database(settings) as url:
        engine = make_engine(url)
        typer.echo(current_revision(engine) or "empty: no migration applied")
        engine.dispose()


@demo_app.command("generate")
def demo_generate(
    out: Path = typer.Option(..., help="Folder to write the canonical CSV files into."),
    seed: int = typer.Option(7, help="Random seed; the same seed and as-of date give identical files."),
    lines: int = typer.Option(20_000, help="Open sales order lines to write, from 1,000 to 1,000,000."),
    as_of: Optional[str] = typer.Option(None, help="Business date the data is current at, YYYY-MM-DD; default today."),
    skus: Optional[int] = typer.Option(None, help="Number of SKUs; default scales with --lines."),
    warehouses: Optional[int] = typer.Option(None, help="Number of warehouses; default scales with --lines."),
) -> None:
    """Write the demo distributor's files in the canonical layout."""
    from seed_data.generator import generate_demo

    settings = _settings()
    as_of_date = _parse_as_of(as_of, settings)
    try:
        summary = generate_demo(out, seed=seed, lines=lines, as_of=as_of_date, skus=skus, warehouses=warehouses)
    except ValueError as error:
        _fail(str(error), code=2)
    typer.echo(f"wrote the demo distributor to {out}")
    typer.echo(str(summary))


@demo_app.command("load")
def demo_load(
    seed: int = typer.Option(7, help="Random seed of the demo data."),
    lines: int = typer.Option(20_000, help="Open sales order lines, from 1,000 to 1,000,000."),
) -> None:
    """Generate the demo distributor under the data folder and load it."""
    from services.launcher import load_demo

    settings = _settings()
    with _migrated_engine(settings) as engine:
        load_demo(engine, settings, seed=seed, lines=lines)


def _parse_as_of(raw: str | None, settings: Settings) -> date:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    if raw is None:
        return datetime.now(ZoneInfo(settings.business_timezone)).date()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        _fail(f"--as-of {raw!r} is not a date; write it as YYYY-MM-DD", code=2)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


kpis_app = typer.Typer(help="Weekly KPI snapshots.", no_args_is_help=True)
app.add_typer(kpis_app, name="kpis")


@kpis_app.command("snapshot")
def kpis_snapshot(
    week: Optional[str] = typer.Option(None, help="Monday of the week to snapshot, YYYY-MM-DD; default the last completed week."),
    weeks: int = typer.Option(1, min=1, max=104, help="Number of weeks to snapshot, ending with --week."),
) -> None:
    """Snapshot the weekly KPIs now; a week snapshotted again is replaced."""
    from datetime import datetime, timedelta, timezone

    from services.kpis.weekly import InvalidWeek, last_completed_week, snapshot_weekly_kpis

    settings = _settings()
    try:
        last = date.fromisoformat(week) if week else last_completed_week(datetime.now(timezone.utc), settings.business_timezone)
    except ValueError:
        _fail(f"--week {week!r} is not a date written as YYYY-MM-DD")
    with _migrated_engine(settings) as engine:
        for offset in range(weeks - 1, -1, -1):
            try:
                result = snapshot_weekly_kpis(engine, last - timedelta(days=7 * offset), time_zone=settings.business_timezone)
            except InvalidWeek as error:
                _fail(str(error))
            state = "with backlog and revenue at risk" if result.state_measured else "flow KPIs only"
            typer.echo(f"week {result.week_start}: {result.rows_written} rows ({state})")


if __name__ == "__main__":
    main()
