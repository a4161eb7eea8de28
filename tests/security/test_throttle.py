"""Guessing is slow: failed authentications are logged and throttled per client address.

Each application here sits behind a trusted proxy (127.0.0.1) and sees the client's
address in ``X-Forwarded-For``, as a deployment behind nginx does; each test has its
own store (an SQLite file, as a host's workers share it). Redis: test_throttle_redis.py.
"""

from __future__ import annotations

import base64
import logging
import re
import sqlite3
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from ipaddress import ip_network

import pytest
from lxml import etree
from sqlalchemy import event
from zeep.wsse.username import UsernameToken as ZeepUsernameToken

from soap_usestats.auth import throttle
from soap_usestats.auth.clients import new_client, new_secret_key
from soap_usestats.auth.throttle import Allowance, MemoryCounts, SqliteCounts, Throttle
from soap_usestats.auth.tokens import fingerprint
from soap_usestats.config import Settings, load_settings
from soap_usestats.exceptions import AuthenticationFailed, ConfigError
from soap_usestats.web.app import create_app
from tests.security.conftest import TOKEN
from tests.support.servers import gunicorn
from tests.support.wsgi import GET_STATS, WsgiClient

KEY = new_secret_key()
ERP, PASSWORD = new_client(KEY, "erp", user="wsadmin")
FAILURES = 3
PROXY = ip_network("127.0.0.1")
ATTACKER, OTHER, ERP_HOST = "203.0.113.66", "198.51.100.7", "192.0.2.10"
THROTTLED = "too many failed authentications from this address"
LOG = "soap_usestats.auth.throttle"
REQUESTS = "soap_usestats.requests"


@pytest.fixture
def make_app(moodle_url, tmp_path):
    """A new application on the example site: the client ``erp``, the proxy 127.0.0.1
    trusted, ``FAILURES`` failures a minute allowed; ``store`` shared by the apps made
    with the same one, as a host's workers share it."""
    apps = []

    def make(store: str = "counts.sqlite", **settings):
        values = dict(database_url=moodle_url, clients={"erp": ERP}, secret_key=KEY,
                      nonce_store=str(tmp_path / store), trusted_proxies=(PROXY,),
                      throttle_failures=FAILURES, throttle_seconds=60) | settings
        apps.append(create_app(Settings(**values)))
        return apps[-1]

    yield make
    for app in apps:
        app.network.home.engine.dispose()


def basic(password: str = PASSWORD, name: str = "erp") -> str:
    return "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()


def username_envelope(password: str = PASSWORD, digest: bool = False, name: str = "erp") -> bytes:
    document = etree.fromstring(GET_STATS)
    ZeepUsernameToken(name, password, use_digest=digest).apply(document, {})
    return etree.tostring(document)


#: Each way to present a credential: (environ, body) for a wrong one and for the right one.
WAYS = {
    "basic": (lambda: ({"HTTP_AUTHORIZATION": basic("not-the-password")}, GET_STATS),
              lambda: ({"HTTP_AUTHORIZATION": basic()}, GET_STATS)),
    "token": (lambda: ({"QUERY_STRING": "wstoken=" + "b" * 32}, GET_STATS),
              lambda: ({"QUERY_STRING": f"wstoken={TOKEN}"}, GET_STATS)),
    "password text": (lambda: ({}, username_envelope("not-the-password")),
                      lambda: ({}, username_envelope())),
    "password digest": (lambda: ({}, username_envelope("not-the-password", digest=True)),
                        lambda: ({}, username_envelope(digest=True))),
}


def call(app, address: str, way: str, good: bool, path: str = "/soap"):
    environ, body = WAYS[way][good]()
    return WsgiClient(app).post(body, path, HTTP_X_FORWARDED_FOR=address, **environ)


def wrong(app, address: str, way: str = "basic"):
    response = call(app, address, way, good=False)
    code, text, status = response.fault()
    assert (code, status) == ("Client.AuthenticationFailed", 501)
    assert THROTTLED not in text, text
    return response


def answered(response) -> None:
    assert response.status == 200, response.body[:600]
    assert b"GetStatsResponse" in response.body


def throttled(response) -> int:
    """The refusal of a throttled address; the seconds it is told to wait."""
    code, text, status = response.fault()
    assert (code, status) == ("Client.AuthenticationFailed", 501), text
    assert THROTTLED in text
    seconds = int(response.headers["Retry-After"])
    assert f"retry in {seconds} s" in text
    return seconds


# -- the throttle through the application ---------------------------------------------------


