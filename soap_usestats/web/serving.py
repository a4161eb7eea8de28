"""The gunicorn settings of the service, shared by ``soap-usestats serve`` and
``deploy/gunicorn.conf.py``.

Environment (besides the service's own ``USESTATS_*`` settings):

- ``USESTATS_BIND``: address to listen on (default ``127.0.0.1:8000``, behind a TLS proxy),
  or several, comma-separated (``unix:PATH`` for a socket);
- ``USESTATS_WORKERS``: worker processes (default ``2 * cores + 1``, at most 8: the
  work is the Moodle database's, more processes only queue there);
- ``USESTATS_THREADS``: threads per worker (default 4; 1 runs gunicorn's sync worker);
- ``PROMETHEUS_MULTIPROC_DIR``: where workers keep their metrics for ``/metrics``
  (default: a directory of its own under ``$RUNTIME_DIRECTORY``, which systemd's
  ``RuntimeDirectory=`` sets, else under the temporary directory);
- ``RUNTIME_DIRECTORY`` also holds gunicorn's control socket, ``gunicorn.ctl``; without
  it there is none.

When ``public_url`` is not configured, the WSDL's address is ``http://<the address
served>/soap``: in a gunicorn worker the first TCP socket it serves (a wildcard address
such as ``0.0.0.0`` or ``::`` is named by the host's name, with a warning), elsewhere
``USESTATS_BIND``. It never comes from a request's ``Host`` header. A service that listens
on unix sockets only must have its ``public_url``: gunicorn refuses to start without it.

Forwarded headers (``X-Forwarded-Proto``...) are believed only from the service's
``trusted_proxies``, the same addresses whose ``X-Forwarded-For`` it believes.
Nothing here imports ``prometheus_client``: it picks its mode when first imported,
so :func:`prepare_metrics` must run before the application is loaded.
"""

from __future__ import annotations

import glob
import ipaddress
import math
import os
import socket
import tempfile
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from typing import Any

from gunicorn.util import parse_address

from ..config import DirectSite, Settings
from ..exceptions import ConfigError
from ..moodle.database import longest_wait
from .requestlog import log_level

DEFAULT_BIND = "127.0.0.1:8000"
_NEEDS_PUBLIC_URL = ("set USESTATS_PUBLIC_URL (public_url) to the address clients reach "
                     "/soap at, through the proxy in front")
#: The sockets this gunicorn worker serves (``post_fork``); empty elsewhere.
_served: list[socket.socket] = []
#: gunicorn's worker timeout at the least, in seconds; and the margin above the longest call.
MIN_WORKER_TIMEOUT = 60
WORKER_TIMEOUT_MARGIN = 15


def settings(trusted_proxies: tuple = (), environ: Mapping[str, str] = os.environ,
             timeout: int = MIN_WORKER_TIMEOUT) -> dict[str, Any]:
    """gunicorn's settings for the service, by gunicorn's names; ``timeout`` from
    :func:`worker_timeout`."""
    return {
        "bind": environ.get("USESTATS_BIND", DEFAULT_BIND),
        "workers": _count(environ, "USESTATS_WORKERS", min(2 * (os.cpu_count() or 1) + 1, 8)),
        "threads": _count(environ, "USESTATS_THREADS", 4),
        "timeout": timeout,       # a worker silent this long is restarted
        "graceful_timeout": 30,   # requests in progress get this long to finish on stop or reload
        "keepalive": 5,
        "proc_name": "soap-usestats",
        "accesslog": None,        # the service logs one line per request itself
        "errorlog": "-",
        "loglevel": log_level(environ).lower(),
        "forwarded_allow_ips": ",".join(str(network) for network in trusted_proxies),
        **_control_socket(environ),
    }


def worker_timeout(configured: Settings) -> int:
    """Seconds gunicorn lets a worker be silent (a sync worker: one request) before it kills
    it: longer than any call may take, so that the service's own deadlines end a call that
    waits too long, with the contract's fault, and gunicorn never answers its HTML page.

    A call waits on its home database and its ledger (with the same deadline; a ledger
    that does not answer leaves the call to the log), then at most on one other site of
    ``[sites]``: another database, or a peer within its ``timeout``.
    """
    database = longest_wait(configured.database_timeout)
    ledger = database if configured.ledger_url is not None else 0
    others = [database if isinstance(site, DirectSite) else site.timeout
              for site in configured.sites.values()]
    return max(MIN_WORKER_TIMEOUT,
               math.ceil(database + ledger + max(others, default=0)) + WORKER_TIMEOUT_MARGIN)


