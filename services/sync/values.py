"""Typed parsing of one cell of a canonical file, with errors that name the value."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})


class InvalidValue(ValueError):
    """A cell could not be read as its column's type; the message names column and value."""

    def __init__(self, column: str, value: str, expected: str):
        self.column = column
        self.value = value
        super().__init__(f"{column}: {value!r} is not {expected}")


def parse_decimal(column: str, raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise InvalidValue(column, raw, "a number (write 12.5, not 12,5 or text)") from None
    if not value.is_finite():
        raise InvalidValue(column, raw, "a finite number")
    return value


def parse_int(column: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        pass
    value = parse_decimal(column, raw)
    if value != value.to_integral_value():
        raise InvalidValue(column, raw, "a whole number")
    return int(value)


def parse_date(column: str, raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidValue(column, raw, "a date written YYYY-MM-DD") from None


def parse_timestamp(column: str, raw: str, zone: ZoneInfo) -> datetime:
    """Read an ISO 8601 instant; one without an offset is taken in the given zone."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidValue(
            column, raw, "a timestamp written YYYY-MM-DDTHH:MM:SS with an optional UTC offset"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value


def parse_bool(column: str, raw: str) -> bool:
    word = raw.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise InvalidValue(column, raw, "true or false")


def parse_list(raw: str) -> list[str]:
    return [part.strip() for part in raw.split("|") if part.strip()]


def parse_cell(column: str, kind: str, raw: str, zone: ZoneInfo):
    """Convert a non-empty cell to the Python value of its column's kind."""
    if kind == "text":
        return raw
    if kind == "decimal":
        return parse_decimal(column, raw)
    if kind == "int":
        return parse_int(column, raw)
    if kind == "date":
        return parse_date(column, raw)
    if kind == "timestamp":
        return parse_timestamp(column, raw, zone)
    if kind == "bool":
        return parse_bool(column, raw)
    if kind == "list":
        return parse_list(raw)
    raise ValueError(f"unknown column kind {kind!r} for {column}")