@pytest.mark.parametrize("way", list(WAYS))
def test_an_address_that_keeps_failing_is_refused_at_once(make_app, way):
    app = make_app()
    for _ in range(FAILURES):
        wrong(app, ATTACKER, way)
    assert 55 <= throttled(call(app, ATTACKER, way, good=False)) <= 60
    assert throttled(call(app, ATTACKER, way, good=True))  # the right credential too, meanwhile
    answered(call(app, OTHER, way, good=True))             # others are not affected
    wrong(app, OTHER, way)


def test_a_throttled_call_is_refused_before_its_body_is_read_or_anything_checked(make_app,
                                                                                 monkeypatch):
    app = make_app()
    for _ in range(FAILURES):
        wrong(app, ATTACKER, "token")
    statements, checks = [], []
    event.listen(app.network.home.engine, "before_cursor_execute",
                 lambda *args: statements.append(args[2]))
    monkeypatch.setattr(app.authenticator, "__call__", lambda *args: checks.append(args))
    for way in WAYS:
        environ, body = WAYS[way][True]()
        stream = ReadCounter(body)
        throttled(WsgiClient(app).post(stream, HTTP_X_FORWARDED_FOR=ATTACKER,
                                       CONTENT_LENGTH=str(len(body)), **environ))
        assert stream.reads == 0
    assert statements == [] and checks == []


class ReadCounter(BytesIO):
    def __init__(self, body: bytes) -> None:
        super().__init__(body)
        self.reads = 0

    def read(self, *args) -> bytes:
        self.reads += 1
        return super().read(*args)


def test_a_success_does_not_give_back_what_failures_spent(make_app):
    """Whoever holds one good credential cannot interleave it to keep guessing."""
    app = make_app()
    for _ in range(FAILURES * 3):
        answered(call(app, ATTACKER, "token", good=True))
    for _ in range(FAILURES - 1):
        wrong(app, ATTACKER, "basic")
        answered(call(app, ATTACKER, "token", good=True))
    wrong(app, ATTACKER, "basic")
    throttled(call(app, ATTACKER, "token", good=True))


def test_a_client_with_good_credentials_is_never_throttled(make_app):
    app = make_app()
    for _ in range(FAILURES):
        wrong(app, ATTACKER)
    throttled(call(app, ATTACKER, "basic", good=True))
    for way in WAYS:
        for _ in range(FAILURES * 2):
            answered(call(app, ERP_HOST, way, good=True))


def test_calls_that_test_no_credential_are_not_counted(make_app):
    """A client that sends its credentials only once answered 401 is never throttled for it."""
    app = make_app()
    for _ in range(FAILURES):
        wrong(app, ATTACKER)
    throttled(call(app, ATTACKER, "basic", good=False))
    for _ in range(FAILURES * 2):
        response = WsgiClient(app).get("/json/GetStats", "targetuser=alice",
                                       HTTP_X_FORWARDED_FOR=ERP_HOST)
        assert response.status == 401 and b"credentials required" in response.body
        both = WsgiClient(app).post(GET_STATS, QUERY_STRING=f"wstoken={TOKEN}",
                                    HTTP_AUTHORIZATION=basic(), HTTP_X_FORWARDED_FOR=ERP_HOST)
        assert "more than one credential" in both.fault()[1]
    answered(call(app, ERP_HOST, "basic", good=True))


def test_one_attempt_comes_back_every_throttle_seconds(make_app):
    app = make_app(throttle_seconds=1)
    for _ in range(FAILURES):
        wrong(app, ATTACKER)
    assert throttled(call(app, ATTACKER, "basic", good=False)) == 1
    time.sleep(1.1)
    wrong(app, ATTACKER)  # one more guess, and no more
    throttled(call(app, ATTACKER, "basic", good=False))
    time.sleep(1.1)
    answered(call(app, ATTACKER, "basic", good=True))


def test_json_and_soap12_say_when_to_retry(make_app):
    app = make_app()
    for _ in range(FAILURES):
        wrong(app, ATTACKER, "token")
    response = WsgiClient(app).get("/json/GetStats", f"targetuser=alice&wstoken={TOKEN}",
                                   HTTP_X_FORWARDED_FOR=ATTACKER)
    assert response.status == 401 and THROTTLED.encode() in response.body
    assert 55 <= int(response.headers["Retry-After"]) <= 60
    soap12 = WsgiClient(app).post(GET_STATS.replace(b"schemas.xmlsoap.org/soap/envelope/",
                                                    b"www.w3.org/2003/05/soap-envelope"),
                                  "/soap12", QUERY_STRING=f"wstoken={TOKEN}",
                                  CONTENT_TYPE="application/soap+xml; charset=utf-8",
                                  HTTP_X_FORWARDED_FOR=ATTACKER)
    assert soap12.status == 400 and b"Client.AuthenticationFailed" in soap12.body
    assert THROTTLED.encode() in soap12.body and "Retry-After" in soap12.headers


