"""WS-Security UsernameToken (OASIS UsernameToken Profile 1.0): find it, check it, refuse replays.

A PasswordDigest token must carry a Nonce and a ``wsu:Created`` no older than
``wsse_max_age`` seconds and at most a minute ahead. Its nonce is remembered for
as long as the token could still be accepted, so a captured token cannot be
replayed. A PasswordText token may omit both; when it has a Created, that must
be fresh too.

``nonce_store`` says where nonces are remembered: a ``redis://`` or ``rediss://``
URL names a Redis server that every host behind a load balancer shares
(:class:`RedisNonceStore`); anything else is an SQLite file all workers of one
host share (:class:`NonceStore`), by default in the system's temporary
directory; a production host should name one in a directory only the service
can write. While Redis cannot be reached, digest tokens are refused (never
accepted unchecked); every other credential keeps working, and the store
reconnects by itself once Redis answers again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import redis
from lxml import etree

from ..config import ClientCredential, Settings
from ..exceptions import AuthenticationFailed, ConfigError, CredentialUnchecked
from ..namespaces import SOAP11_ENV, SOAP12_ENV, WSSE, WSU
from . import redislink
from .clients import ClientRegistry, decode_base64
from .redislink import REDIS_SCHEMES

SOAP_ENVELOPES = (SOAP11_ENV, SOAP12_ENV)
MAX_CLOCK_SKEW = 60  # seconds a Created may lie ahead of the service's clock
PRUNE_INTERVAL = 60  # seconds between deletions of expired nonces, per worker
NONCE_TIMEOUT = 10  # seconds a statement of the SQLite nonce store waits for a lock
REDIS_KEY_PREFIX = "soap-usestats:nonce:"
REDIS_TIMEOUT = 2.0  # seconds to connect to Redis, and to wait for its answer
#: What a digest token is told while the nonce store cannot be reached.
UNAVAILABLE = ("the replay guard is unavailable, so a PasswordDigest cannot be checked now; "
               "try again shortly, or use HTTP Basic or PasswordText over TLS")
log = logging.getLogger(__name__)
_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


@dataclass(frozen=True)
class UsernameToken:
    """A UsernameToken as sent; ``password`` is the digest (base64) when ``digest`` is set."""

    username: str
    password: str = field(repr=False)
    digest: bool = False
    nonce: str | None = field(default=None, repr=False)
    created: str | None = None


def username_token(envelope: etree._Element) -> UsernameToken | None:
    """The UsernameToken of the envelope's ``wsse:Security`` header, or ``None`` if it has none."""
    tokens = _tokens(envelope)
    if not tokens:
        return None
    if len(tokens) > 1:
        raise CredentialUnchecked("more than one UsernameToken presented; send exactly one")
    return _parse(tokens[0])


def usernames(envelope: etree._Element) -> list[str]:
    """The Username of each UsernameToken in the envelope's ``wsse:Security`` header, as sent."""
    return [_text(token, WSSE, "Username") or "" for token in _tokens(envelope)]


def _tokens(envelope: etree._Element) -> list[etree._Element]:
    tag = etree.QName(envelope)
    if tag.namespace not in SOAP_ENVELOPES or tag.localname != "Envelope":
        return []
    return envelope.findall(f"{{{tag.namespace}}}Header/{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")


def _parse(token: etree._Element) -> UsernameToken:
    username = _text(token, WSSE, "Username")
    password = token.find(f"{{{WSSE}}}Password")
    if not username or password is None:
        raise AuthenticationFailed("the UsernameToken needs a Username and a Password")
    kind = password.get("Type", "#PasswordText")
    if not kind.endswith(("#PasswordText", "#PasswordDigest")):
        raise AuthenticationFailed("the UsernameToken's Password Type must be PasswordText or PasswordDigest")
    digest = kind.endswith("#PasswordDigest")
    text = password.text or ""
    return UsernameToken(username, text.strip() if digest else text, digest,
                         _text(token, WSSE, "Nonce"), _text(token, WSU, "Created"))


