"""The use_stats time model as set-based SQL: many users' figures in one statement.

The rules of ``docs/time-model.md``, as the reference engine (``engine``)
applies them row by row, computed by the database instead: every window
function is partitioned by user, and only aggregates come back, per user,
course, course module, session and local day. Runs on SQLite 3.25+, PostgreSQL,
and MariaDB 10.11 (MySQL 8 too, but for a per-user window start; see
:func:`log_rows`).

One statement per call: a chain of CTEs, one rule each, then the union of the
aggregations over its last link.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import IntEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Row,
    Select,
    String,
    Table,
    and_,
    case,
    cast,
    column,
    func,
    literal,
    not_,
    or_,
    select,
    values,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.selectable import CTE

from .. import contexts
from . import days as local
from .engine import CourseTally, ModuleTally, Session, Tally, Usage
from .settings import TimeSettings

#: Users: ids, or a SELECT of one column of ids.
Users = Collection[int] | Select
#: A window start: the same for every user, or each user's own.
Start = int | Mapping[int, int]
#: The columns of a table, subquery or CTE.
Columns = ReadOnlyColumnCollection[str, Any]


class LogTables(Protocol):
    """The tables the model reads: a ``moodle.tables.MoodleTables`` has them."""

    log: Table
    course_modules: Table
    modules: Table


# Which rows take part

def log_rows(tables: LogTables, userids: Users, start: Start, end: int) -> Select:
    """The log rows that take part in the model ("Which log rows take part"), in no order.

    Columns: ``userid``, ``id``, ``timecreated``, ``action``, ``target``,
    ``contextlevel``, ``contextinstanceid``, ``courseid`` (0 for NULL),
    ``component``, and ``modname``: the type of the row's course module, NULL
    if it has none (or it was deleted). With a per-user ``start``, a user it
    leaves out takes no part. (Per-user starts are sent as ``VALUES``, which
    MySQL 8, unlike MariaDB, spells ``VALUES ROW``.)
    """
    log, cm, m = tables.log.c, tables.course_modules.c, tables.modules.c
    joined = tables.log.outerjoin(
        tables.course_modules, and_(log.contextlevel == contexts.MODULE, cm.id == log.contextinstanceid)
    ).outerjoin(tables.modules, m.id == cm.module)
    if isinstance(start, Mapping):
        starts = _starts(start)
        joined, since = joined.join(starts, starts.c.userid == log.userid), starts.c.start
    else:
        since = start
    return (
        select(log.userid, log.id, log.timecreated, log.action, log.target, log.contextlevel,
               log.contextinstanceid, func.coalesce(log.courseid, 0).label("courseid"),
               log.component, m.name.label("modname"))
        .select_from(joined)
        .where(
            log.userid.in_(userids if isinstance(userids, Select) else sorted(userids)),
            log.timecreated.between(since, end),
            or_(log.origin.is_(None), log.origin != "cli"),
            log.action != "failed",
            log.realuserid.is_(None),
            or_(log.courseid != 0, log.action.in_(("loggedin", "loggedout"))),
        )
    )


def _starts(starts: Mapping[int, int]) -> CTE:
    """Each user's window start, as rows ``(userid, start)``."""
    rows = values(column("userid", BigInteger), column("start", BigInteger), name="starts")
    return rows.data(sorted(starts.items())).cte("starts")


# The figures

def usage(conn: Connection, tables: LogTables, userid: int, start: int, end: int,
          settings: TimeSettings, zone: ZoneInfo | None = None) -> Usage:
    """One user's usage in the window ``[start, end]``, with days in ``zone`` if given."""
    found = usage_by_user(conn, tables, [userid], start, end, settings, zone)
    return found.get(userid, Usage(Tally(), {}, {}, []))


