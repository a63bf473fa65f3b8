"""Add the SQL functions the loader uses to check raw text in bulk.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 20:45:00+00:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# ct_repr quotes a value the way Python's repr() quotes a string, so messages
# built in SQL read the same as messages built in Python.
# ct_is_date and ct_is_timestamp accept ISO 8601 text that PostgreSQL can cast
# without an error: a CASE evaluates its branches in order, so no cast runs on
# text that failed an earlier test.
FUNCTIONS_SQL = r"""
create function ct_repr(value text) returns text
language sql immutable parallel safe as $$
    select case
        when strpos(value, '''') > 0 and strpos(value, '"') = 0
            then '"' || replace(value, '\', '\\') || '"'
        else '''' || replace(replace(value, '\', '\\'), '''', '\''') || ''''
    end
$$;

create function ct_is_date(value text) returns boolean
language sql immutable parallel safe as $$
    select case
        when value is null or value !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' then false
        when substr(value, 1, 4)::int < 1 then false
        when substr(value, 6, 2)::int not between 1 and 12 then false
        else substr(value, 9, 2)::int between 1 and extract(day from (
            make_date(substr(value, 1, 4)::int, substr(value, 6, 2)::int, 1)
            + interval '1 month - 1 day'))::int
    end
$$;

create function ct_is_timestamp(value text) returns boolean
language sql immutable parallel safe as $$
    select case
        when parts is null then false
        when not ct_is_date(parts[1]) then false
        else coalesce(parts[2]::int, 0) < 24
            and coalesce(parts[3]::int, 0) < 60
            and coalesce(parts[4]::int, 0) < 60
    end
    from regexp_match(
        value,
        '^([0-9]{4}-[0-9]{2}-[0-9]{2})(?:[T ]([0-9]{2})(?::([0-9]{2})(?::([0-9]{2})(?:[.][0-9]{1,6})?)?)?)?(?:Z|z|[+-][0-9]{2}(?::?[0-9]{2})?)?$'
    ) as parts
$$;
"""


def upgrade() -> None:
    # exec_driver_sql, because text() would read ":Z" in the patterns as a bind parameter.
    op.get_bind().exec_driver_sql(FUNCTIONS_SQL)


def downgrade() -> None:
    op.execute("drop function ct_is_timestamp(text)")
    op.execute("drop function ct_is_date(text)")
    op.execute("drop function ct_repr(text)")
