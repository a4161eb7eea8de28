"""No body under the size limit costs more than a bounded amount of work, with or without
credentials: the guard counts what lxml and Spyne handle in more than linear time.

Each case goes through the whole WSGI application, in-process.
"""

from __future__ import annotations

import time

import pytest

from soap_usestats.config import Settings
from soap_usestats.web import body as guard
from tests.security.conftest import TOKEN
from tests.support import HANG_SECONDS
from tests.support.wsgi import Response, envelope

XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
LIMIT = Settings().max_request_bytes
ASK = "<u:GetStats><u:targetuser>alice</u:targetuser></u:GetStats>"


def attributes(n: int) -> str:
    return " ".join(f'a{i}=""' for i in range(n))


def declarations(n: int) -> str:
    return " ".join(f'xmlns:p{i}="urn:p"' for i in range(n))


def extra(own: str = "", content: str = "") -> bytes:
    """A GetStats for alice with an extra header entry, which the service ignores: a body
    of five elements (Envelope, Header, Body, GetStats, targetuser), two namespaces (e, u),
    and the entry (``h:x``, with a third)."""
    return envelope(ASK, header=f'<h:x xmlns:h="urn:h" {own}>{content}</h:x>')


def on_an_element(n: int) -> bytes:
    return extra(attributes(n))


def spread(n: int) -> bytes:
    """``n`` attributes in all, on as few elements as the bound per element allows."""
    per = guard.MAX_ELEMENT_ATTRIBUTES
    return extra(content="".join(f"<h:y {attributes(min(per, n - start))}/>"
                                 for start in range(0, n, per)))


def in_scope(n: int) -> bytes:
    return extra(declarations(n - 3))


def declared(n: int) -> bytes:
    """``n`` namespace declarations in all, 32 an element past the envelope's and the entry's."""
    return extra(content="".join(f"<h:y {declarations(min(32, n - 3 - start))}/>"
                                 for start in range(0, n - 3, 32)))


def elements(n: int) -> bytes:
    return extra(content="<h:y/>" * (n - 6))


def on_get_stats(n: int) -> bytes:
    """``n`` attributes on the operation's element, which Spyne decodes."""
    return envelope(f"<u:GetStats {attributes(n)}><u:targetuser>alice</u:targetuser></u:GetStats>")


def typed(scope: int, count: int) -> bytes:
    """``count`` targetusers with an xsi:type, ``scope`` namespaces in scope at each: Spyne
    gathers every namespace in scope for each (lxml's nsmap)."""
    users = '<u:targetuser i:type="s:string">alice</u:targetuser>' * count
    return envelope(f'<u:GetStats xmlns:i="{XSI}" xmlns:s="{XSD}" {declarations(scope - 4)}>'
                    f"{users}</u:GetStats>")


def fill(build, limit: int = LIMIT) -> bytes:
    """``build(n)`` for the largest ``n`` whose body is within ``limit`` bytes."""
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if len(build(middle)) <= limit else (low, middle - 1)
    return build(low)


BOUNDS = [  # (bound, a body holding n of it, what the refusal says)
    pytest.param(guard.MAX_ELEMENT_ATTRIBUTES, on_an_element,
                 f"an element of the request has more than {guard.MAX_ELEMENT_ATTRIBUTES} "
                 "attributes", id="attributes-of-an-element"),
    pytest.param(guard.MAX_ATTRIBUTES, spread,
                 f"the request holds more than {guard.MAX_ATTRIBUTES} attributes",
                 id="attributes"),
    pytest.param(guard.MAX_NAMESPACES_IN_SCOPE, in_scope,
                 f"an element of the request has more than {guard.MAX_NAMESPACES_IN_SCOPE} "
                 "namespace declarations in scope", id="namespaces-in-scope"),
    pytest.param(guard.MAX_NAMESPACES, declared,
                 f"the request declares more than {guard.MAX_NAMESPACES} namespaces",
                 id="namespaces"),
    pytest.param(guard.MAX_ELEMENTS, elements,
                 f"the request holds more than {guard.MAX_ELEMENTS} elements", id="elements"),
]


def refused(response: Response, saying: str) -> None:
    """The contract's InvalidXML fault, its message holding ``saying``."""
    assert response.status == 500
    code, message, status = response.fault()
    assert (code, status) == ("Client.InvalidXML", 503), message
    assert saying in message, message


def elapsed(call) -> tuple[Response, float]:
    started = time.perf_counter()
    response = call()
    return response, time.perf_counter() - started


@pytest.mark.parametrize("bound, build, saying", BOUNDS)
def test_a_body_past_a_bound_is_refused_naming_it(soap, bound, build, saying):
    body = build(bound + 1)
    refused(soap.post(body), saying)
    refused(soap.post(body, QUERY_STRING=None), saying)


@pytest.mark.parametrize("bound, build, saying", BOUNDS)
def test_a_body_at_a_bound_passes_the_guard(soap, bound, build, saying):
    response = soap.post(build(bound))
    assert response.status == 200, response.body[:300]


@pytest.mark.parametrize("bound, build, saying", BOUNDS)
def test_the_most_a_body_can_hold_is_refused_quickly(soap, bound, build, saying):
    body = fill(build)
    for query in (None, f"wstoken={TOKEN}"):
        response, seconds = elapsed(lambda: soap.post(body, QUERY_STRING=query))
        refused(response, saying)
        assert seconds < HANG_SECONDS


@pytest.mark.parametrize("count", [10_000, 40_000, 60_000])
def test_the_issues_attribute_bodies_are_refused(soap, count):
    response, seconds = elapsed(lambda: soap.post(on_get_stats(count), QUERY_STRING=None))
    refused(response, f"more than {guard.MAX_ELEMENT_ATTRIBUTES} attributes")
    assert seconds < HANG_SECONDS


def test_xsi_types_under_many_namespaces_are_refused(soap):
    body = typed(10_000, 10_000)
    assert len(body) <= LIMIT
    response, seconds = elapsed(lambda: soap.post(body))
    refused(response, f"more than {guard.MAX_NAMESPACES_IN_SCOPE} namespace declarations")
    assert seconds < HANG_SECONDS


def test_xsi_types_at_the_bounds_reach_spyne(soap):
    body = typed(guard.MAX_NAMESPACES_IN_SCOPE, guard.MAX_ELEMENTS - 3)
    assert soap.post(body).fault()[0] == "Client.InvalidParameter"


def test_a_legitimate_large_request_fits_the_bounds(soap):
    users = "<u:targetuser>alice</u:targetuser>" * 1000  # the most targetusers may list
    body = envelope(f'<u:GetUsersStats xmlns:i="{XSI}"><u:targetusers>{users}</u:targetusers>'
                    "</u:GetUsersStats>")
    assert soap.post(body).status == 200