def usage_by_user(conn: Connection, tables: LogTables, userids: Users, start: Start, end: int,
                  settings: TimeSettings, zone: ZoneInfo | None = None) -> dict[int, Usage]:
    """Each user's usage in the window, with days in ``zone`` if given; one statement.

    ``start`` is every user's window start or, as a mapping, each user's own
    (a user it leaves out counts nothing). Users with no counted row are absent.
    """
    starts = list(start.values()) if isinstance(start, Mapping) else [start]
    if not starts or (not isinstance(userids, Select) and not userids):
        return {}
    days = _LocalDays.of(zone, min(starts), end) if zone is not None else None
    credited = _credited(tables, userids, start, end, settings, days)
    return _usages(conn.execute(_figures(credited, days)), days)


class _Rule(IntEnum):
    """The rule of "Counting" a processed row falls under."""

    LOGGEDOUT = 1
    IGNORED = 2
    CAPTURED = 3
    LOGGEDIN = 4
    OTHER = 5


def _credited(tables: LogTables, userids: Users, start: Start, end: int,
              settings: TimeSettings, days: _LocalDays | None) -> CTE:
    """Each processed row with its lap, its session and, when counted, its ``seconds`` (L)."""
    laps = _laps(_processed(tables, userids, start, end), end, settings).c
    carry = func.sum(case((laps.rule == _Rule.CAPTURED.value, laps.lap), else_=0)).over(
        partition_by=(laps.userid, laps.spender))
    seconds = case((laps.rule == _Rule.OTHER.value, laps.lap + carry),
                   (laps.rule == _Rule.LOGGEDIN.value, laps.lap))
    day = [days.key(laps.timecreated).label("day")] if days else []
    return select(laps.userid, laps.id, laps.timecreated, laps.courseid, laps.contextlevel,
                  laps.cmid, laps.label, laps.lap, laps.session, seconds.label("seconds"),
                  *day).cte("credited").prefix_with("MATERIALIZED", dialect="postgresql")


def _processed(tables: LogTables, userids: Users, start: Start, end: int) -> CTE:
    """The rows that take part, labelled, less the absorbed ones, with their neighbours' times."""
    rows = log_rows(tables, userids, start, end).subquery("taking_part").c
    ordered = select(
        rows.userid, rows.id, rows.timecreated, rows.action, rows.target, rows.courseid,
        rows.contextlevel, rows.contextinstanceid.label("cmid"), _label(rows).label("label"),
        func.row_number().over(**_by_user(rows)).label("position"),
    ).cte("ordered").c
    absorbed = and_(ordered.action == "graded", ordered.target == "user", ordered.position > 1)
    return select(
        ordered.userid, ordered.id, ordered.timecreated, ordered.action, ordered.courseid,
        ordered.contextlevel, ordered.cmid, ordered.label,
        func.lead(ordered.timecreated).over(**_by_user(ordered)).label("next_time"),
        func.lag(ordered.timecreated).over(**_by_user(ordered)).label("previous_time"),
        func.lag(ordered.action).over(**_by_user(ordered)).label("previous_action"),
    ).where(not_(absorbed)).cte("processed")


def _label(rows: Columns) -> ColumnElement[str]:
    """The row's label ("Labels"), as ``engine.label`` gives it."""
    component = case((func.substr(rows.component, 1, 4) == "mod_", func.substr(rows.component, 5)),
                     else_="unknown")
    return case(
        (rows.contextlevel == contexts.MODULE, func.coalesce(rows.modname, component)),
        (rows.contextlevel == contexts.SYSTEM,
         case((rows.action == "loggedin", "user"), else_="system")),
        (rows.contextlevel == contexts.USER, "user"),
        else_="course",
    )


