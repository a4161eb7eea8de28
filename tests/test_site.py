"""The query module and the site's operations, on SQLite, PostgreSQL and MariaDB.

Every case runs on the three databases with the same hand-computed figures,
so the databases agree to the second.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import event, insert

from soap_usestats.auth.caller import OPERATOR
from soap_usestats.domain.requests import ScoresRequest, StatsRequest
from soap_usestats.exceptions import (
    DatabaseUnavailable,
    InvalidParameter,
    UnknownCourse,
    UnknownHost,
    UnknownUser,
)
from soap_usestats.moodle.database import TEMPORARY_TABLE_BYTES, connect, read_only
from soap_usestats.moodle.tables import MoodleTables
from soap_usestats.timemodel.settings import TimeModelOverrides
from tests.support.examples import NOW, WINDOW, ShapedSite, grades, worked_example
from tests.support.moodle import WWWROOT


@pytest.fixture
def example(builder):
    ids = worked_example(builder)
    site = ShapedSite(connect(str(builder.engine.url.render_as_string(hide_password=False))),
                      MoodleTables())
    yield site, builder, ids
    site.engine.dispose()


def test_worked_example_site_scope(example):
    site, _, ids = example
    stats = site.get_stats(StatsRequest(targetuser="alice", sessions=True, **WINDOW), now=NOW,
                           caller=OPERATOR)
    user = stats.USER
    assert (user.USERNAME, user.IDNUMBER, user.ID) == ("alice", "E1001", ids["user"])
    assert (user.FROM, user.TO, user.SECONDS, user.ELAPSED, user.EVENTS) == (0, 100000, 2800, 46, 5)
    assert [(s.START.timestamp(), s.END.timestamp(), s.SECONDS) for s in stats.SESSIONS] == [
        (1000, 2900, 1900), (11000, 11900, 900)]
    assert stats.COURSES is None and stats.MODULES is None


def test_worked_example_course_scope(example):
    site, _, ids = example
    (course,) = site.get_stats(StatsRequest(targetuser="alice", statsscope="course", **WINDOW),
                               now=NOW, caller=OPERATOR).COURSES
    assert (course.SHORTNAME, course.IDNUMBER, course.NAME, course.ID) == (
        "C5", "CRS-5", "Course C5", ids["course"])
    assert (course.SECONDS, course.ELAPSED) == (2740, 45)
    assert (course.ACTIVITYSECONDS, course.COURSESECONDS, course.OTHERSECONDS) == (1500, 1240, 0)
    assert course.FIRSTACCESS.timestamp() == 1060 and course.LASTACCESS.timestamp() == 11000


def test_worked_example_module_scope(example):
    site, _, ids = example
    (module,) = site.get_stats(StatsRequest(targetuser="alice", statsscope="3", **WINDOW), now=NOW,
                               caller=OPERATOR).MODULES
    assert (module.NAME, module.TYPE, module.IDNUMBER, module.ID) == ("Quiz one", "quiz", "Q1", 31)
    assert (module.SECONDS, module.ELAPSED, module.EVENTS) == (1500, 25, 2)
    assert (module.COURSEID, module.COURSESHORTNAME) == (ids["course"], "C5")


def test_time_in_a_deleted_activity_stays_activity_time(example):
    """A deviation from the block, which books it to the course's other part: the module
    keeps its id, its type comes from the log row's component, and it has no name."""
    site, b, ids = example
    b.log(ids["user"], 20000, "viewed", "course_module", 70, ids["course"], 99, "mod_page")
    b.log(ids["user"], 20120, "viewed", "course", 50, ids["course"])
    window = dict(timefrom=20000, timeto=30000)
    modules = site.get_stats(StatsRequest(targetuser="alice", statsscope="module", **window),
                             now=NOW, caller=OPERATOR).MODULES
    gone = [(m.NAME, m.TYPE, m.SECONDS, m.COURSESHORTNAME) for m in modules if m.ID == 99]
    assert gone == [("", "page", 120, "C5")]
    (course,) = site.get_stats(StatsRequest(targetuser="alice", statsscope="course", **window),
                               now=NOW, caller=OPERATOR).COURSES
    assert (course.ACTIVITYSECONDS, course.OTHERSECONDS) == (120, 0)


