"""The set-based engine (``timemodel.sql``) on SQLite, PostgreSQL and MariaDB.

The worked example of docs/time-model.md gives its figures by hand, over its
whole log and in two windows that meet; random logs of several users at once,
asked in random windows at a random time, give the reference engine's, to the
second, and random logs cut into consecutive windows add up to the whole. The
reference engine is fed each user's whole log, filtered here by the rules
themselves, so the shared row filter (``sql.log_rows``, behind
``Queries.log_events``) is checked too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import hypothesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from soap_usestats import contexts
from soap_usestats.moodle.queries import Queries
from soap_usestats.timemodel import days, sql
from soap_usestats.timemodel.engine import (
    CourseTally,
    LogEvent,
    ModuleTally,
    Session,
    Tally,
    Usage,
    estimate,
    label,
)
from soap_usestats.timemodel.settings import TimeSettings
from tests.support.databases import BACKENDS, fresh_database
from tests.support.moodle import MoodleBuilder
from tests.support.statements import counting

EMPTY = Usage(Tally(), {}, {}, [])
YEAR_2024, YEAR_2025 = 1704067200, 1735689600
YEAR = 31556952  # seconds in an average Gregorian year

# --- the worked example ---------------------------------------------------------


def worked_example(b: MoodleBuilder, *usernames: str) -> tuple[list[int], int]:
    """The rows of the worked example (docs/time-model.md), for each user: their ids, course 5's."""
    c5 = b.course("C5")
    b.module(c5, "quiz", "Quiz one", cmid=31)
    b.module(c5, "learningtimecheck", "Checklist", cmid=32)
    users = [b.user(username) for username in usernames or ["alice"]]
    for u in users:
        b.log(u, 1000, "loggedin", "user", 10)
        b.log(u, 1060, "viewed", "course", 50, c5)
        b.log(u, 1300, "viewed", "course_module", 70, c5, 31, "mod_quiz")
        b.log(u, 1500, "graded", "user", 50, c5)
        b.log(u, 1900, "viewed", "course_module", 70, c5, 32, "mod_learningtimecheck")
        b.log(u, 2000, "viewed", "course", 50, c5)
        b.log(u, 11000, "viewed", "course_module", 70, c5, 31, "mod_quiz")
    return users, c5


@pytest.mark.parametrize("zone, user_days, course_days", [
    (None, {}, {}),
    ("UTC", {date(1970, 1, 1): 2800}, {date(1970, 1, 1): 2740}),
    ("Etc/GMT+1", {date(1969, 12, 31): 1900, date(1970, 1, 1): 900},
     {date(1969, 12, 31): 1840, date(1970, 1, 1): 900}),
])
def test_worked_example(builder, zone, user_days, course_days):
    (user,), c5 = worked_example(builder)
    with builder.engine.connect() as conn:
        usage = sql.usage(conn, builder.tables, user, 0, 100000, TimeSettings(),
                          zone and ZoneInfo(zone), now=100000)
    assert usage == Usage(
        total=Tally(seconds=2800, events=5, first=1000, last=11000, days=user_days),
        courses={c5: CourseTally(seconds=2740, events=4, first=1060, last=11000,
                                 days=course_days, activities=1500, course=1240, other=0)},
        modules={31: ModuleTally(seconds=1500, events=2, first=1300, last=11000,
                                 courseid=c5, label="quiz")},
        sessions=[Session(1000, 2900, 1900), Session(11000, 11900, 900)],
    )


def test_two_windows_that_meet(builder):
    """The spec's example: [0, 1999] and [2000, 100000] add up to the whole, 900 + 1900 = 2800."""
    (user,), c5 = worked_example(builder)
    with builder.engine.connect() as conn:
        first, second = (sql.usage(conn, builder.tables, user, start, end, TimeSettings(),
                                   now=100000) for start, end in ((0, 1999), (2000, 100000)))
    assert first.total == Tally(seconds=900, events=3, first=1000, last=1300)
    assert first.sessions == [Session(1000, 2000, 900)]  # row 5's lap runs to row 6
    assert second.total == Tally(seconds=1900, events=2, first=2000, last=11000)
    assert second.courses[c5].course == 1000  # row 6 with row 5's carry
    assert second.sessions == [Session(2000, 2900, 1000), Session(11000, 11900, 900)]
    assert first.total.seconds + second.total.seconds == 2800