def _laps(processed: CTE, end: int, settings: TimeSettings) -> CTE:
    """Each processed row's lap, rule, session number, and ``spender``.

    A row's ``spender`` is the number of barriers (counted rows and logouts)
    before it: the captured rows and the barrier that spends their carry share it.
    """
    rows, threshold, credit = processed.c, settings.threshold * 60, settings.lastpingcredit * 60
    gap = rows.next_time - rows.timecreated
    last_ping = case((end - rows.timecreated < credit, end - rows.timecreated), else_=credit)
    lap = case((or_(rows.next_time.is_(None), gap > threshold), last_ping), else_=gap)
    rule = case(
        (rows.action == "loggedout", _Rule.LOGGEDOUT.value),
        (rows.label.in_(sorted(settings.ignoremodules)), _Rule.IGNORED.value),
        (rows.label.in_(sorted(settings.capturemodules)), _Rule.CAPTURED.value),
        (rows.action == "loggedin", _Rule.LOGGEDIN.value),
        else_=_Rule.OTHER.value,
    )
    barrier = case((rule.in_((_Rule.LOGGEDOUT.value, _Rule.LOGGEDIN.value, _Rule.OTHER.value)), 1),
                   else_=0)
    starts = case((or_(rows.previous_time.is_(None), rows.timecreated - rows.previous_time > threshold,
                       rows.previous_action == "loggedout", rows.action == "loggedin"), 1),
                  else_=0)
    running = dict(**_by_user(rows), rows=(None, 0))
    return select(
        rows.userid, rows.id, rows.timecreated, rows.courseid, rows.contextlevel, rows.cmid,
        rows.label, lap.label("lap"), rule.label("rule"),
        (func.sum(barrier).over(**running) - barrier).label("spender"),
        func.sum(starts).over(**running).label("session"),
    ).cte("laps")


def _by_user(rows: Columns) -> dict:
    """The window of the model: each user's rows in (timecreated, id) order."""
    return {"partition_by": rows.userid, "order_by": (rows.timecreated, rows.id)}


# Aggregation

class _Kind(IntEnum):
    """What a row of the figures is about; they come in this order."""

    TOTAL = 1
    COURSE = 2
    MODULE = 3
    SESSION = 4
    DAY = 5
    COURSE_DAY = 6


#: Offsets that write a time and an id as digits of a fixed width, so that the largest
#: text is the latest row (times and ids are never negative).
_TIME_DIGITS, _ID_DIGITS = 10**11, 10**18


def _figures(credited: CTE, days: _LocalDays | None) -> Select:
    """Every aggregation in one pass over the credited rows, ordered by kind, user and item.

    Each row joins the kinds it counts for (its user's total, its course, its
    course module, its session, its days), so the chain of windows is computed
    once, whichever database evaluates it.
    """
    rows = credited.c
    wanted = [_Kind.TOTAL, _Kind.COURSE, _Kind.MODULE, _Kind.SESSION]
    if days:
        wanted += [_Kind.DAY, _Kind.COURSE_DAY]
    kinds = values(column("kind", Integer), name="kinds").data([(k.value,) for k in wanted]).cte("kinds")
    kind, counted = kinds.c.kind, rows.seconds.is_not(None)
    in_course = and_(counted, rows.courseid != 0)
    applies = or_(
        kind == _Kind.SESSION.value,
        and_(kind == _Kind.TOTAL.value, counted),
        and_(kind.in_((_Kind.COURSE.value, _Kind.COURSE_DAY.value)), in_course),
        and_(kind == _Kind.MODULE.value, counted, rows.contextlevel == contexts.MODULE),
        *([and_(kind == _Kind.DAY.value, counted)] if days else []),
    )
    item = case(
        (kind == _Kind.COURSE.value, rows.courseid), (kind == _Kind.MODULE.value, rows.cmid),
        (kind == _Kind.SESSION.value, rows.session),
        *([(kind.in_((_Kind.DAY.value, _Kind.COURSE_DAY.value)), rows.day)] if days else []),
    )
    courseid = case((kind == _Kind.COURSE_DAY.value, rows.courseid))
    activity = rows.contextlevel == contexts.MODULE
    text = lambda number: cast(number, String)  # noqa: E731
    latest = (text(rows.timecreated + _TIME_DIGITS) + text(rows.id + _ID_DIGITS)
              + text(rows.courseid) + text(literal("|")) + text(rows.label))
    whole = lambda number, name: cast(number, BigInteger).label(name)  # noqa: E731
    return (
        select(
            kind, rows.userid, whole(item, "item"), whole(courseid, "courseid"),
            whole(func.sum(rows.seconds), "seconds"), whole(func.count(rows.seconds), "events"),
            whole(func.min(rows.timecreated), "first"),
            whole(func.max(case((kind == _Kind.SESSION.value, rows.timecreated + rows.lap),
                                else_=rows.timecreated)), "last"),
            whole(func.sum(case((activity, rows.seconds), else_=0)), "activities"),
            whole(func.sum(case((and_(not_(activity), rows.label == "course"), rows.seconds),
                                else_=0)), "course"),
            whole(func.sum(case((and_(not_(activity), rows.label != "course"), rows.seconds),
                                else_=0)), "other"),
            func.max(case((kind == _Kind.MODULE.value, latest))).label("latest"),
        )
        .select_from(credited.join(kinds, applies))
        .group_by(kind, rows.userid, item, courseid)
        .having(func.count(rows.seconds) > 0)
        .order_by(kind, rows.userid, item)
    )