def test_the_time_of_the_request_caps_the_last_ping_not_the_window_end(example):
    site, _, _ = example
    # The last row at 11000 is credited up to the time of the request, whatever the window.
    assert site.get_stats(StatsRequest(targetuser="alice", timefrom=0, timeto=11100), now=NOW,
                          caller=OPERATOR).USER.SECONDS == 2800
    assert site.get_stats(StatsRequest(targetuser="alice", timefrom=0, timeto=11100), now=11100,
                          caller=OPERATOR).USER.SECONDS == 2000
    # A window starting after the first session sees only the last row.
    assert site.get_stats(StatsRequest(targetuser="alice", timefrom=5000, timeto=100000), now=NOW,
                          caller=OPERATOR).USER.SECONDS == 900


def test_rows_the_model_leaves_out(builder, example):
    site, b, ids = example
    u, c5 = ids["user"], ids["course"]
    b.log(u, 1010, "viewed", "course", 50, c5, origin="cli")
    b.log(u, 1020, "failed", "user", 50, c5)
    b.log(u, 1030, "viewed", "course", 50, c5, realuserid=2)
    b.log(u, 1040, "viewed", "dashboard", 30)  # courseid 0, not a login
    b.log(b.user("bob"), 1050, "viewed", "course", 50, c5)  # another user
    b.log(u, 100001, "viewed", "course", 50, c5)  # after the window
    assert site.get_stats(StatsRequest(targetuser="alice", **WINDOW), now=NOW,
                          caller=OPERATOR).USER.SECONDS == 2800
    # A NULL origin takes part: this row splits row 2's lap without changing the sum,
    # and counts as one more event.
    b.log(u, 1070, "viewed", "course", 50, c5, origin=None)
    assert site.get_stats(StatsRequest(targetuser="alice", **WINDOW), now=NOW,
                          caller=OPERATOR).USER.EVENTS == 6


def test_deleted_course_module_keeps_its_time(example):
    site, b, ids = example
    b.log(ids["user"], 11500, "viewed", "course_module", 70, ids["course"], 999, "mod_page")
    stats = site.get_stats(StatsRequest(targetuser="alice", statsscope="module", **WINDOW),
                           now=NOW, caller=OPERATOR)
    modules = {m.ID: m for m in stats.MODULES}
    assert (modules[999].TYPE, modules[999].NAME, modules[999].SECONDS) == ("page", "", 900)
    assert modules[31].SECONDS == 600 + 500  # row 7 now runs to the page view


def test_site_course_is_reported_apart(example):
    site, b, ids = example
    b.log(ids["user"], 11600, "viewed", "course", 50, b.site_course)
    stats = site.get_stats(StatsRequest(targetuser="alice", statsscope="course", **WINDOW),
                           now=NOW, caller=OPERATOR)
    assert [c.SHORTNAME for c in stats.COURSES] == ["C5"]
    assert (stats.SITECOURSE.SHORTNAME, stats.SITECOURSE.SECONDS) == ("site", 900)


def test_courses_and_modules_in_stable_order(example):
    site, b, ids = example
    u = ids["user"]
    a1 = b.course("A1")
    b.module(a1, "forum", "Zebra forum", cmid=41)
    b.module(a1, "assign", "Alpha essay", cmid=42)
    for t, cm in ((20000, 41), (20100, 42)):
        b.log(u, t, "viewed", "course_module", 70, a1, cm, "mod_x")
    stats = site.get_stats(StatsRequest(targetuser="alice", statsscope="course", **WINDOW),
                           now=NOW, caller=OPERATOR)
    assert [c.SHORTNAME for c in stats.COURSES] == ["A1", "C5"]
    modules = site.get_stats(StatsRequest(targetuser="alice", statsscope="module", **WINDOW),
                             now=NOW, caller=OPERATOR).MODULES
    assert [(m.COURSESHORTNAME, m.NAME) for m in modules] == [
        ("A1", "Alpha essay"), ("A1", "Zebra forum"), ("C5", "Quiz one")]
    assert [m.TYPE for m in modules] == ["assign", "forum", "quiz"]


