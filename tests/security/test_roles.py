"""Capabilities resolved from Moodle's role tables, on SQLite, PostgreSQL and MariaDB.

Each rule of accesslib's has_capability() has its case, built row by row: a
system context, a category, and courses A and B in it.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import event

from soap_usestats.access.capabilities import (
    CAP_ALLOW,
    CAP_INHERIT,
    CAP_PREVENT,
    CAP_PROHIBIT,
    Permissions,
    context_paths,
    has_capability_in,
)
from soap_usestats.moodle.database import connect, read_only
from soap_usestats.moodle.queries import Queries
from soap_usestats.moodle.siteconfig import SiteConfig
from soap_usestats.moodle.tables import MoodleTables
from tests.support.moodle import MoodleBuilder

CAP = "block/use_stats:seecoursedetails"
OTHER = "block/use_stats:seesitedetails"
SYSTEM, COURSECAT, COURSE = 10, 40, 50


@pytest.fixture
def b(builder):
    return builder


@pytest.fixture
def site(b) -> SimpleNamespace:
    """Contexts, roles, the guest, an admin and Alice; the site's role settings."""
    s = SimpleNamespace()
    s.system = b.context(SYSTEM)
    s.category = b.context(COURSECAT, 1, s.system)
    s.a, s.b = b.course("A"), b.course("B")
    s.ctx_a, s.ctx_b = b.context(COURSE, s.a, s.category), b.context(COURSE, s.b, s.category)
    for role in ("manager", "editingteacher", "student", "guest", "user", "frontpage"):
        setattr(s, role, b.role(role))
    s.guest_user, s.admin, s.alice = b.user("guest"), b.user("admin"), b.user("alice")
    b.config("siteguest", str(s.guest_user))
    b.config("siteadmins", f"{s.admin}")
    b.config("defaultuserroleid", str(s.user))
    b.config("guestroleid", str(s.guest))
    return s


def load(b: MoodleBuilder, userid: int, courseids=(), capabilities=(CAP,)) -> Permissions:
    engine = connect(b.url)
    try:
        with read_only(engine) as conn:
            queries = Queries(MoodleTables())
            config = SiteConfig.read(conn, queries)
            return Permissions.load(conn, queries, config, userid, capabilities, courseids)
    finally:
        engine.dispose()


def test_site_admin_holds_everything_whatever_roles_say(b, site):
    b.allow(site.user, CAP, site.system, CAP_PROHIBIT)
    admin = load(b, site.admin, [site.a])
    assert admin.is_siteadmin
    assert admin.in_system(CAP) and admin.in_course(CAP, site.a)
    assert admin.may_hold_anywhere(CAP)
    alice = load(b, site.alice, [site.a])
    assert not alice.is_siteadmin
    assert not alice.in_system(CAP) and not alice.in_course(CAP, site.a)


def test_siteadmins_is_a_list_of_ids(b, site):
    b.config("siteadmins", f"7, {site.alice}")
    assert load(b, site.alice).is_siteadmin
    assert not load(b, site.admin).is_siteadmin


def test_allow_in_the_role_definition(b, site):
    b.assign(site.alice, site.manager, site.system)
    b.allow(site.manager, CAP, site.system)
    alice = load(b, site.alice, [site.a])
    assert alice.in_system(CAP) and alice.in_course(CAP, site.a)


def test_role_assigned_in_a_category_applies_to_its_courses(b, site):
    b.assign(site.alice, site.editingteacher, site.category)
    b.allow(site.editingteacher, CAP, site.system)
    alice = load(b, site.alice, [site.a, site.b])
    assert alice.in_course(CAP, site.a) and alice.in_course(CAP, site.b)
    assert not alice.in_system(CAP)


def test_course_override_prevent_beats_the_system_allow(b, site):
    for ctx in (site.ctx_a, site.ctx_b):
        b.assign(site.alice, site.editingteacher, ctx)
    b.allow(site.editingteacher, CAP, site.system)
    b.allow(site.editingteacher, CAP, site.ctx_a, CAP_PREVENT)
    alice = load(b, site.alice, [site.a, site.b])
    assert not alice.in_course(CAP, site.a)
    assert alice.in_course(CAP, site.b)


