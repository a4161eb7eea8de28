"""A request is held to its operation's declared parameters, over SOAP 1.1, SOAP 1.2 and JSON.

A misspelled parameter, a boolean other than true, false, 1 or 0, an integer out of
xs:int's range, a repeated value: each is ``Client.InvalidParameter`` naming the
parameter, never an answer that ignores it, and never a message in Spyne's words.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from itertools import groupby

import pytest
from lxml import etree
from spyne.protocol.http import HttpRpc

from soap_usestats.auth.clients import new_client, new_secret_key
from soap_usestats.config import Settings
from soap_usestats.exceptions import InvalidParameter
from soap_usestats.soap import parameters
from soap_usestats.soap.service import soap_application
from soap_usestats.web.app import create_app
from tests.support.examples import graded_example_site
from tests.support.wsgi import WsgiClient

TOKEN = "a" * 32
TNS = "urn:soap-usestats:1"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WINDOW = [("timefrom", "0"), ("timeto", "100000")]
ALICE = [("targetuser", "alice")]
COURSE = [("courseidfield", "shortname"), ("courseidentifier", "C5")]
#: What a message about a parameter never holds: Spyne's and Python's words.
INTERNALS = ("class", "spyne", "Traceback", "<", "[", "{", "could not be validated",
             "member", "frequency")


@dataclass
class Answer:
    status: int
    faultcode: str | None
    message: str | None
    body: bytes


@pytest.fixture(scope="module")
def moodle_url(tmp_path_factory) -> str:
    return graded_example_site(tmp_path_factory.mktemp("strict"), TOKEN)


@pytest.fixture(scope="module")
def service(moodle_url) -> WsgiClient:
    app = create_app(Settings(database_url=moodle_url))
    yield WsgiClient(app, QUERY_STRING=f"wstoken={TOKEN}")
    app.network.home.engine.dispose()


def soap_body(params: list[tuple[str, str]]) -> str:
    """The elements of ``params``: a dotted name is a part of its holder, and the parts
    of one holder given one after the other go into one element."""
    def holder_of(param: tuple[str, str]) -> str | None:
        return param[0].split(".", 1)[0] if "." in param[0] else None

    elements = []
    for holder, group in groupby(params, key=holder_of):
        if holder is None:
            elements += [f"<u:{name}>{value}</u:{name}>" for name, value in group]
        else:
            parts = [(name.split(".", 1)[1], value) for name, value in group]
            elements.append(f"<u:{holder}>{soap_body(parts)}</u:{holder}>")
    return "".join(elements)


def _fault_soap11(root: etree._Element) -> tuple[str, str]:
    fault = root.find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
    return fault.findtext("faultcode").split(":", 1)[1], fault.findtext("faultstring")


def _fault_soap12(root: etree._Element) -> tuple[str, str]:
    fault = root.find(f"{{{SOAP12}}}Body/{{{SOAP12}}}Fault")
    code = fault.findtext(f"{{{SOAP12}}}Code/{{{SOAP12}}}Subcode/{{{SOAP12}}}Value")
    return code.split(":", 1)[1], fault.findtext(f"{{{SOAP12}}}Reason/{{{SOAP12}}}Text")


def post(client: WsgiClient, version: str, operation: str, inner: str, header: str = "",
         **environ) -> Answer:
    """POST ``inner`` as the operation element's content, over SOAP ``version``."""
    namespace, path, content_type, read = {
        "1.1": (SOAP11, "/soap", "text/xml; charset=utf-8", _fault_soap11),
        "1.2": (SOAP12, "/soap12", "application/soap+xml; charset=utf-8", _fault_soap12),
    }[version]
    header = f"<e:Header>{header}</e:Header>" if header else ""
    body = (f'<e:Envelope xmlns:e="{namespace}" xmlns:u="{TNS}" xmlns:xsi="{XSI}">{header}'
            f"<e:Body><u:{operation}>{inner}</u:{operation}></e:Body></e:Envelope>").encode()
    response = client.post(body, path, CONTENT_TYPE=content_type, **environ)
    root = response.xml()
    if response.status == 200:
        return Answer(200, None, None, response.body)
    return Answer(response.status, *read(root), response.body)


def get_json(client: WsgiClient, operation: str, query: str) -> Answer:
    response = client.get(f"/json/{operation}", f"wstoken={TOKEN}&{query}" if query else
                          f"wstoken={TOKEN}")
    document = json.loads(response.body)
    if response.status == 200:
        return Answer(200, None, None, response.body)
    return Answer(response.status, document["faultcode"], document["faultstring"], response.body)


