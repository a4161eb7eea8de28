"""The ledger as operators see it from the running service (``/healthz``, ``/metrics``):
whether it is in use, and for each site read directly, how many log rows it has not
compiled yet and how long ago its last pass ended.

A look reads the ledger (never creating it) and counts each site's log rows beyond its
``compiled_id``, in a background thread, at most every :data:`EVERY` seconds; a look
that takes longer than :data:`TIMEOUT` says "unreachable" and leaves the thread to end,
so a stalled ledger never holds up ``/healthz``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine, make_url

from ..moodle.database import read_only
from . import migrate, source, tables

log = logging.getLogger(__name__)

#: Seconds a look at the ledger is reused; seconds one may take.
EVERY, TIMEOUT = 10.0, 2.0
#: The states: no ledger configured, none made yet, in use, cannot be used.
OFF, NOT_MADE, OK, UNREACHABLE = "off", "not made yet", "ok", "unreachable"


@dataclass(frozen=True)
class SiteLag:
    """How far a site's ledger is behind its log: the rows not compiled yet, and the
    seconds since its last pass ended (None: never compiled)."""

    site: str
    rows: int
    seconds: int | None


@dataclass(frozen=True)
class LedgerState:
    state: str
    sites: tuple[SiteLag, ...] = ()

    @property
    def in_use(self) -> bool:
        return self.state == OK


class LedgerWatch:
    """The state of the ledger at ``url`` (None: off) for the sites ``sites()`` lists
    (each a ``MoodleSite``)."""

    def __init__(self, url: str | None, sites: Callable[[], list], every: float = EVERY,
                 timeout: float = TIMEOUT, clock: Callable[[], float] = time.time) -> None:
        self.url, self.sites, self.every, self.timeout, self.clock = (
            url, sites, every, timeout, clock)
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._look: threading.Thread | None = None
        self._seen: LedgerState | None = None
        self._seen_at = 0.0

    def state(self) -> LedgerState:
        if self.url is None:
            return LedgerState(OFF)
        with self._lock:
            fresh = self._seen is not None and time.monotonic() - self._seen_at < self.every
            if not fresh and (self._look is None or not self._look.is_alive()):
                self._look = threading.Thread(target=self._refresh, daemon=True,
                                              name="usestats-ledger-status")
                self._look.start()
            look = self._look
        if not fresh:
            look.join(self.timeout)
            if look.is_alive():
                return LedgerState(UNREACHABLE)
        return self._seen or LedgerState(UNREACHABLE)

    def _refresh(self) -> None:
        try:
            seen = self.look()
        except Exception as error:  # noqa: BLE001 - the ledger never fails the service
            log.warning("ledger: cannot be read (answers come from the log): %s",
                        _line(error))
            seen = LedgerState(UNREACHABLE)
        self._seen, self._seen_at = seen, time.monotonic()

    def look(self) -> LedgerState:
        """The state now, read from the ledger and the sites' logs."""
        database = make_url(self.url).database
        if (make_url(self.url).get_backend_name() == "sqlite" and database
                and database != ":memory:" and not Path(database).exists()):
            return LedgerState(NOT_MADE)
        if self._engine is None:
            self._engine = create_engine(self.url)
        if migrate.revision(self._engine) is None:
            return LedgerState(NOT_MADE)
        with self._engine.connect() as conn:
            compiled = {row.key: row for row in conn.execute(
                select(tables.site.c.key, tables.site.c.compiled_id, tables.site.c.updated))}
        now = int(self.clock())
        return LedgerState(OK, tuple(lag for site in self.sites()
                                     if (lag := _lag(site, compiled, now)) is not None))


def _lag(site, compiled: dict, now: int) -> SiteLag | None:
    """The site's lag (by its wwwroot, else its key); None if its log cannot be read."""
    try:
        with read_only(site.engine) as conn:
            key = source.site_key(conn, site.queries)
            found = compiled.get(key)
            log_id = site.queries.t.log.c.id
            rows = conn.scalar(select(func.count()).where(
                log_id > (found.compiled_id if found else 0)))
            config_wwwroot = site.wwwroot or _wwwroot(conn, site) or key
    except Exception as error:  # noqa: BLE001 - a site that cannot be read has no figure
        log.debug("ledger: the lag of a site cannot be read: %s", _line(error))
        return None
    return SiteLag(config_wwwroot, rows, None if found is None else max(0, now - found.updated))


def _wwwroot(conn, site) -> str | None:
    from ..moodle.siteconfig import SiteConfig

    return site.queries.wwwroot(conn, SiteConfig.read(conn, site.queries).localhost)


def _line(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]
