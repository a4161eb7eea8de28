"""Many rows written as they come: one PostgreSQL COPY for them all where the ledger is
PostgreSQL (psycopg), so that the server stores rows while the writer makes the next ones;
INSERTs of many rows at a time elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack

from sqlalchemy import Table, insert
from sqlalchemy.engine import Connection

#: Rows per INSERT where there is no COPY.
INSERT_BATCH = 1000


class RowWriter:
    """Writes rows (a value per column of the table, in order) into a table, in the
    connection's transaction, until the block it opens ends. Between a write and
    :meth:`flush` the connection runs nothing else; after it, every row written is in the
    table."""

    def __init__(self, conn: Connection, table: Table) -> None:
        self.conn, self.table = conn, table
        self.names = [column.name for column in table.columns]
        self.copies = conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"
        self._batch: list[dict] = []
        self._copy = None
        self._open = ExitStack()

    def __enter__(self) -> RowWriter:
        return self

    def __exit__(self, *raised) -> None:
        if raised[0] is None:
            self.flush()
        else:  # a COPY under way is abandoned with the transaction
            self._open.__exit__(*raised)

    def write(self, row: Sequence) -> None:
        if self._copy is not None:  # the common case first: a row a call
            self._copy.write_row(row)
        elif self.copies:
            preparer = self.conn.dialect.identifier_preparer
            quoted = ", ".join(preparer.quote(name) for name in self.names)
            cursor = self._open.enter_context(self.conn.connection.dbapi_connection.cursor())
            self._copy = self._open.enter_context(cursor.copy(
                f"COPY {preparer.format_table(self.table)} ({quoted}) FROM STDIN"))
            self._copy.write_row(row)
        else:
            self._batch.append(dict(zip(self.names, row)))
            if len(self._batch) == INSERT_BATCH:
                self.flush()

    def flush(self) -> None:
        if self._batch:
            self.conn.execute(insert(self.table), self._batch)
            self._batch.clear()
        self._copy = None
        self._open.close()
