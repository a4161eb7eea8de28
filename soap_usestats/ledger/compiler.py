"""A pass of the compiler: the log's new rows, and the rows that have become final, booked.

A pass fixes the newest log id it reads up to (``upto``) and its horizon: every row older
than ``now - max(threshold, lastpingcredit)`` minutes has its final L ("Days",
``time-model.md``). It finds the users whose bookings change: those with new rows (by id,
since the site's ``compiled_id``; a late row, a new id with an older time, among them) and
those with rows that have become final since the last pass. Each is booked again from the
earliest time a change can reach (a threshold before the earliest new row, or before the
user's ``final_to``), read from the last row before it that reset the carry
(``timemodel.sql.reach``), so one more day costs in proportion to that day. Users are
booked in batches, each one read of the log and one ledger transaction. A change of the
settings books every user again from the log; rows Moodle deleted keep their bookings
(``kept`` records how many, and under which settings).

Ids are not always visible in order: on PostgreSQL or MariaDB a transaction may commit a
lower id after a higher one was read. So each pass also reads the ids of the last
:data:`LATE_IDS` below ``compiled_id``, and a final row among them that the ledger does
not hold is new (late) to its user.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack, closing
from dataclasses import dataclass, fields
from functools import partial

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Engine

from ..moodle.database import read_only
from ..moodle.queries import Queries
from ..timemodel import sql
from ..timemodel.settings import TimeSettings
from . import kept, source, tables
from .batches import Finisher, Handout, batches
from .booking import Booked, Rebooking, book
from .lock import Lease

#: Ids below ``compiled_id`` read again by each pass for the rows committed late.
LATE_IDS = 10_000


@dataclass(frozen=True)
class Outcome:
    """What a pass did: the site's key, the log id it read up to, its horizon, the users
    and rows it booked."""

    key: str
    compiled_id: int
    final_to: int
    users: int
    rows: int


def settings_text(settings: TimeSettings) -> str:
    """The settings a site is compiled with, as ``ledger_site.settings`` keeps them."""
    values = {f.name: getattr(settings, f.name) for f in fields(TimeSettings)}
    return json.dumps({name: sorted(value) if isinstance(value, frozenset) else value
                       for name, value in values.items()}, sort_keys=True)


def compile(moodle: Engine, queries: Queries, ledger: Engine, settings: TimeSettings, now: int,
            *, lease: Lease | None = None, advance: Callable[[int], None] = lambda rows: None,
            planned: Callable[[int], None] = lambda rows: None) -> Outcome:
    """One pass over the site's log at the time ``now``; ``planned`` hears how many rows it
    expects to book, ``advance`` how many it has, as it goes."""
    with read_only(moodle) as conn:
        key, upto = source.site_key(conn, queries), source.newest_id(conn, queries)
    site = _site(ledger, key, settings_text(settings), now,
                 lambda: _oldest_time(moodle, queries, upto))
    horizon = now - max(settings.threshold, settings.lastpingcredit) * 60
    if site.final_to is not None:
        horizon = max(horizon, site.final_to)
    users = _users(ledger, site.id)
    earliest, counts = _changes(moodle, queries, ledger, site, users, horizon, upto)
    planned(sum(counts.values()))
    booked = 0
    affected = sorted(counts)
    with read_only(moodle) as conn, ExitStack() as reading, Finisher(ledger) as finisher:
        # a ledger with no user of the site books every log row: one read of the log
        everyone = None if users else Handout(reading.enter_context(closing(
            source.users_rows(conn, queries, None, upto))))
        for batch in batches(affected, counts):
            plans = _plans(moodle, queries, site.id, batch, earliest, users, horizon, settings)
            if lease is not None:
                lease.renew()
            with finisher.transaction() as writer, ExitStack() as batch_reading:
                rows = everyone.of(batch) if everyone else batch_reading.enter_context(closing(
                    source.users_rows(conn, queries, {
                        plan.userid: source.FIRST_TIME if plan.since is None else plan.since
                        for plan in plans}, upto)))
                done = book(writer, plans, rows, now, settings, advance)
                booked += done.rows
                finisher.finish(writer, partial(_finish, writer, site.id, done, batch, horizon,
                                                upto))
    with ledger.begin() as writer:
        writer.execute(update(tables.site).where(tables.site.c.id == site.id)
                       .values(compiled_id=upto, final_to=horizon, updated=now))
    return Outcome(key, upto, horizon, len(affected), booked)


def _site(ledger: Engine, key: str, settings: str, now: int, oldest: Callable[[], int | None]):
    """The site's ledger row, made if new; under other settings, it starts over (its users'
    progress forgotten, their bookings kept until booked again, those of the rows older
    than the log's ``oldest()`` time recorded as kept)."""
    s = tables.site.c
    with ledger.begin() as conn:
        found = conn.execute(select(tables.site).where(s.key == key)).one_or_none()
        if found is None:
            conn.execute(insert(tables.site).values(key=key, settings=settings, compiled_id=0,
                                                    final_to=None, updated=now))
        elif found.settings != settings:
            kept.record(conn, found, oldest(), now)
            conn.execute(delete(tables.user).where(tables.user.c.site == found.id))
            conn.execute(update(tables.site).where(s.id == found.id).values(
                settings=settings, compiled_id=0, final_to=None, updated=now))
        return conn.execute(select(tables.site).where(s.key == key)).one()


