"""cache_seconds: a site's settings and role definitions are reused for a while, never a
token, a user or role assignments."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from soap_usestats.config import load_settings
from soap_usestats.domain.requests import StatsRequest
from soap_usestats.domain.site import MoodleSite
from soap_usestats.exceptions import ConfigError
from soap_usestats.moodle.cache import TtlCache
from soap_usestats.moodle.database import connect
from soap_usestats.moodle.tables import MoodleTables
from tests.support.examples import NOW, WINDOW, build_school, token_caller


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_kept_for_its_seconds_then_loaded_again():
    clock, loads = Clock(), []
    cache = TtlCache(60, clock)
    load = lambda: loads.append(1) or len(loads)  # noqa: E731
    assert (cache.get("k", load), cache.get("k", load)) == (1, 1)
    clock.now += 59.9
    assert cache.get("k", load) == 1
    clock.now += 0.2
    assert cache.get("k", load) == 2
    assert cache.get("other", load) == 3


def test_zero_seconds_keeps_nothing():
    loads = []
    cache = TtlCache(0)
    for _ in range(3):
        cache.get("k", lambda: loads.append(1))
    assert len(loads) == 3


def test_cache_seconds_from_the_environment():
    assert load_settings({}).cache_seconds == 60
    assert load_settings({"USESTATS_CACHE_SECONDS": "0"}).cache_seconds == 0
    with pytest.raises(ConfigError, match="USESTATS_CACHE_SECONDS must be a whole number"):
        load_settings({"USESTATS_CACHE_SECONDS": "-1"})


def _statements(site: MoodleSite, caller) -> list[str]:
    seen: list[str] = []
    listener = lambda conn, cursor, statement, *args: seen.append(statement)  # noqa: E731
    event.listen(site.engine, "before_cursor_execute", listener)
    try:
        site.get_stats(StatsRequest(targetuser="alice", statsscope="course", **WINDOW), now=NOW,
                       caller=caller)
    finally:
        event.remove(site.engine, "before_cursor_execute", listener)
    return seen


@pytest.mark.parametrize("cache_seconds, reread", [(60, False), (0, True)])
def test_settings_and_definitions_are_reused_but_tokens_and_assignments_are_read(
        builder, database_url, cache_seconds, reread):
    school = build_school(builder)
    site = MoodleSite(connect(database_url), MoodleTables(), cache_seconds=cache_seconds)
    try:
        teacher = token_caller(builder, school.users["teacher"])
        _statements(site, teacher)
        second = _statements(site, teacher)
    finally:
        site.engine.dispose()
    tables = ("mdl_config ", "mdl_config_plugins", "mdl_role_capabilities")
    for table in tables:
        assert any(table in s for s in second) == reread, table
    for table in ("mdl_external_tokens", "mdl_user ", "mdl_role_assignments"):
        assert any(table in s for s in second), table
