"""Users' rows booked afresh: the model over each user's log from a safe restart point,
the processed rows from a time on written in place of their old bookings. The users of a
batch are booked together: a statement for all of them where one each would do."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.engine import Connection

from .. import contexts
from ..timemodel.engine import Lap, LogEvent, laps
from ..timemodel.settings import TimeSettings
from . import rollup, tables
from .bulk import RowWriter
from .tables import PARTS

#: Rows booked between two reports of progress.
PROGRESS_STEP = 1000

#: A session: the time and log id of its first processed row.
Session = tuple[int, int | None]


@dataclass(frozen=True)
class Rebooking:
    """What to book again for one user: the rows from ``start`` (None: the whole log) up
    to ``horizon``, read from ``since`` on (the last row before ``start`` that reset the
    carry); the sessions of the rows before ``anchored_to`` are booked already."""

    site: int
    userid: int
    start: int | None
    since: int | None
    anchored_to: int | None
    horizon: int


@dataclass(frozen=True)
class Booked:
    """A batch booked: its rows, counted, and the users' rollup to sum again, each from a
    time on (``rollup.refresh``; ``fresh``: the users who had no bookings before)."""

    rows: int
    since: dict[int, int]
    fresh: frozenset[int]

    def sum_up(self, ledger: Connection, site: int) -> None:
        rollup.refresh(ledger, site, self.since, fresh=self.fresh)


def book(ledger: Connection, plans: list[Rebooking],
         rows: Iterable[tuple[int, Iterable[LogEvent]]], now: int, settings: TimeSettings,
         advance: Callable[[int], None]) -> Booked:
    """Replace each planned user's bookings from ``plan.start`` on with the model's rows
    over their events (``rows``: each user's, from ``plan.since``, user after user), up to
    the horizon; what is booked, its rollup to sum up (:meth:`Booked.sum_up`).

    For a user booked over their whole log the bookings of rows before the first it holds
    stay (Moodle deleted those rows)."""
    site, plan_of = plans[0].site, {plan.userid: plan for plan in plans}
    cleared = {plan.userid: plan.start for plan in plans if plan.start is not None}
    _unbook(ledger, site, cleared)
    held = _held(ledger, site, [plan.userid for plan in plans if plan.start is None])
    anchors = _anchors(ledger, [plan for plan in plans if plan.anchored_to is not None])
    written = 0
    with RowWriter(ledger, tables.row) as writer:
        for userid, events in rows:
            plan = plan_of[userid]
            booked = _sessions(anchors.get(userid, {}), laps(events, now, settings))
            first = next(booked, None)
            if first is None:
                continue
            if plan.start is None:
                cleared[userid] = first[0].event.time
                if userid in held:
                    writer.flush()
                    _unbook(ledger, site, {userid: cleared[userid]})
            for lap, session in chain([first], booked):
                if lap.event.time >= plan.horizon:
                    break
                if plan.start is not None and lap.event.time < plan.start:
                    continue
                writer.write(_booked(plan, lap, session))
                written += 1
                if written % PROGRESS_STEP == 0:
                    advance(PROGRESS_STEP)
    advance(written % PROGRESS_STEP)
    return Booked(written, cleared,
                  frozenset({plan.userid for plan in plans if plan.start is None} - held))


def _unbook(ledger: Connection, site: int, since: Mapping[int, int]) -> None:
    """Delete the bookings of the users of ``since`` from each one's time on."""
    if since:
        r = tables.row.c
        ledger.execute(delete(tables.row).where(r.site == site,
                                                rollup.each_from(r.userid, r.timecreated, since)))


def _held(ledger: Connection, site: int, userids: list[int]) -> set[int]:
    """The users among ``userids`` with bookings already."""
    if not userids:
        return set()
    r = tables.row.c
    return set(ledger.scalars(select(r.userid).where(r.site == site, r.userid.in_(userids))
                              .group_by(r.userid)))


def _anchors(ledger: Connection, plans: list[Rebooking]) -> dict[int, dict[int, Session]]:
    """Each user's booked rows read again whose session no new row changes (those from
    ``since`` to ``anchored_to``): by log id, their session."""
    if not plans:
        return {}
    r = tables.row.c
    booked = select(r.userid, r.logid, r.session, r.session_row).where(
        r.site == plans[0].site,
        or_(*(and_(r.userid == plan.userid, r.timecreated >= plan.since,
                   r.timecreated < plan.anchored_to) for plan in plans)))
    found: dict[int, dict[int, Session]] = {}
    for userid, logid, time, first in ledger.execute(booked):
        found.setdefault(userid, {})[logid] = (time, first)
    return found


def _sessions(anchors: Mapping[int, Session],
              rows: Iterator[Lap]) -> Iterator[tuple[Lap, Session]]:
    """Each row with its session.

    The first rows read may continue a session begun before them: the first of them
    among ``anchors`` (booked before, in a session no new row changes) gives theirs;
    from there on each row flagged as a session start begins one.
    """
    anchored, session = not anchors, None
    for lap in rows:
        if not anchored and lap.event.id in anchors:
            anchored, session = True, anchors[lap.event.id]
        elif lap.session_start or session is None:
            session = (lap.event.time, lap.event.id)
        yield lap, session


def _booked(plan: Rebooking, lap: Lap, session: Session) -> tuple:
    """The ledger row of a lap, its values in the order of ``ledger_row``'s columns."""
    event = lap.event
    in_module = event.contextlevel == contexts.MODULE
    part = PARTS["activities" if in_module else "course" if lap.label == "course" else "other"]
    return (plan.site, event.id, plan.userid, event.time, lap.lap, lap.counted, session[0],
            event.courseid, event.contextinstanceid if in_module else None,
            lap.label if in_module else None, part, session[1])
