"""Local days of a time zone over a window, for engines that cannot ask the zone row by row.

A database may lack a zone's rules (SQLite; MariaDB without its time zone
tables), so the zone's UTC offsets over the window are worked out here, with
:mod:`zoneinfo`, and the database only adds the offset in force at each instant.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

#: Seconds in a day of local time.
DAY = 86400
#: Offsets are sampled once a day: the tz database has no two changes of offset
#: less than four days apart (the closest, Africa/Freetown in 1939), so a change
#: between two samples is the only one there.
STEP = DAY
_EPOCH = date(1970, 1, 1)


def offset(zone: tzinfo, t: int) -> int:
    """The zone's UTC offset at the Unix time ``t``, in seconds."""
    return int(datetime.fromtimestamp(t, zone).utcoffset().total_seconds())


def offsets(zone: tzinfo, start: int, end: int) -> list[tuple[int, int]]:
    """The zone's UTC offsets over ``[start, end]``: ``(since, seconds)`` pairs in time order.

    Each offset is in force from its ``since`` to the next one's; the first
    ``since`` is ``start``.
    """
    changes = [(start, offset(zone, start))]
    for low in range(start, end, STEP):
        high = min(low + STEP, end)
        if offset(zone, high) != changes[-1][1]:
            since = _change(zone, low, high)
            changes.append((since, offset(zone, since)))
    return changes


def _change(zone: tzinfo, low: int, high: int) -> int:
    """The instant in ``(low, high]`` the offset changes, knowing it changes once there."""
    before = offset(zone, low)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if offset(zone, middle) == before else (low, middle)
    return high


def date_of(number: int) -> date:
    """The date of a day number: days since 1970-01-01."""
    return _EPOCH + timedelta(days=number)