@pytest.mark.parametrize("field, value", [
    ("username", "alice"), ("username", "Alice"), ("idnumber", "E1001"),
    ("email", "alice.tester@example.COM"), ("id", None),
])
def test_user_lookup_fields(example, field, value):
    site, _, ids = example
    value = str(ids["user"]) if value is None else value
    assert site.get_stats(StatsRequest(targetuser=value, targetuserfield=field, **WINDOW), now=NOW,
                          caller=OPERATOR).USER.SECONDS == 2800


def test_username_is_matched_on_the_local_host_only(example):
    site, b, _ = example
    b.user("carol", mnethostid=3)
    with pytest.raises(UnknownUser):
        site.get_stats(StatsRequest(targetuser="carol"), now=NOW, caller=OPERATOR)
    b.user("alice", mnethostid=3, idnumber="R1")  # same username on a peer: not ambiguous
    assert site.get_stats(StatsRequest(targetuser="alice", **WINDOW), now=NOW,
                          caller=OPERATOR).USER.IDNUMBER == "E1001"


def test_unknown_deleted_and_ambiguous_users(example):
    site, b, _ = example
    b.user("gone", deleted=1)
    b.user("twin1", email="same@example.com")
    b.user("twin2", email="same@example.com")
    for args in (("nobody",), ("gone",), ("same@example.com", "email"), ("999999", "id")):
        with pytest.raises(UnknownUser):
            site.get_stats(StatsRequest(**dict(zip(("targetuser", "targetuserfield"), args))),
                           now=NOW, caller=OPERATOR)


def test_user_without_activity_gets_zeros(example):
    site, b, _ = example
    b.user("idle")
    stats = site.get_stats(StatsRequest(targetuser="idle", statsscope="course", sessions=True),
                           now=NOW, caller=OPERATOR)
    assert (stats.USER.ELAPSED, stats.USER.SECONDS, stats.COURSES, stats.SESSIONS) == (0, 0, [], [])


@pytest.mark.parametrize("kwargs", [
    {"statsscope": "weekly"}, {"targetuserfield": "phone"}, {"timefrom": 10, "timeto": 5},
    {"timefrom": -1}, {"targetuser": ""}, {"targetuserfield": "id", "targetuser": "abc"},
])
def test_bad_parameters(example, kwargs):
    site, _, _ = example
    kwargs = {"targetuser": "alice", **kwargs}
    with pytest.raises(InvalidParameter):
        site.get_stats(StatsRequest(**kwargs), now=NOW, caller=OPERATOR)


@pytest.mark.parametrize("root", ["", WWWROOT, WWWROOT.upper() + "/"])
def test_whereroot_naming_this_site(example, root):
    site, _, _ = example
    assert site.get_stats(StatsRequest(targetuser="alice", whereroot=root, **WINDOW), now=NOW,
                          caller=OPERATOR).USER.SECONDS == 2800


def test_whereroot_naming_another_site(example):
    site, _, _ = example
    with pytest.raises(UnknownHost):
        site.get_stats(StatsRequest(targetuser="alice", whereroot="https://peer.test"), now=NOW,
                       caller=OPERATOR)


def test_site_settings_and_overrides(example):
    site, b, _ = example
    b.config_plugin("block_use_stats", "threshold", "2")
    b.config_plugin("block_use_stats", "lastpingcredit", "1")
    b.config_plugin("block_use_stats", "capturemodules", "")
    # threshold 2 min: gaps of 60 s (1000->1060) and 100 s (1900->2000) stay laps, every
    # other row gets the 1 min credit; row 5 (learningtimecheck) counts on its own:
    # 60 + 60 + 60 + 100 + 60 + 60 = 400.
    assert site.get_stats(StatsRequest(targetuser="alice", **WINDOW), now=NOW,
                          caller=OPERATOR).USER.SECONDS == 400
    site.overrides = TimeModelOverrides(threshold=60, lastpingcredit=15)
    # The service's overrides win; capturemodules stays the site's (none): 1900->2000 counts.
    assert site.get_stats(StatsRequest(targetuser="alice", **WINDOW), now=NOW,
                          caller=OPERATOR).USER.SECONDS == 2800


