"""The operations: typed by Spyne, thin, and delegating to the site.

One service class, served by each protocol's Spyne application (one port per
WSDL). An operation builds its request (``domain.requests``) from the parameters
Spyne decoded, passes it with the authenticated caller to the sites, then shapes
the plain answer into the contract's message. A parameter reaches the request by
its name: a new one is declared here and is a field of the request, nothing more.

What each operation and parameter means is said here, in the model (docstrings
and ``doc=``): the WSDL carries it as documentation, and the page for people at
``GET /soap`` (``web.help``) shows the same text.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from typing import TypeVar

from spyne import Application, Boolean, Integer32, Service, Unicode, rpc
from spyne.model.fault import Fault
from spyne.protocol import ProtocolBase

from ..auth.caller import Caller, CallingUser
from ..domain.requests import Request, ScoresRequest, StatsRequest, UsersStatsRequest
from ..federation.network import Network
from ..namespaces import SOAP_HTTP, TNS
from . import shaping
from .messages import CallingUser as CallingUserMessage
from .messages import TargetUsers, UserScores, UsersStats, UseStats, UseStatsFault
from .protocols import ContractSoap11


def _text(doc: str, required: bool = False):
    """A string parameter documented with ``doc``; required ones are not nillable."""
    return Unicode(min_occurs=1, nillable=False, doc=doc) if required else Unicode(doc=doc)


#: The type's own documentation is the parameter's (a complex type customised with
#: ``doc`` would give its documentation to the type itself in the WSDL).
_CALLINGUSER = CallingUserMessage
_TARGETUSER = _text("The user whose figures are asked for: a username, unless "
                    "targetuserfield names another field.", required=True)
_TARGETUSERFIELD = _text("The user field targetuser matches: username (the default), "
                         "idnumber, email (in any case) or id.")
_WHEREROOT = _text("The Moodle site (its wwwroot) to answer for: empty or this site's own "
                   "wwwroot, or another site the service is configured for; an unknown one is "
                   "Client.UnknownHost.")
_WHEREROOT_ALL = _text("As for the other operations, or * (every site): the figures summed over "
                       "every configured site where the user exists, each course and module "
                       "with its SITE, and SITES.")
_DAILY = Boolean(doc="When true, the user and each course (statsscope course) also carry "
                      "DAYS: the time booked to each local date.")
_TIMEZONE = _text("The IANA time zone of the days (Europe/Paris...); default the site's "
                  "forcetimezone, else its timezone, else UTC.")
_STATSSCOPE = _text("The level of detail: site (the default) for the whole site, course for "
                    "each course, module for each activity; the MNET values 1, 2 and 3 mean "
                    "the same.")
_TIMEFROM = Integer32(doc="The window's start, a Unix time (seconds since 1970-01-01 UTC); "
                          "default 0.")
_TIMETO = Integer32(doc="The window's end, a Unix time; default now. timefrom must not be "
                        "after timeto.")
_COURSEIDFIELD = "The course field courseidentifier matches: id, shortname or idnumber."
_COURSEIDENTIFIER = "The course's value of that field."
_SESSIONS = Boolean(doc="When true, the answer also lists SESSIONS: each working session's "
                         "start, end and seconds. SESSIONCOUNT comes always.")
_JSON_RESPONSE = Boolean(doc="When true, the answer also carries JSON: the same figures as "
                             "one JSON document, for middleware that forwards strings.")


@dataclass(frozen=True)
class Call:
    """What an operation needs of its request (Spyne's ``ctx.udc``): the sites, who calls,
    and the services a forwarded call came through (``federation.chain``)."""

    site: Network
    caller: Caller
    via: tuple[str, ...] = ()


class OperationError(Fault):
    """An error of an operation, carried unchanged through Spyne to the edge (``error``)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(faultcode=getattr(error, "faultcode", "Server"), faultstring=str(error))
        self.error = error


class UseStatsApplication(Application):
    """The service's Spyne application: an operation's errors reach the edge as they were raised."""

    def call_wrapper(self, ctx):
        try:
            return super().call_wrapper(ctx)
        except Exception as error:
            raise OperationError(error) from error


def _calling_user(message: CallingUserMessage) -> CallingUser:
    return CallingUser(message.username, message.remoteuserhostroot, message.remotehostroot)


def _target_users(message: TargetUsers) -> tuple[str | None, ...] | None:
    return tuple(message.targetuser) if message.targetuser else None


#: How a parameter Spyne decodes as a message becomes a request's plain value.
_PLAIN = {"callinguser": _calling_user, "targetusers": _target_users}

R = TypeVar("R", bound=Request)


def request(kind: type[R], ctx) -> R:
    """The request of ``kind`` of the operation's parameters, as Spyne decoded them
    (``ctx.in_object``): each field from the parameter of its name; an absent one is left
    to the request's default."""
    given = {parameter.name: getattr(ctx.in_object, parameter.name, None)
             for parameter in fields(kind)}
    return kind(**{name: _PLAIN.get(name, _same)(value)
                   for name, value in given.items() if value is not None})


def _same(value):
    return value


class UseStatsService(Service):
    """Time spent on a Moodle site and grades, per user, course and activity."""

    @rpc(_CALLINGUSER, _TARGETUSER, _TARGETUSERFIELD, _WHEREROOT_ALL, _STATSSCOPE, _TIMEFROM,
         _TIMETO, _JSON_RESPONSE, _DAILY, _TIMEZONE, _SESSIONS,
         _returns=UseStats, _out_variable_name="USE_STATS", _throws=UseStatsFault)
    def GetStats(ctx, callinguser, targetuser, targetuserfield, whereroot, statsscope,
                 timefrom, timeto, json_response, daily, timezone, sessions):
        """Time one user spent on the site, in each course (statsscope course) or
        in each activity (statsscope module), within [timefrom, timeto]."""
        call: Call = ctx.udc
        stats = call.site.get_stats(request(StatsRequest, ctx), now=int(time.time()),
                                    caller=call.caller, via=call.via)
        answer = shaping.use_stats(stats)
        return shaping.with_json(answer) if json_response else answer

    @rpc(_CALLINGUSER, _TARGETUSER, _TARGETUSERFIELD, _WHEREROOT,
         _text("notes/global (the default): the course total only; notes/items: every "
               "scored grade item of the course too."),
         _text(_COURSEIDFIELD, required=True), _text(_COURSEIDENTIFIER, required=True),
         _JSON_RESPONSE,
         _returns=UserScores, _out_variable_name="USER_SCORES", _throws=UseStatsFault)
    def GetScores(ctx, callinguser, targetuser, targetuserfield, whereroot, scorescope,
                  courseidfield, courseidentifier, json_response):
        """Grades of one user in one course: the course total (scorescope notes/global)
        and every grade item (notes/items)."""
        call: Call = ctx.udc
        scores = call.site.get_scores(request(ScoresRequest, ctx), now=int(time.time()),
                                      caller=call.caller, via=call.via)
        answer = shaping.user_scores(scores)
        return shaping.with_json(answer) if json_response else answer

    @rpc(_CALLINGUSER, TargetUsers, _TARGETUSERFIELD, _WHEREROOT,
         _text(f"{_COURSEIDFIELD} With courseidentifier, the users enrolled in that course "
               "(any enrolment overlapping the window); not with targetusers."),
         _text(_COURSEIDENTIFIER),
         _STATSSCOPE, _TIMEFROM, _TIMETO, _DAILY, _TIMEZONE,
         Integer32(doc="Users per page, 1 to 1000; default 100. It may change from page to "
                       "page."),
         _text("The NEXTCURSOR of the previous page, with the same other parameters; absent "
               "for the first page."),
         _SESSIONS,
         Boolean(doc="When true, the users are those who completed a course in the window "
                     "(the course named by courseidentifier, when given): who completed what "
                     "since the last sync. Not with targetusers."),
         _returns=UsersStats, _out_variable_name="USERS_STATS", _throws=UseStatsFault)
    def GetUsersStats(ctx, callinguser, targetusers, targetuserfield, whereroot, courseidfield,
                      courseidentifier, statsscope, timefrom, timeto, daily, timezone, pagesize,
                      cursor, sessions, completed):
        """Time many users spent, one USE_STATS each as GetStats gives it, a page at a time in
        order of Moodle id: the users of targetusers, the users enrolled in a course, the users
        who completed a course (completed), or (with none of them) every user with time
        counted in the window. The site's guest user is never one of them."""
        call: Call = ctx.udc
        page = call.site.get_users_stats(request(UsersStatsRequest, ctx), now=int(time.time()),
                                         caller=call.caller, via=call.via)
        return shaping.users_stats(page)


def soap_application(in_protocol: ProtocolBase | None = None,
                     out_protocol: ProtocolBase | None = None) -> Application:
    """A Spyne application of the service; SOAP 1.1 document/literal unless told otherwise."""
    app = UseStatsApplication(
        [UseStatsService], tns=TNS, name="UseStats",
        in_protocol=in_protocol or ContractSoap11(validator="soft"),
        out_protocol=out_protocol or ContractSoap11(),
    )
    app.transport = SOAP_HTTP
    return app