def _oldest_time(moodle: Engine, queries: Queries, upto: int) -> int | None:
    with read_only(moodle) as conn:
        return source.oldest_time(conn, queries, upto)


def _users(ledger: Engine, site: int) -> dict[int, tuple[int, int]]:
    """Each compiled user's ``(final_to, compiled_id)``."""
    u = tables.user.c
    with ledger.connect() as conn:
        rows = conn.execute(select(u.userid, u.final_to, u.compiled_id).where(u.site == site))
        return {userid: (final_to, compiled_id) for userid, final_to, compiled_id in rows}


def _changes(moodle: Engine, queries: Queries, ledger: Engine, site,
             users: dict[int, tuple[int, int]], horizon: int,
             upto: int) -> tuple[dict[int, int], dict[int, int]]:
    """The users to book again: each one's earliest new row (by id, beyond what the user
    was compiled with, or committed late), and for all of them, new and final rows to
    book, counted."""
    earliest: dict[int, int] = {}
    counts: dict[int, int] = {}

    def changed(userid: int, time: int, count: int) -> None:
        earliest[userid] = min(time, earliest.get(userid, time))
        counts[userid] = counts.get(userid, 0) + count

    with read_only(moodle) as conn:
        for high, userid, time, count in source.new_rows(conn, queries, site.compiled_id, upto):
            if high <= users.get(userid, (None, 0))[1]:
                continue  # booked by a pass that did not finish
            changed(userid, time, count)
        if site.final_to is not None:
            for userid, time in _late(conn, queries, ledger, site):
                changed(userid, time, 1)
            for userid, count in source.ripened(conn, queries, site.final_to, horizon,
                                                upto).items():
                counts[userid] = counts.get(userid, 0) + count
    return earliest, counts


def _late(conn: Connection, queries: Queries, ledger: Engine, site) -> list[tuple[int, int]]:
    """The rows of the last :data:`LATE_IDS` ids up to ``compiled_id``, final at the last
    pass, that the ledger does not hold (committed after that pass read past them): each
    one's user and time."""
    after = max(0, site.compiled_id - LATE_IDS)
    final = source.final_rows(conn, queries, after, site.compiled_id, site.final_to)
    if not final:
        return []
    r = tables.row.c
    with ledger.connect() as reading:
        held = set(reading.scalars(select(r.logid).where(
            r.site == site.id, r.logid > after, r.logid <= site.compiled_id)))
    return [(userid, time) for logid, userid, time in final if logid not in held]


def _plans(moodle: Engine, queries: Queries, site: int, userids: list[int],
           earliest: dict[int, int], users: dict[int, tuple[int, int]], horizon: int,
           settings: TimeSettings) -> list[Rebooking]:
    """Each user's rebooking: from a threshold before the earliest of its new rows and its
    ``final_to`` (the whole log for a user never compiled), read from the last row before
    that which reset the carry."""
    threshold = settings.threshold * 60
    starts = {}
    for userid in userids:
        if userid in users:
            starts[userid] = min(earliest.get(userid, horizon), users[userid][0]) - threshold
    reach = {}
    if starts:
        with read_only(moodle) as conn:
            reach = sql.reach(conn, queries.t, sorted(starts), starts, settings)
    plans = []
    for userid in userids:
        start = starts.get(userid)
        since = None if start is None else reach[userid][1]
        plans.append(Rebooking(site, userid, start, since,
                               None if start is None else start + threshold, horizon))
    return plans


def _finish(writer: Connection, site: int, done: Booked, batch: list[int], horizon: int,
            upto: int) -> None:
    """A batch's end: its rollup summed, its users compiled."""
    done.sum_up(writer, site)
    _compiled_users(writer, site, batch, horizon, upto)


def _compiled_users(ledger: Connection, site: int, userids: list[int], horizon: int,
                    upto: int) -> None:
    u = tables.user.c
    ledger.execute(delete(tables.user).where(u.site == site, u.userid.in_(userids)))
    ledger.execute(insert(tables.user), [dict(site=site, userid=userid, final_to=horizon,
                                              compiled_id=upto) for userid in userids])
