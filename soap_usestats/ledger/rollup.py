"""The rollup of ``ledger_row``: quarter hours, periods and sessions (``ledger_quarter``,
``ledger_period``, ``ledger_session``), summed in the ledger database by INSERT ...
SELECT, never row by row.

:func:`refresh` follows users' rebooking, each from a time on: the quarter hours from the
one holding that time (from the rows), the periods from the one holding it (from the
quarter hours), and the sessions from the first that reaches it, are summed again.
:func:`fill` sums every site's from nothing (a new ledger revision).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from sqlalchemy import (String, Table, and_, case, cast, delete, false, func, insert, or_, select,
                        true)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from . import tables
from .tables import QUARTER

#: Offsets that write a time and an id as digits of a fixed width, so that the largest
#: text is the latest row (times and ids are never negative).
TIME_DIGITS, ID_DIGITS = 10**11, 10**18


def bucket_of(time: int, span: int = QUARTER) -> int:
    """The start of the quarter hour (or other ``span``) that holds ``time``."""
    return time - time % span


def newest(r) -> ColumnElement:
    """A course module row's time and log id as text that sorts as they do (NULL for other
    rows): the largest is the module's latest row."""
    text = lambda number: cast(number, String)  # noqa: E731
    return case((r.cmid.is_not(None), text(r.timecreated + TIME_DIGITS)
                 + text(r.logid + ID_DIGITS)))


def refresh(ledger: Connection, site: int, since: Mapping[int, int],
            fresh: Collection[int] = ()) -> None:
    """Sum again each user's quarter hours, periods and sessions that their rows from their
    time in ``since`` on reach: a statement each for all the users. The users in ``fresh``
    had no bookings before: they have no sums to delete, and their first session begins at
    their time."""
    if not since:
        return
    r, q, p, s = tables.row.c, tables.quarter.c, tables.period.c, tables.session.c
    before = {userid: time for userid, time in since.items() if userid not in fresh}
    quarters = {userid: bucket_of(time) for userid, time in since.items()}
    _clear(ledger, tables.quarter, site, q.bucket, {u: quarters[u] for u in before})
    ledger.execute(_fill_quarters(and_(r.site == site,
                                       each_from(r.userid, r.timecreated, quarters))))
    periods = {userid: bucket_of(time, tables.PERIOD) for userid, time in since.items()}
    _clear(ledger, tables.period, site, p.bucket, {u: periods[u] for u in before})
    ledger.execute(_fill_periods(and_(q.site == site, each_from(q.userid, q.bucket, periods))))
    first = {userid: time for userid, time in since.items() if userid in fresh}
    for reached in (select(r.userid, func.min(r.session)).group_by(r.userid)
                    .where(r.site == site, each_from(r.userid, r.timecreated, before)),
                    select(s.userid, func.min(s.session)).group_by(s.userid)
                    .where(s.site == site, each_from(s.userid, s.last, before))):
        for userid, time in (ledger.execute(reached) if before else ()):
            first[userid] = min(time, first.get(userid, time))
    if not first:
        return
    _clear(ledger, tables.session, site, s.session, {u: first[u] for u in before if u in first})
    ledger.execute(_fill_sessions(and_(r.site == site, each_from(r.userid, r.timecreated, first),
                                       each_from(r.userid, r.session, first))))


def _clear(ledger: Connection, table: Table, site: int, time: ColumnElement[int],
           since: Mapping[int, int]) -> None:
    """Delete the sums of the users of ``since`` from each one's time on."""
    if since:
        ledger.execute(delete(table).where(table.c.site == site,
                                           each_from(table.c.userid, time, since)))


def each_from(userid: ColumnElement[int], time: ColumnElement[int],
              since: Mapping[int, int]) -> ColumnElement[bool]:
    """The rows of the users of ``since``, each from their own time on."""
    return or_(false(), *(and_(userid == user, time >= at) for user, at in sorted(since.items())))


def fill(ledger: Connection) -> None:
    """Sum every booked row into quarter hours, periods and sessions (the tables empty)."""
    ledger.execute(_fill_quarters(true()))
    ledger.execute(_fill_periods(true()))
    ledger.execute(_fill_sessions(true()))


def _fill_quarters(rows: ColumnElement[bool]):
    r = tables.row.c
    bucket = (r.timecreated - r.timecreated % QUARTER).label("bucket")
    keys = (r.site, r.userid, bucket, r.courseid, r.cmid, r.part, r.label)
    summed = (select(*keys, func.sum(r.seconds), func.count(), func.min(r.timecreated),
                     func.max(r.timecreated), func.max(newest(r)))
              .where(rows, r.seconds.is_not(None)).group_by(*keys))
    q = tables.quarter.c
    return insert(tables.quarter).from_select(
        [q.site, q.userid, q.bucket, q.courseid, q.cmid, q.part, q.label, q.seconds, q.events,
         q.first, q.last, q.newest], summed)


def _fill_periods(quarters: ColumnElement[bool]):
    q = tables.quarter.c
    bucket = (q.bucket - q.bucket % tables.PERIOD).label("bucket")
    keys = (q.site, q.userid, bucket, q.courseid, q.cmid, q.part, q.label)
    summed = (select(*keys, func.sum(q.seconds), func.sum(q.events), func.min(q.first),
                     func.max(q.last), func.max(q.newest))
              .where(quarters).group_by(*keys))
    p = tables.period.c
    return insert(tables.period).from_select(
        [p.site, p.userid, p.bucket, p.courseid, p.cmid, p.part, p.label, p.seconds, p.events,
         p.first, p.last, p.newest], summed)


def _fill_sessions(rows: ColumnElement[bool]):
    r = tables.row.c
    first_row = func.coalesce(r.session_row, 0)
    keys = (r.site, r.userid, r.session, first_row)
    summed = (select(*keys, func.min(r.timecreated), func.max(r.timecreated),
                     func.max(r.timecreated + r.lap), func.coalesce(func.sum(r.seconds), 0),
                     func.count(r.seconds))
              .where(rows).group_by(*keys))
    s = tables.session.c
    return insert(tables.session).from_select(
        [s.site, s.userid, s.session, s.session_row, s.start, s.last, s.end, s.seconds,
         s.events], summed)
