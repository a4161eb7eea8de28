"""Nobody can probe which users exist: a user one may not see is answered as one who does not
exist, whatever the operation and the field asked by, on SQLite, PostgreSQL and MariaDB.

The school of ``test_authorisation``, plus ``outsider`` (enrolled in C6, with time there:
not the C5 teacher's) and ``quiet`` (enrolled in C5, no time: the teacher's). The teacher
holds the course capability in C5; alice, the learner, holds the own capability (every
user's default role gives it); the stranger holds nothing; the manager holds the site
capability and alone learns that a user does not exist.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import event, update

from soap_usestats.config import Settings
from soap_usestats.domain.requests import ScoresRequest, StatsRequest, UsersStatsRequest
from soap_usestats.exceptions import Forbidden, UnknownUser, UseStatsError
from soap_usestats.moodle.database import connect
from soap_usestats.moodle.tables import MoodleTables
from soap_usestats.web.app import create_app
from tests.support.databases import BACKENDS, fresh_database
from tests.support.examples import NOW, WINDOW, ShapedSite, build_school, calling
from tests.support.moodle import MoodleBuilder
from tests.support.wsgi import WsgiClient, envelope

FIELDS = ("username", "idnumber", "email", "id")
#: What names no user, by each field.
MISSING = {"username": "nobody", "idnumber": "NOPE-1", "email": "nobody@example.com",
           "id": "999999"}
#: Callers limited in whom they see, and the users (besides MISSING) each may not see.
LIMITED = {"teacher": ("outsider",), "alice": ("outsider", "bob"),
           "stranger": ("outsider", "alice")}


def enrol(b: MoodleBuilder, userid: int, courseid: int, status: int = 0) -> None:
    method = b.insert("enrol", enrol="manual", courseid=courseid, status=0)
    b.insert("user_enrolments", enrolid=method, userid=userid, timestart=0, status=status)


@pytest.fixture(scope="module", params=BACKENDS)
def school(request, tmp_path_factory):
    """The school on each backend, built once: the tests only read it."""
    url, drop = fresh_database(request.param, tmp_path_factory.mktemp(request.param))
    b = MoodleBuilder(url)
    school = build_school(b)
    c5, c6 = school.courses["C5"], school.courses["C6"]
    outsider = b.user("outsider", idnumber="OUT-1", email="Outsider@Example.com")
    enrol(b, outsider, c6)
    b.log(outsider, 40000, "viewed", "course", 50, c6)
    b.log(outsider, 40300, "viewed", "course", 50, c6)
    quiet = b.user("quiet", idnumber="Q-1")
    enrol(b, quiet, c5, status=1)
    school.users |= {"outsider": outsider, "quiet": quiet}
    user = b.tables.user
    with b.engine.begin() as conn:
        for name in ("bob", "stranger"):
            conn.execute(update(user).where(user.c.id == school.users[name])
                         .values(idnumber=f"ID-{name}"))
    for name in ("teacher", "alice", "stranger", "manager"):
        b.user_token(school.users[name])
    b.engine.dispose()
    school.url = url
    school.site = ShapedSite(connect(url), MoodleTables())
    yield school
    school.site.engine.dispose()
    drop()


def identified(school, name: str) -> dict[str, str]:
    """How a client names user ``name`` by each field."""
    with school.site.engine.connect() as conn:
        user = school.site.queries.find_users(conn, "id", school.users[name], 1)[0]
    return {"username": user.username, "idnumber": user.idnumber, "email": user.email,
            "id": str(user.id)}


def operations(school) -> dict[str, Callable]:
    """Each operation a client may name a user in, as ``(caller, field, value)`` to its answer."""
    site = school.site

    def stats(scope):
        return lambda caller, field, value: site.get_stats(
            StatsRequest(targetuser=value, targetuserfield=field, statsscope=scope, **WINDOW),
            now=NOW, caller=caller)

    def scores(course):
        return lambda caller, field, value: site.get_scores(
            ScoresRequest(targetuser=value, targetuserfield=field, courseidfield="shortname",
                          courseidentifier=course), caller=caller)

    return {
        "GetStats site": stats("site"), "GetStats course": stats("course"),
        "GetStats module": stats("module"),
        "GetScores in C5": scores("C5"), "GetScores in C6": scores("C6"),
        "GetScores in no course": scores("NOPE"),
        "GetUsersStats": lambda caller, field, value: site.get_users_stats(
            UsersStatsRequest(targetusers=[value], targetuserfield=field, **WINDOW), now=NOW,
            caller=caller),
    }


def outcome(call: Callable) -> tuple[str, str]:
    """The fault and its message, or what the answer says of the user."""
    try:
        answer = call()
    except UseStatsError as error:
        return type(error).__name__, str(error)
    return "answered", repr(answer)


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("viewer", LIMITED)
def test_a_user_one_may_not_see_is_answered_as_a_missing_one(school, viewer, field):
    caller = school.caller(viewer)
    for name, operation in operations(school).items():
        missing = outcome(lambda: operation(caller, field, MISSING[field]))
        assert missing[0] == "Forbidden", (name, missing)
        for hidden in LIMITED[viewer]:
            value = identified(school, hidden)[field]
            assert outcome(lambda: operation(caller, field, value)) == missing, (name, hidden)


@pytest.mark.parametrize("field", FIELDS)
def test_the_site_capability_learns_that_a_user_does_not_exist(school, field):
    manager = school.caller("manager")
    for name, operation in operations(school).items():
        if name != "GetScores in no course":
            with pytest.raises(UnknownUser):
                operation(manager, field, MISSING[field])
            operation(manager, field, identified(school, "outsider")[field])


def test_the_refusal_names_the_parameter_and_not_the_user(school):
    with pytest.raises(Forbidden) as raised:
        school.site.get_stats(StatsRequest(targetuser="outsider", statsscope="course", **WINDOW),
                              now=NOW, caller=school.caller("teacher"))
    message = str(raised.value)
    assert message.startswith("targetuser ")
    assert "outsider" not in message.lower()


@pytest.mark.parametrize("field", FIELDS)
def test_a_course_teacher_sees_the_users_of_their_courses(school, field):
    """Enrolled in C5 (even suspended, without time), or with time in C5: the teacher's."""
    teacher = school.caller("teacher")
    for name in ("alice", "quiet"):
        value = identified(school, name)[field]
        answer = school.site.get_stats(StatsRequest(targetuser=value, targetuserfield=field,
                                                    statsscope="course", **WINDOW), now=NOW,
                                       caller=teacher)
        assert answer.USER.USERNAME == name
        assert {c.SHORTNAME for c in answer.COURSES or []} <= {"C5"}
        scores = school.site.get_scores(ScoresRequest(targetuser=value, targetuserfield=field,
                                                      courseidfield="shortname",
                                                      courseidentifier="C5"), caller=teacher)
        assert scores.USER.USERNAME == name
        with pytest.raises(Forbidden) as raised:
            school.site.get_stats(StatsRequest(targetuser=value, targetuserfield=field,
                                               statsscope="site", **WINDOW), now=NOW,
                                  caller=teacher)
        assert "site-wide" in str(raised.value)


