"""Call GetStats, GetScores or GetUsersStats (every page, following NEXTCURSOR) with zeep
and print the figures read, as JSON.

usage: zeep_client.py WSDL_URL ENDPOINT_URL OPERATION [name=value ...]
With NO_SOAPACTION=1 in the environment the request goes without a SOAPAction header.
"""

import json
import os
import sys

import zeep

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
#: Required strings: zeep reads an empty one (<IDNUMBER/>) as None.
TEXT = ("NAME", "TYPE", "IDNUMBER", "SHORTNAME", "USERNAME")


class NoSoapAction(zeep.Plugin):
    def egress(self, envelope, http_headers, operation, binding_options):
        del http_headers["SOAPAction"]
        return envelope, http_headers


def typed(name, value):
    """A value as zeep types it: xs:dateTime as Unix time, xs:date as YYYY-MM-DD (xs:decimal
    is printed as text); no None for a required string."""
    if value is None:
        return "" if name in TEXT else None
    if hasattr(value, "timestamp"):
        return int(value.timestamp())
    return value.isoformat() if hasattr(value, "isoformat") else value


def pick(value, names):
    """The named fields; an element's, None when it is absent; a list's entries, none when it
    is absent or empty."""
    fields = {}
    for name in names:
        if isinstance(name, str):
            fields[name] = typed(name, getattr(value, name))
        elif len(name) == 2:
            name, inner = name
            element = getattr(value, name)
            fields[name] = None if element is None else pick(element, inner)
        else:
            name, member, inner = name
            entries = getattr(value, name)
            fields[name] = [pick(entry, inner) for entry in getattr(entries, member)] if entries else []
    return fields


def figures(operation, answer):
    if operation == "GetUsersStats":
        return {"PAGES": len(answer),
                "USERS": [figures("GetStats", stats) for page in answer
                          for stats in page.USE_STATS or []]}
    if operation == "GetStats":
        return {"USER": pick(answer.USER, USER), **pick(answer, (COURSES, MODULES, SESSIONS))}
    return {"USERNAME": answer.USER.USERNAME, "COURSE": answer.COURSE.SHORTNAME,
            **pick(answer, SCORES)}


def call(service, operation, params):
    """The answer; for GetUsersStats the list of every page."""
    if operation != "GetUsersStats":
        return service[operation](**params)
    pages = [service.GetUsersStats(**params)]
    while pages[-1].NEXTCURSOR:
        pages.append(service.GetUsersStats(**params, cursor=pages[-1].NEXTCURSOR))
    return pages


def main(wsdl, endpoint, operation, *params):
    plugins = [NoSoapAction()] if os.environ.get("NO_SOAPACTION") else []
    client = zeep.Client(wsdl, plugins=plugins)
    service = client.create_service("{urn:soap-usestats:1}UseStats", endpoint)
    answer = call(service, operation, dict(param.split("=", 1) for param in params))
    print(json.dumps(figures(operation, answer), default=str))


if __name__ == "__main__":
    main(*sys.argv[1:])
