"""The application factory: one WSGI application serving every endpoint of the service.

=============================  ==========================================================
``/soap``, ``/soap?wsdl``      SOAP 1.1 and its WSDL (the contract's endpoint)
``/soap12``, ``/soap12?wsdl``  the same operations in SOAP 1.2, with their own WSDL
``GET /soap``, ``/soap12``     a page for people (``Accept: text/html``), else a pointer
``/json/<Operation>?...``      the same operations, parameters in the query, JSON out
``/healthz``, ``/metrics``     for operators: no credentials, nothing about users
=============================  ==========================================================

Each worker also keeps the ledger current, unless ``ledger_interval`` is 0
(``ledger.service``): its compiler starts with the application, in the worker.

A call goes one way: read and check the body, parse it once; let Spyne match
the operation; authenticate the caller (a token against the home site); only
then let Spyne decode the parameters; run the operation on the site; encode the
answer. An error anywhere on the way becomes the contract's fault in
``soap.faults``, written as the protocol writes one.
Each request is logged in one line: operation, caller, client address, outcome,
HTTP status and duration.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from ..auth import throttle
from ..auth.addresses import client_address
from ..auth.authenticator import Authenticator
from ..config import Settings, load_settings
from ..federation import chain
from ..domain.site import MoodleSite
from ..federation.network import Direct, Network
from ..ledger import migrate
from ..domain.compiling import BackgroundCompiler
from ..ledger.status import LedgerWatch
from ..exceptions import AuthenticationFailed, DatabaseUnavailable, InvalidXML
from ..namespaces import SOAP11_ENV, SOAP12_ENV
from ..soap import faults
from ..soap.endpoint import Endpoint
from ..soap.messages import UseStatsFault
from ..soap.protocols import ContractHttp, ContractJson, ContractSoap12
from ..soap.service import Call, soap_application
from ..soap.wsdl import build_wsdl
from . import health, serving
from .body import parse_envelope, read_body
from .help import Endpoint as PageEndpoint
from .help import help_page, operations
from .metrics import Metrics
from .requestlog import RequestRecord

SOAP_PATH = "/soap"
SOAP12_PATH = "/soap12"
JSON_PATH = "/json"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
XML = "text/xml; charset=utf-8"
SOAP12_XML = "application/soap+xml; charset=utf-8"
JSON = "application/json"
HTML = "text/html; charset=utf-8"
#: The methods ``/soap`` and ``/soap12`` answer (HEAD as GET: gunicorn drops the body).
SOAP_METHODS = "GET, HEAD, POST"
#: The challenge of a 401 (JSON): HTTP Basic for a configured client; a Moodle web service
#: token goes in the query instead (``?wstoken=``), as the fault's message says.
BASIC_CHALLENGE = 'Basic realm="soap_usestats", charset="UTF-8"'


@dataclass(frozen=True)
class Response:
    status: str
    content_type: str
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


def _plain(status: str, text: str, headers: list | None = None) -> Response:
    return Response(status, "text/plain; charset=utf-8", text.encode(), headers or [])


@dataclass(frozen=True)
class _Protocol:
    """One way in: its endpoint, its WSDL, its envelope, and how it writes a fault."""

    endpoint: Endpoint
    wsdl: bytes | None
    envelope: str | None           # the SOAP envelope namespace a POST must use
    content_type: str
    fault_body: Callable[[UseStatsFault], bytes]
    fault_status: Callable[[UseStatsFault], str]
    url: str | None = None          # the public address, for the page and the pointer
    page: bytes | None = None       # the page for people (web.help)


class UseStatsApp:
    """The WSGI application: operations over SOAP 1.1, SOAP 1.2 and JSON, their WSDLs,
    and the operators' ``/healthz`` and ``/metrics``."""

    def __init__(self, network: Network, settings: Settings) -> None:
        self.network = network
        self.max_request_bytes = settings.max_request_bytes
        self.authenticator = Authenticator(settings, network.home.token_owner)
        self.throttle = throttle.Throttle.from_settings(settings)
        self.trusted_proxies = settings.trusted_proxies
        public_url = settings.public_url.rstrip("/")
        soap11 = soap_application()
        soap12 = soap_application(ContractSoap12(validator="soft"), ContractSoap12())
        ways = {SOAP_PATH: PageEndpoint("SOAP 1.1", public_url),
                SOAP12_PATH: PageEndpoint("SOAP 1.2", public_url + "12")}

        json_url = public_url.removesuffix(SOAP_PATH) + JSON_PATH

        def page(app, path: str) -> bytes:
            return help_page(app, ways[path], [w for p, w in ways.items() if p != path], json_url)

        self.protocols = {
            SOAP_PATH: _Protocol(Endpoint(soap11), build_wsdl(soap11, public_url), SOAP11_ENV,
                                 XML, faults.soap11, faults.soap11_status, public_url,
                                 page(soap11, SOAP_PATH)),
            SOAP12_PATH: _Protocol(Endpoint(soap12), build_wsdl(soap12, public_url + "12"),
                                   SOAP12_ENV, SOAP12_XML, faults.soap12, faults.soap12_status,
                                   public_url + "12", page(soap12, SOAP12_PATH)),
            JSON_PATH: _Protocol(Endpoint(soap_application(ContractHttp(validator="soft"),
                                                           ContractJson())),
                                 None, None, JSON, faults.json_body, faults.http_status),
        }
        self.health = health.DatabaseHealth(network.home.engine, network.home.queries.t.prefix)
        self.ledger = LedgerWatch(settings.ledger_url, lambda: [network.home] + [
            site.site for site in network.sites.values() if isinstance(site, Direct)])
        self.metrics = Metrics(self.ledger.state)
        #: The worker's compiler (``create_app`` starts it), if the service compiles.
        self.compiler: BackgroundCompiler | None = None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        record = RequestRecord(environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", ""),
                               client_address(environ, self.trusted_proxies))
        response = self._route(environ, record)
        record.status = response.status.split(" ", 1)[0]
        seconds = time.perf_counter() - started
        record.write(seconds)
        self.metrics.request(record.operation, record.outcome, seconds)
        if record.outcome == DatabaseUnavailable.faultcode:
            self.metrics.database_error()
        start_response(response.status, [("Content-Type", response.content_type),
                                         ("Content-Length", str(len(response.body))),
                                         *response.headers])
        return [response.body]

    def _route(self, environ: dict, record: RequestRecord) -> Response:
        path = (environ.get("PATH_INFO") or "/").rstrip("/")
        method = record.method
        if path in (HEALTH_PATH, METRICS_PATH):
            return self._operators(path, method, record)
        if path == JSON_PATH or path.startswith(JSON_PATH + "/"):
            if method != "GET":
                return _plain("405 Method Not Allowed", "GET /json/GetStats?targetuser=...\n",
                              [("Allow", "GET")])
            if path == JSON_PATH:
                return self._json_pointer(record)
            spyne_environ = dict(environ, PATH_INFO=environ["PATH_INFO"][len(JSON_PATH):])
            return self._operation(self.protocols[JSON_PATH], environ, spyne_environ, record)
        protocol = self.protocols.get(path)
        if protocol is None:
            return _plain("404 Not Found",
                          "not found; the service is at /soap (SOAP 1.1), /soap12 and /json\n")
        if method in ("GET", "HEAD"):
            if environ.get("QUERY_STRING", "").lower().split("=")[0] == "wsdl":
                record.operation, record.outcome = "wsdl", "ok"
                return Response("200 OK", XML, protocol.wsdl)
            return self._about(protocol, environ, record)
        if method != "POST":
            return _plain("405 Method Not Allowed",
                          f"POST SOAP requests here; the WSDL is at {protocol.url}?wsdl\n",
                          [("Allow", SOAP_METHODS)])
        return self._operation(protocol, environ, environ, record)

    @staticmethod
    def _about(protocol: _Protocol, environ: dict, record: RequestRecord) -> Response:
        """``GET /soap``: the page for people to a browser, a pointer to anything else.

        Both are representations of the endpoint, chosen by ``Accept``; neither
        needs credentials or tells anything about users.
        """
        record.operation, record.outcome = "help", "ok"
        headers = [("Vary", "Accept")]
        if _accepts_html(environ.get("HTTP_ACCEPT", "")):
            return Response("200 OK", HTML, protocol.page, headers)
        return _plain("200 OK", f"soap_usestats: POST SOAP requests to {protocol.url}\n"
                                f"WSDL: {protocol.url}?wsdl\n"
                                f"A page for people: {protocol.url} in a web browser "
                                "(Accept: text/html)\n", headers)

    def _json_pointer(self, record: RequestRecord) -> Response:
        """``GET /json``, which names no operation: the contract's fault, saying how to call one."""
        protocol = self.protocols[JSON_PATH]
        names = [method.name for method in operations(protocol.endpoint.app)]
        fault = faults.to_contract(InvalidXML(
            f"name the operation in the path, its parameters in the query: "
            f"/json/{names[0]}?targetuser=...&wstoken=...; the operations are {', '.join(names)}"))
        record.outcome = fault.faultcode
        return Response(protocol.fault_status(fault), protocol.content_type, protocol.fault_body(fault))

    def _operation(self, protocol: _Protocol, environ: dict, spyne_environ: dict,
                   record: RequestRecord) -> Response:
        """One operation call, from the request to the answer or the contract's fault.

        An address that failed to authenticate too often is refused first; every
        failed authentication, wherever found, is logged and counted on the way out.
        """
        envelope = None
        try:
            self.throttle.check(record.address)
            if protocol.envelope is not None:
                body = read_body(environ, self.max_request_bytes)
                envelope = parse_envelope(body, environ.get("CONTENT_TYPE"), protocol.envelope)
            ctx = protocol.endpoint.match(spyne_environ, envelope)
            record.operation = ctx.descriptor.name
            caller = self.authenticator(environ, envelope)
            record.caller = caller.label
            protocol.endpoint.decode(ctx)
            via = chain.parse(environ.get(chain.ENVIRON_KEY))
            answer = protocol.endpoint.run(ctx, Call(self.network, caller, via))
        except Exception as error:  # noqa: BLE001 - every error becomes the contract's fault
            if isinstance(error, AuthenticationFailed):
                self.throttle.failed(record.address, self.authenticator.presented(environ, envelope),
                                     error)
            fault = faults.to_contract(error)
            record.outcome = fault.faultcode
            status = protocol.fault_status(fault)
            challenge = [("WWW-Authenticate", BASIC_CHALLENGE)] if status.startswith("401") else []
            return Response(status, protocol.content_type, protocol.fault_body(fault),
                            [*throttle.retry_after(error), *challenge])
        record.outcome = "ok"
        return Response("200 OK", answer.content_type, answer.body)

    def _operators(self, path: str, method: str, record: RequestRecord) -> Response:
        """``GET /healthz`` and ``GET /metrics``: open to all, about the service, never its users."""
        if method != "GET":
            return _plain("405 Method Not Allowed", "GET only\n", [("Allow", "GET")])
        record.operation = path.lstrip("/")
        no_store = [("Cache-Control", "no-store")]
        if path == METRICS_PATH:
            record.outcome = "ok"
            return Response("200 OK", Metrics.CONTENT_TYPE, self.metrics.exposition(), no_store)
        verdict = self.health.check()
        record.outcome = verdict.outcome
        status, body = health.report(verdict)
        return Response(status, health.CONTENT_TYPE, body,
                        [*no_store, (health.LEDGER_HEADER, self.ledger.state().state)])


