"""The gunicorn settings of the service, shared by ``soap-usestats serve`` and
``deploy/gunicorn.conf.py``.

Environment (besides the service's own ``USESTATS_*`` settings):

- ``USESTATS_BIND``: address to listen on (default ``127.0.0.1:8000``, behind a TLS proxy);
- ``USESTATS_WORKERS``: worker processes (default ``2 * cores + 1``, at most 8: the
  work is the Moodle database's, more processes only queue there);
- ``USESTATS_THREADS``: threads per worker (default 4; 1 runs gunicorn's sync worker);
- ``PROMETHEUS_MULTIPROC_DIR``: where workers keep their metrics for ``/metrics``
  (default: a directory of its own under ``$RUNTIME_DIRECTORY``, which systemd's
  ``RuntimeDirectory=`` sets, else under the temporary directory).

Forwarded headers (``X-Forwarded-Proto``...) are believed only from the service's
``trusted_proxies``, the same addresses whose ``X-Forwarded-For`` it believes.
Nothing here imports ``prometheus_client``: it picks its mode when first imported,
so :func:`prepare_metrics` must run before the application is loaded.
"""

from __future__ import annotations

import glob
import math
import os
import tempfile
from collections.abc import Mapping
from contextlib import suppress
from typing import Any

from ..config import DirectSite, Settings
from ..moodle.database import longest_wait

#: gunicorn's worker timeout at the least, in seconds; and the margin above the longest call.
MIN_WORKER_TIMEOUT = 60
WORKER_TIMEOUT_MARGIN = 15


def settings(trusted_proxies: tuple = (), environ: Mapping[str, str] = os.environ,
             timeout: int = MIN_WORKER_TIMEOUT) -> dict[str, Any]:
    """gunicorn's settings for the service, by gunicorn's names; ``timeout`` from
    :func:`worker_timeout`."""
    return {
        "bind": environ.get("USESTATS_BIND", "127.0.0.1:8000"),
        "workers": int(environ.get("USESTATS_WORKERS") or min(2 * (os.cpu_count() or 1) + 1, 8)),
        "threads": int(environ.get("USESTATS_THREADS") or 4),
        "timeout": timeout,       # a worker silent this long is restarted
        "graceful_timeout": 30,   # requests in progress get this long to finish on stop or reload
        "keepalive": 5,
        "proc_name": "soap-usestats",
        "accesslog": None,        # the service logs one line per request itself
        "errorlog": "-",
        "loglevel": environ.get("USESTATS_LOG_LEVEL", "info").lower(),
        "forwarded_allow_ips": ",".join(str(network) for network in trusted_proxies),
    }


def worker_timeout(configured: Settings) -> int:
    """Seconds gunicorn lets a worker be silent (a sync worker: one request) before it kills
    it: longer than any call may take, so that the service's own deadlines end a call that
    waits too long, with the contract's fault, and gunicorn never answers its HTML page.

    A call waits on its home database, then at most on one other site of ``[sites]``:
    another database, or a peer within its ``timeout``.
    """
    database = longest_wait(configured.database_timeout)
    others = [database if isinstance(site, DirectSite) else site.timeout
              for site in configured.sites.values()]
    return max(MIN_WORKER_TIMEOUT, math.ceil(database + max(others, default=0)) + WORKER_TIMEOUT_MARGIN)


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


#: The server hooks that keep the shared metrics right.
HOOKS = {"on_starting": on_starting, "child_exit": child_exit, "on_exit": on_exit}
