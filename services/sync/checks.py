"""SQL that types, resolves and checks staged raw records in one set-based pass.

The loader copies raw text into a temporary table; the statement built here
turns it into typed records with a list of reasons per record. The list
names every column that is missing or unreadable and every code that names
nothing. Unit and cross-column rules are checked only when those pass,
because they read the typed values. A record with any reason is quarantined,
and the others are loaded.
"""

from __future__ import annotations

import json

from psycopg import sql

from services.sync.layout import Column, Entity, Reference
from services.sync.rules import RULES

NUMBER = r"^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$"
WHOLE = r"^[+-]?[0-9]+([.]0*)?$"
ZONE_SUFFIX = r"[T ][0-9:.]+(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$"
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")
INT_LIMIT = 2_147_483_647

RAW = "sync_raw"
CHECKED = "sync_checked"


def _v(name: str) -> sql.Composable:
    """Return the trimmed raw text of a column, NULL when blank."""
    return sql.SQL("t.{}").format(sql.Identifier(name))


def _literal(value) -> sql.Composable:
    return sql.Literal(value)


def _default(column: Column) -> sql.Composable:
    if column.default is None:
        return sql.SQL("null")
    if column.kind == "decimal":
        return sql.SQL("{}::numeric").format(_literal(str(column.default)))
    if column.kind == "int":
        return sql.SQL("{}::integer").format(_literal(int(column.default)))
    if column.kind == "bool":
        return sql.SQL("true") if column.default else sql.SQL("false")
    if column.kind == "list":
        return sql.SQL("{}::jsonb").format(_literal(json.dumps(list(column.default))))
    return _literal(str(column.default))


# Cheap tests that a cell is written like a number or a date, used before the
# regular expressions. A cell that passes one of them either matches the
# regular expression as well or makes its cast raise, and the loader then
# runs the exact statement (build_check_statement with fast=False).
NUMBER_CHARACTERS = "translate({v}, '0123456789', '') in ('', '.', '-', '+', '-.', '+.') and btrim({v}, '+-.') <> ''"
WHOLE_CHARACTERS = "translate({v}, '0123456789', '') in ('', '-', '+') and btrim({v}, '+-') <> ''"
DATE_CHARACTERS = (
    "length({v}) = 10 and substr({v}, 5, 1) = '-' and substr({v}, 8, 1) = '-'"
    " and translate({v}, '0123456789', '') = '--'"
)


def _written_as(pattern: str, v: sql.Composable) -> sql.Composable:
    return sql.SQL("(" + pattern + ")").format(v=v)


def _parsed(column: Column, fast: bool = False) -> sql.Composable:
    """Return SQL for the typed value of a non-blank cell, NULL when it does not parse.

    With fast, a number or date cell that looks right is cast without the
    exact test, so a cell such as 2026-02-30 raises an error instead of
    reading as NULL.
    """
    v = _v(column.name)
    if column.kind == "decimal":
        if fast:
            return sql.SQL("case when {guard} or {v} ~ {p} then {v}::numeric end").format(
                guard=_written_as(NUMBER_CHARACTERS, v), v=v, p=_literal(NUMBER)
            )
        return sql.SQL("case when {v} ~ {p} then {v}::numeric end").format(v=v, p=_literal(NUMBER))
    if column.kind == "int":
        written = (
            sql.SQL("({} or {} ~ {})").format(_written_as(WHOLE_CHARACTERS, v), v, _literal(WHOLE))
            if fast
            else sql.SQL("{} ~ {}").format(v, _literal(WHOLE))
        )
        return sql.SQL(
            "case when {written} and abs({v}::numeric) <= {limit} then {v}::numeric::integer end"
        ).format(written=written, v=v, limit=_literal(INT_LIMIT))
    if column.kind == "date":
        if fast:
            return sql.SQL("case when {guard} then {v}::date end").format(guard=_written_as(DATE_CHARACTERS, v), v=v)
        return sql.SQL("case when ct_is_date({v}) then {v}::date end").format(v=v)
    if column.kind == "timestamp":
        return sql.SQL(
            "case when ct_is_timestamp({v}) then case when {v} ~ {zone} then {v}::timestamptz"
            " else {v}::timestamp at time zone current_setting('ct.business_timezone') end end"
        ).format(v=v, zone=_literal(ZONE_SUFFIX))
    if column.kind == "bool":
        return sql.SQL(
            "case when lower({v}) = any({t}) then true when lower({v}) = any({f}) then false end"
        ).format(v=v, t=_literal(list(TRUE_WORDS)), f=_literal(list(FALSE_WORDS)))
    if column.kind == "list":
        return sql.SQL(
            "to_jsonb(array(select btrim(part) from unnest(string_to_array({v}, '|')) part"
            " where btrim(part) <> ''))"
        ).format(v=v)
    return v


