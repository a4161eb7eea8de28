"""The demo site answers the same with a ledger as without one: for every learner, scope,
window and zone of days, with the ledger partly compiled and caught up; and GetUsersStats
pages the same."""

from __future__ import annotations

import pytest
from spyne.util.dictdoc import get_object_as_dict

from soap_usestats.auth.caller import OPERATOR
from soap_usestats.demo.site import TERM_END, TERM_START, build_demo_site
from soap_usestats.domain.requests import StatsRequest, UsersStatsRequest
from soap_usestats.ledger import compiler, migrate
from soap_usestats.ledger.answer import Ledger
from soap_usestats.moodle.database import connect, read_only
from soap_usestats.moodle.tables import MoodleTables
from tests.support.databases import fresh_database
from tests.support.examples import ShapedSite
from tests.test_demo_figures import NOW, _learners

WINDOWS = [dict(timefrom=TERM_START - 86400, timeto=NOW),
           dict(timefrom=TERM_START + 20 * 86400, timeto=TERM_START + 60 * 86400)]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'moodle.sqlite'}"
    build_demo_site(url, learners=6)
    yield url


def _answers(site: ShapedSite, usernames: list[str]) -> list:
    answers = []
    for username in usernames:
        for window in WINDOWS:
            for scope in ("site", "course", "module"):
                stats = site.get_stats(StatsRequest(targetuser=username, statsscope=scope,
                                                    sessions=True, daily=True,
                                                    timezone="Europe/Paris", **window),
                                       now=NOW, caller=OPERATOR)
                answers.append(get_object_as_dict(stats, type(stats)))
    page = site.get_users_stats(UsersStatsRequest(statsscope="course", daily=True,
                                                  **WINDOWS[1]),
                                now=NOW, caller=OPERATOR)
    return answers + [page]


@pytest.mark.parametrize("ledger_backend", ["sqlite", "postgresql"])
def test_the_demo_answers_the_same_with_a_ledger(demo, ledger_backend, tmp_path):
    usernames = _learners(demo)
    bare = ShapedSite(connect(demo), MoodleTables())
    ledger_url, drop = fresh_database(ledger_backend, tmp_path)
    ledger = migrate.ledger_engine(ledger_url)
    migrate.upgrade(ledger)
    site = ShapedSite(connect(demo), MoodleTables(), ledger=Ledger(ledger))
    try:
        expected = _answers(bare, usernames)
        with read_only(site.engine) as conn:
            settings = site.time_model(conn).time_settings
        for compiled_at in ((TERM_START + TERM_END) // 2, NOW):
            compiler.compile(site.engine, site.queries, ledger, settings, compiled_at)
            assert _answers(site, usernames) == expected
    finally:
        for one in (bare, site):
            one.engine.dispose()
        ledger.dispose()
        drop()
