"""Operations: /healthz follows the database, /metrics counts requests, the gunicorn and
systemd files are valid."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from soap_usestats.config import Settings
from soap_usestats.demo.site import build_demo_site
from soap_usestats.domain.site import MoodleSite
from soap_usestats.moodle.database import connect
from soap_usestats.web.app import create_app
from soap_usestats.web.health import DatabaseHealth
from soap_usestats.web.requestlog import configure_logging
from tests.support import HANG_SECONDS
from tests.support.databases import SERVERS, fresh_database
from tests.support.examples import worked_example
from tests.support.metrics import sample
from tests.support.moodle import MoodleBuilder
from tests.support.servers import TcpProxy, free_port, gunicorn
from tests.support.wsgi import WsgiClient, envelope

DEPLOY = Path(__file__).parent.parent / "deploy"
GUNICORN_CONF = DEPLOY / "gunicorn.conf.py"
HEALTHY = {"status": "ok", "database": "ok"}
UNHEALTHY = {"status": "unavailable", "database": "unreachable"}
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TOKEN = "b" * 32


def call(app, method: str, path: str, body: bytes = b"") -> tuple[str, dict, bytes]:
    """Run one request through the WSGI application: status, headers, body."""
    response = WsgiClient(app).request(method, path, body)
    return response.reason, response.headers, response.body


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def app_on():
    apps = []

    def make(url: str):
        apps.append(create_app(Settings(database_url=url)))
        return apps[-1]

    yield make
    for app in apps:
        app.network.home.engine.dispose()


def unreachable_url() -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/moodle"


def test_healthz_is_ok_and_counted(app_on, builder):
    app = app_on(builder.url)
    status, headers, body = call(app, "GET", "/healthz")
    assert (status, json.loads(body)) == ("200 OK", HEALTHY)
    assert headers["Content-Type"] == "application/json"
    assert headers["Cache-Control"] == "no-store"
    status, headers, metrics = call(app, "GET", "/metrics")
    assert status == "200 OK" and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert sample(metrics, "usestats_requests_total", operation="healthz", outcome="ok") == 1
    assert sample(metrics, "usestats_request_duration_seconds_count", operation="healthz") == 1
    assert "usestats_database_errors_total 0.0" in metrics.decode()


def test_healthz_without_database_is_503_without_details(app_on, caplog):
    url = unreachable_url()
    app = app_on(url)
    started = time.monotonic()
    status, _, body = call(app, "GET", "/healthz")
    assert time.monotonic() - started < HANG_SECONDS
    assert (status, json.loads(body)) == ("503 Service Unavailable", UNHEALTHY)
    assert "unreachable" in caplog.text and str(make_url(url).port) in caplog.text
    _, _, metrics = call(app, "GET", "/metrics")
    assert sample(metrics, "usestats_requests_total",
                  operation="healthz", outcome="Server.DatabaseUnavailable") == 1
    assert sample(metrics, "usestats_database_errors_total") == 1


@pytest.mark.parametrize("moodle", [True, False], ids=["wrong prefix", "not Moodle"])
def test_healthz_is_503_when_the_tables_are_not_there(database_url, moodle, caplog):
    """A wrong table prefix, or a database that holds no Moodle: 503 naming the problem,
    the table and the setting to check, and nothing secret; the operator's log says it too."""
    url, prefix = database_url, "mdl_"
    if moodle:
        MoodleBuilder(url).engine.dispose()
        prefix = "wrong_"
    app = create_app(Settings(database_url=url, table_prefix=prefix))
    try:
        status, _, body = call(app, "GET", "/healthz")
        _, _, metrics = call(app, "GET", "/metrics")
    finally:
        app.network.home.engine.dispose()
    answer = json.loads(body)
    assert status == "503 Service Unavailable"
    assert (answer["status"], answer["database"]) == ("unavailable", "schema mismatch")
    assert f"prefix '{prefix}'" in answer["detail"] and "table_prefix" in answer["detail"]
    assert "does not exist" in answer["detail"] and "soap-usestats check" in answer["detail"]
    assert make_url(url).host is None or make_url(url).host not in body.decode()
    assert make_url(url).database not in body.decode()
    assert sample(metrics, "usestats_requests_total",
                  operation="healthz", outcome="Server.SchemaMismatch") == 1
    assert sample(metrics, "usestats_database_errors_total") == 0
    assert f"health check: table '{prefix}" in caplog.text


