"""The figures the interop clients print, and the same figures from the engine or from raw XML.

Every client prints one JSON object per call, in the shape built here:

* GetStats: ``{"USER": {USER fields}, "COURSES": [{COURSE fields}], "MODULES": [{MODULE fields}]}``
* GetUsersStats, every page: ``{"PAGES": n, "USERS": [GetStats figures of each user]}``
* GetScores: ``{"USERNAME", "COURSE" (shortname), "SCORE", "GRADEMIN", "GRADEMAX", "ITEMS": [{ITEM fields}]}``

xs:dateTime values as Unix time; an absent value as null; an absent list as ``[]``.
Clients differ in how they write an xs:decimal (text, or a JSON number), so
:func:`comparable` reads every decimal as a :class:`~decimal.Decimal`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from lxml import etree

from soap_usestats.namespaces import TNS
from soap_usestats.soap.messages import UserScores, UsersStats, UseStats

USER = ("USERNAME", "FROM", "ELAPSED", "SECONDS", "EVENTS", "FIRSTACCESS", "LASTACCESS")
COURSE = ("SHORTNAME", "ELAPSED", "SECONDS", "EVENTS")
MODULE = ("ID", "NAME", "TYPE", "IDNUMBER", "ELAPSED", "SECONDS", "EVENTS")
ITEM = ("NAME", "TYPE", "IDNUMBER", "SCORE", "GRADEMAX")
INTEGERS = {"FROM", "ELAPSED", "SECONDS", "EVENTS", "ID"}
DATES = {"FIRSTACCESS", "LASTACCESS"}
DECIMALS = {"SCORE", "GRADEMIN", "GRADEMAX"}


def _pick(value: Any, names: tuple[str, ...]) -> dict:
    fields = {name: getattr(value, name, None) for name in names}
    return {name: int(v.timestamp()) if isinstance(v, datetime) else v for name, v in fields.items()}


def of_stats(stats: UseStats) -> dict:
    """The figures of an engine's ``USE_STATS``."""
    return {"USER": _pick(stats.USER, USER),
            "COURSES": [_pick(c, COURSE) for c in stats.COURSES or []],
            "MODULES": [_pick(m, MODULE) for m in stats.MODULES or []]}


def of_pages(pages: list[UsersStats]) -> dict:
    """The figures of every page of a GetUsersStats: how many pages, and each user's."""
    return {"PAGES": len(pages),
            "USERS": [of_stats(stats) for page in pages for stats in page.USE_STATS or []]}


def of_scores(scores: UserScores) -> dict:
    """The figures of an engine's ``USER_SCORES``."""
    return {"USERNAME": scores.USER.USERNAME, "COURSE": scores.COURSE.SHORTNAME,
            "SCORE": scores.SCORE, "GRADEMIN": scores.GRADEMIN, "GRADEMAX": scores.GRADEMAX,
            "ITEMS": [_pick(i, ITEM) for i in scores.ITEMS or []]}


def _text(element: etree._Element, name: str) -> Any:
    child = element.find(f"{{{TNS}}}{name}")
    if child is None:
        return None
    text = child.text or ""
    if name in INTEGERS:
        return int(text)
    if name in DATES:
        return int(datetime.fromisoformat(text).timestamp())
    return Decimal(text) if name in DECIMALS else text


def _xml_pick(element: etree._Element, names: tuple[str, ...]) -> dict:
    return {name: _text(element, name) for name in names}


def _xml_members(element: etree._Element, path: str) -> list[etree._Element]:
    return element.findall("/".join(f"{{{TNS}}}{step}" for step in path.split("/")))


def of_response(operation: str, body: bytes) -> dict:
    """The figures of a SOAP response as it came over the wire (read with lxml)."""
    answer = etree.fromstring(body).find(f".//{{{TNS}}}{operation}Response")[0]
    if operation == "GetStats":
        return {"USER": _xml_pick(answer.find(f"{{{TNS}}}USER"), USER),
                "COURSES": [_xml_pick(c, COURSE) for c in _xml_members(answer, "COURSES/COURSE")],
                "MODULES": [_xml_pick(m, MODULE) for m in _xml_members(answer, "MODULES/MODULE")]}
    return {"USERNAME": _text(answer.find(f"{{{TNS}}}USER"), "USERNAME"),
            "COURSE": _text(answer.find(f"{{{TNS}}}COURSE"), "SHORTNAME"),
            **_xml_pick(answer, ("SCORE", "GRADEMIN", "GRADEMAX")),
            "ITEMS": [_xml_pick(i, ITEM) for i in _xml_members(answer, "ITEMS/ITEM")]}


def comparable(figures: Any) -> Any:
    """``figures`` with every decimal field as a Decimal, so 71.6 and "71.60000" compare equal."""
    if isinstance(figures, list):
        return [comparable(item) for item in figures]
    if isinstance(figures, dict):
        return {name: Decimal(str(value)) if name in DECIMALS and value is not None else comparable(value)
                for name, value in figures.items()}
    return figures
