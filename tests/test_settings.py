"""Settings: valid values are read, an invalid one stops the program with one clear line."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from services.settings import SettingsError, load_settings, mask_password

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_defaults_use_embedded_database():
    settings = load_settings({})

    assert settings.database_url is None
    assert settings.uses_embedded_database
    assert settings.business_timezone == "America/Chicago"
    assert settings.log_level == "INFO"
    assert settings.data_dir == PROJECT_ROOT / ".data"
    assert settings.app_address == "127.0.0.1"
    assert settings.app_port == 8501


def test_business_date_defaults_to_today_and_reads_iso_dates():
    assert load_settings({}).as_of is None
    assert load_settings({"CONTROL_TOWER_AS_OF": " 2020-11-02 "}).as_of == date(2020, 11, 2)


def test_database_url_uses_psycopg_driver():
    settings = load_settings({"DATABASE_URL": "postgresql://planner:pw@db.internal:5432/tower"})

    assert settings.database_url == "postgresql+psycopg://planner:pw@db.internal:5432/tower"


@pytest.mark.parametrize(
    "environment, message",
    [
        ({"CONTROL_TOWER_TIMEZONE": "Mars/Base"}, "invalid setting CONTROL_TOWER_TIMEZONE='Mars/Base': use an IANA time zone name"),
        ({"CONTROL_TOWER_LOG_LEVEL": "LOUD"}, "invalid setting CONTROL_TOWER_LOG_LEVEL='LOUD': use one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ({"CONTROL_TOWER_PORT": "80a"}, "invalid setting CONTROL_TOWER_PORT='80a': use a whole number from 1 to 65535"),
        ({"CONTROL_TOWER_PORT": "70000"}, "invalid setting CONTROL_TOWER_PORT='70000': use a whole number from 1 to 65535"),
        ({"DATABASE_URL": "mysql://root:pw@host/db"}, "invalid setting DATABASE_URL='mysql://root:***@host/db': the scheme 'mysql' is not PostgreSQL"),
        ({"DATABASE_URL": "localhost:5432"}, "invalid setting DATABASE_URL='localhost:5432': expected a URL like postgresql://"),
        ({"CONTROL_TOWER_ADDRESS": "http://example"}, "invalid setting CONTROL_TOWER_ADDRESS='http://example': use an IP address or host name"),
        ({"CONTROL_TOWER_AS_OF": "2/11/2020"}, "invalid setting CONTROL_TOWER_AS_OF='2/11/2020': write the business date as YYYY-MM-DD"),
    ],
)
def test_invalid_setting_names_setting_and_value(environment, message):
    with pytest.raises(SettingsError) as raised:
        load_settings(environment)

    assert str(raised.value).startswith(message)


def test_data_dir_that_is_a_file_is_rejected(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("x")

    with pytest.raises(SettingsError, match="CONTROL_TOWER_DATA_DIR"):
        load_settings({"CONTROL_TOWER_DATA_DIR": str(path)})


def test_mask_password_hides_only_the_password():
    assert mask_password("postgresql://planner:s3cret@host:5432/db") == "postgresql://planner:***@host:5432/db"
    assert mask_password("postgresql://planner@host/db") == "postgresql://planner@host/db"


def run_cli(*arguments: str, environment: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *arguments],
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bad_setting_exits_2_with_one_line():
    result = run_cli("db", "current", environment={"CONTROL_TOWER_LOG_LEVEL": "LOUD"})

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: invalid setting CONTROL_TOWER_LOG_LEVEL='LOUD': use one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
    ]


def test_unreachable_database_one_line_error():
    result = run_cli("db", "upgrade", environment={"DATABASE_URL": "postgresql://planner:s3cret@127.0.0.1:1/tower"})

    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1
    assert len(lines) == 1
    assert lines[0].startswith("error: cannot connect to PostgreSQL at postgresql+psycopg://planner:***@127.0.0.1:1/tower")
    assert "s3cret" not in result.stderr
    assert "Traceback" not in result.stderr


def _command_paths(group, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):
            yield from _command_paths(command, (*prefix, name))
        else:
            yield (*prefix, name)


def test_every_command_has_help():
    from typer.main import get_command
    from typer.testing import CliRunner

    from services.cli import app

    commands = list(_command_paths(get_command(app)))
    for command in commands:
        result = CliRunner().invoke(app, [*command, "--help"])

        assert result.exit_code == 0, command
        assert "Usage: " in result.output, command
    assert {"up", "worker", "recommend", "forecast"} <= {command[0] for command in commands}
    assert ("users", "set-password") in commands and ("approvals", "approve-auto") in commands