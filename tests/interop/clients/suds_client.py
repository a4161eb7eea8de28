"""Call GetStats, GetScores or GetUsersStats (every page, following NEXTCURSOR) with suds
(suds-community) and print the figures read, as JSON.

usage: suds_client.py WSDL_URL ENDPOINT_URL OPERATION [name=value ...]
With NO_SOAPACTION=1 in the environment the request goes without a SOAPAction header.
"""

import json
import os
import sys

from suds.client import Client
from suds.transport.http import HttpTransport

#: The fields read: a name, a list as (list, member, fields), or an element as
#: (element, fields).
DAYS = ("DAYS", "DAY", ("DATE", "SECONDS", "FINAL"))
USER = ("USERNAME", "FROM", "ELAPSED", "SECONDS", "EVENTS", "FIRSTACCESS", "LASTACCESS",
        "SESSIONCOUNT", "FINALBEFORE", DAYS)
COMPLETION = ("COMPLETION", ("STATUS", "TIMEENROLLED", "TIMESTARTED", "TIMECOMPLETED"))
GRADE = ("GRADE", ("SCORE", "GRADEMIN", "GRADEMAX", "GRADED"))
COURSES = ("COURSES", "COURSE", ("SHORTNAME", "ELAPSED", "SECONDS", "EVENTS", DAYS, COMPLETION,
                                 GRADE))
MODULES = ("MODULES", "MODULE", ("ID", "NAME", "TYPE", "IDNUMBER", "ELAPSED", "SECONDS", "EVENTS"))
SESSIONS = ("SESSIONS", "SESSION", ("START", "END", "SECONDS"))
SCORES = ("SCORE", "GRADEMIN", "GRADEMAX",
          ("ITEMS", "ITEM", ("NAME", "TYPE", "IDNUMBER", "SCORE", "GRADEMAX")))
#: Required strings: suds reads an empty one (<IDNUMBER/>) as None.
TEXT = ("NAME", "TYPE", "IDNUMBER", "SHORTNAME", "USERNAME")


class NoSoapAction(HttpTransport):
    def send(self, request):
        del request.headers["SOAPAction"]
        return super().send(request)


def typed(name, value):
    """A value as suds types it: xs:dateTime as Unix time, xs:date as YYYY-MM-DD (xs:decimal
    stays text); no None for a required string."""
    if value is None:
        return "" if name in TEXT else None
    if hasattr(value, "timestamp"):
        return int(value.timestamp())
    return value.isoformat() if hasattr(value, "isoformat") else value


def pick(value, names):
    """The named fields, None when absent (an element's too); a list's entries, none when it
    is absent or empty."""
    fields = {}
    for name in names:
        if isinstance(name, str):
            fields[name] = typed(name, getattr(value, name, None))
        elif len(name) == 2:
            name, inner = name
            element = getattr(value, name, None)
            fields[name] = None if element is None else pick(element, inner)
        else:
            name, member, inner = name
            entries = getattr(getattr(value, name, None), member, None) or []
            fields[name] = [pick(entry, inner) for entry in entries]
    return fields


def figures(operation, answer):
    if operation == "GetUsersStats":
        return {"PAGES": len(answer),
                "USERS": [figures("GetStats", stats) for page in answer
                          for stats in getattr(page, "USE_STATS", None) or []]}
    if operation == "GetStats":
        return {"USER": pick(answer.USER, USER), **pick(answer, (COURSES, MODULES, SESSIONS))}
    return {"USERNAME": answer.USER.USERNAME, "COURSE": answer.COURSE.SHORTNAME,
            **pick(answer, SCORES)}


def call(service, operation, params):
    """The answer; for GetUsersStats the list of every page."""
    if operation != "GetUsersStats":
        return getattr(service, operation)(**params)
    pages = [service.GetUsersStats(**params)]
    while getattr(pages[-1], "NEXTCURSOR", None):
        pages.append(service.GetUsersStats(**params, cursor=pages[-1].NEXTCURSOR))
    return pages


def main(wsdl, endpoint, operation, *params):
    transport = NoSoapAction() if os.environ.get("NO_SOAPACTION") else HttpTransport()
    client = Client(wsdl, location=endpoint, transport=transport, cache=None)
    answer = call(client.service, operation, dict(param.split("=", 1) for param in params))
    print(json.dumps(figures(operation, answer), default=str))


if __name__ == "__main__":
    main(*sys.argv[1:])
