"""The use_stats time model as set-based SQL: many users' figures in one statement.

The rules of ``docs/time-model.md``, as the reference engine (``engine``)
applies them row by row, computed by the database instead: the window functions
are partitioned by user (when there are several), and only aggregates come
back, per user, course, course module, session and local day. Runs on SQLite
3.25+, PostgreSQL, and MariaDB 10.11 (MySQL 8 too, but for a per-user window
start; see :func:`log_rows`).

A window reports its counted rows with the seconds the user's whole log gives
them, and reads outside itself only what decides those seconds, found by the
same indexed lookups (user and time range) as its own rows:

- after its end, the look-ahead: the rows within ``threshold`` (only a next row
  that close changes a lap), or every later row while the request's time is
  within ``lastpingcredit`` of the end (the latest row's lap grows until then);
- before its start, the reach: each user's rows back to the last one that reset
  the carry, found by spans growing back from the start (:data:`LOOK_BACK`), a
  statement per span for every user still looking (:func:`reach`).

Then one statement per call: a chain of CTEs, one rule each, through which only
numbers go (the sorts and temporary tables stay narrow); the rows of the window
summed by piece; the pieces added up into figures. For a list of ids and one
window start the statements are built once, with them as parameters.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import IntEnum
from functools import lru_cache
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
    bindparam,
    case,
    cast,
    column,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
    values,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.selectable import CTE, FromClause, Join, Subquery

from .. import contexts
from . import days as local
from .engine import CourseTally, ModuleTally, Session, Tally, Usage
from .settings import TimeSettings

#: Users: ids, or a SELECT of one column of ids.
Users = Collection[int] | Select
#: A window start: the same for every user, or each user's own.
Start = int | Mapping[int, int]
#: How far the reach looks back from a window start, span after span (seconds): a day,
#: four weeks, a year; then the rest of the log.
LOOK_BACK = (86400, 28 * 86400, 366 * 86400)
#: The spans of the reach: ``(near, far)``, the rows from ``start - far`` up to (not at)
#: ``start - near``; the last has no far end.
_SPANS: tuple[tuple[int, int | None], ...] = tuple(zip((0, *LOOK_BACK), (*LOOK_BACK, None)))
#: A time after every log row: the end of a look-ahead that must see every later row.
_LAST_TIME = 2**62
#: The parameters of the statements for a list of ids and one window start, which are
#: built once for each kind of call, and compiled once (SQLAlchemy's cache).
_USERIDS = bindparam("userids", expanding=True)
#: The users whose reach ended in each span (group 0: who have no row before the start),
#: and the time their rows are read from.
_GROUPS = tuple((bindparam(f"group{group}", expanding=True),
                 bindparam(f"since{group}", type_=BigInteger)) for group in range(len(_SPANS) + 1))
_START, _END = bindparam("start", type_=BigInteger), bindparam("end", type_=BigInteger)
_AHEAD, _NOW = bindparam("ahead", type_=BigInteger), bindparam("now", type_=BigInteger)
_NEAR, _FAR = bindparam("near", type_=BigInteger), bindparam("far", type_=BigInteger)
#: The columns of a table, subquery or CTE.
Columns = ReadOnlyColumnCollection[str, Any]


class LogTables(Protocol):
    """The tables the model reads: a ``moodle.tables.MoodleTables`` has them."""

    log: Table
    course_modules: Table
    modules: Table


# Which rows take part

def log_rows(tables: LogTables, userids: Users | BindParameter | None,
             start: Start | BindParameter, end: int | BindParameter) -> Select:
    """The log rows that take part in the model ("Which log rows take part") with
    ``timecreated`` in ``[start, end]``, in no order, of ``userids`` (None: every user).

    Columns: ``userid``, ``id``, ``timecreated``, ``action``, ``target``,
    ``contextlevel``, ``contextinstanceid``, ``courseid`` (0 for NULL),
    ``component``, and ``modname``: the type of the row's course module, NULL
    if it has none (or it was deleted). With a per-user ``start``, a user it
    leaves out takes no part. (Per-user starts are sent as ``VALUES``, which
    MySQL 8, unlike MariaDB, spells ``VALUES ROW``.)
    """
    starts = _Starts.of(start)
    log = tables.log.c
    rows = (select(*_row_columns(tables))
            .select_from(starts.joined(_log_with_module_types(tables), log.userid))
            .where(log.timecreated.between(starts.start, end), *takes_part(tables)))
    if userids is None:
        return rows
    return rows.where(log.userid.in_(userids if isinstance(userids, Select | BindParameter)
                                     else sorted(userids)))


def _row_columns(tables: LogTables) -> list[ColumnElement]:
    """The columns of :func:`log_rows`."""
    log, m = tables.log.c, tables.modules.c
    return [log.userid, log.id, log.timecreated, log.action, log.target, log.contextlevel,
            log.contextinstanceid, func.coalesce(log.courseid, 0).label("courseid"),
            log.component, m.name.label("modname")]


def takes_part(tables: LogTables) -> list[ColumnElement[bool]]:
    """The conditions of "Which log rows take part", but for the user and the time."""
    log = tables.log.c
    return [or_(log.origin.is_(None), log.origin != "cli"), log.action != "failed",
            log.realuserid.is_(None),
            or_(log.courseid != 0, log.action.in_(("loggedin", "loggedout")))]


def _log_with_module_types(tables: LogTables) -> Join:
    return _with_module_types(tables.log, tables.course_modules, tables.modules)


def _with_module_types(rows: FromClause, cm: FromClause, m: FromClause,
                       log: FromClause | None = None) -> Join:
    """Log rows (``rows``; of ``log``, when joined to others) with, for a row in a course
    module, that module (``cm``) and its type (``m``)."""
    log = rows if log is None else log
    in_module = and_(log.c.contextlevel == contexts.MODULE, cm.c.id == log.c.contextinstanceid)
    return rows.outerjoin(cm, in_module).outerjoin(m, m.c.id == cm.c.module)


@dataclass(frozen=True)
class _Starts:
    """Each user's window start as a statement reads it: a parameter (or a number) for
    every user, or each user's own, as rows ``(userid, start)`` joined to the log."""

    start: ColumnElement[int]
    rows: CTE | None = None

    @classmethod
    def of(cls, start: Start | BindParameter) -> _Starts:
        if not isinstance(start, Mapping):
            return cls(start if isinstance(start, BindParameter) else literal(start, BigInteger))
        rows = values(column("userid", BigInteger), column("start", BigInteger), name="starts")
        starts = rows.data(sorted(start.items())).cte("starts")
        return cls(starts.c.start, starts)

    def joined(self, source: FromClause, userid: ColumnElement[int]) -> FromClause:
        """``source`` with the start of the user of each row, when users have their own."""
        return source if self.rows is None else source.join(self.rows, self.rows.c.userid == userid)