def _text(parent: etree._Element, namespace: str, name: str) -> str | None:
    element = parent.find(f"{{{namespace}}}{name}")
    return None if element is None else (element.text or "").strip()


def _check_created(created: str, now: float, max_age: int) -> None:
    """Refuse a ``wsu:Created`` older than ``max_age`` seconds or too far in the future."""
    moment = _unix_time(created)
    if moment is None:
        raise AuthenticationFailed("the UsernameToken's Created must be an xs:dateTime with a "
                                   "time zone, such as 2026-01-31T12:00:00Z")
    age = now - moment
    if age > max_age:
        raise AuthenticationFailed("the UsernameToken has expired: its Created is too old")
    if age < -MAX_CLOCK_SKEW:
        raise AuthenticationFailed("the UsernameToken's Created is in the future")


def _unix_time(created: str) -> float | None:
    """The Unix time of an xs:dateTime with a time zone; ``None`` if it is not one, or names
    no real moment (month 13, hour 99, February 30th)."""
    if not _DATETIME.fullmatch(created):
        return None
    try:
        return datetime.fromisoformat(created).timestamp()
    except (ValueError, OverflowError):
        return None


class Nonces(Protocol):
    """Where the nonces of accepted digest tokens are remembered."""

    #: Seconds a token's ``wsu:Created`` stays acceptable (``wsse_max_age``).
    max_age: int

    def remember(self, username: str, nonce: bytes, now: float) -> bool:
        """Record ``nonce`` for ``username``; ``False`` if it was recorded before: a replay.

        Raises :class:`AuthenticationFailed` when it cannot tell (the store is unreachable).
        """


def nonce_store(settings: Settings) -> Nonces:
    """The store ``settings.nonce_store`` names: a Redis URL, else an SQLite file."""
    if settings.nonce_store.startswith(REDIS_SCHEMES):
        return RedisNonceStore(settings.nonce_store, settings.wsse_max_age)
    return NonceStore(settings.nonce_store, settings.wsse_max_age)


def _key(username: str, nonce: bytes) -> bytes:
    """What a store keeps of a nonce: a hash of client name and nonce, never the nonce."""
    return hashlib.sha256(username.encode() + b"\0" + nonce).digest()


class NonceStore:
    """The nonces of accepted digest tokens, in an SQLite file the host's workers share.

    Each call opens its own connection, so a store survives gunicorn's fork and
    serves threads alike. Rows hold a hash of client name and nonce, never the nonce.
    """

    def __init__(self, path: str, max_age: int) -> None:
        self.path = path
        self.max_age = max_age
        self._pruned_at = 0.0
        create_private_file(path)
        with closing(self._connect()) as db:
            write_ahead(db, NONCE_TIMEOUT)
            db.execute("CREATE TABLE IF NOT EXISTS nonces (key BLOB PRIMARY KEY, created REAL NOT NULL)")
            db.execute("CREATE INDEX IF NOT EXISTS nonces_created ON nonces (created)")

    def remember(self, username: str, nonce: bytes, now: float) -> bool:
        """Record ``nonce`` for ``username``; ``False`` if it was recorded before: a replay."""
        key = _key(username, nonce)
        with closing(self._connect()) as db:
            if now - self._pruned_at >= PRUNE_INTERVAL:
                # A token stays acceptable until Created + max_age, and Created may be ahead.
                db.execute("DELETE FROM nonces WHERE created < ?", (now - self.max_age - MAX_CLOCK_SKEW,))
                self._pruned_at = now
            try:
                db.execute("INSERT INTO nonces (key, created) VALUES (?, ?)", (key, now))
            except sqlite3.IntegrityError:
                return False
        return True

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=NONCE_TIMEOUT, isolation_level=None)
        db.execute("PRAGMA synchronous = NORMAL")
        return db