PROTOCOLS = ["soap11", "soap12", "json"]


def call(client: WsgiClient, protocol: str, operation: str,
         params: list[tuple[str, str]]) -> Answer:
    """Call ``operation`` with ``params`` (dotted names for parts) over ``protocol``."""
    if protocol == "json":
        return get_json(client, operation, urllib.parse.urlencode(params))
    return post(client, "1.1" if protocol == "soap11" else "1.2", operation, soap_body(params))


def assert_refused(answer: Answer, naming: str) -> None:
    """``answer`` is Client.InvalidParameter, and its message names ``naming`` in plain words."""
    assert answer.faultcode == "Client.InvalidParameter", answer.body[:400]
    assert answer.status in (400, 500)
    assert naming in answer.message, answer.message
    assert not [word for word in INTERNALS if word in answer.message], answer.message


# -- refused over every protocol ------------------------------------------------------------

REFUSED = [
    ("GetStats", ALICE + [("statscope", "course")], "statscope", "misspelled"),
    ("GetStats", ALICE + [("StatsScope", "course")], "StatsScope", "wrong-case"),
    ("GetStats", ALICE + [("daily", "yes")], "daily", "boolean-yes"),
    ("GetStats", ALICE + [("daily", "True")], "daily", "boolean-True"),
    ("GetStats", ALICE + [("daily", "on")], "daily", "boolean-on"),
    ("GetStats", ALICE + [("daily", "")], "daily", "boolean-empty"),
    ("GetStats", ALICE + [("json_response", "2")], "json_response", "boolean-2"),
    ("GetStats", ALICE + [("timeto", "99999999999")], "timeto", "int-over-range"),
    ("GetStats", ALICE + [("timeto", "2147483648")], "timeto", "int-just-over"),
    ("GetStats", ALICE + [("timefrom", "-2147483649")], "timefrom", "int-just-under"),
    ("GetStats", ALICE + [("timefrom", "soon")], "timefrom", "not-a-number"),
    ("GetStats", ALICE + [("timeto", "1.5")], "timeto", "decimal"),
    ("GetStats", ALICE + [("timeto", "1_000")], "timeto", "underscores"),
    ("GetStats", ALICE + [("timeto", "\u0661\u0662")], "timeto", "arabic-digits"),
    ("GetStats", ALICE + [("timeto", "9" * 5000)], "timeto", "5000-digits"),
    ("GetStats", ALICE + [("timeto", "")], "timeto", "int-empty"),
    ("GetStats", ALICE + [("timeto", "1"), ("timeto", "2")], "timeto", "repeated-int"),
    ("GetStats", ALICE + [("targetuser", "bob")], "targetuser", "repeated-string"),
    ("GetStats", [("statsscope", "site")], "targetuser is required", "missing-required"),
    ("GetStats", ALICE + [("callinguser.usrname", "admin")], "callinguser.usrname", "nested"),
    ("GetStats", ALICE + [("callinguser.username", "a"), ("callinguser.username", "b")],
     "callinguser.username", "nested-repeated"),
    ("GetStats", ALICE + [("daily", "true"), ("timezone", "x" * 5000)] + WINDOW,
     "timezone", "5000-character-timezone"),
    ("GetStats", ALICE + [("daily", "true"), ("timezone", "Europe")] + WINDOW,
     "timezone", "zone-directory"),
    ("GetScores", ALICE + [("courseidfield", "shortname"), ("courseidentifer", "C5")],
     "courseidentifer", "scores-misspelled"),
    ("GetScores", ALICE + COURSE + [("json_response", "yes")], "json_response", "scores-boolean"),
    ("GetScores", ALICE + [("courseidentifier", "C5")], "courseidfield is required",
     "scores-missing"),
    ("GetScores", ALICE + COURSE + [("scorescope", "notes/items")] * 2, "scorescope",
     "scores-repeated"),
    ("GetUsersStats", [("targetusers.targetusr", "alice")], "targetusers.targetusr",
     "users-nested-misspelled"),
    ("GetUsersStats", [("pagesize", "1e3")], "pagesize", "users-int"),
    ("GetUsersStats", [("pagesize", "99999999999")], "pagesize", "users-int-over-range"),
    ("GetUsersStats", [("daily", "yes")], "daily", "users-boolean"),
    ("GetUsersStats", [("statscope", "course")], "statscope", "users-misspelled"),
    ("GetUsersStats", [("cursor", "a"), ("cursor", "b")], "cursor", "users-repeated"),
    ("GetUsersStats", [("targetusers.targetuser", "alice"), ("completed", "true")],
     "completed", "completed-with-targetusers"),
]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("operation, params, naming", [case[:3] for case in REFUSED],
                         ids=[case[3] for case in REFUSED])
