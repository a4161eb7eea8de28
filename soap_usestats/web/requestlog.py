"""Logging for operators: one line per request, warnings for failures, no client noise."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..exceptions import ConfigError

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

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


def log_level(environ: Mapping[str, str] = os.environ) -> str:
    """``USESTATS_LOG_LEVEL`` (default INFO), checked."""
    level = environ.get("USESTATS_LOG_LEVEL", "").strip().upper() or "INFO"
    if level not in LEVELS:
        raise ConfigError(f"USESTATS_LOG_LEVEL must be one of {', '.join(LEVELS)}, not {level!r}")
    return level


def configure_logging() -> None:
    """Log to stderr at ``USESTATS_LOG_LEVEL`` (default INFO).

    Spyne logs every fault an operation raises with a stack trace (``spyne.application``
    a server fault, ``spyne.application.client`` a client's). The request line already
    says how a request ended and ``soap.faults`` logs a server fault's cause in one line,
    and a defect's (``Server.InternalError``) with its stack trace: Spyne's loggers are
    quieted, all but its critical errors.
    """
    logging.basicConfig(level=log_level(), format=FORMAT)
    for name in ("spyne.application", "spyne.server", "spyne.protocol", "spyne.interface",
                 "spyne.model", "spyne.util"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
