"""The application factory: one WSGI application serving every endpoint of the service.

=========================  ==========================================================
``/soap``, ``/soap?wsdl``      SOAP 1.1 and its WSDL (the contract's endpoint)
``/soap12``, ``/soap12?wsdl``  the same operations in SOAP 1.2, with their own WSDL
``/json/<Operation>?...``      the same operations, parameters in the query, JSON out
``/healthz``, ``/metrics``     for operators: no credentials, nothing about users
=========================  ==========================================================

Every protocol runs the same service class. ``create_app()`` reads the
configuration; tests and tools pass their own settings or site. Each request is
logged in one line: operation, caller, outcome, HTTP status and duration.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from io import BytesIO

from spyne import Application
from spyne.protocol import ProtocolBase
from spyne.protocol.http import HttpRpc
from spyne.server.wsgi import WsgiApplication

from . import health
from .auth import Authenticator
from .config import Settings, load_settings
from .envelope import ENVIRON_KEY, SOAP11_ENV, SOAP12_ENV, parse_envelope, read_body
from .exceptions import DatabaseUnavailable, InternalError, UseStatsError
from .faults import (
    ContractJson,
    ContractSoap11,
    ContractSoap12,
    fault_envelope,
    fault_json,
    from_error,
    http_status,
    soap11_status,
    soap12_status,
    to_contract,
)
from .messages import TNS, UseStatsFault
from .metrics import Metrics
from .service import IDENTITY_KEY, Call, UseStatsService
from .site import MoodleSite
from .wsdl import build_wsdl

log = logging.getLogger("soap_usestats.requests")

SOAP_PATH = "/soap"
SOAP12_PATH = "/soap12"
JSON_PATH = "/json"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
_OPERATION = "soap_usestats.operation"
_OUTCOME = "soap_usestats.outcome"
XML = "text/xml; charset=utf-8"
SOAP12_XML = "application/soap+xml; charset=utf-8"
JSON = "application/json; charset=utf-8"
#: The transport of both SOAP bindings, as WSDL 1.1 names SOAP over HTTP.
SOAP_HTTP_TRANSPORT = "http://schemas.xmlsoap.org/soap/http"


class _SpyneEndpoint(WsgiApplication):
    """Spyne's WSGI server, with every error turned into the contract's fault."""

    def handle_error(self, p_ctx, others, error, start_response):
        fault = to_contract(error)
        if fault.faultcode.startswith("Server"):
            logging.getLogger(__name__).warning("%s: %s", fault.faultcode, _root_cause(error))
        p_ctx.out_error = fault
        p_ctx.transport.resp_code = None
        _note(p_ctx, fault.faultcode)
        return super().handle_error(p_ctx, others, fault, start_response)


def _root_cause(error: BaseException) -> BaseException:
    while error.__cause__ is not None:
        error = error.__cause__
    return error


def _note(ctx, outcome: str) -> None:
    environ = ctx.transport.req_env
    environ[_OPERATION] = ctx.descriptor.name if ctx.descriptor else "-"
    environ[_OUTCOME] = outcome


def soap_application(in_protocol: ProtocolBase | None = None,
                     out_protocol: ProtocolBase | None = None) -> Application:
    """A Spyne application of the service; SOAP 1.1 document/literal unless told otherwise."""
    app = Application(
        [UseStatsService], tns=TNS, name="UseStats",
        in_protocol=in_protocol or ContractSoap11(validator="soft"),
        out_protocol=out_protocol or ContractSoap11(),
    )
    app.transport = SOAP_HTTP_TRANSPORT
    return app


@dataclass
class _Protocol:
    """One way in: its Spyne server, its WSDL, and how it writes a fault met outside Spyne."""

    server: _SpyneEndpoint
    wsdl: bytes | None
    envelope: str | None           # the SOAP envelope namespace a POST must use
    content_type: str
    fault_body: Callable[[UseStatsFault], bytes]
    fault_status: Callable[[UseStatsFault], str]


class UseStatsApp:
    """The WSGI application: operations over SOAP 1.1, SOAP 1.2 and JSON, their WSDLs,
    and the operators' ``/healthz`` and ``/metrics``."""

    def __init__(self, site: MoodleSite, settings: Settings) -> None:
        self.site = site
        self.max_request_bytes = settings.max_request_bytes
        self.authenticator = Authenticator(site.engine, site.queries, settings)
        public_url = settings.public_url.rstrip("/")
        self.protocols = {
            SOAP_PATH: self._protocol(
                soap_application(), public_url, SOAP11_ENV, XML, fault_envelope, soap11_status),
            SOAP12_PATH: self._protocol(
                soap_application(ContractSoap12(validator="soft"), ContractSoap12()),
                public_url + "12", SOAP12_ENV, SOAP12_XML,
                lambda fault: fault_envelope(fault, soap12=True), soap12_status),
            JSON_PATH: self._protocol(
                soap_application(HttpRpc(validator="soft"), ContractJson()), None, None, JSON,
                fault_json, http_status),
        }
        self.health = health.DatabaseHealth(site.engine)
        self.metrics = Metrics()

    def _protocol(self, app: Application, address: str | None, envelope: str | None,
                  content_type: str, fault_body, fault_status) -> _Protocol:
        app.event_manager.add_listener("method_call", self._bind_call)
        server = _SpyneEndpoint(app, max_content_length=self.max_request_bytes)
        server.event_manager.add_listener("wsgi_return", lambda ctx: _note(ctx, "ok"))
        wsdl = build_wsdl(app, address) if address else None
        return _Protocol(server, wsdl, envelope, content_type, fault_body, fault_status)

    @property
    def wsdl(self) -> bytes:
        """The contract's WSDL (SOAP 1.1)."""
        return self.protocols[SOAP_PATH].wsdl

    def _bind_call(self, ctx) -> None:
        ctx.udc = Call(self.site, self.authenticator)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        status_seen = []

        def recording_start_response(status, headers, *exc_info):
            status_seen.append(status.split(" ", 1)[0])
            return start_response(status, headers, *exc_info)

        try:
            return self._route(environ, recording_start_response)
        finally:
            seconds = time.perf_counter() - started
            log.info("%s %s operation=%s caller=%s outcome=%s status=%s duration_ms=%.1f",
                     environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                     environ.get(_OPERATION, "-"), environ.get(IDENTITY_KEY, "-"),
                     environ.get(_OUTCOME, "-"), status_seen[-1] if status_seen else "-",
                     seconds * 1000)
            self._count(environ, seconds)

    def _count(self, environ: dict, seconds: float) -> None:
        outcome = environ.get(_OUTCOME, "-")
        self.metrics.request(environ.get(_OPERATION, "-"), outcome, seconds)
        if outcome == DatabaseUnavailable.faultcode:
            self.metrics.database_error()

    def _route(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = (environ.get("PATH_INFO") or "/").rstrip("/")
        method = environ.get("REQUEST_METHOD", "GET")
        if path in (HEALTH_PATH, METRICS_PATH):
            return self._operations(path, method, environ, start_response)
        if path.startswith(JSON_PATH + "/"):
            return self._json(method, environ, start_response)
        protocol = self.protocols.get(path)
        if protocol is None:
            return _plain(start_response, "404 Not Found",
                          "not found; the service is at /soap (SOAP 1.1), /soap12 and /json\n")
        if method == "GET" and environ.get("QUERY_STRING", "").lower().split("=")[0] == "wsdl":
            environ[_OPERATION], environ[_OUTCOME] = "wsdl", "ok"
            return _respond(start_response, "200 OK", XML, protocol.wsdl)
        if method != "POST":
            return _plain(start_response, "405 Method Not Allowed",
                          "POST SOAP requests here; the WSDL is at ?wsdl\n", [("Allow", "GET, POST")])
        try:
            self._take_envelope(environ, protocol)
        except UseStatsError as error:
            return self._fault(protocol, environ, start_response, error)
        return self._run(protocol, environ, start_response)

    def _json(self, method: str, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if method != "GET":
            return _plain(start_response, "405 Method Not Allowed",
                          "GET /json/GetStats?targetuser=...\n", [("Allow", "GET")])
        environ["PATH_INFO"] = environ["PATH_INFO"][len(JSON_PATH):]
        return self._run(self.protocols[JSON_PATH], environ, start_response)

    def _take_envelope(self, environ: dict, protocol: _Protocol) -> None:
        """Read and check the body before Spyne does; keep the parsed envelope in ``environ``.

        Spyne then reads the checked bytes, as UTF-8 (the only charset let through).
        """
        body = read_body(environ, self.max_request_bytes)
        environ[ENVIRON_KEY] = parse_envelope(body, environ.get("CONTENT_TYPE"), protocol.envelope)
        environ.update({"wsgi.input": BytesIO(body), "CONTENT_LENGTH": str(len(body)),
                        "CONTENT_TYPE": protocol.content_type})

    def _run(self, protocol: _Protocol, environ: dict, start_response: Callable) -> Iterable[bytes]:
        try:
            return list(protocol.server(environ, start_response))
        except Exception:
            logging.getLogger(__name__).exception("unhandled error in the %s endpoint",
                                                  environ.get("PATH_INFO"))
            error = InternalError("internal error; the service log has the details")
            return self._fault(protocol, environ, start_response, error, sys.exc_info())

    def _fault(self, protocol: _Protocol, environ: dict, start_response: Callable,
               error: UseStatsError, exc_info=None) -> list[bytes]:
        """A fault met outside Spyne, written as the protocol writes its own."""
        environ[_OUTCOME] = error.faultcode
        fault = from_error(error)
        return _respond(start_response, protocol.fault_status(fault), protocol.content_type,
                        protocol.fault_body(fault), exc_info=exc_info)

    def _operations(self, path: str, method: str, environ: dict,
                    start_response: Callable) -> Iterable[bytes]:
        """``GET /healthz`` and ``GET /metrics``: open to all, about the service, never its users."""
        if method != "GET":
            return _plain(start_response, "405 Method Not Allowed", "GET only\n", [("Allow", "GET")])
        environ[_OPERATION] = path.lstrip("/")
        no_store = [("Cache-Control", "no-store")]
        if path == METRICS_PATH:
            environ[_OUTCOME] = "ok"
            return _respond(start_response, "200 OK", Metrics.CONTENT_TYPE,
                            self.metrics.exposition(), no_store)
        reachable = self.health.reachable()
        environ[_OUTCOME] = "ok" if reachable else DatabaseUnavailable.faultcode
        status, body = health.report(reachable)
        return _respond(start_response, status, health.CONTENT_TYPE, body, no_store)


def _respond(start_response: Callable, status: str, content_type: str, body: bytes,
             headers: list | None = None, exc_info=None) -> list[bytes]:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), *(headers or [])]
    if exc_info:
        start_response(status, headers, exc_info)
    else:
        start_response(status, headers)
    return [body]


def _plain(start_response: Callable, status: str, text: str, headers: list | None = None) -> list[bytes]:
    return _respond(start_response, status, "text/plain; charset=utf-8", text.encode(), headers)


def create_app(settings: Settings | None = None, site: MoodleSite | None = None) -> UseStatsApp:
    """The WSGI application for ``settings`` (default: the environment's configuration)."""
    settings = settings or load_settings()
    return UseStatsApp(site or MoodleSite.from_settings(settings), settings)