# The figures

def usage(conn: Connection, tables: LogTables, userid: int, start: int, end: int,
          settings: TimeSettings, zone: ZoneInfo | None = None, *, now: int) -> Usage:
    """One user's usage in the window ``[start, end]`` asked at the time ``now``, with days
    in ``zone`` if given."""
    found = usage_by_user(conn, tables, [userid], start, end, settings, zone, now=now)
    return found.get(userid, Usage(Tally(), {}, {}, []))


def usage_by_user(conn: Connection, tables: LogTables, userids: Users, start: Start, end: int,
                  settings: TimeSettings, zone: ZoneInfo | None = None, *,
                  now: int) -> dict[int, Usage]:
    """Each user's usage in the window asked at the time ``now``, with days in ``zone`` if
    given: a bounded number of statements, whatever the number of users.

    ``start`` is every user's window start or, as a mapping, each user's own
    (a user it leaves out counts nothing). Users with no counted row are absent.
    """
    if isinstance(userids, Select):
        userids = list(conn.scalars(userids))
    if isinstance(start, Mapping):
        userids = [userid for userid in userids if userid in start]
    if not userids:
        return {}
    reaches = reach(conn, tables, sorted(set(userids)), start, settings)
    groups = tuple(sorted({group for group, _ in reaches.values()}))
    starts = list(start.values()) if isinstance(start, Mapping) else [start]
    days = LocalDays.of(zone, min(starts), end) if zone is not None else None
    parameters = {"end": end, "now": now, "ahead": _look_ahead(end, now, settings),
                  **(days.bound() if days else {})}
    keys = days.keys if days else None
    for group in groups:
        members = {userid: since for userid, (of, since) in reaches.items() if of == group}
        parameters |= {f"group{group}": sorted(members), f"since{group}": min(members.values())}
    if isinstance(start, Mapping):
        statement = _statement(tables, _Starts.of(start), groups, settings, True, keys)
    else:
        statement = _built(tables, len(reaches) > 1, groups, settings, keys)
        parameters["start"] = start
    return _usages(conn.execute(statement, parameters), days)


