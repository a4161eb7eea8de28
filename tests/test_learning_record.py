"""The course's learning record in course scope (COMPLETION, GRADE), and the population of
GetUsersStats' ``completed``, on every database (the demo's cases: tests/test_demo_completions.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from soap_usestats.auth.caller import OPERATOR
from soap_usestats.domain.requests import ScoresRequest, StatsRequest, UsersStatsRequest
from soap_usestats.exceptions import InvalidParameter
from soap_usestats.moodle.database import connect
from soap_usestats.moodle.tables import MoodleTables
from soap_usestats.soap import shaping
from tests.support.examples import NOW, WINDOW, ShapedSite, build_school


class Site(ShapedSite):
    """The school's site, its answers shaped as a client reads them."""

    def stats(self, caller=OPERATOR, **asked):
        asked = {"targetuser": "alice", "statsscope": "course", **WINDOW, **asked}
        return self.get_stats(StatsRequest(**asked), now=NOW, caller=caller)

    def courses(self, caller=OPERATOR, **asked) -> dict:
        return {c.SHORTNAME: c for c in self.stats(caller, **asked).COURSES or []}

    def users(self, caller=OPERATOR, **asked) -> list[int]:
        """The ids of every page's users of a GetUsersStats."""
        ids, cursor = [], None
        while True:
            page = self.get_users_stats(UsersStatsRequest(cursor=cursor, pagesize=2, **asked),
                                        now=NOW, caller=caller)
            ids += [stats.user.id for stats in page.stats]
            if (cursor := page.next_cursor) is None:
                return ids


