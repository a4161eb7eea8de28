"""Answering from the ledger: each user's window cut in two, the rows before the cut
summed from the ledger, the rows from it on from the log through the engine.

The cut lies before the user's bound: the larger of the user's and the site's ``final_to``,
not past the horizon of the request's time, and a threshold before the user's earliest
row with an id beyond what the site compiled (a late row changes the laps a threshold
before it, and what follows). Every row before the bound is booked, final. The cut is the
bound itself where the user's latest booked session before it ended more than a threshold
before it (a row from the bound on begins a session); else the start of that session, or
of the latest before it in whose second no row of an earlier session lies (``figures`` and
``timemodel.sql`` hold the two parts). No session runs over a cut, so the two parts add up
to the whole window, sessions included. An answer reads the ledger in one snapshot: a
pass that commits meanwhile is not half seen. A ledger compiled under other settings, a
site or a user not in it, answer from the log alone; so does a ledger that cannot be
read, which is logged once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from functools import cache, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import (BigInteger, and_, bindparam, case, column, create_engine, exists, func,
                        literal, select, values)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Select

from ..config import DEFAULT_DATABASE_TIMEOUT
from ..moodle.database import connection_arguments
from ..moodle.queries import Queries
from ..moodle.siteconfig import SiteConfig
from ..timemodel import sql
from ..timemodel.engine import Usage
from ..timemodel.settings import TimeSettings
from . import tables
from .compiler import settings_text
from .figures import added, booked_usage
from .source import site_key

log = logging.getLogger(__name__)

_USERIDS = bindparam("userids", expanding=True)
_THRESHOLD = bindparam("threshold", type_=BigInteger)


class Ledger:
    """A ledger database the service reads (never writes) to answer."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._warned = False

    @classmethod
    def at(cls, url: str, timeout: int = DEFAULT_DATABASE_TIMEOUT) -> Ledger:
        """The ledger at ``url``, whose statements end within ``timeout`` seconds (a
        stalled ledger fails, and the log answers), sorting in memory as the Moodle
        database's do."""
        return cls(create_engine(url, connect_args=connection_arguments(url, timeout)))

    def absent(self) -> bool:
        """An SQLite ledger whose file is not made yet (reading would make it)."""
        url = self.engine.url
        return (url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
                and not Path(url.database).exists())

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection whose statements all read one snapshot of the ledger, however many
        passes commit meanwhile."""
        with self.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN")  # the driver begins before writes only
                yield conn
            else:
                yield conn.execution_options(isolation_level="REPEATABLE READ")

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
                  zone: ZoneInfo | None = None, *, now: int,
                  config: SiteConfig | None = None) -> dict[int, Usage]:
    """Each user's usage in the window, as ``timemodel.sql.usage_by_user`` gives it over the
    log (``conn``, read only), the final compiled rows read from ``ledger`` (``config``: the
    site's, if read already)."""
    starts = {u: start[u] if isinstance(start, Mapping) else start for u in userids
              if not isinstance(start, Mapping) or u in start}
    cuts, from_ledger = {}, {}
    if ledger is not None and starts and not ledger.absent():
        cuts, from_ledger = _from_ledger(conn, queries, ledger, starts, end, settings, zone,
                                         now, config)
    rest = {u: max(s, cuts.get(u, s)) for u, s in starts.items() if max(s, cuts.get(u, s)) <= end}
    if cuts and rest:
        rest = _logged(conn, queries.t, rest, end)
    from_log = {}
    if rest:
        alike = len(set(rest.values())) == 1
        from_log = sql.usage_by_user(conn, queries.t, list(rest),
                                     next(iter(rest.values())) if alike else rest, end,
                                     settings, zone, now=now)
    return {u: added(from_ledger[u], from_log[u]) if u in from_ledger and u in from_log
            else from_ledger.get(u) or from_log[u]
            for u in userids if u in from_ledger or u in from_log}


def _from_ledger(conn: Connection, queries: Queries, ledger: Ledger, starts: dict[int, int],
                 end: int, settings: TimeSettings, zone: ZoneInfo | None, now: int,
                 config: SiteConfig | None) -> tuple[dict[int, int], dict[int, Usage]]:
    """Each user's cut and the usage of their booked rows in the window before it, read in
    one snapshot of the ledger (nothing where it has nothing to give or cannot be read)."""
    key = site_key(conn, queries, config)
    horizon = now - max(settings.threshold, settings.lastpingcredit) * 60
    threshold = settings.threshold * 60
    with ExitStack() as stack:
        try:
            reader = stack.enter_context(ledger.reading())
            site, cuts = _compiled(reader, key, sorted(starts), horizon, threshold)
        except SQLAlchemyError as error:
            ledger.unusable(error)
            return {}, {}
        if site is None or site.settings != settings_text(settings) or not cuts:
            return {}, {}
        # a late row changes the laps a threshold before it, and what follows
        late = _late(conn, queries.t, sorted(cuts), site.compiled_id)
        try:
            again = {u: earliest - threshold for u, earliest in late.items()
                     if cuts[u][1] is not None and cuts[u][1] >= earliest - threshold}
            if again:
                cuts |= {u: (again[u], cut)
                         for u, cut in _cuts(reader, site.id, again, threshold).items()}
            found = {u: cut for u, (_, cut) in cuts.items() if cut is not None}
            return found, booked_usage(reader, site.id, {
                u: (starts[u], min(end, cut - 1)) for u, cut in found.items()}, zone)
        except SQLAlchemyError as error:
            ledger.unusable(error)
            return {}, {}


def _logged(conn: Connection, moodle: sql.LogTables, starts: dict[int, int],
            end: int) -> dict[int, int]:
    """The users of ``starts`` with a log row from their start to ``end``, with their start
    (the others have nothing more to count: a user cut at their bound, with no row since)."""
    latest = dict(conn.execute(_logged_query(moodle), {
        "userids": sorted(starts), "start": min(starts.values()), "end": end}).all())
    return {u: start for u, start in starts.items() if latest.get(u, start - 1) >= start}


@lru_cache(maxsize=64)
def _logged_query(moodle: sql.LogTables) -> Select:
    """Each user's latest log row from ``start`` to ``end``."""
    log = moodle.log.c
    return (select(log.userid, func.max(log.timecreated))
            .where(log.userid.in_(_USERIDS), log.timecreated.between(
                bindparam("start", type_=BigInteger), bindparam("end", type_=BigInteger)))
            .group_by(log.userid))


def _compiled(reader: Connection, key: str, userids: list[int], horizon: int, threshold: int):
    """The site's ledger row (None if the ledger has none) and, for each of the users the
    ledger holds, the time before which their rows are booked (the larger of the user's
    and the site's ``final_to``, but not past ``horizon``) and the cut at or before it."""
    found = reader.execute(_compiled_query(), {
        "key": key, "userids": userids, "horizon": horizon, "threshold": threshold}).all()
    if not found:
        return None, {}
    return found[0], {userid: (bound, cut) for *_, userid, bound, cut in found
                      if userid is not None}


@cache
def _compiled_query() -> Select:
    """The site's row (``key``) beside each of its users (``userids``) with their bound
    (not past ``horizon``) and cut."""
    s, u = tables.site.c, tables.user.c
    bound = _least(_greatest(u.final_to, func.coalesce(s.final_to, u.final_to)),
                   bindparam("horizon", type_=BigInteger))
    users = tables.site.outerjoin(tables.user, and_(u.site == s.id, u.userid.in_(_USERIDS)))
    return (select(s.id, s.settings, s.compiled_id, u.userid, bound,
                   _cut(s.id, u.userid, bound, _THRESHOLD))
            .select_from(users).where(s.key == bindparam("key")))


def _late(conn: Connection, moodle: sql.LogTables, userids: list[int],
          compiled_id: int) -> dict[int, int]:
    """The time of each user's earliest row (taking part) with an id beyond the site's
    compiled ones: rows the ledger has not booked yet."""
    return dict(conn.execute(_late_query(moodle),
                             {"userids": userids, "compiled_id": compiled_id}).all())


@lru_cache(maxsize=64)
def _late_query(moodle: sql.LogTables) -> Select:
    """Each user's (``userids``) earliest row taking part with an id beyond
    ``compiled_id``."""
    log = moodle.log.c
    return (select(log.userid, func.min(log.timecreated))
            .where(log.id > bindparam("compiled_id", type_=BigInteger),
                   log.userid.in_(_USERIDS), *sql.takes_part(moodle))
            .group_by(log.userid))


def _cuts(ledger: Connection, site: int, bounds: Mapping[int, int],
          threshold: int) -> dict[int, int | None]:
    """Each user's cut at or before their bound (None: no booked session starts before
    it)."""
    asked = values(column("userid", BigInteger), column("bound", BigInteger),
                   name="bounds").data(sorted(bounds.items())).cte("bounds")
    found = ledger.execute(select(asked.c.userid, _cut(literal(site), asked.c.userid,
                                                       asked.c.bound, _THRESHOLD)),
                           {"threshold": threshold})
    return dict(found.all())


def _cut(site: ColumnElement[int], userid: ColumnElement[int], bound: ColumnElement[int],
         threshold: ColumnElement[int]) -> ColumnElement[int]:
    """The user's cut: ``bound`` itself where their latest booked session before it ended
    more than a threshold before it (a row from ``bound`` on begins a session); else the
    latest start of a booked session before ``bound`` (its first row booked) in whose
    second no row of an earlier session lies."""
    s, earlier = tables.session.alias("starting"), tables.session.alias("earlier")
    mine = (s.c.site == site, s.c.userid == userid, s.c.session < bound)
    latest = (select(s.c.last).where(*mine)
              .order_by(s.c.session.desc(), s.c.session_row.desc()).limit(1).scalar_subquery())
    overlapped = exists().where(earlier.c.site == site, earlier.c.userid == userid,
                                earlier.c.last >= s.c.session, earlier.c.session < s.c.session)
    started = (select(s.c.session).where(*mine, s.c.start == s.c.session, ~overlapped)
               .order_by(s.c.session.desc()).limit(1).scalar_subquery())
    return case((latest < bound - threshold, bound), else_=started).label("cut")


def _least(a: ColumnElement[int], b: ColumnElement[int]) -> ColumnElement[int]:
    return case((a < b, a), else_=b)


def _greatest(a: ColumnElement[int], b: ColumnElement[int]) -> ColumnElement[int]:
    return case((a > b, a), else_=b)
