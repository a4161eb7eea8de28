"""What the service writes for empty and missing values, as an ABAP consumer sees them.

An SAP proxy cannot tell an absent element from an empty one: both give the field's
initial value (0, '' or an initial timestamp). So a value that exists is always
written, even when empty or zero; only a value that does not exist is left out, and
never as xsi:nil. docs/clients.md tells ABAP consumers how to read the one case
where 0 and "none" differ: a score.
"""

from __future__ import annotations

import urllib.request

import pytest
from lxml import etree

from soap_usestats.namespaces import TNS

pytestmark = pytest.mark.e2e

XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


def call(service, operation: str, **params: str) -> etree._Element:
    """POST one call; the answer element (USE_STATS or USER_SCORES)."""
    body = "".join(f"<u:{name}>{value}</u:{name}>" for name, value in params.items())
    envelope = (f'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" xmlns:u="{TNS}">'
                f"<e:Body><u:{operation}>{body}</u:{operation}></e:Body></e:Envelope>").encode()
    request = urllib.request.Request(service.endpoint, data=envelope,
                                     headers={"Content-Type": "text/xml; charset=utf-8"})
    with urllib.request.urlopen(request, timeout=10) as response:
        root = etree.fromstring(response.read())
    assert not [e for e in root.iter() if e.get(XSI_NIL) is not None], "xsi:nil written"
    return root.find(f".//{{{TNS}}}{operation}Response")[0]


def names(element: etree._Element) -> list[str]:
    return [etree.QName(child).localname for child in element]


@pytest.mark.parametrize("scope, present, absent", [
    ("course", "COURSES", "MODULES"), ("module", "MODULES", "COURSES"), ("site", None, "COURSES")])
def test_no_activity_writes_zeros_and_the_scopes_empty_list(service, demo, scope, present, absent):
    stats = call(service, "GetStats", targetuser=demo.site.reference.username, statsscope=scope,
                 timefrom="1", timeto="2")
    user = stats.find(f"{{{TNS}}}USER")
    assert {name: user.findtext(f"{{{TNS}}}{name}") for name in ("ELAPSED", "SECONDS", "EVENTS")} == {
        "ELAPSED": "0", "SECONDS": "0", "EVENTS": "0"}
    assert "FIRSTACCESS" not in names(user) and "LASTACCESS" not in names(user)
    if present:
        assert len(stats.find(f"{{{TNS}}}{present}")) == 0
    assert absent not in names(stats)


def test_required_text_is_written_empty(service, demo):
    """A grade item without an idnumber has <IDNUMBER/>, not no IDNUMBER."""
    scores = call(service, "GetScores", targetuser=demo.learners["busy"].username,
                  scorescope="notes/items", courseidfield="shortname", courseidentifier="PM110")
    items = scores.findall(f"{{{TNS}}}ITEMS/{{{TNS}}}ITEM")
    assert all(names(item)[:3] == ["NAME", "TYPE", "IDNUMBER"] for item in items)
    assert "" in [item.findtext(f"{{{TNS}}}IDNUMBER") for item in items]


def test_a_missing_grade_is_left_out_and_said_so(service, demo):
    """No grade: no SCORE (the contract), GRADEMIN and GRADEMAX there, and GRADED false,
    so an ABAP consumer does not read the absent SCORE as a grade of 0."""
    scores = call(service, "GetScores", targetuser=demo.learners["ungraded"].username,
                  scorescope="notes/items", courseidfield="shortname", courseidentifier="PM110")
    assert "SCORE" not in names(scores) and {"GRADEMIN", "GRADEMAX"} <= set(names(scores))
    assert scores.findtext(f"{{{TNS}}}GRADED") == "false"
    for item in scores.findall(f"{{{TNS}}}ITEMS/{{{TNS}}}ITEM"):
        assert "SCORE" not in names(item) and "GRADEMAX" in names(item)
        assert item.findtext(f"{{{TNS}}}GRADED") == "false"


@pytest.mark.parametrize("asked", [{}, {"daily": "false", "sessions": "false"},
                                   {"daily": "true", "sessions": "true"}],
                         ids=["unasked", "false", "true"])
def test_days_and_sessions_are_written_only_when_asked(service, demo, asked):
    """FINALBEFORE and SESSIONCOUNT always; the DAYS of the user and of each course, and
    SESSIONS (a SESSION for each one counted), only when asked for."""
    listed = asked.get("daily") == "true"
    learner = demo.learners["reference"]
    stats = call(service, "GetStats", targetuser=learner.username, statsscope="course",
                 timefrom=str(learner.timefrom), timeto=str(learner.timeto), **asked)
    user = stats.find(f"{{{TNS}}}USER")
    course = stats.find(f"{{{TNS}}}COURSES/{{{TNS}}}COURSE")
    count = int(user.findtext(f"{{{TNS}}}SESSIONCOUNT"))
    assert count > 0 and "FINALBEFORE" in names(user)
    assert ("DAYS" in names(user), "DAYS" in names(course)) == (listed, listed)
    assert ("SESSIONS" in names(stats)) == listed
    assert len(stats.findall(f"{{{TNS}}}SESSIONS/{{{TNS}}}SESSION")) == (count if listed else 0)
