"""Fingerprints of source records, so that a re-sync skips the records it loaded before.

A fingerprint is a 64-bit hash of a raw record's text and of everything
else that decides what the loader makes of it. That is the check rules'
version, the entity, the source, the business time zone, the columns the
file gives and, for entities with a unit, every unit conversion factor. A synced row
keeps the fingerprint of the record that last loaded it. A later record
with the same source key and the same fingerprint would load to the same
values, so it is counted as unchanged without being typed, checked or
upserted. Writers other than the loader set the fingerprint to NULL, so
the next record for that row takes the full path again.

The hash is PostgreSQL's hashtextextended, the function behind hash
partitioning, because md5 took 1.3 s more per million records. A record
is compared only with the fingerprint stored under its own source key, so
a changed record passes as unchanged with a chance of 2^-64. Should a
PostgreSQL release change the function, stored fingerprints stop matching
and the next load of each record takes the full path once.
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
    """Return SQL for the fingerprint of a raw record, NULL when there is no context.

    The cells are joined with the unit separator (0x1F), so a blank and a
    missing cell read the same, as they do to the checks.
    """
    if context is None:
        return sql.SQL("null::bigint")
    values = [sql.Literal(context), sql.SQL("{}._reader_reason").format(sql.Identifier(alias))] + [
        sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(name)) for name in sorted(raw_columns)
    ]
    return sql.SQL("hashtextextended(concat_ws(E'\\x1f', {}), 0)").format(sql.SQL(", ").join(values))


def skip_unchanged_records(
    connection: Connection,
    entity: Entity,
    source: str,
    raw_columns: Iterable[str],
    context: str | None,
    raw_count: int,
) -> int:
    """Remove from the raw table the records already loaded with the same fingerprint; return how many.

    raw_count is the number of records in the raw table.
    A source key that occurs more than once in the file is never skipped,
    so the rule that the last duplicate wins applies to every copy. When
    most records are skipped, the raw table is rebuilt from the others
    rather than deleted from, so the check does not scan the dead rows.
    """
    if context is None:
        return 0
    driver = connection.connection.driver_connection
    table = sql.Identifier(entity.table)
    raw = sql.Identifier(RAW)
    fingerprinted = driver.execute(
        sql.SQL("select exists (select 1 from {} where source = {} and source_fingerprint is not null)").format(
            table, sql.Literal(source)
        )
    ).fetchone()[0]
    if not fingerprinted:
        return 0

    # Key and fingerprint are computed once into a table, because a hash join
    # on the expressions computed them twice per record.
    for name in ("sync_keyed", "sync_unchanged"):
        driver.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(name)))
    driver.execute(
        sql.SQL(
            "create temp table sync_keyed on commit drop as"
            " select r._seq, {key} as source_key, {fingerprint} as fingerprint from {raw} r"
        ).format(key=source_key_sql(entity, raw_columns), fingerprint=fingerprint_sql(raw_columns, context), raw=raw)
    )
    driver.execute("analyze sync_keyed")
    driver.execute(
        sql.SQL(
            "create temp table sync_unchanged on commit drop as"
            " select k._seq, k.source_key from sync_keyed k join {table} t"
            " on t.source = {source} and t.source_key = k.source_key and t.source_fingerprint = k.fingerprint"
        ).format(table=table, source=sql.Literal(source))
    )
    driver.execute(
        "delete from sync_unchanged u using ("
        " select source_key from sync_keyed group by source_key having count(*) > 1) twin"
        " where twin.source_key = u.source_key"
    )
    unchanged = driver.execute("select count(*) from sync_unchanged").fetchone()[0]
    if unchanged == 0:
        return 0
    if unchanged * 2 > raw_count:
        driver.execute(
            sql.SQL(
                "create temp table sync_raw_changed on commit drop as select r.* from {raw} r"
                " where not exists (select 1 from sync_unchanged u where u._seq = r._seq)"
            ).format(raw=raw)
        )
        driver.execute(sql.SQL("drop table {}").format(raw))
        driver.execute(sql.SQL("alter table sync_raw_changed rename to {}").format(raw))
    else:
        driver.execute(sql.SQL("delete from {} r using sync_unchanged u where u._seq = r._seq").format(raw))
    logger.info("%d %s records of source %s are unchanged since they were last loaded", unchanged, entity.name, source)
    return unchanged
