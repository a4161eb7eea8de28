"""The figures of booked rows, summed in the ledger database, and two parts of a window added.

Each user's booked rows in a window of their own (``[start, end]``, both included) are
summed by place (course, course module, part, label), by session and, with a zone, by
course and local day: a statement each (two for sessions), whatever the number of users.
Each reads what it reports, not the rows: the whole quarter hours of the window from
``ledger_quarter`` (for places, its whole periods of four weeks from ``ledger_period``),
the rows of the two partial quarter hours at its edges from ``ledger_row``; the sessions
wholly in the window from ``ledger_session``, the rows in it of the (at most two) it
cuts from ``ledger_row``. The ranges each statement reads are written out in it (for a
page of many users, joined from a list of values, an index range each); a statement that
writes them out is built once for their number, its values bound as it runs. A local
day is a union of quarter hours where the zone's offsets are multiples of one (and change
at one's start); elsewhere the days are summed from the rows.
Only the sums come back; they make a ``Usage`` as the engine gives it for the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache, wraps
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (BigInteger, String, Table, and_, bindparam, cast, column, false, func,
                        literal, or_, select, true, union_all, values)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause, Select

from ..timemodel.engine import CourseTally, ModuleTally, Session, Tally, Usage
from ..timemodel.sql import DayKeys, LocalDays
from . import tables
from .rollup import newest
from .tables import PARTS, QUARTER

#: Each user's window: ``(start, end)``, both included.
Windows = Mapping[int, tuple[int, int]]


#: Ranges of time of users: ``(userid, low, high)``, bounds included.
Ranges = list[tuple[int, int, int]]
#: A condition on a table's row (its columns) and a row of values (by name).
Condition = Callable[[Any, Any], ColumnElement[bool]]
#: Users whose ranges a statement writes out; more are joined from a list of values.
WRITTEN_OUT = 20
#: Ranges as a statement reads them: their number where it writes them out (their values
#: bound as it runs), else the ranges themselves, joined from a list of values.
Shape = int | tuple[tuple, ...]
#: The site whose rows a statement reads.
_SITE = bindparam("site", type_=BigInteger)


@dataclass(frozen=True)
class _Asked:
    """The users' windows cut as the statements read them: ``windows`` whole, their whole
    ``quarters`` and the rows outside them (``edges``); for places, their whole ``periods``
    and the quarters outside those (``between``)."""

    windows: Ranges
    quarters: Ranges
    edges: Ranges
    periods: Ranges
    between: Ranges


def booked_usage(ledger: Connection, site: int, windows: Windows,
                 zone: ZoneInfo | None = None) -> dict[int, Usage]:
    """Each user's usage over their booked rows in their window, with days in ``zone`` if
    given; users with no counted row are absent."""
    windows = {userid: bounds for userid, bounds in windows.items() if bounds[0] <= bounds[1]}
    if not windows:
        return {}
    asked = _asked(windows)
    usages = _places(ledger, site, asked)
    for userid, session in _sessions(ledger, site, asked):
        usages[userid].sessions.append(session)
    if zone is not None:
        days = LocalDays.of(zone, min(s for s, _ in windows.values()),
                            max(e for _, e in windows.values()))
        by_quarter = asked if _in_quarters(days) else _asked(windows, quarters=False)
        for userid, courseid, day, seconds in _days(ledger, site, by_quarter, days):
            usage = usages[userid]
            _book(usage.total.days, day, seconds)
            if courseid:
                _book(usage.courses[courseid].days, day, seconds)
    return usages


def _asked(windows: Windows, quarters: bool = True) -> _Asked:
    """The windows, their whole quarter hours (none unless ``quarters``) and periods, and
    what lies between."""
    whole, edges, periods, between = [], [], [], []
    for userid, (low, high) in sorted(windows.items()):
        first, after = _inner(low, high, QUARTER)
        if not quarters or first >= after:
            edges.append((userid, low, high))
            continue
        whole.append((userid, first, after - QUARTER))
        edges += _outer(userid, low, high, first, after)
        start, end = _inner(first, after - 1, tables.PERIOD)
        if start < end:
            periods.append((userid, start, end - tables.PERIOD))
            between += [(u, a, b - QUARTER + 1) for u, a, b in
                        _outer(userid, first, after - 1, start, end)]
        else:
            between.append((userid, first, after - QUARTER))
    return _Asked([(u, low, high) for u, (low, high) in sorted(windows.items())], whole, edges,
                  periods, between)


def _inner(low: int, high: int, span: int) -> tuple[int, int]:
    """The first and the after-last of the spans wholly in ``[low, high]`` (first >= after:
    none)."""
    return -(-low // span) * span, (high + 1) // span * span


def _outer(userid: int, low: int, high: int, first: int, after: int) -> Ranges:
    """The parts of ``[low, high]`` before ``first`` and from ``after`` on, if not empty."""
    return [(userid, a, b) for a, b in ((low, first - 1), (after, high)) if a <= b]


def _in_quarters(days: LocalDays) -> bool:
    """Whether every local day of ``days`` is a union of quarter hours: each offset a
    multiple of one, each change of offset at the start of one."""
    return all(offset % QUARTER == 0 for _, offset in days.offsets) and all(
        since % QUARTER == 0 for since, _ in days.offsets[1:])


def _value(name: str) -> ColumnElement[int]:
    """A number written out in the statement as it runs: the database, which cannot tell how
    narrow ranges joined from a list of values are, plans for the ranges it reads (through
    its indexes on (site, userid, time))."""
    return bindparam(name, type_=BigInteger, literal_execute=True)


def _shape(rows: Ranges | list[tuple]) -> Shape:
    """How a statement reads ``rows``: written out up to :data:`WRITTEN_OUT`, else listed."""
    return len(rows) if len(rows) <= WRITTEN_OUT else tuple(rows)


def _bound(name: str, rows: Ranges | list[tuple],
           names: tuple[str, ...] = ("userid", "low", "high")) -> dict[str, int | None]:
    """The values a statement binds for ``rows`` (read as ``name``) it writes out."""
    if len(rows) > WRITTEN_OUT:
        return {}
    return {f"{name}_{i}_{n}": value for i, row in enumerate(rows)
            for n, value in zip(names, row)}


def _kept(build: Callable[..., Select]) -> Callable[..., Select]:
    """``build``, its statements kept for the next with the same arguments, but for those
    that list ranges (a page of many users): building one costs as much as a light call's
    statements take to run."""
    kept = lru_cache(maxsize=256)(build)

    @wraps(build)
    def statement(*arguments):
        return (build if any(isinstance(a, tuple) for a in arguments) else kept)(*arguments)
    return statement


def _any(conditions) -> ColumnElement[bool]:
    return or_(false(), *conditions)


def _read(table: Table, rows: Shape, condition: Condition, name: str,
          names: tuple[str, ...] = ("userid", "low", "high")) -> tuple[FromClause,
                                                                        ColumnElement[bool]]:
    """What a statement reads of ``table``: the site's rows of each user of ``rows`` (a
    user first, then values named ``names``) that meet ``condition`` with one of that user's
    rows, as a FROM and a WHERE. Rows written out are bound as ``name_<i>_<name>``
    (:func:`_bound`); listed, they are joined from a list of values (``name``), read an
    index range each."""
    c = table.c
    if isinstance(rows, int):
        return table, and_(c.site == _SITE, _any(
            and_(c.userid == _value(f"{name}_{i}_userid"),
                 condition(c, SimpleNamespace(**{n: _value(f"{name}_{i}_{n}") for n in names})))
            for i in range(rows)))
    listed = values(*(column(n, BigInteger) for n in names), name=name).data(rows).cte(name)
    return listed.join(table, and_(c.site == _SITE, c.userid == listed.c.userid,
                                   condition(c, listed.c))), true()


def _in_range(time: str) -> Condition:
    """Rows whose ``time`` lies in the range ``[low, high]``."""
    return lambda c, v: and_(c[time] >= v.low, c[time] <= v.high)


def _places(ledger: Connection, site: int, asked: _Asked) -> dict[int, Usage]:
    """The counted rows summed by course, course module, part and label: the total, the
    courses and the modules (each with the course and label of its latest row)."""
    query = _places_query(_shape(asked.edges), _shape(asked.between), _shape(asked.periods))
    bound = {"site": site, **_bound("edges", asked.edges), **_bound("between", asked.between),
             **_bound("periods", asked.periods)}
    usages: dict[int, Usage] = {}
    latest_of: dict[tuple[int, int], str] = {}
    for userid, courseid, cmid, part, label, seconds, events, first, last, latest in (
            ledger.execute(query, bound)):
        usage = usages.setdefault(userid, Usage(Tally(), {}, {}, []))
        counted = Tally(int(seconds), int(events), first, last)
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
            if latest > latest_of.get((userid, cmid), ""):
                latest_of[userid, cmid] = latest
                module.courseid, module.label = courseid, label
    return usages


@_kept
def _places_query(edges: Shape, between: Shape, periods: Shape) -> Select:
    """The sums by place of the rows at the windows' edges, of their quarter hours between
    their periods, and of their periods."""
    r = tables.row.c
    rows, rows_in = _read(tables.row, edges, _in_range("timecreated"), "edges")
    at_edges = (select(r.userid, r.courseid, r.cmid, r.part, r.label, r.seconds,
                       literal(1).label("events"), r.timecreated.label("first"),
                       r.timecreated.label("last"), newest(r).label("newest"))
                .select_from(rows).where(rows_in, r.seconds.is_not(None)))
    summed = []
    for t, ranges, name in ((tables.quarter, between, "between"),
                            (tables.period, periods, "periods")):
        sums, sums_in = _read(t, ranges, _in_range("bucket"), name)
        # cast as the rows' newest is: MariaDB refuses a UNION of a table's collation and
        # the connection's
        summed.append(select(t.c.userid, t.c.courseid, t.c.cmid, t.c.part, t.c.label,
                             t.c.seconds, t.c.events, t.c.first, t.c.last,
                             cast(t.c.newest, String)).select_from(sums).where(sums_in))
    parts = union_all(at_edges, *summed).subquery("parts").c
    keys = (parts.userid, parts.courseid, parts.cmid, parts.part, parts.label)
    return (select(*keys, func.sum(parts.seconds), func.sum(parts.events), func.min(parts.first),
                   func.max(parts.last), func.max(parts.newest))
            .group_by(*keys))


def _sessions(ledger: Connection, site: int, asked: _Asked) -> list[tuple[int, Session]]:
    """The part in the window of each session with a counted row, in the log's order: the
    sessions wholly in it as booked, the parts of those it cuts (read first: at most two a
    user) from their rows."""
    bound = {"site": site, **_bound("windows", asked.windows)}
    cut = ledger.execute(_cut_query(_shape(asked.windows)), bound).all()
    window = {u: (low, high) for u, low, high in asked.windows}
    parts = [(u, session, session_row, max(start, window[u][0]), min(last, window[u][1]))
             for u, session, session_row, start, last in cut]
    query = _sessions_query(_shape(asked.windows), _shape(parts))
    return [(userid, Session(start, end, int(seconds))) for userid, start, end, seconds in
            ledger.execute(query, bound | _bound("cut", parts, _CUT))]


#: The values of the part of a session a window cuts.
_CUT = ("userid", "session", "first", "low", "high")


@_kept
def _cut_query(windows: Shape) -> Select:
    """The sessions the windows cut."""
    s = tables.session.c
    cutting, cuts = _read(tables.session, windows, lambda c, v: and_(
        c.start <= v.high, c.last >= v.low, or_(c.start < v.low, c.last > v.high)), "windows")
    return select(s.userid, s.session, s.session_row, s.start, s.last).select_from(
        cutting).where(cuts)


@_kept
def _sessions_query(windows: Shape, cut: Shape) -> Select:
    """The sessions wholly in the windows, and the parts in them of those they cut."""
    s, r = tables.session.c, tables.row.c
    wholly, whole_in = _read(tables.session, windows, lambda c, v: and_(
        c.session >= v.low, c.session <= v.high, c.last <= v.high), "windows")
    whole = (select(s.userid, s.session, s.session_row, s.start, s.end, s.seconds)
             .select_from(wholly).where(whole_in, s.events > 0))
    first_row = func.coalesce(r.session_row, 0)
    rows, rows_in = _read(
        tables.row, cut,
        lambda c, v: and_(c.session == v.session, func.coalesce(c.session_row, 0) == v.first,
                          c.timecreated >= v.low, c.timecreated <= v.high),
        "cut", _CUT)
    parts = (select(r.userid, r.session, first_row, func.min(r.timecreated),
                    func.max(r.timecreated + r.lap), func.sum(r.seconds))
             .select_from(rows).where(rows_in)
             .group_by(r.userid, r.session, first_row)
             .having(func.count(r.seconds) > 0))
    both = union_all(whole, parts).subquery("sessions").c
    return (select(both.userid, both.start, both.end, both.seconds)
            .order_by(both.userid, both.session, both.session_row))


def _days(ledger: Connection, site: int, asked: _Asked, days: LocalDays):
    """The counted seconds by user, course and local day: each quarter hour's to the day
    of its start."""
    query = _days_query(_shape(asked.edges), _shape(asked.quarters), days.keys)
    bound = {"site": site, **_bound("edges", asked.edges), **_bound("quarters", asked.quarters),
             **days.bound()}
    for userid, courseid, key, seconds in ledger.execute(query, bound):
        yield userid, courseid, days.date(int(key)), int(seconds)


@_kept
def _days_query(edges: Shape, quarters: Shape, days: DayKeys) -> Select:
    """The sums by local day of the rows at the windows' edges and of their quarter hours."""
    r, q = tables.row.c, tables.quarter.c
    rows, rows_in = _read(tables.row, edges, _in_range("timecreated"), "edges")
    at_edges = (select(r.userid, r.courseid, days.key(r.timecreated).label("day"), r.seconds)
                .select_from(rows).where(rows_in, r.seconds.is_not(None)))
    sums, sums_in = _read(tables.quarter, quarters, _in_range("bucket"), "quarters")
    whole = (select(q.userid, q.courseid, days.key(q.bucket).label("day"), q.seconds)
             .select_from(sums).where(sums_in))
    parts = union_all(at_edges, whole).subquery("counted").c
    return (select(parts.userid, parts.courseid, parts.day, func.sum(parts.seconds))
            .group_by(parts.userid, parts.courseid, parts.day))


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
