"""The use_stats time model in pure Python: the reference engine.

A row-by-row implementation of ``docs/time-model.md``: the user's whole log goes
in, in (timecreated, id) order; the model fixes each row's lap and counted
seconds once, over the whole log; the counted rows of the window come out as
seconds per user, course, course module and session, and per local day when a
time zone is given. Every figure can be checked by hand against the rules.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import chain, pairwise
from typing import NamedTuple
from zoneinfo import ZoneInfo

from .. import contexts
from .settings import TimeSettings

#: The model's settings where none are given.
DEFAULT_SETTINGS = TimeSettings()


class LogEvent(NamedTuple):
    """One row of logstore_standard_log that takes part (a tuple: made once a row, cheaply).

    The caller has already left out cli rows, failed actions, rows with a
    realuserid, and courseid-0 rows other than loggedin/loggedout.
    """

    id: int
    time: int
    action: str
    target: str
    contextlevel: int
    contextinstanceid: int
    courseid: int
    component: str
    module: str | None


def label(event: LogEvent) -> str:
    """The row's label: its module type, ``user``, ``system`` or ``course``."""
    if event.contextlevel == contexts.MODULE:
        if event.module is not None:
            return event.module
        if event.component.startswith("mod_"):
            return event.component.removeprefix("mod_")
        return "unknown"
    if event.contextlevel == contexts.SYSTEM:
        return "user" if event.action == "loggedin" else "system"
    if event.contextlevel == contexts.USER:
        return "user"
    return "course"


class Lap(NamedTuple):
    """A processed row with its lap and, when counted, the seconds ``L`` it adds."""

    event: LogEvent
    lap: int
    counted: int | None
    label: str
    session_start: bool


def laps(events: Iterable[LogEvent], now: int, settings: TimeSettings) -> Iterator[Lap]:
    """The user's processed rows (absorbed rows skipped) in order, each with its lap and
    counted L, the log asked about at the time ``now``.

    Streams: constant memory, one row of look-ahead.
    """
    carry = 0
    session_start = True
    credit = settings.lastpingcredit * 60
    for event, following in pairwise(chain(_processed(events), [None])):
        if following is None:  # the latest row: its lap grows until it reaches the credit
            lap, ends_session = min(credit, max(0, now - event.time)), True
        else:
            gap = following.time - event.time
            ends_session = gap > settings.threshold * 60
            lap = credit if ends_session else gap
        name = label(event)
        counted, carry = _count(event, name, lap, carry, settings)
        yield Lap(event, lap, counted, name, session_start or event.action == "loggedin")
        session_start = ends_session or event.action == "loggedout"


def _processed(events: Iterable[LogEvent]) -> Iterator[LogEvent]:
    """The rows that are not absorbed: gradings of the user, unless first."""
    return (
        event
        for index, event in enumerate(events)
        if index == 0 or not (event.action == "graded" and event.target == "user")
    )


def _count(
    event: LogEvent, name: str, lap: int, carry: int, settings: TimeSettings
) -> tuple[int | None, int]:
    """Rules 1 to 5 of "Counting": the counted L (None if not counted) and the new carry."""
    if event.action == "loggedout":
        return None, 0
    if name in settings.ignoremodules:
        return None, carry
    if name in settings.capturemodules:
        return None, carry + lap
    if event.action == "loggedin":
        return lap, 0
    return lap + carry, 0


@dataclass
class Tally:
    """Seconds and events counted for one key, with the first and last counted times.

    ``days``: the seconds booked to each local date, kept for the user's total
    and each course when a time zone is given.
    """

    seconds: int = 0
    events: int = 0
    first: int | None = None
    last: int | None = None
    days: dict[date, int] = field(default_factory=dict)


@dataclass
class CourseTally(Tally):
    """A course's tally, its seconds split into activities, course pages and other."""

    activities: int = 0
    course: int = 0
    other: int = 0


@dataclass
class ModuleTally(Tally):
    """A course module's tally, with its course and module type."""

    courseid: int = 0
    label: str = ""