def _count(environ: Mapping[str, str], variable: str, default: int) -> int:
    """The positive whole number in ``variable``, else ``default``."""
    text = environ.get(variable, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{variable} must be a positive whole number, not {text!r}")
    return int(text)


def _control_socket(environ: Mapping[str, str]) -> dict[str, Any]:
    """gunicorn's control socket (``gunicornc``, gunicorn 25.1+): the instance's own, in the
    runtime directory systemd gives the service (``RuntimeDirectory=``), else none (set
    ``RUNTIME_DIRECTORY`` to a directory of the instance's own to have one).

    gunicorn's default path (``~/.gunicorn/gunicorn.ctl``, or ``$XDG_RUNTIME_DIR``) is the
    same for every instance of a user: the last one started takes it over, and the first
    one stopped removes it, so ``gunicornc`` would drive another instance.
    """
    if directory := environ.get("RUNTIME_DIRECTORY", "").split(":")[0]:
        return {"control_socket": os.path.join(directory, "gunicorn.ctl")}
    return {"control_socket_disable": True}


def served_url(environ: Mapping[str, str] = os.environ) -> str:
    """``http://<the address served>/soap``, the public URL when none is configured: in a
    gunicorn worker, that of the sockets it serves; elsewhere, that of ``USESTATS_BIND``."""
    if _served:
        return sockets_url(_served)
    return bind_url(environ.get("USESTATS_BIND", DEFAULT_BIND))


def sockets_url(sockets: Iterable[socket.socket]) -> str:
    """The ``/soap`` URL of the first TCP socket of ``sockets`` (ConfigError if none)."""
    sockets = list(sockets)
    address = _tcp_address(sockets)
    if address is None:
        shown = ", ".join(str(listener) for listener in sockets)
        raise ConfigError(f"the service listens on {shown} only: {_NEEDS_PUBLIC_URL}")
    return _soap_url(*address)


def bind_url(bind: str) -> str:
    """The ``/soap`` URL of the first TCP address of a gunicorn ``bind`` (comma-separated)."""
    for item in (part.strip() for part in bind.split(",")):
        try:
            address = parse_address(item) if item else None
        except RuntimeError as error:  # gunicorn's word for a malformed address
            raise ConfigError(f"USESTATS_BIND {bind}: {error}") from None
        if isinstance(address, tuple):
            return _soap_url(*address)
    raise ConfigError(f"the service listens on {bind} only: {_NEEDS_PUBLIC_URL}")


def _tcp_address(sockets: Iterable[socket.socket]) -> tuple[str, int] | None:
    """The host and port of the first TCP socket of ``sockets``."""
    for listener in sockets:
        if listener.family in (socket.AF_INET, socket.AF_INET6):
            return listener.getsockname()[:2]
    return None


def _soap_url(host: str, port: int) -> str:
    """``http://host:port/soap``; a wildcard address is named by the host's name."""
    if _is_wildcard(host):
        host = socket.getfqdn()
    elif ":" in host:  # an IPv6 address, its zone quoted
        host = "[" + host.replace("%", "%25") + "]"
    return f"http://{host}:{port}/soap"


def _is_wildcard(host: str) -> bool:
    """Whether ``host`` is an address of every interface (``0.0.0.0``, ``::``)."""
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def prepare_metrics() -> str:
    """The directory the workers share their metrics in, set in ``PROMETHEUS_MULTIPROC_DIR``."""
    directory = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", os.path.join(
        os.environ.get("RUNTIME_DIRECTORY") or tempfile.gettempdir(),
        f"soap-usestats-metrics-{os.getpid()}"))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    return directory


def _clear_metrics() -> None:
    for path in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
        os.remove(path)


def on_starting(server) -> None:
    """Start from zero: figures left by an earlier run would be counted again."""
    _clear_metrics()


def child_exit(server, worker) -> None:
    """A worker's figures stay counted once it is gone; its live gauges do not."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    _clear_metrics()
    with suppress(OSError):
        os.rmdir(os.environ["PROMETHEUS_MULTIPROC_DIR"])


def post_fork(server, worker) -> None:
    """A worker knows the sockets it serves before it loads the application."""
    _served[:] = worker.sockets


def hooks(public_url: str | None, announce: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The server hooks: the shared metrics kept right, each worker told the sockets it
    serves, and, once listening, the WSDL's address logged (or given to ``announce``).

    Without ``public_url``, a service on unix sockets only is refused (gunicorn prints
    the one-line error and exits), and one on a wildcard address is warned about.
    """

    def when_ready(server) -> None:
        try:
            # With reuse_port, each worker opens its own sockets: the master has none.
            url = public_url or (sockets_url(server.LISTENERS) if server.LISTENERS
                                 else bind_url(",".join(server.cfg.bind)))
        except ConfigError as error:
            raise RuntimeError(str(error)) from None
        if announce is None:
            server.log.info("WSDL: %s?wsdl", url)
        else:
            announce(url)
        address = _tcp_address(server.LISTENERS)
        if public_url is None and address is not None and _is_wildcard(address[0]):
            server.log.warning("public_url is not set and the service listens on every address: "
                               "the WSDL sends clients to %s; %s", url, _NEEDS_PUBLIC_URL)

    return {"on_starting": on_starting, "child_exit": child_exit, "on_exit": on_exit,
            "post_fork": post_fork, "when_ready": when_ready}
