"""The demo Moodle site: deterministic, refuses to clobber, referentially sane, realistic."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Connection

from soap_usestats.demo.schema import ACTIVITY_TYPES, DemoTables
from soap_usestats.auth.caller import OPERATOR
from soap_usestats.demo.site import DemoSite, build_demo_site
from soap_usestats.domain.requests import StatsRequest
from soap_usestats.domain.site import MoodleSite
from soap_usestats.moodle.database import connect
from soap_usestats.moodle.tables import MoodleTables
from soap_usestats.web import help as help_page

T = DemoTables("mdl_")
LOG = T.log
#: The worked example of spec/time-model.md: offset from BASE, action, target, level,
#: course (5 = the reference course) and cm (31 = the quiz, 32 = the learningtimecheck).
WORKED_EXAMPLE = [
    (1000, "loggedin", "user", 10, 0, None),
    (1060, "viewed", "course", 50, 5, None),
    (1300, "viewed", "course_module", 70, 5, 31),
    (1500, "graded", "user", 50, 5, None),
    (1900, "viewed", "course_module", 70, 5, 32),
    (2000, "viewed", "course", 50, 5, None),
    (11000, "viewed", "course_module", 70, 5, 31),
]


def _build(path) -> tuple[DemoSite, str]:
    url = f"sqlite:///{path}"
    began = time.perf_counter()
    site = build_demo_site(url)
    print(f"\ndemo site built in {time.perf_counter() - began:.2f} s: {site.log_rows} log rows")
    return site, url


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[DemoSite, str]:
    return _build(tmp_path_factory.mktemp("demo") / "moodle.db")


@pytest.fixture(scope="module")
def conn(built):
    engine = create_engine(built[1])
    with engine.connect() as connection:
        yield connection
    engine.dispose()


@pytest.fixture(scope="module")
def site(built) -> DemoSite:
    return built[0]


def _snapshot(conn: Connection) -> tuple[dict[str, int], str]:
    """Row counts of every table and a checksum of the log."""
    counts = {table.name: conn.scalar(select(func.count()).select_from(table))
              for table in T.metadata.sorted_tables}
    digest = hashlib.sha256()
    for row in conn.execute(select(LOG).order_by(LOG.c.id)):
        digest.update(repr(tuple(row)).encode())
    return counts, digest.hexdigest()


def _user_id(conn: Connection, username: str, host: int = 1) -> int:
    return conn.scalar(select(T.user.c.id).where(T.user.c.username == username,
                                                 T.user.c.mnethostid == host))


def _learner_ids(conn: Connection) -> set[int]:
    """Users holding the student role somewhere."""
    student = select(T.role.c.id).where(T.role.c.shortname == "student").scalar_subquery()
    return set(conn.scalars(select(T.role_assignments.c.userid)
                            .where(T.role_assignments.c.roleid == student)))


def _enrolled(conn: Connection) -> set[tuple[int, int]]:
    """(userid, courseid) of every enrolment."""
    return {tuple(row) for row in conn.execute(
        select(T.user_enrolments.c.userid, T.enrol.c.courseid)
        .join(T.enrol, T.enrol.c.id == T.user_enrolments.c.enrolid))}


def test_same_seed_same_database(built, conn, tmp_path):
    site, _ = built
    again, url = _build(tmp_path / "again.db")
    engine = create_engine(url)
    with engine.connect() as other:
        assert _snapshot(other) == _snapshot(conn)
    engine.dispose()
    assert again == site


def test_another_seed_another_log(conn, tmp_path):
    url = f"sqlite:///{tmp_path / 'other.db'}"
    build_demo_site(url, seed=7, learners=5)
    engine = create_engine(url)
    with engine.connect() as other:
        assert _snapshot(other)[1] != _snapshot(conn)[1]
        assert len(_learner_ids(other)) == 5 + 1 + 1   # + suspended + remote (deleted lose roles)
    engine.dispose()


def test_refuses_to_build_over_a_site(built):
    with pytest.raises(RuntimeError, match="mdl_config already exists"):
        build_demo_site(built[1])


def test_another_prefix_is_another_site(built):
    site = build_demo_site(built[1], prefix="demo2_", learners=2, seed=3)
    assert site.learners == 2
    with pytest.raises(RuntimeError, match="demo2_config already exists"):
        build_demo_site(built[1], prefix="demo2_")


def test_counts(site, conn):
    assert site.learners == 40
    assert site.log_rows == conn.scalar(select(func.count()).select_from(LOG))
    active = select(T.user.c.id).where(T.user.c.deleted == 0, T.user.c.suspended == 0,
                                       T.user.c.mnethostid == 1)
    assert len(_learner_ids(conn) & set(conn.scalars(active))) == 40
    assert conn.scalar(select(func.count()).select_from(T.course)) == 7
    assert set(conn.scalars(select(T.modules.c.name))) == set(ACTIVITY_TYPES)


def test_configuration(site, conn):
    config = dict(conn.execute(select(T.config.c.name, T.config.c.value)).all())
    assert {k: config[k] for k in ("siteadmins", "siteguest", "mnet_localhost_id",
                                   "mnet_all_hosts_id", "enablewebservices")} == {
        "siteadmins": "2", "siteguest": "1", "mnet_localhost_id": "1",
        "mnet_all_hosts_id": "2", "enablewebservices": "1"}
    plugins = {(p, n): v for p, n, v in conn.execute(
        select(T.config_plugins.c.plugin, T.config_plugins.c.name, T.config_plugins.c.value))}
    assert plugins["tool_log", "enabled_stores"] == "logstore_standard"
    assert plugins["logstore_standard", "jsonformat"] == "1"
    assert plugins["block_use_stats", "threshold"] == "60"
    assert plugins["block_use_stats", "lastpingcredit"] == "15"
    assert plugins["block_use_stats", "capturemodules"] == "learningtimecheck"
    hosts = dict(conn.execute(select(T.mnet_host.c.id, T.mnet_host.c.wwwroot)).all())
    assert hosts == {1: site.wwwroot, 2: "", 3: "https://partner.example.org"}
    site_course = conn.execute(select(T.course).where(T.course.c.category == 0)).one()
    assert (site_course.id, site_course.format) == (1, "site")


def test_token_of_the_manager(site, conn):
    token = conn.execute(select(T.external_tokens).where(
        T.external_tokens.c.token == site.token)).one()
    assert len(site.token) == 32 and int(site.token, 16) >= 0
    assert (token.tokentype, token.contextid) == (0, 1)
    service = conn.execute(select(T.external_services).where(
        T.external_services.c.id == token.externalserviceid)).one()
    assert (service.shortname, service.enabled, service.restrictedusers) == (
        "soap_usestats", 1, 0)
    manager = select(T.role.c.id).where(T.role.c.shortname == "manager").scalar_subquery()
    holder = select(T.role_assignments.c.userid).where(
        T.role_assignments.c.roleid == manager, T.role_assignments.c.contextid == 1)
    assert conn.scalar(holder) == token.userid


def test_capabilities(conn):
    rc, role = T.role_capabilities, T.role
    granted = {(cap, short) for cap, short, perm, ctx in conn.execute(
        select(rc.c.capability, role.c.shortname, rc.c.permission, rc.c.contextid)
        .join(role, role.c.id == rc.c.roleid)) if perm == 1 and ctx == 1}
    assert {("block/use_stats:seesitedetails", "manager"),
            ("block/use_stats:seecoursedetails", "teacher"),
            ("block/use_stats:seeowndetails", "student"),
            ("moodle/site:viewreports", "editingteacher")} <= granted
    assert ("block/use_stats:seesitedetails", "student") not in granted
    assert len(list(conn.scalars(select(role.c.shortname)))) == 8


def test_module_rows_point_at_course_modules_except_the_deleted_page(conn):
    cms = set(conn.scalars(select(T.course_modules.c.id)))
    orphans = conn.execute(select(LOG.c.contextinstanceid, LOG.c.component, LOG.c.action)
                           .where(LOG.c.contextlevel == 70)).all()
    missing = {row.contextinstanceid for row in orphans if row.contextinstanceid not in cms}
    assert len(missing) == 1
    [cmid] = missing
    rows = [row for row in orphans if row.contextinstanceid == cmid]
    assert {row.component for row in rows} <= {"mod_page", "core"}
    assert Counter(row.action for row in rows)["viewed"] > 5
    assert [row.action for row in rows if row.component == "core"] == ["created", "deleted"]


def test_course_modules_have_their_instances(conn):
    cm, modules = T.course_modules, T.modules
    for name in ACTIVITY_TYPES:
        table = T.activity(name)
        joined = conn.execute(
            select(cm.c.id, cm.c.course, table.c.id.label("found"), table.c.course.label("home"))
            .join(modules, modules.c.id == cm.c.module)
            .outerjoin(table, table.c.id == cm.c.instance)
            .where(modules.c.name == name)).all()
        assert joined, f"no {name} in any course"
        assert all(row.found is not None and row.home == row.course for row in joined), name


def test_contexts_are_consistent(conn):
    contexts = {row.id: row for row in conn.execute(select(T.context))}
    owners = {
        30: set(conn.scalars(select(T.user.c.id).where(T.user.c.deleted == 0))),
        40: set(conn.scalars(select(T.course_categories.c.id))),
        50: set(conn.scalars(select(T.course.c.id))),
        70: set(conn.scalars(select(T.course_modules.c.id))),
    }
    assert contexts[1].path == "/1" and contexts[1].contextlevel == 10
    for ctx in contexts.values():
        ids = [int(part) for part in ctx.path.split("/")[1:]]
        assert ids[-1] == ctx.id and ids[0] == 1 and len(ids) == ctx.depth
        assert all(ancestor in contexts for ancestor in ids)
        if ctx.contextlevel != 10:
            assert ctx.instanceid in owners[ctx.contextlevel]
    for level, ids in owners.items():
        assert ids == {c.instanceid for c in contexts.values() if c.contextlevel == level}
    cms = conn.execute(select(T.course_modules.c.id, T.course_modules.c.course)).all()
    course_ctx = {c.instanceid: c.path for c in contexts.values() if c.contextlevel == 50}
    module_ctx = {c.instanceid: c.path for c in contexts.values() if c.contextlevel == 70}
    assert all(module_ctx[cmid].startswith(course_ctx[course] + "/") for cmid, course in cms)
    category_path = dict(conn.execute(select(T.course_categories.c.id,
                                             T.course_categories.c.path)).all())
    assert category_path[3] == "/2/3"


def test_learners_are_enrolled_where_they_log(conn):
    learners = _learner_ids(conn)
    enrolled = _enrolled(conn)
    logged = {tuple(row) for row in conn.execute(
        select(LOG.c.userid, LOG.c.courseid).distinct().where(LOG.c.courseid > 1))}
    learner_logs = {pair for pair in logged if pair[0] in learners}
    assert len(learner_logs) > 80
    assert learner_logs <= enrolled


def test_log_rows_look_like_moodles(conn):
    rows = conn.execute(select(LOG)).all()
    for row in rows[::97]:
        assert row.eventname == f"\\{row.component}\\event\\{row.target}_{row.action}"
        assert row.crud in "crud" and row.edulevel in (0, 1, 2)
        json.loads(row.other)
        if row.contextlevel in (10, 30, 40):
            assert row.courseid == 0
        else:
            assert row.courseid > 0
    logins = [row for row in rows if row.action == "loggedin"]
    assert all(row.courseid == 0 and row.contextlevel == 10 and row.objecttable == "user"
               for row in logins)
    sessions_ended = sum(row.action == "loggedout" for row in rows)
    assert 0.3 < sessions_ended / len(logins) < 0.8
    assert Counter(row.origin for row in rows)["web"] > 0.9 * len(rows)
    same_second = Counter((row.userid, row.timecreated) for row in rows)
    assert max(same_second.values()) >= 3


def test_reference_learner_is_the_worked_example(site, conn):
    ref = site.reference
    userid = _user_id(conn, ref.username)
    rows = conn.execute(select(LOG).where(
        LOG.c.userid == userid, LOG.c.timecreated.between(ref.timefrom, ref.timeto))
        .order_by(LOG.c.timecreated, LOG.c.id)).all()
    plays = {5: ref.courseid, 31: ref.quiz_cmid, 32: ref.checklist_cmid}
    expected = [(ref.timefrom + offset, action, target, level, plays.get(course, 0),
                 plays[cm] if cm else None)
                for offset, action, target, level, course, cm in WORKED_EXAMPLE]
    assert [(r.timecreated, r.action, r.target, r.contextlevel, r.courseid,
             r.contextinstanceid if r.contextlevel == 70 else None) for r in rows] == expected
    assert all(r.origin == "web" and r.realuserid is None for r in rows)
    assert rows[3].relateduserid == userid and rows[3].eventname == "\\core\\event\\user_graded"
    assert ref.timefrom == 1769385600 and ref.timeto == ref.timefrom + 100000
    kinds = dict(conn.execute(select(T.course_modules.c.id, T.modules.c.name)
                              .join(T.modules, T.modules.c.id == T.course_modules.c.module)
                              .where(T.course_modules.c.course == ref.courseid)).all())
    assert (kinds[ref.quiz_cmid], kinds[ref.checklist_cmid]) == ("quiz", "learningtimecheck")
    assert conn.scalar(select(T.course.c.shortname).where(
        T.course.c.id == ref.courseid)) == ref.course_shortname
    enrolment = conn.execute(
        select(T.user_enrolments).join(T.enrol, T.enrol.c.id == T.user_enrolments.c.enrolid)
        .where(T.user_enrolments.c.userid == userid, T.enrol.c.courseid == ref.courseid)).one()
    assert enrolment.timestart < ref.timefrom and enrolment.status == 0
    assert conn.scalar(select(func.count()).select_from(LOG).where(
        LOG.c.userid == userid, LOG.c.timecreated > ref.timeto)) > 0


def test_special_cases(conn):
    learners = _learner_ids(conn)
    rows = conn.execute(select(LOG)).all()
    on_learners = [row for row in rows if row.userid in learners]
    cli = [row for row in on_learners if row.origin == "cli"]
    assert any(row.courseid > 1 for row in cli) and all(row.ip is None for row in cli)
    assert any(row.action == "failed" and row.userid in learners for row in rows)
    assert any(row.action == "failed" and row.userid == 0 for row in rows)
    as_admin = [row for row in on_learners if row.realuserid is not None]
    assert as_admin and {row.realuserid for row in as_admin} == {2}
    assert any(row.action == "loggedinas" and row.userid == 2 for row in rows)
    own_grades = [row for row in on_learners if row.action == "graded" and row.target == "user"
                  and row.relateduserid == row.userid]
    assert len(own_grades) > 50 and {row.edulevel for row in own_grades} == {1}
    assert {row.contextlevel for row in own_grades} == {50}
    teacher_grades = [row for row in rows if row.action == "graded" and row.target == "user"
                      and row.userid not in learners]
    assert teacher_grades
    checks = [row for row in on_learners if row.component == "mod_learningtimecheck"]
    assert len({row.userid for row in checks}) > 10
    front = [row for row in rows if row.courseid == 1 and row.contextlevel == 50]
    assert {0, 1} <= {row.userid for row in front}
    assert len({row.userid for row in front} & learners) > 5
    assert any(row.origin == "ws" for row in rows)
    assert any(row.anonymous == 1 for row in rows)
    assert any(row.action == "loggedout" and row.userid in learners for row in rows)


def test_long_breaks_inside_sessions(site, conn):
    """Some learners come back after more than an hour without logging in again."""
    rows = conn.execute(select(LOG.c.userid, LOG.c.timecreated, LOG.c.action)
                        .where(LOG.c.origin == "web", LOG.c.realuserid.is_(None))
                        .order_by(LOG.c.userid, LOG.c.timecreated, LOG.c.id)).all()
    breaks = [b for a, b in pairwise(rows) if a.userid == b.userid
              and 3600 < b.timecreated - a.timecreated < 4 * 3600
              and a.action != "loggedout" and b.action != "loggedin"]
    assert len(breaks) > 10


def test_users_the_service_must_tell_apart(conn):
    user = T.user
    deleted = conn.execute(select(user).where(user.c.deleted == 1)).one()
    assert deleted.username.endswith(".1774006200") and deleted.idnumber == ""
    assert conn.scalar(select(func.count()).select_from(LOG).where(
        LOG.c.userid == deleted.id, LOG.c.courseid > 1)) > 0
    assert conn.scalar(select(func.count()).select_from(T.user_enrolments).where(
        T.user_enrolments.c.userid == deleted.id)) == 0
    suspended = conn.execute(select(user).where(user.c.suspended == 1)).one()
    assert conn.scalar(select(func.count()).select_from(LOG).where(
        LOG.c.userid == suspended.id, LOG.c.action == "failed",
        LOG.c.timecreated > suspended.timemodified)) > 0
    remote = conn.execute(select(user).where(user.c.mnethostid == 3)).one()
    twin = conn.execute(select(user).where(user.c.mnethostid == 1,
                                           user.c.username == remote.username)).one()
    assert remote.id != twin.id and remote.auth == "mnet"
    assert conn.scalar(select(func.count()).select_from(LOG).where(
        LOG.c.userid == remote.id, LOG.c.courseid > 1)) > 0
    local = conn.scalar(select(func.count()).select_from(user).where(
        user.c.mnethostid == 1, user.c.deleted == 0))
    assert local == 2 + 5 + 40 + 1      # guest, admin, staff, learners, suspended
    idnumbers = set(conn.scalars(select(user.c.idnumber)))
    assert "E10001" in idnumbers


def test_course_totals_agree_with_items(conn):
    gi, gg = T.grade_items, T.grade_grades
    items = {row.id: row for row in conn.execute(select(gi))}
    totals = {row.courseid: row for row in items.values() if row.itemtype == "course"}
    assert len(totals) == 6
    categories = dict(conn.execute(select(T.grade_categories.c.courseid,
                                          T.grade_categories.c.id)).all())
    assert all(categories[c] == row.iteminstance for c, row in totals.items())
    grades: dict[tuple[int, int], list[float]] = {}
    course_total: dict[tuple[int, int], float | None] = {}
    for row in conn.execute(select(gg)):
        item = items[row.itemid]
        key = (item.courseid, row.userid)
        if item.itemtype == "course":
            course_total[key] = None if row.finalgrade is None else float(row.finalgrade)
        else:
            grades.setdefault(key, []).append(float(row.finalgrade) / float(item.grademax))
    assert sum(value is None for value in course_total.values()) >= 1
    for key, value in course_total.items():
        if value is not None:
            shares = grades[key]
            assert value == pytest.approx(100 * sum(shares) / len(shares), abs=1e-4)
    kinds = {row.itemmodule for row in items.values() if row.itemtype == "mod"}
    assert {"quiz", "assign", "lesson", "scorm", "workshop"} <= kinds
    assert any(row.itemtype == "manual" for row in items.values())
    learners = _learner_ids(conn)
    ungraded = {(u, c) for u, c in _enrolled(conn) if u in learners} - {(u, c) for c, u in grades}
    assert ungraded, "some learners have no activity grade"


def test_make_run_example_uses_the_learners_token(site):
    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    assert f"DEMO_TOKEN := {site.tokens['learner']}" in makefile
    assert f"DEMO_USER := {site.reference.username}" in makefile


def test_the_help_pages_example_is_the_demos_reference_learner(site, conn):
    """The page for people shows the reference learner as `make run` serves them."""
    learner, (courseid, *names) = help_page.EXAMPLE_LEARNER, help_page.EXAMPLE_COURSE
    user = conn.execute(select(T.user).where(T.user.c.id == learner.id)).one()
    assert (user.username, user.firstname, user.lastname, user.idnumber) == (
        learner.username, learner.firstname, learner.lastname, learner.idnumber)
    assert learner.username == site.reference.username and courseid == site.reference.courseid
    course = conn.execute(select(T.course).where(T.course.c.id == courseid)).one()
    assert [course.fullname, course.shortname, course.idnumber] == names
    assert help_page.EXAMPLE_PARAMETERS["GetStats"]["timefrom"] == site.reference.timefrom


def test_the_help_pages_example_record_is_the_demos(built):
    """The example's COMPLETION and GRADE are what the demo answers for the reference course."""
    moodle = MoodleSite(connect(built[1]), MoodleTables())
    try:
        stats = moodle.get_stats(StatsRequest(**help_page.EXAMPLE_PARAMETERS["GetStats"]),
                                 now=built[0].reference.timeto, caller=OPERATOR)
    finally:
        moodle.engine.dispose()
    (course,) = [c for c in stats.courses if c.id == help_page.EXAMPLE_COURSE[0]]
    assert (course.completion, course.grade) == (help_page.EXAMPLE_COMPLETION,
                                                 help_page.EXAMPLE_GRADE)


def test_the_sap_guides_example_learner_is_in_the_demo(conn):
    guide = (Path(__file__).parents[1] / "docs" / "sap.md").read_text()
    (idnumber,) = set(re.findall(r"targetuser\s+= '([^']+)'", guide))
    assert conn.scalar(select(func.count()).select_from(T.user).where(
        T.user.c.idnumber == idnumber, T.user.c.deleted == 0)) == 1