def test_refused_naming_the_parameter(service, protocol, operation, params, naming):
    assert_refused(call(service, protocol, operation, params), naming)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_misspelled_name_suggests_the_parameter(service, protocol):
    answer = call(service, protocol, "GetStats", ALICE + [("statscope", "course")])
    assert answer.message == "statscope is not a parameter of GetStats; did you mean statsscope?"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_boolean_says_what_it_may_be(service, protocol):
    answer = call(service, protocol, "GetStats", ALICE + [("daily", "yes")])
    assert answer.message == 'daily must be true, false, 1 or 0 (xs:boolean), not "yes"'


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("operation, params, name", [
    ("GetStats", ALICE, "sessions"), ("GetUsersStats", [], "sessions"),
    ("GetUsersStats", [], "completed")])
@pytest.mark.parametrize("text", ["yes", "True", ""])
def test_new_booleans_are_booleans(service, protocol, operation, params, name, text):
    answer = call(service, protocol, operation, params + [(name, text)])
    assert_refused(answer, name)
    assert answer.message in (f'{name} is empty; give true, false, 1 or 0 (xs:boolean), or '
                              f'leave {name} out',
                              f'{name} must be true, false, 1 or 0 (xs:boolean), not "{text}"')


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_integer_says_its_range(service, protocol):
    answer = call(service, protocol, "GetStats", ALICE + [("timeto", "99999999999")])
    assert answer.message == ('timeto must be a whole number from -2147483648 to 2147483647 '
                              '(xs:int), not "99999999999"')


# -- refused: what only SOAP can say ----------------------------------------------------------

SOAP_REFUSED = [
    ("GetStats", "<u:targetuser>alice</u:targetuser><statsscope>course</statsscope>",
     "statsscope is in no namespace; give it in the namespace urn:soap-usestats:1",
     "unqualified"),
    ("GetStats", '<u:targetuser>alice</u:targetuser><x:statsscope xmlns:x="urn:other">course'
                 "</x:statsscope>", "statsscope is in the namespace urn:other", "other-namespace"),
    ("GetStats", "<u:targetuser>alice</u:targetuser><u:callinguser><username>admin</username>"
                 "</u:callinguser>", "callinguser.username", "nested-unqualified"),
    ("GetStats", "<u:targetuser><u:x>alice</u:x></u:targetuser>", "targetuser holds markup",
     "element-in-text"),
    ("GetStats", "<u:targetuser>al<!-- -->ice</u:targetuser>", "targetuser holds markup",
     "comment-in-text"),
    ("GetStats", "<u:targetuser>alice</u:targetuser><u:callinguser>admin</u:callinguser>",
     "callinguser holds text", "text-in-holder"),
    ("GetStats", "<u:targetuser>alice</u:targetuser>course", "GetStats holds text",
     "text-in-operation"),
    ("GetStats", '<u:targetuser statsscope="course">alice</u:targetuser>',
     "attribute statsscope", "attribute-on-parameter"),
    ("GetStats", '<u:targetuser xsi:nil="true"/>', "targetuser cannot be nil", "nil-required"),
    ("GetStats", '<u:targetuser>alice</u:targetuser><u:timeto xsi:nil="true">5</u:timeto>',
     "timeto is nil", "nil-with-value"),
    ("GetStats", '<u:targetuser>alice</u:targetuser><u:timeto xsi:nil="maybe"/>',
     "xsi:nil of timeto", "nil-not-boolean"),
    ("GetUsersStats", "<u:targetusers>alice</u:targetusers>", "targetusers holds text",
     "list-as-text"),
]


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize("operation, inner, naming", [case[:3] for case in SOAP_REFUSED],
                         ids=[case[3] for case in SOAP_REFUSED])
def test_soap_refused_naming_the_parameter(service, version, operation, inner, naming):
    assert_refused(post(service, version, operation, inner), naming)