def _look_ahead(end: int, now: int, settings: TimeSettings) -> int:
    """The last time after the window whose rows can change the laps of the window's rows.

    A next row more than ``threshold`` after a row leaves it the credit, as
    having none does, once ``now`` is the credit past it: then the rows within
    ``threshold`` of the end suffice; else every later row counts (a row stamped
    in the future included).
    """
    if now - end >= settings.lastpingcredit * 60:
        return end + settings.threshold * 60
    return _LAST_TIME


def reach(conn: Connection, tables: LogTables, userids: list[int], start: Start,
           settings: TimeSettings) -> dict[int, tuple[int, int]]:
    """Each user's reach: the rows before its window start that decide the window's
    seconds, as the span it ended in (its group; 0 for none) and the time it begins.

    Those are the rows back to the latest that resets the carry (a login, a
    logout, a counted row; an absorbed row never does), or the whole log before
    the start when none does. Span after span back from the start, one statement
    asks, for every user still looking, for the latest such row in the span and
    the earliest row; it stops once no user is looking, or no log row is older
    than the span.
    """
    reached: dict[int, tuple[int, int]] = {}
    earliest: dict[int, tuple[int, int]] = {}  # the earliest row, for users with no reset
    looking = list(userids)
    for group, (near, far) in enumerate(_SPANS, 1):
        parameters: dict[str, Any] = {"userids": looking, "near": near, "far": far}
        if isinstance(start, Mapping):
            statement = _span(tables, _Starts.of({u: start[u] for u in looking}), far is not None,
                              settings)
        else:
            statement, parameters["start"] = _span_built(tables, far is not None, settings), start
        first = None
        for row in conn.execute(statement, parameters):
            first = row.first
            if row.reset is not None:
                reached[row.userid] = (group, row.reset)
            elif row.userid is not None:
                earliest[row.userid] = (group, row.earliest)
        looking = [userid for userid in looking if userid not in reached]
        latest = (max((start[u] for u in looking), default=0) if isinstance(start, Mapping)
                  else start)
        if not looking or far is None or first is None or latest - far <= first:
            break
    return reached | {userid: earliest.get(userid, (0, _start_of(start, userid)))
                    for userid in looking}


def _start_of(start: Start, userid: int) -> int:
    return start[userid] if isinstance(start, Mapping) else start


@lru_cache(maxsize=64)
def _span_built(tables: LogTables, bounded: bool, settings: TimeSettings) -> Select:
    """The statement of a span for one window start, taken as a parameter."""
    return _span(tables, _Starts(_START), bounded, settings)


def _span(tables: LogTables, starts: _Starts, bounded: bool, settings: TimeSettings) -> Select:
    """For each user (``userids``) with rows in the span ``[start - far, start - near)``
    (with no lower end unless ``bounded``): the time of the latest that resets the carry
    (``reset``, NULL if none does) and of the earliest. Beside each, and alone when no
    user has rows, the time of the log's first row (NULL if none).
    """
    log = tables.log.c
    since = starts.start
    in_span = [log.timecreated >= since - _FAR] if bounded else []
    rows = (
        select(*_row_columns(tables)).select_from(starts.joined(_log_with_module_types(tables),
                                                                log.userid))
        .where(log.userid.in_(_USERIDS), *in_span, log.timecreated < since - _NEAR,
               *takes_part(tables))
        .subquery("in_span").c
    )
    resets = and_(_rule(rows, settings).in_(_BARRIERS), ~_graded(rows))
    found = (select(rows.userid, func.max(case((resets, rows.timecreated))).label("reset"),
                    func.min(rows.timecreated).label("earliest"))
             .group_by(rows.userid).subquery("found"))
    first = select(func.min(tables.log.c.timecreated).label("first")).subquery("first_row")
    return select(first.c.first, found.c.userid, found.c.reset, found.c.earliest).select_from(
        first.outerjoin(found, true()))


@lru_cache(maxsize=256)
def _built(tables: LogTables, per_user: bool, groups: tuple[int, ...], settings: TimeSettings,
           days: DayKeys | None) -> Select:
    """The statement for one window start, taken as a parameter, and these groups of users."""
    return _statement(tables, _Starts(_START), groups, settings, per_user, days)


