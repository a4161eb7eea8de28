"""The demo site's course completions: every case of the contract's learning record, as
``DemoSite`` describes them, on SQLite, PostgreSQL and MariaDB; the same rows for the same seed;
and what the service answers of each case (COMPLETION, GRADE, the completed population)."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

import pytest
from sqlalchemy import and_, create_engine, func, or_, select
from sqlalchemy.engine import Connection, Row

from soap_usestats.auth.caller import OPERATOR
from soap_usestats.demo.completions import Completion, Unrecorded
from soap_usestats.demo.schema import DemoTables
from soap_usestats.demo.site import DemoSite, build_demo_site
from soap_usestats.domain.requests import ScoresRequest, StatsRequest, UsersStatsRequest
from soap_usestats.domain.results import CourseFigures
from soap_usestats.domain.site import MoodleSite
from soap_usestats.moodle.tables import MoodleTables
from tests.support.databases import BACKENDS, fresh_database

T = DemoTables("mdl_")
CC, LOG = T.course_completions, T.log
SIZES = (40, 6)   # `make run`'s site, and the one the service's demo tests build


@pytest.fixture(scope="module", params=[(b, n) for b in BACKENDS for n in SIZES],
                ids=lambda p: f"{p[0]}-{p[1]}")
def demo(request, tmp_path_factory):
    backend, learners = request.param
    url, drop = fresh_database(backend, tmp_path_factory.mktemp(backend))
    site = build_demo_site(url, learners=learners)
    engine = create_engine(url)
    with engine.connect() as conn:
        yield site, conn
    engine.dispose()
    drop()


def _rows(conn: Connection) -> dict[tuple[int, str], Row]:
    """Every course_completions row by (userid, course shortname)."""
    rows = conn.execute(select(CC, T.course.c.shortname)
                        .join(T.course, T.course.c.id == CC.c.course)).all()
    by_key = {(row.userid, row.shortname): row for row in rows}
    assert len(by_key) == len(rows), "one row per user and course"
    return by_key


def _enrolments(conn: Connection) -> dict[tuple[int, str], int]:
    """(userid, course shortname) -> the enrolment's start."""
    return {(row.userid, row.shortname): row.timestart for row in conn.execute(
        select(T.user_enrolments.c.userid, T.user_enrolments.c.timestart, T.course.c.shortname)
        .join(T.enrol, T.enrol.c.id == T.user_enrolments.c.enrolid)
        .join(T.course, T.course.c.id == T.enrol.c.courseid))}


def _first_views(conn: Connection) -> dict[tuple[int, int], int]:
    """(userid, courseid) -> the learner's first own activity view there."""
    return {(row.userid, row.courseid): row.first for row in conn.execute(
        select(LOG.c.userid, LOG.c.courseid, func.min(LOG.c.timecreated).label("first"))
        .where(LOG.c.contextlevel == 70, LOG.c.target == "course_module",
               LOG.c.action == "viewed", LOG.c.origin == "web", LOG.c.realuserid.is_(None))
        .group_by(LOG.c.userid, LOG.c.courseid))}


def _matches(conn: Connection, case: Completion) -> None:
    row = _rows(conn)[case.userid, case.course_shortname]
    assert (row.timeenrolled, row.timestarted, row.timecompleted) == (
        case.timeenrolled, case.timestarted, case.timecompleted)
    user = conn.execute(select(T.user).where(T.user.c.id == case.userid)).one()
    assert (user.username, user.mnethostid) == (case.username, 1)   # local: found by username


def _unrecorded(conn: Connection, case: Unrecorded) -> None:
    user = conn.execute(select(T.user).where(T.user.c.id == case.userid)).one()
    assert (user.username, user.mnethostid) == (case.username, 1)
    assert (case.userid, case.course_shortname) in _enrolments(conn)
    assert (case.userid, case.course_shortname) not in _rows(conn)


