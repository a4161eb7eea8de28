"""WS-Security UsernameToken (OASIS UsernameToken Profile 1.0): find it, check it, refuse replays.

A PasswordDigest token must carry a Nonce and a ``wsu:Created`` no older than
``wsse_max_age`` seconds and at most a minute ahead. Its nonce is remembered for
as long as the token could still be accepted, in an SQLite file all workers of
a host share, so a captured token cannot be replayed. A PasswordText token may
omit both; when it has a Created, that must be fresh too.

The nonce store defaults to a file in the system's temporary directory; a
production host should name one in a directory only the service can write.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from .config import ClientCredential, ConfigError, Settings
from .credentials import ClientRegistry, decode_base64
from .exceptions import AuthenticationFailed

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
SOAP_ENVELOPES = ("http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope")
MAX_CLOCK_SKEW = 60  # seconds a Created may lie ahead of the service's clock
PRUNE_INTERVAL = 60  # seconds between deletions of expired nonces, per worker
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
    tag = etree.QName(envelope)
    if tag.namespace not in SOAP_ENVELOPES or tag.localname != "Envelope":
        return None
    tokens = envelope.findall(f"{{{tag.namespace}}}Header/{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
    if not tokens:
        return None
    if len(tokens) > 1:
        raise AuthenticationFailed("more than one UsernameToken presented; send exactly one")
    return _parse(tokens[0])


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
    if not _DATETIME.fullmatch(created):
        raise AuthenticationFailed("the UsernameToken's Created must be an xs:dateTime with a time zone")
    age = now - datetime.fromisoformat(created).timestamp()
    if age > max_age:
        raise AuthenticationFailed("the UsernameToken has expired: its Created is too old")
    if age < -MAX_CLOCK_SKEW:
        raise AuthenticationFailed("the UsernameToken's Created is in the future")


class NonceStore:
    """The nonces of accepted digest tokens, in an SQLite file the host's workers share.

    Each call opens its own connection, so a store survives gunicorn's fork and
    serves threads alike. Rows hold a hash of client name and nonce, never the nonce.
    """

    def __init__(self, path: str, max_age: int) -> None:
        self.path = path
        self.max_age = max_age
        self._pruned_at = 0.0
        _create_private(path)
        with closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("CREATE TABLE IF NOT EXISTS nonces (key BLOB PRIMARY KEY, created REAL NOT NULL)")
            db.execute("CREATE INDEX IF NOT EXISTS nonces_created ON nonces (created)")

    @classmethod
    def from_settings(cls, settings: Settings) -> NonceStore:
        return cls(settings.nonce_store, settings.wsse_max_age)

    def remember(self, username: str, nonce: bytes, now: float) -> bool:
        """Record ``nonce`` for ``username``; ``False`` if it was recorded before: a replay."""
        key = hashlib.sha256(username.encode() + b"\0" + nonce).digest()
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
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.execute("PRAGMA synchronous = NORMAL")
        return db


def _create_private(path: str) -> None:
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


def authenticate_username_token(token: UsernameToken, registry: ClientRegistry, nonces: NonceStore,
                                now: float) -> ClientCredential:
    """The client ``token`` proves, once its Created is fresh and, for a digest, its nonce new."""
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
