"""The application factory: a WSGI application serving the SOAP endpoint and its WSDL.

``create_app()`` reads the configuration; tests and tools pass their own
settings or site. Each request is logged in one line: operation, outcome,
HTTP status and duration.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable

from spyne import Application
from spyne.server.wsgi import WsgiApplication

from .config import Settings, load_settings
from .exceptions import InternalError
from .faults import ContractSoap11, fault_envelope, from_error, to_contract
from .messages import TNS
from .service import UseStatsService
from .site import MoodleSite
from .wsdl import build_wsdl

log = logging.getLogger("soap_usestats.requests")

SOAP_PATH = "/soap"
MAX_REQUEST_BYTES = 1024 * 1024
_OPERATION = "soap_usestats.operation"
_OUTCOME = "soap_usestats.outcome"
XML = "text/xml; charset=utf-8"
SOAP_HTTP_TRANSPORT = "http://schemas.xmlsoap.org/soap/http"


class _SoapEndpoint(WsgiApplication):
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


def soap_application() -> Application:
    """The Spyne application: one service, SOAP 1.1 document/literal in and out."""
    app = Application(
        [UseStatsService], tns=TNS, name="UseStats",
        in_protocol=ContractSoap11(validator="soft"), out_protocol=ContractSoap11(),
    )
    app.transport = SOAP_HTTP_TRANSPORT
    return app


class UseStatsApp:
    """The WSGI application: ``POST /soap`` runs an operation, ``GET /soap?wsdl`` the WSDL."""

    def __init__(self, site: MoodleSite, public_url: str) -> None:
        self.site = site
        spyne_app = soap_application()
        spyne_app.event_manager.add_listener("method_call", self._bind_site)
        self.wsdl = build_wsdl(spyne_app, public_url)
        self.soap = _SoapEndpoint(spyne_app, max_content_length=MAX_REQUEST_BYTES)
        self.soap.event_manager.add_listener("wsgi_return", lambda ctx: _note(ctx, "ok"))

    def _bind_site(self, ctx) -> None:
        ctx.udc = self.site

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        status_seen = []

        def recording_start_response(status, headers, *exc_info):
            status_seen.append(status.split(" ", 1)[0])
            return start_response(status, headers, *exc_info)

        try:
            return self._route(environ, recording_start_response)
        finally:
            log.info("%s %s operation=%s outcome=%s status=%s duration_ms=%.1f",
                     environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                     environ.get(_OPERATION, "-"), environ.get(_OUTCOME, "-"),
                     status_seen[-1] if status_seen else "-",
                     (time.perf_counter() - started) * 1000)

    def _route(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = (environ.get("PATH_INFO") or "/").rstrip("/")
        method = environ.get("REQUEST_METHOD", "GET")
        if path != SOAP_PATH:
            return _plain(start_response, "404 Not Found", "not found; the service is at /soap\n")
        if method == "GET" and environ.get("QUERY_STRING", "").lower().split("=")[0] == "wsdl":
            environ[_OPERATION], environ[_OUTCOME] = "wsdl", "ok"
            return _respond(start_response, "200 OK", XML, self.wsdl)
        if method != "POST":
            return _plain(start_response, "405 Method Not Allowed",
                          "POST SOAP requests here; the WSDL is at ?wsdl\n", [("Allow", "GET, POST")])
        try:
            return list(self.soap(environ, start_response))
        except Exception:
            logging.getLogger(__name__).exception("unhandled error in the SOAP endpoint")
            environ[_OUTCOME] = InternalError.faultcode
            fault = from_error(InternalError("internal error; the service log has the details"))
            return _respond(start_response, "500 Internal Server Error", XML, fault_envelope(fault),
                            exc_info=sys.exc_info())


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
    return UseStatsApp(site or MoodleSite.from_settings(settings), settings.public_url)
