"""The ledger's compiler: the booked rows of every user equal the reference engine over the
user's whole log, for the rows older than the horizon, however the log was compiled.

On a Moodle on SQLite, PostgreSQL and MariaDB, into a ledger on SQLite and PostgreSQL:
compiled in passes while rows arrive (some late: a new id with an older time), as in one
pass at the end; log rows Moodle deletes keep their bookings; a change of the settings
books the log again, and records how many rows it kept under which settings.
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from soap_usestats.ledger import batches, compiler, kept, migrate, tables
from soap_usestats.moodle.database import connect
from soap_usestats.moodle.queries import Queries
from soap_usestats.timemodel.engine import LogEvent
from soap_usestats.timemodel.settings import TimeSettings
from tests.support.databases import BACKENDS, fresh_database
from tests.support.ledger import booked_rows, emptied, expected_rows, rollup_and_refilled
from tests.support.moodle import MoodleBuilder
from tests.test_sql_engine import (
    COURSES,
    USERS,
    _event,
    _store,
    _takes_part,
    logs,
    moodle_of_the_logs,
)

LEDGERS = ["sqlite", "postgresql", "mariadb"]
SETTINGS = TimeSettings()
HORIZON = max(SETTINGS.threshold, SETTINGS.lastpingcredit) * 60


@pytest.fixture(params=LEDGERS)
def ledger(request, tmp_path):
    url, drop = fresh_database(request.param, tmp_path)
    engine = migrate.ledger_engine(url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()
    drop()


def _compile(b: MoodleBuilder, ledger, now: int, time_settings: TimeSettings = SETTINGS):
    moodle = connect(b.url)
    try:
        return compiler.compile(moodle, Queries(b.tables), ledger, time_settings, now)
    finally:
        moodle.dispose()


def _events(b: MoodleBuilder, userid: int) -> list[LogEvent]:
    with b.engine.connect() as conn:
        return list(Queries(b.tables).log_events(conn, userid, -(2**62), 2**62))


def _expected(b: MoodleBuilder, users, now: int, time_settings: TimeSettings = SETTINGS) -> dict:
    horizon = now - max(time_settings.threshold, time_settings.lastpingcredit) * 60
    return {logid: row for userid in users
            for logid, row in expected_rows(_events(b, userid), userid, now, time_settings,
                                            horizon).items()}


def _school(b: MoodleBuilder):
    """Two learners in a course with a quiz and a checklist."""
    course = b.course("C5")
    quiz = b.module(course, "quiz", "Quiz one", cmid=31)
    checklist = b.module(course, "learningtimecheck", "Checklist", cmid=32)
    return SimpleNamespace(course=course, quiz=quiz, checklist=checklist,
                           users=[b.user("alice"), b.user("bob")])


def _day(b: MoodleBuilder, school, userid: int, t: int) -> None:
    """The worked example's rows, from the time ``t``."""
    c5 = school.course
    b.log(userid, t, "loggedin", "user", 10)
    b.log(userid, t + 60, "viewed", "course", 50, c5)
    b.log(userid, t + 300, "viewed", "course_module", 70, c5, school.quiz, component="mod_quiz")
    b.log(userid, t + 500, "graded", "user", 50, c5)
    b.log(userid, t + 900, "viewed", "course_module", 70, c5, school.checklist,
          component="mod_learningtimecheck")
    b.log(userid, t + 1000, "viewed", "course", 50, c5)
    b.log(userid, t + 10000, "viewed", "course_module", 70, c5, school.quiz, component="mod_quiz")


def test_the_worked_example_is_booked_as_the_model_gives_it(builder, ledger):
    school = _school(builder)
    alice = school.users[0]
    _day(builder, school, alice, 1000)
    outcome = _compile(builder, ledger, now=100000)
    booked = booked_rows(ledger)
    assert [(row[1], row[2], row[3], row[4]) for row in booked.values()] == [
        (1000, 60, 60, 1000), (1060, 240, 240, 1000), (1300, 600, 600, 1000),
        (1900, 100, None, 1000), (2000, 900, 1000, 1000), (11000, 900, 900, 11000)]
    assert booked == _expected(builder, [alice], 100000)
    assert (outcome.users, outcome.rows, outcome.final_to) == (1, 6, 100000 - HORIZON)


def test_passes_while_rows_arrive_late_book_what_one_pass_at_the_end_does(builder, ledger):
    school = _school(builder)
    alice, bob = school.users
    _day(builder, school, alice, 1000)
    _day(builder, school, bob, 1500)
    _compile(builder, ledger, now=8000)        # the last rows not final yet
    _day(builder, school, alice, 30000)
    builder.log(alice, 1950, "viewed", "course", 50, school.course)   # late: inside a carry
    builder.log(bob, 1400, "loggedin", "user", 10)                    # late: before everything
    _compile(builder, ledger, now=40000)
    builder.log(alice, 30100, "graded", "user", 50, school.course)    # late, absorbed
    builder.log(bob, 11400, "viewed", "course", 50, school.course)    # late, in a session
    outcome = _compile(builder, ledger, now=100000)
    assert booked_rows(ledger) == _expected(builder, school.users, 100000)
    assert outcome.users == 2
    emptied(ledger)
    _compile(builder, ledger, now=100000)
    assert booked_rows(ledger) == _expected(builder, school.users, 100000)


