"""Prometheus metrics: requests by operation and outcome, their latency, database errors;
and the ledger: whether it is in use, and by site its lag behind the log.

Under gunicorn with several workers, each worker writes its figures into the
directory named by ``PROMETHEUS_MULTIPROC_DIR`` (``deploy/gunicorn.conf.py``
sets it up) and ``/metrics`` adds up every worker's; without that variable the
figures are this process's own. The ledger's figures are read when ``/metrics``
is asked (``ledger.status``), the same whichever worker answers. Labels hold
operation names, fault codes and sites' wwwroots only: never a user name, a token or
a parameter.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from ..ledger.status import LedgerState

#: Latency buckets in seconds: a WSDL or a small user in milliseconds, a large log in seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """The service's metrics, and their text exposition."""

    #: The classic text format, which every Prometheus version reads.
    CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

    def __init__(self, ledger: Callable[[], LedgerState] | None = None) -> None:
        self._ledger = _LedgerCollector(ledger) if ledger is not None else None
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
        if self._ledger is not None:
            self._registry.register(self._ledger)

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
        if self._ledger is not None:
            registry.register(self._ledger)
        return generate_latest(registry)


class _LedgerCollector:
    """The ledger's gauges, read from its state at each collection."""

    def __init__(self, state: Callable[[], LedgerState]) -> None:
        self.state = state

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = self.state()
        yield GaugeMetricFamily("usestats_ledger_in_use",
                                "1 when the ledger answers what it holds; 0 when it is off, not "
                                "made yet or cannot be used (answers come from the log).",
                                value=1 if state.in_use else 0)
        rows = GaugeMetricFamily("usestats_ledger_rows_behind",
                                 "Log rows the ledger has not compiled yet, by site.",
                                 labels=["site"])
        seconds = GaugeMetricFamily("usestats_ledger_seconds_since_pass",
                                    "Seconds since the site's last compile pass ended.",
                                    labels=["site"])
        for lag in state.sites:
            rows.add_metric([lag.site], lag.rows)
            if lag.seconds is not None:
                seconds.add_metric([lag.site], lag.seconds)
        yield rows
        yield seconds