def test_healthz_is_503_when_the_account_cannot_read_a_table(tmp_path, caplog):
    """PostgreSQL: an account without SELECT on one table the service reads."""
    url, drop = fresh_database("postgresql", tmp_path)
    role = f"usestats_ro_{uuid.uuid4().hex[:8]}"
    owner = MoodleBuilder(url)
    try:
        with owner.engine.begin() as conn:
            conn.execute(text(f"CREATE ROLE {role} LOGIN"))
            conn.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"))
            conn.execute(text(f"REVOKE SELECT ON mdl_role_capabilities FROM {role}"))
        app = create_app(Settings(database_url=make_url(url).set(username=role)
                                  .render_as_string(hide_password=False)))
        try:
            status, _, body = call(app, "GET", "/healthz")
        finally:
            app.network.home.engine.dispose()
        answer = json.loads(body)
        assert status == "503 Service Unavailable" and answer["database"] == "query failed"
        assert role not in body.decode() and "the service log says why" in answer["detail"]
        assert "permission denied" in caplog.text
    finally:
        with owner.engine.begin() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
        owner.engine.dispose()
        drop()
        admin = create_engine(SERVERS["postgresql"], isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()


def test_the_tables_are_checked_once_in_a_while_and_the_database_every_time(builder):
    """A load balancer polling every second costs ``SELECT 1`` a second: the statement over
    the tables runs again only after ``tables_seconds``, and its verdict is kept between."""
    engine = connect(builder.url)
    statements = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *args: statements.append(statement))
    try:
        health = DatabaseHealth(engine, "wrong_", tables_seconds=3600)
        assert health.check().database == "schema mismatch"
        assert health.check().database == "schema mismatch"
        assert health.check().database == "schema mismatch"
        selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        assert len(selects) == 3 and "wrong_user" in selects[0]
        assert all("wrong_" not in s for s in selects[1:])
        health = DatabaseHealth(engine, "mdl_", tables_seconds=0)
        statements.clear()
        assert health.check().ok and health.check().ok
        assert sum("mdl_logstore_standard_log" in s for s in statements) == 2
    finally:
        engine.dispose()


def test_a_hung_database_fails_the_check_at_the_deadline():
    """A server that accepts connections and never answers: unhealthy after the timeout, and
    the checks that follow wait on the same probe rather than pile up new ones."""
    with closing(socket.socket()) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        engine = connect(f"postgresql+psycopg://postgres@127.0.0.1:{silent.getsockname()[1]}/moodle")
        health = DatabaseHealth(engine, "mdl_", timeout=0.5)
        started = time.monotonic()
        assert health.check().database == "unreachable"
        assert health.check().database == "unreachable"
        assert time.monotonic() - started < HANG_SECONDS
        probes = [t for t in threading.enumerate() if t.name == "usestats-health-probe"]
        assert len(probes) == 1
    probes[0].join(10)
    engine.dispose()


def test_operations_endpoints_answer_get_only(app_on, tmp_path):
    app = app_on(f"sqlite:///{tmp_path / 'moodle.sqlite'}")
    for path in ("/healthz", "/metrics"):
        status, headers, _ = call(app, "POST", path, b"<x/>")
        assert status == "405 Method Not Allowed" and headers["Allow"] == "GET"


def test_metrics_count_soap_requests_by_outcome(app_on, tmp_path):
    app = app_on(f"sqlite:///{tmp_path / 'moodle.sqlite'}")
    for _ in range(3):
        call(app, "POST", "/soap", b"this is not xml")
    _, _, metrics = call(app, "GET", "/metrics")
    assert sample(metrics, "usestats_requests_total", operation="-", outcome="Client.InvalidXML") == 3
    assert sample(metrics, "usestats_request_duration_seconds_count", operation="-") == 3


@pytest.mark.e2e
def test_healthz_follows_the_database_without_a_restart(tmp_path):
    """PostgreSQL goes away behind a proxy and comes back: 200, 503, 200 from the same server."""
    url, drop = fresh_database("postgresql", tmp_path)
    try:
        demo = build_demo_site(url, learners=3)
        target = make_url(url)
        proxy = TcpProxy(target.port)
        proxy.start()
        with gunicorn(target.set(port=proxy.port).render_as_string(hide_password=False)) as soap:
            base = soap.removesuffix("/soap")
            stats = (f'<e:Envelope xmlns:e="{SOAP_ENV}" xmlns:u="urn:soap-usestats:1"><e:Body>'
                     f"<u:GetStats><u:targetuser>{demo.reference.username}</u:targetuser>"
                     "</u:GetStats></e:Body></e:Envelope>").encode()
            request = urllib.request.Request(f"{soap}?wstoken={demo.token}", data=stats,
                                             headers={"Content-Type": "text/xml; charset=utf-8"})
            with urllib.request.urlopen(request, timeout=10) as response:
                assert demo.reference.username.encode() in response.read()

            assert fetch(f"{base}/healthz") == (200, json.dumps(HEALTHY).encode())
            proxy.stop()
            started = time.monotonic()
            assert fetch(f"{base}/healthz") == (503, json.dumps(UNHEALTHY).encode())
            assert time.monotonic() - started < HANG_SECONDS
            proxy.start()
            assert fetch(f"{base}/healthz") == (200, json.dumps(HEALTHY).encode())

            _, metrics = fetch(f"{base}/metrics")
            assert sample(metrics, "usestats_requests_total", operation="healthz", outcome="ok") == 2
            assert sample(metrics, "usestats_database_errors_total") == 1
            for secret in (demo.reference.username, demo.token, target.database):
                assert secret.encode() not in metrics
            proxy.stop()
    finally:
        drop()


