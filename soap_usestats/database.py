"""Connections to the Moodle database: pooled, checked, and read-only.

Every transaction the service opens is read-only at the database level
(``SET TRANSACTION READ ONLY`` on PostgreSQL, ``START TRANSACTION READ ONLY`` on
MariaDB/MySQL, ``PRAGMA query_only`` on SQLite), on top of the read-only account
production should use.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from .exceptions import DatabaseUnavailable

CONNECT_TIMEOUT = 5  # seconds
#: Seconds without an answer after which a connection counts as lost.
STALLED_TIMEOUT = 60
#: Seconds MariaDB/MySQL may take to send the next bytes of a result (its only read timeout).
QUERY_TIMEOUT = 300


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
                         "keepalives_count": 3, "tcp_user_timeout": STALLED_TIMEOUT * 1000}
    elif backend in {"mysql", "mariadb"}:
        connect_args |= {"read_timeout": QUERY_TIMEOUT, "write_timeout": STALLED_TIMEOUT}
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
    database is back.
    """
    try:
        with engine.connect() as connection, connection.begin() as transaction:
            yield connection
            transaction.rollback()
    except OperationalError as error:
        raise DatabaseUnavailable("the Moodle database cannot be reached") from error
    except DBAPIError as error:
        if error.connection_invalidated:
            raise DatabaseUnavailable("the Moodle database connection was lost") from error
        raise
