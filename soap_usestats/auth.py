"""Who is calling: a Moodle web service token, HTTP Basic, or a WS-Security UsernameToken.

Every operation call presents exactly one of them; the WSDL needs none. The
result is a :class:`Caller`, which the site turns into the Moodle user whose
capabilities decide what the answer may show.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable
from urllib.parse import parse_qs

from sqlalchemy.engine import Engine

from . import tokens, wsse
from .caller import Caller
from .config import Settings
from .credentials import ClientRegistry, basic_auth
from .database import read_only
from .envelope import ENVIRON_KEY
from .exceptions import AuthenticationFailed
from .queries import Queries

#: What a request that presents no credential is told.
MISSING = "credentials required: a wstoken, HTTP Basic or a WS-Security UsernameToken"


class Authenticator:
    """Checks the one credential a request presents, against the site or the configuration."""

    def __init__(self, engine: Engine, queries: Queries, settings: Settings) -> None:
        self.engine = engine
        self.queries = queries
        self.clients = ClientRegistry.from_settings(settings)
        self.nonces = wsse.NonceStore.from_settings(settings)
        self.trusted_proxies = _networks(settings.trusted_proxies)

    def __call__(self, environ: dict) -> Caller:
        """The caller of a request, from its environ and the SOAP envelope parsed into it."""
        token = _query_token(environ)
        basic = basic_auth(environ)
        envelope = environ.get(ENVIRON_KEY)
        username_token = wsse.username_token(envelope) if envelope is not None else None
        presented = [c for c in (token, basic, username_token) if c is not None]
        if not presented:
            raise AuthenticationFailed(MISSING)
        if len(presented) > 1:
            raise AuthenticationFailed("more than one credential presented; send exactly one")
        if token is not None:
            return self._token(token, client_address(environ, self.trusted_proxies))
        if basic is not None:
            return _client(self.clients.check_password(*basic))
        return _client(wsse.authenticate_username_token(
            username_token, self.clients, self.nonces, time.time()))

    def _token(self, token: str, address: str) -> Caller:
        with read_only(self.engine) as conn:
            userid = tokens.check_token(conn, self.queries, token, address, int(time.time()))
        return Caller(label=f"token user {userid}", userid=userid)


def _client(credential) -> Caller:
    return Caller(label=f"client {credential.name}", username=credential.user,
                  trusted=credential.trusted)


def _query_token(environ: dict) -> str | None:
    values = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).get("wstoken")
    if values is None:
        return None
    if len(values) > 1:
        raise AuthenticationFailed("more than one wstoken presented; send exactly one")
    return values[0]


def _networks(entries: Iterable[str]) -> tuple:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def client_address(environ: dict, trusted_proxies: tuple = ()) -> str:
    """The client's address: the peer, or what trusted proxies say in X-Forwarded-For.

    The forwarded list is read from the right, skipping proxies we trust; the
    first address that is not one of them is the client.
    """
    address = environ.get("REMOTE_ADDR", "")
    hops = [h.strip() for h in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    while hops and _within(address, trusted_proxies):
        address = hops.pop()
    return address


def _within(address: str, networks: tuple) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)
