"""SOAP's processing model: a header entry for the service, marked mustUnderstand, that it
does not understand is answered with SOAP's MustUnderstand fault; WS-Security's is understood."""

from __future__ import annotations

import pytest
from lxml import etree

from tests.support.wsgi import SOAP_ENV, envelope

SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
TNS = "urn:soap-usestats:1"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
ASK = "<u:GetStats><u:targetuser>alice</u:targetuser></u:GetStats>"
EXTENSION = "urn:example:extension"


def entry(attributes: str, name: str = "x:Extension") -> str:
    return f'<{name} xmlns:x="{EXTENSION}" {attributes}>on</{name}>'


def soap12(header: str) -> bytes:
    return (f'<e:Envelope xmlns:e="{SOAP12_ENV}" xmlns:u="{TNS}"><e:Header>{header}</e:Header>'
            f"<e:Body>{ASK}</e:Body></e:Envelope>").encode()


@pytest.mark.parametrize("value", ["1", "true", " 1 "])
def test_soap11_an_entry_not_understood(soap, value):
    response = soap.post(envelope(ASK, header=entry(f'e:mustUnderstand="{value}"')))
    assert response.status == 500
    fault = response.xml().find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    code = fault.findtext("faultcode")
    assert etree.QName(fault.nsmap[code.split(":")[0]], code.split(":")[1]) == etree.QName(
        SOAP_ENV, "MustUnderstand")
    assert f"{{{EXTENSION}}}Extension" in fault.findtext("faultstring")
    assert fault.find("detail") is None  # SOAP 1.1 keeps detail for the Body's errors


def test_soap11_before_authentication(soap):
    body = envelope(ASK, header=entry('e:mustUnderstand="1"'))
    assert b"MustUnderstand" in soap.post(body, QUERY_STRING=None).body


@pytest.mark.parametrize("attributes", [
    "", 'e:mustUnderstand="0"', 'e:mustUnderstand="false"',
    'e:mustUnderstand="1" e:actor="http://example.com/another-node"',
    'mustUnderstand="1"',  # not SOAP's attribute: no namespace
], ids=["unmarked", "zero", "false", "another-actor", "unqualified"])
def test_soap11_entries_that_are_optional_or_for_another_node_are_ignored(soap, attributes):
    assert soap.post(envelope(ASK, header=entry(attributes))).status == 200


def test_soap11_an_entry_for_the_next_node_is_for_the_service(soap):
    body = envelope(ASK, header=entry('e:mustUnderstand="1" '
                                      'e:actor="http://schemas.xmlsoap.org/soap/actor/next"'))
    assert b"MustUnderstand" in soap.post(body).body


def test_every_entry_not_understood_is_named(soap):
    header = entry('e:mustUnderstand="1"') + entry('e:mustUnderstand="1"', "x:Other")
    message = soap.post(envelope(ASK, header=header)).xml().findtext(".//faultstring")
    assert f"{{{EXTENSION}}}Extension" in message and f"{{{EXTENSION}}}Other" in message


def test_ws_security_is_understood(erp):
    client, password = erp
    security = (f'<wsse:Security xmlns:wsse="{WSSE}" e:mustUnderstand="1"><wsse:UsernameToken>'
                f"<wsse:Username>erp</wsse:Username><wsse:Password>{password}</wsse:Password>"
                "</wsse:UsernameToken></wsse:Security>")
    assert client.post(envelope(ASK, header=security), QUERY_STRING=None).status == 200


@pytest.mark.parametrize("value", ["true", "1"])
def test_soap12_an_entry_not_understood(soap, value):
    response = soap.post(soap12(entry(f'e:mustUnderstand="{value}"')), path="/soap12",
                         CONTENT_TYPE="application/soap+xml; charset=utf-8")
    assert response.status == 500  # SOAP 1.2's HTTP binding: MustUnderstand is not a Sender fault
    answer = response.xml()
    code = answer.find(f"{{{SOAP12_ENV}}}Body/{{{SOAP12_ENV}}}Fault/{{{SOAP12_ENV}}}Code")
    assert [child.tag for child in code] == [f"{{{SOAP12_ENV}}}Value"]
    prefix, local = code[0].text.split(":")
    assert (code[0].nsmap[prefix], local) == (SOAP12_ENV, "MustUnderstand")
    (block,) = answer.findall(f"{{{SOAP12_ENV}}}Header/{{{SOAP12_ENV}}}NotUnderstood")
    prefix, local = block.get("qname").split(":")
    assert (block.nsmap[prefix], local) == (EXTENSION, "Extension")


@pytest.mark.parametrize("role", [f"{SOAP12_ENV}/role/none", "http://example.com/another-node"])
def test_soap12_entries_for_no_one_or_another_node_are_ignored(soap, role):
    body = soap12(entry(f'e:mustUnderstand="true" e:role="{role}"'))
    response = soap.post(body, path="/soap12", CONTENT_TYPE="application/soap+xml; charset=utf-8")
    assert response.status == 200


@pytest.mark.parametrize("role", [f"{SOAP12_ENV}/role/next", f"{SOAP12_ENV}/role/ultimateReceiver"])
def test_soap12_entries_for_the_next_node_or_the_ultimate_receiver_are_for_the_service(soap, role):
    body = soap12(entry(f'e:mustUnderstand="true" e:role="{role}"'))
    response = soap.post(body, path="/soap12", CONTENT_TYPE="application/soap+xml; charset=utf-8")
    assert b"MustUnderstand" in response.body and response.status == 500
