"""The operations: thin, typed, and delegating to the site.

One service class, served by each protocol's Spyne application (one port per WSDL).
Each call first authenticates its caller, then asks the site, which decides what
the caller may see.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from spyne import Boolean, Integer32, Service, Unicode, rpc

from . import reports
from .caller import Caller
from .exceptions import UseStatsError
from .faults import from_error
from .messages import CallingUser, UserScores, UseStats, UseStatsFault
from .site import MoodleSite

#: Where the caller's label is kept in the WSGI environ, for the request log.
IDENTITY_KEY = "soap_usestats.identity"

_Text = Unicode
_Required = Unicode(min_occurs=1, nillable=False)


@dataclass
class Call:
    """What an operation needs of its request (Spyne's ``ctx.udc``): the site, and who calls."""

    site: MoodleSite
    authenticator: Callable[[dict], Caller]
    caller: Caller | None = None

    def authenticate(self, environ: dict) -> None:
        self.caller = self.authenticator(environ)
        environ[IDENTITY_KEY] = self.caller.label


class UseStatsService(Service):
    """Time spent on a Moodle site and grades, per user, course and activity."""

    @classmethod
    def call_wrapper(cls, ctx, args=None):
        """Authenticate the caller, then run the operation; errors become the contract's faults."""
        try:
            ctx.udc.authenticate(ctx.transport.req_env)
            return super().call_wrapper(ctx, args)
        except UseStatsError as error:
            raise from_error(error) from error

    @rpc(CallingUser, _Required, _Text, _Text, _Text, Integer32, Integer32, Boolean,
         _returns=UseStats, _out_variable_name="USE_STATS", _throws=UseStatsFault)
    def GetStats(ctx, callinguser, targetuser, targetuserfield, whereroot, statsscope,
                 timefrom, timeto, json_response):
        """Time one user spent on the site, in each course (statsscope course) or
        in each activity (statsscope module), within [timefrom, timeto]."""
        result = ctx.udc.site.get_stats(targetuser, targetuserfield, whereroot, statsscope,
                                        timefrom, timeto, now=int(time.time()),
                                        caller=ctx.udc.caller, callinguser=callinguser)
        return reports.with_json(result) if json_response else result

    @rpc(CallingUser, _Required, _Text, _Text, _Text, _Required, _Required, Boolean,
         _returns=UserScores, _out_variable_name="USER_SCORES", _throws=UseStatsFault)
    def GetScores(ctx, callinguser, targetuser, targetuserfield, whereroot, scorescope,
                  courseidfield, courseidentifier, json_response):
        """Grades of one user in one course: the course total (scorescope notes/global)
        and every grade item (notes/items)."""
        result = ctx.udc.site.get_scores(targetuser, targetuserfield, whereroot, scorescope,
                                         courseidfield, courseidentifier,
                                         caller=ctx.udc.caller, callinguser=callinguser)
        return reports.with_json(result) if json_response else result
