"""What a client asks of each operation: one plain request type per operation.

The edge (``soap.service``) builds a request once, from the parameters Spyne
decoded, and every layer passes it on whole: the network routes it by its
``whereroot``, another site is asked it (``federation``: a peer turns its fields
back into the operation's SOAP arguments), and the site answers it. So a new
parameter is a field here, a parameter of the operation in ``soap.service``, its
check in ``params`` and its use in the site: nothing in between changes.

A request holds what the client sent, unchecked: each field is ``None`` when the
parameter is absent (``False`` for a boolean), and a value is as it came (not
trimmed, not lowered). Checking is the site's, with ``params``, inside its
transaction: after it has authenticated the caller, so that a stranger learns
nothing of the parameters, and on the site that answers, so that a request
forwarded to another site reaches it as the client wrote it. The booleans are
read already: the edge's strict reading of the parameters (``soap.parameters``)
refused anything but ``true``, ``false``, ``1`` and ``0``.

A request knows nothing of SOAP: the edge turns Spyne's complex parameters into
plain values (``callinguser`` into a :class:`CallingUser`, ``targetusers`` into
a tuple). ``json_response`` stays at the edge: it says how the answer is written,
not what is asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..auth.caller import CallingUser


@dataclass(frozen=True, kw_only=True)
class Request:
    """What every operation is asked: on whose behalf, and of which site."""

    #: The operation's name in the contract.
    operation: ClassVar[str]

    callinguser: CallingUser | None = None
    whereroot: str | None = None


@dataclass(frozen=True, kw_only=True)
class _OneUser:
    """The one user a GetStats or GetScores is about."""

    targetuser: str | None = None
    targetuserfield: str | None = None


@dataclass(frozen=True, kw_only=True)
class FiguresRequest(Request):
    """What figures are asked for: the scope, the window, the days and the list of sessions
    (GetStats and GetUsersStats)."""

    statsscope: str | None = None
    timefrom: int | None = None
    timeto: int | None = None
    daily: bool = False
    timezone: str | None = None
    sessions: bool = False


@dataclass(frozen=True, kw_only=True)
class StatsRequest(_OneUser, FiguresRequest):
    """GetStats: one user's time."""

    operation: ClassVar[str] = "GetStats"


@dataclass(frozen=True, kw_only=True)
class UsersStatsRequest(FiguresRequest):
    """GetUsersStats: a page of many users' time."""

    operation: ClassVar[str] = "GetUsersStats"

    targetusers: tuple[str | None, ...] | None = None
    targetuserfield: str | None = None
    courseidfield: str | None = None
    courseidentifier: str | None = None
    pagesize: int | None = None
    cursor: str | None = None
    completed: bool = False


@dataclass(frozen=True, kw_only=True)
class ScoresRequest(_OneUser, Request):
    """GetScores: one user's grades in one course."""

    operation: ClassVar[str] = "GetScores"

    scorescope: str | None = None
    courseidfield: str | None = None
    courseidentifier: str | None = None