def test_callinguser_cannot_probe_users(school):
    """An untrusted caller's callinguser must name itself: naming another user, existing
    or not, is refused alike."""
    teacher = school.caller("teacher")
    answers = {outcome(lambda: school.site.get_stats(
        StatsRequest(targetuser="alice", statsscope="course", **WINDOW, callinguser=calling(name)),
        now=NOW, caller=teacher)) for name in ("nobody", "bob", "outsider", "téacher")}
    assert len(answers) == 1 and next(iter(answers))[0] == "Forbidden", answers
    assert school.site.get_stats(StatsRequest(targetuser="alice", statsscope="course", **WINDOW,
                                              callinguser=calling(" Teacher ")), now=NOW,
                                 caller=teacher).USER.SECONDS


def test_a_course_one_may_not_see_is_answered_as_a_missing_one(school):
    """The teacher may see alice, not course C6: C6 is answered as a course that does not
    exist. No course population but their own is open to them, none to the others."""
    site = school.site
    teacher = school.caller("teacher")
    answers = {outcome(lambda: site.get_scores(
        ScoresRequest(targetuser="alice", courseidfield="shortname", courseidentifier=course),
        caller=teacher))
               for course in ("C6", "NOPE")}
    assert len(answers) == 1 and next(iter(answers))[0] == "Forbidden", answers
    for viewer, courses in (("teacher", ("C6", "NOPE")), ("alice", ("C5", "C6", "NOPE")),
                            ("stranger", ("C5", "C6", "NOPE"))):
        caller = school.caller(viewer)
        populations = {outcome(lambda: site.get_users_stats(
            UsersStatsRequest(courseidfield="shortname", courseidentifier=course,
                              statsscope="course", **WINDOW), now=NOW, caller=caller))
            for course in courses}
        assert len(populations) == 1 and next(iter(populations))[0] == "Forbidden", viewer