def test_allow_in_a_child_beats_prevent_in_its_parent(b, site):
    b.assign(site.alice, site.editingteacher, site.category)
    b.allow(site.editingteacher, CAP, site.system)
    b.allow(site.editingteacher, CAP, site.category, CAP_PREVENT)
    b.allow(site.editingteacher, CAP, site.ctx_a, CAP_ALLOW)
    alice = load(b, site.alice, [site.a, site.b])
    assert alice.in_course(CAP, site.a)
    assert not alice.in_course(CAP, site.b)


def test_prohibit_anywhere_on_the_path_wins_against_another_roles_allow(b, site):
    b.assign(site.alice, site.manager, site.system)
    b.assign(site.alice, site.student, site.ctx_a)
    b.allow(site.manager, CAP, site.system)
    b.allow(site.student, CAP, site.category, CAP_PROHIBIT)
    alice = load(b, site.alice, [site.a, site.b])
    assert not alice.in_course(CAP, site.a)
    assert alice.in_course(CAP, site.b)     # no student there: the prohibit is not on its path
    assert alice.in_system(CAP)


def test_prohibit_in_a_parent_cannot_be_overridden_below(b, site):
    b.assign(site.alice, site.editingteacher, site.ctx_a)
    b.allow(site.editingteacher, CAP, site.system, CAP_PROHIBIT)
    b.allow(site.editingteacher, CAP, site.ctx_a, CAP_ALLOW)
    assert not load(b, site.alice, [site.a]).in_course(CAP, site.a)


def test_one_role_allows_another_prevents_allowed(b, site):
    b.assign(site.alice, site.editingteacher, site.ctx_a)
    b.assign(site.alice, site.student, site.ctx_a)
    b.allow(site.editingteacher, CAP, site.system, CAP_ALLOW)
    b.allow(site.student, CAP, site.system, CAP_PREVENT)
    assert load(b, site.alice, [site.a]).in_course(CAP, site.a)


def test_an_assignment_in_another_course_does_not_leak(b, site):
    b.assign(site.alice, site.editingteacher, site.ctx_b)
    b.allow(site.editingteacher, CAP, site.system)
    alice = load(b, site.alice, [site.a, site.b])
    assert not alice.in_course(CAP, site.a)
    assert alice.in_course(CAP, site.b)
    assert not alice.in_system(CAP)
    assert alice.may_hold_anywhere(CAP)


def test_the_default_user_role_holds_everywhere(b, site):
    b.allow(site.user, CAP, site.system)
    alice = load(b, site.alice, [site.a])
    assert alice.in_system(CAP) and alice.in_course(CAP, site.a)


def test_no_default_role_when_the_setting_is_0(b, site):
    b.allow(site.user, CAP, site.system)
    b.config("defaultuserroleid", "0")
    assert not load(b, site.alice).in_system(CAP)


def test_the_guest_holds_the_guest_role_only(b, site):
    b.allow(site.user, CAP, site.system)
    b.allow(site.editingteacher, CAP, site.system)
    b.assign(site.guest_user, site.editingteacher, site.ctx_a)   # ignored, as Moodle does
    guest = load(b, site.guest_user, [site.a])
    assert not guest.in_system(CAP) and not guest.in_course(CAP, site.a)
    assert not guest.may_hold_anywhere(CAP)
    b.allow(site.guest, CAP, site.system)
    guest = load(b, site.guest_user, [site.a])
    assert guest.in_system(CAP) and guest.in_course(CAP, site.a)


def test_the_front_page_role_holds_in_the_site_course(b, site):
    b.config("defaultfrontpageroleid", str(site.frontpage))
    b.context(COURSE, b.site_course, site.system)
    b.allow(site.frontpage, CAP, site.system)
    alice = load(b, site.alice, [b.site_course, site.a])
    assert alice.in_course(CAP, b.site_course)
    assert not alice.in_course(CAP, site.a) and not alice.in_system(CAP)


def test_a_stored_inherit_row_settles_the_role_as_accesslib_does(b, site):
    # accesslib takes the first row found going up, whatever its value; Moodle
    # deletes a row set back to "inherit", so such a row only comes from elsewhere.
    b.assign(site.alice, site.editingteacher, site.ctx_a)
    b.allow(site.editingteacher, CAP, site.system)
    b.allow(site.editingteacher, CAP, site.ctx_a, CAP_INHERIT)
    assert not load(b, site.alice, [site.a]).in_course(CAP, site.a)