def test_an_attribute_on_the_operation_is_refused(service):
    answer = post(service, "1.1", "GetStats", "<u:targetuser>alice</u:targetuser>")
    assert answer.status == 200
    body = (f'<e:Envelope xmlns:e="{SOAP11}" xmlns:u="{TNS}"><e:Body>'
            '<u:GetStats statsscope="course"><u:targetuser>alice</u:targetuser></u:GetStats>'
            "</e:Body></e:Envelope>").encode()
    response = service.post(body)
    assert response.fault() == ("Client.InvalidParameter", "GetStats has an attribute statsscope: "
                                "parameters are elements, and have no attributes", 503)


# -- refused: what only a query can say -------------------------------------------------------

JSON_REFUSED = [
    ("GetStats", "targetuser=alice&callinguser=admin", "callinguser has parts", "holder-as-value"),
    ("GetUsersStats", "targetusers=alice", "targetusers has parts", "list-as-value"),
    ("GetUsersStats", "targetusers.targetuser%5B0%5D=alice", "targetusers.targetuser[0]",
     "indexed"),
    ("GetStats", "targetuser=alice&daily", "daily is empty", "name-without-value"),
    ("GetStats", "targetuser=alice&wstoken2=x", "wstoken2", "unknown-credential-like"),
    ("GetStats", "targetuser=alice&" + "x" * 5000 + "=1", "x" * 63 + "…", "long-name"),
]


@pytest.mark.parametrize("operation, query, naming", [case[:3] for case in JSON_REFUSED],
                         ids=[case[3] for case in JSON_REFUSED])
def test_json_refused_naming_the_parameter(service, operation, query, naming):
    answer = get_json(service, operation, query)
    assert answer.status == 400
    assert answer.faultcode == "Client.InvalidParameter"
    assert naming in answer.message, answer.message


# -- accepted, and read as XML Schema reads them -----------------------------------------------


def has_days(answer: Answer) -> bool:
    assert answer.status == 200, answer.body[:400]
    if answer.body.startswith(b"{"):
        return "DAYS" in json.loads(answer.body)["USER"]
    return etree.fromstring(answer.body).find(f".//{{{TNS}}}USER/{{{TNS}}}DAYS") is not None


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("text, value", [("true", True), ("1", True), ("false", False),
                                         ("0", False), (" true ", True), ("\n0\t", False)])
def test_booleans_are_read_as_xml_schema_reads_them(service, protocol, text, value):
    answer = call(service, protocol, "GetStats", ALICE + WINDOW + [("daily", text)])
    assert has_days(answer) is value


def sessions(answer: Answer) -> list[tuple[int, int | None]]:
    """Each USE_STATS' SESSIONCOUNT, and the number of sessions it lists (None: no SESSIONS)."""
    assert answer.status == 200, answer.body[:400]
    if answer.body.startswith(b"{"):
        document = json.loads(answer.body)
        return [(one["USER"]["SESSIONCOUNT"],
                 len(one["SESSIONS"]) if "SESSIONS" in one else None)
                for one in document.get("USE_STATS", [document])]
    found = []
    for one in etree.fromstring(answer.body).iter(f"{{{TNS}}}USE_STATS"):
        listed = one.find(f"{{{TNS}}}SESSIONS")
        found.append((int(one.findtext(f"{{{TNS}}}USER/{{{TNS}}}SESSIONCOUNT")),
                      None if listed is None else len(listed)))
    return found


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("operation, params", [("GetStats", ALICE + WINDOW),
                                               ("GetUsersStats", WINDOW)])
@pytest.mark.parametrize("text, listed", [(None, False), ("false", False), ("0", False),
                                          ("true", True), ("1", True)])
def test_sessions_are_listed_only_when_asked(service, protocol, operation, params, text, listed):
    asked = params + ([("sessions", text)] if text is not None else [])
    assert sessions(call(service, protocol, operation, asked)) == [(2, 2 if listed else None)]


