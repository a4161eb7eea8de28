"""The health check: can the service use the Moodle database, its tables included.

A probe runs one statement in a read-only transaction, through the service's own
connection pool, in a background thread; the answer is "unreachable" as soon as
the deadline passes, so a stopped, unreachable or hung database never holds up
``/healthz``. At most one probe runs at a time: while one hangs, the next checks
wait on it instead of starting another.

The statement is ``SELECT 1``, or, every :data:`TABLES_SECONDS`, one that names
each table the service reads and reads no row (a wrong table prefix, a database
that is not Moodle's, an account without access to a table fail it). The tables'
verdict is kept in between, so a load balancer polling every second costs one
trivial statement a second, and a missing table does not fill the database's log.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy import false, literal, select, union_all
from sqlalchemy.engine import Engine
from sqlalchemy.sql import Executable

from ..exceptions import DatabaseUnavailable, InternalError, SchemaMismatch, root_cause
from ..moodle.database import read_only
from ..moodle.tables import MoodleTables

log = logging.getLogger(__name__)

TIMEOUT = 2.0  # seconds
#: Seconds the verdict on the tables is kept before they are checked again.
TABLES_SECONDS = 10.0
CONTENT_TYPE = "application/json"
#: The header of ``/healthz`` that tells the ledger's state (``ledger.status``): the service
#: answers from the log whatever it says, so it never changes the status.
LEDGER_HEADER = "X-Usestats-Ledger"


@dataclass(frozen=True)
class Health:
    """A check's verdict: ``database`` is ``ok``, ``unreachable``, ``schema mismatch`` or
    ``query failed``; ``detail`` tells the operator what to fix, when that is no secret."""

    database: str
    detail: str | None = None
    outcome: str = "ok"       # for the request line and the metrics: a fault code

    @property
    def ok(self) -> bool:
        return self.database == "ok"


OK = Health("ok")
UNREACHABLE = Health("unreachable", outcome=DatabaseUnavailable.faultcode)


def tables_statement(prefix: str) -> Executable:
    """One statement naming every table the service reads (with ``prefix``), reading no row."""
    return union_all(*(select(literal(1)).select_from(table).where(false())
                       for table in MoodleTables(prefix).metadata.sorted_tables))


class _Probe(threading.Thread):
    """One statement; ``error`` is what it failed with, once ``done`` is set."""

    def __init__(self, engine: Engine, statement: Executable) -> None:
        super().__init__(name="usestats-health-probe", daemon=True)
        self.engine = engine
        self.statement = statement
        self.error: BaseException | None = None
        self.done = threading.Event()

    def run(self) -> None:
        try:
            with read_only(self.engine) as conn:
                conn.execute(self.statement).all()
        except Exception as error:  # noqa: BLE001 - any failure means the database is not usable
            self.error = error
        finally:
            self.done.set()


class DatabaseHealth:
    """Whether the service can use the database at ``engine``, its tables named with
    ``table_prefix``, answered within ``timeout`` seconds."""

    def __init__(self, engine: Engine, table_prefix: str, timeout: float = TIMEOUT,
                 tables_seconds: float = TABLES_SECONDS) -> None:
        self.engine = engine
        self.timeout = timeout
        self.tables_seconds = tables_seconds
        self._ping = select(literal(1))
        self._tables = tables_statement(table_prefix)
        self._lock = threading.Lock()
        self._probe: _Probe | None = None
        self._tables_verdict: Health | None = None
        self._tables_checked = 0.0

    def check(self) -> Health:
        """The verdict; the cause of a failure is logged for the operator."""
        with self._lock:
            if self._probe is None or self._probe.done.is_set():
                due = (self._tables_verdict is None
                       or time.monotonic() - self._tables_checked >= self.tables_seconds)
                self._probe = _Probe(self.engine, self._tables if due else self._ping)
                self._probe.start()
            probe = self._probe
        if not probe.done.wait(self.timeout):
            log.warning("health check: the database did not answer within %.1f s", self.timeout)
            return UNREACHABLE
        verdict = self._verdict(probe.error)
        if probe.statement is self._tables:
            if verdict is not UNREACHABLE:
                with self._lock:
                    self._tables_verdict, self._tables_checked = verdict, time.monotonic()
            return verdict
        return verdict if not verdict.ok else self._tables_verdict or verdict

    @staticmethod
    def _verdict(error: BaseException | None) -> Health:
        if error is None:
            return OK
        cause = root_cause(error)
        if isinstance(error, SchemaMismatch):
            log.warning("health check: %s", cause)
            return Health("schema mismatch", str(cause), SchemaMismatch.faultcode)
        if isinstance(error, DatabaseUnavailable):
            log.warning("health check: the database is unreachable: %s", cause)
            return UNREACHABLE
        log.warning("health check: the tables cannot be read: %s", cause)
        return Health("query failed", "a statement over the tables the service reads failed "
                                      "(the account's rights?); the service log says why",
                      InternalError.faultcode)


def report(health: Health) -> tuple[str, bytes]:
    """The HTTP status and JSON body of ``/healthz``: what is wrong, never a secret."""
    if health.ok:
        return "200 OK", json.dumps({"status": "ok", "database": "ok"}).encode()
    body = {"status": "unavailable", "database": health.database}
    if health.detail:
        body["detail"] = health.detail
    return "503 Service Unavailable", json.dumps(body).encode()
