"""Turn the cells of one export row into canonical text, rule by rule.

Plain functions without database access. A value that a rule cannot
convert raises RuleFailure. Its reason names the canonical column, the
foreign column, the value and what to do, and the loader quarantines the
row with it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

from services.sync.mapping.formula import PLACEHOLDER, NoOperand
from services.sync.mapping.spec import Condition, ExportFormat, Rule

# Reciprocals are searched with up to this many decimal places, the scale of
# the canonical quantity columns.
MAX_RECIPROCAL_PLACES = 6
SHORTENED_HASH_DIGITS = 8


class RuleFailure(Exception):
    """A rule could not convert a row's value; str() is the quarantine reason."""


@dataclass(frozen=True)
class Row:
    """One data row of an export: its position in the file and its cells by foreign column."""

    position: str
    cells: dict


@dataclass(frozen=True)
class RowContext:
    """The export's conventions and the mapping's name, which conversions need besides the row."""

    export: ExportFormat
    mapping_name: str


class _NoValue(Exception):
    def __init__(self, column: str, raw: str):
        self.column = column
        self.raw = raw
        super().__init__(column)


def cell_text(value) -> str:
    """Return a cell as trimmed text; spreadsheet numbers and dates get their plain written form."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def has_value(text: str, export: ExportFormat) -> bool:
    return bool(text) and text not in export.no_value


def condition_holds(condition: Condition, row: Row, export: ExportFormat) -> bool:
    text = cell_text(row.cells.get(condition.column))
    if condition.present is not None:
        return has_value(text, export) == condition.present
    if condition.values_in is not None:
        return text in condition.values_in
    return text not in condition.values_not_in


def parse_number(value, export: ExportFormat) -> Decimal | None:
    """Read a number written with the export's separators; return None when it is not one."""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return Decimal(cell_text(value))
    text = cell_text(value)
    if export.thousands_separator:
        text = text.replace(export.thousands_separator, "")
    if export.decimal_separator != ".":
        text = text.replace(export.decimal_separator, ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def parse_datetime(value, formats: tuple[str, ...]) -> datetime | None:
    """Read a date or timestamp with the first format that fits; return None when none fits."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    text = cell_text(value)
    for pattern in formats:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None


def reciprocal(factor: Decimal) -> Decimal:
    """Return 1 / factor as the simplest number the exported factor stands for.

    A factor such as 0.0833333 BOX per EA is 1/12 rounded to 7 decimals.
    The result is the reciprocal with the fewest decimal places (0 to 6)
    that, rounded or cut to the factor's own number of decimals, gives the
    factor back: 12 here, not 12.0000048. When no such number exists, the
    exact reciprocal rounded to 6 decimals is returned.
    """
    if factor <= 0:
        raise ValueError(f"{factor} has no positive reciprocal")
    factor_places = max(0, -factor.as_tuple().exponent)
    factor_unit = Decimal(1).scaleb(-factor_places)
    exact = 1 / factor
    for places in range(MAX_RECIPROCAL_PLACES + 1):
        candidate = exact.quantize(Decimal(1).scaleb(-places))
        if candidate <= 0:
            continue
        back = 1 / candidate
        if factor in (back.quantize(factor_unit, ROUND_HALF_UP), back.quantize(factor_unit, ROUND_DOWN)):
            return candidate
    return exact.quantize(Decimal(1).scaleb(-MAX_RECIPROCAL_PLACES))


def shorten(text: str, limit: int) -> str:
    """Fit a text into limit characters; a longer one keeps its start and ends with ~ and a hash.

    The hash is the first 8 hexadecimal digits of the SHA-256 of the whole
    text, so two long texts with the same start stay distinct.
    """
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:SHORTENED_HASH_DIGITS]
    keep = limit - SHORTENED_HASH_DIGITS - 1
    return f"{text[:keep].rstrip()}~{digest}"


def apply_rule(rule: Rule, row: Row, context: RowContext, zone: tzinfo, max_length: int | None = None) -> str | None:
    """Return the canonical text of one column for one row, or None when it has no value.

    Raises RuleFailure when the value cannot be converted, or when a
    required column has no value.
    """
    if rule.when and not condition_holds(rule.when, row, context.export):
        if rule.otherwise is None and rule.required:
            raise RuleFailure(
                f"{rule.name}: the rule's condition on column {rule.when.column!r} does not hold and it has no "
                f"otherwise value, and {rule.name} is required; add otherwise to the rule in {context.mapping_name}"
            )
        return rule.otherwise

    try:
        value, origin = _source_value(rule, row, context)
    except _NoValue as missing:
        if rule.required:
            raise RuleFailure(_missing_reason(rule, missing.column, missing.raw, context)) from None
        return None

    if rule.value_map is not None:
        value = _mapped(rule, cell_text(value), origin, context)
        return _fit_text(rule, value, origin, context, max_length)
    if rule.constant is not None:
        return _fit_text(rule, value, origin, context, max_length)
    return _typed(rule, value, origin, row, context, zone, max_length)


def _source_value(rule: Rule, row: Row, context: RowContext):
    """Return (raw value, origin) where origin describes where the value came from in messages."""
    export = context.export
    if rule.constant is not None:
        return rule.constant, f"constant {rule.constant!r}"
    if rule.column is not None:
        first_raw = cell_text(row.cells.get(rule.column))
        for column in (rule.column, *rule.fallback):
            value = row.cells.get(column)
            if has_value(cell_text(value), export):
                return value, f"column {column!r}"
        raise _NoValue(rule.column, first_raw)
    if rule.template is not None:
        return _filled_template(rule.template, row, export), f"template {rule.template!r}"
    return _computed(rule, row, context), f"formula {rule.formula.text!r}"


def _filled_template(template: str, row: Row, export: ExportFormat) -> str:
    def cell(match) -> str:
        column = match.group(1)
        text = cell_text(row.cells.get(column))
        if not has_value(text, export):
            raise _NoValue(column, text)
        return text

    return PLACEHOLDER.sub(cell, template)


def _computed(rule: Rule, row: Row, context: RowContext) -> Decimal:
    def number_of(column: str) -> Decimal | None:
        raw = row.cells.get(column)
        if not has_value(cell_text(raw), context.export):
            return None
        number = parse_number(raw, context.export)
        if number is None:
            raise RuleFailure(
                f"{rule.name}: {cell_text(raw)!r} in column {column!r} is not a number, so the formula "
                f"{rule.formula.text!r} cannot be computed; correct the value, or add the text to no_value "
                f"in {context.mapping_name}"
            )
        return number

    try:
        return rule.formula.evaluate(number_of)
    except NoOperand as missing:
        raise _NoValue(missing.column, cell_text(row.cells.get(missing.column))) from None
    except ZeroDivisionError:
        zeros = [
            column for column in rule.formula.divisor_columns()
            if parse_number(row.cells.get(column), context.export) == 0
        ]
        shown = ", ".join(repr(column) for column in zeros) or "a divisor"
        raise RuleFailure(
            f"{rule.name}: the formula {rule.formula.text!r} divides by zero because column {shown} is 0 in "
            "this row; correct the value"
        ) from None


def _mapped(rule: Rule, code: str, origin: str, context: RowContext) -> str:
    if code in rule.value_map:
        return rule.value_map[code]
    if rule.default is not None:
        return rule.default
    raise RuleFailure(
        f"{rule.name}: {code!r} in {origin} is not in the value map; add it to the map in "
        f"{context.mapping_name}, or give the rule a default"
    )


def _typed(rule: Rule, value, origin: str, row: Row, context: RowContext, zone: tzinfo, max_length) -> str | None:
    if rule.kind == "date":
        return _date_text(rule, value, origin, row, context, zone)
    if rule.kind == "timestamp":
        return _timestamp_text(rule, value, origin, context, zone)
    if rule.kind in ("decimal", "int"):
        return _number_text(rule, value, origin, context)
    return _fit_text(rule, cell_text(value), origin, context, max_length)


def _parsed_datetime(rule: Rule, value, origin: str, context: RowContext) -> datetime:
    formats = rule.formats or context.export.date_formats
    parsed = parse_datetime(value, formats)
    if parsed is None:
        raise RuleFailure(
            f"{rule.name}: {cell_text(value)!r} in {origin} is not a date in the formats {', '.join(formats)}; "
            f"correct the value, or add its format to date_formats or the text to no_value in {context.mapping_name}"
        )
    return parsed


def _date_text(rule: Rule, value, origin: str, row: Row, context: RowContext, zone: tzinfo) -> str:
    """Return the business date: a timestamp with an offset is first moved into the given zone."""
    parsed = _parsed_datetime(rule, value, origin, context)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(zone)
    day = parsed.date()
    if rule.add_days:
        day += timedelta(days=_days(rule, row, context))
    return day.isoformat()


def _days(rule: Rule, row: Row, context: RowContext) -> int:
    raw = row.cells.get(rule.add_days)
    text = cell_text(raw)
    if not has_value(text, context.export):
        raise _NoValue(rule.add_days, text)
    number = parse_number(raw, context.export)
    if number is None or number != number.to_integral_value():
        raise RuleFailure(
            f"{rule.name}: {text!r} in column {rule.add_days!r} is not a whole number of days; correct the value"
        )
    return int(number)


def _timestamp_text(rule: Rule, value, origin: str, context: RowContext, zone: tzinfo) -> str:
    """Return an instant with its UTC offset; a timestamp written without one is taken in the given zone."""
    parsed = _parsed_datetime(rule, value, origin, context)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.isoformat()


def _number_text(rule: Rule, value, origin: str, context: RowContext) -> str:
    number = value if isinstance(value, Decimal) else parse_number(value, context.export)
    if number is None:
        raise RuleFailure(
            f"{rule.name}: {cell_text(value)!r} in {origin} is not a number; correct the value, "
            f"or add the text to no_value in {context.mapping_name}"
        )
    if rule.reciprocal:
        if number <= 0:
            raise RuleFailure(
                f"{rule.name}: {cell_text(value)!r} in {origin} has no positive reciprocal; "
                "correct the conversion factor"
            )
        number = reciprocal(number)
    if rule.kind == "int":
        if number != number.to_integral_value():
            raise RuleFailure(f"{rule.name}: {cell_text(value)!r} in {origin} is not a whole number; correct the value")
        return str(int(number))
    return format(number, "f")


def _fit_text(rule: Rule, text: str, origin: str, context: RowContext, max_length: int | None) -> str:
    if max_length is None or len(text) <= max_length:
        return text
    if rule.shorten:
        return shorten(text, max_length)
    raise RuleFailure(
        f"{rule.name}: {text!r} from {origin} is {len(text)} characters, longer than the {max_length} the "
        f"column holds; shorten it in the export, or set shorten = true on the rule in {context.mapping_name}"
    )


def _missing_reason(rule: Rule, column: str, raw: str, context: RowContext) -> str:
    if raw:
        shown = f"has {raw!r}, which {context.mapping_name} lists as no value"
    else:
        shown = "is empty"
    if rule.fallback:
        shown += f" (and so do its fallback columns {', '.join(repr(name) for name in rule.fallback)})"
    fix = "fill it in the export"
    if rule.column is not None and not rule.fallback:
        fix += f", or name a fallback column for the rule in {context.mapping_name}"
    return f"{rule.name}: column {column!r} {shown}, and {rule.name} is required; {fix}"
