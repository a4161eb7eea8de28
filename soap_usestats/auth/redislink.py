"""The Redis server several hosts share: a client with bounded waits, and its outages logged.

The nonce store (``username.RedisNonceStore``) and the throttle of failed
authentications (``throttle.RedisFailures``) keep their state there when
``nonce_store`` is a ``redis://`` or ``rediss://`` URL.
"""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..exceptions import ConfigError

REDIS_SCHEMES = ("redis://", "rediss://")
OUTAGE_LOG_INTERVAL = 60  # seconds between two warnings of the same outage, per worker


def connect(url: str, timeout: float) -> tuple[redis.Redis, str]:
    """A client of the Redis at ``url``, and where it is for the operator's log.

    Nothing connects yet. Each command takes a pooled connection (redis-py
    reconnects a closed one, and drops one that failed), waits at most
    ``timeout`` seconds to connect and as long for an answer, and retries once,
    at once, only a connection error (a socket Redis closed when it restarted).
    The address names scheme, host, port and database: no user, no password.
    """
    try:
        path = urlsplit(url).path
        if path.strip("/") and not path.strip("/").isdigit():  # redis-py would take database 0
            raise ValueError(f"the path must be a database number, not {path!r}")
        client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout,
            retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)))
    except ValueError as error:  # the URL's parts, never its password
        raise ConfigError(f"nonce_store is not a usable Redis URL: {error}") from None
    options = client.connection_pool.connection_kwargs
    address = (f"{url.split(':', 1)[0]}://{options.get('host')}:{options.get('port')}"
               f"/{options.get('db', 0)}")
    return client, address


class Outage:
    """A store's outage, told to the operator: when it starts, once a minute while it
    lasts (per worker), and when the store answers again.

    ``effect`` says what the outage does, ``recovery`` what answering again restores;
    ``more``, said only when the outage starts, what keeps working meanwhile.
    """

    def __init__(self, log: logging.Logger, store: str, effect: str, recovery: str,
                 more: str = "") -> None:
        self.log, self.store = log, store
        self.effect, self.recovery, self.more = effect, recovery, more
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._warned_at = 0.0

    def failed(self, error: BaseException) -> None:
        """The store did not answer: warn, unless this worker warned of it less than a minute ago."""
        at = time.monotonic()
        with self._lock:
            first = self._down_since is None
            if first:
                self._down_since = at
            elif at - self._warned_at < OUTAGE_LOG_INTERVAL:
                return
            self._warned_at = at
            down_for = at - self._down_since
        detail = str(error).splitlines()
        reason = f"{type(error).__name__}: {detail[0]}" if detail else type(error).__name__
        if first:
            self.log.warning("%s unavailable (%s): %s%s", self.store, reason, self.effect, self.more)
        else:
            self.log.warning("%s still unavailable after %.0f s (%s): %s", self.store, down_for,
                             reason, self.effect)

    def answered(self) -> None:
        """The store answered: if it was down, say it is back."""
        if self._down_since is None:
            return
        with self._lock:
            if self._down_since is None:
                return
            down_for, self._down_since = time.monotonic() - self._down_since, None
        self.log.warning("%s answers again after %.0f s: %s", self.store, down_for, self.recovery)
