"""Four independent SOAP clients and curl read the engine's figures from the running service.

Each client imports the WSDL, calls GetStats at every scope, with days and with the list
of sessions, and GetScores for the course total and every item, with and without a
SOAPAction header, and must read what the engine computes in-process at the moment the
service answered (its FINALBEFORE says when: the time of the request less the lag). In
course scope each course's learning record comes too: its COMPLETION (complete, in
progress, or absent where the course does not track completion) and its GRADE (without a
SCORE where there is no course total). The service's access log shows what each client
really sent: the Moodle token in the query string, and the SOAPAction. The SOAP stacks
follow GetUsersStats' cursor over three pages, of everyone with time and of the
``completed`` population.
"""

from __future__ import annotations

import time
from itertools import repeat

import pytest

from soap_usestats.demo.completions import UNTRACKED
from soap_usestats.demo.site import TERM_END, TERM_START, WEEK
from tests.interop import figures
from tests.interop.conftest import COURSE, Learner
from tests.interop.runners import ALL, run

pytestmark = pytest.mark.e2e

#: Call name -> operation, scope and the parameters besides the user, the scope and the
#: window or course. ``days`` sends ``sessions`` false: PHP must send a real boolean.
CALLS = {
    "site": ("GetStats", "site", {}),
    "course": ("GetStats", "course", {}),
    "module": ("GetStats", "module", {}),
    "days": ("GetStats", "course", {"daily": "true", "sessions": "false"}),
    "sessions": ("GetStats", "site", {"sessions": "true"}),
    "notes/global": ("GetScores", "notes/global", {}),
    "notes/items": ("GetScores", "notes/items", {}),
}
#: The calls of the roles asked for some only: the learner of today is the busy one, with a
#: day that is not final yet; the record and the gradeless user are asked for their courses.
ONLY = {"today": ("days", "sessions"), "record": ("course",), "gradeless": ("course",)}
CASES = [pytest.param(role, call, soapaction,
                      id=f"{role}-{call}-{'soapaction' if soapaction else 'no-soapaction'}")
         for role, soapaction in [("reference", True), ("busy", True), ("ungraded", True),
                                  ("today", True), ("record", True), ("gradeless", True),
                                  ("reference", False)]
         for call in ONLY.get(role, CALLS)]


def request(call: str, learner: Learner) -> tuple[str, dict[str, str]]:
    """The operation and its parameters, in the WSDL's order (curl sends them as given)."""
    operation, scope, extra = CALLS[call]
    params = {"targetuser": learner.username}
    if operation == "GetStats":
        params |= {"statsscope": scope, "timefrom": str(learner.timefrom),
                   "timeto": str(learner.timeto)}
    else:
        params |= {"scorescope": scope, "courseidfield": "shortname", "courseidentifier": COURSE}
    return operation, params | extra


def read(client, demo, service, operation: str, params: dict[str, str], soapaction: bool = True
         ) -> tuple[dict, list[int]]:
    """What ``client`` read of one call, and the moments the service answered it."""
    before = int(time.time())
    got = run(client, service.wsdl, service.endpoint, operation,
              [f"{name}={value}" for name, value in params.items()], soapaction)
    return got, demo.moments(operation, params, got, during=(before, time.time()))


@pytest.mark.parametrize("client", ALL, ids=lambda client: client.name)
@pytest.mark.parametrize("role, call, soapaction", CASES)
def test_client_reads_the_engine_figures(client, role, call, soapaction, demo, service):
    operation, params = request(call, demo.learners[role])
    mark = service.mark()
    got, moments = read(client, demo, service, operation, params, soapaction)
    assert figures.comparable(got) == figures.comparable(demo.expected(operation, params, moments))
    (sent,) = service.posts_since(mark)
    assert sent.query == f"wstoken={service.token}"
    assert sent.soapaction == (f'"{operation}"' if soapaction else client.without_soapaction)


def engine(demo, call: str, role: str) -> dict:
    """The engine's figures of a call, now."""
    operation, params = request(call, demo.learners[role])
    return demo.expected(operation, params, [int(time.time())] if operation == "GetStats" else [])


def finality(days: list[dict]) -> set[bool]:
    return {day["FINAL"] for day in days}


def courses(stats: dict) -> dict[str, dict]:
    return {course["SHORTNAME"]: course for course in stats["COURSES"]}


