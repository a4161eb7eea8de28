"""What a change of a site's settings leaves booked under the old ones (``ledger_kept``).

A change books the log again under the new settings; the rows the log no longer holds
(Moodle purged them, ``loglifetime``) keep the bookings they had. At the change, the rows
older than the log's oldest row that takes part are counted (but those an earlier change
kept already, older than its ``log_from``) and recorded with the settings they were booked
under, for ``check`` to name. Counting reads the site's rows once, as the pass that
follows the change books them all again. Rows deleted out of the order of time (a user's
rows, by a privacy request) keep their bookings too, uncounted.
"""

from __future__ import annotations

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection, Row

from . import tables


def record(ledger: Connection, site: Row, log_from: int | None, now: int) -> None:
    """At the change of ``site``'s settings (its row as it was), record the rows it keeps:
    those older than ``log_from``, the time of the log's oldest row (None: the log holds
    none, and every row is kept)."""
    r, k = tables.row.c, tables.kept.c
    log_from = now if log_from is None else log_from
    counted = select(func.count()).where(r.site == site.id, r.timecreated < log_from)
    earlier = ledger.scalar(select(func.max(k.log_from)).where(k.site == site.id))
    if earlier is not None:
        counted = counted.where(r.timecreated >= earlier)
    if rows := ledger.scalar(counted):
        ledger.execute(insert(tables.kept).values(site=site.id, settings=site.settings,
                                                  log_from=log_from, rows_kept=rows,
                                                  changed=now))


def records(ledger: Connection, site: int) -> list[Row]:
    """The site's records, the oldest rows first."""
    k = tables.kept.c
    return ledger.execute(select(tables.kept).where(k.site == site)
                          .order_by(k.log_from)).all()
