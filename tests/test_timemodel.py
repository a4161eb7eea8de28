"""Tests of the use_stats time model's reference engine (docs/time-model.md)."""

from __future__ import annotations

from datetime import date
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from soap_usestats.timemodel.engine import (
    CourseTally,
    LogEvent,
    ModuleTally,
    Session,
    Tally,
    Usage,
    estimate,
    label,
    laps,
)
from soap_usestats.timemodel.settings import TimeSettings

FAR = 10**9  # a time far after every row
DEFAULTS = TimeSettings()


# --- rows -------------------------------------------------------------------

_ids = count(1)


def row(time, action="viewed", target="course", level=50, course=5, cm=0,
        component="core", module=None, id=None) -> LogEvent:
    """A log row; by default a view of course 5."""
    return LogEvent(next(_ids) if id is None else id, time, action, target,
                    level, cm, course, component, module)


def login(time, **kw):
    return row(time, "loggedin", "user", level=10, course=0, **kw)


def logout(time, **kw):
    return row(time, "loggedout", "user", level=10, course=0, **kw)


def graded(time, course=5, **kw):
    return row(time, "graded", "user", course=course, **kw)


def activity(time, cm, module, course=5, **kw):
    return row(time, target="course_module", level=70, cm=cm, course=course,
               component=f"mod_{module}", module=module, **kw)


def ltc(time, **kw):
    return activity(time, 32, "learningtimecheck", **kw)


def quiz(time, **kw):
    return activity(time, 31, "quiz", **kw)


def figures(events, now=FAR, settings=DEFAULTS):
    """(lap, counted L) of each processed row, the log asked about at ``now``."""
    return [(lap.lap, lap.counted) for lap in laps(events, now, settings)]


# --- the worked example -------------------------------------------------------

EXAMPLE = [
    login(1000, id=1),
    row(1060, id=2),
    quiz(1300, id=3),
    graded(1500, id=4),
    ltc(1900, id=5),
    row(2000, id=6),
    quiz(11000, id=7),
]


def test_worked_example_laps():
    got = [(lap.event.id, lap.label, lap.lap, lap.counted, lap.session_start)
           for lap in laps(EXAMPLE, 100000, DEFAULTS)]
    assert got == [
        (1, "user", 60, 60, True),
        (2, "course", 240, 240, False),
        (3, "quiz", 600, 600, False),
        (5, "learningtimecheck", 100, None, False),
        (6, "course", 900, 1000, False),
        (7, "quiz", 900, 900, True),
    ]


