"""Credentials configured for the service's clients: HTTP Basic and WS-Security passwords.

A client's password is not chosen but derived from the deployment's secret key
(kept out of the configuration file), the client's name and a random salt::

    password = base64url(HMAC-SHA256(key, "soap-usestats client\\0" + name + "\\0" + salt))

The configuration holds only the salt and a SHA-256 of the password, which
verifies HTTP Basic and PasswordText. A WS-Security PasswordDigest needs the
password itself; the service derives it again from the key. Every check costs
the same for unknown names, which are compared against a dummy client.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping

from ..config import ClientCredential, Settings
from ..exceptions import AuthenticationFailed, ConfigError

#: What every failed check says, whether the name or the password was wrong.
WRONG_CREDENTIALS = "wrong credentials"
_CONTEXT = b"soap-usestats client\0"
_HASH_PREFIX = "sha256:"


def new_secret_key() -> str:
    """A new deployment secret key: 32 random bytes, base64url."""
    return secrets.token_urlsafe(32)


def derive_password(key: str, name: str, salt: str) -> str:
    """The password of client ``name``: 256 bits, base64url without padding."""
    message = _CONTEXT + name.encode() + b"\0" + salt.encode()
    mac = hmac.new(key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def hash_password(password: str) -> str:
    """The verifier the configuration stores for ``password``.

    A fast hash is enough: derived passwords carry 256 bits of entropy, so
    neither a dictionary nor brute force can reverse it; a slow password hash
    would only slow every request down.
    """
    return _HASH_PREFIX + hashlib.sha256(password.encode()).hexdigest()


def new_client(key: str, name: str, trusted: bool = False, user: str | None = None
               ) -> tuple[ClientCredential, str]:
    """A new client with a fresh salt, and its password (which nothing stores)."""
    salt = secrets.token_urlsafe(16)
    password = derive_password(key, name, salt)
    return ClientCredential(name, salt, hash_password(password), trusted, user), password


def password_digest(nonce: bytes, created: str, password: str) -> bytes:
    """WS-Security's PasswordDigest, undecoded: SHA-1(nonce + created + password)."""
    return hashlib.sha1(nonce + created.encode() + password.encode()).digest()


def decode_base64(text: str) -> bytes | None:
    """``text`` decoded from base64 (whitespace ignored), or ``None`` if it is not base64."""
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


class ClientRegistry:
    """The configured clients, checked in constant time."""

    def __init__(self, clients: Mapping[str, ClientCredential], secret_key: str) -> None:
        self._clients = dict(clients)
        self._key = secret_key
        self._dummy = new_client(secret_key, "")[0]
        for client in self._clients.values():
            if hash_password(derive_password(secret_key, client.name, client.salt)) != client.password_hash:
                raise ConfigError(f"clients.{client.name}: its password_hash does not match the "
                                  "secret key (was the key changed, or the entry edited?)")

    def __contains__(self, name: object) -> bool:
        return name in self._clients

    @classmethod
    def from_settings(cls, settings: Settings) -> ClientRegistry:
        # Without clients there is no key; a random one serves the dummy.
        return cls(settings.clients, settings.secret_key or new_secret_key())

    def check_password(self, name: str, password: str) -> ClientCredential:
        """The client ``name`` if ``password`` is its password (HTTP Basic, PasswordText)."""
        client = self._clients.get(name)
        candidate = client or self._dummy
        offered = hash_password(password).encode()
        if hmac.compare_digest(offered, candidate.password_hash.encode()) and client is not None:
            return client
        raise AuthenticationFailed(WRONG_CREDENTIALS)

    def check_digest(self, name: str, digest_b64: str, nonce_b64: str, created: str) -> ClientCredential:
        """The client ``name`` if ``digest_b64`` is its PasswordDigest over the nonce and created time."""
        client = self._clients.get(name)
        candidate = client or self._dummy
        nonce = decode_base64(nonce_b64)
        if not nonce:
            raise AuthenticationFailed("the UsernameToken's Nonce must be non-empty base64")
        expected = password_digest(nonce, created, derive_password(self._key, name, candidate.salt))
        offered = decode_base64(digest_b64) or b""
        if hmac.compare_digest(offered, expected) and client is not None:
            return client
        raise AuthenticationFailed(WRONG_CREDENTIALS)


def basic_auth(environ: Mapping) -> tuple[str, str] | None:
    """The client name and password of an ``Authorization: Basic`` header, or ``None``.

    A Basic header that cannot be decoded is answered as wrong credentials.
    """
    scheme, _, value = environ.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    decoded = decode_base64(value) or b""
    try:
        name, colon, password = decoded.decode("utf-8").partition(":")
    except UnicodeDecodeError:
        raise AuthenticationFailed(WRONG_CREDENTIALS) from None
    if not colon:
        raise AuthenticationFailed(WRONG_CREDENTIALS)
    return name, password