def _utc(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


@pytest.fixture
def school(builder):
    """The school (alice's time in C5 and C6, her grades in C5), completion tracked on the
    site and in C5, C6 and C7; not in C8. Alice completed C5 in the window, started C6, and
    completed C7, where she has no time, in the window too; C8 too, untracked."""
    s = build_school(builder)
    builder.config("enablecompletion", "1")
    alice, course = s.users["alice"], MoodleTables().course
    c7, c8 = builder.course("C7", enablecompletion=1), builder.course("C8")
    with builder.engine.begin() as conn:
        conn.execute(course.update().where(
            course.c.id.in_([s.courses["C5"], s.courses["C6"]])).values(enablecompletion=1))
    for course, enrolled, started, completed in ((s.courses["C5"], 500, 1000, 20000),
                                                 (s.courses["C6"], 0, 30000, None),
                                                 (c7, 600, 700, 50000), (c8, 600, 700, 50000)):
        builder.insert("course_completions", userid=alice, course=course, timeenrolled=enrolled,
                       timestarted=started, timecompleted=completed)
    s.courses |= {"C7": c7, "C8": c8}
    return s


@pytest.fixture
def site(builder, school):
    s = Site(connect(builder.url), MoodleTables())
    yield s
    s.engine.dispose()


def test_each_course_carries_its_completion(site):
    courses = site.courses()
    assert sorted(courses) == ["C5", "C6", "C7"]   # C8 does not track: its completion is not
    c5, c6 = courses["C5"].COMPLETION, courses["C6"].COMPLETION
    assert (c5.STATUS, c5.TIMEENROLLED, c5.TIMESTARTED, c5.TIMECOMPLETED) == (
        "complete", _utc(500), _utc(1000), _utc(20000))
    assert (c6.STATUS, c6.TIMEENROLLED, c6.TIMESTARTED, c6.TIMECOMPLETED) == (
        "inprogress", None, _utc(30000), None)


def test_a_course_completed_in_the_window_is_listed_without_time(site):
    c7 = site.courses()["C7"]
    assert (c7.ELAPSED, c7.SECONDS, c7.EVENTS, c7.COMPLETION.STATUS) == (0, 0, 0, "complete")
    assert "C7" not in site.courses(timeto=49999)   # completed after the window
    assert "C7" not in site.courses(timefrom=50001, timeto=60000)
    assert site.courses(timefrom=50000, timeto=50000)["C7"].COMPLETION.TIMECOMPLETED == _utc(50000)


def test_a_course_without_a_record_has_not_started(builder, school, site):
    with builder.engine.begin() as conn:
        conn.execute(MoodleTables().course_completions.delete())
    assert {name: c.COMPLETION.STATUS for name, c in site.courses().items()} == {
        "C5": "notstarted", "C6": "notstarted"}
    assert site.courses()["C5"].COMPLETION.TIMEENROLLED is None


def test_started_zero_and_completed_zero_are_no_times(builder, school, site):
    with builder.engine.begin() as conn:
        cc = MoodleTables().course_completions
        conn.execute(cc.update().values(timestarted=0, timecompleted=0))
    courses = site.courses()
    assert {name: c.COMPLETION.STATUS for name, c in courses.items()} == {
        "C5": "notstarted", "C6": "notstarted"}     # and C7, completed at 0, is not listed
    assert courses["C5"].COMPLETION.TIMESTARTED is None


def test_no_completion_where_the_site_does_not_track_it(builder, site):
    builder.config("enablecompletion", "0")
    courses = site.courses()
    assert sorted(courses) == ["C5", "C6"]
    assert all(course.COMPLETION is None for course in courses.values())


def test_each_course_carries_its_total_as_getscores_gives_it(site):
    courses = site.courses()
    for name, course in courses.items():
        scores = site.get_scores(ScoresRequest(targetuser="alice", courseidfield="shortname",
                                               courseidentifier=name), caller=OPERATOR)
        grade = course.GRADE
        assert (grade.SCORE, grade.GRADEMIN, grade.GRADEMAX, grade.GRADED) == (
            scores.SCORE, scores.GRADEMIN, scores.GRADEMAX, scores.GRADED)
    assert courses["C5"].GRADE.SCORE == Decimal("72.5")
    assert (courses["C5"].GRADE.GRADEMIN, courses["C5"].GRADE.GRADEMAX) == (0, 100)
    c6 = courses["C6"].GRADE    # no course total in C6
    assert (c6.SCORE, c6.GRADEMIN, c6.GRADEMAX, c6.GRADED) == (None, None, None, False)


def test_the_record_is_of_course_scope_only(site):
    for scope in ("site", "module"):
        answer = site.stats(statsscope=scope)
        assert answer.COURSES is None
        assert "COMPLETION" not in shaping.with_json(answer).JSON


def test_a_teacher_sees_the_record_of_their_courses_only(school, site):
    courses = site.courses(caller=school.caller("teacher"))
    assert sorted(courses) == ["C5"]
    assert courses["C5"].COMPLETION.STATUS == "complete"
    assert courses["C5"].GRADE.SCORE == Decimal("72.5")


def test_the_record_is_in_the_json_answer(site):
    answer = shaping.with_json(site.stats())
    assert '"STATUS":"complete"' in answer.JSON and '"TIMECOMPLETED":"1970-01-01T13:53:20Z"' \
        in answer.JSON


def test_the_completed_population(builder, school, site):
    alice = school.users["alice"]
    bob, gone, guest = school.users["bob"], builder.user("gone", deleted=1), builder.user("guest")
    builder.config("siteguest", str(guest))
    for user, completed in ((bob, 40000), (gone, 40000), (guest, 40000),
                            (school.users["stranger"], 99999999)):
        builder.insert("course_completions", userid=user, course=school.courses["C7"],
                       timeenrolled=0, timestarted=0, timecompleted=completed)
    assert site.users(completed=True, **WINDOW) == [alice, bob]
    in_c6 = dict(completed=True, courseidfield="shortname", courseidentifier="C6", **WINDOW)
    assert site.users(**in_c6) == []         # alice has only started C6
    assert site.users(completed=True, courseidfield="shortname", courseidentifier="C7",
                      timefrom=45000, timeto=100000) == [alice]
    assert site.users(completed=True, courseidfield="shortname", courseidentifier="C8",
                      **WINDOW) == []        # C8 does not track completion
    builder.config("enablecompletion", "0")
    assert site.users(completed=True, **WINDOW) == []


def test_each_completed_user_is_answered_as_getstats(school, site):
    page = site.get_users_stats(UsersStatsRequest(completed=True, statsscope="course",
                                                  **WINDOW), now=NOW, caller=OPERATOR)
    assert [stats.user.id for stats in page.stats] == [school.users["alice"]]
    assert (shaping.with_json(shaping.users_stats(page).USE_STATS[0]).JSON
            == shaping.with_json(site.stats()).JSON)


def test_a_teacher_asks_for_the_completions_of_their_course(school, site):
    teacher = school.caller("teacher")
    asked = dict(completed=True, statsscope="course", courseidfield="shortname", **WINDOW)
    assert site.users(teacher, courseidentifier="C5", **asked) == [school.users["alice"]]
    with pytest.raises(Exception) as refused:
        site.users(teacher, courseidentifier="C7", **asked)
    assert refused.value.faultcode == "Client.Forbidden"


def test_a_cursor_is_bound_to_completed(builder, school, site):
    builder.insert("course_completions", userid=school.users["bob"], course=school.courses["C7"],
                   timecompleted=40000)
    first = site.get_users_stats(UsersStatsRequest(pagesize=1, completed=True, **WINDOW),
                                 now=NOW, caller=OPERATOR)
    assert [stats.user.id for stats in first.stats] == [school.users["alice"]]
    with pytest.raises(InvalidParameter, match="cursor"):
        site.get_users_stats(UsersStatsRequest(pagesize=1, cursor=first.next_cursor, **WINDOW),
                             now=NOW, caller=OPERATOR)
    second = site.get_users_stats(UsersStatsRequest(pagesize=1, completed=True,
                                                    cursor=first.next_cursor, **WINDOW),
                                  now=NOW, caller=OPERATOR)
    assert [stats.user.id for stats in second.stats] == [school.users["bob"]]


def test_completed_is_not_for_listed_users(site):
    with pytest.raises(InvalidParameter, match="completed"):
        site.get_users_stats(UsersStatsRequest(targetusers=("alice",), completed=True),
                             now=NOW, caller=OPERATOR)
