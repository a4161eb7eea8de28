"""Failed authentications: each one logged for the operator, and throttled per client address.

Each failure that tested a credential (a wrong password, token or digest, a
spent nonce, a stale ``wsu:Created``...) spends one of the address's
``throttle_failures``, and one comes back every ``throttle_seconds``. While
none is left, every operation call from the address is refused at once, before
its body is read or any credential is checked: ``Client.AuthenticationFailed``
saying when to retry, with HTTP ``Retry-After``. This is a leaky bucket kept as
the time at which it will be empty (the generic cell rate algorithm): one
number per address, updated in one atomic step.

- A success gives nothing back. Otherwise whoever holds one good credential (a
  learner's own token, say) could interleave it to keep guessing at full speed;
  a client whose credentials are right never fails, so never waits.
- A refused call is not counted: a client that waits as told gets in, and one
  that does not still gets one attempt every ``throttle_seconds``, never more.
- A request that tests no credential (none or several sent, a store down:
  :class:`CredentialUnchecked`) is logged but not counted, so an HTTP client
  that sends its credentials only once answered 401 is never throttled for it.
- Addresses in ``throttle_exempt`` (none by default) are never throttled.
  An IPv6 address counts with its whole /64, which one subscriber usually holds.

The counts live where the nonces do: in the Redis of a ``redis://`` or
``rediss://`` ``nonce_store``, which every host shares, else in the nonce
store's SQLite file, which the workers of a host share. While that store does
not answer, each worker counts in its own memory (the throttle fails open to a
per-worker one: a Redis outage must not refuse good clients), asks the store
again every few seconds, and logs the outage.
"""

from __future__ import annotations

import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network, ip_address
from typing import Protocol, TypeVar

import redis

from ..config import Settings
from ..exceptions import AuthenticationFailed, CredentialUnchecked
from . import redislink
from .addresses import Network
from .username import NONCE_TIMEOUT, PRUNE_INTERVAL, create_private_file, write_ahead

log = logging.getLogger(__name__)

REDIS_KEY_PREFIX = "soap-usestats:throttle:"
#: Seconds to connect to Redis, and to wait for its answer: every call asks it once.
REDIS_TIMEOUT = 0.5
#: Seconds a worker counts alone after its store failed, before asking the store again.
RETRY_STORE = 5.0
#: Addresses a worker's own count holds at most.
MEMORY_ADDRESSES = 10_000
#: Seconds an SQLite store waits for another worker's write.
SQLITE_TIMEOUT = 1.0
STORE_ERRORS = (redis.RedisError, sqlite3.Error, OSError)

T = TypeVar("T")


class Throttled(CredentialUnchecked):
    """The client's address has no failure left; it may try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed authentications from this address; "
                         f"retry in {retry_after} s")
        self.retry_after = retry_after


def retry_after(error: BaseException) -> list[tuple[str, str]]:
    """The HTTP headers an answer to ``error`` adds: ``Retry-After`` when it is a throttle's."""
    return [("Retry-After", str(error.retry_after))] if isinstance(error, Throttled) else []


@dataclass(frozen=True)
class Allowance:
    """``failures`` in a row, and one more every ``seconds``."""

    failures: int
    seconds: float

    def wait(self, empty_at: float, now: float) -> float:
        """Seconds before an address whose bucket empties at ``empty_at`` may try again (0: now)."""
        return max(0.0, empty_at - now - (self.failures - 1) * self.seconds)


class Counts(Protocol):
    """Where each address's bucket is kept, as the time at which it will be empty."""

    #: The store, for the operator's log: never a password.
    where: str

    def empty_at(self, key: str) -> float:
        """When the bucket of ``key`` will be empty (0 or a past time: it is)."""

    def spend(self, key: str, now: float, seconds: float) -> float:
        """Count one failure of ``key`` at ``now``, ``seconds`` long; its new :meth:`empty_at`."""