def test_many_users_at_once_each_from_its_own_start(builder):
    (alice, bob), _ = worked_example(builder, "alice", "bob")
    carol = builder.user("carol")
    with counting(builder.engine) as statements, builder.engine.connect() as conn:
        usages = sql.usage_by_user(conn, builder.tables, [alice, bob, carol],
                                   {alice: 0, bob: 5000}, 100000, TimeSettings(), now=100000)
        assert sql.usage_by_user(conn, builder.tables, [], 0, 100000, TimeSettings(),
                                 now=100000) == {}
    assert len(statements) == 2  # the reach, one span back; the figures
    assert sorted(usages) == [alice, bob]  # carol has no start, and no rows
    assert (usages[alice].total.seconds, usages[bob].total.seconds) == (2800, 900)
    assert usages[bob].sessions == [Session(11000, 11900, 900)]


def test_users_by_a_select(builder):
    (alice,), _ = worked_example(builder)
    users = select(builder.tables.user.c.id).where(builder.tables.user.c.username == "alice")
    with builder.engine.connect() as conn:
        usages = sql.usage_by_user(conn, builder.tables, users, 0, 100000, TimeSettings(),
                                   now=100000)
    assert usages[alice].total.seconds == 2800


def test_the_latest_row_is_credited_until_now_not_the_window_end(builder):
    (user,), _ = worked_example(builder)
    with builder.engine.connect() as conn:
        def total(end, now):
            return sql.usage(conn, builder.tables, user, 0, end, TimeSettings(), now=now).total
        assert total(11000, 100000).seconds == 2800    # the window ends at row 7: full credit
        assert total(100000, 11300).seconds == 2200    # asked 300 s after row 7
        assert total(100000, 10000).seconds == 1900    # row 7 is stamped in the future


def test_a_lap_runs_past_the_window_end_to_the_next_row(builder):
    (user,), c5 = worked_example(builder)
    with builder.engine.connect() as conn:
        usage = sql.usage(conn, builder.tables, user, 0, 1300, TimeSettings(), now=100000)
    assert usage.total.seconds == 900 and usage.modules[31].seconds == 600
    assert usage.sessions == [Session(1000, 1900, 900)]  # row 3's lap runs over row 4 to row 5


def test_days_at_the_second_the_offset_changes(builder):
    """Sao Paulo fell back at local midnight: 2018-02-18 00:00 (UTC-2) became 02-17 23:00 (UTC-3)."""
    change = 1518919200
    user, course = builder.user("alice"), builder.course("C5")
    builder.log(user, change, "viewed", "course", 50, course)
    builder.log(user, change + 3600, "viewed", "course", 50, course)  # 00:00 on the 18th
    with builder.engine.connect() as conn:
        usage = sql.usage(conn, builder.tables, user, change - 86400, change + 86400,
                          TimeSettings(), ZoneInfo("America/Sao_Paulo"), now=change + 86400)
    assert usage.total.days == {date(2018, 2, 17): 3600, date(2018, 2, 18): 900}


# --- the reach: the rows before the window that decide its seconds ---------------

DAY = 86400


