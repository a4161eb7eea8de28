"""The HTTP exchanges with a peer, each held to what this service allows a peer.

zeep loads the peer's WSDL and posts each call through :class:`PeerTransport`, which:

- loads no document but the peer's own WSDL: an import or include, of any address
  or ``file:``, is refused; it follows no redirect; it connects to the origin of
  ``peer_url`` only, so the credentials go nowhere else;
- holds every exchange of a call to one :class:`Deadline`: connecting, the TLS
  handshake, sending and every read wait no longer than what is left of it, so a
  peer that answers a byte at a time is cut off when the call's ``timeout`` is up;
- reads each answer as a stream and refuses it as soon as it is larger than
  ``max_answer_bytes``.

Each refusal is a :class:`PeerFailure` whose message completes "the site X ...", raised
from the error behind it (for the operator's log).
"""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from zeep.wsdl.utils import etree_to_string

from ..config import PeerService

#: Bytes read from an answer at a time.
CHUNK = 64 * 1024
ELSEWHERE = "refers to another document (an import or include), which this service does not load"


class PeerFailure(Exception):
    """What went wrong with the peer, in words that complete "the site X ..."; never its
    address or the credentials."""


class Deadline:
    """The instant by which a call to a peer must be over."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds left; the call fails once there are none."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise PeerFailure(f"did not answer within {self.seconds:g} s")
        return left


class _TimedSocket(socket.socket):
    """A socket whose every send and receive waits no longer than its deadline leaves."""

    deadline: Deadline

    def recv_into(self, buffer, nbytes=0, flags=0):
        self.settimeout(self.deadline.left())
        return super().recv_into(buffer, nbytes, flags)

    def sendall(self, data, flags=0):
        self.settimeout(self.deadline.left())
        return super().sendall(data, flags)


class _TimedTLSSocket(ssl.SSLSocket):
    """The same over TLS: the handshake too (``sendall`` sends through ``send``)."""

    deadline: Deadline

    def do_handshake(self, block=False):
        self.settimeout(self.deadline.left())
        return super().do_handshake(block)

    def recv_into(self, buffer, nbytes=None, flags=0):
        self.settimeout(self.deadline.left())
        return super().recv_into(buffer, nbytes, flags)

    def send(self, data, flags=0):
        self.settimeout(self.deadline.left())
        return super().send(data, flags)


class _Connection(http.client.HTTPConnection):
    """One HTTP exchange with the peer's origin, on a socket held to ``deadline``."""

    def __init__(self, host: str, port: int, deadline: Deadline,
                 tls: ssl.SSLContext | None) -> None:
        super().__init__(host, port, timeout=deadline.left())
        self.deadline, self.tls = deadline, tls

    def connect(self) -> None:
        plain = socket.create_connection((self.host, self.port), self.deadline.left())
        sock = _TimedSocket(fileno=plain.detach())
        sock.deadline = self.deadline
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_hostname=self.host,
                                        do_handshake_on_connect=False)
            sock.deadline = self.deadline
            sock.do_handshake()
        self.sock = sock


@dataclass(frozen=True)
class Answer:
    """What zeep reads of an HTTP answer."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    encoding: str | None = None


class PeerTransport:
    """zeep's transport (``load``, ``post_xml``) for one peer: its WSDL at
    ``peer_url?wsdl``, its calls to ``peer_url``, with this service's credentials."""

    def __init__(self, site: PeerService) -> None:
        self.peer_url, self.wsdl_url = site.peer_url, f"{site.peer_url}?wsdl"
        self.timeout, self.limit = site.timeout, site.max_answer_bytes
        parts = urlsplit(site.peer_url)
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._tls = _tls_context() if parts.scheme == "https" else None
        credentials = f"{site.peer_username}:{site.peer_password}".encode()
        self._authorization = "Basic " + base64.b64encode(credentials).decode("ascii")
        self._calls = threading.local()

    @contextmanager
    def deadline(self) -> Iterator[Deadline]:
        """One deadline of ``timeout`` seconds for every exchange of the block (a call,
        with the WSDL's loading when it comes first)."""
        self._calls.deadline = deadline = Deadline(self.timeout)
        try:
            yield deadline
        finally:
            del self._calls.deadline

    def load(self, url: str) -> bytes:
        """The peer's WSDL; any other document is refused."""
        if url != self.wsdl_url:
            raise PeerFailure(ELSEWHERE)
        answer = self._exchange("GET", url)
        if answer.status_code != 200:
            raise PeerFailure(f"answered HTTP {answer.status_code} for its WSDL")
        return answer.content

    def post_xml(self, address: str, envelope, headers: Mapping[str, str]) -> Answer:
        """A call, posted to ``peer_url`` whatever address the WSDL gives."""
        return self._exchange("POST", self.peer_url, etree_to_string(envelope), headers)

    def _exchange(self, method: str, url: str, body: bytes | None = None,
                  headers: Mapping[str, str] | None = None) -> Answer:
        deadline = getattr(self._calls, "deadline", None) or Deadline(self.timeout)
        connection = _Connection(self._host, self._port, deadline, self._tls)
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request(method, target or "/", body, {
                **(headers or {}), "Authorization": self._authorization,
                "User-Agent": "soap-usestats"})
            response = connection.getresponse()
            if 300 <= response.status < 400:
                raise PeerFailure("answered with a redirect, which this service does not follow")
            return Answer(response.status, response.headers, self._read(response))
        except TimeoutError as error:
            raise PeerFailure(f"did not answer within {deadline.seconds:g} s") from error
        except http.client.HTTPException as error:
            raise PeerFailure("gave no usable answer") from error
        except ssl.SSLCertVerificationError as error:
            raise PeerFailure("presented a certificate that cannot be verified") from error
        except OSError as error:
            deadline.left()  # a connection cut at the deadline is the deadline's
            raise PeerFailure("cannot be reached") from error
        finally:
            connection.close()

    def _read(self, response: http.client.HTTPResponse) -> bytes:
        """The whole answer, read a chunk at a time; refused beyond ``limit`` bytes."""
        too_large = PeerFailure(f"sent an answer larger than max_answer_bytes ({self.limit} bytes)")
        if (response.length or 0) > self.limit:
            raise too_large
        chunks, size = [], 0
        while chunk := response.read(CHUNK):
            size += len(chunk)
            if size > self.limit:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)


def _tls_context() -> ssl.SSLContext:
    """The system's certificate authorities, host names checked, on timed sockets."""
    context = ssl.create_default_context()
    context.sslsocket_class = _TimedTLSSocket
    return context
