"""The SOAP operations: thin, typed, and delegating to the site.

One service class per Spyne application, so the WSDL has a single port.
"""

from __future__ import annotations

import time

from spyne import Boolean, Integer32, Service, Unicode, rpc

from . import reports
from .exceptions import UseStatsError
from .faults import from_error
from .messages import CallingUser, UserScores, UseStats, UseStatsFault

_Text = Unicode
_Required = Unicode(min_occurs=1, nillable=False)


class UseStatsService(Service):
    """Time spent on a Moodle site and grades, per user, course and activity."""

    @classmethod
    def call_wrapper(cls, ctx, args=None):
        # Authentication and authorisation of the caller belong here: before the
        # operation runs, so before any query (see the contract's Security section).
        try:
            return super().call_wrapper(ctx, args)
        except UseStatsError as error:
            raise from_error(error) from error

    @rpc(CallingUser, _Required, _Text, _Text, _Text, Integer32, Integer32, Boolean,
         _returns=UseStats, _out_variable_name="USE_STATS", _throws=UseStatsFault)
    def GetStats(ctx, callinguser, targetuser, targetuserfield, whereroot, statsscope,
                 timefrom, timeto, json_response):
        """Time one user spent on the site, in each course (statsscope course) or
        in each activity (statsscope module), within [timefrom, timeto]."""
        result = ctx.udc.get_stats(targetuser, targetuserfield, whereroot, statsscope,
                                   timefrom, timeto, now=int(time.time()))
        return reports.with_json(result) if json_response else result

    @rpc(CallingUser, _Required, _Text, _Text, _Text, _Required, _Required, Boolean,
         _returns=UserScores, _out_variable_name="USER_SCORES", _throws=UseStatsFault)
    def GetScores(ctx, callinguser, targetuser, targetuserfield, whereroot, scorescope,
                  courseidfield, courseidentifier, json_response):
        """Grades of one user in one course: the course total (scorescope notes/global)
        and every grade item (notes/items)."""
        result = ctx.udc.get_scores(targetuser, targetuserfield, whereroot, scorescope,
                                    courseidfield, courseidentifier)
        return reports.with_json(result) if json_response else result