@pytest.mark.parametrize("copies", [1, 5])
def test_the_reach_costs_a_bounded_number_of_statements(builder, copies):
    """Users whose last carry reset lies 100 s, two days, two months, two years before the
    window, or nowhere, and users with no row before it: each span back is one statement
    for every user still looking, whatever their number; then one for the figures."""
    course = builder.course("C5")
    builder.module(course, "learningtimecheck", "Checklist", cmid=32)
    start = 10 * 366 * DAY
    expected = {}
    for copy in range(copies):
        for back in (100, 2 * DAY, 60 * DAY, 2 * 366 * DAY, None, 0):
            user = builder.user(f"u{copy}-{back}")
            if back is None:  # only a checklist view, three years before: no reset at all
                builder.log(user, start - 3 * 366 * DAY, "viewed", "course_module", 70, course,
                            32, "mod_learningtimecheck")
            elif back:  # a course view resets the carry, then a checklist view carries
                builder.log(user, start - back, "viewed", "course", 50, course)
                builder.log(user, start - back + 10, "viewed", "course_module", 70, course, 32,
                            "mod_learningtimecheck")
            builder.log(user, start + 10, "viewed", "course", 50, course)
            # the window's row: its credit (900 s) and the carry (the checklist's lap)
            expected[user] = 900 + (0 if back == 0 else 100 if back == 100 else 900)
    with counting(builder.engine) as statements, builder.engine.connect() as conn:
        usages = sql.usage_by_user(conn, builder.tables, list(expected), start, start + DAY,
                                   TimeSettings(), now=start + 2 * DAY)
    assert {user: usage.total.seconds for user, usage in usages.items()} == expected
    assert len(statements) == len(sql.LOOK_BACK) + 2


def test_the_reach_stops_at_the_log_s_first_row(builder):
    (user,), _ = worked_example(builder)
    with counting(builder.engine) as statements, builder.engine.connect() as conn:
        for start in (0, 1000):  # the log's first row is at 1000
            assert sql.usage(conn, builder.tables, user, start, 100000, TimeSettings(),
                             now=100000).total.seconds == 2800
    assert len(statements) == 4  # each: one span back, then the figures


# --- the zone's offsets ----------------------------------------------------------


def test_offsets_of_a_year_in_paris():
    spring, autumn = 1711846800, 1729990800  # 2024-03-31 and 2024-10-27, 01:00 UTC
    assert days.offsets(ZoneInfo("Europe/Paris"), YEAR_2024, YEAR_2025) == [
        (YEAR_2024, 3600), (spring, 7200), (autumn, 3600)]


def test_offsets_without_a_change():
    assert days.offsets(ZoneInfo("Etc/GMT+1"), 0, 100000) == [(0, -3600)]


def test_the_days_sql_is_the_same_for_every_window_with_as_many_offsets():
    """Its values are bound as it runs: a statement built for one day serves the next."""
    paris, day = ZoneInfo("Europe/Paris"), 86400
    winter = sql.LocalDays.of(paris, YEAR_2024, YEAR_2024 + day - 1)
    summer = sql.LocalDays.of(paris, YEAR_2024 + 200 * day, YEAR_2024 + 201 * day - 1)
    year = sql.LocalDays.of(paris, YEAR_2024, YEAR_2025)
    assert winter.keys == summer.keys != year.keys
    assert winter.bound() == {"day_offset0": 3600 - winter.origin * day}
    assert summer.bound() == {"day_offset0": 7200 - summer.origin * day}
    assert year.bound() == {"day_since1": 1711846800, "day_since2": 1729990800,
                            **{f"day_offset{n}": offset - year.origin * day
                               for n, offset in enumerate((3600, 7200, 3600))}}


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.sampled_from(["Europe/Paris", "America/New_York", "Australia/Lord_Howe",
                        "Asia/Kathmandu", "America/Sao_Paulo", "Africa/Casablanca"]),
       st.integers(0, 2**31 - 30 * 10**7), st.integers(0, 10 * 365 * 86400), st.data())
def test_offsets_match_the_zone_everywhere(name, start, length, data):
    zone = ZoneInfo(name)
    changes = days.offsets(zone, start, start + length)
    t = data.draw(st.integers(start, start + length))
    in_force = [offset for since, offset in changes if since <= t][-1]
    assert in_force == _offset(zone, t)
    assert all(_offset(zone, since - 1) != offset for since, offset in changes[1:])


def _offset(zone: ZoneInfo, t: int) -> int:
    return int(datetime.fromtimestamp(t, zone).utcoffset().total_seconds())


# --- random logs: the SQL engine against the reference engine --------------------

#: The static rows of the site the random logs are about.
COURSES = {"C5": 5, "C7": 7}
#: cmid -> (course, module type) of the course modules that exist.
COURSE_MODULES = {31: ("C5", "quiz"), 32: ("C5", "learningtimecheck"), 33: ("C5", "forum"),
                  41: ("C7", "forum"), 42: ("C7", "page")}
