"""One user's rows booked afresh: the model over the user's log from a safe restart
point, the processed rows from a time on written in place of their old bookings."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain

from sqlalchemy import and_, delete, select
from sqlalchemy.engine import Connection

from .. import contexts
from ..timemodel.engine import Lap, laps
from ..timemodel.settings import TimeSettings
from . import rollup, tables
from .bulk import row_writer
from .tables import PARTS

#: Rows booked between two reports of progress.
PROGRESS_STEP = 1000


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


def book(ledger: Connection, plan: Rebooking, events: Iterable, now: int,
         settings: TimeSettings, advance: Callable[[int], None]) -> int:
    """Replace the user's bookings from ``plan.start`` on with the model's rows over
    ``events`` (the user's rows from ``plan.since``), up to the horizon, and refresh their
    rollup; the rows booked, counted."""
    r = tables.row.c
    mine = and_(r.site == plan.site, r.userid == plan.userid)
    if plan.start is not None:
        ledger.execute(delete(tables.row).where(mine, r.timecreated >= plan.start))
    booked = _sessions(ledger, plan, laps(events, now, settings))
    first = next(booked, None)
    cleared = plan.start
    if cleared is None and first is not None:
        # the whole log: the bookings of rows it no longer holds stay
        cleared = first[0].event.time
        ledger.execute(delete(tables.row).where(mine, r.timecreated >= cleared))
    written = 0
    with row_writer(ledger, tables.row) as write:
        for lap, session in chain([first] if first else [], booked):
            if lap.event.time >= plan.horizon:
                break
            if plan.start is not None and lap.event.time < plan.start:
                continue
            write(_booked(plan, lap, session))
            written += 1
            if written % PROGRESS_STEP == 0:
                advance(PROGRESS_STEP)
    advance(written % PROGRESS_STEP)
    if cleared is not None:
        rollup.refresh(ledger, plan.site, plan.userid, cleared)
    return written


def _sessions(ledger: Connection, plan: Rebooking,
              rows: Iterator[Lap]) -> Iterator[tuple[Lap, tuple[int, int | None]]]:
    """Each row with its session: the time and log id of its session's first processed row.

    The first rows read may continue a session begun before them: the first of
    them that is booked before ``anchored_to`` (whose session no new row changes)
    gives theirs; from there on each row flagged as a session start begins one.
    """
    anchors: dict[int, tuple[int, int | None]] = {}
    if plan.anchored_to is not None:
        r = tables.row.c
        booked = select(r.logid, r.session, r.session_row).where(
            r.site == plan.site, r.userid == plan.userid, r.timecreated >= plan.since,
            r.timecreated < plan.anchored_to)
        anchors = {logid: (time, first) for logid, time, first in ledger.execute(booked)}
    anchored, session = not anchors, None
    for lap in rows:
        if not anchored and lap.event.id in anchors:
            anchored, session = True, anchors[lap.event.id]
        elif lap.session_start or session is None:
            session = (lap.event.time, lap.event.id)
        yield lap, session


def _booked(plan: Rebooking, lap: Lap, session: tuple[int, int | None]) -> tuple:
    """The ledger row of a lap, its values in the order of ``ledger_row``'s columns."""
    event = lap.event
    in_module = event.contextlevel == contexts.MODULE
    part = PARTS["activities" if in_module else "course" if lap.label == "course" else "other"]
    return (plan.site, event.id, plan.userid, event.time, lap.lap, lap.counted, session[0],
            event.courseid, event.contextinstanceid if in_module else None,
            lap.label if in_module else None, part, session[1])
