"""Answering from the ledger: every answer equals the reference engine over the whole log
(and the SQL engine alone), whether the ledger is empty, partly compiled, behind the log
(late rows among those it has not read), or caught up; and after Moodle purges old log
rows, the figures of their days stay as they were. Windows begin and end on the edges of
quarter hours and inside them (the rollup's unit; its periods made two hours long here), in zones whose offsets are half and
three quarters of an hour, and in one whose offset was no multiple of a quarter hour; a
ledger compiled before the rollup (revision 0002) answers the same once upgraded.

On a Moodle on SQLite, PostgreSQL and MariaDB, with a ledger on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import replace
from unittest.mock import patch
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert

from soap_usestats import contexts
from soap_usestats.auth.caller import OPERATOR
from soap_usestats.domain.requests import StatsRequest
from soap_usestats.domain.site import MoodleSite
from soap_usestats.ledger import compiler, figures, migrate, tables
from soap_usestats.ledger.answer import Ledger, usage_by_user
from soap_usestats.moodle.database import connect, read_only
from soap_usestats.moodle.queries import Queries
from soap_usestats.moodle.tables import MoodleTables
from soap_usestats.timemodel import sql
from soap_usestats.timemodel.engine import estimate
from tests.support.examples import NOW, WINDOW, worked_example
from tests.support.ledger import emptied
from tests.test_ledger import sites  # noqa: F401  (the fixture)
from soap_usestats.ledger.tables import QUARTER
from soap_usestats.timemodel.sql import LocalDays
from tests.test_sql_engine import EMPTY, USERS, Log, _start_of, _store, _whole_log, logs

EXAMPLES = settings(max_examples=15, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])
#: After every row of a log: a time at which all its rows are final.
LATER = 40 * 86400
#: Zones whose offsets are half and three quarters of an hour, and one whose offset was
#: 44 minutes 30 seconds until 1972 (days summed from the rows there).
ODD_ZONES = ["Asia/Kolkata", "Asia/Kathmandu", "Australia/Eucla", "Africa/Monrovia"]


@pytest.fixture(autouse=True)
def short_periods(monkeypatch):
    """Periods of two hours, so that the windows of the logs drawn hold whole ones."""
    monkeypatch.setattr(tables, "PERIOD", 2 * 3600)


def _quarter_edge(time: int) -> st.SearchStrategy[int]:
    """A time, the first or last second of its quarter hour, or one of the next's."""
    start = time - time % QUARTER
    return st.sampled_from([time, start, start + QUARTER - 1, start + QUARTER])


@st.composite
def ledger_logs(draw, zones: list[str] = ODD_ZONES) -> Log:
    """test_sql_engine's logs, their window often moved to the edge of a quarter hour,
    often in one of ``zones``."""
    log = draw(logs())
    zone = draw(st.one_of(st.just(log.zone), st.sampled_from(zones)))
    if zone == "Africa/Monrovia":  # moved to its first days after the epoch, in its odd offset
        log = _moved(log, 2000 + draw(st.integers(0, 3 * 86400))
                     - min(row["timecreated"] for row in log.rows))
    start = log.start
    if not isinstance(start, dict):
        start = draw(_quarter_edge(start))
    end = max(draw(_quarter_edge(log.end)), min(start.values()) if isinstance(start, dict)
              else start)
    return replace(log, start=start, end=end, zone=zone)


def _compile(sites, now: int, log: Log) -> None:
    moodle = connect(sites.builder.url)
    try:
        compiler.compile(moodle, Queries(sites.tables), sites.ledger, log.settings, now)
    finally:
        moodle.dispose()


def _answers(sites, log: Log, now: int) -> tuple[dict, dict]:
    """The answers with the ledger and from the log alone (the SQL engine). The ledger's
    are the same whether its statements write out the users' ranges or join them from a
    list of values (as for a page of many users)."""
    zone = log.zone and ZoneInfo(log.zone)
    with sites.engine.connect() as conn:
        got = usage_by_user(conn, Queries(sites.tables), Ledger(sites.ledger), list(USERS),
                            log.start, log.end, log.settings, zone, now=now)
        with patch.object(figures, "WRITTEN_OUT", 0):
            listed = usage_by_user(conn, Queries(sites.tables), Ledger(sites.ledger),
                                   list(USERS), log.start, log.end, log.settings, zone, now=now)
        alone = sql.usage_by_user(conn, sites.tables, list(USERS), log.start, log.end,
                                  log.settings, zone, now=now)
    assert listed == got
    return got, alone


def _reference(rows: list[dict], log: Log, now: int, user: int):
    zone = log.zone and ZoneInfo(log.zone)
    return estimate(_whole_log(rows, user), now, log.settings, zone,
                    (_start_of(log, user), log.end))


def _moved(log: Log, by: int) -> Log:
    """The log with its rows, window and time of request ``by`` seconds later."""
    start = ({user: time + by for user, time in log.start.items()}
             if isinstance(log.start, dict) else log.start + by)
    return replace(log, rows=[{**row, "timecreated": row["timecreated"] + by} for row in log.rows],
                   start=start, end=log.end + by, now=log.now + by)