def _accepts_html(accept: str) -> bool:
    """Whether an ``Accept`` header asks for HTML by name (``*/*`` alone does not)."""
    for item in accept.split(","):
        kind, *options = (part.strip() for part in item.split(";"))
        if kind.lower() in ("text/html", "application/xhtml+xml"):
            q = next((o.split("=", 1)[1] for o in options if o.lower().startswith("q=")), "1")
            try:
                if float(q) > 0:
                    return True
            except ValueError:
                return True
    return False


def create_app(settings: Settings | None = None, site: MoodleSite | None = None, *,
               compile_ledger: bool = True) -> UseStatsApp:
    """The WSGI application for ``settings`` (default: the environment's configuration);
    ``site``, when given, is the service's own site. Without a configured ``public_url``,
    the WSDL's address is that of the sockets served (never a request's ``Host``).

    With ``compile_ledger`` (and a ledger, and a ``ledger_interval``), the application's
    compiler starts: call it in the process that serves (a gunicorn worker), never in one
    that forks afterwards."""
    settings = settings or load_settings()
    if settings.public_url is None:
        settings = replace(settings, public_url=serving.served_url())
    app = UseStatsApp(Network.from_settings(settings, site), settings)
    if compile_ledger and settings.ledger_url is not None and settings.ledger_interval:
        app.compiler = BackgroundCompiler(settings, migrate.ledger_engine(settings.ledger_url),
                                          settings.ledger_interval).start()
    return app