def test_the_workers_of_a_host_share_the_count(make_app):
    """Two applications on one store file are two gunicorn workers of one host."""
    worker_a, worker_b = make_app("host.sqlite"), make_app("host.sqlite")
    wrong(worker_a, ATTACKER, "basic")
    wrong(worker_b, ATTACKER, "token")
    wrong(worker_a, ATTACKER, "password digest")
    throttled(call(worker_b, ATTACKER, "basic", good=False))
    throttled(call(worker_a, ATTACKER, "basic", good=True))
    other_host = make_app("other-host.sqlite")
    answered(call(other_host, ATTACKER, "basic", good=True))


def test_an_ipv6_address_counts_with_its_64(make_app):
    app = make_app()
    for host in range(1, FAILURES + 1):
        wrong(app, f"2001:db8:1:2::{host}")
    throttled(call(app, "2001:db8:1:2:ffff::9", "basic", good=True))
    answered(call(app, "2001:db8:1:3::1", "basic", good=True))


def test_loopback_is_throttled_too_and_exemptions_are_configurable(make_app):
    app = make_app(trusted_proxies=())
    for _ in range(FAILURES):  # REMOTE_ADDR 127.0.0.1: a guesser on the host is one too
        response = WsgiClient(app).post(GET_STATS, HTTP_AUTHORIZATION=basic("wrong"))
        assert response.fault()[1] == "wrong credentials"
    response = WsgiClient(app).post(GET_STATS, HTTP_AUTHORIZATION=basic("wrong"))
    assert response.fault()[1].startswith("too many failed authentications")
    app = make_app(throttle_exempt=(ip_network("203.0.113.0/24"),))
    for _ in range(FAILURES * 2):
        wrong(app, ATTACKER)
    for _ in range(FAILURES):
        wrong(app, OTHER)
    throttled(call(app, OTHER, "basic", good=True))


def test_no_throttle_when_throttle_failures_is_0(make_app):
    app = make_app(throttle_failures=0)
    for _ in range(FAILURES * 3):
        wrong(app, ATTACKER)
    answered(call(app, ATTACKER, "basic", good=True))


# -- the operator's log ---------------------------------------------------------------------


def failure_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == LOG and r.getMessage().startswith("authentication failed")]


def request_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == REQUESTS]


def test_each_failure_is_logged_with_the_address_and_the_client_never_a_secret(make_app, caplog):
    app = make_app()
    wrong_token = "c" * 32
    digest_body = username_envelope("s3cret-guess", digest=True)
    digest = etree.fromstring(digest_body).findtext(".//{*}Password")
    nonce = etree.fromstring(digest_body).findtext(".//{*}Nonce")
    with caplog.at_level(logging.INFO):
        WsgiClient(app).post(GET_STATS, HTTP_AUTHORIZATION=basic("s3cret-guess"),
                             HTTP_X_FORWARDED_FOR=f"10.9.9.9, {ATTACKER}")
        WsgiClient(app).post(GET_STATS, QUERY_STRING=f"wstoken={wrong_token}",
                             HTTP_X_FORWARDED_FOR=OTHER)
        WsgiClient(app).post(digest_body, HTTP_X_FORWARDED_FOR=ERP_HOST)
        WsgiClient(app).post(username_envelope("s3cret-guess", name="admin"),
                             HTTP_X_FORWARDED_FOR="2001:db8::5")
    lines = failure_lines(caplog)
    assert lines == [
        f'authentication failed: address={ATTACKER} credentials=basic "erp" reason=wrong credentials',
        f"authentication failed: address={OTHER} credentials=token {fingerprint(wrong_token)} "
        "reason=invalid token",
        f'authentication failed: address={ERP_HOST} credentials=usernametoken "erp" '
        "reason=wrong credentials",
        'authentication failed: address=2001:db8::5 credentials=usernametoken "admin" (unknown) '
        "reason=wrong credentials",
    ]
    requests = request_lines(caplog)
    for address, line in zip((ATTACKER, OTHER, ERP_HOST, "2001:db8::5"), requests, strict=True):
        assert f" address={address} " in line and "outcome=Client.AuthenticationFailed" in line
    for secret in ("s3cret-guess", wrong_token, digest, nonce, PASSWORD):
        assert secret not in caplog.text


