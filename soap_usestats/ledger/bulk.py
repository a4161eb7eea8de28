"""Many rows written at once: PostgreSQL's COPY where the ledger is PostgreSQL (psycopg),
one INSERT with many rows elsewhere."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, insert
from sqlalchemy.engine import Connection


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict]) -> None:
    """Insert ``rows`` (each a dict by column name; a missing column is NULL) into ``table``,
    in the connection's transaction."""
    if not rows:
        return
    if conn.dialect.name != "postgresql" or conn.dialect.driver != "psycopg":
        conn.execute(insert(table), list(rows))
        return
    names = [column.name for column in table.columns]
    quoted = ", ".join(conn.dialect.identifier_preparer.quote(name) for name in names)
    with conn.connection.dbapi_connection.cursor() as cursor, cursor.copy(
            f"COPY {conn.dialect.identifier_preparer.format_table(table)} ({quoted}) "
            "FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row.get(name) for name in names])
