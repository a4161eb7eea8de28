"""WS-Security nonces in Redis: one replay guard for every host behind a load balancer.

Against the Redis server of this machine (``USESTATS_TEST_REDIS``, by default
``redis://127.0.0.1:6379``), each test under its own key prefix or in its own
database; the outage and recovery tests run a private ``redis-server`` they stop
and start. Where Redis is absent these tests skip, saying so; in CI
(``CI=true``) they fail instead, as the database servers' do.
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from urllib.parse import quote

import pytest
import redis
from lxml import etree
from zeep.wsse.username import UsernameToken as ZeepUsernameToken

from soap_usestats.auth import username as wsse
from soap_usestats.auth.clients import ClientRegistry, new_client, new_secret_key
from soap_usestats.auth.username import (
    MAX_CLOCK_SKEW,
    REDIS_KEY_PREFIX,
    REDIS_TIMEOUT,
    UNAVAILABLE,
    NonceStore,
    RedisNonceStore,
    authenticate_username_token,
    nonce_store,
)
from soap_usestats.config import Settings
from soap_usestats.exceptions import AuthenticationFailed, ConfigError
from soap_usestats.web.app import create_app
from tests.security.conftest import TOKEN
from tests.security.test_wsse import created, digest_token
from tests.support.servers import free_port, gunicorn
from tests.support.wsgi import GET_STATS, WsgiClient

REDIS_URL = os.environ.get("USESTATS_TEST_REDIS", "redis://127.0.0.1:6379").rstrip("/")
#: The database the applications under test share (they use the default key prefix);
#: their nonces are random, so runs at the same time cannot collide.
APP_DB = 13
KEY = new_secret_key()
ERP, PASSWORD = new_client(KEY, "erp", user="wsadmin")
MAX_AGE = 300
NOW = 1_700_000_000.0
LOG = "soap_usestats.auth.username"


def _absent(what: str, reason: str):
    message = f"{what} is not available ({reason})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI requires Redis (.ci/run starts it)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def shared_redis() -> redis.Redis:
    """A client of the machine's Redis, or skip (fail in CI) when it does not answer."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        _absent(f"Redis at {REDIS_URL}", f"{type(error).__name__}: {error}")
    yield client
    client.close()


@pytest.fixture
def prefix(shared_redis) -> str:
    """A key prefix of this test's own; its keys are deleted after."""
    mine = f"soap-usestats-test:{uuid.uuid4().hex}:"
    yield mine
    for key in shared_redis.scan_iter(match=f"{mine}*"):
        shared_redis.delete(key)


@pytest.fixture
def store(shared_redis, prefix) -> RedisNonceStore:
    result = RedisNonceStore(f"{REDIS_URL}/0", MAX_AGE, prefix=prefix)
    yield result
    result.close()


@pytest.fixture
def registry() -> ClientRegistry:
    return ClientRegistry({"erp": ERP}, KEY)


def redis_server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        _absent("redis-server", "not on PATH")
    return binary


