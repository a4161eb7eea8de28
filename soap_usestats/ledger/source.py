"""What the compiler reads of a Moodle site: its key, and its log by id and by time.

Only the rows that take part in the model (``timemodel.sql.takes_part``) count; a
pass reads the rows with ids up to the newest it saw when it began (``upto``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import groupby
from operator import itemgetter

from sqlalchemy import and_, func, not_, select
from sqlalchemy.engine import Connection

from ..moodle.queries import STREAM_BATCH, Queries
from ..moodle.siteconfig import SiteConfig
from ..timemodel.engine import LogEvent
from ..timemodel.sql import log_rows, takes_part

#: Log ids read by one statement of the scan of new rows.
ID_BATCH = 100_000
#: Times before and after every log row.
FIRST_TIME, LAST_TIME = -(2**62), 2**62


def site_key(conn: Connection, queries: Queries, config: SiteConfig | None = None) -> str:
    """The site's ``siteidentifier``, else its wwwroot: what the ledger keys it by
    (``config``: the site's, if read already)."""
    config = config or SiteConfig.read(conn, queries)
    return config.get("siteidentifier") or queries.wwwroot(conn, config.localhost) or ""


def newest_id(conn: Connection, queries: Queries) -> int:
    """The id of the log's newest row (0 for an empty log)."""
    return conn.scalar(select(func.max(queries.t.log.c.id))) or 0


def oldest_time(conn: Connection, queries: Queries, upto: int) -> int | None:
    """The time of the log's oldest row that takes part (ids up to ``upto``); None if none."""
    log = queries.t.log.c
    return conn.scalar(select(func.min(log.timecreated))
                       .where(log.id <= upto, *takes_part(queries.t)))


def new_rows(conn: Connection, queries: Queries, after: int,
             upto: int) -> Iterator[tuple[int, int, int, int]]:
    """For the log's rows with ids in ``(after, upto]``, batch by batch of ids: the batch's
    last id, and each user with a row in it, the earliest time and the count of those rows."""
    log = queries.t.log.c
    query = (select(log.userid, func.min(log.timecreated), func.count())
             .where(*takes_part(queries.t)).group_by(log.userid))
    for low in range(after, upto, ID_BATCH):
        high = min(low + ID_BATCH, upto)
        for userid, earliest, count in conn.execute(query.where(log.id > low, log.id <= high)):
            yield high, userid, earliest, count


def final_rows(conn: Connection, queries: Queries, after: int, upto: int,
               before: int) -> list[tuple[int, int, int]]:
    """The rows with ids in ``(after, upto]`` older than ``before`` that a pass books (those
    that take part, but gradings of the user, which the model absorbs unless a user's very
    first row): each one's id, user and time."""
    log = queries.t.log.c
    absorbed = and_(log.action == "graded", log.target == "user")
    return [tuple(row) for row in conn.execute(
        select(log.id, log.userid, log.timecreated)
        .where(log.id > after, log.id <= upto, log.timecreated < before, not_(absorbed),
               *takes_part(queries.t)))]


def ripened(conn: Connection, queries: Queries, since: int, horizon: int,
            upto: int) -> dict[int, int]:
    """The users with rows (ids up to ``upto``) in ``[since, horizon)``: those rows have
    become final since the last pass; by user, how many."""
    log = queries.t.log.c
    query = (select(log.userid, func.count())
             .where(log.timecreated >= since, log.timecreated < horizon, log.id <= upto,
                    *takes_part(queries.t)).group_by(log.userid))
    return dict(conn.execute(query).all())


def users_rows(conn: Connection, queries: Queries, since: Mapping[int, int] | None,
               upto: int) -> Iterator[tuple[int, Iterator[LogEvent]]]:
    """Stream the rows that take part of each user of ``since`` from their own time on (None:
    every user's whole log; ids up to ``upto``), user after user in id order, each one's in
    order, as ``Queries.log_events`` does: the user, and their rows (users without any are
    left out)."""
    users = (None, FIRST_TIME) if since is None else (list(since), dict(since))
    rows = (log_rows(queries.t, *users, LAST_TIME)
            .where(queries.t.log.c.id <= upto).subquery("taking_part").c)
    query = (select(rows.userid, rows.id, rows.timecreated, rows.action, rows.target,
                    rows.contextlevel, rows.contextinstanceid, rows.courseid, rows.component,
                    rows.modname)
             .order_by(rows.userid, rows.timecreated, rows.id))
    with conn.execution_options(stream_results=True, yield_per=STREAM_BATCH).execute(query) as result:
        for userid, found in groupby(result, key=itemgetter(0)):
            yield userid, (LogEvent(*row[1:]) for row in found)
