"""The page for people at GET /soap and /soap12, and the plain answer to other clients.

The page must say what the WSDL says, from the same model: every operation, every
parameter with its documentation, the answers' elements, an example the
service's own encoder wrote (and accepts), every fault of the contract, and
links to both WSDLs. It needs no credentials or database, loads nothing from
elsewhere, and a real browser renders it (headless Chromium, against gunicorn).
"""

from __future__ import annotations

import os
import re
import urllib.request
from pathlib import Path

import pytest
from lxml import etree
from lxml import html as lxml_html
from spyne.model.complex import Array, ComplexModelBase

from soap_usestats import exceptions
from soap_usestats.config import Settings
from soap_usestats.soap.service import soap_application
from soap_usestats.web import help as page_module
from soap_usestats.web.app import SOAP12_PATH, SOAP_PATH, create_app
from tests.support import browser
from tests.support.examples import WSDL_FILE
from tests.support.moodle import MoodleBuilder
from tests.support.servers import gunicorn
from tests.support.wsgi import WsgiClient

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
PUBLIC = "https://stats.example.com/soap"
XS = "{http://www.w3.org/2001/XMLSchema}"


@pytest.fixture(scope="module")
def app():
    # An empty in-memory database: the page reads nothing from Moodle.
    application = create_app(Settings(database_url="sqlite://", public_url=PUBLIC))
    yield application
    application.network.home.engine.dispose()


@pytest.fixture(scope="module")
def client(app) -> WsgiClient:
    return WsgiClient(app)


def page(client: WsgiClient, path: str = "/soap"):
    response = client.get(path, HTTP_ACCEPT=BROWSER)
    assert response.status == 200, response.body[:300]
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    return response


def text_of(document: bytes) -> str:
    """The page's text as a reader sees it: each piece of text apart, spaces collapsed."""
    body = lxml_html.fromstring(document).find("body")
    return " ".join(" ".join(body.itertext()).split())


def operations():
    return page_module.operations(soap_application())


# What the page says

@pytest.mark.parametrize("path", [SOAP_PATH, SOAP12_PATH])
def test_every_operation_and_parameter_with_its_meaning(client, path):
    shown = text_of(page(client, path).body)
    for method in operations():
        assert method.name in shown
        assert " ".join(method.doc.split()) in shown
        for parameter in page_module.parameters(method):
            assert parameter.doc, f"{method.name}.{parameter.name} has no documentation"
            assert parameter.name in shown and parameter.doc in shown
        for element in page_module.answer(method):
            assert element.doc, f"{method.name}: {element.name} has no documentation"
            assert element.name in shown and element.doc in shown


def _type_of(element: page_module.Element) -> str:
    """The complex type an element holds: its own, or its list's member type."""
    found = re.fullmatch(r"list of \w+ \((\w+)\)", element.type)
    return found.group(1) if found else element.type


@pytest.mark.parametrize("method", operations(), ids=lambda m: m.name)
def test_every_type_is_listed_with_its_elements_once(method):
    """Each complex type of an answer is listed with its elements the first time it comes;
    later it points to that place by the name of an element of the very same type."""
    elements = page_module.answer(method)
    listed: dict[str, str] = {}
    for n, element in enumerate(elements):
        kind = _type_of(element)
        if element.same_as:
            earlier = [e for e in elements[:n] if e.name == element.same_as]
            assert earlier and all(_type_of(e) == kind for e in earlier), element
        elif not kind.startswith("xs:") and element.name not in listed:
            listed[kind] = element.name
    model = method.out_message
    reachable, pending = set(), [kind for kind in model._type_info.values()]
    while pending:
        kind = pending.pop()
        if issubclass(kind, Array):
            pending.extend(kind._type_info.values())
        elif issubclass(kind, ComplexModelBase) and kind.get_type_name() not in reachable:
            reachable.add(kind.get_type_name())
            pending.extend(kind._type_info.values())
    assert reachable <= set(listed)


def test_the_elements_of_modules_and_sessions_are_shown(client):
    shown = text_of(page(client).body)
    for name in ("COURSEID", "COURSESHORTNAME", "START", "END", "ACTIVITYSECONDS", "WWWROOT"):
        assert f" {name} " in f" {shown} "
    assert "elements are those of DAYS above" not in shown