class PrivateRedis:
    """A ``redis-server`` of the test's own on a free port, keeping nothing on disk.

    ``config`` is written to a configuration file it reads first (ACL users, say);
    ``options`` are more command-line options (TLS, say).
    """

    def __init__(self, directory, config: str = "", *options: str) -> None:
        self.binary = redis_server_binary()
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.config, self.options = config, options
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        conf = self.directory / f"redis-{self.port}.conf"
        conf.write_text(self.config)
        self.log = self.directory / f"redis-{self.port}.log"
        self.process = subprocess.Popen(
            [self.binary, str(conf), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory), "--logfile", str(self.log),
             *self.options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:  # Redis loads nothing, so it serves once it listens
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of the test's own: it needs ``redis-server``, not the machine's Redis."""
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@contextmanager
def silent_server():
    """A port that takes connections and never answers: a Redis that hangs."""
    with closing(socket.socket()) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def closed_port_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


# -- calls to the application --------------------------------------------------------------


@pytest.fixture
def make_app(moodle_url):
    """A new application on the example site with the client ``erp`` and ``nonce_store``."""
    apps = []

    def make(store: str):
        apps.append(create_app(Settings(database_url=moodle_url, clients={"erp": ERP}, secret_key=KEY,
                                        nonce_store=store)))
        return apps[-1]

    yield make
    for app in apps:
        app.network.home.engine.dispose()
        getattr(app.authenticator.nonces, "close", lambda: None)()


def digest_envelope(password: str = PASSWORD) -> bytes:
    """GetStats with a fresh PasswordDigest UsernameToken (a new nonce) as zeep builds it."""
    document = etree.fromstring(GET_STATS)
    ZeepUsernameToken("erp", password, use_digest=True).apply(document, {})
    return etree.tostring(document)


def text_envelope() -> bytes:
    document = etree.fromstring(GET_STATS)
    ZeepUsernameToken("erp", PASSWORD).apply(document, {})
    return etree.tostring(document)


def call(app, body: bytes = GET_STATS, **environ):
    return WsgiClient(app).post(body, **environ)


def answered(response) -> None:
    assert response.status == 200, response.body[:600]
    assert b"GetStatsResponse" in response.body


def refused(response, message: str) -> str:
    code, text, status = response.fault()
    assert (code, status) == ("Client.AuthenticationFailed", 501), text
    assert message in text
    return text


def basic() -> str:
    return "Basic " + base64.b64encode(f"erp:{PASSWORD}".encode()).decode()


def app_url(db: int = APP_DB) -> str:
    return f"{REDIS_URL}/{db}"


# -- choosing the store ---------------------------------------------------------------------


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://:password@redis.example.com:6380/2"])
def test_a_redis_url_selects_the_redis_store_without_connecting(url):
    for store in (nonce_store(Settings(nonce_store=url, wsse_max_age=120)),
                  nonce_store(Settings(nonce_store=url, wsse_max_age=120))):
        assert isinstance(store, RedisNonceStore)
        assert (store.max_age, store.ttl) == (120, 120 + MAX_CLOCK_SKEW)
        assert "password" not in repr(store) and "password" not in store.address


def test_anything_else_is_the_sqlite_file(tmp_path):
    store = nonce_store(Settings(nonce_store=str(tmp_path / "nonces.sqlite")))
    assert type(store) is NonceStore and store.max_age == 300


@pytest.mark.parametrize("url", ["redis://erp:s3cret@127.0.0.1:notaport/0",
                                 "redis://erp:s3cret@127.0.0.1:6379/zero",
                                 "redis://erp:s3cret@127.0.0.1:6379/0?socket_timeout=soon"])
def test_an_unusable_redis_url_is_a_config_error_that_hides_the_password(url):
    with pytest.raises(ConfigError, match="nonce_store is not a usable Redis URL") as raised:
        nonce_store(Settings(nonce_store=url))
    assert "s3cret" not in str(raised.value)


# -- the store itself -----------------------------------------------------------------------


def test_a_nonce_is_new_once_per_client(store):
    assert store.remember("erp", b"nonce", NOW)
    assert not store.remember("erp", b"nonce", NOW + 1)
    assert store.remember("portal", b"nonce", NOW + 1)
    assert store.remember("erp", b"other nonce", NOW + 1)


def test_keys_hold_a_hash_and_expire_when_no_token_could_be_accepted(store, shared_redis, prefix):
    nonce = os.urandom(16)
    assert store.remember("erp", nonce, NOW)
    keys = list(shared_redis.scan_iter(match=f"{prefix}*"))
    assert len(keys) == 1
    key = keys[0].decode()
    assert key.startswith(prefix) and len(key) == len(prefix) + 64
    assert nonce.hex() not in key and base64.b64encode(nonce).decode() not in key and "erp" not in key
    assert MAX_AGE + MAX_CLOCK_SKEW - 2 <= shared_redis.ttl(keys[0]) <= MAX_AGE + MAX_CLOCK_SKEW
    assert shared_redis.get(keys[0]) == b"1"


def test_a_digest_is_accepted_once_and_its_replay_refused(store, registry):
    token = digest_token("erp", PASSWORD, os.urandom(16), created())
    assert authenticate_username_token(token, registry, store, NOW) == ERP
    with pytest.raises(AuthenticationFailed, match="used before"):
        authenticate_username_token(token, registry, store, NOW + 1)


def test_a_replay_to_another_host_is_refused(shared_redis, prefix, registry):
    """Two stores on one Redis are two hosts behind a load balancer."""
    host_a = RedisNonceStore(f"{REDIS_URL}/0", MAX_AGE, prefix=prefix)
    host_b = RedisNonceStore(f"{REDIS_URL}/0", MAX_AGE, prefix=prefix)
    token = digest_token("erp", PASSWORD, os.urandom(16), created())
    assert authenticate_username_token(token, registry, host_a, NOW) == ERP
    with pytest.raises(AuthenticationFailed, match="used before"):
        authenticate_username_token(token, registry, host_b, NOW + 1)
    host_a.close()
    host_b.close()


def test_concurrent_hosts_accept_a_nonce_exactly_once(shared_redis, prefix):
    """SET NX is atomic: of many stores racing with one nonce, one wins."""
    stores = [RedisNonceStore(f"{REDIS_URL}/0", MAX_AGE, prefix=prefix) for _ in range(8)]
    nonce = os.urandom(16)
    with ThreadPoolExecutor(len(stores)) as pool:
        results = list(pool.map(lambda s: s.remember("erp", nonce, NOW), stores * 4))
    assert results.count(True) == 1
    for store in stores:
        store.close()


def test_a_connection_redis_closed_is_replaced_without_refusing(store, shared_redis):
    """Redis (or a proxy, or its ``timeout``) dropped the pooled connection: the next call reconnects."""
    assert store.remember("erp", os.urandom(16), NOW)
    assert shared_redis.client_kill_filter(_id=store._redis.client_id()) == 1  # its pooled connection
    assert store.remember("erp", os.urandom(16), NOW)


# -- Redis unreachable: fail closed ---------------------------------------------------------


@pytest.mark.parametrize("where", ["closed port", "silent server"])
def test_digests_are_refused_quickly_when_redis_is_unreachable(where, registry, caplog):
    with silent_server() as silent:
        url = closed_port_url() if where == "closed port" else silent
        store = RedisNonceStore(url, MAX_AGE)  # constructing it connects to nothing
        token = digest_token("erp", PASSWORD, os.urandom(16), created())
        with caplog.at_level(logging.WARNING, logger=LOG):
            started = time.monotonic()
            with pytest.raises(AuthenticationFailed, match="replay guard is unavailable"):
                authenticate_username_token(token, registry, store, NOW)
            elapsed = time.monotonic() - started
    assert elapsed < REDIS_TIMEOUT + 1.5, elapsed
    warnings = [r for r in caplog.records if r.name == LOG and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unavailable" in warnings[0].getMessage()
    assert token.nonce not in warnings[0].getMessage()


def test_a_wrong_digest_is_refused_as_wrong_before_redis_is_asked(registry):
    store = RedisNonceStore(closed_port_url(), MAX_AGE)
    token = digest_token("erp", "not the password", os.urandom(16), created())
    with pytest.raises(AuthenticationFailed, match="wrong"):
        authenticate_username_token(token, registry, store, NOW)


def test_an_outage_is_logged_once_a_minute_without_secrets(registry, caplog):
    store = RedisNonceStore(f"redis://erp:s3cret@127.0.0.1:{free_port()}/0", MAX_AGE)
    with caplog.at_level(logging.WARNING, logger=LOG):
        for _ in range(5):
            with pytest.raises(AuthenticationFailed, match="replay guard is unavailable"):
                store.remember("erp", os.urandom(16), NOW)
    messages = [r.getMessage() for r in caplog.records if r.name == LOG]
    assert len(messages) == 1
    assert "s3cret" not in messages[0] and "erp:" not in messages[0]
    assert f"{store.address} unavailable" in messages[0]


def test_the_service_starts_and_serves_other_credentials_without_redis(make_app):
    app = make_app(closed_port_url())
    started = time.monotonic()
    text = refused(call(app, digest_envelope()), "replay guard is unavailable")
    assert time.monotonic() - started < REDIS_TIMEOUT + 1.5
    assert text == UNAVAILABLE
    answered(call(app, QUERY_STRING=f"wstoken={TOKEN}"))
    answered(call(app, HTTP_AUTHORIZATION=basic()))
    answered(call(app, text_envelope()))


def test_a_hung_redis_refuses_digests_within_the_timeout(make_app):
    with silent_server() as url:
        app = make_app(url)
        started = time.monotonic()
        refused(call(app, digest_envelope()), "replay guard is unavailable")
        assert time.monotonic() - started < REDIS_TIMEOUT + 1.5
        answered(call(app, HTTP_AUTHORIZATION=basic()))


# -- through the application ----------------------------------------------------------------


def test_the_application_refuses_a_replayed_digest(make_app, shared_redis):
    app = make_app(app_url())
    body = digest_envelope()
    answered(call(app, body))
    refused(call(app, body), "used before")
    nonce = base64.b64decode(etree.fromstring(body).findtext(f".//{{{wsse.WSSE}}}Nonce"))
    key = f"{REDIS_KEY_PREFIX}{wsse._key('erp', nonce).hex()}"
    with closing(redis.Redis.from_url(app_url(), socket_timeout=2)) as app_db:
        assert app_db.exists(key) and app_db.ttl(key) > MAX_AGE


def test_two_applications_sharing_redis_refuse_each_others_replays(make_app, shared_redis):
    host_a, host_b = make_app(app_url()), make_app(app_url())
    first, second = digest_envelope(), digest_envelope()
    answered(call(host_a, first))
    refused(call(host_b, first), "used before")
    answered(call(host_b, second))
    refused(call(host_a, second), "used before")


def test_recovery_without_a_restart(make_app, private_redis, caplog):
    app = make_app(private_redis.url)
    before = digest_envelope()
    answered(call(app, before))  # the application holds a pooled connection now

    private_redis.stop()
    with caplog.at_level(logging.WARNING, logger=LOG):
        for _ in range(3):
            started = time.monotonic()
            refused(call(app, digest_envelope()), "replay guard is unavailable")
            assert time.monotonic() - started < REDIS_TIMEOUT + 1.5
        refused(call(app, before), "replay guard is unavailable")  # and never accepted unchecked
        answered(call(app, HTTP_AUTHORIZATION=basic()))
        answered(call(app, QUERY_STRING=f"wstoken={TOKEN}"))

        private_redis.start()  # the same port, an empty Redis
        body = digest_envelope()
        answered(call(app, body))
        refused(call(app, body), "used before")
    messages = [r.getMessage() for r in caplog.records if r.name == LOG]
    assert len(messages) == 2, messages
    assert "unavailable" in messages[0] and "answers again" in messages[1]


def test_a_redis_restart_while_idle_costs_no_refusal(make_app, private_redis):
    """The pooled connection died with the old server; the first call after reconnects."""
    app = make_app(private_redis.url)
    answered(call(app, digest_envelope()))
    private_redis.stop()
    private_redis.start()
    answered(call(app, digest_envelope()))


# -- securing Redis -------------------------------------------------------------------------


def test_an_acl_user_limited_to_the_prefix_with_its_password_in_the_url(tmp_path, registry, caplog):
    """As docs/security.md advises: no default user; one that may only SET the service's keys."""
    password = "pa:ss/w@rd%"
    acl = f"user default off\nuser usestats on >{password} ~{REDIS_KEY_PREFIX}* +set\n"
    server = PrivateRedis(tmp_path, acl)
    server.start()
    try:
        where = f"127.0.0.1:{server.port}/0"
        store = RedisNonceStore(f"redis://usestats:{quote(password, safe='')}@{where}", MAX_AGE)
        token = digest_token("erp", PASSWORD, os.urandom(16), created())
        assert authenticate_username_token(token, registry, store, NOW) == ERP
        with pytest.raises(AuthenticationFailed, match="used before"):
            authenticate_username_token(token, registry, store, NOW)
        wrong = RedisNonceStore(f"redis://usestats:not-{quote(password, safe='')}@{where}", MAX_AGE)
        with (caplog.at_level(logging.WARNING, logger=LOG),
              pytest.raises(AuthenticationFailed, match="replay guard is unavailable")):
            wrong.remember("erp", os.urandom(16), NOW)
        assert "AuthenticationError" in caplog.text and "pa:ss" not in caplog.text
        store.close()
        wrong.close()
    finally:
        server.stop()


def test_rediss_verifies_the_servers_certificate(tmp_path, registry):
    openssl = shutil.which("openssl")
    if openssl is None:
        _absent("openssl", "not on PATH")
    cert, key = tmp_path / "redis.crt", tmp_path / "redis.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    tls_port = free_port()
    server = PrivateRedis(tmp_path, "", "--tls-port", str(tls_port), "--tls-cert-file", str(cert),
                          "--tls-key-file", str(key), "--tls-auth-clients", "no")
    server.start()
    try:
        trusting = RedisNonceStore(f"rediss://127.0.0.1:{tls_port}/0?ssl_ca_certs={cert}", MAX_AGE)
        token = digest_token("erp", PASSWORD, os.urandom(16), created())
        assert authenticate_username_token(token, registry, trusting, NOW) == ERP
        with pytest.raises(AuthenticationFailed, match="used before"):
            authenticate_username_token(token, registry, trusting, NOW)
        unverified = RedisNonceStore(f"rediss://127.0.0.1:{tls_port}/0", MAX_AGE)  # the system's CAs
        with pytest.raises(AuthenticationFailed, match="replay guard is unavailable"):
            unverified.remember("erp", os.urandom(16), NOW)
        trusting.close()
        unverified.close()
    finally:
        server.stop()


# -- two real hosts -------------------------------------------------------------------------


@pytest.mark.e2e
def test_two_gunicorn_hosts_share_one_replay_guard(moodle_url, tmp_path, shared_redis):
    config = tmp_path / "usestats.toml"
    config.write_text(f'[clients.erp]\nsalt = "{ERP.salt}"\npassword_hash = "{ERP.password_hash}"\n'
                      f'user = "{ERP.user}"\n')
    env = {"USESTATS_CONFIG": str(config), "USESTATS_SECRET_KEY": KEY, "USESTATS_NONCE_STORE": app_url()}
    with gunicorn(moodle_url, **env) as host_a, gunicorn(moodle_url, **env) as host_b:
        body = digest_envelope()
        assert post(host_a, body) == 200
        status, answer = post(host_b, body, expect_fault=True)
        assert status == 500 and b"Client.AuthenticationFailed" in answer and b"used before" in answer
        status, answer = post(host_a, body, expect_fault=True)
        assert b"used before" in answer
        assert post(host_b, digest_envelope()) == 200


def post(url: str, body: bytes, expect_fault: bool = False):
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "text/xml; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            assert not expect_fault, response.read()[:600]
            return response.status
    except urllib.error.HTTPError as error:
        if not expect_fault:
            raise AssertionError(error.read()[:600]) from None
        return error.code, error.read()