def test_what_a_client_sends_is_logged_escaped_and_bounded(make_app, caplog):
    app = make_app()
    hostile = 'x" reason=ok\n\x1b[31m' + "é" * 100
    with caplog.at_level(logging.INFO):
        WsgiClient(app).post(GET_STATS, HTTP_AUTHORIZATION=basic("pw", name=hostile),
                             HTTP_X_FORWARDED_FOR='"1.2.3.4\nforged line"')
        many = "&".join(f"wstoken={n:032}" for n in range(10))
        WsgiClient(app).post(GET_STATS, QUERY_STRING=many, HTTP_X_FORWARDED_FOR=OTHER)
    first, second = failure_lines(caplog)
    assert "\n" not in first and "\x1b" not in first and "é" not in first
    assert 'basic "x\\" reason=ok\\n\\u001b[31m' in first and '"... (unknown)' in first
    assert len(first) < 600
    assert 'address="\\"1.2.3.4\\nforged line\\""' in first
    assert len(re.findall(r"token [0-9a-f]{12}", second)) == 3 and ", 7 more reason=" in second
    assert all("\n" not in line for line in request_lines(caplog))


def test_the_address_is_logged_once_when_it_becomes_throttled(make_app, caplog):
    app = make_app()
    with caplog.at_level(logging.INFO):
        for _ in range(FAILURES):
            wrong(app, ATTACKER)
        for _ in range(3):
            throttled(call(app, ATTACKER, "basic", good=False))
    warnings = [r.getMessage() for r in caplog.records if r.name == LOG and r.levelno == logging.WARNING]
    assert warnings == [f"address {ATTACKER} throttled after {FAILURES} failed authentications: "
                        "refused for 60 s, then one attempt every 60 s"]
    assert len(failure_lines(caplog)) == FAILURES  # a refusal is the request line alone
    assert sum("outcome=Client.AuthenticationFailed" in line for line in request_lines(caplog)) == 6


# -- the parts ------------------------------------------------------------------------------


def test_the_allowance_is_a_leaky_bucket():
    allowance = Allowance(failures=3, seconds=10)
    counts, now = MemoryCounts(), 1000.0
    waits = []
    for _ in range(4):  # three in a row, and a fourth that a racing call let through
        waits.append(allowance.wait(counts.empty_at("a"), now))
        counts.spend("a", now, 10)
    assert waits == [0, 0, 0, 10] and allowance.wait(counts.empty_at("a"), now) == 20
    assert allowance.wait(counts.empty_at("a"), now + 20) == 0
    assert allowance.wait(counts.empty_at("a"), now + 40) == 0
    assert counts.spend("a", now + 40, 10) == now + 50  # two failures' worth left after 40 s


def test_a_worker_holds_a_bounded_number_of_addresses():
    counts = MemoryCounts(limit=100)
    for n in range(1000):
        counts.spend(f"10.0.{n // 256}.{n % 256}", 1000.0, 60)
    assert len(counts._empty_at) <= 100
    assert counts.empty_at("10.0.3.231") == 1060.0  # the latest are kept


def test_the_sqlite_counts_are_atomic_across_connections(tmp_path):
    first, second = SqliteCounts(str(tmp_path / "n.sqlite")), SqliteCounts(str(tmp_path / "n.sqlite"))
    assert first.spend("a", 1000.0, 30) == 1030.0
    assert second.spend("a", 1000.0, 30) == 1060.0
    assert first.empty_at("a") == second.empty_at("a") == 1060.0 and first.empty_at("b") == 0


class DownStore:
    """A store that does not answer."""

    where = "sqlite:/var/lib/soap-usestats/nonces.sqlite"

    def __init__(self) -> None:
        self.asked = 0

    def empty_at(self, key: str) -> float:
        self.asked += 1
        raise sqlite3.OperationalError("disk I/O error")

    spend = empty_at


