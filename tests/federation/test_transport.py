"""The transport to a peer over TLS, in process: the handshake and every read are held to
the call's deadline, and a certificate is verified against the trusted authorities
(``SSL_CERT_FILE`` stands for the system's store here). Over plain HTTP, and through the
hub, the federation end-to-end tests check the same with a hostile peer."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from soap_usestats.config import PeerService
from soap_usestats.federation.transport import PeerFailure, PeerTransport

TIMEOUT = 1
WSDL = b"<definitions/>"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for ``localhost`` and its key, made by openssl."""
    if shutil.which("openssl") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("openssl is needed to make a test certificate")
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", key, "-out", cert, "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost"], check=True, capture_output=True)
    return cert, key


class _Peer(BaseHTTPRequestHandler):
    """The WSDL at once at /soap; one byte every 0.1 s at /drip."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:
        dripping = self.path.startswith("/drip")
        self.send_response(200)
        self.send_header("Content-Length", str(100 if dripping else len(WSDL)))
        self.end_headers()
        try:
            for byte in b" " * 100 if dripping else [WSDL]:
                self.wfile.write(bytes([byte]) if dripping else byte)
                time.sleep(0.1 if dripping else 0)
        except OSError:
            pass  # the hub hung up


@pytest.fixture(scope="module")
def tls_peer(certificate):
    """The /soap URL of a peer served over TLS with ``certificate``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Peer)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def transport(url: str) -> PeerTransport:
    return PeerTransport(PeerService("https://x.test", url, "hub", "secret", TIMEOUT))


def failure(peer: PeerTransport) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(PeerFailure) as raised:
        peer.load(peer.wsdl_url)
    return str(raised.value), time.monotonic() - started


def test_a_trusted_peer_answers_and_a_dripping_one_is_cut_at_the_deadline(
        tls_peer, certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", certificate[0])
    assert transport(f"{tls_peer}/soap").load(f"{tls_peer}/soap?wsdl") == WSDL
    message, took = failure(transport(f"{tls_peer}/drip"))
    assert message == f"did not answer within {TIMEOUT} s"
    assert took < TIMEOUT + 1


def test_a_handshake_that_never_ends_is_cut_at_the_deadline(certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", certificate[0])
    with closing(socket.create_server(("127.0.0.1", 0))) as silent:
        held = []
        threading.Thread(target=lambda: held.append(silent.accept()), daemon=True).start()
        message, took = failure(transport(f"https://localhost:{silent.getsockname()[1]}/soap"))
    assert message == f"did not answer within {TIMEOUT} s"
    assert took < TIMEOUT + 1


def test_a_certificate_that_cannot_be_verified_is_refused(tls_peer, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    message, _ = failure(transport(f"{tls_peer}/soap"))
    assert message == "presented a certificate that cannot be verified"
