"""Prometheus metrics: requests by operation and outcome, their latency, database errors.

Under gunicorn with several workers, each worker writes its figures into the
directory named by ``PROMETHEUS_MULTIPROC_DIR`` (``deploy/gunicorn.conf.py``
sets it up) and ``/metrics`` adds up every worker's; without that variable the
figures are this process's own. Labels hold operation names and fault codes
only: never a user name, a token or a parameter.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

#: Latency buckets in seconds: a WSDL or a small user in milliseconds, a large log in seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """The service's metrics, and their text exposition."""

    #: The classic text format, which every Prometheus version reads.
    CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

    def __init__(self) -> None:
        self._registry = CollectorRegistry()
        self._requests = Counter(
            "usestats_requests", "Requests by operation and outcome (ok or the faultcode).",
            ["operation", "outcome"], registry=self._registry)
        self._duration = Histogram(
            "usestats_request_duration_seconds", "Time to answer a request, by operation.",
            ["operation"], buckets=BUCKETS, registry=self._registry)
        self._database_errors = Counter(
            "usestats_database_errors", "Requests and health checks that could not reach the database.",
            registry=self._registry)

    def request(self, operation: str, outcome: str, seconds: float) -> None:
        """Count one answered request."""
        self._requests.labels(operation, outcome).inc()
        self._duration.labels(operation).observe(seconds)

    def database_error(self) -> None:
        """Count one failure to reach the database."""
        self._database_errors.inc()

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format, summed over every worker when there are several."""
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if not directory:
            return generate_latest(self._registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)
        return generate_latest(registry)
