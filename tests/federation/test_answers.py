"""A peer's answer read back (``federation.answers``): FINALBEFORE, each DAY's FINAL, the
sessions and a course's COMPLETION and GRADE come back as the peer gave them, and are held
to the contract: a day is FINAL exactly when it lies before FINALBEFORE, the sessions
listed are SESSIONCOUNT, a STATUS is what its times say and GRADED whether there is a
SCORE."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from soap_usestats.domain.results import Completion, Grade
from soap_usestats.federation import answers
from soap_usestats.federation.answers import BrokenAnswer

#: Paris's 31 March 2024 (23 hours) ends at 22:00 UTC.
SPRING = date(2024, 3, 31)
ENDED = datetime(2024, 3, 31, 22, tzinfo=UTC)
BEFORE = date(2024, 3, 30)


def day(when: date, final: bool | None) -> SimpleNamespace:
    return SimpleNamespace(DATE=when, SECONDS=60, ELAPSED=1, FINAL=final)


def use_stats(days, final_before: datetime | None = ENDED, zone: str | None = "Europe/Paris",
              sessioncount: int = 1, sessions: list | None = None) -> SimpleNamespace:
    """A USE_STATS at course scope, as zeep reads it, whose user and course have ``days``."""
    listed = SimpleNamespace(DAY=[day(*one) for one in days])
    user = SimpleNamespace(USERNAME="lee", FIRSTNAME="Lee", LASTNAME="Learner", IDNUMBER="",
                           ID=7, FROM=0, TO=2_000_000_000, SECONDS=60 * len(days),
                           ELAPSED=len(days), EVENTS=len(days), SESSIONCOUNT=sessioncount,
                           DAYS=listed, FINALBEFORE=final_before)
    course = SimpleNamespace(NAME="Algebra", SHORTNAME="ALG", IDNUMBER="", ID=5,
                             SECONDS=60 * len(days), ELAPSED=len(days), EVENTS=len(days),
                             ACTIVITYSECONDS=0, COURSESECONDS=60 * len(days), OTHERSECONDS=0,
                             DAYS=listed)
    model = SimpleNamespace(THRESHOLD=60, LASTPINGCREDIT=15, IGNOREMODULES="", CAPTUREMODULES="",
                            ENROLMENTFILTER=False, TIMEZONE=zone)
    return SimpleNamespace(USER=user, COURSES=SimpleNamespace(COURSE=[course]), MODEL=model,
                           SESSIONS=SimpleNamespace(SESSION=sessions) if sessions else None)


def test_final_days_and_finalbefore_come_back():
    stats = answers.stats(use_stats([(BEFORE, True), (SPRING, True)]), "course")
    assert stats.final_before == int(ENDED.timestamp())
    assert stats.final_days == {BEFORE, SPRING} == stats.courses[0].final_days


def test_an_earlier_peer_says_nothing_final():
    stats = answers.stats(use_stats([(SPRING, None)], final_before=None), "course")
    assert (stats.final_before, stats.final_days, stats.courses[0].final_days) == (
        None, frozenset(), frozenset())


@pytest.mark.parametrize("days, final_before, broken", [
    ([(SPRING, True)], datetime(2024, 3, 31, 21, 59, 59, tzinfo=UTC),
     "DAY/FINAL of 2024-03-31 is true, against USER/FINALBEFORE"),
    ([(BEFORE, True), (SPRING, False)], ENDED,
     "DAY/FINAL of 2024-03-31 is false, against USER/FINALBEFORE"),
    ([(SPRING, None)], ENDED, "DAY/FINAL of 2024-03-31 is false, against USER/FINALBEFORE"),
    ([(BEFORE, True)], None, "DAY/FINAL of 2024-03-30 is true, against USER/FINALBEFORE"),
], ids=["final-too-soon", "not-final-once-over", "final-missing", "final-without-finalbefore"])
def test_a_day_is_final_exactly_when_it_lies_before_finalbefore(days, final_before, broken):
    with pytest.raises(BrokenAnswer, match=broken):
        answers.stats(use_stats(days, final_before), "course")


def test_a_zone_this_service_does_not_know_is_refused_without_echoing_it():
    with pytest.raises(BrokenAnswer) as raised:
        answers.stats(use_stats([(SPRING, True)], zone="Mars/Olympus"), "course")
    assert str(raised.value) == "MODEL/TIMEZONE is not a time zone this service knows"


def session(start: int) -> SimpleNamespace:
    return SimpleNamespace(START=datetime.fromtimestamp(start, UTC),
                           END=datetime.fromtimestamp(start + 60, UTC), SECONDS=60, ELAPSED=1)


def test_sessions_come_back_only_when_asked_and_as_many_as_counted():
    answer = use_stats([], sessioncount=2, sessions=[session(1000), session(9000)])
    assert answers.stats(answer, "site").sessions is None
    assert answers.stats(answer, "site").session_count == 2
    assert [s.start for s in answers.stats(answer, "site", sessions=True).sessions] == [1000, 9000]
    with pytest.raises(BrokenAnswer, match="USER/SESSIONCOUNT 3 is not the number of SESSION, 2"):
        answers.stats(use_stats([], sessioncount=3, sessions=[session(1000), session(9000)]),
                      "site", sessions=True)
    with pytest.raises(BrokenAnswer, match="USER/SESSIONCOUNT is missing"):
        answers.stats(use_stats([], sessioncount=None), "site")


def at(timestamp: int | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


def with_record(status: str, started: int | None, completed: int | None,
                score: Decimal | None, graded: bool) -> SimpleNamespace:
    """A course-scope USE_STATS whose course has this COMPLETION and GRADE."""
    answer = use_stats([])
    course = answer.COURSES.COURSE[0]
    course.COMPLETION = SimpleNamespace(STATUS=status, TIMEENROLLED=at(500),
                                        TIMESTARTED=at(started), TIMECOMPLETED=at(completed))
    course.GRADE = SimpleNamespace(SCORE=score, GRADEMIN=Decimal(0), GRADEMAX=Decimal(100),
                                   GRADED=graded)
    return answer


def test_a_course_record_comes_back():
    course = answers.stats(with_record("complete", 600, 900, Decimal("72.5"), True),
                           "course").courses[0]
    assert course.completion == Completion("complete", 500, 600, 900)
    assert course.grade == Grade(Decimal("72.5"), Decimal(0), Decimal(100))
    plain = answers.stats(use_stats([]), "course").courses[0]
    assert (plain.completion, plain.grade) == (None, None)


@pytest.mark.parametrize("record, broken", [
    (("complete", 600, None, None, False), "COMPLETION/STATUS 'complete' is not what its times "
                                           "say, inprogress"),
    (("notstarted", 600, 900, None, False), "COMPLETION/STATUS 'notstarted' is not what its "
                                            "times say, complete"),
    (("done", None, None, None, False), "COMPLETION/STATUS 'done' is not what its times say, "
                                        "notstarted"),
    (("notstarted", None, None, Decimal(5), False), "GRADE/GRADED is not whether GRADE/SCORE "
                                                    "is there"),
    (("notstarted", None, None, None, True), "GRADE/GRADED is not whether GRADE/SCORE is there"),
], ids=["complete-without-time", "notstarted-with-times", "unknown-status", "score-not-graded",
        "graded-without-score"])
def test_a_course_record_is_held_to_the_contract(record, broken):
    with pytest.raises(BrokenAnswer, match=broken):
        answers.stats(with_record(*record), "course")
