"""The throttle of failed authentications in Redis: one count for every host.

Applications whose ``nonce_store`` is a Redis URL are hosts behind one load balancer:
an address that spends its allowance on one is refused by all. Against the machine's
Redis (``USESTATS_TEST_REDIS``), each test with addresses of its own; outages against
a private ``redis-server`` or a port that never answers. Where Redis is absent these
tests skip, saying so; with ``CI=true`` they fail (as test_nonce_redis.py's).
"""

from __future__ import annotations

import logging
import random
import time
from contextlib import closing
from urllib.parse import quote

import pytest
import redis

from soap_usestats.auth.throttle import REDIS_KEY_PREFIX, REDIS_TIMEOUT, RedisCounts
from soap_usestats.config import Settings
from soap_usestats.web.app import create_app
from tests.security.test_nonce_redis import (  # noqa: F401 - fixtures
    REDIS_URL,
    PrivateRedis,
    closed_port_url,
    private_redis,
    shared_redis,
    silent_server,
)
from tests.security.test_throttle import (
    ERP,
    FAILURES,
    KEY,
    PROXY,
    answered,
    call,
    throttled,
    wrong,
)

#: The database the applications under test share; every test has addresses of its own.
APP_DB = 12
LOG = "soap_usestats.auth.throttle"


def app_url(db: int = APP_DB) -> str:
    return f"{REDIS_URL}/{db}"


@pytest.fixture
def addresses(shared_redis) -> list[str]:
    """Three addresses no other test uses; their counts are deleted after."""
    mine = [f"198.18.{random.randrange(256)}.{random.randrange(256)}" for _ in range(3)]
    yield mine
    with closing(redis.Redis.from_url(app_url(), socket_timeout=2)) as db:
        db.delete(*(REDIS_KEY_PREFIX + address for address in mine))


@pytest.fixture
def make_host(moodle_url):
    """A new application (a host) with the client ``erp`` and ``nonce_store``."""
    apps = []

    def make(store: str):
        apps.append(create_app(Settings(
            database_url=moodle_url, clients={"erp": ERP}, secret_key=KEY, nonce_store=store,
            trusted_proxies=(PROXY,), throttle_failures=FAILURES, throttle_seconds=60)))
        return apps[-1]

    yield make
    for app in apps:
        app.network.home.engine.dispose()
        for store in (app.authenticator.nonces, app.throttle.counts):
            getattr(store, "close", lambda: None)()


def test_hosts_sharing_redis_share_the_count(make_host, addresses):
    attacker, other, _ = addresses
    host_a, host_b, host_c = make_host(app_url()), make_host(app_url()), make_host(app_url())
    wrong(host_a, attacker, "basic")
    wrong(host_b, attacker, "token")
    wrong(host_c, attacker, "password digest")
    for host in (host_a, host_b, host_c):
        throttled(call(host, attacker, "basic", good=True))
        answered(call(host, other, "token", good=True))
    with closing(redis.Redis.from_url(app_url(), socket_timeout=2)) as db:
        key = REDIS_KEY_PREFIX + attacker
        assert 180 - 5 <= int(db.get(key)) / 1000 - time.time() <= 180
        assert 180_000 - 5_000 <= db.pttl(key) <= 180_000   # forgotten once the bucket is empty
        assert db.get(REDIS_KEY_PREFIX + other) is None        # a success writes nothing


def test_concurrent_failures_are_each_counted(shared_redis, addresses):
    counts = [RedisCounts(app_url()) for _ in range(4)]
    now, address = time.time(), addresses[0]
    results = [c.spend(address, now, 1) for c in counts for _ in range(5)]
    assert sorted(results) == [pytest.approx(now + n, abs=0.002) for n in range(1, 21)]
    for c in counts:
        c.close()


@pytest.mark.parametrize("where", ["closed port", "silent server"])
def test_without_redis_good_clients_are_served_and_each_worker_throttles_alone(
        where, make_host, caplog):
    with silent_server() as silent:
        host = make_host(closed_port_url() if where == "closed port" else silent)
        with caplog.at_level(logging.WARNING, logger=LOG):
            started = time.monotonic()
            answered(call(host, "192.0.2.1", "token", good=True))
            assert time.monotonic() - started < 2 * REDIS_TIMEOUT + 1.5
            for _ in range(FAILURES):
                wrong(host, "192.0.2.66", "basic")
            throttled(call(host, "192.0.2.66", "basic", good=True))
            started = time.monotonic()
            for _ in range(5):
                answered(call(host, "192.0.2.1", "basic", good=True))
            assert time.monotonic() - started < 2  # Redis is not asked again at every call
    warnings = [r.getMessage() for r in caplog.records if r.name == LOG]
    assert len(warnings) == 2, warnings
    assert "unavailable" in warnings[0] and "each worker counts failed authentications alone" in warnings[0]
    assert "throttled" in warnings[1]


def test_counts_go_back_to_redis_when_it_answers_again(make_host, private_redis, caplog,
                                                       monkeypatch):
    monkeypatch.setattr("soap_usestats.auth.throttle.RETRY_STORE", 0.2)
    host_a, host_b = make_host(private_redis.url), make_host(private_redis.url)
    wrong(host_a, "192.0.2.66")
    private_redis.stop()
    with caplog.at_level(logging.WARNING, logger=LOG):
        for _ in range(FAILURES - 1):
            wrong(host_b, "192.0.2.66")  # host b counts alone: it spent two of three
        private_redis.start()            # an empty Redis
        time.sleep(0.3)
        for _ in range(FAILURES):
            wrong(host_a, "192.0.2.66")
        throttled(call(host_b, "192.0.2.66", "basic", good=True))
    messages = [r.getMessage() for r in caplog.records if r.name == LOG]
    assert "unavailable" in messages[0] and any("answers again" in m for m in messages)


def test_the_documented_acl_user_may_count(tmp_path, make_host, caplog):
    """docs/security.md: no default user; one that may only use the service's keys."""
    password = "pa:ss/w@rd%"
    acl = (f"user default off\n"
           f"user usestats on >{password} ~soap-usestats:* +get +set +eval\n")
    server = PrivateRedis(tmp_path, acl)
    server.start()
    try:
        url = f"redis://usestats:{quote(password, safe='')}@127.0.0.1:{server.port}/0"
        host_a, host_b = make_host(url), make_host(url)
        with caplog.at_level(logging.WARNING, logger=LOG):
            for _ in range(FAILURES):
                wrong(host_a, "192.0.2.66")
            throttled(call(host_b, "192.0.2.66", "basic", good=True))
            answered(call(host_b, "192.0.2.1", "password digest", good=True))
        assert not [r for r in caplog.records if "unavailable" in r.getMessage()]
    finally:
        server.stop()
