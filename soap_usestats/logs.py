"""Logging for operators: one line per request, warnings for failures, no client noise."""

import logging
import os

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


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