def test_a_row_committed_late_under_a_lower_id_is_booked_and_nothing_else_again(builder, ledger):
    school = _school(builder)
    alice, bob = school.users
    _day(builder, school, alice, 1000)
    last = builder.log(alice, 11100, "viewed", "course", 50, school.course)
    builder.log(bob, 3000, "loggedin", "user", 10, id=last + 50)  # committed before lower ids
    assert _compile(builder, ledger, now=100000).compiled_id == last + 50
    builder.log(alice, 1950, "viewed", "course", 50, school.course, id=last + 20)  # in a carry
    builder.log(bob, 2000, "loggedin", "user", 10, id=last + 21)                   # before bob's
    outcome = _compile(builder, ledger, now=100000)
    assert (outcome.users, outcome.compiled_id) == (2, last + 50)
    assert booked_rows(ledger) == _expected(builder, school.users, 100000)
    assert _compile(builder, ledger, now=100000).users == 0  # the absorbed grading is not late


def test_a_pass_books_only_users_with_something_new(builder, ledger):
    school = _school(builder)
    alice, bob = school.users
    _day(builder, school, alice, 1000)
    _day(builder, school, bob, 50000)
    _compile(builder, ledger, now=60000)
    builder.log(bob, 60000, "viewed", "course", 50, school.course)
    outcome = _compile(builder, ledger, now=70000)
    assert outcome.users == 1      # bob's rows ripened, and one is new; alice has nothing new
    assert outcome.rows < 10
    assert booked_rows(ledger) == _expected(builder, school.users, 70000)


def test_log_rows_moodle_deletes_keep_their_bookings(builder, ledger):
    school = _school(builder)
    alice = school.users[0]
    _day(builder, school, alice, 1000)
    _day(builder, school, alice, 50000)
    _compile(builder, ledger, now=100000)
    before = booked_rows(ledger)
    log = builder.tables.log
    with builder.engine.begin() as conn:
        conn.execute(delete(log).where(log.c.timecreated < 20000))
    builder.log(alice, 95000, "viewed", "course", 50, school.course)
    _compile(builder, ledger, now=200000)
    after = booked_rows(ledger)
    assert {logid: row for logid, row in after.items() if row[1] < 20000} == {
        logid: row for logid, row in before.items() if row[1] < 20000}
    assert {logid: row for logid, row in after.items() if row[1] >= 20000} == _expected(
        builder, [alice], 200000)


def test_a_change_of_settings_books_the_log_again_and_keeps_what_it_no_longer_holds(
        builder, ledger):
    school = _school(builder)
    alice = school.users[0]
    _day(builder, school, alice, 1000)
    _day(builder, school, alice, 50000)
    _compile(builder, ledger, now=100000)
    before = booked_rows(ledger)
    log = builder.tables.log
    with builder.engine.begin() as conn:
        conn.execute(delete(log).where(log.c.timecreated < 20000))
    changed = TimeSettings(threshold=30, lastpingcredit=5, capturemodules=frozenset())
    _compile(builder, ledger, now=100000, time_settings=changed)
    after = booked_rows(ledger)
    assert {logid: row for logid, row in after.items() if row[1] < 20000} == {
        logid: row for logid, row in before.items() if row[1] < 20000}
    assert {logid: row for logid, row in after.items() if row[1] >= 20000} == _expected(
        builder, [alice], 100000, changed)
    with ledger.connect() as conn:
        assert conn.scalar(select(tables.site.c.settings)) == compiler.settings_text(changed)


def test_a_change_of_settings_records_the_rows_it_keeps_and_their_settings(builder, ledger):
    """Each change counts the rows older than the log's oldest (but those an earlier change
    kept) with the settings they were booked under; a pass that changes none, nothing."""
    school = _school(builder)
    alice = school.users[0]
    for t in (1000, 50000, 100000):
        _day(builder, school, alice, t)
    _compile(builder, ledger, now=200000)
    log = builder.tables.log
    first, second = (TimeSettings(threshold=threshold) for threshold in (30, 45))
    booked_under = {}
    for purged_before, changed in ((20000, first), (80000, second)):
        booked_under[changed] = booked_rows(ledger)
        with builder.engine.begin() as conn:
            conn.execute(delete(log).where(log.c.timecreated < purged_before))
        _compile(builder, ledger, now=200000, time_settings=changed)
    _compile(builder, ledger, now=210000, time_settings=second)
    with ledger.connect() as conn:
        site = conn.scalar(select(tables.site.c.id))
        recorded = [(r.settings, r.log_from, r.rows_kept, r.changed)
                    for r in kept.records(conn, site)]

    def counted(rows: dict, low: int, high: int) -> int:
        return sum(low <= row[1] < high for row in rows.values())

    assert recorded == [
        (compiler.settings_text(SETTINGS), 50000, counted(booked_under[first], 0, 50000),
         200000),
        (compiler.settings_text(first), 100000, counted(booked_under[second], 50000, 100000),
         200000)]
    assert all(rows for _, _, rows, _ in recorded)


