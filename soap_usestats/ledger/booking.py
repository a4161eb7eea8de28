"""One user's rows booked afresh: the model over the user's log from a safe restart
point, the processed rows from a time on written in place of their old bookings."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import and_, delete, select
from sqlalchemy.engine import Connection

from .. import contexts
from ..timemodel.engine import Lap, laps
from ..timemodel.settings import TimeSettings
from . import rollup, tables
from .bulk import insert_rows
from .tables import PARTS

#: Ledger rows written by one statement.
INSERT_BATCH = 1000


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
    booked, batch, cleared = 0, [], plan.start
    for lap, session in _sessions(ledger, plan, laps(events, now, settings)):
        if cleared is None:  # the whole log: the bookings of rows it no longer holds stay
            ledger.execute(delete(tables.row).where(mine, r.timecreated >= lap.event.time))
            cleared = lap.event.time
        if lap.event.time >= plan.horizon:
            break
        if plan.start is not None and lap.event.time < plan.start:
            continue
        batch.append(_booked(plan, lap, session))
        if len(batch) == INSERT_BATCH:
            booked += _write(ledger, batch, advance)
    booked += _write(ledger, batch, advance)
    if cleared is not None:
        rollup.refresh(ledger, plan.site, plan.userid, cleared)
    return booked


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


def _booked(plan: Rebooking, lap: Lap, session: tuple[int, int | None]) -> dict:
    event = lap.event
    in_module = event.contextlevel == contexts.MODULE
    part = ("activities" if in_module else "course" if lap.label == "course" else "other")
    return dict(site=plan.site, logid=event.id, userid=plan.userid, timecreated=event.time,
                lap=lap.lap, seconds=lap.counted, session=session[0], courseid=event.courseid,
                cmid=event.contextinstanceid if in_module else None,
                label=lap.label if in_module else None, part=PARTS[part], session_row=session[1])


def _write(ledger: Connection, batch: list[dict], advance: Callable[[int], None]) -> int:
    """Insert the batch (one statement, many rows) and empty it; its size."""
    if not batch:
        return 0
    insert_rows(ledger, tables.row, batch)
    written = len(batch)
    advance(written)
    batch.clear()
    return written
