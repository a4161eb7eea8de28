"""The service behind ``deploy/nginx.conf`` as an operator runs it, and slow clients to throw
at it.

nginx listens on 127.0.0.1:8080 and passes requests to gunicorn on 127.0.0.1:8000, as the
shipped file says: the file under test is the shipped one, unchanged. So that these ports
are free whatever else runs on the machine, everything runs in a network namespace of its
own (and a PID namespace, so that no process outlives the run):

    python -m tests.support.frontend DEMO_DB TOKEN USERNAME [--direct] [--checks]

is started by :func:`run_isolated` (``unshare``, as root) and prints one JSON object:
what it measured. ``--direct`` sends the same traffic to gunicorn itself, without nginx.
"""

from __future__ import annotations

import argparse
import fcntl
import http.client
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, closing, contextmanager, suppress
from pathlib import Path

from tests.support.servers import gunicorn

ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
FRONT = ("127.0.0.1", 8080)   # deploy/nginx.conf's listen
SERVICE = ("127.0.0.1", 8000)  # its upstream, the service's default bind
#: The address a token is restricted to, and another client's (loopback holds all of 127/8;
#: 127.0.0.1 is nginx's, a trusted proxy's).
ALLOWED_CLIENT = "127.0.0.2"
OTHER_CLIENT = "127.0.0.3"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def nginx_binary() -> str | None:
    """nginx, which Debian installs in /usr/sbin (not on a user's PATH)."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")


def why_not_isolated() -> str | None:
    """Why :func:`run_isolated` cannot run here (no nginx, no namespaces), or None."""
    if nginx_binary() is None:
        return "nginx is not installed (make nginx, or apt-get install nginx as root)"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    tried = subprocess.run(["unshare", "--net", "--pid", "--fork", "true"],
                           capture_output=True, text=True)
    if tried.returncode != 0:
        return ("nginx runs in network namespaces of its own, which cannot be made here "
                f"(root may make them): {tried.stderr.strip()}")
    return None


def run_isolated(*arguments: str, timeout: float = 300) -> dict:
    """Run this module in new network and PID namespaces; what it printed, as JSON."""
    command = ["unshare", "--net", "--pid", "--fork", "--kill-child",
               sys.executable, "-m", "tests.support.frontend", *arguments]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def loopback_up() -> None:
    """Bring ``lo`` up: a new network namespace starts with it down."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with closing(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as s:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(s, siocgifflags, request))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))


@contextmanager
def service(database_url: str, state: Path):
    """gunicorn with deploy/gunicorn.conf.py on 127.0.0.1:8000: two sync workers, the
    weakest case, trusting nginx's forwarded headers."""
    with gunicorn(database_url, config=str(GUNICORN_CONF), port=SERVICE[1],
                  USESTATS_WORKERS="2", USESTATS_THREADS="1",
                  USESTATS_PUBLIC_URL=f"http://{FRONT[0]}:{FRONT[1]}/soap",
                  USESTATS_TRUSTED_PROXIES="127.0.0.1",
                  USESTATS_NONCE_STORE=str(state / "nonces.sqlite"),
                  PROMETHEUS_MULTIPROC_DIR=str(state / "metrics")) as soap_url:
        yield soap_url