def elapsed(answer: Answer) -> int:
    assert answer.status == 200, answer.body[:400]
    if answer.body.startswith(b"{"):
        return json.loads(answer.body)["USER"]["ELAPSED"]
    return int(etree.fromstring(answer.body).findtext(f".//{{{TNS}}}USER/{{{TNS}}}ELAPSED"))


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("timeto", ["100000", "+0000100000", " 100000 ", "0100000"])
def test_integers_in_every_lexical_form_of_xs_int(service, protocol, timeto):
    """A sign, leading zeros and surrounding white space are xs:int's own."""
    answer = call(service, protocol, "GetStats", ALICE + [("timefrom", "0"), ("timeto", timeto)])
    assert elapsed(answer) == 46


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_lowest_xs_int_reaches_the_operation(service, protocol):
    """-2147483648 is an xs:int: the operation, not the decoding, refuses a negative time."""
    answer = call(service, protocol, "GetStats", ALICE + [("timefrom", "-2147483648")])
    assert answer.faultcode == "Client.InvalidParameter"
    assert "cannot be negative" in answer.message


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_what_soap_clients_send_for_absent_values(service, version):
    """PHP's SoapClient and node-soap send xsi:nil for null; comments are no parameters."""
    inner = ('<u:callinguser xsi:nil="true"/><u:targetuser>alice</u:targetuser>'
             '<!-- the window --><u:statsscope xsi:nil="1"></u:statsscope>'
             '<u:timefrom xsi:nil="true"/><u:timeto xsi:nil="false">100000</u:timeto>'
             '<u:daily xsi:nil="true"/><u:json_response xsi:nil="true"/>'
             '<u:targetuserfield></u:targetuserfield>')
    assert elapsed(post(service, version, "GetStats", inner)) == 46


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_list_of_users_is_read(service, protocol):
    params = [("targetusers.targetuser", "alice"), ("targetusers.targetuser", "alice")] + WINDOW
    answer = call(service, protocol, "GetUsersStats", params)
    assert answer.status == 200, answer.body[:400]
    assert answer.body.count(b"alice") >= 1


def test_xsi_type_is_not_read(service):
    """Spyne would decode the value as the type named (a defect: Server.InternalError)."""
    inner = '<u:targetuser xsi:type="u:CallingUser">alice</u:targetuser>' + soap_body(WINDOW)
    assert elapsed(post(service, "1.1", "GetStats", inner)) == 46


# -- only the operation's element is parameters ------------------------------------------------


@pytest.fixture(scope="module")
def erp(moodle_url):
    """A client of a service with a configured trusted client ``erp``, and its password."""
    key = new_secret_key()
    credential, password = new_client(key, "erp", trusted=True)
    app = create_app(Settings(database_url=moodle_url, secret_key=key, clients={"erp": credential}))
    yield WsgiClient(app), password
    app.network.home.engine.dispose()


def test_header_content_is_not_a_parameter(erp):
    client, password = erp
    security = (f'<wsse:Security xmlns:wsse="{WSSE}" e:mustUnderstand="1"><wsse:UsernameToken>'
                f"<wsse:Username>erp</wsse:Username><wsse:Password>{password}</wsse:Password>"
                "</wsse:UsernameToken></wsse:Security>"
                '<x:Trace xmlns:x="urn:example:trace" statsscope="course"><x:id>42</x:id>'
                "</x:Trace>")
    inner = soap_body([("callinguser.username", "wsadmin")] + ALICE + WINDOW)
    for version in ("1.1", "1.2"):
        assert elapsed(post(client, version, "GetStats", inner, security)) == 46
        typo = inner + "<u:statscope>course</u:statscope>"
        assert_refused(post(client, version, "GetStats", typo, security), "statscope")


# -- the check covers every parameter Spyne reads ------------------------------------------------


@pytest.mark.parametrize("operation", ["GetStats", "GetScores", "GetUsersStats"])
def test_the_query_names_are_spynes(operation):
    """Every name Spyne's HTTP protocol reads a value from is one the check knows."""
    app = soap_application()
    (descriptor,) = [d for d in app.interface.method_id_map.values() if d.name == operation]
    message = descriptor.in_message
    spyne_names = set(message.get_simple_type_info_with_prot(message, HttpRpc(), hier_delim="."))
    assert set(parameters._query_names(message)) == spyne_names


def test_a_parameter_of_a_type_without_a_check_fails_at_once():
    from spyne import ComplexModel, Decimal

    class Odd(ComplexModel):
        __namespace__ = TNS
        _type_info = [("amount", Decimal)]

    with pytest.raises(TypeError, match="amount"):
        parameters.declared(Odd)


def test_a_string_with_a_declared_length_is_held_to_it():
    from spyne import ComplexModel, Unicode

    class Coded(ComplexModel):
        __namespace__ = TNS
        _type_info = [("code", Unicode(max_len=3))]

    read = parameters.declared(Coded).parts["code"].read
    read("abc")
    with pytest.raises(InvalidParameter, match='^code is not of the length or the form the WSDL '
                                               'declares, not "abcd"$'):
        read("abcd")
