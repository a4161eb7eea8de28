"""The authenticated party of a request, as the operations see it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    """The authenticated party of a request.

    A token acts for its owner (``userid``); a client credential acts for its
    configured Moodle ``username``, or for the ``callinguser`` it asserts when it
    is ``trusted``. ``label`` names the caller in logs and never holds a secret.
    """

    label: str
    userid: int | None = None
    username: str | None = None
    trusted: bool = False
    unrestricted: bool = False


#: The operator's own tools in-process (benchmarks, ``soap-usestats check``):
#: sees everything. Never built from a request.
OPERATOR = Caller(label="operator", unrestricted=True)
