"""Keeping the ledger current: the passes over every site read directly that both
``soap-usestats compile`` and the running service make, and the service's own compiler.

The service's compiler is a daemon thread of each worker: every ``ledger_interval``
seconds it tries the ledger's lease and, if no other compiler (another worker, another
host, ``soap-usestats compile --follow``) holds it, brings the schema to the newest
revision and compiles one pass of each site. A pass that fails is logged in one line and
tried again at the next interval; calls never wait on it (they answer from the log what
the ledger does not hold).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..config import DirectSite, Settings
from ..ledger import compiler, migrate, source
from ..ledger.lock import Lease, LockHeld
from ..ledger.progress import Progress
from ..moodle.database import read_only
from .site import MoodleSite

log = logging.getLogger(__name__)

#: Seconds a compile's reads of a Moodle database may take (a heavy learner's whole log).
COMPILE_TIMEOUT = 3600


def direct_sites(settings: Settings) -> list[MoodleSite]:
    """The home site and every site of ``[sites]`` read directly, with the time a
    compile's reads may take (dispose of their engines once done)."""
    reading = replace(settings, database_timeout=max(settings.database_timeout, COMPILE_TIMEOUT))
    return [MoodleSite.from_settings(reading)] + [
        MoodleSite.other(entry, reading) for entry in settings.sites.values()
        if isinstance(entry, DirectSite)]


def compile_sites(settings: Settings, ledger: Engine, lease: Lease, *, catch_up: bool = True,
                  progress: Callable[[], Progress] | None = None,
                  report: Callable[[compiler.Outcome], None] = lambda outcome: None,
                  ) -> list[compiler.Outcome]:
    """A pass over each site read directly (with ``catch_up``, passes until no new log row
    is left); a new ``progress()`` hears each pass's rows, ``report`` its outcome."""
    outcomes = []
    for site in direct_sites(settings):
        try:
            while True:
                with read_only(site.engine) as conn:
                    model = site.time_model(conn).time_settings
                shown = progress() if progress is not None else None
                outcome = compiler.compile(
                    site.engine, site.queries, ledger, model, int(time.time()), lease=lease,
                    advance=shown.advance if shown else _ignored,
                    planned=shown.planned if shown else _ignored)
                if shown is not None:
                    shown.finish()
                outcomes.append(outcome)
                report(outcome)
                if not catch_up:
                    break
                with read_only(site.engine) as conn:
                    if source.newest_id(conn, site.queries) <= outcome.compiled_id:
                        break
        finally:
            site.engine.dispose()
    return outcomes


def described(outcome: compiler.Outcome) -> str:
    """A pass's outcome in one line."""
    return (f"{outcome.key}: booked {outcome.rows} rows of {outcome.users} users; compiled "
            f"to log id {outcome.compiled_id}, final before {outcome.final_to}")


def _ignored(rows: int) -> None:
    """What hears a pass's rows when nothing shows its progress."""


def newest_schema(ledger: Engine) -> None:
    """Bring the ledger to the newest revision, unless it is there already; another
    process doing so at the same moment is no failure."""
    head = migrate.newest()
    if migrate.revision(ledger) == head:
        return
    try:
        migrate.upgrade(ledger)
    except SQLAlchemyError:
        if migrate.revision(ledger) != head:
            raise


class BackgroundCompiler:
    """The service's compiler: a daemon thread making a pass every ``interval`` seconds
    while it holds the ledger's lease; :meth:`stop` ends it at the next wait."""

    def __init__(self, settings: Settings, ledger: Engine, interval: float) -> None:
        self.settings, self.ledger, self.interval = settings, ledger, interval
        self.passes = 0  # passes made by this process
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="usestats-ledger-compiler",
                                        daemon=True)

    def start(self) -> BackgroundCompiler:
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self._stopped.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopped.is_set():
            self.run_once()
            self._stopped.wait(self.interval)

    def run_once(self) -> bool:
        """One attempt: a pass of every site if the lease is free; whether one was made.
        Nothing it meets escapes: a failure is logged in one line."""
        lease = Lease(self.ledger)
        try:
            newest_schema(self.ledger)
            lease.acquire()
        except LockHeld as held:
            log.debug("ledger: %s; this worker skips its pass", held)
            return False
        except Exception as error:  # noqa: BLE001 - the ledger never stops the service
            log.warning("ledger: cannot compile (answers come from the log): %s", _line(error))
            return False
        try:
            compile_sites(self.settings, self.ledger, lease, catch_up=False, report=_logged)
            self.passes += 1
            return True
        except Exception as error:  # noqa: BLE001 - tried again at the next interval
            log.warning("ledger: the compile pass failed, tried again in %g s: %s",
                        self.interval, _line(error))
            return False
        finally:
            try:
                lease.release()
            except SQLAlchemyError as error:
                log.warning("ledger: cannot release the lock (its lease expires): %s",
                            _line(error))


def _logged(outcome: compiler.Outcome) -> None:
    """A pass of the service's compiler that booked rows is logged; one with nothing new not."""
    log.log(logging.INFO if outcome.rows else logging.DEBUG, "ledger: %s", described(outcome))


def _line(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]