class MemoryCounts:
    """One worker's own counts, holding at most ``limit`` addresses."""

    where = "memory"

    def __init__(self, limit: int = MEMORY_ADDRESSES) -> None:
        self.limit = limit
        self._empty_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def empty_at(self, key: str) -> float:
        return self._empty_at.get(key, 0.0)

    def spend(self, key: str, now: float, seconds: float) -> float:
        with self._lock:
            empty_at = max(self._empty_at.pop(key, 0.0), now) + seconds
            if len(self._empty_at) >= self.limit:
                self._forget(now)
            self._empty_at[key] = empty_at  # last: the dict is in the order of last failure
            return empty_at

    def _forget(self, now: float) -> None:
        """Drop the empty buckets or, when none is, the tenth that failed longest ago."""
        empty = [key for key, empty_at in self._empty_at.items() if empty_at <= now]
        for key in empty or list(self._empty_at)[: self.limit // 10 + 1]:
            del self._empty_at[key]


class SqliteCounts:
    """Counts in an SQLite file the workers of one host share (the nonce store's).

    Each thread keeps a connection of its own, opened again in a new process
    (gunicorn forks) and after an error.
    """

    def __init__(self, path: str) -> None:
        self.path = self.where = path
        self._pruned_at = 0.0
        self._local = threading.local()
        create_private_file(path)
        with closing(sqlite3.connect(path, timeout=SQLITE_TIMEOUT)) as db:
            write_ahead(db, NONCE_TIMEOUT)
            db.execute("CREATE TABLE IF NOT EXISTS auth_failures "
                       "(address TEXT PRIMARY KEY, empty_at REAL NOT NULL)")

    def empty_at(self, key: str) -> float:
        row = self._run("SELECT empty_at FROM auth_failures WHERE address = ?", key)
        return row[0] if row else 0.0

    def spend(self, key: str, now: float, seconds: float) -> float:
        if now - self._pruned_at >= PRUNE_INTERVAL:
            self._pruned_at = now
            self._run("DELETE FROM auth_failures WHERE empty_at < ?", now)
        (empty_at,) = self._run(
            "INSERT INTO auth_failures (address, empty_at) VALUES (?1, ?2 + ?3) "
            "ON CONFLICT (address) DO UPDATE SET empty_at = max(empty_at, ?2) + ?3 "
            "RETURNING empty_at", key, now, seconds)
        return empty_at

    def _run(self, statement: str, *parameters) -> tuple | None:
        """The first row of ``statement``, in autocommit, on this thread's connection."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            local.db = sqlite3.connect(self.path, timeout=SQLITE_TIMEOUT, isolation_level=None)
            local.pid = os.getpid()
        try:
            cursor = local.db.execute(statement, parameters)
            row = cursor.fetchone()
            cursor.close()
            return row
        except sqlite3.Error:
            local.pid = None  # open a new connection next time
            raise


#: One failure, in one atomic step: the bucket's new empty time, in milliseconds, kept
#: until then.
_SPEND = """
local now, step = tonumber(ARGV[1]), tonumber(ARGV[2])
local empty_at = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now) + step
redis.call('SET', KEYS[1], empty_at, 'PX', empty_at - now)
return empty_at
"""


class RedisCounts:
    """Counts in the Redis every host shares: ``prefix`` and the address, holding the
    bucket's empty time in milliseconds, which Redis forgets once it is past.

    Nothing connects before the first call, so the service starts without Redis.
    """

    def __init__(self, url: str, *, prefix: str = REDIS_KEY_PREFIX,
                 timeout: float = REDIS_TIMEOUT) -> None:
        self.prefix = prefix
        self._redis, self.where = redislink.connect(url, timeout)

    def empty_at(self, key: str) -> float:
        value = self._redis.get(self.prefix + key)
        return int(value) / 1000 if value else 0.0

    def spend(self, key: str, now: float, seconds: float) -> float:
        return self._redis.eval(_SPEND, 1, self.prefix + key, round(now * 1000),
                                round(seconds * 1000)) / 1000

    def close(self) -> None:
        """Close the pooled connections (a later call opens new ones)."""
        self._redis.connection_pool.disconnect()


class Throttle:
    """Logs every failed authentication, and refuses an address that failed too often.

    ``allowance`` ``None`` throttles nobody (``throttle_failures = 0``).
    """

    def __init__(self, allowance: Allowance | None, counts: Counts | None = None,
                 exempt: Iterable[Network] = ()) -> None:
        self.allowance = allowance
        self.counts = counts or MemoryCounts()
        self.exempt = tuple(exempt)
        self._own = MemoryCounts()
        self._ask_store_at = 0.0
        self._outage = redislink.Outage(
            log, f"throttle store {self.counts.where}",
            "each worker counts failed authentications alone",
            "failed authentications are counted by every worker again",
            " until it answers; no client is refused for it")

    @classmethod
    def from_settings(cls, settings: Settings) -> Throttle:
        if not settings.throttle_failures:
            return cls(None)
        if settings.nonce_store.startswith(redislink.REDIS_SCHEMES):
            counts: Counts = RedisCounts(settings.nonce_store)
        else:
            counts = SqliteCounts(settings.nonce_store)
        return cls(Allowance(settings.throttle_failures, settings.throttle_seconds), counts,
                   settings.throttle_exempt)

    def check(self, address: str) -> None:
        """Refuse a call from ``address`` at once while it has no failure left: :class:`Throttled`."""
        key = self._key(address)
        if key is None:
            return
        empty_at = self._ask(lambda counts: counts.empty_at(key))
        wait = self.allowance.wait(empty_at, time.time())
        if wait > 0:
            raise Throttled(math.ceil(wait))

    def failed(self, address: str, credentials: str, error: AuthenticationFailed) -> None:
        """Log one failed authentication from ``address`` presenting ``credentials`` (as
        ``Authenticator.presented`` names them), and count it if it tested a credential."""
        if isinstance(error, Throttled):
            return  # the request line says it
        log.info("authentication failed: address=%s credentials=%s reason=%s",
                 address or "-", credentials, error)
        key = self._key(address)
        if key is None or isinstance(error, CredentialUnchecked):
            return
        now, seconds = time.time(), self.allowance.seconds
        empty_at = self._ask(lambda counts: counts.spend(key, now, seconds))
        if self.allowance.wait(empty_at, now) > 0 >= self.allowance.wait(empty_at - seconds, now):
            log.warning("address %s throttled after %d failed authentications: refused for %.0f s, "
                        "then one attempt every %.0f s", key, self.allowance.failures,
                        self.allowance.wait(empty_at, now), seconds)

    def _key(self, address: str) -> str | None:
        """What ``address`` is counted as (an IPv6 address: its /64), or ``None`` when it
        is not throttled."""
        if self.allowance is None:
            return None
        try:
            ip = ip_address(address)
        except ValueError:
            return address or "-"  # not an address (client_address made it printable)
        if isinstance(ip, IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if any(ip in network for network in self.exempt):
            return None
        if isinstance(ip, IPv6Address):
            return str(IPv6Network((int(ip) >> 64 << 64, 64)))
        return str(ip)

    def _ask(self, question: Callable[[Counts], T]) -> T:
        """The store's answer; this worker's own while the store does not answer."""
        if time.monotonic() >= self._ask_store_at:
            try:
                answer = question(self.counts)
            except STORE_ERRORS as error:
                self._ask_store_at = time.monotonic() + RETRY_STORE
                self._outage.failed(error)
            else:
                self._outage.answered()
                return answer
        return question(self._own)
