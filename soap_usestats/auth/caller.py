"""Who calls, as the edge authenticated it, and whom they may call for."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Caller:
    """The authenticated party of a request.

    A ``token`` caller presented a Moodle web service token from ``address``,
    and acts for its owner: ``userid``, once the home site accepted the token (the
    edge does so before decoding anything; a site checks a token not accepted yet).
    A client credential (HTTP Basic, UsernameToken) acts for its configured Moodle
    ``username``, or for the ``callinguser`` it asserts when it is ``trusted``.
    ``label`` names the caller in logs and never holds a secret.
    """

    label: str
    token: str | None = field(default=None, repr=False)
    address: str = ""
    userid: int | None = None
    username: str | None = None
    trusted: bool = False
    unrestricted: bool = False


@dataclass(frozen=True)
class CallingUser:
    """The Moodle identity a call is made for, in MNET form (``callinguser``)."""

    username: str | None = None
    remoteuserhostroot: str | None = None
    remotehostroot: str | None = None


#: The operator's own tools in-process (benchmarks, tests): sees everything.
#: Never built from a request.
OPERATOR = Caller(label="operator", unrestricted=True)