def _typed(column: Column, fast: bool = False) -> sql.Composable:
    return sql.SQL("case when {v} is null then {default} else {parsed} end").format(
        v=_v(column.name), default=_default(column), parsed=_parsed(column, fast)
    )


def _raw(name: str) -> sql.Composable:
    """Return the trimmed raw text of a column as the parsed step keeps it."""
    return sql.SQL("p.{}").format(sql.Identifier(f"raw_{name}"))


def _not_parsed_reason(column: Column, raw: sql.Composable, typed: sql.Composable) -> sql.Composable | None:
    """Build a WHEN branch for a cell that is present but did not parse; None for kinds that always parse."""
    shown = sql.SQL("{name} || ': ' || ct_repr({raw})").format(name=_literal(column.name), raw=raw)
    messages = {
        "decimal": " is not a number (write 12.5, not 12,5 or text)",
        "date": " is not a date written YYYY-MM-DD",
        "timestamp": " is not a timestamp written YYYY-MM-DDTHH:MM:SS with an optional UTC offset",
        "bool": " is not true or false",
    }
    if column.kind in messages:
        return sql.SQL("when {typed} is null then {shown} || {message}").format(
            typed=typed, shown=shown, message=_literal(messages[column.kind])
        )
    if column.kind == "int":
        return sql.SQL(
            "when {typed} is null then {shown} || case"
            " when {raw} !~ {number} then ' is not a number (write 12.5, not 12,5 or text)'"
            " when {raw} !~ {whole} then ' is not a whole number' else ' is out of range' end"
        ).format(typed=typed, shown=shown, raw=raw, number=_literal(NUMBER), whole=_literal(WHOLE))
    return None


def _column_reason(column: Column) -> sql.Composable:
    """At most one reason per column: missing, unreadable, negative, or not an allowed value."""
    raw = _raw(column.name)
    typed = sql.SQL("p.{}").format(sql.Identifier(column.name))
    shown = sql.SQL("{name} || ': ' || ct_repr({raw})").format(name=_literal(column.name), raw=raw)
    branches = [
        sql.SQL("when {raw} is null then {missing}").format(
            raw=raw,
            missing=_literal(f"{column.name}: a value is required") if column.required else sql.SQL("null"),
        )
    ]
    parse_branch = _not_parsed_reason(column, raw, typed)
    if parse_branch is not None:
        branches.append(parse_branch)
    if column.non_negative:
        branches.append(
            sql.SQL("when {typed} < 0 then {shown} || ' is negative; quantities and prices must be 0 or more'").format(
                typed=typed, shown=shown
            )
        )
    if column.choices:
        branches.append(
            sql.SQL("when not ({typed} = any({choices})) then {shown} || {message}").format(
                typed=typed,
                choices=_literal(list(column.choices)),
                shown=shown,
                message=_literal(f" is not one of {', '.join(column.choices)}"),
            )
        )
    return sql.SQL("case {} end").format(sql.SQL(" ").join(branches))


def _reference_join(index: int, reference: Reference) -> sql.Composable:
    alias = sql.Identifier(f"ref{index}")
    conditions = [
        sql.SQL("{alias}.{key} = p.{column}").format(
            alias=alias, key=sql.Identifier(key), column=sql.Identifier(column)
        )
        for key, column in zip(reference.key_columns, reference.columns)
    ]
    return sql.SQL("left join {table} {alias} on {conditions}").format(
        table=sql.Identifier(reference.table), alias=alias, conditions=sql.SQL(" and ").join(conditions)
    )


def _reference_reason(index: int, reference: Reference) -> sql.Composable:
    """Why a reference names nothing; NULL when a column of it already failed to parse."""
    alias = sql.Identifier(f"ref{index}")
    columns = [sql.SQL("p.{}").format(sql.Identifier(c)) for c in reference.columns]
    unparsed = sql.SQL(" or ").join(
        sql.SQL("({} is not null and {} is null)").format(_raw(name), column)
        for name, column in zip(reference.columns, columns)
    )
    all_null = sql.SQL(" and ").join(sql.SQL("{} is null").format(c) for c in columns)
    shown = sql.SQL("concat_ws('/', {})").format(sql.SQL(", ").join(sql.SQL("{}::text").format(c) for c in columns))
    missing = (
        _literal(f"{' and '.join(reference.columns)}: a value is required") if reference.required else sql.SQL("null")
    )
    unknown = sql.SQL("{prefix} || ct_repr({shown}) || {suffix}").format(
        prefix=_literal(f"{'/'.join(reference.columns)}: "),
        shown=shown,
        suffix=_literal(f" is unknown; load it in {reference.table}.csv first or correct the code"),
    )
    return sql.SQL(
        "case when {unparsed} then null when {all_null} then {missing} when {alias}.id is null then {unknown} end"
    ).format(unparsed=unparsed, all_null=all_null, missing=missing, alias=alias, unknown=unknown)


