"""GetUsersStats in-process: each user's USE_STATS is GetStats' for that user, on the demo
site and on SQLite, PostgreSQL and MariaDB; populations, paging, cursors, bad input, and the
statements a page costs."""

from __future__ import annotations

import base64

import pytest
from spyne.util.dictdoc import get_object_as_dict
from sqlalchemy import select, update

from soap_usestats.auth.caller import OPERATOR
from soap_usestats.demo.site import build_demo_site
from soap_usestats.domain.requests import StatsRequest, UsersStatsRequest
from soap_usestats.exceptions import InvalidParameter, UnknownCourse, UnknownUser
from soap_usestats.moodle.database import connect
from soap_usestats.moodle.tables import MoodleTables
from soap_usestats.soap import messages, shaping
from tests.support.databases import BACKENDS, fresh_database
from tests.support.examples import ShapedSite
from tests.support.statements import counting

NOW = 1798761600  # 2027-01-01: after the whole demo term
LEARNERS = 6


def _dict(stats) -> dict:
    return get_object_as_dict(stats, messages.UseStats)


def pages(site: ShapedSite, **asked) -> list:
    """Every page of a GetUsersStats, following the cursor."""
    found, cursor = [], None
    while True:
        page = shaping.users_stats(site.users_stats(cursor=cursor, **asked))
        found.append(page)
        cursor = page.NEXTCURSOR
        if cursor is None:
            return found


def users_of(found: list) -> list:
    return [stats for page in found for stats in page.USE_STATS]


class Site(ShapedSite):
    """The site, with GetUsersStats' plain answer at hand, asked by the operator at NOW."""

    def users_stats(self, now: int = NOW, caller=OPERATOR, **asked):
        return self.get_users_stats(UsersStatsRequest(**asked), now=now, caller=caller)

    def stats_by_id(self, userid: int, **asked):
        return self.get_stats(StatsRequest(targetuser=str(userid), targetuserfield="id", **asked),
                              now=NOW, caller=OPERATOR)


@pytest.fixture(scope="module")
def demo_sites(tmp_path_factory):
    """The demo site built on every backend."""
    sites, drops = {}, []
    for backend in BACKENDS:
        url, drop = fresh_database(backend, tmp_path_factory.mktemp(backend))
        drops.append(drop)
        demo = build_demo_site(url, learners=LEARNERS)
        sites[backend] = (Site(connect(url), MoodleTables()), demo, url)
    yield sites
    for site, _, _ in sites.values():
        site.engine.dispose()
    for drop in drops:
        drop()


def _users(url: str) -> list:
    tables = MoodleTables()
    engine = connect(url)
    with engine.connect() as conn:
        u = tables.user.c
        rows = conn.execute(select(u.id, u.username, u.mnethostid, u.deleted).order_by(u.id)).all()
    engine.dispose()
    return rows


#: The demo's guest user (``siteguest``).
GUEST = 1

