"""Per-day figures (daily, timezone) and the model echoed (MODEL), through the site on the
three databases: the worked example of docs/time-model.md, "Days"."""

from __future__ import annotations

from datetime import date

import pytest

from soap_usestats.auth.caller import OPERATOR
from soap_usestats.domain import params
from soap_usestats.domain.requests import StatsRequest
from soap_usestats.exceptions import InvalidParameter
from soap_usestats.moodle.database import connect
from soap_usestats.moodle.tables import MoodleTables
from soap_usestats.timemodel.settings import TimeModelOverrides
from tests.support.examples import NOW, WINDOW, ShapedSite, worked_example


@pytest.fixture
def example(builder, database_url):
    ids = worked_example(builder)
    site = ShapedSite(connect(database_url), MoodleTables())
    yield site, builder, ids
    site.engine.dispose()


def days(element) -> list[tuple[date, int, int]]:
    return [(d.DATE, d.SECONDS, d.ELAPSED) for d in element.DAYS or []]


def test_the_worked_example_in_etc_gmt_plus_1(example):
    site, _, _ = example
    stats = site.get_stats(StatsRequest(targetuser="alice", statsscope="course", **WINDOW,
                                        daily=True, timezone="Etc/GMT+1"), now=NOW,
                           caller=OPERATOR)
    assert days(stats.USER) == [(date(1969, 12, 31), 1900, 31), (date(1970, 1, 1), 900, 15)]
    (course,) = stats.COURSES
    assert days(course) == [(date(1969, 12, 31), 1840, 30), (date(1970, 1, 1), 900, 15)]
    assert stats.MODEL.TIMEZONE == "Etc/GMT+1"


def test_in_utc_one_day(example):
    site, _, _ = example
    stats = site.get_stats(StatsRequest(targetuser="alice", **WINDOW, daily=True, timezone="UTC"),
                           now=NOW, caller=OPERATOR)
    assert days(stats.USER) == [(date(1970, 1, 1), 2800, 46)]


def test_a_day_does_not_depend_on_the_window_that_holds_it(example):
    """Cut at local midnight in Etc/GMT+1 (3600 s), each window gives its day as the whole
    does: row 6, the last of 1969-12-31, keeps the lap and the carry the log gives it."""
    site, _, _ = example
    def daily(**window):
        stats = site.get_stats(StatsRequest(targetuser="alice", statsscope="course", **window,
                                            daily=True, timezone="Etc/GMT+1"),
                               now=NOW, caller=OPERATOR)
        return days(stats.USER), days(stats.COURSES[0])
    whole = daily(**WINDOW)
    eve, new_year = daily(timefrom=0, timeto=3599), daily(timefrom=3600, timeto=100000)
    assert eve == ([(date(1969, 12, 31), 1900, 31)], [(date(1969, 12, 31), 1840, 30)])
    assert new_year == ([(date(1970, 1, 1), 900, 15)], [(date(1970, 1, 1), 900, 15)])
    assert whole == (eve[0] + new_year[0], eve[1] + new_year[1])


def test_a_day_is_the_sum_of_the_windows_that_cut_it(example):
    """The spec's two windows that meet, [0, 1999] and [2000, 100000], in one UTC day."""
    site, _, _ = example
    def daily(**window):
        return days(site.get_stats(StatsRequest(targetuser="alice", **window, daily=True,
                                                timezone="UTC"), now=NOW, caller=OPERATOR).USER)
    assert daily(timefrom=0, timeto=1999) == [(date(1970, 1, 1), 900, 15)]
    assert daily(timefrom=2000, timeto=100000) == [(date(1970, 1, 1), 1900, 31)]
    assert daily(**WINDOW) == [(date(1970, 1, 1), 2800, 46)]


def test_no_days_unless_asked(example):
    site, _, _ = example
    stats = site.get_stats(StatsRequest(targetuser="alice", statsscope="course", **WINDOW),
                           now=NOW, caller=OPERATOR)
    assert stats.USER.DAYS is None and stats.COURSES[0].DAYS is None
    assert stats.MODEL.TIMEZONE is None


@pytest.mark.parametrize("settings, zone", [
    ({"timezone": "Etc/GMT+1"}, "Etc/GMT+1"),
    ({"forcetimezone": "Etc/GMT+1", "timezone": "Asia/Tokyo"}, "Etc/GMT+1"),
    ({"forcetimezone": "99", "timezone": "Etc/GMT+1"}, "Etc/GMT+1"),
    ({"forcetimezone": "", "timezone": "99"}, "UTC"),
    ({}, "UTC"),
    ({"timezone": "Not/AZone"}, "UTC"),
    ({"timezone": "Europe"}, "UTC"),
])
def test_the_default_zone_is_the_sites(example, settings, zone):
    site, b, _ = example
    for name, value in settings.items():
        b.config(name, value)
    stats = site.get_stats(StatsRequest(targetuser="alice", **WINDOW, daily=True), now=NOW,
                           caller=OPERATOR)
    assert stats.MODEL.TIMEZONE == zone


def test_an_unknown_zone_is_named(example):
    site, _, _ = example
    with pytest.raises(InvalidParameter, match="'Mars/Olympus' is not an IANA time zone"):
        site.get_stats(StatsRequest(targetuser="alice", daily=True, timezone="Mars/Olympus"),
                       now=NOW, caller=OPERATOR)


@pytest.mark.parametrize("name, saying", [
    ("x" * 5000, "timezone is longer than 64 characters"),
    ("Europe", "'Europe' is not an IANA time zone"),
], ids=["5000-characters", "a-directory"])
def test_a_name_that_is_no_zone_file_is_unknown(name, saying):
    """The zone database is files: such names failed as file names (Server.InternalError)."""
    with pytest.raises(InvalidParameter, match=saying):
        params.zone(name, "UTC")


def test_days_over_more_than_ten_years_are_refused(example):
    site, _, _ = example
    ten_years = 3653 * 86400
    site.get_stats(StatsRequest(targetuser="alice", timefrom=0, timeto=ten_years, daily=True),
                   now=NOW, caller=OPERATOR)
    with pytest.raises(InvalidParameter, match="at most 10 years"):
        site.get_stats(StatsRequest(targetuser="alice", timefrom=0, timeto=ten_years + 1,
                                    daily=True), now=NOW, caller=OPERATOR)
    site.get_stats(StatsRequest(targetuser="alice", timefrom=0, timeto=ten_years + 1), now=NOW,
                   caller=OPERATOR)


def test_the_model_is_echoed_with_the_values_used(example):
    site, b, _ = example
    b.config_plugin("block_use_stats", "threshold", "30")
    b.config_plugin("block_use_stats", "ignoremodules", "forum,chat")
    site.overrides = TimeModelOverrides(lastpingcredit=5)
    model = site.get_stats(StatsRequest(targetuser="alice", **WINDOW), now=NOW,
                           caller=OPERATOR).MODEL
    assert (model.THRESHOLD, model.LASTPINGCREDIT, model.IGNOREMODULES, model.CAPTUREMODULES,
            model.ENROLMENTFILTER) == (30, 5, "chat,forum", "learningtimecheck", False)