USERS = (2, 3, 4, 5)
LABELS = ["user", "system", "course", "quiz", "learningtimecheck", "forum", "page", "scorm",
          "unknown"]
#: Zones with daylight saving time (Lord Howe's is half an hour; Sao Paulo's fell back at
#: midnight), without, and with an odd offset.
ZONES = [None, "UTC", "Etc/GMT+1", "Europe/Paris", "America/New_York", "Australia/Lord_Howe",
         "America/Sao_Paulo", "Asia/Kathmandu"]


def _kind(action="viewed", target="course", level=contexts.COURSE, course="C5", cm=0,
          component="core", origin="web", realuserid=None) -> dict:
    return {"action": action, "target": target, "contextlevel": level, "course": course,
            "cm": cm, "component": component, "origin": origin, "realuserid": realuserid}


def _module(cm: int, course: str | None = None, component: str | None = None) -> dict:
    known = COURSE_MODULES.get(cm)
    return _kind(target="course_module", level=contexts.MODULE, cm=cm,
                 course=course or known[0], component=component or f"mod_{known[1]}")


#: Rows by kind; the module views and the logins come more often.
KINDS = {
    "login": _kind("loggedin", "user", contexts.SYSTEM, 0),
    "login with a NULL course": _kind("loggedin", "user", contexts.SYSTEM, None),
    "logout": _kind("loggedout", "user", contexts.SYSTEM, 0),
    "course C5": _kind(course="C5"),
    "course C7": _kind(course="C7"),
    "site course": _kind(course="site"),
    "category page": _kind(level=contexts.CATEGORY, course="C7"),
    "block": _kind(level=contexts.BLOCK, course="C5"),
    "user page in a course": _kind(target="user", level=contexts.USER, course="C5"),
    "system page in a course": _kind(target="config", level=contexts.SYSTEM, course="C7"),
    "quiz": _module(31),
    "checklist": _module(32),
    "checklist again": _module(32),
    "forum in C5": _module(33),
    "forum in C7": _module(41),
    "page": _module(42),
    "quiz, odd component": _module(31, component="core"),
    "quiz before it moved to C5": _module(31, "C7"),
    "deleted scorm": _module(43, "C7", "mod_scorm"),
    "deleted scorm, logged oddly": _module(43, "C5", "core"),
    "deleted, no mod_ component": _module(99, "C5", "core"),
    "deleted page": _module(98, "C5", "mod_page"),
    "graded": _kind("graded", "user", course="C5"),
    "graded in C7": _kind("graded", "user", course="C7"),
    "graded, not a user": _kind("graded", "submission", course="C5"),
    "NULL origin": _kind(course="C7", origin=None),
    "cli": _kind(course="C5", origin="cli"),
    "failed": _kind("failed", "user", contexts.SYSTEM, 0),
    "failed in a course": _kind("failed", course="C5"),
    "logged in as": _kind(course="C7", realuserid=99),
    "dashboard (course 0)": _kind(target="dashboard", level=contexts.USER, course=0),
    "NULL course": _kind(course=None),
}
#: Kinds that come in runs.
RUNS = {"graded", "graded in C7", "checklist", "login"}


def _event(row: dict) -> LogEvent:
    """A stored row as the reference engine reads it."""
    cm = row["contextinstanceid"]
    module = COURSE_MODULES.get(cm, (None, None))[1] if row["contextlevel"] == contexts.MODULE else None
    return LogEvent(row["id"], row["timecreated"], row["action"], row["target"],
                    row["contextlevel"], cm, row["courseid"] or 0, row["component"], module)


def _takes_part(row: dict) -> bool:
    """"Which log rows take part", but for the user and the window."""
    return (row["origin"] != "cli" and row["action"] != "failed" and row["realuserid"] is None
            and bool(row["courseid"] or row["action"] in ("loggedin", "loggedout")))


#: The label of each kind of row that takes part.
LABELS_OF = {name: label(_event({**kind, "id": 0, "timecreated": 0, "courseid": 1,
                                 "contextinstanceid": kind["cm"]}))
             for name, kind in KINDS.items() if _takes_part({**kind, "courseid": kind["course"]})}


