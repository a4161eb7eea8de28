"""Logging for operators: one line per request, warnings for failures, no client noise."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

log = logging.getLogger("soap_usestats.requests")


@dataclass
class RequestRecord:
    """What the request line tells of one request, filled in as the request goes."""

    method: str
    path: str
    #: The client's address, as ``trusted_proxies`` resolve it (``auth.addresses``).
    address: str = "-"
    operation: str = "-"
    caller: str = "-"
    outcome: str = "-"
    status: str = "-"

    def write(self, seconds: float) -> None:
        log.info("%s %s operation=%s caller=%s address=%s outcome=%s status=%s duration_ms=%.1f",
                 self.method, self.path, self.operation, self.caller, self.address or "-",
                 self.outcome, self.status, seconds * 1000)


def configure_logging() -> None:
    """Log to stderr at ``USESTATS_LOG_LEVEL`` (default INFO).

    Spyne logs every client fault with a stack trace; the request line already
    says how a request ended, so Spyne's client and protocol loggers are quieted.
    Its server logger keeps the stack traces of real defects.
    """
    logging.basicConfig(level=os.environ.get("USESTATS_LOG_LEVEL", "INFO").upper(), format=FORMAT)
    for name in ("spyne.application.client", "spyne.server", "spyne.protocol", "spyne.interface",
                 "spyne.model", "spyne.util"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
