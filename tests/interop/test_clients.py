"""Four independent SOAP clients and curl read the engine's figures from the running service.

Each client imports the WSDL, calls GetStats at every scope and GetScores for the
course total and every item, with and without a SOAPAction header, and must read
what the engine computes in-process. The service's access log shows what each
client really sent: the Moodle token in the query string, and the SOAPAction.
"""

from __future__ import annotations

import pytest

from soap_usestats.demo.site import TERM_END, TERM_START
from tests.interop import figures
from tests.interop.conftest import COURSE, Learner
from tests.interop.runners import ALL, run

pytestmark = pytest.mark.e2e

#: Call name -> operation and the parameters besides the user, in the WSDL's order.
CALLS = {
    "site": ("GetStats", {"statsscope": "site"}),
    "course": ("GetStats", {"statsscope": "course"}),
    "module": ("GetStats", {"statsscope": "module"}),
    "notes/global": ("GetScores", {"scorescope": "notes/global"}),
    "notes/items": ("GetScores", {"scorescope": "notes/items"}),
}
CASES = [pytest.param(role, call, soapaction,
                      id=f"{role}-{call}-{'soapaction' if soapaction else 'no-soapaction'}")
         for role, soapaction in [("reference", True), ("busy", True), ("ungraded", True),
                                  ("reference", False)]
         for call in CALLS]


def request(call: str, learner: Learner) -> tuple[str, dict[str, str]]:
    operation, extra = CALLS[call]
    params = {"targetuser": learner.username, **extra}
    if operation == "GetStats":
        params |= {"timefrom": str(learner.timefrom), "timeto": str(learner.timeto)}
    else:
        params |= {"courseidfield": "shortname", "courseidentifier": COURSE}
    return operation, params


@pytest.mark.parametrize("client", ALL, ids=lambda client: client.name)
@pytest.mark.parametrize("role, call, soapaction", CASES)
def test_client_reads_the_engine_figures(client, role, call, soapaction, demo, service):
    operation, params = request(call, demo.learners[role])
    mark = service.mark()
    got = run(client, service.wsdl, service.endpoint, operation,
              [f"{name}={value}" for name, value in params.items()], soapaction)
    assert figures.comparable(got) == figures.comparable(demo.expected(operation, params))
    (sent,) = service.posts_since(mark)
    assert sent.query == f"wstoken={service.token}"
    assert sent.soapaction == (f'"{operation}"' if soapaction else client.without_soapaction)


def test_the_cases_carry_real_figures(demo):
    """The expected figures are not empty: the worked example, busy time, grades and no grade."""
    reference = demo.expected(*request("module", demo.learners["reference"]))
    assert (reference["USER"]["SECONDS"], reference["USER"]["ELAPSED"]) == (2800, 46)
    assert [(m["TYPE"], m["SECONDS"]) for m in reference["MODULES"]] == [("quiz", 1500)]
    busy = demo.expected(*request("course", demo.learners["busy"]))
    assert COURSE in [c["SHORTNAME"] for c in busy["COURSES"]] and busy["USER"]["ELAPSED"] > 60
    assert demo.expected(*request("notes/items", demo.learners["busy"]))["SCORE"] is not None
    ungraded = demo.expected(*request("notes/items", demo.learners["ungraded"]))
    assert ungraded["SCORE"] is None and ungraded["ITEMS"]
    assert all(item["SCORE"] is None for item in ungraded["ITEMS"])


@pytest.mark.parametrize("client", [c for c in ALL if c.name != "curl"], ids=lambda client: client.name)
def test_client_follows_the_cursor_over_three_pages(client, demo, service):
    params = {"statsscope": "course", "timefrom": str(TERM_START), "timeto": str(TERM_END),
              "pagesize": "1000"}
    everyone = len(demo.pages(params)[0].USE_STATS)
    params["pagesize"] = str(-(-everyone // 3))
    expected = demo.expected("GetUsersStats", params)
    assert expected["PAGES"] == 3 and len(expected["USERS"]) == everyone > 3
    got = run(client, service.wsdl, service.endpoint, "GetUsersStats",
              [f"{name}={value}" for name, value in params.items()])
    assert figures.comparable(got) == figures.comparable(expected)