def test_finality_and_the_sessions_parameter_are_shown(client):
    shown = text_of(page(client).body)
    for name in ("FINALBEFORE", "FINAL", "sessions"):
        assert f" {name} " in f" {shown} "
    assert "SESSIONCOUNT comes always" in shown


def test_the_json_endpoint_is_shown(client):
    shown = text_of(page(client).body)
    assert "https://stats.example.com/json/GetStats?targetuser=ref.learner" in shown


def test_the_wsdl_documents_each_parameter_as_the_page_does():
    root = etree.parse(str(WSDL_FILE)).getroot()
    for method in operations():
        (wrapper,) = root.xpath(f"//xs:complexType[@name='{method.name}']",
                                namespaces={"xs": XS[1:-1]})
        documented = {e.get("name"): " ".join(e.findtext(f"{XS}annotation/{XS}documentation").split())
                      for e in wrapper.iter(f"{XS}element")}
        assert documented == {p.name: p.doc for p in page_module.parameters(method)}


def test_every_fault_of_the_contract(client):
    shown = text_of(page(client).body)
    codes = {kind.faultcode for kind, _ in page_module.FAULTS}

    def all_faults(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from all_faults(sub)

    # An error that refines another (a throttled client's refusal) answers the same code.
    assert {kind.faultcode for kind in all_faults(exceptions.UseStatsError)} <= codes
    for kind, meaning in page_module.FAULTS:
        assert f"{kind.faultcode} {page_module.status(kind)} {meaning}" in shown


def test_links_to_both_wsdls(client):
    for path in (SOAP_PATH, SOAP12_PATH):
        links = lxml_html.fromstring(page(client, path).body).xpath("//a/@href")
        assert {f"{PUBLIC}?wsdl", f"{PUBLIC}12?wsdl"} <= set(links)
    assert client.get("/soap", "wsdl").status == client.get("/soap12", "wsdl").status == 200


def test_self_contained_without_scripts(client):
    document = lxml_html.fromstring(page(client).body)
    assert not document.xpath("//script | //link | //img | //iframe | //object | //embed")
    assert not document.xpath("//@*[starts-with(name(), 'on')]")
    external = [href for href in document.xpath("//@href | //@src")
                if not href.startswith("#") and not href.startswith(PUBLIC)]
    assert external == []
    css = " ".join(document.xpath("//style/text()"))
    assert "url(" not in css and "@import" not in css and "@font-face" not in css


def test_no_credentials_and_nothing_about_users(tmp_path):
    """The same page whoever asks, on a site with users: it names none of them."""
    url = f"sqlite:///{tmp_path / 'moodle.sqlite'}"
    builder = MoodleBuilder(url)
    builder.user("zz.secret.learner", idnumber="ZZ-4711", email="zz@example.org")
    token = builder.admin_token()
    builder.engine.dispose()
    application = create_app(Settings(database_url=url))
    try:
        anonymous = WsgiClient(application).get("/soap", HTTP_ACCEPT=BROWSER)
        with_token = WsgiClient(application).get("/soap", f"wstoken={token}",
                                                 HTTP_ACCEPT=BROWSER)
    finally:
        application.network.home.engine.dispose()
    assert anonymous.status == with_token.status == 200
    assert anonymous.body == with_token.body
    for secret in (b"zz.secret", b"ZZ-4711", b"zz@example.org", token.encode()):
        assert secret not in anonymous.body


# The examples come from the service's own encoder and decoder

def test_the_example_request_is_one_the_service_accepts(app):
    protocol = app.protocols[SOAP_PATH]
    method = next(m for m in operations() if m.name == "GetStats")
    request = page_module.example_request(protocol.endpoint.app, method,
                                          page_module.EXAMPLE_PARAMETERS["GetStats"])
    envelope = etree.fromstring(request.encode())
    ctx = protocol.endpoint.match({"REQUEST_METHOD": "POST", "PATH_INFO": "/soap",
                                   "QUERY_STRING": "", "wsgi.url_scheme": "http",
                                   "SERVER_NAME": "x", "SERVER_PORT": "80"}, envelope)
    protocol.endpoint.decode(ctx)
    assert ctx.descriptor.name == "GetStats"
    assert ctx.in_object.targetuser == "ref.learner" and ctx.in_object.statsscope == "course"


def test_the_example_answer_is_the_worked_example(client):
    pre = lxml_html.fromstring(page(client).body).xpath("//section[@id='example']//pre/text()")
    answer = etree.fromstring(pre[1].encode())
    tns = "{urn:soap-usestats:1}"
    user = answer.find(f".//{tns}USE_STATS/{tns}USER")
    assert (user.findtext(f"{tns}ELAPSED"), user.findtext(f"{tns}SECONDS")) == ("46", "2800")
    course = answer.find(f".//{tns}COURSE")
    assert (course.findtext(f"{tns}ELAPSED"), course.findtext(f"{tns}SECONDS")) == ("45", "2740")
    assert user.findtext(f"{tns}FIRSTACCESS").endswith("Z")


def test_each_endpoint_shows_its_own_protocol(client):
    soap11 = text_of(page(client, "/soap").body)
    soap12 = text_of(page(client, "/soap12").body)
    assert "schemas.xmlsoap.org/soap/envelope" in soap11
    assert "www.w3.org/2003/05/soap-envelope" in soap12
    assert "SOAP 1.1 (this page)" in soap11 and "SOAP 1.2 (this page)" in soap12


# Other clients, other methods

@pytest.mark.parametrize("accept", [None, "*/*", "text/xml", "application/json",
                                    "text/html;q=0"])
def test_other_clients_get_a_plain_pointer(client, accept):
    response = client.get("/soap", HTTP_ACCEPT=accept)
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Vary"] == "Accept"
    assert f"{PUBLIC}?wsdl" in response.body.decode()


def test_the_page_varies_on_accept(client):
    assert page(client).headers["Vary"] == "Accept"


def test_head_is_answered_as_get(client):
    response = client.request("HEAD", "/soap", HTTP_ACCEPT=BROWSER)
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", [SOAP_PATH, SOAP12_PATH])
def test_other_methods_are_405_with_the_methods_allowed(client, method, path):
    response = client.request(method, path)
    assert response.status == 405
    assert response.headers["Allow"] == "GET, HEAD, POST"
    assert "?wsdl" in response.body.decode()


def test_operators_see_it_in_metrics(client):
    page(client)
    metrics = client.get("/metrics").body.decode()
    assert re.search(r'usestats_requests_total\{operation="help",outcome="ok"\} [1-9]', metrics)


# In a real browser

@pytest.mark.e2e
def test_chromium_renders_every_operation_and_parameter(tmp_path):
    browser.chromium()
    with gunicorn(f"sqlite:///{tmp_path / 'empty.sqlite'}") as soap_url:
        request = urllib.request.Request(soap_url, headers={"Accept": BROWSER})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.headers["Content-Type"].startswith("text/html")
        dom = lxml_html.fromstring(browser.dump_dom(soap_url))
        shot = browser.screenshot(soap_url, tmp_path / "help-page.png")
    assert dom.findtext(".//title").startswith("soap_usestats")
    for method in operations():
        (section,) = dom.xpath(f"//section[@id='{method.name}']")
        assert section.findtext("h2") == method.name
        rows = section.xpath(".//table[1]/tbody/tr")
        names = [row.xpath("string(td[1])").strip() for row in rows]
        assert names == [p.name for p in page_module.parameters(method)]
        meanings = [" ".join(row.xpath("string(td[4])").split()) for row in rows]
        assert meanings == [p.doc for p in page_module.parameters(method)]
    assert {"soap?wsdl", "soap12?wsdl"} <= {href.rsplit("/", 1)[1] for href in dom.xpath("//a/@href")
                                          if "?wsdl" in href}
    data = Path(shot).read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20000
    if published := os.environ.get("USESTATS_HELP_PAGE_PNG"):  # make help-page
        Path(published).write_bytes(data)
