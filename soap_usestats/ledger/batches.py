"""A pass's users in batches: each batch one read of the log (or its share of one read of
the whole log) and one ledger transaction, ended (summed and committed) while the next
batch is booked where the ledger allows it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

from sqlalchemy.engine import Connection, Engine

#: Users booked together (one read of the log, one ledger transaction), at most.
USER_CHUNK = 200
#: Rows booked together, about: a batch of users ends once their new rows reach it.
ROW_CHUNK = 100_000


class Handout:
    """The rows of users read in one statement (``source.users_rows``), handed out batch
    after batch of users in id order."""

    def __init__(self, rows: Iterator[tuple[int, Iterator]]) -> None:
        self._rows = rows
        self._next: tuple[int, Iterator] | None = None

    def of(self, userids: list[int]) -> Iterator[tuple[int, Iterator]]:
        """The rows of ``userids`` (in id order), each user's until the next is asked for."""
        wanted = set(userids)
        while True:
            if self._next is None:
                self._next = next(self._rows, None)
            if self._next is None or self._next[0] > userids[-1]:
                return
            found, self._next = self._next, None
            if found[0] in wanted:
                yield found


def batches(userids: list[int], counts: dict[int, int]) -> Iterator[list[int]]:
    """The users in batches of at most :data:`USER_CHUNK`, each ending once its users'
    rows to book reach :data:`ROW_CHUNK`."""
    batch, rows = [], 0
    for userid in userids:
        batch.append(userid)
        rows += counts[userid]
        if len(batch) == USER_CHUNK or rows >= ROW_CHUNK:
            yield batch
            batch, rows = [], 0
    if batch:
        yield batch


class Finisher:
    """Each batch's transaction on a ledger connection of its own, ended (its rollup
    summed, committed) in a thread of its own on PostgreSQL while the next batch's rows are
    booked: the database sums one batch while Python runs the model over the next. One
    batch is ended at a time; the next waits for it. Elsewhere (SQLite's writers exclude
    each other; MariaDB's locks of an INSERT ... SELECT could meet the next batch's), in
    turn."""

    def __init__(self, ledger: Engine) -> None:
        self.ledger = ledger
        self.threads = (ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-sums")
                        if ledger.dialect.name == "postgresql" else None)
        self._ending: Future | None = None

    def __enter__(self) -> Finisher:
        return self

    def __exit__(self, *raised) -> None:
        try:
            if raised[0] is None:
                self._wait()
            elif self._ending is not None:
                self._ending.exception()  # waited for; the first failure is the one raised
        finally:
            if self.threads is not None:
                self.threads.shutdown(wait=True)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection in a transaction for the next batch; rolled back if the block
        fails, else left to :meth:`finish`."""
        conn = self.ledger.connect()
        try:
            conn.begin()
            yield conn
        except BaseException:
            conn.close()
            raise

    def finish(self, conn: Connection, end: Callable[[], None]) -> None:
        """End the batch of ``conn`` with ``end``, then commit and close it: in the
        background once the batch before is ended, or at once."""
        self._wait()
        if self.threads is None:
            _ended(conn, end)
        else:
            self._ending = self.threads.submit(_ended, conn, end)

    def _wait(self) -> None:
        ending, self._ending = self._ending, None
        if ending is not None:
            ending.result()


def _ended(conn: Connection, end: Callable[[], None]) -> None:
    with conn:
        end()
        conn.commit()