# --- random logs, compiled at random points while their rows arrive --------------------

@pytest.fixture(scope="module", params=[(moodle, ledger) for moodle in BACKENDS
                                        for ledger in LEDGERS], ids=lambda p: "-".join(p))
def sites(request, tmp_path_factory):
    """A Moodle with the courses of test_sql_engine's logs and a ledger, for every example."""
    moodle, ledger = request.param
    url, drop = fresh_database(moodle, tmp_path_factory.mktemp(moodle))
    ledger_url, drop_ledger = fresh_database(ledger, tmp_path_factory.mktemp("ledger"))
    b = moodle_of_the_logs(url)
    engine = migrate.ledger_engine(ledger_url)
    migrate.upgrade(engine)
    yield SimpleNamespace(builder=b, engine=b.engine, tables=b.tables, ledger=engine,
                          courses={**COURSES, "site": b.site_course, 0: 0, None: None})
    engine.dispose()
    b.engine.dispose()
    drop_ledger()
    drop()


def _reference(rows: list[dict], now: int, time_settings: TimeSettings) -> dict:
    horizon = now - max(time_settings.threshold, time_settings.lastpingcredit) * 60
    found = {}
    for user in USERS:
        events = sorted((_event(row) for row in rows if row["userid"] == user and _takes_part(row)),
                        key=lambda e: (e.time, e.id))
        found |= expected_rows(events, user, now, time_settings, horizon)
    return found


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(log=logs(), data=st.data())
def test_passes_at_random_points_book_the_model_over_the_whole_log(sites, log, data):
    """The rows arrive in id order, in batches (the ids are a random permutation of the
    times: many rows are late); a pass after each batch, at a time after its rows, and
    then old rows deleted and the settings changed. After every pass the quarter hours
    and sessions are those summed afresh from the booked rows. A pass books its users in
    one batch or a batch each (on PostgreSQL, a batch's sums are ended while the next is
    booked)."""
    chunk = data.draw(st.sampled_from([1, batches.USER_CHUNK]), label="users a batch")
    with patch.object(batches, "USER_CHUNK", chunk):
        _passes(sites, log, data)


def _passes(sites, log, data) -> None:
    emptied(sites.ledger)
    rows = sorted(_store(sites, log), key=lambda row: row["id"])
    with sites.engine.begin() as conn:
        conn.execute(delete(sites.tables.log))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(rows)), max_size=3)))
    last = max(row["timecreated"] for row in rows)
    now = min(row["timecreated"] for row in rows)
    for low, high in zip([0, *cuts], [*cuts, len(rows)]):
        if low < high:
            with sites.engine.begin() as conn:
                conn.execute(insert(sites.tables.log), rows[low:high])
        now = data.draw(st.integers(now, last + 20000))
        _compile(sites.builder, sites.ledger, now, log.settings)
        kept_rollup, refilled = rollup_and_refilled(sites.ledger)
        assert kept_rollup == refilled
    assert booked_rows(sites.ledger) == _reference(rows, now, log.settings)
    cut = data.draw(st.integers(min(r["timecreated"] for r in rows), last))
    with sites.engine.begin() as conn:
        conn.execute(delete(sites.tables.log).where(sites.tables.log.c.timecreated < cut))
    kept = [row for row in rows if row["timecreated"] >= cut]
    before = booked_rows(sites.ledger)
    _compile(sites.builder, sites.ledger, now, log.settings)
    assert booked_rows(sites.ledger) == before
    changed = replace(log.settings, threshold=log.settings.threshold + 7)
    _compile(sites.builder, sites.ledger, now, changed)
    after = booked_rows(sites.ledger)
    kept_rollup, refilled = rollup_and_refilled(sites.ledger)
    assert kept_rollup == refilled
    oldest = {user: min((r["timecreated"] for r in kept if r["userid"] == user and _takes_part(r)),
                        default=None) for user in USERS}
    assert after == {
        **{logid: row for logid, row in before.items()
           if oldest[row[0]] is None or row[1] < oldest[row[0]]},
        **_reference(kept, now, changed)}


def test_a_pass_that_starts_inside_a_session_books_the_session_s_start(builder, ledger):
    school = _school(builder)
    alice = school.users[0]
    for t in range(0, 20000, 600):
        builder.log(alice, t, "viewed", "course", 50, school.course)
    _compile(builder, ledger, now=12000)
    _compile(builder, ledger, now=40000)
    booked = booked_rows(ledger)
    assert {row[4] for row in booked.values()} == {0}
    assert booked == _expected(builder, [alice], 40000)
