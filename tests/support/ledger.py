"""The ledger a test compiles into, and what the reference engine says it should hold."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy import delete, select

from soap_usestats import contexts
from soap_usestats.ledger import rollup, tables
from soap_usestats.ledger.tables import PARTS
from soap_usestats.timemodel.engine import LogEvent, laps
from soap_usestats.timemodel.settings import TimeSettings


def expected_rows(events: Iterable[LogEvent], userid: int, now: int, settings: TimeSettings,
                  horizon: int) -> dict[int, tuple]:
    """The bookings of a user's rows older than ``horizon``, by log id, from the reference
    engine over the user's whole log (in order): each row's columns as ``ledger_row``."""
    found, session = {}, None
    for lap in laps(events, now, settings):
        event = lap.event
        if lap.session_start:
            session = (event.time, event.id)
        if event.time >= horizon:
            continue
        in_module = event.contextlevel == contexts.MODULE
        part = "activities" if in_module else "course" if lap.label == "course" else "other"
        found[event.id] = (userid, event.time, lap.lap, lap.counted, session[0], event.courseid,
                           event.contextinstanceid if in_module else None,
                           lap.label if in_module else None, PARTS[part], session[1])
    return found


def booked_rows(ledger, userid: int | None = None) -> dict[int, tuple]:
    """The ledger's rows (of one user, or all), by log id, as :func:`expected_rows`."""
    r = tables.row.c
    query = select(r.logid, r.userid, r.timecreated, r.lap, r.seconds, r.session, r.courseid,
                   r.cmid, r.label, r.part, r.session_row)
    if userid is not None:
        query = query.where(r.userid == userid)
    with ledger.connect() as conn:
        return {row[0]: tuple(row[1:]) for row in conn.execute(query)}


def emptied(ledger) -> None:
    """Every ledger table emptied (the schema stays)."""
    with ledger.begin() as conn:
        for table in (tables.quarter, tables.period, tables.session, tables.row, tables.user,
                      tables.lock, tables.kept, tables.site):
            conn.execute(delete(table))


def rollup_and_refilled(ledger) -> tuple[list, list]:
    """The ledger's quarter hours, periods and sessions as the compiler kept them, and as summed
    afresh from its rows (``rollup.fill``, rolled back): each as a multiset of rows."""
    def read(conn):
        return [Counter(tuple(row) for row in conn.execute(select(table)))
                for table in (tables.quarter, tables.period, tables.session)]

    with ledger.connect() as conn:
        kept = read(conn)
        for table in (tables.quarter, tables.period, tables.session):
            conn.execute(delete(table))
        rollup.fill(conn)
        refilled = read(conn)
        conn.rollback()
    return kept, refilled