def _statement(tables: LogTables, starts: _Starts, groups: tuple[int, ...],
               settings: TimeSettings, per_user: bool, days: DayKeys | None) -> Select:
    """The figures of the users' rows in the window: the chain of rules, then the sums."""
    rows = _rows(tables, groups)
    credited = _credited(rows, settings, _Windows(per_user), days)
    return _figures(tables, credited, starts, days)


def _rows(tables: LogTables, groups: tuple[int, ...]) -> Subquery:
    """The rows that take part and decide the window's seconds: each group's users' rows
    (``group<n>``), from the time their reaches begin (``since<n>``, the earliest of them)
    to the look-ahead's end."""
    log = tables.log.c
    branches = [
        select(*_row_columns(tables)).select_from(_log_with_module_types(tables))
        .where(log.userid.in_(users), log.timecreated.between(since, _AHEAD),
               *takes_part(tables))
        for users, since in (_GROUPS[group] for group in groups)
    ]
    return (branches[0] if len(branches) == 1 else union_all(*branches)).subquery("taking_part")


class _Rule(IntEnum):
    """The rule of "Counting" a processed row falls under."""

    LOGGEDOUT = 1
    IGNORED = 2
    CAPTURED = 3
    LOGGEDIN = 4
    OTHER = 5


#: The rules of the rows that reset the carry: counted rows and logouts.
_BARRIERS = (_Rule.LOGGEDOUT.value, _Rule.LOGGEDIN.value, _Rule.OTHER.value)


class _Part(IntEnum):
    """The part of its course a row's time goes to ("The three parts of a course")."""

    ACTIVITIES = 1
    COURSE = 2
    OTHER = 3


def _credited(rows: Subquery, settings: TimeSettings, windows: _Windows,
              days: DayKeys | None) -> CTE:
    """Each processed row with its lap, its session and, when counted, its ``seconds`` (L).

    The carry is summed over its own link, after the sessions: a database then
    sorts the rows once more, by ``spender``, rather than twice.
    """
    rows = _processed(rows, settings, windows).c
    threshold = settings.threshold * 60
    gap, credit = rows.next_time - rows.timecreated, settings.lastpingcredit * 60
    age = _NOW - rows.timecreated  # at the time of the request; < 0 for a row in the future
    last_ping = case((age >= credit, credit), (age > 0, age), else_=0)
    lap = case((rows.next_time.is_(None), last_ping), (gap > threshold, credit), else_=gap)
    starts = case((or_(rows.previous_time.is_(None),
                       rows.timecreated - rows.previous_time > threshold,
                       rows.previous_rule == _Rule.LOGGEDOUT.value, rows.login == 1), 1),
                  else_=0)
    session = func.sum(starts).over(**windows.running(rows))
    timed = select(
        rows.userid, rows.id, rows.timecreated, rows.courseid, rows.cmid, rows.part, rows.rule,
        rows.spender, lap.label("lap"), session.label("session"),
    ).cte("timed").c
    carry = func.sum(case((timed.rule == _Rule.CAPTURED.value, timed.lap), else_=0)).over(
        partition_by=windows.of_user(timed, timed.spender))
    seconds = case((timed.rule == _Rule.OTHER.value, timed.lap + carry),
                   (timed.rule == _Rule.LOGGEDIN.value, timed.lap))
    day = [days.key(timed.timecreated).label("day")] if days else []
    return select(
        timed.userid, timed.id, timed.timecreated, timed.courseid, timed.cmid, timed.part,
        timed.lap, timed.session, seconds.label("seconds"), *day,
    ).cte("credited").prefix_with("MATERIALIZED", dialect="postgresql")


