"""Another site, asked through the soap_usestats service in front of it.

The peer is called over SOAP with zeep, from the WSDL it serves, with this
service's client credentials there (HTTP Basic, over one pooled requests
session) and the ``callinguser`` the call is for; the peer authorises the call
itself. Its answers come back as plain results (``answers``), and its faults as
the contract's errors, without its address or credentials in any message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

import requests
import zeep
import zeep.exceptions
from lxml.etree import LxmlError
from zeep.transports import Transport

from ..auth.caller import CallingUser
from ..config import PeerService
from ..domain import params
from ..exceptions import (
    Forbidden,
    InvalidParameter,
    InvalidXML,
    RemoteFailure,
    UnknownCourse,
    UnknownHost,
    UnknownUser,
    UseStatsError,
)
from . import answers, chain

log = logging.getLogger(__name__)

#: The peer's client faults, given to our client as they are.
_CLIENT_FAULTS = {error.faultcode: error for error in
                  (InvalidParameter, UnknownUser, UnknownCourse, Forbidden, UnknownHost, InvalidXML)}
MAX_MESSAGE = 300


class Peer:
    """A site of ``[sites]`` with a ``peer_url``."""

    def __init__(self, site: PeerService) -> None:
        self.wwwroot = site.wwwroot
        self.timeout = site.timeout
        self._site = site
        self._lock = threading.Lock()
        self._client: zeep.Client | None = None
        self._service: Any = None

    def call(self, operation: str, asked: Mapping[str, Any], person: CallingUser | None,
             via: str) -> Any:
        """The peer's answer to ``operation`` with the contract's parameters ``asked``, for
        ``person``; ``via`` is the chain header (``chain.forwarded``)."""
        try:
            client, service = self._connected()
            with client.settings(extra_http_headers={chain.HEADER: via}):
                answer = getattr(service, operation)(**_arguments(asked, person, self.wwwroot))
        except zeep.exceptions.Fault as fault:
            raise self._error(fault) from None
        except requests.Timeout:
            raise RemoteFailure(f"the site {self.wwwroot} did not answer within "
                                f"{self.timeout:g} s") from None
        except requests.ConnectionError:
            raise RemoteFailure(f"the site {self.wwwroot} cannot be reached") from None
        except (requests.RequestException, zeep.exceptions.Error, LxmlError, ValueError) as error:
            log.warning("the peer of %s gave no usable answer: %s", self.wwwroot, error)
            raise RemoteFailure(f"the site {self.wwwroot} gave no usable answer") from None
        scope = params.stats_scope(asked.get("statsscope"))
        if operation == "GetStats":
            return answers.stats(answer, scope)
        if operation == "GetUsersStats":
            return answers.users_stats(answer, scope)
        return answers.scores(answer)

    def check(self) -> str:
        """What ``soap-usestats check`` reports of the peer: its WSDL loads, it accepts
        these credentials and it answers for this wwwroot (an unknown user is fine)."""
        try:
            self.call("GetStats", {"targetuser": "soap-usestats-check"}, None,
                      chain.forwarded((), "soap-usestats-check"))
        except (UnknownHost, RemoteFailure):
            raise
        except UseStatsError:
            pass
        return (f"{self._site.peer_url} answers for it, and accepts the credentials of "
                f"{self._site.peer_username!r}")

    def _connected(self) -> tuple[zeep.Client, Any]:
        """The zeep client of the peer's WSDL, loaded once, and its service at ``peer_url``."""
        with self._lock:
            if self._client is None:
                session = requests.Session()
                session.auth = (self._site.peer_username, self._site.peer_password)
                transport = Transport(session=session, timeout=self.timeout,
                                      operation_timeout=self.timeout)
                client = zeep.Client(f"{self._site.peer_url}?wsdl", transport=transport)
                binding = next(iter(client.wsdl.bindings))
                self._service = client.create_service(binding, self._site.peer_url)
                self._client = client
            return self._client, self._service

    def _error(self, fault: zeep.exceptions.Fault) -> UseStatsError:
        """The contract's error for a fault of the peer."""
        code = (fault.code or "").rsplit(":", 1)[-1]
        message = " ".join(str(fault.message or "").split())[:MAX_MESSAGE]
        if code in _CLIENT_FAULTS:
            return _CLIENT_FAULTS[code](message)
        if code == "Client.AuthenticationFailed":
            return RemoteFailure(f"the site {self.wwwroot} refused this service's credentials")
        if code == RemoteFailure.faultcode:
            return RemoteFailure(f"the site {self.wwwroot} failed: {message}")
        return RemoteFailure(f"the site {self.wwwroot} failed ({code or 'no fault code'})")


def _arguments(asked: Mapping[str, Any], person: CallingUser | None, wwwroot: str) -> dict:
    """The operation's SOAP arguments: the parameters given, for ``person``, at ``wwwroot``."""
    arguments = {name: value for name, value in asked.items() if value is not None}
    if "targetusers" in arguments:
        arguments["targetusers"] = {"targetuser": list(arguments["targetusers"])}
    if person is not None:
        arguments["callinguser"] = {"username": person.username,
                                    "remoteuserhostroot": person.remoteuserhostroot,
                                    "remotehostroot": person.remotehostroot}
    return {**arguments, "whereroot": wwwroot}