FIGURES = [dict(statsscope="site"),
           dict(statsscope="course", daily=True, timefrom=1767225600, timezone="Europe/Paris"),
           dict(statsscope="module", timefrom=1770000000, timeto=1780000000)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("asked", FIGURES, ids=["site", "course-daily", "module-window"])
def test_site_wide_population_is_getstats_of_every_user(demo_sites, backend, asked):
    site, _, url = demo_sites[backend]
    answered = users_of(pages(site, pagesize=4, **asked))
    ids = [s.USER.ID for s in answered]
    assert ids == sorted(set(ids)) and len(ids) > LEARNERS
    deleted = {row.id for row in _users(url) if row.deleted}
    assert not deleted & set(ids)
    for stats in answered:
        assert stats.USER.EVENTS > 0
        assert _dict(stats) == _dict(site.stats_by_id(stats.USER.ID, **asked))
    assert GUEST not in ids  # the guest user has time, and is in no population
    assert site.stats_by_id(GUEST, **asked).USER.EVENTS > 0
    idle = [row.id for row in _users(url)
            if not row.deleted and row.id not in ids and row.id != GUEST]
    for userid in idle:
        assert site.stats_by_id(userid, **asked).USER.EVENTS is None


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("asked", FIGURES, ids=["site", "course-daily", "module-window"])
def test_listed_population_is_getstats_of_each(demo_sites, backend, asked):
    site, _, url = demo_sites[backend]
    local = [row for row in _users(url)
             if not row.deleted and row.mnethostid == 1 and row.id != GUEST]
    names = [row.username for row in reversed(local)]
    answered = users_of(pages(site, targetusers=names + names[:2], pagesize=5, **asked))
    assert [s.USER.ID for s in answered] == [row.id for row in local]
    for stats in answered:
        assert _dict(stats) == _dict(site.get_stats(
            StatsRequest(targetuser=stats.USER.USERNAME, **asked), now=NOW, caller=OPERATOR))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("asked", FIGURES, ids=["site", "course-daily", "module-window"])
def test_course_population_is_getstats_of_each(demo_sites, backend, asked):
    site, demo, _ = demo_sites[backend]
    answered = users_of(pages(site, courseidfield="shortname", pagesize=3,
                              courseidentifier=demo.reference.course_shortname, **asked))
    assert len(answered) >= 2
    assert [s.USER.ID for s in answered] == sorted({s.USER.ID for s in answered})
    for stats in answered:
        assert _dict(stats) == _dict(site.stats_by_id(stats.USER.ID, **asked))


# Exact populations and paging, on small sites written row by row

@pytest.fixture
def site(builder):
    s = Site(connect(builder.url), MoodleTables())
    yield s
    s.engine.dispose()


def _busy(builder, name: str, at: int = 1000, **values) -> int:
    user = builder.user(name, **values)
    builder.log(user, at, "loggedin", "user", 10)
    builder.log(user, at + 100, "viewed", "course", 50, builder.site_course)
    return user


def test_paging_gives_each_user_once_in_id_order(builder, site):
    busy = [_busy(builder, f"u{n:02}") for n in range(11)]
    builder.user("idle")                                   # no log row: not in the population
    only_ignored = builder.user("cli")
    builder.log(only_ignored, 1000, "viewed", "course", 50, builder.site_course, origin="cli")
    gone = _busy(builder, "gone", deleted=1)
    found = pages(site, pagesize=4, timeto=5000)
    assert [len(page.USE_STATS) for page in found] == [4, 4, 3]
    assert [s.USER.ID for s in users_of(found)] == sorted(busy)
    assert gone not in {s.USER.ID for s in users_of(found)}
    assert found[-1].NEXTCURSOR is None


def test_pagesize_may_change_between_pages(builder, site):
    busy = [_busy(builder, f"u{n}") for n in range(6)]
    first = site.users_stats(pagesize=2, timeto=5000)
    rest = site.users_stats(pagesize=10, timeto=5000, cursor=first.next_cursor)
    assert [s.user.id for s in first.stats + rest.stats] == busy and rest.next_cursor is None


def test_a_page_skips_users_without_counted_events(builder, site):
    """Candidates with log rows but no counted event are passed over; more are fetched."""
    first = _busy(builder, "first")
    for n in range(5):
        builder.log(builder.user(f"cli{n}"), 1000, "viewed", "course", 50, builder.site_course,
                    origin="cli")
    last = _busy(builder, "last")
    page = site.users_stats(pagesize=2, timeto=5000)
    assert [s.user.id for s in page.stats] == [first, last] and page.next_cursor is None


def test_a_cursor_stays_valid_when_a_user_appears(builder, site):
    busy = [_busy(builder, f"u{n}") for n in range(4)]
    page = site.users_stats(pagesize=2, timeto=5000)
    newcomer = _busy(builder, "newcomer")
    rest = site.users_stats(pagesize=2, timeto=5000, cursor=page.next_cursor)
    assert [s.user.id for s in rest.stats] == busy[2:]
    last = site.users_stats(pagesize=2, timeto=5000, cursor=rest.next_cursor)
    assert [s.user.id for s in last.stats] == [newcomer] and last.next_cursor is None


def test_without_timeto_every_page_keeps_the_first_pages_end(builder, site):
    _busy(builder, "a"), _busy(builder, "b")
    page = site.users_stats(pagesize=1, now=10000)
    rest = site.users_stats(pagesize=1, now=20000, cursor=page.next_cursor)
    assert page.stats[0].end == rest.stats[0].end == 10000


def _tampered(cursor: str) -> list[str]:
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    flipped = [bytearray(raw) for _ in range(3)]
    flipped[0][0] ^= 1                   # the signature
    flipped[1][-3] ^= 1                  # the payload
    flipped[2] = raw.replace(b'"a":', b'"a":1')  # another position, unsigned
    return [base64.urlsafe_b64encode(bytes(r)).rstrip(b"=").decode() for r in flipped]


def test_a_forged_or_garbled_cursor_is_refused(builder, site):
    for n in range(3):
        _busy(builder, f"u{n}")
    cursor = site.users_stats(pagesize=1, timeto=5000).next_cursor
    for bad in [*_tampered(cursor), "not a cursor", cursor[:-4], "!!", "A" * 40]:
        with pytest.raises(InvalidParameter, match="cursor"):
            site.users_stats(pagesize=1, timeto=5000, cursor=bad)


@pytest.mark.parametrize("other", [dict(timeto=5001), dict(timefrom=1), dict(statsscope="course"),
                                   dict(daily=True), dict(targetusers=["u0", "u1", "u2"]),
                                   dict(courseidfield="id", courseidentifier="1"),
                                   dict(timezone="Europe/Paris", daily=True),
                                   dict(sessions=True)])
def test_a_cursor_of_other_parameters_is_refused(builder, site, other):
    for n in range(3):
        _busy(builder, f"u{n}")
    cursor = site.users_stats(pagesize=1, timeto=5000).next_cursor
    with pytest.raises(InvalidParameter, match="cursor"):
        site.users_stats(**{"pagesize": 1, "timeto": 5000, **other, "cursor": cursor})


def test_a_cursor_of_another_key_is_refused(builder, site):
    for n in range(3):
        _busy(builder, f"u{n}")
    keyed = Site(site.engine, MoodleTables(), secret_key="k" * 32)
    cursor = keyed.users_stats(pagesize=1, timeto=5000).next_cursor
    assert keyed.users_stats(pagesize=1, timeto=5000, cursor=cursor).stats
    with pytest.raises(InvalidParameter, match="cursor"):
        site.users_stats(pagesize=1, timeto=5000, cursor=cursor)
    cursor = site.users_stats(pagesize=1, timeto=5000).next_cursor
    builder.config("siteidentifier", "another site")
    with pytest.raises(InvalidParameter, match="cursor"):
        site.users_stats(pagesize=1, timeto=5000, cursor=cursor)


def test_hosts_of_one_site_share_the_cursor_key(builder, site):
    builder.config("siteidentifier", "abc123learn.example.com")
    for n in range(3):
        _busy(builder, f"u{n}")
    cursor = site.users_stats(pagesize=1, timeto=5000).next_cursor
    other_host = Site(connect(builder.url), MoodleTables())
    try:
        assert len(other_host.users_stats(pagesize=1, timeto=5000, cursor=cursor).stats) == 1
    finally:
        other_host.engine.dispose()


@pytest.mark.parametrize("asked, bound", [
    (dict(pagesize=0), "1 to 1000"), (dict(pagesize=1001), "1 to 1000"),
    (dict(pagesize=-5), "1 to 1000"),
    (dict(targetusers=[f"u{n}" for n in range(1001)]), "at most 1000"),
    (dict(targetusers=["u1"], courseidfield="id", courseidentifier="1"), "not both"),
    (dict(courseidfield="shortname"), "courseidentifier is required"),
    (dict(courseidentifier="C1"), "courseidfield must be one of"),
    (dict(targetusers=["u1", " "]), "targetuser is required"),
])
def test_bad_input_names_the_bound(site, asked, bound):
    with pytest.raises(InvalidParameter, match=bound):
        site.users_stats(**asked)


def test_a_thousand_targetusers_are_accepted(builder, site):
    alice = _busy(builder, "alice")
    page = site.users_stats(targetusers=[str(alice)] * 1000, targetuserfield="id")
    assert [s.user.id for s in page.stats] == [alice]


def test_unknown_users_are_named_in_one_fault(builder, site):
    _busy(builder, "alice")
    builder.user("bob", deleted=1)
    with pytest.raises(UnknownUser) as error:
        site.users_stats(targetusers=["alice", "bob", "carol"])
    assert "'bob'" in str(error.value) and "'carol'" in str(error.value)
    assert "'alice'" not in str(error.value)


def test_the_guest_user_is_in_no_population(builder, site):
    guest, alice = _busy(builder, "guest"), _busy(builder, "alice")
    builder.config("siteguest", str(guest))
    assert [s.user.id for s in site.users_stats().stats] == [alice]
    with pytest.raises(UnknownUser) as error:
        site.users_stats(targetusers=["alice", "guest"])
    assert "'guest' names the site's guest user" in str(error.value)
    assert "'alice'" not in str(error.value)


def test_users_listed_by_any_field_and_twice_are_answered_once(builder, site):
    alice = _busy(builder, "alice", email="Alice@Example.com", idnumber="E1")
    bob = builder.user("bob", email="bob@example.com")
    page = site.users_stats(targetusers=["alice@example.com", "ALICE@example.com",
                                         "bob@example.com"], targetuserfield="email")
    assert [s.user.id for s in page.stats] == [alice, bob]
    assert page.stats[1].total.events == 0      # listed without events: zeros, as GetStats
    assert [s.user.id for s in site.users_stats(targetusers=["Alice", "alice"]).stats] == [alice]


def _enrol(builder, course: int, user: int, start: int = 0, end: int = 0, status: int = 0,
           method: str = "manual") -> None:
    enrol = builder.insert("enrol", enrol=method, courseid=course, status=status)
    builder.insert("user_enrolments", enrolid=enrol, userid=user, timestart=start, timeend=end,
                   status=status)


def test_course_population_is_enrolments_overlapping_the_window(builder, site):
    course = builder.course("C1")
    other = builder.course("C2")
    users = {name: builder.user(name) for name in
             ("always", "suspended", "self", "before", "after", "during", "gone", "elsewhere")}
    _enrol(builder, course, users["always"])
    _enrol(builder, course, users["suspended"], status=1)
    _enrol(builder, course, users["self"], 100, 0, method="self")
    _enrol(builder, course, users["before"], 0, 999)            # ended before the window
    _enrol(builder, course, users["after"], 5001)               # starts after it
    _enrol(builder, course, users["during"], 4000, 6000)
    _enrol(builder, course, users["gone"])
    _enrol(builder, other, users["elsewhere"])
    with builder.engine.begin() as conn:
        conn.execute(update(builder.tables.user).where(builder.tables.user.c.id == users["gone"])
                     .values(deleted=1))
    found = users_of(pages(site, courseidfield="shortname", courseidentifier="C1",
                           timefrom=1000, timeto=5000, pagesize=2))
    expected = [users[n] for n in ("always", "suspended", "self", "during")]
    assert [s.USER.ID for s in found] == expected
    assert all(s.USER.ELAPSED == 0 for s in found)


def test_an_unknown_course_is_unknown_to_the_operator(site):
    with pytest.raises(UnknownCourse):
        site.users_stats(courseidfield="shortname", courseidentifier="nope")


def test_the_enrolment_filter_starts_each_users_window_at_their_enrolment(builder, site):
    builder.config_plugin("block_use_stats", "enrolmentfilter", "1")
    course = builder.course("C1")
    late, early = _busy(builder, "late", 1000), _busy(builder, "early", 1000)
    _busy(builder, "never", 1000)
    _enrol(builder, course, late, 1050)
    _enrol(builder, course, early, 10)
    answered = site.users_stats(timeto=5000, statsscope="course").stats
    assert {s.user.id: s.start for s in answered if s.user.id in (late, early)} == {late: 1050,
                                                                                   early: 10}
    for stats in answered:
        alone = site.get_stats(StatsRequest(targetuser=stats.user.username, timeto=5000,
                                            statsscope="course"), now=NOW, caller=OPERATOR)
        assert _dict(shaping.use_stats(stats)) == _dict(alone)


def _moodle(statements: list[str]) -> int:
    return sum("mdl_" in statement for statement in statements)


def _statements_per_page(builder, site, users: int, **asked) -> int:
    builder.config("siteidentifier", "0123456789abcdefmoodle.test")   # as every Moodle has
    builder.config("enablecompletion", "1")
    names = []
    for n in range(users):
        course = builder.course(f"C{users}-{n}", enablecompletion=1)
        quiz = builder.module(course, "quiz", f"Quiz {n}")
        page = builder.module(course, "page", f"Page {n}")
        name = f"p{users}-{n}"
        user = _busy(builder, name)
        builder.log(user, 1050, "viewed", "course", 50, course)
        builder.log(user, 1060, "viewed", "course_module", 70, course, quiz, "mod_quiz")
        builder.log(user, 1070, "viewed", "course_module", 70, course, page, "mod_page")
        total = builder.insert("grade_items", courseid=course, itemtype="course")
        builder.insert("grade_grades", itemid=total, userid=user, finalgrade=50 + n)
        done = builder.course(f"D{users}-{n}", enablecompletion=1)   # completed, no time
        builder.insert("course_completions", userid=user, course=done, timeenrolled=900,
                       timestarted=950, timecompleted=1500)
        names.append(name)
    with counting(site.engine) as statements:
        page = site.users_stats(targetusers=names, pagesize=users, timeto=5000, **asked)
    assert len(page.stats) == users
    return _moodle(statements)


@pytest.mark.parametrize("scope", ["site", "course", "module"])
def test_statements_per_page_do_not_grow_with_users(builder, site, scope):
    few = _statements_per_page(builder, site, 10, statsscope=scope)
    many = _statements_per_page(builder, site, 50, statsscope=scope)
    assert few == many <= 10
    # settings, block settings, the list, the users, the engine (its reach, one span back
    # here, and the figures), then the names: completions, courses and course totals (course
    # scope); courses, course modules, and each activity type (module)
    assert few == {"site": 6, "course": 9, "module": 10}[scope]


def test_site_wide_statements_do_not_grow_with_users(builder, site):
    counts = []
    for users in (10, 50):
        # each page's window begins within a day of the log's first row: the engine's
        # reach looks one span back for both
        at = 100000 + 1000 * users
        for n in range(users):
            _busy(builder, f"s{users}-{n}", at=at)
        with counting(site.engine) as statements:
            page = site.users_stats(timefrom=at, timeto=at + 5000, pagesize=users,
                                    statsscope="module")
        assert len(page.stats) == users
        counts.append(_moodle(statements))
    assert counts[0] == counts[1]


def test_a_cursor_of_a_list_takes_the_list_in_any_order(builder, site):
    ids = [_busy(builder, name) for name in ("a", "b", "c")]
    first = site.users_stats(targetusers=["a", "b", "c"], pagesize=2)
    rest = site.users_stats(targetusers=["c", "a", "b", "a"], pagesize=2,
                            cursor=first.next_cursor)
    assert [s.user.id for s in first.stats + rest.stats] == ids
    with pytest.raises(InvalidParameter, match="cursor"):
        site.users_stats(targetusers=["a", "b"], pagesize=2, cursor=first.next_cursor)