def _usages(rows: Iterable[Row], days: _LocalDays | None) -> dict[int, Usage]:
    """Each user's Usage from the rows of the figures, in their order."""
    usages: dict[int, Usage] = {}
    for row in rows:
        kind = _Kind(row.kind)
        if kind is _Kind.TOTAL:
            usages[row.userid] = Usage(_counts(Tally, row), {}, {}, [])
            continue
        usage = usages[row.userid]
        match kind:
            case _Kind.COURSE:
                usage.courses[row.item] = _counts(CourseTally, row, activities=row.activities,
                                                  course=row.course, other=row.other)
            case _Kind.MODULE:
                courseid, label = row.latest[_LATEST_DIGITS:].split("|", 1)
                usage.modules[row.item] = _counts(ModuleTally, row, courseid=int(courseid),
                                                  label=label)
            case _Kind.SESSION:
                usage.sessions.append(Session(row.first, row.last, row.seconds))
            case _Kind.DAY:
                usage.total.days[days.date(row.item)] = row.seconds
            case _Kind.COURSE_DAY:
                usage.courses[row.courseid].days[days.date(row.item)] = row.seconds
    return usages


#: The digits of the time and id that open a module's ``latest`` text.
_LATEST_DIGITS = len(str(_TIME_DIGITS)) + len(str(_ID_DIGITS))


def _counts(tally: type[Tally], row: Row, **more) -> Tally:
    return tally(seconds=row.seconds, events=row.events, first=row.first, last=row.last, **more)


# Days

@dataclass(frozen=True)
class _LocalDays:
    """Local days in a zone over a window, as SQL computes them without the zone's rules.

    The database adds to each time the zone's offset in force then (a CASE over
    the offsets ``days.offsets`` found), less ``origin`` days, which keeps local
    times positive where division and modulo truncate towards zero. A day's key
    is its local midnight, in seconds after the midnight beginning day ``origin``.
    """

    origin: int
    offsets: list[tuple[int, int]]

    @classmethod
    def of(cls, zone: ZoneInfo, start: int, end: int) -> _LocalDays:
        # two days' margin: no zone is more than a day from UTC
        return cls((start - 2 * local.DAY) // local.DAY, local.offsets(zone, start, end))

    def key(self, time: ColumnElement[int]) -> ColumnElement[int]:
        """The key of the local day of ``time``."""
        shifted = [(since, offset - self.origin * local.DAY) for since, offset in self.offsets]
        offset = case(*((time < since, before) for (since, _), (_, before) in zip(shifted[1:], shifted)),
                      else_=shifted[-1][1]) if len(shifted) > 1 else literal(shifted[0][1])
        moment = time + offset
        return moment - moment % local.DAY

    def date(self, key: int) -> date:
        """The local date of a day's key."""
        return local.date_of(self.origin + key // local.DAY)
