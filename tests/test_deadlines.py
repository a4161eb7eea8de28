"""Every call ends within the database deadline, with the contract's fault: a link that
stalls with TCP still up, a statement waiting on a lock, under gunicorn's sync workers.

The deadline is ``database_timeout`` (2 s here); gunicorn would kill a sync worker only
after its own timeout (60 s at the least), answering its HTML page.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import zeep
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from soap_usestats.config import load_settings
from soap_usestats.moodle.database import CLIENT_GRACE, connect, read_only
from soap_usestats.moodle.tables import MoodleTables
from soap_usestats.web import serving
from tests.support.databases import fresh_database
from tests.support.examples import worked_example
from tests.support.moodle import MoodleBuilder
from tests.support.servers import TcpProxy, gunicorn

GUNICORN_CONF = Path(__file__).parent.parent / "deploy" / "gunicorn.conf.py"
NETWORKED = ["postgresql", "mariadb"]
DEADLINE = 2
#: How long past the deadline a call may take to end, on a loaded machine.
SLACK = 8
WINDOW = dict(timefrom=0, timeto=100000)
FAULT = "Server.DatabaseUnavailable"
MESSAGE = f"the Moodle database did not answer within {DEADLINE} s"


@pytest.fixture(params=NETWORKED)
def moodle(request, tmp_path):
    """A small Moodle on PostgreSQL or MariaDB: its URL and an administrator's token."""
    url, drop = fresh_database(request.param, tmp_path)
    builder = MoodleBuilder(url)
    worked_example(builder)
    token = builder.admin_token()
    builder.engine.dispose()
    yield url, token
    drop()


def client(soap_url: str, token: str) -> zeep.Client:
    client = zeep.Client(f"{soap_url}?wsdl")
    client.service._binding_options["address"] = f"{soap_url}?wstoken={token}"
    return client


def timed_fault(client: zeep.Client) -> tuple[zeep.exceptions.Fault, float]:
    started = time.monotonic()
    with pytest.raises(zeep.exceptions.Fault) as raised:
        client.service.GetStats(targetuser="alice", **WINDOW)
    return raised.value, time.monotonic() - started


def test_sessions_carry_the_deadline_and_stay_read_only(backend, database_url):
    """The server gives a statement up at the deadline; MariaDB's max_statement_time, set
    for the session, leaves every transaction read-only."""
    MoodleTables().metadata.create_all(create_engine(database_url))
    engine = connect(database_url, timeout=7)
    try:
        with read_only(engine) as conn:
            if backend == "postgresql":
                assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "7s"
            elif backend == "mariadb":
                timeouts = conn.exec_driver_sql("SELECT @@max_statement_time, @@lock_wait_timeout")
                assert tuple(timeouts.one()) == (7, 7)
        with pytest.raises(Exception) as raised, read_only(engine) as conn:
            conn.execute(insert(MoodleTables().config), {"name": "x", "value": "y"})
        assert "read" in str(raised.value.__cause__ or raised.value).lower()
    finally:
        engine.dispose()


@pytest.mark.e2e
def test_a_stalled_link_ends_the_call_within_the_deadline(moodle):
    """The proxy to the database stops forwarding, TCP still up: Server.DatabaseUnavailable
    within the deadline (not when the link comes back); then answers again."""
    url, token = moodle
    target = make_url(url)
    proxy = TcpProxy(target.port)
    proxy.start()
    try:
        through_proxy = target.set(port=proxy.port).render_as_string(hide_password=False)
        with gunicorn(through_proxy, USESTATS_DATABASE_TIMEOUT=str(DEADLINE)) as soap:
            service = client(soap, token)
            assert service.service.GetStats(targetuser="alice", **WINDOW).USER.ELAPSED == 46
            proxy.pause()
            fault, seconds = timed_fault(service)
            assert fault.code is not None and fault.code.endswith(FAULT), fault.message
            assert fault.message == MESSAGE and seconds < DEADLINE + CLIENT_GRACE + SLACK
            proxy.resume()
            assert service.service.GetStats(targetuser="alice", **WINDOW).USER.ELAPSED == 46
    finally:
        proxy.stop()


