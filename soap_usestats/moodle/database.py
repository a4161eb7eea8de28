"""Connections to the Moodle database: pooled, checked, and read-only.

Every transaction the service opens is read-only at the database level
(``SET TRANSACTION READ ONLY`` on PostgreSQL, ``START TRANSACTION READ ONLY`` on
MariaDB/MySQL, ``PRAGMA query_only`` on SQLite), on top of the read-only account
production should use.

A statement naming a table the database does not have (a wrong table prefix, a
plugin that is not installed) is not an outage: it becomes
:class:`SchemaMismatch`, whose root cause tells the operator the table and what
to check, whichever of SQLite, PostgreSQL and MariaDB/MySQL reported it.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from ..exceptions import DatabaseUnavailable, SchemaMismatch
from .tables import MoodleTables

CONNECT_TIMEOUT = 5  # seconds
#: Seconds without an answer after which a connection counts as lost.
STALLED_TIMEOUT = 60
#: Seconds MariaDB/MySQL may take to send the next bytes of a result (its only read timeout).
QUERY_TIMEOUT = 300
#: How large an in-memory temporary table MariaDB/MySQL may build for a statement.
TEMPORARY_TABLE_BYTES = 64 * 1024 * 1024
#: What a client is told when a table is missing; the operator's log says which.
SCHEMA_MISMATCH = ("the service's configuration does not match this Moodle database; "
                   "the operator's log says what to fix")
#: PostgreSQL's SQLSTATE undefined_table; MariaDB/MySQL's ER_NO_SUCH_TABLE.
_PG_UNDEFINED_TABLE = "42P01"
_MYSQL_NO_SUCH_TABLE = 1146
#: How each driver names the missing table in its message.
_MISSING_TABLE_NAMES = (
    re.compile(r"no such table: (?:\w+\.)?(\S+)"),                 # SQLite
    re.compile(r'relation "(?:[^"]*\.)?([^".]+)" does not exist'),  # PostgreSQL
    re.compile(r"Table '(?:[^']*\.)?([^'.]+)' doesn't exist"),      # MariaDB/MySQL
)
#: The names of the tables the service reads, without a prefix, longest first.
_BASE_NAMES = sorted(MoodleTables("").metadata.tables, key=len, reverse=True)


def connect(url: str) -> Engine:
    """An engine for the Moodle database at ``url`` whose transactions are read-only."""
    backend = make_url(url).get_backend_name()
    connect_args = {}
    if backend in {"postgresql", "mysql", "mariadb"}:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
    # A server that vanishes without closing its connections (a dropped network) must
    # fail a request within a bounded time, not after the kernel's 15 minutes.
    if backend == "postgresql":
        connect_args |= {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
                         "keepalives_count": 3, "tcp_user_timeout": STALLED_TIMEOUT * 1000,
                         # The time model's window queries cost more to JIT-compile than
                         # they save (0.9 s of a 3.1 s call over 400,000 log rows), and
                         # sort in memory with a little more than the default work_mem.
                         # A statement the client gave up on must not run on.
                         "options": f"-c jit=off -c work_mem=32MB "
                                    f"-c statement_timeout={QUERY_TIMEOUT * 1000}"}
    elif backend in {"mysql", "mariadb"}:
        # Each link of the time model's chain of windows is a temporary table, which
        # MariaDB keeps in memory up to 16 MB by default and writes to disk beyond: the
        # statement over 400,000 log rows takes 6.0 s with the default, 2.3 s with 64 MB.
        connect_args |= {"read_timeout": QUERY_TIMEOUT, "write_timeout": STALLED_TIMEOUT,
                         "init_command": f"SET SESSION tmp_table_size = {TEMPORARY_TABLE_BYTES}, "
                                         f"max_heap_table_size = {TEMPORARY_TABLE_BYTES}"}
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_query_only)
    else:
        event.listen(engine, "begin", _read_only_begin(backend))
    return engine


def _sqlite_query_only(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only = ON")
    cursor.close()


def _read_only_begin(backend: str):
    # psycopg has already sent BEGIN when the first statement runs; PyMySQL has not.
    statement = "SET TRANSACTION READ ONLY" if backend == "postgresql" else "START TRANSACTION READ ONLY"

    def begin(connection: Connection) -> None:
        connection.exec_driver_sql(statement)

    return begin


@contextmanager
def read_only(engine: Engine) -> Iterator[Connection]:
    """A connection in a read-only transaction, rolled back at the end.

    A database that cannot be reached (refused, timed out, dropped mid-way)
    becomes :class:`DatabaseUnavailable`; the pool recovers by itself once the
    database is back. A missing table becomes :class:`SchemaMismatch`, its
    root cause a :class:`MissingTable` for the operator.
    """
    try:
        with engine.connect() as connection, connection.begin() as transaction:
            yield connection
            transaction.rollback()
    except DBAPIError as error:
        table = missing_table(error)
        if table is not None:
            raise SchemaMismatch(SCHEMA_MISMATCH) from MissingTable(table, error)
        if isinstance(error, OperationalError):
            raise DatabaseUnavailable("the Moodle database cannot be reached") from error
        if error.connection_invalidated:
            raise DatabaseUnavailable("the Moodle database connection was lost") from error
        raise


class MissingTable(Exception):
    """For the operator's log: the table the database lacks, and what to check.

    Its ``__context__`` is the driver's error; it has no ``__cause__``, so that it is
    the root cause the log shows (``exceptions.root_cause``).
    """

    def __init__(self, table: str, error: BaseException | None = None) -> None:
        super().__init__(_advice(table))
        self.table = table
        self.__context__ = error


def missing_table(error: DBAPIError) -> str | None:
    """The table a statement failed on for not existing, from the driver's error; else None.

    SQLite says "no such table", PostgreSQL raises undefined_table (42P01) and
    MariaDB/MySQL error 1146. A name the message does not give is ``"?"``.
    """
    orig = error.orig
    if isinstance(orig, sqlite3.OperationalError):
        found = str(orig).startswith("no such table")
    elif _PG_UNDEFINED_TABLE in (getattr(orig, "sqlstate", None), getattr(orig, "pgcode", None)):
        found = True
    else:
        args = getattr(orig, "args", ())
        found = bool(args) and args[0] == _MYSQL_NO_SUCH_TABLE
    if not found:
        return None
    text = " ".join(str(arg) for arg in getattr(orig, "args", ())) or str(orig)
    for pattern in _MISSING_TABLE_NAMES:
        if match := pattern.search(text):
            return match.group(1)
    return "?"


def _advice(table: str) -> str:
    """The operator's hint for a missing table: the prefix it was named with, and the check."""
    check = "`soap-usestats check` lists the missing tables and the prefixes this database holds"
    base = next((name for name in _BASE_NAMES if table.endswith(name)), None)
    if base is None:
        return (f"table {table!r} does not exist in the Moodle database (the table of an "
                f"activity module the site lists but has not installed?); {check}")
    prefix = table[: -len(base)]
    return (f"table {table!r} does not exist in the Moodle database: the service names "
            f"Moodle's tables with prefix {prefix!r} (USESTATS_TABLE_PREFIX, or table_prefix in "
            f"the configuration file), which must be the site's $CFG->prefix; {check}")