def test_a_course_population_is_its_teachers(school):
    page = school.site.get_users_stats(UsersStatsRequest(courseidfield="shortname",
                                                         courseidentifier="C5",
                                                         statsscope="course", **WINDOW), now=NOW,
                                       caller=school.caller("teacher"))
    assert [s.user.username for s in page.stats] == ["quiet"]


def _statements(school, call: Callable) -> int:
    seen = []
    listener = lambda *args: seen.append(1)  # noqa: E731
    event.listen(school.site.engine, "before_cursor_execute", listener)
    try:
        call()
    finally:
        event.remove(school.site.engine, "before_cursor_execute", listener)
    return len(seen)


def test_seeing_users_costs_the_same_statements_for_many_users_and_courses(tmp_path):
    """A teacher's lookup matching one user costs what one matching six does, each in many
    courses: no statement per user or per course."""
    b = MoodleBuilder(f"sqlite:///{tmp_path / 'moodle.sqlite'}")
    school = build_school(b)
    school.site = ShapedSite(connect(b.url), MoodleTables())
    teacher = school.caller("teacher")
    ask = lambda: school.site.get_stats(StatsRequest(targetuser="shared@example.com",
                                                     targetuserfield="email", statsscope="course",
                                                     **WINDOW), now=NOW, caller=teacher)
    first = b.user("shared1", email="shared@example.com")
    enrol(b, first, school.courses["C5"])
    before = _statements(school, ask)
    for number in range(5):
        other = b.user(f"other{number}", email="SHARED@example.com")
        for course in range(3):
            enrol(b, other, b.course(f"X{number}{course}"))
            enrol(b, first, b.course(f"Y{number}{course}"))
    assert _statements(school, ask) == before
    assert ask().USER.USERNAME == "shared1"
    school.site.engine.dispose()


@pytest.mark.parametrize("operation", ["GetStats", "GetScores", "GetUsersStats"])
def test_the_faults_sent_are_the_same_to_the_byte(school, operation):
    """Through the application: the SOAP fault for a user one may not see is the one for a
    user who does not exist, and carries nothing of the user."""
    app = create_app(Settings(database_url=school.url))
    try:
        for viewer, hidden in LIMITED.items():
            client = WsgiClient(app, QUERY_STRING=f"wstoken={school.b.user_token(school.users[viewer])}")
            for field in FIELDS:
                seen = identified(school, hidden[0])
                bodies = set()
                for value in (MISSING[field], seen[field]):
                    response = client.post(_request(operation, field, value))
                    assert response.fault()[0] == "Client.Forbidden", response.body[:300]
                    bodies.add(response.body)
                assert len(bodies) == 1, (viewer, field)
                body = bodies.pop()
                assert not any(v.encode() in body for v in seen.values())
    finally:
        app.network.home.engine.dispose()


def _request(operation: str, field: str, value: str) -> bytes:
    who = f"<u:targetuserfield>{field}</u:targetuserfield>"
    if operation == "GetUsersStats":
        return envelope(f"<u:GetUsersStats><u:targetusers><u:targetuser>{value}</u:targetuser>"
                        f"</u:targetusers>{who}<u:statsscope>course</u:statsscope>"
                        "</u:GetUsersStats>")
    if operation == "GetScores":
        return envelope(f"<u:GetScores><u:targetuser>{value}</u:targetuser>{who}"
                        "<u:courseidfield>shortname</u:courseidfield>"
                        "<u:courseidentifier>C5</u:courseidentifier></u:GetScores>")
    return envelope(f"<u:GetStats><u:targetuser>{value}</u:targetuser>{who}"
                    "<u:statsscope>course</u:statsscope></u:GetStats>")
