"""When figures become final, through the site on the three databases: ``USER`` carries
``FINALBEFORE``, now less the greater of threshold and lastpingcredit, from the settings in
force; with daily, each ``DAY`` of the user and of each course is ``FINAL`` once its next
local midnight is not after ``FINALBEFORE``: across a change of daylight saving time (Europe/
Paris), west of UTC (America/New_York), and where midnight itself is skipped."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from soap_usestats.auth.caller import OPERATOR
from soap_usestats.domain.finality import day_end, final_days
from soap_usestats.domain.requests import StatsRequest
from soap_usestats.moodle.database import connect
from soap_usestats.moodle.tables import MoodleTables
from soap_usestats.timemodel.settings import TimeModelOverrides
from tests.support.examples import NOW, WINDOW, ShapedSite, worked_example


def utc(text: str) -> int:
    """A Unix time from an ISO 8601 UTC time (``2024-03-31T22:00``)."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


@pytest.fixture
def site(builder, database_url):
    one = ShapedSite(connect(database_url), MoodleTables())
    yield one
    one.engine.dispose()


@pytest.mark.parametrize("block, overrides, now, minutes", [
    ({}, {}, NOW, 60),                                              # the defaults: 60 and 15
    ({}, {}, 1_700_000_000, 60),
    ({"threshold": "10", "lastpingcredit": "30"}, {}, NOW, 30),     # the site's block settings
    ({"threshold": "10"}, {"lastpingcredit": 90}, NOW + 7, 90),     # the deployment's win
    ({"threshold": "0", "lastpingcredit": "0"}, {}, NOW, 0),
], ids=["defaults", "another-now", "block", "overrides", "zero"])
def test_finalbefore_is_now_less_the_longer_setting(builder, site, block, overrides, now,
                                                    minutes):
    worked_example(builder)
    for name, value in block.items():
        builder.config_plugin("block_use_stats", name, value)
    site.overrides = TimeModelOverrides(**overrides)
    stats = site.get_stats(StatsRequest(targetuser="alice", **WINDOW), now=now, caller=OPERATOR)
    assert stats.USER.FINALBEFORE == datetime.fromtimestamp(now - 60 * minutes, UTC)
    assert max(stats.MODEL.THRESHOLD, stats.MODEL.LASTPINGCREDIT) == minutes


def busy_days(builder, *times: int) -> None:
    """alice, with a course page viewed at each of ``times``."""
    alice = builder.user("alice")
    course = builder.course("C1")
    for t in times:
        builder.log(alice, t, "viewed", "course", 50, course)


def finality(site, zone: str, now: int, start: int) -> tuple[dict, dict]:
    """Each day's FINAL, of the user and of the course, asked at ``now``."""
    stats = site.get_stats(StatsRequest(targetuser="alice", statsscope="course", daily=True,
                                        timezone=zone, timefrom=start, timeto=now),
                           now=now, caller=OPERATOR)
    (course,) = stats.COURSES
    return ({d.DATE: d.FINAL for d in stats.USER.DAYS},
            {d.DATE: d.FINAL for d in course.DAYS})


#: Paris springs forward on 2024-03-31 (a day of 23 hours, ending at 22:00 UTC) and falls back
#: on 2024-10-27 (25 hours, ending at 23:00 UTC).
SPRING = date(2024, 3, 31)
AUTUMN = date(2024, 10, 27)


@pytest.mark.parametrize("day, ends", [(SPRING, "2024-03-31T22:00"),
                                       (AUTUMN, "2024-10-27T23:00")], ids=["spring", "autumn"])
def test_a_day_of_a_change_of_time_is_final_when_it_ends(builder, site, day, ends):
    end = utc(ends)
    busy_days(builder, end - 86400 - 7200, end - 7200, end + 7200)   # the day before, it, after
    start = end - 3 * 86400
    before, it, after = day.fromordinal(day.toordinal() - 1), day, day.fromordinal(
        day.toordinal() + 1)
    # FINALBEFORE is now less 60 minutes (the default threshold).
    almost = finality(site, "Europe/Paris", end + 3600 - 1, start)
    assert almost == ({before: True, it: False}, {before: True, it: False})
    ended = finality(site, "Europe/Paris", end + 3600, start)
    assert ended == ({before: True, it: True}, {before: True, it: True})
    later = finality(site, "Europe/Paris", end + 3 * 3600, start)
    assert later[0] == {before: True, it: True, after: False}


def test_west_of_utc_a_day_ends_at_its_own_midnight(builder, site):
    """21:00 in New York on 15 January is 02:00 UTC on the 16th: the 15th ends at 05:00 UTC."""
    busy_days(builder, utc("2024-01-15T15:00"), utc("2024-01-16T02:00"))
    start, end = utc("2024-01-15T00:00"), utc("2024-01-16T05:00")
    fifteenth = date(2024, 1, 15)
    assert finality(site, "America/New_York", end + 3600 - 1, start) == (
        {fifteenth: False}, {fifteenth: False})
    assert finality(site, "America/New_York", end + 3600, start) == (
        {fifteenth: True}, {fifteenth: True})


def test_without_days_nothing_is_said_final(builder, site):
    busy_days(builder, 1000)
    stats = site.get_stats(StatsRequest(targetuser="alice", statsscope="course"), now=NOW,
                           caller=OPERATOR)
    assert stats.USER.DAYS is None and stats.COURSES[0].DAYS is None
    assert stats.USER.FINALBEFORE == datetime.fromtimestamp(NOW - 3600, UTC)


@pytest.mark.parametrize("zone, day, ends", [
    ("America/Sao_Paulo", date(2018, 11, 3), "2018-11-04T03:00"),   # midnight skipped
    ("America/Havana", date(2024, 3, 9), "2024-03-10T05:00"),       # midnight skipped
    ("America/Sao_Paulo", date(2019, 2, 16), "2019-02-17T03:00"),   # 23:00 to 24:00 twice
    ("Europe/Paris", SPRING, "2024-03-31T22:00"),
    ("Europe/Paris", AUTUMN, "2024-10-27T23:00"),
    ("UTC", date(2024, 1, 15), "2024-01-16T00:00"),
])
def test_a_day_ends_at_its_next_local_midnight(zone, day, ends):
    assert day_end(day, ZoneInfo(zone)) == utc(ends)
    assert final_days([day], ZoneInfo(zone), utc(ends)) == {day}
    assert final_days([day], ZoneInfo(zone), utc(ends) - 1) == set()
