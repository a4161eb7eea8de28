"""A learner's own figures on a stock Moodle: the own capability held in a course context.

block_use_stats gives ``block/use_stats:seeowndetails`` to the student, teacher,
editingteacher and manager archetypes, and a stock site assigns those roles in
course contexts. Whoever holds it in the system context or in any course
context sees all their own figures; a prohibit on a course's path takes that
course away; nobody's own capability opens another user's figures. On SQLite,
PostgreSQL and MariaDB: the rule in ``Permissions`` and ``Viewer``, through the
site, and end to end with zeep against gunicorn on the demo site.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
import zeep
from sqlalchemy import event

from soap_usestats import contexts
from soap_usestats.access.capabilities import CAP_PREVENT, CAP_PROHIBIT, Permissions
from soap_usestats.access.rules import Viewer
from soap_usestats.auth.caller import OPERATOR
from soap_usestats.config import Capabilities
from soap_usestats.demo.site import TERM_END, TERM_START, build_demo_site
from soap_usestats.domain.requests import ScoresRequest, StatsRequest
from soap_usestats.exceptions import Forbidden
from soap_usestats.moodle.database import connect, read_only
from soap_usestats.moodle.queries import Queries
from soap_usestats.moodle.siteconfig import SiteConfig
from soap_usestats.moodle.tables import MoodleTables
from tests.support.examples import (
    NOW,
    OWN,
    WINDOW,
    ShapedSite,
    token_caller,
    worked_example,
)
from tests.support.moodle import MoodleBuilder
from tests.support.servers import gunicorn

CAPABILITIES = Capabilities()
NAMES = [CAPABILITIES.site, CAPABILITIES.course, CAPABILITIES.own]


@pytest.fixture
def stock(builder) -> SimpleNamespace:
    """A stock site's roles: the student archetype allowed the own capability in its
    definition, the authenticated user role (everyone's) not; alice and bob are students
    of C5 only, alice with the worked example's time in C5 and more in C6."""
    b = builder
    s = SimpleNamespace(b=b)
    ids = worked_example(b)
    s.alice, s.c5 = ids["user"], ids["course"]
    s.c6 = b.course("C6")
    b.log(s.alice, 30000, "viewed", "course", 50, s.c6)
    b.log(s.alice, 30600, "viewed", "course", 50, s.c6)
    s.bob = b.user("bob")
    s.system = b.context(contexts.SYSTEM)
    s.category = b.context(contexts.CATEGORY, 1, s.system)
    s.ctx5 = b.context(contexts.COURSE, s.c5, s.category)
    s.ctx6 = b.context(contexts.COURSE, s.c6, s.category)
    s.student, s.user, s.barred = b.role("student"), b.role("user"), b.role("barred")
    b.allow(s.student, OWN, s.system)
    b.config("defaultuserroleid", str(s.user))
    for user in (s.alice, s.bob):
        b.assign(user, s.student, s.ctx5)
    return s


def viewer(b: MoodleBuilder, userid: int) -> Viewer:
    engine = connect(b.url)
    try:
        with read_only(engine) as conn:
            queries = Queries(MoodleTables())
            return Viewer.of(conn, queries, SiteConfig.read(conn, queries), CAPABILITIES, userid)
    finally:
        engine.dispose()


# The rule, in Permissions and Viewer

def test_held_in_a_course_context_only(stock):
    alice = viewer(stock.b, stock.alice)
    assert not alice.permissions.in_system(OWN)
    assert alice.permissions.in_some_course(OWN)
    assert alice.sees_all_of(stock.alice)
    assert not alice.sees_all_of(stock.bob)
    assert not alice.sees_everyone


def test_prohibited_in_that_course_by_another_role(stock):
    b = stock.b
    b.assign(stock.alice, stock.barred, stock.ctx5)
    b.allow(stock.barred, OWN, stock.ctx5, CAP_PROHIBIT)
    alice = viewer(b, stock.alice)
    assert not alice.permissions.in_some_course(OWN)
    assert not alice.sees_all_of(stock.alice)
    assert viewer(b, stock.bob).sees_all_of(stock.bob)     # bob is not barred


def test_a_prohibit_in_one_course_leaves_the_others(stock):
    b = stock.b
    b.assign(stock.alice, stock.student, stock.ctx6)
    b.assign(stock.alice, stock.barred, stock.ctx5)
    b.allow(stock.barred, OWN, stock.system, CAP_PROHIBIT)   # defined everywhere, held in C5
    assert viewer(b, stock.alice).sees_all_of(stock.alice)


def test_a_prevent_override_in_the_course(stock):
    b = stock.b
    b.allow(stock.student, OWN, stock.ctx5, CAP_PREVENT)
    assert not viewer(b, stock.alice).sees_all_of(stock.alice)
    b.assign(stock.alice, stock.student, stock.ctx6)
    assert viewer(b, stock.alice).sees_all_of(stock.alice)


def test_held_in_no_course(stock):
    b = stock.b
    teacher = b.role("teacher")
    carol = b.user("carol")
    b.assign(carol, teacher, stock.ctx5)        # a role without the own capability
    carol_viewer = viewer(b, carol)
    assert not carol_viewer.permissions.in_some_course(OWN)
    assert not carol_viewer.sees_all_of(carol)
    assert not viewer(b, b.user("dave")).sees_all_of(b.user("erin"))


def test_a_role_assigned_in_a_category_counts_for_its_courses(stock):
    b = stock.b
    carol = b.user("carol")
    b.assign(carol, stock.student, stock.category)
    assert viewer(b, carol).sees_all_of(carol)


def test_an_assignment_in_another_kind_of_context_does_not_count(stock):
    b = stock.b
    carol = b.user("carol")
    module = b.context(contexts.MODULE, 31, stock.ctx5)
    b.assign(carol, stock.student, module)
    assert not viewer(b, carol).sees_all_of(carol)


def test_held_in_the_system_context_still_counts(stock):
    b = stock.b
    carol = b.user("carol")
    b.allow(stock.user, OWN, stock.system)      # every user's role, as the demo site has it
    carol_viewer = viewer(b, carol)
    assert carol_viewer.permissions.in_system(OWN) and carol_viewer.sees_all_of(carol)


def test_no_statement_per_course(stock):
    b = stock.b
    courses = [b.course(f"K{n}") for n in range(40)]
    for course in courses[:-1]:
        b.assign(stock.alice, stock.barred, b.context(contexts.COURSE, course, stock.category))
    last = b.context(contexts.COURSE, courses[-1], stock.category)
    b.assign(stock.alice, stock.student, last)
    b.allow(stock.student, OWN, stock.ctx5, CAP_PREVENT)
    engine = connect(b.url)
    engine.connect().close()
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *args: statements.append(statement))
    try:
        with read_only(engine) as conn:
            queries = Queries(MoodleTables())
            config = SiteConfig.read(conn, queries)
            statements.clear()
            permissions = Permissions.load(conn, queries, config, stock.alice, NAMES)
            assert permissions.in_some_course(OWN)          # from the last course only
    finally:
        engine.dispose()
    assert sum("mdl_" in statement for statement in statements) == 2   # assignments, definitions