def test_the_cases_carry_real_figures(demo):
    """The expected figures are not empty: the worked example, busy time, grades and no grade,
    final days and a day that is not, sessions listed when asked and only then."""
    reference = engine(demo, "module", "reference")
    assert (reference["USER"]["SECONDS"], reference["USER"]["ELAPSED"]) == (2800, 46)
    assert [(m["TYPE"], m["SECONDS"]) for m in reference["MODULES"]] == [("quiz", 1500)]
    assert reference["USER"]["SESSIONCOUNT"] == 2 and reference["SESSIONS"] == []
    sessions = engine(demo, "sessions", "reference")["SESSIONS"]
    assert [s["SECONDS"] for s in sessions] == [1900, 900]
    busy = engine(demo, "course", "busy")
    assert COURSE in [c["SHORTNAME"] for c in busy["COURSES"]] and busy["USER"]["ELAPSED"] > 60
    assert engine(demo, "notes/items", "busy")["SCORE"] is not None
    ungraded = engine(demo, "notes/items", "ungraded")
    assert ungraded["SCORE"] is None and ungraded["ITEMS"]
    assert all(item["SCORE"] is None for item in ungraded["ITEMS"])
    assert finality(engine(demo, "days", "busy")["USER"]["DAYS"]) == {True}
    today = engine(demo, "days", "today")
    (course,) = [c for c in today["COURSES"] if c["SHORTNAME"] == COURSE]
    assert finality(today["USER"]["DAYS"]) == finality(course["DAYS"]) == {True, False}
    assert len(engine(demo, "sessions", "today")["SESSIONS"]) == today["USER"]["SESSIONCOUNT"]


def test_the_courses_carry_every_learning_record(demo):
    """The reference learner's course complete in the worked example's window and, over the
    term, their course in progress and the course that does not track completion; a GRADE
    without SCORE where the user has no course total."""
    ref = demo.site.reference
    (course,) = engine(demo, "course", "reference")["COURSES"]
    assert course["SHORTNAME"] == ref.course_shortname
    assert (course["COMPLETION"]["STATUS"], course["COMPLETION"]["TIMECOMPLETED"]) == (
        "complete", ref.completed.timecompleted)
    assert course["GRADE"]["GRADED"] and course["GRADE"]["SCORE"] is not None
    record = courses(engine(demo, "course", "record"))
    going = record[ref.inprogress.course_shortname]["COMPLETION"]
    assert (going["STATUS"], going["TIMESTARTED"], going["TIMECOMPLETED"]) == (
        "inprogress", ref.inprogress.timestarted, None)
    assert record[UNTRACKED]["COMPLETION"] is None and record[UNTRACKED]["GRADE"]
    grades = [c["GRADE"] for c in engine(demo, "course", "gradeless")["COURSES"]]
    assert any(grade["SCORE"] is None and grade["GRADED"] is False and grade["GRADEMAX"]
               for grade in grades)


@pytest.fixture(scope="module", params=["figures", "days-and-sessions", "completed"])
def paging(request, demo) -> dict[str, str]:
    """The parameters of a GetUsersStats of three pages: everyone's figures over the term;
    over its last two weeks and up to today, with final days, today's that is not, and the
    sessions; or the users who completed a course over the term, with their records."""
    term = {"statsscope": "course", "timefrom": str(TERM_START), "timeto": str(TERM_END)}
    params = {"figures": term,
              "days-and-sessions": {"statsscope": "course", "timefrom": str(TERM_END - 2 * WEEK),
                                    "timeto": str(demo.learners["today"].timeto),
                                    "daily": "true", "sessions": "true"},
              "completed": term | {"completed": "true"}}[request.param]
    now = repeat(int(time.time()))
    everyone = len(demo.pages(params | {"pagesize": "1000"}, now)[0].USE_STATS)
    params["pagesize"] = str(-(-everyone // 3))
    pages = demo.pages(params, now)
    assert len(pages) == 3 and everyone > 3
    users = [stats for page in pages for stats in page.USE_STATS]
    days = [day.FINAL for stats in users for day in stats.USER.DAYS or []]
    assert set(days) == ({True, False} if "daily" in params else set())
    if "completed" in params:
        assert all(_completed_in_the_term(stats) for stats in users)
    return params


def _completed_in_the_term(stats) -> bool:
    """Whether the COMPLETION of one of the user's courses says they completed it in the term."""
    return any(TERM_START <= course.COMPLETION.TIMECOMPLETED.timestamp() <= TERM_END
               for course in stats.COURSES or []
               if course.COMPLETION and course.COMPLETION.TIMECOMPLETED)


@pytest.mark.parametrize("client", [c for c in ALL if c.name != "curl"], ids=lambda client: client.name)
def test_client_follows_the_cursor_over_three_pages(client, paging, demo, service):
    got, moments = read(client, demo, service, "GetUsersStats", paging)
    expected = demo.expected("GetUsersStats", paging, moments)
    assert expected["PAGES"] == 3
    assert figures.comparable(got) == figures.comparable(expected)