@pytest.mark.e2e
def test_a_lock_wait_ends_with_a_fault_before_gunicorn_kills_the_worker(moodle):
    """Another session holds a lock on the user table: under sync workers the call ends in
    Server.DatabaseUnavailable at the deadline, not in gunicorn's HTML page a minute later."""
    url, token = moodle
    holder = create_engine(url, poolclass=NullPool)  # its lock ends with its connection
    with gunicorn(url, config=str(GUNICORN_CONF), USESTATS_WORKERS="2", USESTATS_THREADS="1",
                  USESTATS_DATABASE_TIMEOUT=str(DEADLINE)) as soap:
        service = client(soap, token)
        assert service.service.GetStats(targetuser="alice", **WINDOW).USER.ELAPSED == 46
        with holder.connect() as lock:
            if holder.dialect.name == "postgresql":
                lock.exec_driver_sql("LOCK TABLE mdl_user IN ACCESS EXCLUSIVE MODE")
            else:
                lock.exec_driver_sql("LOCK TABLES mdl_user WRITE")
            fault, seconds = timed_fault(service)
        assert fault.code is not None and fault.code.endswith(FAULT), fault.message
        assert fault.message == MESSAGE and seconds < DEADLINE + CLIENT_GRACE + SLACK
        assert service.service.GetStats(targetuser="alice", **WINDOW).USER.ELAPSED == 46


@pytest.mark.e2e
def test_a_connection_the_database_dropped_is_replaced_unseen(moodle):
    """The server ends the service's idle connections (a restart, an idle timeout): the
    next call is answered, on a new connection."""
    url, token = moodle
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with gunicorn(url) as soap, admin.connect() as conn:
        service = client(soap, token)
        assert service.service.GetStats(targetuser="alice", **WINDOW).USER.ELAPSED == 46
        database = make_url(url).database
        if admin.dialect.name == "postgresql":
            ended = conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                      "WHERE datname = :db AND pid <> pg_backend_pid()"),
                                 {"db": database}).all()
        else:
            ids = conn.execute(text("SELECT id FROM information_schema.processlist WHERE db = :db "
                                    "AND id <> CONNECTION_ID()"), {"db": database}).scalars().all()
            ended = [conn.execute(text(f"KILL CONNECTION {int(i)}")) for i in ids]
        assert ended
        assert service.service.GetStats(targetuser="alice", **WINDOW).USER.ELAPSED == 46
    admin.dispose()


def test_gunicorn_waits_longer_than_the_longest_call(tmp_path):
    """gunicorn's worker timeout stays above the database deadline, the ledger's and the
    peers' timeouts, so the service, not gunicorn, ends a call that waits too long."""
    default = load_settings({})
    assert serving.worker_timeout(default) == 99   # 42 s on Moodle, 42 on the ledger, 15
    assert serving.worker_timeout(replace(default, ledger_url=None)) == 60
    config = tmp_path / "usestats.toml"
    config.write_text('database_timeout = 120\n'
                      '[sites."https://b.example.com"]\n'
                      'peer_url = "https://stats-b.example.com/soap"\n'
                      'peer_username = "hub"\npeer_password = "x"\ntimeout = 40\n')
    env = {"USESTATS_CONFIG": str(config), "USESTATS_DATABASE_URL": f"sqlite:///{tmp_path / 'm.sqlite'}",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    settings = load_settings(env)
    assert serving.worker_timeout(settings) > 2 * (120 + CLIENT_GRACE) + 40
    printed = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "--print-config",
         "soap_usestats.wsgi:application"], env=env, capture_output=True, text=True, check=True)
    printed_settings = dict(line.split(" = ", 1) for line in printed.stdout.splitlines() if " = " in line)
    assert {key.strip(): value.strip() for key, value in printed_settings.items()}["timeout"] == \
        str(serving.worker_timeout(settings))


def test_the_deadline_is_a_setting(tmp_path):
    assert load_settings({}).database_timeout == 30
    assert load_settings({"USESTATS_DATABASE_TIMEOUT": "90"}).database_timeout == 90
    config = tmp_path / "usestats.toml"
    config.write_text("database_timeout = 45\n")
    assert load_settings({"USESTATS_CONFIG": str(config)}).database_timeout == 45
    for wrong in ("0", "-5", "soon"):
        with pytest.raises(Exception, match="USESTATS_DATABASE_TIMEOUT must be a positive whole number"):
            load_settings({"USESTATS_DATABASE_TIMEOUT": wrong})
