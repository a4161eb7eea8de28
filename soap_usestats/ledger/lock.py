"""One compiler at a time per ledger database: a lease in ``ledger_lock``, taken by an
INSERT or an UPDATE that only one holder can win, renewed while compiling, and released
at the end. A holder that crashed stops blocking once its lease expires."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from . import tables

#: The lease of the compiler.
COMPILER = "compiler"
#: Seconds a lease lasts unless renewed.
LEASE_SECONDS = 300


class LockHeld(RuntimeError):
    """Another compiler holds the ledger."""


class LockLost(RuntimeError):
    """The lease expired and another compiler took it: stop writing."""


class Lease:
    """The lease ``name`` of a ledger, held or not by this process."""

    def __init__(self, engine: Engine, name: str = COMPILER, seconds: int = LEASE_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine, self.name, self.seconds, self.clock = engine, name, seconds, clock
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._renewed = 0.0

    def acquire(self) -> None:
        """Take the lease, or raise :class:`LockHeld` naming who holds it."""
        now = int(self.clock())
        t = tables.lock.c
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(tables.lock).values(name=self.name, holder=self.holder,
                                                        expires=now + self.seconds))
        except IntegrityError:
            with self.engine.begin() as conn:
                taken = conn.execute(
                    update(tables.lock)
                    .where(t.name == self.name, or_(t.expires < now, t.holder == self.holder))
                    .values(holder=self.holder, expires=now + self.seconds)).rowcount
                if not taken:
                    holder, expires = conn.execute(
                        select(t.holder, t.expires).where(t.name == self.name)).one()
                    raise LockHeld(f"another compiler holds the ledger ({holder}, its lease "
                                   f"runs {max(0, expires - now)} s more)") from None
        self._renewed = self.clock()

    def renew(self, force: bool = False) -> None:
        """Extend the lease (at most every third of its length, unless ``force``); raise
        :class:`LockLost` if it is no longer ours."""
        if not force and self.clock() - self._renewed < self.seconds / 3:
            return
        t = tables.lock.c
        with self.engine.begin() as conn:
            kept = conn.execute(update(tables.lock)
                                .where(t.name == self.name, t.holder == self.holder)
                                .values(expires=int(self.clock()) + self.seconds)).rowcount
        if not kept:
            raise LockLost("the ledger lock was lost (its lease expired and another "
                           "compiler took it)")
        self._renewed = self.clock()

    def release(self) -> None:
        t = tables.lock.c
        with self.engine.begin() as conn:
            conn.execute(delete(tables.lock).where(t.name == self.name, t.holder == self.holder))

    def __enter__(self) -> Lease:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
