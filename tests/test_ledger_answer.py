"""Answering from the ledger: every answer equals the reference engine over the whole log
(and the SQL engine alone), whether the ledger is empty, partly compiled, behind the log
(late rows among those it has not read), or caught up; and after Moodle purges old log
rows, the figures of their days stay as they were.

On a Moodle on SQLite, PostgreSQL and MariaDB, with a ledger on SQLite and PostgreSQL.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert

from soap_usestats import contexts
from soap_usestats.ledger import compiler
from soap_usestats.ledger.answer import Ledger, usage_by_user
from soap_usestats.moodle.database import connect
from soap_usestats.moodle.queries import Queries
from soap_usestats.timemodel import sql
from soap_usestats.timemodel.engine import estimate
from tests.support.ledger import emptied
from tests.test_ledger import sites  # noqa: F401  (the fixture)
from tests.test_sql_engine import EMPTY, USERS, Log, _start_of, _store, _whole_log, logs

EXAMPLES = settings(max_examples=15, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])
#: After every row of a log: a time at which all its rows are final.
LATER = 40 * 86400


def _compile(sites, now: int, log: Log) -> None:
    moodle = connect(sites.builder.url)
    try:
        compiler.compile(moodle, Queries(sites.tables), sites.ledger, log.settings, now)
    finally:
        moodle.dispose()


def _answers(sites, log: Log, now: int) -> tuple[dict, dict]:
    """The answers with the ledger and from the log alone (the SQL engine)."""
    zone = log.zone and ZoneInfo(log.zone)
    with sites.engine.connect() as conn:
        got = usage_by_user(conn, Queries(sites.tables), Ledger(sites.ledger), list(USERS),
                            log.start, log.end, log.settings, zone, now=now)
        alone = sql.usage_by_user(conn, sites.tables, list(USERS), log.start, log.end,
                                  log.settings, zone, now=now)
    return got, alone


def _reference(rows: list[dict], log: Log, now: int, user: int):
    zone = log.zone and ZoneInfo(log.zone)
    return estimate(_whole_log(rows, user), now, log.settings, zone,
                    (_start_of(log, user), log.end))


@EXAMPLES
@given(log=logs(), data=st.data())
def test_answers_equal_the_model_over_the_log_however_far_the_ledger_is(sites, log, data):
    """The rows with the first ids are compiled at a random time (or not at all), then the
    rest arrive (the ids are a random permutation of the times: many of them late); the
    window is asked at a later time, often once the ledger is caught up."""
    emptied(sites.ledger)
    rows = sorted(_store(sites, log), key=lambda row: row["id"])
    last = max(row["timecreated"] for row in rows)
    arrived = data.draw(st.integers(0, len(rows)))
    with sites.engine.begin() as conn:
        conn.execute(delete(sites.tables.log).where(sites.tables.log.c.id > arrived))
    compiled_at = None
    if data.draw(st.booleans()):
        compiled_at = data.draw(st.one_of(st.integers(log.now - 20000, last),
                                          st.just(last + LATER)))
        _compile(sites, compiled_at, log)
    with sites.engine.begin() as conn:
        if arrived < len(rows):
            conn.execute(insert(sites.tables.log), rows[arrived:])
    if compiled_at is not None and data.draw(st.booleans()):
        _compile(sites, max(compiled_at, last + LATER), log)   # caught up
    now = max(log.now, compiled_at or log.now)
    got, alone = _answers(sites, log, now)
    for user in USERS:
        expected = _reference(rows, log, now, user)
        assert got.get(user, EMPTY) == expected, user
        assert alone.get(user, EMPTY) == expected, user


@EXAMPLES
@given(log=logs(), data=st.data())
def test_a_purge_of_old_log_rows_leaves_the_figures_of_their_days(sites, log, data):
    """Compiled, each user active again weeks later (compiled too), the log's rows before
    a random time deleted: windows before the new activity answer as before the purge."""
    emptied(sites.ledger)
    rows = _store(sites, log)
    last = max(row["timecreated"] for row in rows)
    again = [dict(action="viewed", target="course", contextlevel=contexts.COURSE, courseid=5,
                  contextinstanceid=5, component="core", origin="web", realuserid=None,
                  id=len(rows) + i, userid=user, timecreated=last + LATER)
             for i, user in enumerate(USERS, 1)]
    with sites.engine.begin() as conn:
        conn.execute(insert(sites.tables.log), again)
    rows += again
    now = last + 2 * LATER
    _compile(sites, now, log)
    purged_before = data.draw(st.integers(min(row["timecreated"] for row in rows), last + 1))
    with sites.engine.begin() as conn:
        conn.execute(delete(sites.tables.log)
                     .where(sites.tables.log.c.timecreated < purged_before))
    got, _ = _answers(sites, log, now)
    for user in USERS:
        assert got.get(user, EMPTY) == _reference(rows, log, now, user), user
