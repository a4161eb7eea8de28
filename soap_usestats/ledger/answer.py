"""Answering from the ledger: each user's window cut in two at a session start, the rows
before it summed from the ledger, the rows from it on from the log through the engine.

The cut is the start of the user's latest compiled session that is final for sure
(``figures`` and ``timemodel.sql`` hold the two parts): it lies before the user's
``final_to`` (the larger of the user's and the site's), before the horizon of the
request's time, and a threshold before the user's earliest row with an id beyond what the
site compiled (a late row changes the laps a threshold before it, and what follows).
No session runs over a cut (every row from it on is in a session begun at it or later),
so the two parts add up to the whole window, sessions included. A ledger compiled under
other settings, a site or a user not in it, answer from the log alone; so does a ledger
that cannot be read, which is logged once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, column, create_engine, exists, func, select, values
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from ..moodle.queries import Queries
from ..timemodel import sql
from ..timemodel.engine import Usage
from ..timemodel.settings import TimeSettings
from . import tables
from .compiler import settings_text
from .figures import added, booked_usage
from .source import site_key

log = logging.getLogger(__name__)


class Ledger:
    """A ledger database the service reads (never writes) to answer."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._warned = False

    @classmethod
    def at(cls, url: str) -> Ledger:
        return cls(create_engine(url))

    def absent(self) -> bool:
        """An SQLite ledger whose file is not made yet (reading would make it)."""
        url = self.engine.url
        return (url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
                and not Path(url.database).exists())

    def unusable(self, error: SQLAlchemyError) -> None:
        """Note that the ledger cannot be read: a warning the first time."""
        if not self._warned:
            self._warned = True
            shown = make_url(self.engine.url).render_as_string(hide_password=True)
            reason = str(getattr(error, "orig", error)).strip().splitlines() or [repr(error)]
            log.warning("the ledger %s cannot be used, answers come from the log: %s", shown,
                        reason[0])


def usage_by_user(conn: Connection, queries: Queries, ledger: Ledger | None,
                  userids: list[int], start: sql.Start, end: int, settings: TimeSettings,
                  zone: ZoneInfo | None = None, *, now: int) -> dict[int, Usage]:
    """Each user's usage in the window, as ``timemodel.sql.usage_by_user`` gives it over the
    log (``conn``, read only), the final compiled rows read from ``ledger``."""
    moodle = queries.t
    starts = {u: start[u] if isinstance(start, Mapping) else start for u in userids
              if not isinstance(start, Mapping) or u in start}
    cuts, from_ledger = {}, {}
    compiled = _compiled(conn, queries, ledger, list(starts), settings) if ledger else None
    if compiled is not None:
        site, bounds = compiled
        horizon = now - max(settings.threshold, settings.lastpingcredit) * 60
        late = _late(conn, moodle, sorted(bounds), site.compiled_id)
        for userid, earliest in late.items():
            bounds[userid] = min(bounds[userid], earliest - settings.threshold * 60)
        bounds = {u: min(bound, horizon) for u, bound in bounds.items()}
        try:
            with ledger.engine.connect() as reader:
                cuts = _cuts(reader, site.id, bounds)
                from_ledger = booked_usage(reader, site.id, {
                    u: (starts[u], min(end, cut - 1)) for u, cut in cuts.items()}, zone)
        except SQLAlchemyError as error:
            ledger.unusable(error)
            cuts, from_ledger = {}, {}
    rest = {u: max(s, cuts.get(u, s)) for u, s in starts.items() if max(s, cuts.get(u, s)) <= end}
    from_log = {}
    if rest:
        alike = len(set(rest.values())) == 1
        from_log = sql.usage_by_user(conn, moodle, list(rest),
                                     next(iter(rest.values())) if alike else rest, end,
                                     settings, zone, now=now)
    return {u: added(from_ledger[u], from_log[u]) if u in from_ledger and u in from_log
            else from_ledger.get(u) or from_log[u]
            for u in userids if u in from_ledger or u in from_log}


def _compiled(conn: Connection, queries: Queries, ledger: Ledger, userids: list[int],
              settings: TimeSettings):
    """The site's ledger row and, for each of the users the ledger holds, the time before
    which their rows are booked (None: the ledger has nothing to give)."""
    if not userids or ledger.absent():
        return None
    key = site_key(conn, queries)
    s, u = tables.site.c, tables.user.c
    try:
        with ledger.engine.connect() as reader:
            site = reader.execute(select(s.id, s.settings, s.compiled_id, s.final_to)
                                  .where(s.key == key)).one_or_none()
            if site is None or site.settings != settings_text(settings):
                return None
            users = reader.execute(select(u.userid, u.final_to).where(
                u.site == site.id, u.userid.in_(sorted(userids)))).all()
    except SQLAlchemyError as error:
        ledger.unusable(error)
        return None
    bounds = {userid: max(final_to, site.final_to or final_to) for userid, final_to in users}
    return (site, bounds) if bounds else None


def _late(conn: Connection, moodle: sql.LogTables, userids: list[int],
          compiled_id: int) -> dict[int, int]:
    """The time of each user's earliest row (taking part) with an id beyond the site's
    compiled ones: rows the ledger has not booked yet."""
    log = moodle.log.c
    query = (select(log.userid, func.min(log.timecreated))
             .where(log.id > compiled_id, log.userid.in_(userids), *sql.takes_part(moodle))
             .group_by(log.userid))
    return dict(conn.execute(query).all())


def _cuts(ledger: Connection, site: int, bounds: Mapping[int, int]) -> dict[int, int]:
    """Each user's cut: the latest start of a booked session before the user's bound, in
    whose second no row of an earlier session lies (users with none are absent)."""
    asked = values(column("userid", BigInteger), column("bound", BigInteger),
                   name="bounds").data(sorted(bounds.items())).cte("bounds")
    r, earlier = tables.row.alias("starting"), tables.row.alias("earlier")
    overlapped = exists().where(earlier.c.site == site, earlier.c.userid == asked.c.userid,
                                earlier.c.timecreated == r.c.session,
                                earlier.c.session < r.c.session)
    cut = (select(r.c.session)
           .where(r.c.site == site, r.c.userid == asked.c.userid,
                  r.c.timecreated < asked.c.bound, r.c.timecreated == r.c.session,
                  ~overlapped)
           .order_by(r.c.timecreated.desc()).limit(1).scalar_subquery())
    found = ledger.execute(select(asked.c.userid, cut.label("cut")))
    return {userid: cut for userid, cut in found if cut is not None}