def test_enrolment_filter_moves_the_window_start(example):
    site, b, ids = example
    enrol = b.insert("enrol", enrol="manual", courseid=ids["course"], status=0)
    b.insert("user_enrolments", enrolid=enrol, userid=ids["user"], timestart=5000, status=0)
    b.config_plugin("block_use_stats", "enrolmentfilter", "1")
    stats = site.get_stats(StatsRequest(targetuser="alice", **WINDOW), now=NOW, caller=OPERATOR)
    assert (stats.USER.FROM, stats.USER.SECONDS) == (5000, 900)


def test_enrolment_filter_takes_only_enrolments_starting_before_the_window_end(example):
    """As the block: an enrolment that starts at ``timeto`` itself does not move the start."""
    site, b, ids = example
    unfiltered = site.get_stats(StatsRequest(targetuser="alice", timefrom=0, timeto=5000), now=NOW,
                                caller=OPERATOR)
    enrol = b.insert("enrol", enrol="manual", courseid=ids["course"], status=0)
    b.insert("user_enrolments", enrolid=enrol, userid=ids["user"], timestart=5000, status=0)
    b.config_plugin("block_use_stats", "enrolmentfilter", "1")
    stats = site.get_stats(StatsRequest(targetuser="alice", timefrom=0, timeto=5000), now=NOW,
                           caller=OPERATOR)
    assert (stats.USER.FROM, stats.USER.SECONDS) == (0, unfiltered.USER.SECONDS) == (0, 1900)
    assert site.get_stats(StatsRequest(targetuser="alice", timefrom=0, timeto=5001), now=NOW,
                          caller=OPERATOR).USER.FROM == 5000


def test_enrolment_filter_looks_at_the_users_enrolment_status_only(example):
    """As the block: a disabled enrolment method still counts, a suspended enrolment does not."""
    site, b, ids = example
    disabled = b.insert("enrol", enrol="self", courseid=ids["course"], status=1)
    b.insert("user_enrolments", enrolid=disabled, userid=ids["user"], timestart=5000, status=0)
    manual = b.insert("enrol", enrol="manual", courseid=ids["course"], status=0)
    b.insert("user_enrolments", enrolid=manual, userid=ids["user"], timestart=10500, status=1)
    b.config_plugin("block_use_stats", "enrolmentfilter", "1")
    stats = site.get_stats(StatsRequest(targetuser="alice", **WINDOW), now=NOW, caller=OPERATOR)
    assert (stats.USER.FROM, stats.USER.SECONDS) == (5000, 900)


def test_scores_course_total_and_items(example):
    site, b, ids = example
    grades(b, ids)
    scores = site.get_scores(ScoresRequest(targetuser="alice", courseidfield="idnumber",
                                           courseidentifier="CRS-5"), caller=OPERATOR)
    assert (scores.COURSE.SHORTNAME, scores.USER.IDNUMBER) == ("C5", "E1001")
    assert (scores.SCORE, scores.GRADEMIN, scores.GRADEMAX, scores.GRADED) == (
        Decimal("72.50000"), Decimal("0.00000"), Decimal("100.00000"), True)
    assert scores.ITEMS is None
    items = site.get_scores(ScoresRequest(targetuser="alice", scorescope="notes/items",
                                          courseidfield="shortname", courseidentifier="C5"),
                            caller=OPERATOR).ITEMS
    assert [(i.NAME, i.TYPE, i.IDNUMBER, i.SCORE, i.GRADED) for i in items] == [
        ("Quiz one", "quiz", "Q1", Decimal("7.25000"), True),
        ("Oral", "manual", "", None, False),
        ("Assessments", "category", "", None, False),
    ]