def _tracks(conn: Connection, shortname: str) -> bool:
    return conn.scalar(select(T.course.c.enablecompletion)
                       .where(T.course.c.shortname == shortname)) == 1


def test_completion_is_tracked_on_the_site_and_in_every_course_but_comm201(demo):
    _, conn = demo
    assert conn.scalar(select(T.config.c.value)
                       .where(T.config.c.name == "enablecompletion")) == "1"
    tracking = dict(conn.execute(select(T.course.c.shortname, T.course.c.enablecompletion)).all())
    assert tracking == {"learn": 0, "WHS101": 1, "GDPR": 1, "COMM201": 0, "PM110": 1,
                        "SAL-NEG": 1, "SAL-PROD": 1}


def test_rows_are_what_the_completion_cron_writes(demo):
    site, conn = demo
    rows = _rows(conn)
    enrolled, first_views = _enrolments(conn), _first_views(conn)
    deleted = conn.scalar(select(T.user.c.id).where(T.user.c.deleted == 1))
    guest = site.completions.guest.userid
    assert {row.reaggregate for row in rows.values()} == {0}
    for (userid, shortname), row in rows.items():
        if row.timestarted == 0:
            assert row.timecompleted is None
        if userid in (guest, deleted):
            continue
        assert row.timeenrolled == enrolled[userid, shortname]
        if row.timestarted:
            assert row.timeenrolled <= row.timestarted
            first = first_views[userid, row.course]
            assert row.timestarted == min(first, row.timecompleted or first)
        if row.timecompleted:
            assert row.timestarted <= row.timecompleted
            # the time the last criterion was met: one of their activity views or a grade
            # someone gave them, in that course
            assert conn.scalar(select(func.count()).select_from(LOG).where(
                LOG.c.courseid == row.course, LOG.c.timecreated == row.timecompleted,
                or_(and_(LOG.c.userid == userid, LOG.c.target == "course_module",
                         LOG.c.action == "viewed"),
                    and_(LOG.c.relateduserid == userid, LOG.c.userid != userid,
                         LOG.c.action == "graded")))) >= 1


def test_the_reference_learner_completes_the_reference_course_in_its_window(demo):
    site, conn = demo
    ref = site.reference
    done = ref.completed
    assert (done.username, done.course_shortname) == (ref.username, ref.course_shortname)
    assert ref.timefrom <= done.timestarted <= done.timecompleted <= ref.timeto
    _matches(conn, done)
    own = {shortname for userid, shortname in _enrolments(conn) if userid == done.userid}
    if ref.inprogress is not None:
        assert ref.inprogress.timestarted > 0 and ref.inprogress.timecompleted is None
        assert _tracks(conn, ref.inprogress.course_shortname)
        _matches(conn, ref.inprogress)
    if ref.notstarted is not None:
        assert _tracks(conn, ref.notstarted.course_shortname)
        _unrecorded(conn, ref.notstarted)
    if "GDPR" in own:
        assert ref.inprogress.course_shortname == "GDPR"
    if "WHS101" in own:
        assert ref.notstarted.course_shortname == "WHS101"
    # nobody else completes anything in the worked example's window but the guest
    window = {row.userid for row in _rows(conn).values()
              if row.timecompleted and ref.timefrom <= row.timecompleted <= ref.timeto}
    assert window == {done.userid, site.completions.guest.userid}


def test_a_course_completed_on_a_day_without_time_in_it(demo):
    site, conn = demo
    case, (timefrom, timeto) = site.completions.idle, site.completions.idle_day
    _matches(conn, case)
    assert timefrom <= case.timecompleted <= timeto and timeto - timefrom == 86399
    assert datetime.fromtimestamp(timefrom, UTC).time().isoformat() == "00:00:00"
    assert _tracks(conn, case.course_shortname)
    courseid = conn.scalar(select(T.course.c.id)
                           .where(T.course.c.shortname == case.course_shortname))
    # no row of theirs there that day, in UTC as in London
    assert conn.scalar(select(func.count()).select_from(LOG).where(
        LOG.c.userid == case.userid, LOG.c.courseid == courseid,
        LOG.c.timecreated.between(timefrom - 3600, timeto + 3600))) == 0
    assert conn.scalar(select(T.user.c.deleted).where(T.user.c.id == case.userid)) == 0


