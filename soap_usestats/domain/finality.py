"""When figures stop changing: ``FINALBEFORE`` and the final days (docs/time-model.md, "Days").

A new log row changes only the laps of the rows in the ``threshold`` before it,
and the latest row's lap stops growing after ``lastpingcredit``: so every row
older than ``now - max(threshold, lastpingcredit)`` minutes has its final
seconds. A local day is final once it lies wholly before that instant: once its
next local midnight, in the zone of the days, is not after it. The zone's own
rules say when that midnight is, so a day of 23 or 25 hours ends when it ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..timemodel.settings import TimeSettings

ONE_DAY = timedelta(days=1)


def final_before(settings: TimeSettings, now: int) -> int:
    """The Unix time before which every row's seconds are final, at ``now``."""
    return now - 60 * max(settings.threshold, settings.lastpingcredit)


def day_end(day: date, zone: ZoneInfo) -> int:
    """The Unix time ``day`` ends in ``zone``: its next local midnight.

    A midnight the clocks skip is the instant they jump (a time in a gap is read
    with the offset before it); a midnight they repeat is its first occurrence.
    """
    return int(datetime.combine(day + ONE_DAY, time(), zone).timestamp())


def first_open_day(zone: ZoneInfo, before: int) -> date:
    """The first local day in ``zone`` that does not lie wholly before ``before``: every day
    before it is final, it and every day after it are not."""
    day = datetime.fromtimestamp(before, zone).date()
    while day_end(day - ONE_DAY, zone) > before:     # clocks that ran back past midnight
        day -= ONE_DAY
    while day_end(day, zone) <= before:
        day += ONE_DAY
    return day


def final_days(days: Iterable[date], zone: ZoneInfo | None, before: int | None
               ) -> frozenset[date]:
    """The ``days`` (local to ``zone``) that lie wholly before ``before``; none without a zone
    or an instant."""
    if zone is None or before is None:
        return frozenset()
    first_open = first_open_day(zone, before)
    return frozenset(day for day in days if day < first_open)
