"""The figures the interop clients print, and the same figures from the engine or from raw XML.

Every client prints one JSON object per call, in the shape built here:

* GetStats: ``{"USER": {USER fields}, "COURSES": [{COURSE fields}], "MODULES": [{MODULE fields}],
  "SESSIONS": [{SESSION fields}]}``; in course scope each course's ``COMPLETION`` and ``GRADE``
  are ``{fields}``, or null when absent
* GetUsersStats, every page: ``{"PAGES": n, "USERS": [GetStats figures of each user]}``
* GetScores: ``{"USERNAME", "COURSE" (shortname), "SCORE", "GRADEMIN", "GRADEMAX", "ITEMS": [{ITEM fields}]}``

The fields are named below as the clients name them: a name, a list as ``(list,
member, fields)``, or an element as ``(element, fields)``. xs:dateTime values as Unix time, xs:date as ``YYYY-MM-DD``, xs:boolean
as true or false; an absent value as null; an absent list as ``[]`` (zeep, suds and
node-soap read an empty list element as absent, like an SAP proxy).
Clients differ in how they write an xs:decimal (text, or a JSON number), so
:func:`comparable` reads every decimal as a :class:`~decimal.Decimal`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from lxml import etree

from soap_usestats.namespaces import TNS
from soap_usestats.soap.messages import UserScores, UsersStats, UseStats

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
INTEGERS = {"FROM", "ELAPSED", "SECONDS", "EVENTS", "ID", "SESSIONCOUNT"}
DATETIMES = {"FIRSTACCESS", "LASTACCESS", "FINALBEFORE", "START", "END", "TIMEENROLLED",
             "TIMESTARTED", "TIMECOMPLETED"}
BOOLEANS = {"FINAL", "GRADED"}
DECIMALS = {"SCORE", "GRADEMIN", "GRADEMAX"}
#: xs:boolean's lexical values.
TRUTH = {"true": True, "1": True, "false": False, "0": False}


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return int(value.timestamp())
    return value.isoformat() if isinstance(value, date) else value


def _pick(value: Any, names: tuple) -> dict:
    """The named fields of an engine's message, where a list is a plain list."""
    fields = {}
    for name in names:
        if isinstance(name, str):
            fields[name] = _value(getattr(value, name, None))
        elif len(name) == 2:
            name, inner = name
            element = getattr(value, name, None)
            fields[name] = None if element is None else _pick(element, inner)
        else:
            name, _, inner = name
            fields[name] = [_pick(entry, inner) for entry in getattr(value, name, None) or []]
    return fields


def of_stats(stats: UseStats) -> dict:
    """The figures of an engine's ``USE_STATS``."""
    return {"USER": _pick(stats.USER, USER), **_pick(stats, (COURSES, MODULES, SESSIONS))}


def of_pages(pages: list[UsersStats]) -> dict:
    """The figures of every page of a GetUsersStats: how many pages, and each user's."""
    return {"PAGES": len(pages),
            "USERS": [of_stats(stats) for page in pages for stats in page.USE_STATS or []]}


def of_scores(scores: UserScores) -> dict:
    """The figures of an engine's ``USER_SCORES``."""
    return {"USERNAME": scores.USER.USERNAME, "COURSE": scores.COURSE.SHORTNAME,
            **_pick(scores, SCORES)}


def _text(element: etree._Element, name: str) -> Any:
    child = element.find(f"{{{TNS}}}{name}")
    if child is None:
        return None
    text = child.text or ""
    if name in INTEGERS:
        return int(text)
    if name in DATETIMES:
        return int(datetime.fromisoformat(text).timestamp())
    if name in BOOLEANS:
        return TRUTH[text]
    return Decimal(text) if name in DECIMALS else text


def _xml_pick(element: etree._Element, names: tuple) -> dict:
    fields = {}
    for name in names:
        if isinstance(name, str):
            fields[name] = _text(element, name)
        elif len(name) == 2:
            name, inner = name
            child = element.find(f"{{{TNS}}}{name}")
            fields[name] = None if child is None else _xml_pick(child, inner)
        else:
            name, member, inner = name
            fields[name] = [_xml_pick(entry, inner)
                            for entry in element.findall(f"{{{TNS}}}{name}/{{{TNS}}}{member}")]
    return fields


def of_response(operation: str, body: bytes) -> dict:
    """The figures of a SOAP response as it came over the wire (read with lxml)."""
    answer = etree.fromstring(body).find(f".//{{{TNS}}}{operation}Response")[0]
    if operation == "GetStats":
        return {"USER": _xml_pick(answer.find(f"{{{TNS}}}USER"), USER),
                **_xml_pick(answer, (COURSES, MODULES, SESSIONS))}
    return {"USERNAME": _text(answer.find(f"{{{TNS}}}USER"), "USERNAME"),
            "COURSE": _text(answer.find(f"{{{TNS}}}COURSE"), "SHORTNAME"),
            **_xml_pick(answer, SCORES)}


def comparable(figures: Any) -> Any:
    """``figures`` with every decimal field as a Decimal, so 71.6 and "71.60000" compare equal."""
    if isinstance(figures, list):
        return [comparable(item) for item in figures]
    if isinstance(figures, dict):
        return {name: Decimal(str(value)) if name in DECIMALS and value is not None else comparable(value)
                for name, value in figures.items()}
    return figures