def test_worked_example_usage():
    usage = estimate(EXAMPLE, 100000)
    assert usage == Usage(
        total=Tally(seconds=2800, events=5, first=1000, last=11000),
        courses={5: CourseTally(seconds=2740, events=4, first=1060, last=11000,
                                activities=1500, course=1240, other=0)},
        modules={31: ModuleTally(seconds=1500, events=2, first=1300, last=11000,
                                 courseid=5, label="quiz")},
        sessions=[Session(1000, 2900, 1900), Session(11000, 11900, 900)],
    )
    elapsed = [usage.total.seconds // 60, usage.courses[5].seconds // 60,
               usage.modules[31].seconds // 60]
    assert elapsed == [46, 45, 25]


def test_worked_example_days():
    """The doc's days: local midnight in Etc/GMT+1 falls at 3600 s after the epoch."""
    usage = estimate(EXAMPLE, 100000, zone=ZoneInfo("Etc/GMT+1"))
    assert usage.total.days == {date(1969, 12, 31): 1900, date(1970, 1, 1): 900}
    assert usage.courses[5].days == {date(1969, 12, 31): 1840, date(1970, 1, 1): 900}
    assert usage.modules[31].days == {}
    utc = estimate(EXAMPLE, 100000, zone=ZoneInfo("UTC"))
    assert (utc.total.days, utc.courses[5].days) == ({date(1970, 1, 1): 2800},
                                                    {date(1970, 1, 1): 2740})
    assert estimate(EXAMPLE, 100000).total.days == {}


def test_worked_example_in_two_windows_that_meet():
    """Each window reports its rows with the seconds the whole log gives them: 900 + 1900."""
    first, second = (estimate(EXAMPLE, 100000, window=window)
                     for window in ((0, 1999), (2000, 100000)))
    assert (first.total.seconds, second.total.seconds) == (900, 1900)
    assert first.sessions == [Session(1000, 2000, 900)]
    assert second.sessions == [Session(2000, 2900, 1000), Session(11000, 11900, 900)]
    assert second.courses[5] == CourseTally(seconds=1900, events=2, first=2000, last=11000,
                                            activities=900, course=1000)
    assert estimate(EXAMPLE, 100000, window=(0, 100000)) == estimate(EXAMPLE, 100000)


# --- days -----------------------------------------------------------------------

PARIS = ZoneInfo("Europe/Paris")
#: 2024-03-31 01:00 UTC: Paris goes from UTC+1 to UTC+2, at local 02:00 (then 03:00).
SPRING = 1711846800


def test_a_lap_is_booked_to_its_row_s_day_even_past_midnight():
    midnight = 86400  # 1970-01-02 in UTC
    usage = estimate([row(midnight - 100), row(midnight + 200)], FAR, zone=ZoneInfo("UTC"))
    assert usage.total.days == {date(1970, 1, 1): 300, date(1970, 1, 2): 900}


def test_days_follow_the_offset_in_force_at_each_row():
    # 22:30 UTC on the eve is 23:30 in Paris in winter; the night after, 22:30 UTC is 00:30.
    eve = SPRING - 2 * 3600 - 30 * 60
    usage = estimate([row(eve), row(eve + 86400)], SPRING + 86400, zone=PARIS)
    assert usage.total.days == {date(2024, 3, 30): 900, date(2024, 4, 1): 900}


def test_a_day_booked_with_no_seconds_is_reported():
    usage = estimate([row(1000)], 1000, zone=ZoneInfo("UTC"))
    assert usage.total.days == {date(1970, 1, 1): 0}


def test_within_courses_keeps_their_days():
    events = [row(0, course=5), row(100, course=7), login(86400)]
    usage = estimate(events, FAR, zone=ZoneInfo("UTC")).within({5, 7})
    assert usage.total.days == {date(1970, 1, 1): 1000}
    assert usage.total.seconds == 1000


# --- labels -------------------------------------------------------------------

@pytest.mark.parametrize("event, expected", [
    (activity(0, 31, "quiz"), "quiz"),
    (row(0, level=70, cm=99, component="mod_forum"), "forum"),
    (row(0, level=70, cm=99, component="core"), "unknown"),
    (login(0), "user"),
    (logout(0), "system"),
    (row(0, level=10, course=0), "system"),
    (row(0, target="user", level=30), "user"),
    (row(0, level=40), "course"),
    (row(0, level=50), "course"),
    (row(0, level=80), "course"),
])
def test_label(event, expected):
    assert label(event) == expected


# --- counting -----------------------------------------------------------------

def test_ignored_row_drops_its_time_and_keeps_the_carry():
    ignoring = TimeSettings(ignoremodules=frozenset({"forum"}))
    events = [ltc(0), activity(100, 33, "forum"), row(300)]
    assert figures(events, settings=ignoring) == [(100, None), (200, None), (900, 1000)]


def test_capture_is_carried_once():
    assert figures([ltc(0), row(100), row(300)]) == [(100, None), (200, 300), (900, 900)]
    assert estimate([ltc(0), row(100), row(300)], FAR).total.seconds == 1200


def test_loggedin_resets_the_carry():
    assert figures([ltc(0), login(100), row(400)]) == [(100, None), (300, 300), (900, 900)]


def test_loggedout_counts_nothing_resets_the_carry_and_ends_the_session():
    events = [row(0), ltc(50), logout(100), row(200)]
    assert figures(events, now=2000) == [(50, 50), (50, None), (100, None), (900, 900)]
    starts = [lap.session_start for lap in laps(events, 2000, DEFAULTS)]
    assert starts == [True, False, False, True]
    assert estimate(events, 2000).sessions == [Session(0, 200, 50), Session(200, 1100, 900)]


def test_capture_carry_crosses_a_session_break():
    """Only a login, a logout or a counted row spends the carry (the spec's rules, literally)."""
    events = [ltc(0), row(10000)]
    assert figures(events) == [(900, None), (900, 1800)]
    assert estimate(events, FAR).sessions == [Session(10000, 10900, 1800)]


def test_the_latest_row_s_lap_grows_until_now_reaches_the_credit():
    assert figures([row(1000)], now=1300) == [(300, 300)]
    assert figures([row(1000)], now=5000) == [(900, 900)]
    assert estimate([row(1000)], 1000).sessions == [Session(1000, 1000, 0)]


def test_a_row_stamped_in_the_future_gets_nothing_until_its_time():
    assert figures([row(0), row(5000)], now=1000) == [(900, 900), (0, 0)]


def test_a_lap_to_the_next_row_is_its_gap_whatever_now():
    assert figures([row(0), row(100)], now=50) == [(100, 100), (0, 0)]


def test_a_lap_runs_past_the_window_end_and_is_booked_where_its_row_is():
    events = [row(0), quiz(500), row(1000)]
    usage = estimate(events, FAR, window=(0, 999))
    assert (usage.total.seconds, usage.modules[31].seconds) == (1000, 500)
    assert usage.sessions == [Session(0, 1000, 1000)]


def test_the_carry_and_absorption_at_the_window_start_are_the_log_s():
    events = [row(0), ltc(100), graded(150), row(400)]
    assert estimate(events, FAR, window=(120, FAR)).total == Tally(
        seconds=900 + 300, events=1, first=400, last=400)
    assert estimate(events, FAR, window=(150, FAR)).total.seconds == 1200  # absorbed at 150


def test_a_graded_row_is_processed_only_as_the_user_s_first():
    events = [graded(0), row(100)]
    assert estimate(events, FAR, window=(0, 50)).total.seconds == 100


def test_gap_over_the_threshold_is_a_break_credited_lastpingcredit():
    assert figures([row(0), row(3600)]) == [(3600, 3600), (900, 900)]
    assert figures([row(0), row(3601)]) == [(900, 900), (900, 900)]
    sessions = estimate([row(0), row(3601)], FAR).sessions
    assert sessions == [Session(0, 900, 900), Session(3601, 4501, 900)]


def test_graded_first_row_is_processed_as_usual():
    events = [graded(0, id=1), graded(50, id=2), row(100, id=3)]
    got = [(lap.event.id, lap.label, lap.lap, lap.counted) for lap in laps(events, FAR, DEFAULTS)]
    assert got == [(1, "course", 100, 100), (3, "course", 900, 900)]


def test_graded_run_at_the_end_ends_the_look_ahead():
    assert figures([row(0), graded(100), graded(200)], now=500) == [(500, 500)]


def test_events_and_first_last_follow_counted_rows_only():
    usage = estimate([ltc(0), row(100), quiz(200), ltc(300)], FAR)
    assert usage.total == Tally(seconds=300, events=2, first=100, last=200)
    assert usage.courses[5] == CourseTally(seconds=300, events=2, first=100, last=200,
                                           activities=100, course=200)
    assert usage.modules == {31: ModuleTally(seconds=100, events=1, first=200, last=200,
                                             courseid=5, label="quiz")}


def test_course_parts():
    events = [row(0), quiz(10), row(30, target="user", level=30)]
    course = estimate(events, 100).courses[5]
    assert (course.seconds, course.course, course.activities, course.other) == (100, 10, 20, 70)


def test_courseid_0_rows_count_in_the_total_only():
    usage = estimate([login(0), logout(100)], FAR)
    assert usage.total == Tally(seconds=100, events=1, first=0, last=0)
    assert (usage.courses, usage.modules) == ({}, {})


def test_session_without_counted_rows_is_not_reported():
    ignoring = TimeSettings(ignoremodules=frozenset({"forum"}))
    events = [activity(0, 33, "forum"), ltc(100), login(10000)]
    assert estimate(events, FAR, ignoring).sessions == [Session(10000, 10900, 900)]


def test_empty_input():
    assert list(laps([], FAR, DEFAULTS)) == []
    assert estimate([], FAR) == Usage(Tally(), {}, {}, [])


# --- properties ---------------------------------------------------------------

#: cmid -> (course, module type; None for a deleted course module)
COURSE_MODULES = {31: (5, "quiz"), 32: (5, "learningtimecheck"), 33: (5, "forum"),
                  41: (7, "forum"), 42: (7, "page"), 43: (7, None)}
LABELS = ["user", "system", "course", "quiz", "forum", "page", "learningtimecheck", "scorm"]


def _module_view(time, cm):
    course, module = COURSE_MODULES[cm]
    return row(time, target="course_module", level=70, cm=cm, course=course,
               component=f"mod_{module or 'scorm'}", module=module)


KINDS = st.one_of(
    st.just(login),
    st.just(logout),
    st.sampled_from([5, 7, 1]).map(lambda c: lambda t: row(t, course=c)),
    st.sampled_from([5, 7]).map(lambda c: lambda t: row(t, target="user", level=30, course=c)),
    st.sampled_from(sorted(COURSE_MODULES)).map(lambda cm: lambda t: _module_view(t, cm)),
    st.sampled_from([5, 7]).map(lambda c: lambda t: graded(t, course=c)),
)
GAPS = st.one_of(st.integers(0, 600), st.integers(0, 7200), st.integers(3000, 40000))
MODULE_SETS = st.frozensets(st.sampled_from(LABELS), max_size=2)


@st.composite
def time_settings(draw, credit_within_threshold=False):
    """Varied settings; the credit stays within the threshold when asked."""
    threshold = draw(st.integers(1, 120))
    credit = draw(st.integers(0, threshold if credit_within_threshold else 180))
    capture = draw(st.one_of(st.just(DEFAULTS.capturemodules), MODULE_SETS))
    return TimeSettings(threshold, credit, draw(MODULE_SETS), capture)


@st.composite
def logs(draw, max_rows=30):
    """Rows in time order and the time of the request, at or after the last of them."""
    time = draw(st.integers(0, 10**6))
    events = []
    for make in draw(st.lists(KINDS, max_size=max_rows)):
        time += draw(GAPS) if events else 0
        events.append(make(time))
    return events, time + draw(st.integers(0, 5000))


def _counted(events, to, settings, courseless=False):
    return sum(lap.counted for lap in laps(events, to, settings)
               if lap.counted is not None and (not courseless or lap.event.courseid == 0))


@given(logs(), time_settings())
def test_total_is_the_sum_of_counted_laps(log, settings):
    events, to = log
    assert estimate(events, to, settings).total.seconds == _counted(events, to, settings)


@given(logs(), time_settings())
def test_course_parts_and_courses_add_up(log, settings):
    events, to = log
    usage = estimate(events, to, settings)
    for course in usage.courses.values():
        assert course.seconds == course.activities + course.course + course.other
    courses = sum(course.seconds for course in usage.courses.values())
    assert courses + _counted(events, to, settings, courseless=True) == usage.total.seconds


@given(logs(), time_settings())
def test_sessions_add_up_to_the_total(log, settings):
    events, to = log
    usage = estimate(events, to, settings)
    assert sum(session.seconds for session in usage.sessions) == usage.total.seconds


@given(logs(), time_settings(), st.data())
def test_absorbed_rows_change_nothing(log, settings, data):
    events, to = log
    with_gradings = list(events)
    if events:
        for _ in range(data.draw(st.integers(1, 5))):
            at = data.draw(st.integers(1, len(with_gradings)))
            low = with_gradings[at - 1].time
            high = with_gradings[at].time if at < len(with_gradings) else to
            with_gradings.insert(at, graded(data.draw(st.integers(low, high))))
    assert estimate(with_gradings, to, settings) == estimate(events, to, settings)


@hsettings(max_examples=200)
@given(logs(), time_settings(credit_within_threshold=True))
def test_total_fits_the_window_and_modules_fit_their_course(log, settings):
    events, to = log
    usage = estimate(events, to, settings)
    assert 0 <= usage.total.seconds <= (to - events[0].time if events else 0)
    for courseid, course in usage.courses.items():
        modules = [m.seconds for m in usage.modules.values() if m.courseid == courseid]
        # every level-70 row here has its course module's course
        assert sum(modules) == course.activities


@given(logs(), time_settings(), st.data())
def test_windows_that_meet_add_up(log, settings, data):
    events, now = log
    cut = data.draw(st.integers(-1, now))
    whole = estimate(events, now, settings)
    parts = [estimate(events, now, settings, window=window)
             for window in ((0, cut), (cut + 1, now))]
    assert sum(p.total.seconds for p in parts) == whole.total.seconds
    assert sum(p.total.events for p in parts) == whole.total.events
    for courseid, course in whole.courses.items():
        in_parts = [p.courses[courseid].seconds for p in parts if courseid in p.courses]
        assert sum(in_parts) == course.seconds
    split = [s.seconds for p in parts for s in p.sessions]
    assert sum(split) == whole.total.seconds
    assert len(whole.sessions) <= len(split) <= len(whole.sessions) + 1


@given(logs(), time_settings())
def test_a_window_holding_the_whole_log_changes_nothing(log, settings):
    events, now = log
    first = events[0].time if events else 0
    assert estimate(events, now, settings, window=(first, now)) == estimate(events, now, settings)
