"""The figures of booked rows, summed in the ledger database, and two parts of a window added.

Each user's booked rows in a window of their own (``[start, end]``, both included) are
summed by place (course, course module, part, label), by session and, with a zone, by
course and local day: a statement each, whatever the number of users. Only the sums
come back; they make a ``Usage`` as the engine gives it for the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, String, and_, case, cast, column, func, select, values
from sqlalchemy.engine import Connection
from sqlalchemy.sql.selectable import CTE

from ..timemodel.engine import CourseTally, ModuleTally, Session, Tally, Usage
from ..timemodel.sql import LocalDays
from . import tables
from .tables import PARTS

#: Each user's window: ``(start, end)``, both included.
Windows = Mapping[int, tuple[int, int]]
#: Offsets that write a time and an id as digits of a fixed width, so that the largest
#: text is the latest row (times and ids are never negative).
_TIME_DIGITS, _ID_DIGITS = 10**11, 10**18


def booked_usage(ledger: Connection, site: int, windows: Windows,
                 zone: ZoneInfo | None = None) -> dict[int, Usage]:
    """Each user's usage over their booked rows in their window, with days in ``zone`` if
    given; users with no counted row are absent."""
    windows = {userid: bounds for userid, bounds in windows.items() if bounds[0] <= bounds[1]}
    if not windows:
        return {}
    asked = _windows(windows)
    usages = _places(ledger, site, asked)
    for userid, session in _sessions(ledger, site, asked):
        usages[userid].sessions.append(session)
    if zone is not None:
        days = LocalDays.of(zone, min(s for s, _ in windows.values()),
                            max(e for _, e in windows.values()))
        for userid, courseid, day, seconds in _days(ledger, site, asked, days):
            usage = usages[userid]
            _book(usage.total.days, day, seconds)
            if courseid:
                _book(usage.courses[courseid].days, day, seconds)
    return usages


def _windows(windows: Windows) -> CTE:
    rows = values(column("userid", BigInteger), column("low", BigInteger),
                  column("high", BigInteger), name="asked")
    return rows.data([(userid, low, high) for userid, (low, high) in sorted(windows.items())]
                     ).cte("asked")


def _in_windows(asked: CTE, site: int):
    """The booked rows of the asked users, each in the user's window."""
    r, w = tables.row.c, asked.c
    return tables.row.join(asked, and_(r.site == site, r.userid == w.userid,
                                       r.timecreated >= w.low, r.timecreated <= w.high))


def _places(ledger: Connection, site: int, asked: CTE) -> dict[int, Usage]:
    """The counted rows summed by course, course module, part and label: the total, the
    courses and the modules (each with the course and label of its latest row)."""
    r = tables.row.c
    text = lambda number: cast(number, String)  # noqa: E731
    latest = case((r.cmid.is_not(None), text(r.timecreated + _TIME_DIGITS)
                   + text(r.logid + _ID_DIGITS)))
    keys = (r.userid, r.courseid, r.cmid, r.part, r.label)
    query = (select(*keys, func.sum(r.seconds), func.count(), func.min(r.timecreated),
                    func.max(r.timecreated), func.max(latest))
             .select_from(_in_windows(asked, site)).where(r.seconds.is_not(None))
             .group_by(*keys))
    usages: dict[int, Usage] = {}
    latest_of: dict[tuple[int, int], str] = {}
    for userid, courseid, cmid, part, label, seconds, events, first, last, newest in (
            ledger.execute(query)):
        usage = usages.setdefault(userid, Usage(Tally(), {}, {}, []))
        counted = Tally(int(seconds), events, first, last)
        _add(usage.total, counted)
        if courseid:
            course = usage.courses.setdefault(courseid, CourseTally())
            _add(course, counted)
            course.activities += counted.seconds if part == PARTS["activities"] else 0
            course.course += counted.seconds if part == PARTS["course"] else 0
            course.other += counted.seconds if part == PARTS["other"] else 0
        if cmid is not None:
            module = usage.modules.setdefault(cmid, ModuleTally())
            _add(module, counted)
            if newest > latest_of.get((userid, cmid), ""):
                latest_of[userid, cmid] = newest
                module.courseid, module.label = courseid, label
    return usages


def _sessions(ledger: Connection, site: int, asked: CTE) -> list[tuple[int, Session]]:
    """The part in the window of each session with a counted row, in the log's order."""
    r = tables.row.c
    rows = (select(r.userid, r.session, func.coalesce(r.session_row, 0).label("first_row"),
                   r.timecreated, r.lap, r.seconds)
            .select_from(_in_windows(asked, site)).subquery("in_sessions").c)
    query = (select(rows.userid, func.min(rows.timecreated),
                    func.max(rows.timecreated + rows.lap), func.sum(rows.seconds))
             .group_by(rows.userid, rows.session, rows.first_row)
             .having(func.count(rows.seconds) > 0)
             .order_by(rows.userid, rows.session, rows.first_row))
    return [(userid, Session(start, end, int(seconds)))
            for userid, start, end, seconds in ledger.execute(query)]


def _days(ledger: Connection, site: int, asked: CTE, days: LocalDays):
    """The counted seconds by user, course and local day."""
    r = tables.row.c
    rows = (select(r.userid, r.courseid, days.key(r.timecreated).label("day"), r.seconds)
            .select_from(_in_windows(asked, site)).where(r.seconds.is_not(None))
            .subquery("counted").c)
    query = (select(rows.userid, rows.courseid, rows.day, func.sum(rows.seconds))
             .group_by(rows.userid, rows.courseid, rows.day))
    for userid, courseid, key, seconds in ledger.execute(query):
        yield userid, courseid, days.date(int(key)), int(seconds)


def added(earlier: Usage, later: Usage) -> Usage:
    """The usage of two parts of a window, ``earlier``'s rows all before ``later``'s: the
    tallies summed, a module's course and label those of its latest row, the sessions
    one after the other (no session runs over from one part into the other)."""
    courses = {c: _copy(t) for c, t in earlier.courses.items()}
    for courseid, tally in later.courses.items():
        if courseid in courses:
            course = courses[courseid]
            _add(course, tally)
            course.activities += tally.activities
            course.course += tally.course
            course.other += tally.other
        else:
            courses[courseid] = _copy(tally)
    modules = {m: _copy(t) for m, t in earlier.modules.items()}
    for cmid, tally in later.modules.items():
        if cmid in modules:
            _add(modules[cmid], tally)
            modules[cmid].courseid, modules[cmid].label = tally.courseid, tally.label
        else:
            modules[cmid] = _copy(tally)
    total = _copy(earlier.total)
    _add(total, later.total)
    return Usage(total, courses, modules, earlier.sessions + later.sessions)


def _copy(tally: Tally) -> Tally:
    return replace(tally, days=dict(tally.days))


def _add(tally: Tally, more: Tally) -> None:
    """Add ``more``'s counts and days to ``tally``."""
    tally.seconds += more.seconds
    tally.events += more.events
    tally.first = min((t for t in (tally.first, more.first) if t is not None), default=None)
    tally.last = max((t for t in (tally.last, more.last) if t is not None), default=None)
    for day, seconds in more.days.items():
        _book(tally.days, day, seconds)


def _book(days: dict[date, int], day: date, seconds: int) -> None:
    """Book seconds to a day; a day is reported once booked, even with 0 seconds."""
    days[day] = days.get(day, 0) + seconds