def _reference_targets(entity: Entity) -> list[sql.Composable]:
    targets = []
    for index, reference in enumerate(entity.references):
        alias = sql.Identifier(f"ref{index}")
        targets.append(sql.SQL("{}.id as {}").format(alias, sql.Identifier(reference.target)))
        if reference.target == "po_line_id":
            targets.append(sql.SQL("{}.item_id as po_item_id").format(alias))
            targets.append(sql.SQL("{}.supplier_id as supplier_id").format(alias))
    return targets


def _item_expression(entity: Entity) -> sql.Composable:
    targets = {reference.target for reference in entity.references}
    if "item_id" in targets:
        return sql.SQL("r.item_id")
    if "po_line_id" in targets:
        return sql.SQL("r.po_item_id")
    return sql.SQL("null::bigint")


def _converted(column: Column, has_unit: bool) -> sql.Composable:
    name = sql.Identifier(column.name)
    if has_unit and column.qty:
        return sql.SQL("c.{name} * coalesce(c.unit_factor, 1)").format(name=name)
    if has_unit and column.price:
        return sql.SQL("c.{name} / coalesce(c.unit_factor, 1)").format(name=name)
    return sql.SQL("c.{}").format(name)


def _trimmed(name: str, raw_columns, alias: str) -> sql.Composable:
    """Return SQL for a raw cell without surrounding blanks, NULL when it is blank or the column is absent."""
    if name not in raw_columns:
        return sql.SQL("null::text")
    return sql.SQL("nullif(btrim({}.{}), '')").format(sql.Identifier(alias), sql.Identifier(name))


def source_key_sql(entity: Entity, raw_columns, alias: str = "r") -> sql.Composable:
    """Return SQL for a raw record's source key: its source_key cell, else its key columns joined by '/'."""
    key_text = sql.SQL(" || '/' || ").join(
        sql.SQL("coalesce({}, '')").format(_trimmed(name, raw_columns, alias)) for name in entity.key
    )
    return sql.SQL("coalesce({}, {})").format(_trimmed("source_key", raw_columns, alias), key_text)


