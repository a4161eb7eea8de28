"""Call GetStats, GetScores or GetUsersStats (every page, following NEXTCURSOR) with zeep
and print the figures read, as JSON.

usage: zeep_client.py WSDL_URL ENDPOINT_URL OPERATION [name=value ...]
With NO_SOAPACTION=1 in the environment the request goes without a SOAPAction header.
"""

import json
import os
import sys

import zeep

USER = ("USERNAME", "FROM", "ELAPSED", "SECONDS", "EVENTS", "FIRSTACCESS", "LASTACCESS")
COURSE = ("SHORTNAME", "ELAPSED", "SECONDS", "EVENTS")
MODULE = ("ID", "NAME", "TYPE", "IDNUMBER", "ELAPSED", "SECONDS", "EVENTS")
ITEM = ("NAME", "TYPE", "IDNUMBER", "SCORE", "GRADEMAX")
#: Required strings: zeep reads an empty one (<IDNUMBER/>) as None.
TEXT = ("NAME", "TYPE", "IDNUMBER", "SHORTNAME", "USERNAME")


class NoSoapAction(zeep.Plugin):
    def egress(self, envelope, http_headers, operation, binding_options):
        del http_headers["SOAPAction"]
        return envelope, http_headers


def pick(value, names):
    """The named fields; xs:dateTime as Unix time, xs:decimal as text, no None for a string."""
    fields = {name: getattr(value, name) for name in names}
    fields.update({name: "" for name, v in fields.items() if v is None and name in TEXT})
    return {name: int(v.timestamp()) if hasattr(v, "timestamp") else v for name, v in fields.items()}


def figures(operation, answer):
    if operation == "GetUsersStats":
        return {"PAGES": len(answer),
                "USERS": [figures("GetStats", stats) for page in answer
                          for stats in page.USE_STATS or []]}
    if operation == "GetStats":
        return {"USER": pick(answer.USER, USER),
                "COURSES": [pick(c, COURSE) for c in answer.COURSES.COURSE] if answer.COURSES else [],
                "MODULES": [pick(m, MODULE) for m in answer.MODULES.MODULE] if answer.MODULES else []}
    return {"USERNAME": answer.USER.USERNAME, "COURSE": answer.COURSE.SHORTNAME,
            "SCORE": answer.SCORE, "GRADEMIN": answer.GRADEMIN, "GRADEMAX": answer.GRADEMAX,
            "ITEMS": [pick(i, ITEM) for i in answer.ITEMS.ITEM] if answer.ITEMS else []}


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