def test_gunicorn_configuration_loads(tmp_path):
    env = {**os.environ, "USESTATS_DATABASE_URL": f"sqlite:///{tmp_path / 'moodle.sqlite'}",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
           "USESTATS_WORKERS": "3", "USESTATS_TRUSTED_PROXIES": "10.1.0.0/16, 192.0.2.1"}
    command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF),
               "soap_usestats.wsgi:application"]
    checked = subprocess.run([*command, "--check-config"], env=env, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    printed = subprocess.run([*command, "--print-config"], env=env, capture_output=True, text=True)
    settings = {key.strip(): value.strip() for key, value in
                (line.split(" = ", 1) for line in printed.stdout.splitlines() if " = " in line)}
    assert settings["workers"] == "3"
    assert settings["forwarded_allow_ips"] == "['10.1.0.0/16', '192.0.2.1/32']"
    assert settings["accesslog"] == "None"


@pytest.mark.e2e
def test_metrics_add_up_across_gunicorn_workers(tmp_path):
    """Two sync workers serve requests concurrently; any worker's /metrics reports them all."""
    url = f"sqlite:///{tmp_path / 'moodle.sqlite'}"
    build_demo_site(url, learners=2)
    metrics_dir = tmp_path / "metrics"
    with gunicorn(url, config=str(GUNICORN_CONF), USESTATS_WORKERS="2", USESTATS_THREADS="1",
                  PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)) as soap:
        sent = 0
        with ThreadPoolExecutor(8) as pool:
            # Each worker keeps its histogram in its own file once it has served a request.
            while len(list(metrics_dir.glob("histogram_*.db"))) < 2 and sent < 400:
                assert all(s == 200 for s, _ in pool.map(fetch, [f"{soap}?wsdl"] * 40))
                sent += 40
        assert len(list(metrics_dir.glob("histogram_*.db"))) == 2
        for _ in range(4):
            status, metrics = fetch(soap.replace("/soap", "/metrics"))
            assert status == 200
            # gunicorn() fetched the WSDL once to see the server up.
            assert sample(metrics, "usestats_requests_total", operation="wsdl", outcome="ok") == sent + 1
            assert sample(metrics, "usestats_request_duration_seconds_count", operation="wsdl") == sent + 1


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("name", ["soap-usestats.service", "soap-usestats-compile.service"])
def test_systemd_unit_is_valid(tmp_path, name):
    """The service's unit, and the ledger compiler's for deployments where it does not compile."""
    unit = tmp_path / name
    unit.write_text((DEPLOY / name).read_text()
                    .replace("/opt/soap-usestats/venv/bin/", f"{Path(sys.executable).parent}/"))
    verified = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert verified.returncode == 0 and not verified.stderr, verified.stderr


def test_a_failed_call_is_logged_in_a_line_and_only_a_defect_with_its_stack(builder, monkeypatch,
                                                                          caplog):
    """A client's mistake: the request line. A server fault: its cause in one line, then the
    request line. A traceback for Server.InternalError only, once."""
    worked_example(builder)
    builder.admin_token(TOKEN)
    configure_logging()

    def logged(table_prefix: str, targetuser: str) -> list[logging.LogRecord]:
        app = create_app(Settings(database_url=builder.url, table_prefix=table_prefix))
        body = envelope(f"<u:GetStats><u:targetuser>{targetuser}</u:targetuser></u:GetStats>")
        try:
            caplog.clear()
            with caplog.at_level(logging.INFO):
                WsgiClient(app, QUERY_STRING=f"wstoken={TOKEN}").post(body)
            return [r for r in caplog.records if r.name != "soap_usestats.moodle.versions"]
        finally:
            app.network.home.engine.dispose()

    def lines(records) -> list[str]:
        return "\n".join(logging.Formatter().format(r) for r in records).splitlines()

    client_fault = logged("mdl_", "nobody")
    assert [r.name for r in client_fault] == ["soap_usestats.requests"]
    assert "outcome=Client.UnknownUser" in client_fault[0].getMessage()

    server_fault = logged("wrong_", "alice")
    assert [r.name for r in server_fault] == ["soap_usestats.soap.faults", "soap_usestats.requests"]
    assert len(lines(server_fault)) == 2
    assert "Server.SchemaMismatch: table 'wrong_" in server_fault[0].getMessage()

    def defect(*args, **kwargs):
        raise KeyError("a defect")

    monkeypatch.setattr(MoodleSite, "get_stats", defect)
    internal = logged("mdl_", "alice")
    assert [r.name for r in internal] == ["soap_usestats.soap.faults", "soap_usestats.requests"]
    assert [r.exc_info is not None for r in internal] == [True, False]
    assert "outcome=Server.InternalError" in internal[1].getMessage()
    assert sum(line.startswith("Traceback") for line in lines(internal)) == 1
