"""A table the service reads is missing: Server.SchemaMismatch for the client, the table and
the hint in the operator's log, and no database outage counted; on the three databases.

A wrong ``USESTATS_TABLE_PREFIX`` leaves every table missing (SQLite says "no such
table", PostgreSQL raises undefined_table, MariaDB error 1146); an activity
module whose table is not installed leaves one.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from soap_usestats.config import Settings
from soap_usestats.exceptions import SchemaMismatch
from soap_usestats.moodle.database import SCHEMA_MISMATCH, connect, read_only
from soap_usestats.web.app import create_app
from tests.support.examples import worked_example
from tests.support.metrics import sample
from tests.support.wsgi import GET_STATS, WsgiClient

TOKEN = "b" * 32


@pytest.fixture
def moodle(builder):
    """The worked example, an administrator's token."""
    worked_example(builder)
    builder.admin_token(TOKEN)
    return builder


@pytest.fixture
def make_client(database_url):
    apps = []

    def make(**settings) -> WsgiClient:
        apps.append(create_app(Settings(database_url=database_url, **settings)))
        return WsgiClient(apps[-1], QUERY_STRING=f"wstoken={TOKEN}")

    yield make
    for app in apps:
        app.network.home.engine.dispose()


def operator_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_wrong_table_prefix(moodle, make_client, caplog):
    client = make_client(table_prefix="wrong_")
    with caplog.at_level(logging.WARNING):
        response = client.post(GET_STATS)
    assert response.status == 500
    assert response.fault() == ("Server.SchemaMismatch", SCHEMA_MISMATCH, 500)
    assert "unreachable" not in SCHEMA_MISMATCH and "cannot be reached" not in SCHEMA_MISMATCH
    [line] = [line for line in operator_lines(caplog) if line.startswith("Server.SchemaMismatch")]
    assert "'wrong_config' does not exist" in line
    assert "prefix 'wrong_'" in line and "USESTATS_TABLE_PREFIX" in line
    assert "soap-usestats check" in line
    assert "SELECT" not in line


def test_not_counted_as_a_database_outage(moodle, make_client):
    client = make_client(table_prefix="wrong_")
    client.post(GET_STATS)
    client.get("/json/GetStats", "targetuser=alice&wstoken=" + TOKEN)
    metrics = client.get("/metrics").body
    assert sample(metrics, "usestats_requests_total", operation="GetStats",
                  outcome="Server.SchemaMismatch") == 2
    assert sample(metrics, "usestats_database_errors_total") == 0


def test_over_json_it_is_a_500_not_a_503(moodle, make_client):
    response = make_client(table_prefix="wrong_").get(
        "/json/GetStats", "targetuser=alice&wstoken=" + TOKEN)
    assert response.status == 500
    assert b'"faultcode": "Server.SchemaMismatch"' in response.body


def test_the_right_prefix_still_answers(moodle, make_client):
    assert make_client().post(GET_STATS).status == 200


def test_a_missing_activity_table(moodle, make_client, caplog):
    with moodle.engine.begin() as conn:
        conn.execute(text("DROP TABLE mdl_quiz"))
    moodle.engine.dispose()
    client = make_client()
    with caplog.at_level(logging.WARNING):
        response = client.post(GET_STATS)          # module scope: names the quiz
    assert response.fault()[0] == "Server.SchemaMismatch"
    [line] = [line for line in operator_lines(caplog) if line.startswith("Server.SchemaMismatch")]
    assert "'mdl_quiz' does not exist" in line and "activity module" in line


def test_read_only_raises_it_with_the_table_as_root_cause(moodle, database_url):
    engine = connect(database_url)
    try:
        with pytest.raises(SchemaMismatch) as raised, read_only(engine) as conn:
            conn.execute(text("SELECT id FROM mdl_no_such_table"))
        assert raised.value.__cause__.table == "mdl_no_such_table"
        with read_only(engine) as conn:             # the pool is fine afterwards
            assert conn.execute(text("SELECT count(*) FROM mdl_user")).scalar() >= 1
    finally:
        engine.dispose()


def test_other_errors_are_not_a_schema_mismatch(moodle, database_url):
    engine = connect(database_url)
    try:
        with pytest.raises(Exception) as raised, read_only(engine) as conn:
            conn.execute(text("SELECT no_such_column FROM mdl_user"))
        assert not isinstance(raised.value, SchemaMismatch)
    finally:
        engine.dispose()
