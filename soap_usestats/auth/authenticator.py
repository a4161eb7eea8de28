"""Who is calling: a Moodle web service token, HTTP Basic, or a WS-Security UsernameToken.

Every operation call presents exactly one of them; the WSDL needs none. Client
credentials are checked here, against the configuration; a token by the home
site (``check_token``), with the address it came from. All are checked before
the request's parameters are decoded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from urllib.parse import parse_qs

from lxml import etree

from ..config import ClientCredential, Settings
from ..exceptions import AuthenticationFailed, CredentialUnchecked
from . import username
from .addresses import client_address
from .caller import Caller
from .clients import ClientRegistry, basic_auth
from .tokens import fingerprint

#: What a request that presents no credential is told.
MISSING = "credentials required: a wstoken, HTTP Basic or a WS-Security UsernameToken"
#: How many of the credentials a request presents the operator's log names.
NAMED_CREDENTIALS = 3
#: How much of a client name as sent the operator's log keeps.
NAME_LOGGED = 64


#: The Moodle user a web service token acts for, from an address at a Unix time; raises
#: AuthenticationFailed when the site refuses the token.
TokenCheck = Callable[[str, str, int], int]


class Authenticator:
    """Finds the one credential a request presents, and checks it."""

    def __init__(self, settings: Settings, check_token: TokenCheck) -> None:
        self.check_token = check_token
        self.clients = ClientRegistry.from_settings(settings)
        self.nonces = username.nonce_store(settings)
        self.trusted_proxies = settings.trusted_proxies

    def __call__(self, environ: dict, envelope: etree._Element | None = None) -> Caller:
        """The caller of a request: from its headers, its query string and its SOAP envelope."""
        token = _query_token(environ)
        basic = basic_auth(environ)
        username_token = username.username_token(envelope) if envelope is not None else None
        presented = [c for c in (token, basic, username_token) if c is not None]
        if not presented:
            raise CredentialUnchecked(MISSING)
        if len(presented) > 1:
            raise CredentialUnchecked("more than one credential presented; send exactly one")
        if token is not None:
            address = client_address(environ, self.trusted_proxies)
            return Caller(label=f"token {fingerprint(token)}", token=token, address=address,
                          userid=self.check_token(token, address, int(time.time())))
        if basic is not None:
            return _client(self.clients.check_password(*basic))
        return _client(username.authenticate_username_token(
            username_token, self.clients, self.nonces, time.time()))

    def presented(self, environ: dict, envelope: etree._Element | None = None) -> str:
        """The credentials a request presents, for the operator's log: a token by its
        fingerprint, a client by the name sent (quoted and bounded), never a secret."""
        tokens = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).get("wstoken", [])
        names = [f"token {fingerprint(token)}" for token in tokens]
        try:
            basic = basic_auth(environ)
        except AuthenticationFailed:
            names.append("basic (not decodable)")
        else:
            if basic is not None:
                names.append(f"basic {self._name(basic[0])}")
        if envelope is not None:
            names += [f"usernametoken {self._name(name)}" for name in username.usernames(envelope)]
        if len(names) > NAMED_CREDENTIALS:
            names[NAMED_CREDENTIALS:] = [f"{len(names) - NAMED_CREDENTIALS} more"]
        return ", ".join(names) or "none"

    def _name(self, name: str) -> str:
        quoted = json.dumps(name[:NAME_LOGGED]) + ("..." if len(name) > NAME_LOGGED else "")
        return quoted if name in self.clients else f"{quoted} (unknown)"


def _client(credential: ClientCredential) -> Caller:
    return Caller(label=f"client {credential.name}", username=credential.user,
                  trusted=credential.trusted)


def _query_token(environ: dict) -> str | None:
    values = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).get("wstoken")
    if values is None:
        return None
    if len(values) > 1:
        raise CredentialUnchecked("more than one wstoken presented; send exactly one")
    return values[0]
