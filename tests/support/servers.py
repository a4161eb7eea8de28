"""Real servers for end-to-end tests: gunicorn running the service, and a TCP proxy
that can cut the service off from its database and reconnect it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import closing, contextmanager


def free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(database_url: str, *, config: str | None = None, port: int | None = None,
             python: str = sys.executable, cwd: str | None = None, **env: str):
    """Serve ``soap_usestats.wsgi:application`` on ``port`` (default a free one); yield its
    /soap URL.

    With ``config``, gunicorn reads that configuration file for all but the address;
    otherwise it runs one worker with four threads. ``python`` runs it (another virtualenv's
    serves the package installed there, from a ``cwd`` outside the source tree). The throttle
    of failed authentications is off unless ``USESTATS_THROTTLE_FAILURES`` says otherwise:
    the tests call from one address, and some fail to authenticate on purpose.
    """
    port = port or free_port()
    soap_url = f"http://127.0.0.1:{port}/soap"
    environ = {**os.environ, "USESTATS_DATABASE_URL": database_url,
               "USESTATS_PUBLIC_URL": soap_url, "USESTATS_THROTTLE_FAILURES": "0", **env}
    options = ["-c", config] if config else ["--workers", "1", "--threads", "4"]
    with tempfile.TemporaryFile() as output:  # a file, not a pipe nobody reads: it never fills
        process = subprocess.Popen(
            [python, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", *options,
             "soap_usestats.wsgi:application"],
            env=environ, cwd=cwd, stdout=output, stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_serving(f"{soap_url}?wsdl", process, output)
            yield soap_url
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait_until_serving(url: str, process: subprocess.Popen, output, timeout: float = 20) -> None:
    """Return once ``url`` answered; a request sent is waited for, never given up and sent
    again, so the service counts exactly one (tests compare ``/metrics`` with the calls)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output.seek(0)
            raise RuntimeError(f"gunicorn exited:\n{output.read().decode()}")
        try:
            urllib.request.urlopen(url, timeout=max(1.0, deadline - time.monotonic())).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not serve {url} within {timeout} s")


class TcpProxy:
    """Forwards 127.0.0.1:port to a target; ``stop()`` drops every connection.

    ``pause()`` stops forwarding with every connection left open, as a stalled link
    does (the kernel still acknowledges what was sent); ``resume()`` forwards again.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._flowing = threading.Event()
        self._flowing.set()

    def pause(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        for s in [self._listener, *self._sockets]:
            if s is not None:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
        self._listener, self._sockets = None, []
        self._flowing.set()  # paused pipes wake up to closed sockets, and end

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while self._flowing.wait() and (data := source.recv(65536)):
                self._flowing.wait()
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