@dataclass
class Log:
    """Rows of several users (courses by key, each with the name of its kind), a window,
    the time of the request, settings and a zone; and a user asked for alone."""

    rows: list[dict]
    start: int | dict[int, int]
    end: int
    now: int
    settings: TimeSettings
    zone: str | None
    by_select: bool
    alone: int


@st.composite
def time_settings(draw) -> TimeSettings:
    labels = st.frozensets(st.sampled_from(LABELS), max_size=3)
    capture = draw(st.one_of(st.just(frozenset({"learningtimecheck"})), labels))
    return TimeSettings(draw(st.integers(0, 120)), draw(st.integers(0, 180)), draw(labels),
                        capture)


def steps(time_model: TimeSettings) -> st.SearchStrategy[list[str]]:
    """The kinds of the next rows: one, a run, or a captured row, a row that may drop its
    carry (a logout, a login, an ignored row), and any row."""
    single = st.sampled_from(sorted(KINDS)).flatmap(
        lambda name: st.lists(st.just(name), min_size=1, max_size=3 if name in RUNS else 1))
    captured = [name for name, label_ in LABELS_OF.items()
                if label_ in time_model.capturemodules - time_model.ignoremodules]
    if not captured:
        return single
    ignored = [name for name, label_ in LABELS_OF.items() if label_ in time_model.ignoremodules]
    episode = st.tuples(st.sampled_from(captured), st.sampled_from(["logout", "login", *ignored]),
                        st.sampled_from(sorted(KINDS)))
    return st.one_of(single, episode.map(list))


@st.composite
def origins(draw, zone: str | None) -> int:
    """Where the logs begin: about a change of the zone's offset (shortly before it, at it,
    or shortly before the next local midnight) if it has any that year, else at the epoch
    or anywhere in the year."""
    year = YEAR_2024 + draw(st.integers(-40, 12)) * YEAR
    changes = [since for since, _ in days.offsets(ZoneInfo(zone), year, year + YEAR)[1:]] if zone else []
    if not changes:
        return draw(st.one_of(st.integers(0, 86400), st.integers(year, year + YEAR)))
    change = draw(st.sampled_from(changes))
    midnight = _midnight_after(ZoneInfo(zone), change)
    return draw(st.one_of(st.integers(change - 86400, change), st.just(change),
                          st.integers(midnight - 3 * 3600, midnight)))


def _midnight_after(zone: ZoneInfo, t: int) -> int:
    day = datetime.fromtimestamp(t, zone).date() + timedelta(days=1)
    return int(datetime.combine(day, datetime.min.time(), zone).timestamp())


@st.composite
def logs(draw) -> Log:
    time_model, zone = draw(time_settings()), draw(st.sampled_from(ZONES))
    threshold = time_model.threshold * 60
    gaps = st.one_of(st.just(0), st.integers(0, 300), st.integers(0, 7200),
                     st.integers(3000, 40000), st.sampled_from([threshold, threshold + 1]))
    origin, rows = draw(origins(zone)), []
    for user in draw(st.lists(st.sampled_from(USERS), min_size=2, max_size=4, unique=True)):
        time = origin + draw(st.one_of(st.just(0), st.integers(0, 7200)))
        for names in draw(st.lists(steps(time_model), min_size=3, max_size=20)):
            for name in names:
                time += draw(gaps)
                rows.append(dict(KINDS[name], kind=name, userid=user, timecreated=time))
    for row, id_ in zip(rows, draw(st.permutations(range(1, len(rows) + 1)))):
        row["id"] = id_
    first, last = min(row["timecreated"] for row in rows), max(row["timecreated"] for row in rows)
    start = draw(st.one_of(st.integers(first - 1000, first), st.integers(first, last)))
    end = draw(st.one_of(st.integers(last, last + 5000), st.integers(start, max(start, last))))
    if draw(st.booleans()):
        start = {user: draw(st.integers(start - 1000, start + 7200)) for user in USERS}
    # asked after every row, at the window's end, or with the latest rows in the future;
    # after the latest row, often within its credit: inside the last session
    credit = time_model.lastpingcredit * 60
    now = draw(st.one_of(st.integers(last, last + credit + 600), st.just(end),
                         st.integers(first, last)))
    return Log(rows, start, end, now, time_model, zone, draw(st.booleans()),
               draw(st.sampled_from(USERS)))


