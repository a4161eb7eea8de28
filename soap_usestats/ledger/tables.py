"""The ledger's tables (SQLAlchemy Core), every one keyed by site.

- ``ledger_site``: a Moodle site, by ``key`` (its ``siteidentifier``, else its wwwroot);
  the time model settings its rows were compiled with; ``compiled_id``: every log row with
  an id up to it has been read; ``final_to``: the horizon of the last whole pass.
- ``ledger_row``: one row per processed log row whose L is final: its lap, its counted
  seconds (NULL when not counted), its session (the time of the session's first processed
  row, and that row's log id as ``session_row``: two sessions may begin in the same
  second), its course, course module (contextlevel 70 only, with its module type as
  ``label``) and ``part`` of the course (:data:`PARTS`).
- ``ledger_user``: how far each user is compiled: every processed row of the user older
  than ``final_to`` whose id is at most ``compiled_id`` is in ``ledger_row``. A user
  a pass did not touch had nothing new: the site's ``final_to`` and ``compiled_id`` hold
  for them too (a reader takes the larger of the user's and the site's).
- ``ledger_quarter``: the counted rows of ``ledger_row`` summed per user, quarter hour
  (``bucket``: the time of its start, a multiple of :data:`QUARTER`) and place (course,
  course module, part, label): seconds, events, first and last time, and ``newest``, the
  latest row of a course module as text (time, then log id, in fixed widths). The days
  of every zone whose offsets are multiples of a quarter hour are unions of quarter hours.
- ``ledger_period``: the same sums per :data:`PERIOD` (from ``ledger_quarter``), so that a
  long window reads a row per place and period, not per quarter hour.
- ``ledger_session``: each session of ``ledger_row`` (``session``, ``session_row`` (0 for
  none)): the time of its first and last processed rows (``start``, ``last``), its
  ``end`` (the last row's time plus its lap), its counted seconds and events.
- ``ledger_kept``: what each change of a site's settings left booked under the old ones
  (``kept``): the settings, the time of the log's oldest row then (``log_from``; the rows
  older than it the log no longer held, and keep their bookings), how many rows that was
  (those not kept by an earlier change) and when (``changed``).
- ``ledger_lock``: leases with an expiry (``lock``): one compiler at a time.

The rows, quarter hours and periods have no foreign key to ``ledger_site``:
checking one for each row written would cost a first compile a third of its time.

The pass that books a user's rows refreshes the user's quarter hours, periods and sessions
from the first it changed (``rollup``), in the same transaction.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

#: The seconds of a quarter hour, the rollup's unit of time.
QUARTER = 900
#: The seconds of a period, the rollup's coarse unit: four weeks, whole quarter hours.
PERIOD = 28 * 86400
#: The parts of a course a counted row's seconds go to ("Counting"), as ``part``.
PARTS = {"activities": 1, "course": 2, "other": 3}

metadata = MetaData()

site = Table(
    "ledger_site", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(255), nullable=False, unique=True),
    Column("settings", Text, nullable=False),
    Column("compiled_id", BigInteger, nullable=False, default=0),
    Column("final_to", BigInteger),
    Column("updated", BigInteger, nullable=False),
)

row = Table(
    "ledger_row", metadata,
    Column("site", Integer, primary_key=True, autoincrement=False),
    Column("logid", BigInteger, primary_key=True, autoincrement=False),
    Column("userid", BigInteger, nullable=False),
    Column("timecreated", BigInteger, nullable=False),
    Column("lap", Integer, nullable=False),
    Column("seconds", Integer),
    Column("session", BigInteger, nullable=False),
    Column("courseid", BigInteger, nullable=False),
    Column("cmid", BigInteger),
    Column("label", String(64)),
    Column("part", SmallInteger, nullable=False),
    Column("session_row", BigInteger),
    Index("ledger_row_user_time_ix", "site", "userid", "timecreated"),
)

user = Table(
    "ledger_user", metadata,
    Column("site", Integer, ForeignKey("ledger_site.id"), primary_key=True, autoincrement=False),
    Column("userid", BigInteger, primary_key=True, autoincrement=False),
    Column("final_to", BigInteger, nullable=False),
    Column("compiled_id", BigInteger, nullable=False),
)

def _sums(name: str) -> Table:
    """A table of counted rows summed per user, span of time (``bucket``: its start) and
    place."""
    return Table(
        name, metadata,
        Column("site", Integer, nullable=False),
        Column("userid", BigInteger, nullable=False),
        Column("bucket", BigInteger, nullable=False),
        Column("courseid", BigInteger, nullable=False),
        Column("cmid", BigInteger),
        Column("part", SmallInteger, nullable=False),
        Column("label", String(64)),
        Column("seconds", BigInteger, nullable=False),
        Column("events", Integer, nullable=False),
        Column("first", BigInteger, nullable=False),
        Column("last", BigInteger, nullable=False),
        Column("newest", String(40)),
        Index(f"{name}_user_bucket_ix", "site", "userid", "bucket"),
    )


quarter = _sums("ledger_quarter")
period = _sums("ledger_period")

session = Table(
    "ledger_session", metadata,
    Column("site", Integer, ForeignKey("ledger_site.id"), primary_key=True, autoincrement=False),
    Column("userid", BigInteger, primary_key=True, autoincrement=False),
    Column("session", BigInteger, primary_key=True, autoincrement=False),
    Column("session_row", BigInteger, primary_key=True, autoincrement=False),
    Column("start", BigInteger, nullable=False),
    Column("last", BigInteger, nullable=False),
    Column("end", BigInteger, nullable=False),
    Column("seconds", BigInteger, nullable=False),
    Column("events", Integer, nullable=False),
    Index("ledger_session_user_last_ix", "site", "userid", "last"),
)

kept = Table(
    "ledger_kept", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site", Integer, ForeignKey("ledger_site.id"), nullable=False),
    Column("settings", Text, nullable=False),
    Column("log_from", BigInteger, nullable=False),
    Column("rows_kept", BigInteger, nullable=False),
    Column("changed", BigInteger, nullable=False),
)

lock = Table(
    "ledger_lock", metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(255), nullable=False),
    Column("expires", BigInteger, nullable=False),
)
