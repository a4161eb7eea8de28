"""The running service keeps the ledger current, one compiler at a time, and shows it:
``/healthz`` tells the ledger's state in a header (200 whatever it is), ``/metrics`` its
lag by site; a pass that fails is logged and never reaches a call."""

from __future__ import annotations

import logging
import time

import pytest
from sqlalchemy.exc import OperationalError

from soap_usestats.config import Settings
from soap_usestats.ledger import migrate, status
from soap_usestats.ledger.lock import Lease
from soap_usestats.domain.compiling import BackgroundCompiler
from soap_usestats.web.app import create_app
from soap_usestats.web.health import LEDGER_HEADER
from tests.support.databases import fresh_database
from tests.support.ledger import booked_rows
from tests.support.metrics import sample
from tests.support.servers import free_port
from tests.support.wsgi import WsgiClient
from tests.test_ledger import LEDGERS


def _learner(builder):
    user, course = builder.user("alice"), builder.course("C1")
    builder.log(user, 1000, "loggedin", "user", 10)
    builder.log(user, 1060, "viewed", "course", 50, course)
    return user, course


def _eventually(condition, seconds: float = 15.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


def _booked(ledger) -> int:
    """The rows booked so far (none while the ledger is not made)."""
    try:
        return len(booked_rows(ledger))
    except OperationalError:
        return 0


@pytest.fixture
def ledger_url(tmp_path):
    return f"sqlite:///{tmp_path / 'var' / 'ledger.sqlite'}"


@pytest.fixture(params=LEDGERS)
def each_ledger_url(request, tmp_path):
    """A new ledger database on SQLite, and on each server several services may share."""
    url, drop = fresh_database(request.param, tmp_path)
    yield url
    drop()


@pytest.fixture
def apps():
    made = []

    def make(settings: Settings, **options):
        made.append(create_app(settings, **options))
        return made[-1]

    yield make
    for app in made:
        if app.compiler is not None:
            app.compiler.stop(timeout=10)
        app.network.home.engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_service_compiles_the_log_every_interval_by_itself(builder, ledger_url, apps):
    user, course = _learner(builder)
    app = apps(Settings(database_url=builder.url, ledger_url=ledger_url, ledger_interval=1))
    assert app.compiler is not None and app.compiler._thread.daemon
    ledger = migrate.ledger_engine(ledger_url)
    _eventually(lambda: _booked(ledger) == 2)
    builder.log(user, 1120, "viewed", "course", 50, course)
    _eventually(lambda: _booked(ledger) == 3)
    started = time.monotonic()
    app.compiler.stop(timeout=10)
    assert time.monotonic() - started < 5 and not app.compiler._thread.is_alive()
    ledger.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_no_compiler_without_an_interval_a_ledger_or_in_a_process_that_forks(builder, ledger_url,
                                                                             apps):
    _learner(builder)
    assert apps(Settings(database_url=builder.url, ledger_url=ledger_url)).compiler is None
    assert apps(Settings(database_url=builder.url, ledger_url=None,
                         ledger_interval=60)).compiler is None
    assert apps(Settings(database_url=builder.url, ledger_url=ledger_url, ledger_interval=60),
                compile_ledger=False).compiler is None


@pytest.mark.parametrize("backend", ["sqlite"])
def test_one_compiler_at_a_time_the_others_skip_their_pass(builder, each_ledger_url):
    _learner(builder)
    settings = Settings(database_url=builder.url, ledger_url=each_ledger_url)
    ledger = migrate.ledger_engine(each_ledger_url)
    migrate.upgrade(ledger)
    first, second = (BackgroundCompiler(settings, ledger, 60) for _ in range(2))
    with Lease(ledger):  # another host, or soap-usestats compile --follow
        assert not first.run_once() and not second.run_once()
        assert booked_rows(ledger) == {}
    assert first.run_once() and len(booked_rows(ledger)) == 2
    assert second.run_once() and first.passes == second.passes == 1
    ledger.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_failing_pass_is_logged_in_one_line_and_tried_again(builder, ledger_url, caplog):
    _learner(builder)
    unreachable = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/moodle"
    ledger = migrate.ledger_engine(ledger_url)
    broken = BackgroundCompiler(Settings(database_url=unreachable, ledger_url=ledger_url),
                                ledger, 60)
    with caplog.at_level(logging.WARNING):
        assert not broken.run_once()
    [record] = [r for r in caplog.records if r.name == "soap_usestats.domain.compiling"]
    assert "the compile pass failed, tried again in 60 s" in record.getMessage()
    assert "\n" not in record.getMessage()
    working = BackgroundCompiler(Settings(database_url=builder.url, ledger_url=ledger_url),
                                 ledger, 60)
    assert working.run_once() and len(booked_rows(ledger)) == 2  # the lock was released
    ledger.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_healthz_and_metrics_show_the_ledger_and_its_lag(builder, tmp_path, ledger_url, apps):
    user, course = _learner(builder)
    settings = Settings(database_url=builder.url, ledger_url=ledger_url)
    app = apps(settings)
    app.ledger.every = 0  # every look reads anew
    client = WsgiClient(app)
    health = client.request("GET", "/healthz")
    assert health.reason == "200 OK" and health.headers[LEDGER_HEADER] == status.NOT_MADE
    assert sample(client.request("GET", "/metrics").body, "usestats_ledger_in_use") == 0
    assert not (tmp_path / "var").exists()  # looking made nothing
    ledger = migrate.ledger_engine(ledger_url)
    assert BackgroundCompiler(settings, ledger, 60).run_once()
    assert client.request("GET", "/healthz").headers[LEDGER_HEADER] == status.OK
    [lag] = app.ledger.state().sites
    metrics = client.request("GET", "/metrics").body
    assert sample(metrics, "usestats_ledger_in_use") == 1
    assert sample(metrics, "usestats_ledger_rows_behind", site=lag.site) == 0
    assert 0 <= sample(metrics, "usestats_ledger_seconds_since_pass", site=lag.site) < 60
    builder.log(user, 1120, "viewed", "course", 50, course)
    builder.log(user, 1180, "viewed", "course", 50, course)
    metrics = client.request("GET", "/metrics").body
    assert sample(metrics, "usestats_ledger_rows_behind", site=lag.site) == 2
    ledger.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_an_unreachable_or_absent_ledger_leaves_the_service_healthy(builder, apps):
    _learner(builder)
    unreachable = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/ledger"
    for url, state in ((unreachable, status.UNREACHABLE), (None, status.OFF)):
        client = WsgiClient(apps(Settings(database_url=builder.url, ledger_url=url)))
        health = client.request("GET", "/healthz")
        assert health.reason == "200 OK" and health.headers[LEDGER_HEADER] == state
        assert sample(client.request("GET", "/metrics").body, "usestats_ledger_in_use") == 0