def _processed(rows: Subquery, settings: TimeSettings, windows: _Windows) -> CTE:
    """The rows that take part, less the absorbed ones, with their neighbours and ``spender``.

    Each row's rule and part are decided from its texts first, so that only
    numbers go through the windows; a module's label is looked up at the end.
    A row's ``spender`` is the number of barriers (counted rows and logouts)
    before it: the captured rows and the barrier that spends their carry share it.
    """
    rows = rows.c
    label = _label(rows.contextlevel, rows.action, rows.component, rows.modname)
    part = case((rows.contextlevel == contexts.MODULE, _Part.ACTIVITIES.value),
                (label == "course", _Part.COURSE.value), else_=_Part.OTHER.value)
    flag = lambda condition: case((condition, 1), else_=0)  # noqa: E731
    ordered = select(
        rows.userid, rows.id, rows.timecreated, rows.courseid, rows.contextinstanceid.label("cmid"),
        part.label("part"), _rule(rows, settings).label("rule"),
        flag(rows.action == "loggedin").label("login"), flag(_graded(rows)).label("graded"),
        func.row_number().over(**windows.ordered(rows)).label("position"),
    ).cte("ordered").c
    barrier = case((ordered.rule.in_(_BARRIERS), 1), else_=0)
    return select(
        ordered.userid, ordered.id, ordered.timecreated, ordered.courseid, ordered.cmid,
        ordered.part, ordered.rule, ordered.login,
        func.lead(ordered.timecreated).over(**windows.ordered(ordered)).label("next_time"),
        func.lag(ordered.timecreated).over(**windows.ordered(ordered)).label("previous_time"),
        func.lag(ordered.rule).over(**windows.ordered(ordered)).label("previous_rule"),
        (func.sum(barrier).over(**windows.running(ordered)) - barrier).label("spender"),
    ).where(or_(ordered.graded == 0, ordered.position == 1)).cte("processed")


def _rule(rows: Columns, settings: TimeSettings) -> ColumnElement[int]:
    """The rule of "Counting" a row of :func:`log_rows` falls under."""
    label = _label(rows.contextlevel, rows.action, rows.component, rows.modname)
    return case(
        (rows.action == "loggedout", _Rule.LOGGEDOUT.value),
        (label.in_(sorted(settings.ignoremodules)), _Rule.IGNORED.value),
        (label.in_(sorted(settings.capturemodules)), _Rule.CAPTURED.value),
        (rows.action == "loggedin", _Rule.LOGGEDIN.value),
        else_=_Rule.OTHER.value,
    )


def _graded(rows: Columns) -> ColumnElement[bool]:
    """A grading of the user: absorbed, unless it is the user's first row."""
    return and_(rows.action == "graded", rows.target == "user")


def _label(contextlevel: ColumnElement[int], action: ColumnElement[str],
           component: ColumnElement[str], modname: ColumnElement[str]) -> ColumnElement[str]:
    """A log row's label ("Labels"), as ``engine.label`` gives it; ``modname`` is its
    course module's type."""
    from_component = case((func.substr(component, 1, 4) == "mod_", func.substr(component, 5)),
                          else_="unknown")
    return case(
        (contextlevel == contexts.MODULE, func.coalesce(modname, from_component)),
        (contextlevel == contexts.SYSTEM, case((action == "loggedin", "user"), else_="system")),
        (contextlevel == contexts.USER, "user"),
        else_="course",
    )


@dataclass(frozen=True)
class _Windows:
    """The windows of the model: each user's rows in (timecreated, id) order.

    A single user's rows need no partition, and without one PostgreSQL sees that
    every window wants the order the first sorted the rows in.
    """

    per_user: bool

    def of_user(self, rows: Columns, *columns: ColumnElement) -> tuple[ColumnElement, ...]:
        """A partition by ``columns`` within each user."""
        return (rows.userid, *columns) if self.per_user else columns

    def ordered(self, rows: Columns) -> dict:
        """Each user's rows in order."""
        return {"partition_by": self.of_user(rows) or None, "order_by": (rows.timecreated, rows.id)}

    def running(self, rows: Columns) -> dict:
        """From a user's first row to the current one."""
        return {**self.ordered(rows), "rows": (None, 0)}


# Aggregation

class _Kind(IntEnum):
    """What a row of the figures is about; they come in this order."""

    TOTAL = 1
    COURSE = 2
    MODULE = 3
    SESSION = 4
    DAY = 5
    COURSE_DAY = 6


class _Piece(IntEnum):
    """What a row of the first aggregation sums up: a place (a course, a course module
    and a part of the course), a session, or a course's day."""

    PLACE = 1
    SESSION = 2
    DAY = 3


#: The pieces each kind of figure adds up.
_ADDS_UP = {_Kind.TOTAL: _Piece.PLACE, _Kind.COURSE: _Piece.PLACE, _Kind.MODULE: _Piece.PLACE,
            _Kind.SESSION: _Piece.SESSION, _Kind.DAY: _Piece.DAY, _Kind.COURSE_DAY: _Piece.DAY}

