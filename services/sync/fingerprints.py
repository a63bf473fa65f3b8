"""Fingerprints of source records, so that a re-sync skips the records it loaded before.

A fingerprint is the md5 of a raw record's text together with everything
else that decides what the loader makes of it: the check rules' version,
the entity, the source, the business time zone, the columns the file gives
and, for entities with a unit, every unit conversion factor. A synced row
keeps the fingerprint of the record that last loaded it. A later record
with the same source key and the same fingerprint would load to the same
values, so it is counted as unchanged without being typed, checked or
upserted. Writers other than the loader set the fingerprint to NULL, so
the next record for that row takes the full path again.
"""

from __future__ import annotations

import logging
from typing import Iterable

from psycopg import sql
from sqlalchemy import Connection

from services.sync.checks import RAW, source_key_sql
from services.sync.layout import Entity

logger = logging.getLogger(__name__)

# Change this whenever the check statement, the rules or the unit conversion
# change what a record loads to, so that stored fingerprints stop matching.
CHECK_VERSION = "1"

UNIT_FACTORS = """
    select md5(coalesce(
        (select string_agg(id || ':' || upper(base_unit), ',' order by id) from items), '')
        || '|' || coalesce(
        (select string_agg(item_id || ':' || upper(unit_code) || ':' || base_qty_per_unit::text, ','
                           order by item_id, upper(unit_code)) from units), ''))
"""


def fingerprint_context(
    connection: Connection,
    entity: Entity,
    source: str,
    raw_columns: Iterable[str],
    business_timezone: str,
    given_columns: Iterable[str] | None,
) -> str | None:
    """Return the text hashed with every record of this load, or None when records must not be skipped.

    Records that name a purchase order line are never skipped, because they
    copy the item and the supplier of that line, which a later purchase
    order export may change.
    """
    if any(reference.target == "po_line_id" for reference in entity.references):
        return None
    parts = [
        CHECK_VERSION,
        entity.name,
        source,
        business_timezone,
        ",".join(sorted(raw_columns)),
        "*" if given_columns is None else ",".join(sorted(given_columns)),
    ]
    if entity.has_unit:
        parts.append(connection.exec_driver_sql(UNIT_FACTORS).scalar_one())
    return "|".join(parts) + "|"


def fingerprint_sql(raw_columns: Iterable[str], context: str | None, alias: str = "r") -> sql.Composable:
    """SQL for the fingerprint of a raw record, NULL when there is no context.

    The cells are joined with the unit separator (0x1F), so a blank and a
    missing cell read the same, as they do to the checks.
    """
    if context is None:
        return sql.SQL("null::uuid")
    values = [sql.Literal(context), sql.SQL("{}._reader_reason").format(sql.Identifier(alias))] + [
        sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(name)) for name in sorted(raw_columns)
    ]
    return sql.SQL("md5(concat_ws(E'\\x1f', {}))::uuid").format(sql.SQL(", ").join(values))


def skip_unchanged_records(
    connection: Connection, entity: Entity, source: str, raw_columns: Iterable[str], context: str | None
) -> int:
    """Delete from the raw table the records already loaded with the same fingerprint; return how many.

    A source key that occurs more than once in the file is never skipped,
    so the rule that the last duplicate wins sees every one of them.
    """
    if context is None:
        return 0
    driver = connection.connection.driver_connection
    table = sql.Identifier(entity.table)
    fingerprinted = driver.execute(
        sql.SQL("select exists (select 1 from {} where source = {} and source_fingerprint is not null)").format(
            table, sql.Literal(source)
        )
    ).fetchone()[0]
    if not fingerprinted:
        return 0
    # Tables analyzed before the delete, because the planner's guesses for
    # CTEs led it to a nested loop over the target table that took twice as long.
    driver.execute("drop table if exists sync_keyed")
    driver.execute(
        sql.SQL(
            "create temp table sync_keyed on commit drop as"
            " select r._seq, {key} as source_key, {fingerprint} as fingerprint from {raw} r"
        ).format(
            key=source_key_sql(entity, raw_columns),
            fingerprint=fingerprint_sql(raw_columns, context),
            raw=sql.Identifier(RAW),
        )
    )
    driver.execute("drop table if exists sync_twins")
    driver.execute(
        "create temp table sync_twins on commit drop as"
        " select source_key from sync_keyed group by source_key having count(*) > 1"
    )
    driver.execute("analyze sync_keyed")
    driver.execute("analyze sync_twins")
    deleted = driver.execute(
        sql.SQL(
            "delete from {raw} r using sync_keyed k"
            " join {table} t on t.source = {source} and t.source_key = k.source_key"
            " and t.source_fingerprint = k.fingerprint"
            " where r._seq = k._seq"
            " and not exists (select 1 from sync_twins twin where twin.source_key = k.source_key)"
        ).format(raw=sql.Identifier(RAW), table=table, source=sql.Literal(source))
    ).rowcount
    if deleted:
        logger.info("%d %s records of source %s are unchanged since they were last loaded", deleted, entity.name, source)
    return deleted