def moodle_of_the_logs(url: str) -> MoodleBuilder:
    """A Moodle at ``url`` with the courses, course modules and users the random logs use."""
    b = MoodleBuilder(url)
    for shortname, id_ in COURSES.items():
        b.course(shortname, id=id_)
    for cm, (course, modname) in COURSE_MODULES.items():
        b.module(COURSES[course], modname, f"{modname} {cm}", cmid=cm)
    for user in USERS:
        b.user(f"user{user}", id=user)
    return b


@pytest.fixture(scope="module", params=BACKENDS)
def site(request, tmp_path_factory):
    """One database per backend for every example: courses and modules; the log changes."""
    url, drop = fresh_database(request.param, tmp_path_factory.mktemp(request.param))
    b = moodle_of_the_logs(url)
    yield SimpleNamespace(engine=b.engine, tables=b.tables,
                          courses={**COURSES, "site": b.site_course, 0: 0, None: None})
    b.engine.dispose()
    drop()


def _store(site, log: Log) -> list[dict]:
    """Replace the log table's rows with the log's, as Moodle stores them."""
    rows = [{**{k: v for k, v in row.items() if k not in ("course", "cm", "kind")},
             "courseid": site.courses[row["course"]],
             "contextinstanceid": row["cm"] or site.courses[row["course"]] or 0}
            for row in log.rows]
    with site.engine.begin() as conn:
        conn.execute(delete(site.tables.log))
        if rows:
            conn.execute(insert(site.tables.log), rows)
    return rows


def _whole_log(rows: list[dict], userid: int) -> list[LogEvent]:
    """The user's rows that take part, in order, as the reference reads them."""
    events = [_event(row) for row in rows if row["userid"] == userid and _takes_part(row)]
    return sorted(events, key=lambda e: (e.time, e.id))


def _start_of(log: Log, userid: int) -> int:
    return log.start[userid] if isinstance(log.start, Mapping) else log.start


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(log=logs())
def test_sql_engine_equals_the_reference(site, log: Log):
    rows = _store(site, log)
    zone = log.zone and ZoneInfo(log.zone)
    users = select(site.tables.user.c.id) if log.by_select else list(USERS)
    with site.engine.connect() as conn:
        got = sql.usage_by_user(conn, site.tables, users, log.start, log.end, log.settings, zone,
                                now=log.now)
        for user in USERS:
            start, events = _start_of(log, user), _whole_log(rows, user)
            assert list(Queries(site.tables).log_events(conn, user, start, log.end)) == [
                e for e in events if start <= e.time <= log.end]
            expected = estimate(events, log.now, log.settings, zone, (start, log.end))
            assert got.get(user, EMPTY) == expected, user
            if user == log.alone:  # alone, a user's windows have no partition
                assert sql.usage(conn, site.tables, user, start, log.end, log.settings, zone,
                                 now=log.now) == expected


# --- random logs cut into windows that meet ------------------------------------------

def _cut_places(log: Log) -> dict[str, list[int]]:
    """Where to cut the log, by kind of place: each a time ``c``, the end of a window
    whose next begins at ``c + 1``."""
    threshold, places = log.settings.threshold * 60, defaultdict(list)
    captured = log.settings.capturemodules - log.settings.ignoremodules
    for user in USERS:
        mine = sorted((row for row in log.rows if row["userid"] == user
                       and _takes_part({**row, "courseid": row["course"]})),
                      key=lambda row: (row["timecreated"], row["id"]))
        for row, after in zip(mine, [*mine[1:], None]):
            t = row["timecreated"]
            places["on a row"] += [t - 1, t]
            if row["action"] == "loggedin":
                places["just after a login"].append(t)
            t_after = t if after is None else after["timecreated"]
            if t < t_after:
                middle = (t + t_after) // 2
                if t_after - t <= threshold:
                    places["between rows of one session"].append(middle)
                if LABELS_OF[row["kind"]] in captured and row["action"] != "loggedout":
                    places["inside a carry"] += [t, middle, t_after - 1]
                if after["action"] == "graded" and after["target"] == "user":
                    places["between a row and an absorbed grading"] += [t, t_after - 1]
    return places