#: Offsets that write a time and an id as digits of a fixed width, so that the largest
#: text is the latest row (times and ids are never negative).
_TIME_DIGITS, _ID_DIGITS = 10**11, 10**18


def _figures(tables: LogTables, credited: CTE, starts: _Starts,
             days: DayKeys | None) -> Select:
    """The figures, ordered by kind, user and item: the pieces added up.

    The credited rows of the window are summed once (:func:`_pieces`); the
    figures add up those few sums. A course module's figure then joins its
    latest log row, which gives it its course and label.
    """
    summed = _pieces(credited, starts, days)
    pieces = summed.c
    wanted = [kind for kind in _Kind if days or _ADDS_UP[kind] is not _Piece.DAY]
    kinds = _constants("kinds", ("kind", "piece"), [(kind, _ADDS_UP[kind]) for kind in wanted])
    kind = kinds.c.kind
    applies = and_(kinds.c.piece == pieces.piece, or_(
        kind.in_((_Kind.TOTAL.value, _Kind.SESSION.value, _Kind.DAY.value)),
        and_(kind.in_((_Kind.COURSE.value, _Kind.COURSE_DAY.value)), pieces.courseid != 0),
        and_(kind == _Kind.MODULE.value, pieces.cmid.is_not(None)),
    ))
    item = case((kind == _Kind.COURSE.value, pieces.courseid),
                (kind == _Kind.MODULE.value, pieces.cmid), else_=pieces.item)
    courseid = case((kind == _Kind.COURSE_DAY.value, pieces.courseid))
    whole = lambda number, name: cast(number, BigInteger).label(name)  # noqa: E731
    part = lambda which: func.sum(  # noqa: E731
        case((pieces.part == which.value, pieces.seconds), else_=0))
    figures = (
        select(
            kind, pieces.userid, whole(item, "item"), whole(courseid, "courseid"),
            whole(func.sum(pieces.seconds), "seconds"), whole(func.sum(pieces.events), "events"),
            whole(func.min(pieces.first), "first"), whole(func.max(pieces.last), "last"),
            whole(part(_Part.ACTIVITIES), "activities"), whole(part(_Part.COURSE), "course"),
            whole(part(_Part.OTHER), "other"), func.max(pieces.latest).label("latest"),
        )
        .select_from(summed.join(kinds, applies))
        .group_by(kind, pieces.userid, item, courseid)
        .subquery("figures")
    )
    after_time = len(str(_TIME_DIGITS)) + 1
    latest_id = cast(func.substr(figures.c.latest, after_time), BigInteger) - _ID_DIGITS
    log, cm, m = (t.alias("latest_" + t.name) for t in
                  (tables.log, tables.course_modules, tables.modules))
    return (
        select(*(c for c in figures.c if c.name != "latest"),
               func.coalesce(log.c.courseid, 0).label("module_courseid"),
               _label(log.c.contextlevel, log.c.action, log.c.component, m.c.name).label("label"))
        .select_from(_with_module_types(figures.outerjoin(log, log.c.id == latest_id), cm, m,
                                        log))
        .order_by(figures.c.kind, figures.c.userid, figures.c.item)
    )


def _pieces(credited: CTE, starts: _Starts, days: DayKeys | None) -> Subquery:
    """The credited rows of the window summed by place, session (the part of it in the
    window) and course day, in one pass.

    Each row joins the pieces it is part of, so the chain of windows is computed
    once, whichever database evaluates it. A place's ``latest`` is the text of its
    latest row's time and id, for a course module.
    """
    rows = credited.c
    wanted = [_Piece.PLACE, _Piece.SESSION] + ([_Piece.DAY] if days else [])
    pieces = _constants("wanted_pieces", ("piece",), [(piece,) for piece in wanted])
    piece, activity = pieces.c.piece, rows.part == _Part.ACTIVITIES.value
    in_module = and_(piece == _Piece.PLACE.value, activity)
    text = lambda number: cast(number, String)  # noqa: E731
    latest = text(rows.timecreated + _TIME_DIGITS) + text(rows.id + _ID_DIGITS)
    keys = [
        case((piece.in_((_Piece.PLACE.value, _Piece.DAY.value)), rows.courseid)).label("courseid"),
        case((in_module, rows.cmid)).label("cmid"),
        case((piece == _Piece.PLACE.value, rows.part)).label("part"),
        case((piece == _Piece.SESSION.value, rows.session),
             *([(piece == _Piece.DAY.value, rows.day)] if days else [])).label("item"),
    ]
    return (
        select(
            piece, rows.userid, *keys,
            func.sum(rows.seconds).label("seconds"), func.count(rows.seconds).label("events"),
            func.min(rows.timecreated).label("first"),
            func.max(case((piece == _Piece.SESSION.value, rows.timecreated + rows.lap),
                          else_=rows.timecreated)).label("last"),
            func.max(case((in_module, latest))).label("latest"),
        )
        .select_from(starts.joined(credited.join(pieces, or_(piece == _Piece.SESSION.value,
                                                             rows.seconds.is_not(None))),
                                   rows.userid))
        .where(rows.timecreated.between(starts.start, _END))
        .group_by(piece, rows.userid, *keys)
        .having(func.count(rows.seconds) > 0)
        .subquery("pieces")
    )