# Through the site

@pytest.fixture
def site(stock, database_url):
    site = ShapedSite(connect(database_url), MoodleTables())
    yield site
    site.engine.dispose()


def test_a_student_of_one_course_gets_all_their_own_figures(stock, site):
    alice = token_caller(stock.b, stock.alice)
    seen = site.get_stats(StatsRequest(targetuser="alice", statsscope="course", sessions=True,
                                       **WINDOW), now=NOW, caller=alice)
    everything = site.get_stats(StatsRequest(targetuser="alice", statsscope="course",
                                             sessions=True, **WINDOW), now=NOW, caller=OPERATOR)
    assert {c.SHORTNAME: c.SECONDS for c in seen.COURSES} == {"C5": 2740, "C6": 1500}
    assert seen.USER.SECONDS == everything.USER.SECONDS
    assert len(seen.SESSIONS) == len(everything.SESSIONS) == 3
    assert site.get_stats(StatsRequest(targetuser="alice", statsscope="site", **WINDOW), now=NOW,
                          caller=alice).USER.SECONDS == everything.USER.SECONDS
    scores = site.get_scores(ScoresRequest(targetuser="alice", courseidfield="shortname",
                                           courseidentifier="C6"), caller=alice)
    assert scores.COURSE.SHORTNAME == "C6"


def test_a_student_still_cannot_read_another_learner(stock, site):
    alice = token_caller(stock.b, stock.alice)
    for scope in ("site", "course", "module"):
        with pytest.raises(Forbidden):
            site.get_stats(StatsRequest(targetuser="bob", statsscope=scope, **WINDOW), now=NOW,
                           caller=alice)
    with pytest.raises(Forbidden):
        site.get_scores(ScoresRequest(targetuser="bob", courseidfield="shortname",
                                      courseidentifier="C5"), caller=alice)
    with pytest.raises(Forbidden):
        site.get_stats(StatsRequest(targetuser="nobody", **WINDOW), now=NOW, caller=alice)


# End to end: the demo site with a stock site's roles, zeep, gunicorn

@pytest.mark.e2e
def test_the_demo_student_reads_their_own_figures_over_soap(database_url):
    demo = build_demo_site(database_url, learners=3, stock_roles=True)
    student, reference = demo.student, demo.reference.username
    site = ShapedSite(connect(database_url), MoodleTables())
    try:
        with read_only(site.engine) as conn:
            queries = site.queries
            config = SiteConfig.read(conn, queries)
            userid = queries.find_users(conn, "username", student.username, config.localhost)[0].id
            rights = Permissions.load(conn, queries, config, userid, NAMES)
        assert not rights.in_system(OWN), "the stock demo learner holds the own capability in courses only"
        term = {"timefrom": TERM_START, "timeto": TERM_END}
        expected = site.get_stats(StatsRequest(targetuser=student.username, statsscope="course",
                                               sessions=True, **term),
                                  now=int(time.time()), caller=OPERATOR)
        with gunicorn(database_url) as soap_url:
            client = zeep.Client(f"{soap_url}?wsdl")
            service = client.create_service("{urn:soap-usestats:1}UseStats",
                                            f"{soap_url}?wstoken={student.token}")
            answer = service.GetStats(targetuser=student.username, statsscope="course",
                                      sessions=True, **term)
            assert answer.USER.USERNAME == student.username
            assert answer.USER.SECONDS == expected.USER.SECONDS > 0
            assert ({c.SHORTNAME: c.SECONDS for c in answer.COURSES.COURSE}
                    == {c.SHORTNAME: c.SECONDS for c in expected.COURSES})
            assert len(answer.SESSIONS.SESSION) == len(expected.SESSIONS)
            for target in (reference, "nobody"):
                with pytest.raises(zeep.exceptions.Fault) as refused:
                    service.GetStats(targetuser=target, statsscope="course", **term)
                assert refused.value.code.endswith("Client.Forbidden")
    finally:
        site.engine.dispose()
