"""Calling the WSGI application in-process, as a server would, and reading its SOAP answers.

:class:`WsgiClient` is the one builder of WSGI requests the tests use.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from typing import BinaryIO

from lxml import etree

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "urn:soap-usestats:1"
XML = "text/xml; charset=utf-8"


def envelope(body: str, header: str = "", prolog: str = "") -> bytes:
    """A SOAP 1.1 envelope around ``body``; ``u:`` is the service's namespace."""
    header = f"<e:Header>{header}</e:Header>" if header else ""
    return (f'{prolog}<e:Envelope xmlns:e="{SOAP_ENV}" xmlns:u="{TNS}">{header}'
            f"<e:Body>{body}</e:Body></e:Envelope>").encode()


GET_STATS = envelope("<u:GetStats><u:targetuser>alice</u:targetuser><u:statsscope>module</u:statsscope>"
                     "<u:timefrom>0</u:timefrom><u:timeto>100000</u:timeto></u:GetStats>")
GET_SCORES = envelope("<u:GetScores><u:targetuser>alice</u:targetuser>"
                      "<u:scorescope>notes/items</u:scorescope><u:courseidfield>shortname</u:courseidfield>"
                      "<u:courseidentifier>C5</u:courseidentifier></u:GetScores>")


@dataclass
class Response:
    status: int
    reason: str          # the whole status line, "503 Service Unavailable"
    headers: dict[str, str]
    body: bytes
    environ: dict

    def xml(self) -> etree._Element:
        return etree.fromstring(self.body, etree.XMLParser(resolve_entities=False, no_network=True))

    def fault(self) -> tuple[str, str, int]:
        """faultcode (without prefix), faultstring and the MNET status in ``detail``."""
        fault = self.xml().find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
        assert fault is not None, self.body[:500]
        assert [child.tag for child in fault] == ["faultcode", "faultstring", "detail"]
        status = fault.findtext(f"detail/{{{TNS}}}UseStatsFault/{{{TNS}}}status")
        return fault.findtext("faultcode").split(":", 1)[1], fault.findtext("faultstring"), int(status)


class WsgiClient:
    """Calls a WSGI application; ``environ`` is added to every request (credentials, say)."""

    def __init__(self, app: Callable, **environ) -> None:
        self.app = app
        self.environ = environ

    def post(self, body: bytes | BinaryIO, path: str = "/soap", **environ) -> Response:
        """POST ``body`` to ``path``; an ``environ`` value of ``None`` leaves that key out."""
        return self.request("POST", path, body, **environ)

    def get(self, path: str, query: str = "", **environ) -> Response:
        return self.request("GET", path, QUERY_STRING=query, **environ)

    def request(self, method: str, path: str, body: bytes | BinaryIO = b"", **environ) -> Response:
        """One request; an ``environ`` value of ``None`` leaves that key out."""
        stream = BytesIO(body) if isinstance(body, bytes) else body
        request = {
            "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.input": stream,
            "wsgi.errors": sys.stderr, "wsgi.version": (1, 0), "CONTENT_TYPE": XML,
            "CONTENT_LENGTH": str(len(body)) if isinstance(body, bytes) else None,
            **self.environ, **environ,
        }
        request = {key: value for key, value in request.items() if value is not None}
        started: list = []

        def start_response(status: str, headers: list, exc_info=None) -> None:
            started.append((status, headers))

        answer = self.app(request, start_response)
        try:
            content = b"".join(answer)
        finally:
            getattr(answer, "close", lambda: None)()
        status, headers = started[-1]
        return Response(int(status.split(" ", 1)[0]), status, dict(headers), content, request)