def test_a_store_that_fails_leaves_each_worker_counting_alone(caplog):
    store = DownStore()
    guard = Throttle(Allowance(2, 60), store)
    with caplog.at_level(logging.WARNING, logger=LOG):
        guard.check(ATTACKER)
        guard.failed(ATTACKER, "basic", AuthenticationFailed("wrong credentials"))
        guard.failed(ATTACKER, "basic", AuthenticationFailed("wrong credentials"))
        with pytest.raises(throttle.Throttled):
            guard.check(ATTACKER)
        guard.check(OTHER)
    assert store.asked == 1  # then not again for RETRY_STORE seconds
    outage = [r.getMessage() for r in caplog.records if "unavailable" in r.getMessage()]
    assert outage == [f"throttle store {store.where} unavailable (OperationalError: disk I/O error): "
                      "each worker counts failed authentications alone until it answers; no client "
                      "is refused for it"]


def test_an_sqlite_store_reconnects_after_an_error(tmp_path):
    counts = SqliteCounts(str(tmp_path / "n.sqlite"))
    assert counts.spend("a", 1000.0, 30) == 1030.0
    counts._local.db.close()  # the connection broke
    with pytest.raises(sqlite3.Error):
        counts.spend("a", 1000.0, 30)
    assert counts.empty_at("a") == 1030.0  # through a new connection


# -- configuration --------------------------------------------------------------------------


def test_the_settings_and_their_defaults(tmp_path):
    defaults = Settings()
    assert (defaults.throttle_failures, defaults.throttle_seconds) == (10, 30)
    assert defaults.throttle_exempt == ()
    config = tmp_path / "usestats.toml"
    config.write_text('throttle_failures = 5\nthrottle_seconds = 120\n'
                      'throttle_exempt = ["10.1.0.0/16"]\n')
    settings = load_settings({"USESTATS_CONFIG": str(config)})
    assert (settings.throttle_failures, settings.throttle_seconds) == (5, 120)
    assert settings.throttle_exempt == (ip_network("10.1.0.0/16"),)
    settings = load_settings({"USESTATS_CONFIG": str(config), "USESTATS_THROTTLE_FAILURES": "0",
                              "USESTATS_THROTTLE_EXEMPT": ""})
    assert settings.throttle_failures == 0 and settings.throttle_exempt == ()


@pytest.mark.parametrize("environ, message", [
    ({"USESTATS_THROTTLE_FAILURES": "-1"}, "USESTATS_THROTTLE_FAILURES must be a whole number"),
    ({"USESTATS_THROTTLE_SECONDS": "0"},
     "USESTATS_THROTTLE_SECONDS must be a positive whole number"),
    ({"USESTATS_THROTTLE_EXEMPT": "10.0.0.0/8, localhost"},
     "USESTATS_THROTTLE_EXEMPT: 'localhost' is not an IP address or network"),
])
def test_wrong_settings_are_named(environ, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(environ)


# -- a real host ----------------------------------------------------------------------------


@pytest.mark.e2e
def test_a_gunicorn_host_behind_a_proxy_throttles_with_all_its_workers(moodle_url, tmp_path):
    config, workers = tmp_path / "usestats.toml", tmp_path / "gunicorn.conf.py"
    config.write_text(f'[clients.erp]\nsalt = "{ERP.salt}"\npassword_hash = "{ERP.password_hash}"\n'
                      f'user = "{ERP.user}"\n')
    workers.write_text("workers = 2\nthreads = 2\n")
    env = {"USESTATS_CONFIG": str(config), "USESTATS_SECRET_KEY": KEY,
           "USESTATS_NONCE_STORE": str(tmp_path / "nonces.sqlite"),
           "USESTATS_TRUSTED_PROXIES": "127.0.0.1", "USESTATS_THROTTLE_FAILURES": str(FAILURES),
           "USESTATS_THROTTLE_SECONDS": "60"}
    with gunicorn(moodle_url, config=str(workers), **env) as url:
        def post(address: str, password: str) -> tuple[int, dict, bytes]:
            request = urllib.request.Request(url, data=GET_STATS, method="POST", headers={
                "Content-Type": "text/xml; charset=utf-8", "X-Forwarded-For": address,
                "Authorization": basic(password)})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return response.status, dict(response.headers), response.read()
            except urllib.error.HTTPError as error:
                return error.code, dict(error.headers), error.read()

        with ThreadPoolExecutor(FAILURES) as pool:  # at once, to both workers
            answers = list(pool.map(lambda _: post(ATTACKER, "wrong"), range(FAILURES)))
        assert all(b"wrong credentials" in body for _, _, body in answers)
        status, headers, body = post(ATTACKER, PASSWORD)
        assert status == 500 and THROTTLED.encode() in body
        assert 55 <= int(headers["Retry-After"]) <= 60
        assert post(OTHER, PASSWORD)[0] == 200
