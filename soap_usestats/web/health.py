"""The health check: is the Moodle database reachable, asked with a short deadline.

The probe (``SELECT 1`` in a read-only transaction, through the service's own
connection pool) runs in a background thread; the answer is "unreachable" as
soon as the deadline passes, so a stopped, unreachable or hung database never
holds up ``/healthz``. At most one probe runs at a time: while one hangs, the
next checks wait on it instead of starting another.
"""

from __future__ import annotations

import json
import logging
import threading

from sqlalchemy import literal, select
from sqlalchemy.engine import Engine

from ..exceptions import root_cause
from ..moodle.database import read_only

log = logging.getLogger(__name__)

TIMEOUT = 2.0  # seconds
CONTENT_TYPE = "application/json"


class _Probe(threading.Thread):
    """One ``SELECT 1``; ``error`` is what it failed with, once ``done`` is set."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(name="usestats-health-probe", daemon=True)
        self.engine = engine
        self.error: BaseException | None = None
        self.done = threading.Event()

    def run(self) -> None:
        try:
            with read_only(self.engine) as conn:
                conn.scalar(select(literal(1)))
        except Exception as error:  # noqa: BLE001 - any failure means the database is not usable
            self.error = error
        finally:
            self.done.set()


class DatabaseHealth:
    """Answers whether the database at ``engine`` is reachable within ``timeout`` seconds."""

    def __init__(self, engine: Engine, timeout: float = TIMEOUT) -> None:
        self.engine = engine
        self.timeout = timeout
        self._lock = threading.Lock()
        self._probe: _Probe | None = None

    def reachable(self) -> bool:
        """True when the database answered ``SELECT 1``; the cause of a failure is logged."""
        with self._lock:
            if self._probe is None or self._probe.done.is_set():
                self._probe = _Probe(self.engine)
                self._probe.start()
            probe = self._probe
        if not probe.done.wait(self.timeout):
            log.warning("health check: the database did not answer within %.1f s", self.timeout)
            return False
        if probe.error is not None:
            log.warning("health check: the database is unreachable: %s", root_cause(probe.error))
            return False
        return True


def report(reachable: bool) -> tuple[str, bytes]:
    """The HTTP status and JSON body of ``/healthz``: no details, the log has them."""
    if reachable:
        return "200 OK", json.dumps({"status": "ok", "database": "ok"}).encode()
    body = {"status": "unavailable", "database": "unreachable"}
    return "503 Service Unavailable", json.dumps(body).encode()