@contextmanager
def nginx(prefix: Path):
    """``nginx -p PREFIX -c deploy/nginx.conf``, the shipped file as it is."""
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen([nginx_binary(), "-p", f"{prefix}/", "-c", str(NGINX_CONF)],
                                   stdout=output, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 20
            while not _answers("/healthz"):
                if process.poll() is not None or time.monotonic() > deadline:
                    output.seek(0)
                    raise RuntimeError(f"nginx did not start:\n{output.read().decode()}")
                time.sleep(0.1)
            yield
        finally:
            process.terminate()
            process.wait(timeout=10)


def _answers(path: str) -> bool:
    try:
        request(FRONT, "GET", path, timeout=1)
    except OSError:
        return False
    return True


def request(address: tuple[str, int], method: str, path: str, body: bytes | None = None,
            headers: dict | None = None, source: str | None = None,
            timeout: float = 10) -> tuple[int, bytes]:
    """One HTTP request on a connection of its own: status and body."""
    connection = http.client.HTTPConnection(*address, timeout=timeout,
                                            source_address=(source, 0) if source else None)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def get_stats(username: str) -> bytes:
    return (f'<e:Envelope xmlns:e="{SOAP_ENV}" xmlns:u="urn:soap-usestats:1"><e:Body>'
            f"<u:GetStats><u:targetuser>{username}</u:targetuser><u:statsscope>course</u:statsscope>"
            "</u:GetStats></e:Body></e:Envelope>").encode()


class SlowClients:
    """``count`` connections that each send a request's first line, then one more header
    line every ``interval`` seconds, never ending their headers; a connection the server
    closes is opened again at once, as an attacker would."""

    def __init__(self, address: tuple[str, int], count: int, interval: float) -> None:
        self.address, self.count, self.interval = address, count, interval
        self.reconnects = 0
        self.refused = 0
        self._sockets: list[socket.socket | None] = [None] * count
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slow-clients", daemon=True)

    def __enter__(self) -> SlowClients:
        for index in range(self.count):
            self._open(index)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        for s in self._sockets:
            if s is not None:
                s.close()

    @property
    def open(self) -> int:
        return sum(s is not None for s in self._sockets)

    def _open(self, index: int) -> None:
        try:
            s = socket.create_connection(self.address, timeout=5)
            s.sendall(b"POST /soap HTTP/1.1\r\nHost: stats.example.com\r\n")
            self._sockets[index] = s
        except OSError:
            self.refused += 1
            self._sockets[index] = None

    def _run(self) -> None:
        line = 0
        while not self._stop.wait(self.interval):
            line += 1
            for index, s in enumerate(self._sockets):
                try:
                    if s is None:
                        raise OSError
                    s.sendall(f"X-Slow-{line}: {'x' * 20}\r\n".encode())
                except OSError:
                    if s is not None:
                        s.close()
                    self.reconnects += 1
                    self._open(index)


def probe(address: tuple[str, int], seconds: float, token: str, username: str) -> dict:
    """Every second for ``seconds``, one GetStats call (the learner's own token) and one
    ``GET /healthz``, each on a new connection and whether the earlier ones were answered
    or not: how long each took to be answered (None: not within 10 s), and what was
    answered wrong."""
    asks = {"calls": ("POST", f"/soap?wstoken={token}", get_stats(username), username.encode()),
            "health_checks": ("GET", "/healthz", None, b'"ok"')}
    wrong: list[str] = []

    def ask(kind: str) -> float | None:
        method, path, body, expected = asks[kind]
        started = time.monotonic()
        try:
            status, text = request(address, method, path, body,
                                   {"Content-Type": "text/xml; charset=utf-8"})
        except OSError as error:
            wrong.append(f"{kind}: {type(error).__name__}")
            return None
        if status != 200 or expected not in text:
            wrong.append(f"{kind}: {status} {text[:200]!r}")
        return round(time.monotonic() - started, 3)

    with ThreadPoolExecutor(max_workers=4 * int(seconds) + 4) as pool:
        futures: dict[str, list[Future]] = {kind: [] for kind in asks}
        for _ in range(int(seconds)):
            for kind in asks:
                futures[kind].append(pool.submit(ask, kind))
            time.sleep(1)
        return {kind: [f.result() for f in found] for kind, found in futures.items()} | {"wrong": wrong}


def checks(token: str, restricted_token: str, username: str) -> dict:
    """What nginx passes on and what it refuses: the body limit, SOAP 1.1 and 1.2, and the
    client address the service sees through X-Forwarded-For."""
    limit = 1024 * 1024
    xml = {"Content-Type": "text/xml; charset=utf-8"}
    soap12 = {"Content-Type": "application/soap+xml; charset=utf-8"}
    found = {}
    for name, path, headers, size in (("soap11_over", "/soap", xml, limit + 1),
                                      ("soap12_over", "/soap12", soap12, limit + 1),
                                      ("soap11_at", "/soap", xml, limit)):
        status, body = request(FRONT, "POST", f"{path}?wstoken={token}", b" " * size, headers)
        found[name] = {"status": status, "body": body.decode("utf-8", "replace")}
    call = f"/soap?wstoken={restricted_token}"
    for name, source, forwarded in (("from_allowed_address", ALLOWED_CLIENT, None),
                                    ("from_other_address", OTHER_CLIENT, None),
                                    ("from_other_address_claiming_allowed", OTHER_CLIENT,
                                     ALLOWED_CLIENT)):
        headers = dict(xml, **({"X-Forwarded-For": forwarded} if forwarded else {}))
        status, body = request(FRONT, "POST", call, get_stats(username), headers, source=source)
        found[name] = {"status": status, "body": body.decode("utf-8", "replace")}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", help="path of the demo site's SQLite database")
    parser.add_argument("token", help="the learner's own web service token")
    parser.add_argument("username", help="the learner")
    parser.add_argument("--direct", action="store_true", help="no nginx: slow clients meet gunicorn")
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--interval", type=float, default=3, help="seconds between header lines")
    parser.add_argument("--seconds", type=float, default=20, help="how long calls are made")
    parser.add_argument("--checks", metavar="RESTRICTED_TOKEN",
                        help="also check the body limit and forwarded addresses, with a token "
                             f"restricted to {ALLOWED_CLIENT}")
    args = parser.parse_args()
    loopback_up()
    report: dict = {"behind": "gunicorn" if args.direct else "nginx"}
    with ExitStack() as stack:
        # nginx's workers (nobody, under root) buffer bodies in it: in /tmp, not in a test's
        # own temporary directory, which only its owner may enter.
        state = Path(tempfile.mkdtemp(prefix="usestats-frontend-", dir="/tmp"))
        stack.callback(shutil.rmtree, state, ignore_errors=True)
        os.chmod(state, 0o755)
        stack.enter_context(service(f"sqlite:///{args.database}", state))
        if not args.direct:
            stack.enter_context(nginx(state))
        if args.checks:
            report["checks"] = checks(args.token, args.checks, args.username)
        target = SERVICE if args.direct else FRONT
        if args.connections:
            with SlowClients(target, args.connections, args.interval) as slow:
                time.sleep(args.interval)  # every one of them has sent a line or two
                report["slow_connections_open"] = slow.open
                report |= probe(target, args.seconds, args.token, args.username)
                report |= {"reconnects": slow.reconnects, "refused": slow.refused}
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    with suppress(KeyboardInterrupt):
        main()