def test_capabilities_are_kept_apart(b, site):
    b.assign(site.alice, site.manager, site.system)
    b.allow(site.manager, OTHER, site.system)
    alice = load(b, site.alice, [site.a], capabilities=(CAP, OTHER))
    assert alice.in_system(OTHER) and not alice.in_system(CAP)
    assert alice.may_hold_anywhere(OTHER) and not alice.may_hold_anywhere(CAP)


def test_may_hold_anywhere_looks_at_every_context_of_the_users_roles(b, site):
    b.assign(site.alice, site.student, site.ctx_a)
    b.allow(site.student, CAP, site.ctx_b, CAP_ALLOW)   # an override where Alice is not
    b.allow(site.editingteacher, CAP, site.system)       # a role Alice does not hold
    alice = load(b, site.alice)
    assert alice.may_hold_anywhere(CAP)
    assert not alice.in_system(CAP)
    bob = load(b, b.user("bob"))
    assert not bob.may_hold_anywhere(CAP)


def test_an_unknown_course_or_one_without_context_is_refused(b, site):
    b.assign(site.alice, site.manager, site.system)
    b.allow(site.manager, CAP, site.system)
    orphan = b.course("orphan")
    alice = load(b, site.alice, [site.a, orphan, 424242])
    assert alice.in_course(CAP, site.a)
    assert not alice.in_course(CAP, orphan) and not alice.in_course(CAP, 424242)


def test_asking_for_a_capability_not_loaded_is_an_error(b, site):
    alice = load(b, site.alice)
    with pytest.raises(ValueError, match="not loaded"):
        alice.in_system(OTHER)


def test_statements_do_not_grow_with_courses_or_roles(b, site):
    b.allow(site.editingteacher, CAP, site.system)
    courses = [b.course(f"C{n}") for n in range(50)]
    for n, course in enumerate(courses):
        ctx = b.context(COURSE, course, site.category)
        b.assign(site.alice, site.editingteacher if n % 2 else site.student, ctx)
        b.allow(site.student, CAP, ctx, CAP_PREVENT)
    engine = connect(b.url)
    engine.connect().close()   # the dialect's own first-connect queries are not ours
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *args: statements.append(statement))
    counts = []
    try:
        for chosen in (courses[:1], courses):
            statements.clear()
            with read_only(engine) as conn:
                queries = Queries(MoodleTables())
                permissions = Permissions.load(conn, queries, SiteConfig.read(conn, queries),
                                               site.alice, [CAP], chosen)
            counts.append(sum("mdl_" in statement for statement in statements))
    finally:
        engine.dispose()
    assert counts[0] == counts[1] == 4
    assert [permissions.in_course(CAP, c) for c in courses[:4]] == [False, True, False, True]


# The pure resolution, without a database

def test_context_paths():
    assert context_paths("/1/3/24") == ["/1/3/24", "/1/3", "/1"]
    assert context_paths("/1") == ["/1"]
    assert context_paths(None) == [] and context_paths("") == []


def test_has_capability_in():
    ra = {"/1/3": {5}, "/1/3/24": {6}}
    rdef = {(5, "/1"): {CAP: CAP_ALLOW}, (5, "/1/3/24"): {CAP: CAP_PREVENT},
            (6, "/1"): {CAP: CAP_PREVENT}, (7, "/1"): {CAP: CAP_ALLOW}}
    assert has_capability_in(CAP, "/1/3/25", ra, rdef)          # role 5 from the category
    assert not has_capability_in(CAP, "/1/3/24", ra, rdef)      # overridden there, 6 prevents
    assert not has_capability_in(CAP, "/1", ra, rdef)           # nothing assigned at system
    assert has_capability_in(CAP, "/1", ra, rdef, default_roles={7})
    assert not has_capability_in(CAP, "/1/3/25", ra, rdef | {(5, "/1/3"): {CAP: CAP_PROHIBIT}})
    # a prohibit for a role not held there changes nothing
    assert has_capability_in(CAP, "/1/3/25", ra, rdef | {(6, "/1/3"): {CAP: CAP_PROHIBIT}})
    assert not has_capability_in(CAP, None, ra, rdef, default_roles={7})