def test_not_started_and_not_complete(demo):
    site, conn = demo
    cases = site.completions
    _matches(conn, cases.unstarted)
    assert (cases.unstarted.timestarted, cases.unstarted.timecompleted) == (0, None)
    _matches(conn, cases.zero)
    assert cases.zero.timestarted > 0 and cases.zero.timecompleted == 0
    _unrecorded(conn, cases.unrecorded)
    courseid = conn.scalar(select(T.course.c.id)
                           .where(T.course.c.shortname == cases.unrecorded.course_shortname))
    assert conn.scalar(select(func.count()).select_from(LOG).where(
        LOG.c.userid == cases.unrecorded.userid, LOG.c.courseid == courseid)) > 0
    for case in (cases.unstarted, cases.zero, cases.unrecorded):
        assert _tracks(conn, case.course_shortname)


def test_completions_that_never_show(demo):
    site, conn = demo
    cases = site.completions
    for case in (cases.untracked, cases.deleted, cases.guest):
        _matches(conn, case)
        assert case.timecompleted
    assert cases.untracked.course_shortname == "COMM201"
    assert not _tracks(conn, "COMM201")
    assert conn.scalar(select(T.user.c.deleted).where(T.user.c.id == cases.deleted.userid)) == 1
    assert _tracks(conn, cases.deleted.course_shortname)
    siteguest = conn.scalar(select(T.config.c.value).where(T.config.c.name == "siteguest"))
    assert (cases.guest.userid, cases.guest.username) == (int(siteguest), "guest")
    assert _tracks(conn, cases.guest.course_shortname)


def test_learners_complete_over_the_whole_term(demo):
    site, conn = demo
    rows = _rows(conn).values()
    assert sum(row.timecompleted is not None and row.timecompleted > 0 for row in rows) >= 6
    assert sum(row.timestarted > 0 and row.timecompleted is None for row in rows) >= 2
    assert sum(row.timestarted == 0 for row in rows) >= 1
    learners = {row.userid for row in rows} - {site.completions.guest.userid}
    enrolled = {pair for pair in _enrolments(conn) if pair[0] in learners}
    assert len(enrolled - set(_rows(conn))) >= 1
    assert sum(row.shortname == "COMM201" for row in rows) >= 2
    if site.learners == 40:
        months = {datetime.fromtimestamp(row.timecompleted, UTC).month for row in rows
                  if row.timecompleted}
        assert {2, 3, 4, 5, 6} <= months


@pytest.mark.parametrize("learners", [2, 3, 8])
def test_every_case_has_a_learner_at_every_size(learners, tmp_path):
    url = f"sqlite:///{tmp_path / 'moodle.db'}"
    site = build_demo_site(url, learners=learners)
    cases = site.completions
    assert all(getattr(cases, field.name) is not None for field in fields(cases))
    engine = create_engine(url)
    with engine.connect() as conn:
        for case in (site.reference.completed, cases.idle, cases.zero, cases.unstarted,
                     cases.untracked, cases.deleted, cases.guest):
            _matches(conn, case)
        _unrecorded(conn, cases.unrecorded)
    engine.dispose()


def _completions(url: str) -> list[tuple]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(row) for row in conn.execute(select(CC).order_by(CC.c.id))]
    engine.dispose()
    return rows


def test_same_seed_same_completions(tmp_path):
    first, again, other = (f"sqlite:///{tmp_path / name}" for name in ("a.db", "b.db", "c.db"))
    site: DemoSite = build_demo_site(first, learners=8)
    assert build_demo_site(again, learners=8) == site
    assert _completions(again) == _completions(first)
    build_demo_site(other, learners=8, seed=7)
    assert _completions(other) != _completions(first)