def test_scores_without_gradebook_and_unknown_courses(example):
    site, b, ids = example
    b.course("DUP", idnumber="X")
    b.course("DUP2", idnumber="X")
    scores = site.get_scores(ScoresRequest(targetuser="alice", courseidfield="id",
                                           courseidentifier=str(ids["course"])), caller=OPERATOR)
    assert (scores.SCORE, scores.GRADEMAX, scores.GRADED) == (None, None, False)
    for field, value in (("shortname", "NOPE"), ("idnumber", "X"), ("id", "424242")):
        with pytest.raises(UnknownCourse):
            site.get_scores(ScoresRequest(targetuser="alice", courseidfield=field,
                                          courseidentifier=value), caller=OPERATOR)
    with pytest.raises(InvalidParameter):
        site.get_scores(ScoresRequest(targetuser="alice", courseidfield="fullname",
                                      courseidentifier="C5"), caller=OPERATOR)


def test_transactions_are_read_only(example):
    site, _, _ = example
    with pytest.raises(Exception) as raised:
        with read_only(site.engine) as conn:
            conn.execute(insert(site.queries.t.config), {"name": "x", "value": "y"})
    assert "read" in str(raised.value.__cause__ or raised.value).lower()


def test_sessions_have_what_the_window_statement_needs(backend, database_url):
    """PostgreSQL without JIT and with 32 MB to sort in, MariaDB with 64 MB temporary
    tables in memory: for the service's own sessions only."""
    engine = connect(database_url)
    try:
        with read_only(engine) as conn:
            if backend == "postgresql":
                assert conn.exec_driver_sql("SHOW jit").scalar() == "off"
                assert conn.exec_driver_sql("SHOW work_mem").scalar() == "32MB"
            elif backend == "mariadb":
                sizes = conn.exec_driver_sql("SELECT @@tmp_table_size, @@max_heap_table_size")
                assert tuple(sizes.one()) == (TEMPORARY_TABLE_BYTES,) * 2 == (64 * 2**20,) * 2
            else:
                assert conn.exec_driver_sql("PRAGMA query_only").scalar() == 1
    finally:
        engine.dispose()


def test_queries_per_request_are_bounded(example):
    """Many modules of several types cost one query per type, never one per row."""
    site, b, ids = example
    u, c5 = ids["user"], ids["course"]
    t = 20000
    for n in range(30):
        modname = ("forum", "page", "assign")[n % 3]
        cmid = b.module(c5, modname, f"{modname} {n}")
        for _ in range(3):
            t += 30
            b.log(u, t, "viewed", "course_module", 70, c5, cmid, f"mod_{modname}")
    statements = []
    event.listen(site.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    modules = site.get_stats(StatsRequest(targetuser="alice", statsscope="module", **WINDOW),
                             now=NOW, caller=OPERATOR).MODULES
    assert len(modules) == 31
    # config, plugin config, user, log, courses, course modules, 4 activity types,
    # plus the read-only/transaction statements of the driver.
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) <= 10


def test_unreachable_database_is_reported(backend):
    urls = {
        "sqlite": "sqlite:////nonexistent-dir/moodle.sqlite",
        "postgresql": "postgresql+psycopg://postgres@127.0.0.1:1/moodle",
        "mariadb": "mysql+pymysql://root@127.0.0.1:1/moodle",
    }
    site = ShapedSite(connect(urls[backend]), MoodleTables())
    with pytest.raises(DatabaseUnavailable) as raised:
        site.get_stats(StatsRequest(targetuser="alice"), now=NOW, caller=OPERATOR)
    assert "127.0.0.1" not in str(raised.value) and "nonexistent" not in str(raised.value)


def test_time_in_a_deleted_course_is_still_reported(example):
    site, b, ids = example
    b.log(ids["user"], 11700, "viewed", "course_module", 70, 777, 778, "mod_forum")
    stats = site.get_stats(StatsRequest(targetuser="alice", statsscope="course", **WINDOW),
                           now=NOW, caller=OPERATOR)
    assert [(c.ID, c.SHORTNAME, c.NAME, c.SECONDS) for c in stats.COURSES] == [
        (777, "", "", 900), (ids["course"], "C5", "Course C5", 2740 - 900 + 700)]
    modules = site.get_stats(StatsRequest(targetuser="alice", statsscope="module", **WINDOW),
                             now=NOW, caller=OPERATOR).MODULES
    assert [(m.ID, m.COURSEID, m.COURSESHORTNAME, m.TYPE) for m in modules] == [
        (778, 777, "", "forum"), (31, ids["course"], "C5", "quiz")]
