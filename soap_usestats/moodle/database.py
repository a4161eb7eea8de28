"""Connections to the Moodle database: pooled, checked, and read-only.

Every transaction the service opens is read-only at the database level
(``SET TRANSACTION READ ONLY`` on PostgreSQL, ``START TRANSACTION READ ONLY`` on
MariaDB/MySQL, ``PRAGMA query_only`` on SQLite), on top of the read-only account
production should use.

Every transaction also ends within a deadline (``database_timeout``): the server
gives a statement up after that long (PostgreSQL's ``statement_timeout``,
MariaDB's ``max_statement_time``, ``lock_wait_timeout``), and the client stops
waiting a little later, should the link stall with TCP still up (PyMySQL's read
and write timeouts; for psycopg, which has none, a watchdog that shuts the
socket down). Either way the call ends in :class:`DatabaseUnavailable`, saying
so, well before gunicorn would kill the worker.

A statement naming a table the database does not have (a wrong table prefix, a
plugin that is not installed) is not an outage: it becomes
:class:`SchemaMismatch`, whose root cause tells the operator the table and what
to check, whichever of SQLite, PostgreSQL and MariaDB/MySQL reported it.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, RootTransaction, make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from ..config import DEFAULT_DATABASE_TIMEOUT
from ..exceptions import DatabaseUnavailable, SchemaMismatch
from .tables import MoodleTables

CONNECT_TIMEOUT = 5  # seconds
#: Seconds the client waits beyond the server's own timeout before it gives a connection
#: up: on a working link the server's refusal comes first, and the connection is kept.
CLIENT_GRACE = 2
#: The engine's execution option that holds its ``database_timeout``.
TIMEOUT_OPTION = "usestats_timeout"
#: How large an in-memory temporary table MariaDB/MySQL may build for a statement.
TEMPORARY_TABLE_BYTES = 64 * 1024 * 1024
#: What a client is told when a table is missing; the operator's log says which.
SCHEMA_MISMATCH = ("the service's configuration does not match this Moodle database; "
                   "the operator's log says what to fix")
#: PostgreSQL's SQLSTATE undefined_table; MariaDB/MySQL's ER_NO_SUCH_TABLE.
_PG_UNDEFINED_TABLE = "42P01"
_MYSQL_NO_SUCH_TABLE = 1146
#: PostgreSQL's query_canceled (statement_timeout); MariaDB's max_statement_time, MySQL's
#: max_execution_time and both's lock_wait_timeout.
_PG_QUERY_CANCELED = "57014"
_MYSQL_TIMEOUTS = {1969, 3024, 1205}
#: How each driver names the missing table in its message.
_MISSING_TABLE_NAMES = (
    re.compile(r"no such table: (?:\w+\.)?(\S+)"),                 # SQLite
    re.compile(r'relation "(?:[^"]*\.)?([^".]+)" does not exist'),  # PostgreSQL
    re.compile(r"Table '(?:[^']*\.)?([^'.]+)' doesn't exist"),      # MariaDB/MySQL
)
#: The names of the tables the service reads, without a prefix, longest first.
_BASE_NAMES = sorted(MoodleTables("").metadata.tables, key=len, reverse=True)


def connect(url: str, timeout: int = DEFAULT_DATABASE_TIMEOUT) -> Engine:
    """An engine for the Moodle database at ``url`` whose transactions are read-only and
    end within ``timeout`` seconds (:func:`read_only`)."""
    backend = make_url(url).get_backend_name()
    connect_args = connection_arguments(url, timeout)
    # No ping before each checkout: the read-only statement that opens every transaction
    # finds a connection the database dropped, and read_only() replaces it once.
    engine = create_engine(url, connect_args=connect_args,
                           execution_options={TIMEOUT_OPTION: timeout})
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_query_only)
    else:
        event.listen(engine, "begin", _read_only_begin(backend))
    return engine


def connection_arguments(url: str, timeout: int) -> dict:
    """The driver's arguments for a connection to the database at ``url`` whose
    statements end within ``timeout`` seconds, and whose link fails rather than hangs."""
    backend = make_url(url).get_backend_name()
    connect_args: dict = {}
    if backend in {"postgresql", "mysql", "mariadb"}:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
    client_timeout = timeout + CLIENT_GRACE
    if backend == "postgresql":
        # A server that vanishes without closing its connections (a dropped network)
        # fails a request within the deadline, not after the kernel's 15 minutes.
        connect_args |= {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
                         "keepalives_count": 3, "tcp_user_timeout": client_timeout * 1000,
                         # The time model's window queries cost more to JIT-compile than
                         # they save (0.9 s of a 3.1 s call over 400,000 log rows), and
                         # sort in memory with a little more than the default work_mem.
                         # A statement (a lock wait included) ends at the deadline.
                         "options": f"-c jit=off -c work_mem=32MB "
                                    f"-c statement_timeout={timeout * 1000}"}
    elif backend in {"mysql", "mariadb"}:
        # Each link of the time model's chain of windows is a temporary table, which
        # MariaDB keeps in memory up to 16 MB by default and writes to disk beyond: the
        # statement over 400,000 log rows takes 6.0 s with the default, 2.3 s with 64 MB.
        # A statement, or its wait for a metadata lock, ends at the deadline; only
        # MariaDB has max_statement_time (in a comment MySQL skips).
        connect_args |= {"read_timeout": client_timeout, "write_timeout": client_timeout,
                         "init_command": f"SET SESSION tmp_table_size = {TEMPORARY_TABLE_BYTES}, "
                                         f"max_heap_table_size = {TEMPORARY_TABLE_BYTES}, "
                                         f"lock_wait_timeout = {timeout} "
                                         f"/*M!, max_statement_time = {timeout} */"}
    return connect_args


def longest_wait(timeout: int) -> int:
    """Seconds a :func:`read_only` transaction with this deadline may wait on the database
    at the most: a connection dropped meanwhile is replaced once, each connection
    made within ``CONNECT_TIMEOUT``."""
    return 2 * CONNECT_TIMEOUT + timeout + CLIENT_GRACE


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

    A database that cannot be reached (refused, timed out, dropped mid-way), or that
    does not answer within the engine's deadline, becomes :class:`DatabaseUnavailable`;
    the pool recovers by itself once the database is back. A missing table becomes
    :class:`SchemaMismatch`, its root cause a :class:`MissingTable` for the operator.
    """
    timeout = engine.get_execution_options().get(TIMEOUT_OPTION)
    # psycopg has no read timeout of its own (PyMySQL has; SQLite has no link to stall).
    watched = timeout is not None and engine.dialect.name == "postgresql"
    watchdog = _Watchdog(timeout + CLIENT_GRACE if watched else None)
    try:
        connection, transaction = _begin(engine, watchdog)
        with connection:
            try:
                yield connection
                transaction.rollback()
            finally:
                watchdog.stop()  # before the connection goes back to the pool
                if watchdog.fired:
                    connection.invalidate()
    except DBAPIError as error:
        table = missing_table(error)
        if table is not None:
            raise SchemaMismatch(SCHEMA_MISMATCH) from MissingTable(table, error)
        if watchdog.fired or timed_out(error):
            within = "in time" if timeout is None else f"within {timeout:g} s"
            raise DatabaseUnavailable(f"the Moodle database did not answer {within}") from error
        if isinstance(error, OperationalError):
            raise DatabaseUnavailable("the Moodle database cannot be reached") from error
        if error.connection_invalidated:
            raise DatabaseUnavailable("the Moodle database connection was lost") from error
        raise
    finally:
        watchdog.stop()


