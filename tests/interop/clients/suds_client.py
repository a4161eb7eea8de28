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

USER = ("USERNAME", "FROM", "ELAPSED", "SECONDS", "EVENTS", "FIRSTACCESS", "LASTACCESS")
COURSE = ("SHORTNAME", "ELAPSED", "SECONDS", "EVENTS")
MODULE = ("ID", "NAME", "TYPE", "IDNUMBER", "ELAPSED", "SECONDS", "EVENTS")
ITEM = ("NAME", "TYPE", "IDNUMBER", "SCORE", "GRADEMAX")
#: Required strings: suds reads an empty one (<IDNUMBER/>) as None.
TEXT = ("NAME", "TYPE", "IDNUMBER", "SHORTNAME", "USERNAME")


class NoSoapAction(HttpTransport):
    def send(self, request):
        del request.headers["SOAPAction"]
        return super().send(request)


def pick(value, names):
    """The named fields; xs:dateTime as Unix time, xs:decimal as text, no None for a string."""
    fields = {name: getattr(value, name, None) for name in names}
    fields.update({name: "" for name, v in fields.items() if v is None and name in TEXT})
    return {name: int(v.timestamp()) if hasattr(v, "timestamp") else v for name, v in fields.items()}


def members(answer, name, member):
    """The entries of a list element; an absent or empty list gives none."""
    return getattr(getattr(answer, name, None), member, None) or []


def figures(operation, answer):
    if operation == "GetUsersStats":
        return {"PAGES": len(answer),
                "USERS": [figures("GetStats", stats) for page in answer
                          for stats in getattr(page, "USE_STATS", None) or []]}
    if operation == "GetStats":
        return {"USER": pick(answer.USER, USER),
                "COURSES": [pick(c, COURSE) for c in members(answer, "COURSES", "COURSE")],
                "MODULES": [pick(m, MODULE) for m in members(answer, "MODULES", "MODULE")]}
    return {"USERNAME": answer.USER.USERNAME, "COURSE": answer.COURSE.SHORTNAME,
            "SCORE": getattr(answer, "SCORE", None), "GRADEMIN": answer.GRADEMIN,
            "GRADEMAX": answer.GRADEMAX, "ITEMS": [pick(i, ITEM) for i in members(answer, "ITEMS", "ITEM")]}


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