def _constants(name: str, columns: tuple[str, ...], rows: list[tuple[int, ...]]) -> CTE:
    """A few rows of integers, as a UNION ALL of SELECTs of literals: a statement with
    VALUES has no cache key, and compiling this one costs more than running a light call."""
    return union_all(*(select(*(literal(value, Integer, literal_execute=True).label(key)
                                 for key, value in zip(columns, row))) for row in rows)).cte(name)


def _usages(rows: Iterable[Row], days: LocalDays | None) -> dict[int, Usage]:
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
                usage.modules[row.item] = _counts(ModuleTally, row, courseid=row.module_courseid,
                                                  label=row.label)
            case _Kind.SESSION:
                usage.sessions.append(Session(row.first, row.last, row.seconds))
            case _Kind.DAY:
                usage.total.days[days.date(row.item)] = row.seconds
            case _Kind.COURSE_DAY:
                usage.courses[row.courseid].days[days.date(row.item)] = row.seconds
    return usages


def _counts(tally: type[Tally], row: Row, **more) -> Tally:
    return tally(seconds=row.seconds, events=row.events, first=row.first, last=row.last, **more)


# Days

@dataclass(frozen=True)
class LocalDays:
    """Local days in a zone over a window, as SQL computes them without the zone's rules.

    The database adds to each time the zone's offset in force then (a CASE over
    the offsets ``days.offsets`` found), less ``origin`` days, which keeps local
    times positive where division and modulo truncate towards zero. A day's key
    is its local midnight, in seconds after the midnight beginning day ``origin``.
    A statement computes keys with :attr:`keys`, and runs with :meth:`bound`.
    """

    origin: int
    offsets: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, zone: ZoneInfo, start: int, end: int) -> LocalDays:
        # two days' margin: no zone is more than a day from UTC
        return cls((start - 2 * local.DAY) // local.DAY, tuple(local.offsets(zone, start, end)))

    @property
    def keys(self) -> DayKeys:
        """The keys' SQL, the same for every window and zone with as many offsets."""
        return DayKeys(len(self.offsets))

    def bound(self) -> dict[str, int]:
        """The values the keys' SQL binds: when each offset begins, and the offset less
        ``origin`` days."""
        shifted = [(since, offset - self.origin * local.DAY) for since, offset in self.offsets]
        return {**{f"day_since{n}": since for n, (since, _) in enumerate(shifted) if n},
                **{f"day_offset{n}": offset for n, (_, offset) in enumerate(shifted)}}

    def date(self, key: int) -> date:
        """The local date of a day's key."""
        return local.date_of(self.origin + key // local.DAY)


@dataclass(frozen=True)
class DayKeys:
    """The key of a time's local day in SQL, over ``count`` offsets whose values it binds
    (:meth:`LocalDays.bound`): a statement built with it serves every window and zone."""

    count: int

    def key(self, time: ColumnElement[int]) -> ColumnElement[int]:
        """The key of the local day of ``time``."""
        since = [bindparam(f"day_since{n}", type_=BigInteger) for n in range(1, self.count)]
        before = [bindparam(f"day_offset{n}", type_=BigInteger) for n in range(self.count)]
        offset = case(*((time < s, b) for s, b in zip(since, before)),
                      else_=before[-1]) if since else before[0]
        moment = time + offset
        return moment - moment % local.DAY