@dataclass(frozen=True, slots=True)
class Session:
    """The part in a window of a run of rows without a break: from its first row in the
    window to the end of the lap of its last row in the window."""

    start: int
    end: int
    seconds: int


@dataclass
class Usage:
    """Everything counted for one user in one window."""

    total: Tally
    courses: dict[int, CourseTally]
    modules: dict[int, ModuleTally]
    sessions: list[Session]

    def within(self, courseids: Collection[int]) -> Usage:
        """Only what was spent in ``courseids``: the total is theirs, and no sessions."""
        courses = {c: tally for c, tally in self.courses.items() if c in courseids}
        firsts = [t.first for t in courses.values() if t.first is not None]
        lasts = [t.last for t in courses.values() if t.last is not None]
        days: dict[date, int] = {}
        for tally in courses.values():
            for day, seconds in tally.days.items():
                _book(days, day, seconds)
        total = Tally(seconds=sum(t.seconds for t in courses.values()),
                      events=sum(t.events for t in courses.values()),
                      first=min(firsts, default=None), last=max(lasts, default=None), days=days)
        modules = {m: tally for m, tally in self.modules.items() if tally.courseid in courseids}
        return Usage(total, courses, modules, sessions=[])


@dataclass
class _OpenSession(Tally):
    """The part in the window of the session being walked; reported once done, if it
    counted a row."""

    start: int | None = None
    end: int = 0


def estimate(
    events: Iterable[LogEvent], now: int, settings: TimeSettings = DEFAULT_SETTINGS,
    zone: ZoneInfo | None = None, window: tuple[int, int] | None = None,
) -> Usage:
    """Apply the model to the user's whole log, in (timecreated, id) order, at the time
    ``now``; report the counted rows whose time lies in ``window`` (``(from, to)``; every
    row when ``None``), each with the seconds the whole log gives it.

    With a ``zone``, each counted L is also booked to the local date of its row.
    """
    start, end = window or (None, None)
    usage = Usage(total=Tally(), courses={}, modules={}, sessions=[])
    session = _OpenSession()
    for lap in laps(events, now, settings):
        if lap.session_start:
            _report(session, usage)
            session = _OpenSession()
        if window is not None and not start <= lap.event.time <= end:
            continue
        if session.start is None:
            session.start = lap.event.time
        session.end = lap.event.time + lap.lap
        if lap.counted is not None:
            day = None if zone is None else datetime.fromtimestamp(lap.event.time, zone).date()
            _credit(lap, usage, session, day)
    _report(session, usage)
    return usage


def _report(session: _OpenSession, usage: Usage) -> None:
    """Report a finished session, unless it counted no row."""
    if session.events:
        usage.sessions.append(Session(session.start, session.end, session.seconds))


def _credit(lap: Lap, usage: Usage, session: _OpenSession, day: date | None) -> None:
    """Add a counted lap to the total, the session, its course and its module, and to its day."""
    event, seconds = lap.event, lap.counted
    tallies: list[Tally] = [usage.total, session]
    daily: list[Tally] = [usage.total]
    if event.courseid:
        course = usage.courses.setdefault(event.courseid, CourseTally())
        if event.contextlevel == contexts.MODULE:
            course.activities += seconds
        elif lap.label == "course":
            course.course += seconds
        else:
            course.other += seconds
        tallies.append(course)
        daily.append(course)
    if event.contextlevel == contexts.MODULE:
        module = usage.modules.setdefault(event.contextinstanceid, ModuleTally())
        module.courseid, module.label = event.courseid, lap.label
        tallies.append(module)
    for tally in tallies:
        tally.seconds += seconds
        tally.events += 1
        tally.first = event.time if tally.first is None else tally.first
        tally.last = event.time
    if day is not None:
        for tally in daily:
            _book(tally.days, day, seconds)


def _book(days: dict[date, int], day: date, seconds: int) -> None:
    """Book seconds to a day; a day is reported once booked, even with 0 seconds."""
    days[day] = days.get(day, 0) + seconds
