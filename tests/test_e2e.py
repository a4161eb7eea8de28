"""End to end: gunicorn serves the WSGI application; zeep imports the WSDL and calls it."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal

import pytest
import zeep
from lxml import etree
from sqlalchemy.engine import make_url
from zeep.helpers import serialize_object

from tests.support.answers import assert_same_answer
from tests.support.databases import fresh_database
from tests.support.examples import grades, worked_example
from tests.support.moodle import MoodleBuilder
from tests.support.servers import TcpProxy, gunicorn

pytestmark = pytest.mark.e2e

TNS = "urn:soap-usestats:1"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WINDOW = dict(timefrom=0, timeto=100000)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'moodle.sqlite'}"
    builder = MoodleBuilder(url)
    grades(builder, worked_example(builder))
    token = builder.admin_token()
    builder.engine.dispose()
    with gunicorn(url) as soap_url:
        yield soap_url, token


@pytest.fixture(scope="module")
def client(service):
    return token_client(*service)


def token_client(soap_url: str, token: str) -> zeep.Client:
    """A zeep client of the WSDL, calling the endpoint with a web service token."""
    client = zeep.Client(f"{soap_url}?wsdl")
    client.service._binding_options["address"] = f"{soap_url}?wstoken={token}"
    return client


def post(service: tuple[str, str], body: bytes, headers: dict | None = None) -> tuple[int, bytes]:
    soap_url, token = service
    request = urllib.request.Request(f"{soap_url}?wstoken={token}", data=body, method="POST",
                                     headers={"Content-Type": "text/xml; charset=utf-8", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def envelope(body: str) -> bytes:
    return (f'<e:Envelope xmlns:e="{SOAP_ENV}" xmlns:u="{TNS}"><e:Body>{body}</e:Body>'
            "</e:Envelope>").encode()


def fault_of(response: bytes) -> tuple[str, str, int]:
    """faultcode (without prefix), faultstring and MNET status of a fault response."""
    root = etree.fromstring(response)
    fault = root.find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    assert [child.tag for child in fault] == ["faultcode", "faultstring", "detail"]
    status = fault.find(f"detail/{{{TNS}}}UseStatsFault/{{{TNS}}}status")
    return fault.findtext("faultcode").split(":", 1)[1], fault.findtext("faultstring"), int(status.text)


@pytest.mark.parametrize("scope", ["site", "1", "course", "2", "module", "3"])
def test_get_stats_every_scope(client, scope):
    stats = client.service.GetStats(targetuser="alice", statsscope=scope, sessions=True, **WINDOW)
    assert (stats.USER.USERNAME, stats.USER.FROM, stats.USER.ELAPSED) == ("alice", 0, 46)
    assert stats.USER.SECONDS == 2800
    if scope in ("course", "2"):
        (course,) = stats.COURSES.COURSE
        assert (course.SHORTNAME, course.ELAPSED, course.SECONDS) == ("C5", 45, 2740)
        assert stats.MODULES is None
    elif scope in ("module", "3"):
        (module,) = stats.MODULES.MODULE
        assert (module.NAME, module.TYPE, module.IDNUMBER, module.ELAPSED) == ("Quiz one", "quiz", "Q1", 25)
        assert stats.COURSES is None
    else:
        assert stats.COURSES is None and stats.MODULES is None
    assert [(s.START.timestamp(), s.SECONDS) for s in stats.SESSIONS.SESSION] == [(1000, 1900), (11000, 900)]


def test_get_stats_by_idnumber_with_json(client):
    stats = client.service.GetStats(targetuser="E1001", targetuserfield="idnumber",
                                    statsscope="course", json_response=True, sessions=True,
                                    **WINDOW)
    document = json.loads(stats.JSON)
    assert document["USER"]["ELAPSED"] == 46
    assert document["COURSES"][0]["SHORTNAME"] == "C5" and document["COURSES"][0]["SECONDS"] == 2740
    assert document["SESSIONS"][0]["START"] == "1970-01-01T00:16:40Z"


def test_get_scores_global_and_items(client):
    scores = client.service.GetScores(targetuser="alice", courseidfield="shortname",
                                      courseidentifier="C5")
    assert (scores.SCORE, scores.GRADEMAX, scores.ITEMS) == (Decimal("72.50000"), Decimal("100.00000"), None)
    scores = client.service.GetScores(targetuser="alice", courseidfield="idnumber",
                                      courseidentifier="CRS-5", scorescope="notes/items",
                                      json_response=True)
    assert [(i.NAME, i.TYPE, i.SCORE) for i in scores.ITEMS.ITEM] == [
        ("Quiz one", "quiz", Decimal("7.25000")), ("Oral", "manual", None),
        ("Assessments", "category", None)]
    assert json.loads(scores.JSON)["SCORE"] == "72.50000"


@pytest.mark.parametrize("call, code, status", [
    (dict(targetuser="nobody"), "Client.UnknownUser", 520),
    (dict(targetuser="alice", statsscope="weekly"), "Client.InvalidParameter", 503),
    (dict(targetuser="alice", timefrom=10, timeto=5), "Client.InvalidParameter", 503),
    (dict(targetuser="alice", whereroot="https://elsewhere.test"), "Client.UnknownHost", 502),
])
def test_get_stats_faults(client, call, code, status):
    with pytest.raises(zeep.exceptions.Fault) as raised:
        client.service.GetStats(**call)
    assert raised.value.code.endswith(code)
    assert raised.value.detail.find(f"{{{TNS}}}UseStatsFault/{{{TNS}}}status").text == str(status)


def test_get_scores_unknown_course(client):
    with pytest.raises(zeep.exceptions.Fault) as raised:
        client.service.GetScores(targetuser="alice", courseidfield="shortname", courseidentifier="NOPE")
    assert raised.value.code.endswith("Client.UnknownCourse")
    assert "NOPE" in raised.value.message


@pytest.mark.parametrize("body, code", [
    (b"this is not xml", "Client.InvalidXML"),
    (envelope("<u:DropTables/>"), "Client.InvalidXML"),
    (envelope("<u:GetStats><u:targetuser>alice</u:targetuser><u:timefrom>soon</u:timefrom></u:GetStats>"),
     "Client.InvalidParameter"),
    (envelope("<u:GetStats><u:statsscope>site</u:statsscope></u:GetStats>"), "Client.InvalidParameter"),
])
def test_malformed_requests_are_client_faults(service, body, code):
    status, response = post(service, body)
    assert status == 500
    faultcode, message, mnet = fault_of(response)
    assert faultcode == code and mnet == 503
    assert "Traceback" not in message and "/" not in message


@pytest.mark.parametrize("headers", [{}, {"SOAPAction": '"GetStats"'}, {"SOAPAction": '""'}])
def test_soapaction_is_optional(service, headers):
    body = envelope("<u:GetStats><u:targetuser>alice</u:targetuser><u:timefrom>0</u:timefrom>"
                    "<u:timeto>100000</u:timeto></u:GetStats>")
    status, response = post(service, body, headers)
    assert status == 200
    answer = etree.fromstring(response)
    assert answer.findtext(f".//{{{TNS}}}ELAPSED") == "46"
    assert answer.findtext(f".//{{{TNS}}}FIRSTACCESS") == "1970-01-01T00:16:40Z"


def test_wsdl_address_comes_from_configuration_not_host(service):
    soap_url, _ = service
    request = urllib.request.Request(f"{soap_url}?wsdl", headers={"Host": "attacker.example"})
    with urllib.request.urlopen(request, timeout=10) as response:
        wsdl = etree.fromstring(response.read())
    (address,) = wsdl.iter("{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address.get("location") == soap_url


def test_database_outage_and_recovery(tmp_path):
    """Cut the service off from PostgreSQL: DatabaseUnavailable; reconnect: answers again."""
    url, drop = fresh_database("postgresql", tmp_path)
    try:
        builder = MoodleBuilder(url)
        worked_example(builder)
        token = builder.admin_token()
        builder.engine.dispose()
        target = make_url(url)
        proxy = TcpProxy(target.port)
        proxy.start()
        with gunicorn(target.set(port=proxy.port).render_as_string(hide_password=False)) as soap:
            client = token_client(soap, token)
            assert client.service.GetStats(targetuser="alice", **WINDOW).USER.ELAPSED == 46
            proxy.stop()
            with pytest.raises(zeep.exceptions.Fault) as raised:
                client.service.GetStats(targetuser="alice", **WINDOW)
            assert raised.value.code.endswith("Server.DatabaseUnavailable")
            assert str(proxy.port) not in raised.value.message
            proxy.start()
            assert client.service.GetStats(targetuser="alice", **WINDOW).USER.ELAPSED == 46
            proxy.stop()
    finally:
        drop()


def json_call(service: tuple[str, str], operation: str, **params) -> tuple[int, dict]:
    soap_url, token = service
    query = urllib.parse.urlencode({"wstoken": token, **params})
    url = f"{soap_url.removesuffix('/soap')}/json/{operation}?{query}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.mark.parametrize("scope", ["site", "course", "module"])
def test_soap12_and_json_read_the_same_figures_as_soap11(service, client, scope):
    soap_url, token = service
    ask = dict(targetuser="alice", statsscope=scope, **WINDOW)
    soap11 = serialize_object(client.service.GetStats(**ask), dict)
    soap12 = serialize_object(token_client(soap_url + "12", token).service.GetStats(**ask), dict)
    assert_same_answer(soap12, soap11)
    status, document = json_call(service, "GetStats", **ask)
    assert status == 200
    assert_same_answer(document,
                       json.loads(client.service.GetStats(**ask, json_response=True).JSON))


def test_scores_over_soap12_and_json(service, client):
    soap_url, token = service
    ask = dict(targetuser="alice", courseidfield="shortname", courseidentifier="C5",
               scorescope="notes/items")
    soap11 = client.service.GetScores(**ask, json_response=True)
    soap12 = token_client(soap_url + "12", token).service.GetScores(**ask)
    assert serialize_object(soap12, dict) == {**serialize_object(soap11, dict), "JSON": None}
    assert json_call(service, "GetScores", **ask) == (200, json.loads(soap11.JSON))


def test_soap12_faults_are_sender_faults_with_the_contract_code(service):
    soap_url, token = service
    with pytest.raises(zeep.exceptions.Fault) as raised:
        token_client(soap_url + "12", token).service.GetStats(targetuser="nobody")
    assert raised.value.code.endswith("Sender")
    assert [etree.QName(code).localname for code in raised.value.subcodes] == ["Client.UnknownUser"]
    assert raised.value.detail.find(f"{{{TNS}}}UseStatsFault/{{{TNS}}}status").text == "520"


@pytest.mark.parametrize("params, status, code", [
    (dict(targetuser="nobody"), 400, "Client.UnknownUser"),
    (dict(targetuser="alice", statsscope="weekly"), 400, "Client.InvalidParameter"),
    (dict(targetuser="alice", wstoken="0" * 32), 401, "Client.AuthenticationFailed"),
])
def test_json_faults(service, params, status, code):
    answer = json_call(service, "GetStats", **params)
    assert answer[0] == status
    assert answer[1]["faultcode"] == code and isinstance(answer[1]["status"], int)


def test_a_json_401_challenges_for_http_basic(service):
    soap_url, _ = service
    base = soap_url.removesuffix("/soap")
    for query in ("targetuser=alice", "targetuser=alice&wstoken=" + "0" * 32):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/json/GetStats?{query}", timeout=10)
        assert refused.value.code == 401
        assert refused.value.headers["WWW-Authenticate"] == 'Basic realm="soap_usestats", charset="UTF-8"'
        assert json.load(refused.value)["faultcode"] == "Client.AuthenticationFailed"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{base}/json/GetStats?targetuser=nobody&wstoken={service[1]}", timeout=10)
    assert refused.value.code == 400 and "WWW-Authenticate" not in refused.value.headers


@pytest.mark.parametrize("path", ["/json", "/json/"])
def test_json_without_an_operation_says_how_to_call_one(service, path):
    base = service[0].removesuffix("/soap")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(base + path, timeout=10)
    assert refused.value.code == 400
    fault = json.load(refused.value)
    assert fault["faultcode"] == "Client.InvalidXML"
    assert "/json/GetStats?targetuser=" in fault["faultstring"]
    assert "GetStats, GetScores, GetUsersStats" in fault["faultstring"]
    assert "None" not in fault["faultstring"]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(base + path, data=b"{}"), timeout=10)
    assert refused.value.code == 405 and refused.value.headers["Allow"] == "GET"
