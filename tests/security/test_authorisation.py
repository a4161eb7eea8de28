"""Who sees what: the contract's authorisation rules, through the site, on the three databases.

The school: alice (the worked example in C5, plus time in C6), bob, an
administrator, a manager, a teacher of C5, a teacher of the whole category, and
a stranger with no role. Figures a restricted viewer gets are compared with
what the operator's unrestricted view says of the same courses.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event

from soap_usestats import contexts
from soap_usestats.access.capabilities import CAP_PREVENT as PREVENT
from soap_usestats.access.capabilities import CAP_PROHIBIT as PROHIBIT
from soap_usestats.auth.caller import OPERATOR, Caller
from soap_usestats.config import Capabilities
from soap_usestats.domain.requests import ScoresRequest, StatsRequest
from soap_usestats.exceptions import Forbidden, UnknownCourse, UnknownUser
from soap_usestats.moodle.database import connect
from soap_usestats.moodle.tables import MoodleTables
from tests.support.examples import (
    COURSE,
    NOW,
    OWN,
    WINDOW,
    ShapedSite,
    build_school,
    calling,
    token_caller,
)


@pytest.fixture
def school(builder, database_url):
    school = build_school(builder)
    school.site = ShapedSite(connect(database_url), MoodleTables())
    yield school
    school.site.engine.dispose()


def stats(school, caller: Caller, target: str = "alice", scope: str = "course", **extra):
    return school.site.get_stats(StatsRequest(targetuser=target, statsscope=scope, **WINDOW,
                                              **extra), now=NOW, caller=caller)


def course_seconds(answer) -> dict[str, int]:
    return {c.SHORTNAME: c.SECONDS for c in answer.COURSES or []}


@pytest.fixture
def everything(school):
    return stats(school, OPERATOR, sessions=True)


@pytest.mark.parametrize("viewer", ["admin", "manager"])
def test_site_admins_and_site_capability_see_everything(school, everything, viewer):
    answer = stats(school, school.caller(viewer), sessions=True)
    assert course_seconds(answer) == course_seconds(everything) == {"C5": 2740, "C6": 1500}
    assert answer.USER.SECONDS == everything.USER.SECONDS
    assert len(answer.SESSIONS) == len(everything.SESSIONS) == 3
    assert stats(school, school.caller(viewer), scope="site").USER.SECONDS == everything.USER.SECONDS


def test_own_capability_sees_own_figures_only(school, everything):
    alice = school.caller("alice")
    assert stats(school, alice, scope="site").USER.SECONDS == everything.USER.SECONDS
    with pytest.raises(Forbidden):
        stats(school, alice, target="bob", scope="site")
    with pytest.raises(Forbidden):
        stats(school, alice, target="bob", scope="course")


def test_own_capability_prohibited_by_another_role(school):
    b, system = school.b, school.contexts["system"]
    barred = b.role("barred")
    b.allow(barred, OWN, system, PROHIBIT)
    b.assign(school.users["alice"], barred, system)
    with pytest.raises(Forbidden):
        stats(school, school.caller("alice"), scope="site")


def test_course_capability_sees_only_its_courses(school, everything):
    answer = stats(school, school.caller("teacher"), sessions=True)
    assert course_seconds(answer) == {"C5": 2740}
    assert answer.USER.SECONDS == 2740
    assert answer.USER.ELAPSED == 2740 // 60
    assert answer.SESSIONS in (None, [])
    modules = stats(school, school.caller("teacher"), scope="module").MODULES
    assert {m.COURSESHORTNAME for m in modules} == {"C5"}


def test_course_capability_gives_no_site_total(school):
    with pytest.raises(Forbidden):
        stats(school, school.caller("teacher"), scope="site")


def test_category_assignment_reaches_the_courses_below(school, everything):
    assert course_seconds(stats(school, school.caller("catteacher"))) == course_seconds(everything)


def test_prevent_override_in_a_course_beats_the_role_definition(school):
    school.b.allow(school.roles["editingteacher"], COURSE, school.contexts["C6"], PREVENT)
    assert course_seconds(stats(school, school.caller("catteacher"))) == {"C5": 2740}


def test_allow_override_in_a_course_beats_a_prevent_above(school):
    b, roles, contexts = school.b, school.roles, school.contexts
    b.allow(roles["editingteacher"], COURSE, contexts["category"], PREVENT)
    b.allow(roles["editingteacher"], COURSE, contexts["C6"])
    assert course_seconds(stats(school, school.caller("catteacher"))) == {"C6": 1500}


def test_prohibit_wins_over_another_roles_allow(school):
    b, roles, contexts, users = school.b, school.roles, school.contexts, school.users
    b.allow(roles["editingteacher"], COURSE, contexts["C5"], PROHIBIT)
    helper = b.role("helper")
    b.allow(helper, COURSE, contexts["system"])
    b.assign(users["teacher"], helper, contexts["C5"])
    # The teacher holds the course capability nowhere: alice is not theirs to see, and is
    # refused as a user who does not exist (the contract: no identity of a user one may
    # not see), not answered with zero figures.
    with pytest.raises(Forbidden) as refused:
        stats(school, school.caller("teacher"))
    with pytest.raises(Forbidden) as missing:
        stats(school, school.caller("teacher"), target="nobody")
    assert str(refused.value) == str(missing.value)


def test_no_capability_is_forbidden(school):
    for scope in ("site", "course", "module"):
        with pytest.raises(Forbidden):
            stats(school, school.caller("stranger"), scope=scope)


def test_unknown_target_is_forbidden_unless_the_viewer_sees_everyone(school):
    with pytest.raises(Forbidden):
        stats(school, school.caller("stranger"), target="nobody")
    with pytest.raises(Forbidden):
        stats(school, school.caller("teacher"), target="nobody")
    with pytest.raises(UnknownUser):
        stats(school, school.caller("manager"), target="nobody")


def scores(school, caller: Caller, course: str = "C5", target: str = "alice", **extra):
    return school.site.get_scores(ScoresRequest(targetuser=target, courseidfield="shortname",
                                                courseidentifier=course, **extra), caller=caller)


def test_scores_follow_the_same_rules(school):
    assert str(scores(school, school.caller("teacher")).SCORE) == "72.50000"
    assert str(scores(school, school.caller("alice")).SCORE) == "72.50000"
    assert str(scores(school, school.caller("manager")).SCORE) == "72.50000"
    with pytest.raises(Forbidden):
        scores(school, school.caller("teacher"), course="C6")
    with pytest.raises(Forbidden):
        scores(school, school.caller("stranger"))
    with pytest.raises(Forbidden):
        scores(school, school.caller("alice"), target="bob")


def test_unknown_course_is_forbidden_unless_the_viewer_sees_everyone(school):
    with pytest.raises(Forbidden):
        scores(school, school.caller("teacher"), course="NOPE")
    with pytest.raises(UnknownCourse):
        scores(school, school.caller("manager"), course="NOPE")


def test_callinguser_from_a_token_must_name_its_owner(school):
    teacher = school.caller("teacher")
    assert course_seconds(stats(school, teacher, callinguser=calling("teacher"))) == {"C5": 2740}
    with pytest.raises(Forbidden):
        stats(school, teacher, callinguser=calling("manager"))


def test_trusted_client_may_assert_callinguser(school, everything):
    client = Caller(label="client portal", trusted=True)
    answer = stats(school, client, callinguser=calling("manager"))
    assert course_seconds(answer) == course_seconds(everything)
    assert course_seconds(stats(school, client, callinguser=calling("teacher"))) == {"C5": 2740}
    with pytest.raises(Forbidden):
        stats(school, client, callinguser=calling("nobody"))
    with pytest.raises(Forbidden):
        stats(school, client)


def test_untrusted_client_acts_as_its_configured_user_only(school, everything):
    client = Caller(label="client erp", username="manager")
    assert course_seconds(stats(school, client)) == course_seconds(everything)
    assert course_seconds(stats(school, client, callinguser=calling("manager"))) == \
        course_seconds(everything)
    with pytest.raises(Forbidden):
        stats(school, Caller(label="client erp", username="teacher"), callinguser=calling("manager"))
    with pytest.raises(Forbidden):
        stats(school, Caller(label="client nobody"))


def test_trusted_client_may_assert_a_user_of_an_mnet_peer(school):
    remote = school.b.user("manager", mnethostid=3)
    school.b.assign(remote, school.roles["manager"], school.contexts["system"])
    client = Caller(label="client peer", trusted=True)
    answer = stats(school, client, scope="site", callinguser=calling("manager", "https://peer.test/"))
    assert answer.USER.USERNAME == "alice"
    with pytest.raises(Forbidden):
        stats(school, client, callinguser=calling("manager", "https://unknown.test"))


def test_capability_names_are_configurable(school, everything):
    b, contexts = school.b, school.contexts
    reporter = b.user("reporter")
    viewer = b.role("viewer")
    b.allow(viewer, "moodle/site:viewreports", contexts["system"])
    b.assign(reporter, viewer, contexts["system"])
    site = ShapedSite(school.site.engine, MoodleTables(),
                      capabilities=Capabilities(site="moodle/site:viewreports"))
    answer = site.get_stats(StatsRequest(targetuser="alice", statsscope="course", **WINDOW),
                            now=NOW, caller=token_caller(b, reporter))
    assert course_seconds(answer) == course_seconds(everything)
    with pytest.raises(Forbidden):
        stats(school, token_caller(b, reporter))


def test_permissions_cost_the_same_queries_for_many_courses(school):
    """A teacher's call costs as many statements for 2 courses of the target as for 12."""
    def statements() -> int:
        seen = []
        listener = lambda *args: seen.append(1)  # noqa: E731
        event.listen(school.site.engine, "before_cursor_execute", listener)
        try:
            stats(school, school.caller("catteacher"))
        finally:
            event.remove(school.site.engine, "before_cursor_execute", listener)
        return len(seen)

    before = statements()
    b, alice = school.b, school.users["alice"]
    for number in range(10):
        course = b.course(f"X{number}")
        b.context(contexts.COURSE, course, school.contexts["category"])
        b.log(alice, 40000 + 100 * number, "viewed", "course", 50, course)
    assert len(stats(school, school.caller("catteacher")).COURSES) == 12
    assert statements() == before