def build_check_statement(entity: Entity, raw_columns: set[str], fast: bool = False) -> sql.Composable:
    """Build CREATE TABLE sync_checked AS ... for the entity's staged raw records.

    raw_columns names the columns the raw table has; a layout column it lacks
    reads as blank. The statement reads the business time zone and the run's
    start from the settings ct.business_timezone and ct.run_start, which the
    caller sets for its transaction. The parsed and checked steps are
    materialized so that each cell is parsed once, not once per reference.
    With fast, well-formed number and date cells skip the exact tests. A
    cell that only looks well formed, such as 2026-02-30, then makes the
    statement raise psycopg.DataError, and the caller runs it without fast.
    """
    # TODO: a full load takes about 42 times a raw COPY of the file, against a
    # target of 4, and half of that time is this statement (docs/benchmarks.md).
    # Writing the finished rows alone takes 13 to 16 times, so the target also
    # needs the foreign-key checks done set-based rather than row by row.
    names = [c.name for c in entity.columns] + ["source_key", "source_updated_at"]
    trimmed = sql.SQL(", ").join(
        sql.SQL("{} as {}").format(_trimmed(name, raw_columns, "r"), sql.Identifier(name)) for name in names
    )
    raw_values = sql.SQL(", ").join(
        sql.SQL("t.{} as {}").format(sql.Identifier(name), sql.Identifier(f"raw_{name}")) for name in names
    )
    typed = sql.SQL(", ").join(
        sql.SQL("{expr} as {name}").format(expr=_typed(c, fast), name=sql.Identifier(c.name))
        for c in entity.columns
    )
    timestamp_column = Column("source_updated_at", "timestamp")
    column_reasons = sql.SQL(", ").join(_column_reason(c) for c in entity.columns)
    run_start = sql.SQL("current_setting('ct.run_start')::timestamptz")

    joins = sql.SQL(" ").join(_reference_join(i, ref) for i, ref in enumerate(entity.references))
    reference_reasons = sql.SQL(", ").join(
        [_reference_reason(i, ref) for i, ref in enumerate(entity.references)] or [sql.SQL("null::text")]
    )
    targets = sql.SQL("").join(sql.SQL(", ") + target for target in _reference_targets(entity))

    if entity.has_unit:
        unit_join = sql.SQL(
            "left join items unit_item on unit_item.id = {item}"
            " left join units unit_row on unit_row.item_id = unit_item.id"
            " and upper(unit_row.unit_code) = upper(r.unit)"
        ).format(item=_item_expression(entity))
        unit_factor = sql.SQL(
            "case when r.unit is null or unit_item.id is null"
            " or upper(r.unit) = upper(unit_item.base_unit) then 1 else unit_row.base_qty_per_unit end"
        )
        unit_reason = sql.SQL(
            "case when r.unit is not null and unit_item.id is not null"
            " and upper(r.unit) <> upper(unit_item.base_unit) and unit_row.id is null"
            " then 'unit: ' || ct_repr(upper(r.unit))"
            " || ' is not defined for this item; add it to units.csv with its base quantity' end"
        )
    else:
        unit_join = sql.SQL("")
        unit_factor = sql.SQL("1")
        unit_reason = sql.SQL("null::text")

    converted = sql.SQL(", ").join(
        sql.SQL("{expr} as {name}").format(expr=_converted(c, entity.has_unit), name=sql.Identifier(c.name))
        for c in entity.columns
    )
    rule_reasons = sql.SQL("").join(sql.SQL(", ") + rule for rule in RULES.get(entity.name, ()))
    carried = sql.SQL("").join(
        sql.SQL(", c.{}").format(sql.Identifier(ref.target)) for ref in entity.references
    )
    if "po_line_id" in {ref.target for ref in entity.references}:
        carried += sql.SQL(", c.supplier_id")

    return sql.SQL(
        "create temp table {checked} on commit drop as "
        "with parsed as materialized ("
        " select r._seq as seq, coalesce(r._position, 'line ' || (r._seq + 1)) as position,"
        " r._reader_reason as reader_reason, {raw_values}, {typed},"
        " {updated_parsed} as updated_parsed, {source_key} as parsed_source_key"
        " from {raw} r cross join lateral (select {trimmed} offset 0) t"
        "), checked as materialized ("
        " select p.*, array_remove(array[{column_reasons}]::text[], null) as column_reasons,"
        " p.parsed_source_key as source_key,"
        " coalesce(p.updated_parsed, {run_start}) as source_updated_at,"
        " case when p.raw_source_updated_at is null then null {updated_reason} end as updated_reason"
        " from parsed p"
        "), resolved as ("
        " select p.*{targets}, array_remove(array[{reference_reasons}]::text[], null) as reference_reasons"
        " from checked p {joins}"
        "), measured as ("
        " select r.*, {unit_factor} as unit_factor, {unit_reason} as unit_reason"
        " from resolved r {unit_join}"
        "), converted as ("
        " select c.seq, c.position, c.reader_reason, c.column_reasons, c.reference_reasons,"
        " c.unit_reason, c.updated_reason, c.source_key, c.source_updated_at{carried}, {converted}"
        " from measured c"
        ") "
        "select c.*, case"
        " when c.reader_reason is not null then array[c.reader_reason]"
        " when cardinality(c.column_reasons) + cardinality(c.reference_reasons) > 0"
        " then c.column_reasons || c.reference_reasons"
        " else array_remove(array[c.unit_reason{rule_reasons}, c.updated_reason]::text[], null)"
        " end as reasons "
        "from converted c"
    ).format(
        checked=sql.Identifier(CHECKED),
        raw_values=raw_values,
        typed=typed,
        updated_parsed=_parsed(timestamp_column),
        raw=sql.Identifier(RAW),
        trimmed=trimmed,
        column_reasons=column_reasons,
        source_key=source_key_sql(entity, raw_columns),
        run_start=run_start,
        updated_reason=_not_parsed_reason(
            timestamp_column, _raw("source_updated_at"), sql.SQL("p.updated_parsed")
        ),
        targets=targets,
        reference_reasons=reference_reasons,
        joins=joins,
        unit_factor=unit_factor,
        unit_reason=unit_reason,
        unit_join=unit_join,
        carried=carried,
        converted=converted,
        rule_reasons=rule_reasons,
    )