# -- what the service answers of them --------------------------------------------------------

#: After the demo's term: every completion of the demo is in the past.
NOW = 1798761600


def _courses(conn: Connection, username: str, timefrom: int = 0,
             timeto: int = NOW) -> dict[str, CourseFigures]:
    """The user's courses at course scope, as the service answers the operator."""
    site = MoodleSite(conn.engine, MoodleTables())
    stats = site.get_stats(StatsRequest(targetuser=username, statsscope="course",
                                        timefrom=timefrom, timeto=timeto), now=NOW,
                           caller=OPERATOR)
    return {course.shortname: course for course in stats.courses}


def _answered(course: CourseFigures, case: Completion) -> tuple:
    completion = course.completion
    return (completion.timeenrolled, completion.timestarted, completion.timecompleted) == (
        case.timeenrolled or None, case.timestarted or None, case.timecompleted or None)


def test_the_service_gives_the_reference_learners_record(demo):
    site, conn = demo
    ref = site.reference
    courses = _courses(conn, ref.username, ref.timefrom, ref.timeto)
    done = courses[ref.course_shortname]
    assert done.completion.status == "complete" and _answered(done, ref.completed)
    scores = MoodleSite(conn.engine, MoodleTables()).get_scores(
        ScoresRequest(targetuser=ref.username, courseidfield="shortname",
                      courseidentifier=ref.course_shortname), now=NOW, caller=OPERATOR)
    assert done.grade == scores.total and done.grade.graded
    term = _courses(conn, ref.username)
    assert term[ref.inprogress.course_shortname].completion.status == "inprogress"
    assert _answered(term[ref.inprogress.course_shortname], ref.inprogress)
    if "COMM201" in term:
        assert term["COMM201"].completion is None and term["COMM201"].grade is not None


def test_the_service_lists_a_course_completed_without_time(demo):
    site, conn = demo
    case, (timefrom, timeto) = site.completions.idle, site.completions.idle_day
    course = _courses(conn, case.username, timefrom, timeto)[case.course_shortname]
    assert (course.tally.seconds, course.tally.events) == (0, 0)
    assert course.completion.status == "complete" and _answered(course, case)


def test_the_service_says_not_started_and_in_progress(demo):
    site, conn = demo
    cases = site.completions
    for case, status in ((cases.unstarted, "notstarted"), (cases.zero, "inprogress")):
        course = _courses(conn, case.username)[case.course_shortname]
        assert course.completion.status == status and _answered(course, case)
    unrecorded = _courses(conn, cases.unrecorded.username)[cases.unrecorded.course_shortname]
    assert unrecorded.completion.status == "notstarted"
    assert unrecorded.completion.timeenrolled is None


def test_the_completed_population_is_who_completed_a_tracked_course(demo):
    site, conn = demo
    moodle = MoodleSite(conn.engine, MoodleTables())

    def population(**asked) -> list[int]:
        ids, cursor = [], None
        while True:
            page = moodle.get_users_stats(UsersStatsRequest(completed=True, pagesize=3,
                                                            cursor=cursor, **asked),
                                          now=NOW, caller=OPERATOR)
            ids += [stats.user.id for stats in page.stats]
            if (cursor := page.next_cursor) is None:
                return ids

    ref = site.reference
    assert population(timefrom=ref.timefrom, timeto=ref.timeto) == [ref.completed.userid]
    deleted = {row.id for row in conn.execute(select(T.user.c.id).where(T.user.c.deleted == 1))}
    completed = [row for row in _rows(conn).values() if row.timecompleted]
    tracked = {row.userid for row in completed if _tracks(conn, row.shortname)}
    everyone = population()
    assert everyone == sorted(tracked - deleted - {site.completions.guest.userid})
    cases = site.completions
    assert {cases.deleted.userid, cases.guest.userid}.isdisjoint(everyone)
    untracked_only = {row.userid for row in completed} - tracked
    assert untracked_only and untracked_only.isdisjoint(everyone)
