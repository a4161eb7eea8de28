"""The service's figures on the demo site: by hand for the reference learner, and the
same on SQLite, PostgreSQL and MariaDB for every learner, scope and grade."""

from __future__ import annotations

import pytest
from spyne.util.dictdoc import get_object_as_dict
from sqlalchemy import create_engine, select

from soap_usestats.auth.caller import OPERATOR
from soap_usestats.demo.site import build_demo_site
from soap_usestats.domain.requests import ScoresRequest, StatsRequest
from soap_usestats.domain.site import MoodleSite
from soap_usestats.moodle.database import connect
from soap_usestats.moodle.tables import MoodleTables
from tests.support.databases import BACKENDS, fresh_database
from tests.support.examples import ShapedSite

NOW = 1798761600  # 2027-01-01: after the whole demo term
LEARNERS = 6


@pytest.fixture(scope="module")
def demo_sites(tmp_path_factory):
    """The demo site (seed 2026) built on every backend whose server answers."""
    sites, drops = {}, []
    for backend in BACKENDS:
        try:
            url, drop = fresh_database(backend, tmp_path_factory.mktemp(backend))
        except pytest.skip.Exception:
            continue
        drops.append(drop)
        demo = build_demo_site(url, learners=LEARNERS)
        sites[backend] = (ShapedSite(connect(url), MoodleTables()), demo, url)
    yield sites
    for site, _, _ in sites.values():
        site.engine.dispose()
    for drop in drops:
        drop()


def test_reference_learner_by_hand(demo_sites):
    """The worked example of the time model, played on the demo site."""
    site, demo, _ = demo_sites["sqlite"]
    ref = demo.reference
    window = dict(timefrom=ref.timefrom, timeto=ref.timeto)
    stats = site.get_stats(StatsRequest(targetuser=ref.username, statsscope="course",
                                        sessions=True, **window), now=NOW, caller=OPERATOR)
    # 60 + 240 + 600 + (900 + 100 carried) + 900
    assert (stats.USER.SECONDS, stats.USER.ELAPSED) == (2800, 46)
    (course,) = stats.COURSES
    assert (course.SHORTNAME, course.SECONDS, course.ELAPSED) == (ref.course_shortname, 2740, 45)
    assert (course.ACTIVITYSECONDS, course.COURSESECONDS, course.OTHERSECONDS) == (1500, 1240, 0)
    (module,) = site.get_stats(StatsRequest(targetuser=ref.username, statsscope="module", **window),
                               now=NOW, caller=OPERATOR).MODULES
    assert (module.ID, module.TYPE, module.SECONDS, module.ELAPSED) == (ref.quiz_cmid, "quiz", 1500, 25)
    sessions = [(s.START.timestamp() - ref.timefrom, s.END.timestamp() - ref.timefrom, s.SECONDS)
                for s in stats.SESSIONS]
    assert sessions == [(1000, 2900, 1900), (11000, 11900, 900)]


def _learners(url: str) -> list[str]:
    tables = MoodleTables()
    engine = create_engine(url)
    with engine.connect() as conn:
        names = conn.scalars(select(tables.user.c.username).where(
            tables.user.c.deleted == 0, tables.user.c.mnethostid == 1).order_by(tables.user.c.id)).all()
    engine.dispose()
    return names


def _answers(site: MoodleSite, usernames: list[str], course: str) -> dict:
    answers = {}
    for username in usernames:
        for scope in ("site", "course", "module"):
            stats = site.get_stats(StatsRequest(targetuser=username, statsscope=scope,
                                                sessions=True), now=NOW, caller=OPERATOR)
            answers[username, scope] = get_object_as_dict(stats, type(stats))
        scores = site.get_scores(ScoresRequest(targetuser=username, scorescope="notes/items",
                                               courseidfield="shortname", courseidentifier=course),
                                 caller=OPERATOR)
        answers[username, course] = get_object_as_dict(scores, type(scores))
    return answers


def test_every_database_gives_the_same_figures(demo_sites):
    if len(demo_sites) < len(BACKENDS):
        pytest.skip(f"only {', '.join(demo_sites)} available")
    usernames = _learners(demo_sites["sqlite"][2])
    answers = {backend: _answers(site, usernames, demo.reference.course_shortname)
               for backend, (site, demo, _) in demo_sites.items()}
    assert answers["sqlite"] == answers["postgresql"] == answers["mariadb"]
    busy = [a for (user, scope), a in answers["sqlite"].items() if scope == "site" and a["USER"]["SECONDS"]]
    assert len(busy) >= LEARNERS


def test_figures_add_up_for_every_demo_learner(demo_sites):
    site, _, url = demo_sites["sqlite"]
    for username in _learners(url):
        stats = site.get_stats(StatsRequest(targetuser=username, statsscope="course",
                                            sessions=True), now=NOW, caller=OPERATOR)
        courses = stats.COURSES + ([stats.SITECOURSE] if stats.SITECOURSE else [])
        for c in courses:
            assert c.SECONDS == c.ACTIVITYSECONDS + c.COURSESECONDS + c.OTHERSECONDS
            assert c.ELAPSED == c.SECONDS // 60
        assert sum(c.SECONDS for c in courses) <= stats.USER.SECONDS
        assert sum(s.SECONDS for s in stats.SESSIONS) == stats.USER.SECONDS
        modules = site.get_stats(StatsRequest(targetuser=username, statsscope="module"), now=NOW,
                                 caller=OPERATOR).MODULES
        for c in stats.COURSES:
            assert sum(m.SECONDS for m in modules if m.COURSEID == c.ID) == c.ACTIVITYSECONDS