@EXAMPLES
@given(log=ledger_logs(), data=st.data())
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


@settings(EXAMPLES, max_examples=5)
@given(log=ledger_logs(zones=["Africa/Monrovia"]))
def test_days_where_the_offset_was_no_multiple_of_a_quarter_hour(sites, log):
    """In Monrovia's first years after the epoch (44 minutes 30 seconds behind UTC), the
    days are summed from the booked rows."""
    emptied(sites.ledger)
    rows = _store(sites, log)
    now = max(row["timecreated"] for row in rows) + LATER
    _compile(sites, now, log)
    got, _ = _answers(sites, log, now)
    for user in USERS:
        assert got.get(user, EMPTY) == _reference(rows, log, now, user), user


@EXAMPLES
@given(log=ledger_logs())
def test_a_ledger_compiled_before_the_rollup_answers_the_same_once_upgraded(sites, log):
    """Compiled, taken back to revision 0002 (no quarter hours, no sessions), upgraded: the
    rollup summed from its rows answers as the model over the log."""
    emptied(sites.ledger)
    rows = _store(sites, log)
    now = max(row["timecreated"] for row in rows) + LATER
    _compile(sites, now, log)
    alembic = migrate.config()
    with sites.ledger.begin() as connection:
        alembic.attributes["connection"] = connection
        command.downgrade(alembic, "0002")
    migrate.upgrade(sites.ledger)
    got, _ = _answers(sites, log, now)
    for user in USERS:
        assert got.get(user, EMPTY) == _reference(rows, log, now, user), user


def test_days_come_from_quarter_hours_only_where_the_zone_s_offsets_allow():
    year = 365 * 86400
    assert figures._in_quarters(LocalDays.of(ZoneInfo("Asia/Kathmandu"), 10 * year, 20 * year))
    assert figures._in_quarters(LocalDays.of(ZoneInfo("Australia/Eucla"), 0, 50 * year))
    assert not figures._in_quarters(LocalDays.of(ZoneInfo("Africa/Monrovia"), 0, 3 * year))
    assert figures._in_quarters(LocalDays.of(ZoneInfo("Africa/Monrovia"), 3 * year, 4 * year))



def test_a_statement_that_writes_ranges_out_is_built_once_for_their_number():
    """Built once for each number of ranges, their values bound as it runs (the answers
    above run it again with other values); one that lists its ranges carries them."""
    assert figures._places_query(1, 2, 0) is figures._places_query(1, 2, 0)
    assert figures._places_query(1, 2, 0) is not figures._places_query(2, 2, 0)
    listed = tuple((user, 0, 899) for user in range(figures.WRITTEN_OUT + 1))
    assert figures._places_query(listed, 0, 0) is not figures._places_query(listed, 0, 0)
    assert figures._bound("edges", [(7, 10, 20)]) == {
        "edges_0_userid": 7, "edges_0_low": 10, "edges_0_high": 20}
    assert figures._bound("edges", list(listed)) == {}

# --- a ledger that cannot answer --------------------------------------------------------

def _worked_example_stats(site: MoodleSite):
    stats = site.get_stats(StatsRequest(targetuser="alice", statsscope="module", sessions=True,
                                        **WINDOW), now=NOW, caller=OPERATOR)
    return stats.total, stats.sessions, [m.tally for m in stats.modules]


def test_without_a_usable_ledger_the_log_answers(builder, tmp_path, caplog):
    """An SQLite ledger not made yet (and not made by reading), one without the schema, one
    compiled under other settings, and one that cannot be reached (warned once)."""
    worked_example(builder)
    bare = MoodleSite(connect(builder.url), MoodleTables())
    expected = _worked_example_stats(bare)
    absent = tmp_path / "absent" / "ledger.sqlite"
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    other = migrate.ledger_engine(f"sqlite:///{tmp_path / 'other.sqlite'}")
    migrate.upgrade(other)
    with read_only(bare.engine) as conn:
        model = bare.time_model(conn).time_settings
    compiler.compile(bare.engine, bare.queries, other,
                     replace(model, threshold=model.threshold + 1), NOW)
    unreachable = Ledger.at("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    for ledger in (Ledger.at(f"sqlite:///{absent}"), Ledger.at(f"sqlite:///{empty}"),
                   Ledger(other), unreachable):
        site = MoodleSite(connect(builder.url), MoodleTables(), ledger=ledger)
        assert _worked_example_stats(site) == expected
        assert _worked_example_stats(site) == expected
        site.engine.dispose()
        ledger.engine.dispose()
    assert not absent.parent.exists()
    warnings = [r.getMessage() for r in caplog.records if "cannot be used" in r.getMessage()]
    assert len(warnings) == 2 and "empty.sqlite" in warnings[0] and "127.0.0.1" in warnings[1]
    bare.engine.dispose()