#: The places to cut that fewer logs have.
RARE_PLACES = {"inside a carry", "between a row and an absorbed grading", "just after a login"}


@st.composite
def cut_logs(draw) -> tuple[Log, list[tuple[int, int]]]:
    """A log with one window start, and its window cut at one to three places into
    windows that meet."""
    log = draw(logs())
    start = min(log.start.values()) if isinstance(log.start, Mapping) else log.start
    places = {kind: inside for kind, times in _cut_places(log).items()
              if (inside := sorted({t for t in times if start <= t < log.end}))}
    if start < log.end and not places:
        places["anywhere"] = [start, log.end - 1]
    kinds = sorted(places) + 3 * sorted(RARE_PLACES & set(places))  # the rare, four times
    cuts = set()
    for _ in range(draw(st.integers(1, 3)) if places else 0):
        kind = draw(st.sampled_from(kinds))
        hypothesis.event(kind)
        cuts.add(draw(st.integers(*places[kind]) if kind == "anywhere"
                      else st.sampled_from(places[kind])))
    ends = sorted(cuts) + [log.end]
    windows = list(zip([start] + [cut + 1 for cut in ends[:-1]], ends))
    return replace(log, start=start), windows


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cut=cut_logs())
def test_windows_that_meet_add_up_to_the_whole(site, cut):
    log, windows = cut
    rows = _store(site, log)
    zone = log.zone and ZoneInfo(log.zone)
    with site.engine.connect() as conn:
        def figures(start, end):
            return sql.usage_by_user(conn, site.tables, list(USERS), start, end, log.settings,
                                     zone, now=log.now)
        whole, parts = figures(log.start, log.end), [figures(*window) for window in windows]
    for user in USERS:
        events = _whole_log(rows, user)
        assert whole.get(user, EMPTY) == estimate(events, log.now, log.settings, zone,
                                                  (log.start, log.end)), user
        for (start, end), part in zip(windows, parts):
            assert part.get(user, EMPTY) == estimate(events, log.now, log.settings, zone,
                                                     (start, end)), (user, start, end)
        _add_up(whole.get(user, EMPTY), [part.get(user, EMPTY) for part in parts])


def _add_up(whole: Usage, parts: list[Usage]) -> None:
    """The parts' figures add up to the whole's: seconds, events and days of the user, each
    course and module; first and last times; sessions split into parts."""
    assert _summed([p.total for p in parts]) == _summed([whole.total])
    for key in ("courses", "modules"):
        tallies = [getattr(part, key) for part in parts]
        assert {item for found in tallies for item in found} == set(getattr(whole, key))
        for item, tally in getattr(whole, key).items():
            found = [tallies_of[item] for tallies_of in tallies if item in tallies_of]
            assert _summed(found) == _summed([tally])
    split = [session for part in parts for session in part.sessions]
    assert sum(s.seconds for s in split) == sum(s.seconds for s in whole.sessions)
    assert len(whole.sessions) <= len(split) <= len(whole.sessions) + len(parts) - 1
    for session in split:
        assert any(s.start <= session.start <= session.end <= s.end for s in whole.sessions)


def _summed(tallies: list[Tally]) -> tuple:
    """Seconds, events, first and last times, days, and a course's parts, of tallies together."""
    days: dict[date, int] = defaultdict(int)
    for tally in tallies:
        for day, seconds in tally.days.items():
            days[day] += seconds
    firsts = [t.first for t in tallies if t.first is not None]
    lasts = [t.last for t in tallies if t.last is not None]
    parts = [sum(getattr(t, part, 0) for t in tallies)
             for part in ("activities", "course", "other")]
    return (sum(t.seconds for t in tallies), sum(t.events for t in tallies),
            min(firsts, default=None), max(lasts, default=None), dict(days), parts)
