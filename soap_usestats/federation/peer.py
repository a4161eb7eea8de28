"""Another site, asked through the soap_usestats service in front of it.

The peer is called over SOAP with zeep, from the WSDL it serves, with this
service's client credentials there (HTTP Basic) and the ``callinguser`` the call
is for; the peer authorises the call itself. The peer is a party to be checked:
``transport`` loads nothing but its own WSDL, holds each call to one deadline and
bounds each answer, and ``answers`` checks its figures against the contract as it
turns them back into plain results. Its faults come back as the contract's errors;
whatever else goes wrong is ``Server.RemoteFailure`` naming the site, never its
address or the credentials (the operator's log has the detail).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, fields
from typing import Any

import zeep
import zeep.exceptions
from lxml.etree import LxmlError
from zeep.wsdl.bindings.soap import Soap11Binding

from ..auth.caller import CallingUser
from ..config import PeerService
from ..domain import params
from ..domain.requests import Request, StatsRequest, UsersStatsRequest
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
from .answers import BrokenAnswer
from .transport import ELSEWHERE, PeerFailure, PeerTransport

log = logging.getLogger(__name__)

#: The peer's client faults, given to our client as they are.
_CLIENT_FAULTS = {error.faultcode: error for error in
                  (InvalidParameter, UnknownUser, UnknownCourse, Forbidden, UnknownHost, InvalidXML)}
MAX_MESSAGE = 300
#: What zeep's refusals of the peer's XML mean, in words that complete "the site X ...".
_REFUSALS = {
    zeep.exceptions.ExternalReferenceForbidden: ELSEWHERE,
    zeep.exceptions.DTDForbidden: "sent a DTD, which this service does not read",
    zeep.exceptions.EntitiesForbidden: "sent XML entities, which this service does not read",
    zeep.exceptions.XMLParseError: "answered against the contract: its XML does not fit the WSDL",
}


class Peer:
    """A site of ``[sites]`` with a ``peer_url``."""

    def __init__(self, site: PeerService) -> None:
        self.wwwroot = site.wwwroot
        self.timeout = site.timeout
        self._site = site
        self._transport = PeerTransport(site)
        self._lock = threading.Lock()
        self._client: zeep.Client | None = None
        self._service: Any = None

    def call(self, request: Request, via: str, now: int | None = None) -> Any:
        """The peer's answer to ``request``, made for its ``callinguser`` at its
        ``whereroot``; ``via`` is the chain header (``chain.forwarded``). The peer answers
        at its own time (``now`` is the asking service's, which it does not send)."""
        try:
            with self._transport.deadline():
                client, service = self._connected()
                with client.settings(extra_http_headers={chain.HEADER: via}):
                    answer = getattr(service, request.operation)(**soap_arguments(request))
        except zeep.exceptions.Fault as fault:
            raise self._error(fault) from None
        except PeerFailure as failure:
            raise self._failure(str(failure), failure.__cause__) from None
        except tuple(_REFUSALS) as refusal:
            raise self._failure(_REFUSALS[type(refusal)], refusal) from None
        except (zeep.exceptions.Error, LxmlError, ValueError, TypeError, AttributeError) as error:
            # zeep's other errors; TypeError and AttributeError: a WSDL whose operations
            # are not the contract's
            raise self._failure("gave no usable answer", error) from None
        try:
            if isinstance(request, StatsRequest):
                return answers.stats(answer, params.stats_scope(request.statsscope),
                                     request.sessions)
            if isinstance(request, UsersStatsRequest):
                return answers.users_stats(answer, params.stats_scope(request.statsscope),
                                           request.sessions)
            return answers.scores(answer)
        except BrokenAnswer as broken:
            raise self._failure(f"answered against the contract: {broken}") from None

    def check(self) -> str:
        """What ``soap-usestats check`` reports of the peer: its WSDL loads, it accepts
        these credentials and it answers for this wwwroot (an unknown user is fine)."""
        try:
            self.call(StatsRequest(targetuser="soap-usestats-check", whereroot=self.wwwroot),
                      chain.forwarded((), "soap-usestats-check"))
        except (UnknownHost, RemoteFailure):
            raise
        except UseStatsError:
            pass
        return (f"{self._site.peer_url} answers for it, and accepts the credentials of "
                f"{self._site.peer_username!r}")

    def _connected(self) -> tuple[zeep.Client, Any]:
        """The zeep client of the peer's WSDL, loaded once, and its SOAP 1.1 service at
        ``peer_url``."""
        with self._lock:
            if self._client is None:
                settings = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True,
                                         forbid_external=True, xml_huge_tree=False)
                client = zeep.Client(self._transport.wsdl_url, transport=self._transport,
                                     settings=settings)
                soap = [name for name, binding in client.wsdl.bindings.items()
                        if isinstance(binding, Soap11Binding)]
                if not soap:
                    raise PeerFailure("has no SOAP 1.1 binding in its WSDL")
                self._service = client.create_service(soap[0], self._site.peer_url)
                self._client = client
            return self._client, self._service

    def _failure(self, what: str, error: Exception | None = None) -> RemoteFailure:
        """``Server.RemoteFailure`` naming the site; the operator's log has the detail."""
        log.warning("the peer of %s %s%s", self.wwwroot, what,
                    f" ({type(error).__name__}: {error})" if error else "")
        return RemoteFailure(f"the site {self.wwwroot} {what}")

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


def soap_arguments(request: Request) -> dict:
    """The operation's SOAP arguments: the request's parameters, those left at their default
    left out (a peer of an earlier version is then asked nothing it does not know)."""
    arguments = {}
    for parameter in fields(request):
        value = getattr(request, parameter.name)
        if value == parameter.default:
            continue
        if isinstance(value, CallingUser):
            value = asdict(value)
        elif parameter.name == "targetusers":
            value = {"targetuser": list(value)}
        arguments[parameter.name] = value
    return arguments
