"""Who is calling: a Moodle web service token, HTTP Basic, or a WS-Security UsernameToken.

Every operation call presents exactly one of them; the WSDL needs none. Client
credentials are checked here, against the configuration; a token is taken with
the address it came from, for the site to check in the call's own transaction.
"""

from __future__ import annotations

import json
import time
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


class Authenticator:
    """Finds the one credential a request presents, and checks a client's."""

    def __init__(self, settings: Settings) -> None:
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
            return Caller(label=f"token {fingerprint(token)}", token=token,
                          address=client_address(environ, self.trusted_proxies))
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