class RedisNonceStore:
    """The nonces of accepted digest tokens, in a Redis server that several hosts share.

    ``SET key 1 NX EX ttl`` records a nonce and tells whether it was new in one
    atomic step, whichever host asks; Redis forgets it once no token carrying it
    could be accepted any more: ``max_age`` plus the clock skew a Created may
    have. Keys are ``prefix`` and the hex SHA-256 of client name and nonce.

    Nothing connects before the first digest token, so the service starts
    without Redis; each command waits at most ``timeout`` seconds
    (:func:`redislink.connect`). When Redis cannot answer, :meth:`remember`
    raises :class:`AuthenticationFailed`: a digest token is refused, never
    accepted unchecked, and the outage is logged.
    """

    def __init__(self, url: str, max_age: int, *, prefix: str = REDIS_KEY_PREFIX,
                 timeout: float = REDIS_TIMEOUT) -> None:
        self.max_age = max_age
        self.prefix = prefix.encode()
        #: Seconds a nonce is remembered: as long as a token carrying it can be accepted.
        self.ttl = max_age + MAX_CLOCK_SKEW
        #: ``address``: where Redis is, for the operator's log: no user name, no password.
        self._redis, self.address = redislink.connect(url, timeout)
        self._outage = redislink.Outage(
            log, f"nonce store {self.address}", "PasswordDigest UsernameTokens are refused",
            "PasswordDigest UsernameTokens are checked again",
            " until it answers; tokens, HTTP Basic and PasswordText still work")

    def __repr__(self) -> str:
        return f"RedisNonceStore({self.address!r}, max_age={self.max_age})"

    def remember(self, username: str, nonce: bytes, now: float) -> bool:
        """Record ``nonce`` for ``username``; ``False`` if it was recorded before: a replay.

        ``now`` is not needed: Redis expires the key itself.
        """
        key = self.prefix + _key(username, nonce).hex().encode()
        try:
            new = self._redis.set(key, b"1", nx=True, ex=self.ttl)
        except (redis.RedisError, OSError) as error:
            self._outage.failed(error)
            raise CredentialUnchecked(UNAVAILABLE) from None
        self._outage.answered()
        return bool(new)

    def close(self) -> None:
        """Close the pooled connections (a later call opens new ones)."""
        self._redis.connection_pool.disconnect()


def write_ahead(db: sqlite3.Connection, timeout: float) -> None:
    """Put a store's file in WAL mode. Workers that start together find it locked while
    one of them switches it, and SQLite says so at once rather than waiting: ask again
    until ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def create_private_file(path: str) -> None:
    """Create the store's file for its owner only; refuse a symlink or another user's file."""
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as error:
        raise ConfigError(f"cannot open nonce_store {path}: {error.strerror}") from None
    try:
        owner = os.fstat(descriptor).st_uid
    finally:
        os.close(descriptor)
    if owner != os.getuid():
        raise ConfigError(f"nonce_store {path} belongs to another user; name one in a private directory")


def authenticate_username_token(token: UsernameToken, registry: ClientRegistry, nonces: Nonces,
                                now: float) -> ClientCredential:
    """The client ``token`` proves, once its Created is fresh and, for a digest, its nonce new.

    A digest is refused when ``nonces`` cannot tell whether its nonce is new.
    """
    if token.digest and token.created is None:
        raise AuthenticationFailed("a PasswordDigest UsernameToken needs a wsu:Created")
    if token.digest and not token.nonce:
        raise AuthenticationFailed("a PasswordDigest UsernameToken needs a Nonce")
    if token.created is not None:
        _check_created(token.created, now, nonces.max_age)
    if not token.digest:
        return registry.check_password(token.username, token.password)
    client = registry.check_digest(token.username, token.password, token.nonce, token.created)
    if not nonces.remember(client.name, decode_base64(token.nonce), now):
        raise AuthenticationFailed("the UsernameToken was used before: its Nonce is spent")
    return client