def _begin(engine: Engine, watchdog: _Watchdog) -> tuple[Connection, RootTransaction]:
    """A connection in a read-only transaction. A pooled connection the database dropped
    meanwhile fails the transaction's first statement, and is replaced once."""
    try:
        return _begin_once(engine, watchdog)
    except DBAPIError as error:
        if not error.connection_invalidated or watchdog.fired or timed_out(error):
            raise
    return _begin_once(engine, watchdog)


def _begin_once(engine: Engine, watchdog: _Watchdog) -> tuple[Connection, RootTransaction]:
    connection = engine.connect()
    try:
        watchdog.watch(connection.connection.dbapi_connection)
        return connection, connection.begin()
    except BaseException:
        watchdog.release()
        connection.close()
        raise


def timed_out(error: DBAPIError) -> bool:
    """Whether the database gave a statement up at its deadline, or the driver stopped
    waiting for the database's answer."""
    orig = error.orig
    if getattr(orig, "sqlstate", None) == _PG_QUERY_CANCELED:
        return True
    args = getattr(orig, "args", ())
    if args and args[0] in _MYSQL_TIMEOUTS:
        return True
    return isinstance(orig.__context__, TimeoutError)  # PyMySQL's read or write timeout


class _Watchdog:
    """Gives up the connection of a transaction that outlasts ``seconds`` (None: never).

    A link that stalls with TCP still up (a proxy or a firewall that acknowledges but
    no longer forwards) leaves psycopg waiting for ever: keepalives and
    ``tcp_user_timeout`` see nothing wrong. Shutting the socket down ends the wait at
    once, with the driver's own error. The watchdog holds a duplicate of the socket,
    so it can never cut a socket that has meanwhile been given another connection.
    """

    def __init__(self, seconds: float | None) -> None:
        self.fired = False
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        if seconds is not None:
            self._timer = threading.Timer(seconds, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def watch(self, dbapi_connection) -> None:
        """Cut this connection when the time is up (at once if it is already)."""
        if self._timer is None:
            return
        with self._lock:
            self._socket = socket.socket(fileno=os.dup(dbapi_connection.fileno()))
            if self.fired:
                self._cut()

    def release(self) -> None:
        """Watch no connection."""
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None

    def stop(self) -> None:
        """No cut after this returns."""
        if self._timer is not None:
            self._timer.cancel()
        self.release()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            if self._socket is not None:
                self._cut()

    def _cut(self) -> None:
        with suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)


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
