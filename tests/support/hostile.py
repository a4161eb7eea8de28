"""A federation peer that misbehaves on purpose, on loopback, and a witness on another port.

:class:`HostilePeer` stands in front of a real peer service: it serves that peer's WSDL
and forwards each call to it, but changes the WSDL (``wsdl``) or the answer (``answer``)
on the way, or answers with a redirect, one byte at a time, or without end. The
:class:`Witness` records every request that reaches it: a hub that follows an import or
a redirect there shows up in :attr:`Witness.requests`, with the headers it sent.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lxml import etree

#: The headers of a call that the hostile peer passes on to the real peer.
FORWARDED = ("Authorization", "Content-Type", "SOAPAction", "X-UseStats-Via")
MIB = 1 << 20

EMPTY_SCHEMA = b'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"/>'
EMPTY_WSDL = (b'<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" '
              b'targetNamespace="urn:witness"/>')


class _Server:
    """A threaded HTTP server on a free loopback port, stopped by :meth:`close`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.server.owner = self
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        pass

    def reply(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": "text/xml; charset=utf-8", **headers}.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@dataclass
class Seen:
    """A request that reached the witness."""

    method: str
    path: str
    headers: dict[str, str]


class _WitnessHandler(_Quiet):
    def do_GET(self) -> None:
        self._record()
        self.reply(200, EMPTY_WSDL if self.path.endswith(".wsdl") else EMPTY_SCHEMA)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._record()
        self.reply(200)

    def _record(self) -> None:
        self.server.owner.requests.append(Seen(self.command, self.path, dict(self.headers)))


class Witness(_Server):
    """An HTTP server that records every request and answers it with an empty schema
    (an empty WSDL for a path ending in ``.wsdl``), so that following it succeeds."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        super().__init__(_WitnessHandler)

    def seen(self, path: str) -> list[Seen]:
        return [request for request in self.requests if request.path == path]


class _HostileHandler(_Quiet):
    def do_GET(self) -> None:
        peer: HostilePeer = self.server.owner
        if peer.redirect_wsdl:
            self.reply(302, Location=peer.redirect_wsdl)
        else:
            self.answer(200, peer.wsdl(peer.upstream_wsdl()), peer.drip_wsdl)

    def do_POST(self) -> None:
        peer: HostilePeer = self.server.owner
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if peer.redirect_call:
            self.reply(307, Location=peer.redirect_call)
        elif peer.flood:
            self.flood(peer.flood, peer.declare_length)
        else:
            status, answer = peer.forward(body, {name: self.headers[name] for name in FORWARDED
                                                 if name in self.headers})
            self.answer(status, peer.answer(answer), peer.drip_answer)

    def answer(self, status: int, body: bytes, drip: float | None) -> None:
        if drip is None:
            self.reply(status, body)
            return
        whole = (f"HTTP/1.1 {status} OK\r\nContent-Type: text/xml; charset=utf-8\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        try:
            for byte in whole:
                self.wfile.write(bytes([byte]))
                time.sleep(drip)
        except OSError:
            pass  # the hub hung up: what it should do
        self.close_connection = True

    def flood(self, size: int, declare_length: bool) -> None:
        """``size`` bytes of an answer that never ends, written a MiB at a time."""
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header(*(("Content-Length", str(size)) if declare_length
                           else ("Transfer-Encoding", "chunked")))
        self.end_headers()
        chunk = b"<a>" + b" " * (MIB - 3)
        framed = chunk if declare_length else b"%x\r\n%s\r\n" % (len(chunk), chunk)
        try:
            for _ in range(size // MIB):
                self.wfile.write(framed)
            if not declare_length:
                self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass
        self.close_connection = True


def _same(content: bytes) -> bytes:
    return content


class HostilePeer(_Server):
    """A peer in front of the real peer service at ``upstream`` (its /soap URL), which
    answers for the site ``wwwroot``: each call is forwarded there for that site.

    ``wsdl`` and ``answer`` change the WSDL and each answer; ``drip_wsdl`` and
    ``drip_answer`` send them one byte every so many seconds, headers included;
    ``redirect_wsdl`` and ``redirect_call`` answer with a redirect there instead;
    ``flood`` answers a call with that many bytes (declared, or chunked). The attributes
    may be changed between calls.
    """

    def __init__(self, upstream: str, wwwroot: str, *, wsdl: Callable[[bytes], bytes] = _same,
                 answer: Callable[[bytes], bytes] = _same, drip_wsdl: float | None = None,
                 drip_answer: float | None = None, redirect_wsdl: str | None = None,
                 redirect_call: str | None = None, flood: int = 0,
                 declare_length: bool = True) -> None:
        self.upstream, self.wwwroot = upstream, wwwroot
        self.wsdl, self.answer = wsdl, answer
        self.drip_wsdl, self.drip_answer = drip_wsdl, drip_answer
        self.redirect_wsdl, self.redirect_call = redirect_wsdl, redirect_call
        self.flood, self.declare_length = flood, declare_length
        super().__init__(_HostileHandler)
        self.soap_url = f"{self.url}/soap"

    def upstream_wsdl(self) -> bytes:
        with urllib.request.urlopen(f"{self.upstream}?wsdl", timeout=10) as response:
            return response.read()

    def forward(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """The real peer's status and answer to the call, made for its own site."""
        call = etree.fromstring(body)
        for whereroot in call.iter("{*}whereroot"):
            whereroot.text = self.wwwroot
        request = urllib.request.Request(self.upstream, data=etree.tostring(call), headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as fault:
            return fault.code, fault.read()


def importing(location: str, how: str = "import") -> Callable[[bytes], bytes]:
    """A WSDL change: its first schema imports (``import``), includes (``include``) the
    schema at ``location``, or the WSDL imports (``wsdl``) another WSDL there."""
    statement = {
        "import": f'<xs:import namespace="urn:elsewhere" schemaLocation="{location}"/>',
        "include": f'<xs:include schemaLocation="{location}"/>',
        "wsdl": f'<wsdl:import namespace="urn:witness" location="{location}"/>',
    }[how].encode()
    opening = rb"<wsdl:definitions[^>]*>" if how == "wsdl" else rb"<xs:schema[^>]*>"

    def change(wsdl: bytes) -> bytes:
        found = re.search(opening, wsdl)
        assert found, "the peer's WSDL has no place for the statement"
        return wsdl[:found.end()] + statement + wsdl[found.end():]

    return change


def edited(element: str, **values: int | str | None) -> Callable[[bytes], bytes]:
    """An answer change: in every ``element`` (a local name), each child named in
    ``values`` gets that text, or is removed for ``None``; no values empties it."""

    def change(answer: bytes) -> bytes:
        root = etree.fromstring(answer)
        for found in root.iter(f"{{*}}{element}"):
            if not values:
                found[:] = []
            for name, value in values.items():
                for child in found.findall(f"{{*}}{name}"):
                    if value is None:
                        found.remove(child)
                    else:
                        child.text = str(value)
        return etree.tostring(root, xml_declaration=True, encoding="utf-8")

    return change
