"""gunicorn configuration for soap_usestats in production.

    gunicorn -c /etc/soap-usestats/gunicorn.conf.py soap_usestats.wsgi:application

Environment (besides the service's own ``USESTATS_*`` settings):

- ``USESTATS_BIND``: address to listen on (default ``127.0.0.1:8000``, behind a TLS proxy);
- ``USESTATS_WORKERS``: worker processes (default ``2 * cores + 1``, at most 8: the
  work is the Moodle database's, more processes only queue there);
- ``USESTATS_THREADS``: threads per worker (default 4; 1 runs gunicorn's sync worker);
- ``PROMETHEUS_MULTIPROC_DIR``: where workers keep their metrics for ``/metrics``
  (default: a directory of its own under ``$RUNTIME_DIRECTORY``, which systemd's
  ``RuntimeDirectory=`` sets, else under the temporary directory).

Forwarded headers (``X-Forwarded-Proto``...) are believed only from the service's
``trusted_proxies`` setting, the same addresses whose ``X-Forwarded-For`` the service
believes; by default from none.
"""

import glob
import ipaddress
import os
import tempfile
from contextlib import suppress

from soap_usestats.config import load_settings

bind = os.environ.get("USESTATS_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("USESTATS_WORKERS") or min(2 * (os.cpu_count() or 1) + 1, 8))
threads = int(os.environ.get("USESTATS_THREADS") or 4)
timeout = 60           # a worker silent this long is restarted
graceful_timeout = 30  # requests in progress get this long to finish on stop or reload
keepalive = 5
proc_name = "soap-usestats"
accesslog = None       # the service logs one line per request itself
errorlog = "-"
loglevel = os.environ.get("USESTATS_LOG_LEVEL", "info").lower()
forwarded_allow_ips = ",".join(str(ipaddress.ip_network(network, strict=False))
                               for network in load_settings().trusted_proxies)

# Set before anything imports prometheus_client, which picks its mode at import.
metrics_dir = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", os.path.join(
    os.environ.get("RUNTIME_DIRECTORY") or tempfile.gettempdir(), f"soap-usestats-metrics-{os.getpid()}"))
os.makedirs(metrics_dir, mode=0o700, exist_ok=True)


def _clear_metrics() -> None:
    for path in glob.glob(os.path.join(metrics_dir, "*.db")):
        os.remove(path)


def on_starting(server):
    """Start from zero: figures left by an earlier run would be counted again."""
    _clear_metrics()


def child_exit(server, worker):
    """A worker's figures stay counted once it is gone; its live gauges do not."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    _clear_metrics()
    with suppress(OSError):
        os.rmdir(metrics_dir)
