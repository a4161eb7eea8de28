"""Many rows written as they come: one PostgreSQL COPY for them all where the ledger is
PostgreSQL (psycopg), so that the server stores rows while the writer makes the next ones;
INSERTs of many rows at a time elsewhere."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Table, insert
from sqlalchemy.engine import Connection

#: Rows per INSERT where there is no COPY.
INSERT_BATCH = 1000


@contextmanager
def row_writer(conn: Connection, table: Table) -> Iterator[Callable[[Sequence], None]]:
    """A function that writes a row (a value per column of ``table``, in order) into
    ``table``, in the connection's transaction; every row is written when the block ends.
    The connection runs nothing else until then."""
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        with _copy(conn, table) as write:
            yield write
        return
    names = [column.name for column in table.columns]
    batch: list[dict] = []

    def write(row: Sequence) -> None:
        batch.append(dict(zip(names, row)))
        if len(batch) == INSERT_BATCH:
            conn.execute(insert(table), batch)
            batch.clear()

    yield write
    if batch:
        conn.execute(insert(table), batch)


@contextmanager
def _copy(conn: Connection, table: Table) -> Iterator[Callable[[Sequence], None]]:
    preparer = conn.dialect.identifier_preparer
    quoted = ", ".join(preparer.quote(column.name) for column in table.columns)
    with conn.connection.dbapi_connection.cursor() as cursor, cursor.copy(
            f"COPY {preparer.format_table(table)} ({quoted}) FROM STDIN") as copy:
        yield copy.write_row
