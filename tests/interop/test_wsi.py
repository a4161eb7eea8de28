"""WS-I Basic Profile 1.1: the rules of it that matter for this WSDL, checked with lxml.

Each check runs on the WSDL published in the repository and on the one the running
service serves. R numbers are the Basic Profile's requirements. A WSDL with another
binding (SOAP 1.2 at /soap12) joins by adding a :class:`Source`.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree

WSDL_FILE = Path(__file__).parents[2] / "wsdl" / "use_stats.wsdl"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
XS = "http://www.w3.org/2001/XMLSchema"
SOAP11 = "http://schemas.xmlsoap.org/wsdl/soap/"
SOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
SOAP_HTTP = "http://schemas.xmlsoap.org/soap/http"
SOAP_ENCODING = "http://schemas.xmlsoap.org/soap/encoding/"
#: The XSD built-in types an SAP proxy generator maps (contract: service-contract.md).
SAP_TYPES = {"int", "long", "decimal", "string", "boolean", "date", "dateTime"}
SECTIONS = ["types", "message", "portType", "binding", "service"]


@dataclass(frozen=True)
class Source:
    """One WSDL to check: where it comes from and the namespace of its SOAP binding."""

    name: str
    read: Callable[[pytest.FixtureRequest], bytes]
    binding_ns: str = SOAP11


def _served(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


SOURCES = [
    Source("published", lambda request: WSDL_FILE.read_bytes()),
    Source("served", lambda request: _served(request.getfixturevalue("service").wsdl)),
    Source("served SOAP 1.2", lambda request: _served(
        request.getfixturevalue("service").wsdl.replace("/soap?wsdl", "/soap12?wsdl")), SOAP12),
]


@dataclass(frozen=True)
class Wsdl:
    raw: bytes
    root: etree._Element
    soap: str

    def all(self, name: str, ns: str = WSDL) -> list[etree._Element]:
        return list(self.root.iter(f"{{{ns}}}{name}"))

    def children(self, name: str) -> list[etree._Element]:
        return self.root.findall(f"{{{WSDL}}}{name}")

    def qname(self, element: etree._Element, attribute: str) -> etree.QName:
        prefix, _, local = element.get(attribute).rpartition(":")
        return etree.QName(element.nsmap[prefix or None], local)

    @property
    def tns(self) -> str:
        return self.root.get("targetNamespace")

    def messages(self) -> dict[str, etree._Element]:
        return {m.get("name"): m for m in self.children("message")}


@pytest.fixture(params=SOURCES, ids=lambda source: source.name)
def wsdl(request) -> Wsdl:
    source = request.param
    raw = source.read(request)
    return Wsdl(raw, etree.fromstring(raw), source.binding_ns)


def test_utf8_and_sections_in_order(wsdl):
    """R4003 UTF-8; the sections types, message, portType, binding, service in that order."""
    assert wsdl.root.getroottree().docinfo.encoding == "UTF-8"
    sections = [etree.QName(child).localname for child in wsdl.root.iterchildren(etree.Element)
                if etree.QName(child).localname != "documentation"]
    assert sorted(sections, key=SECTIONS.index) == sections
    assert set(sections) == set(SECTIONS) and sections.count("types") == 1


def test_self_contained(wsdl):
    """R2001-R2003, R2007: nothing imported or included; one inline schema in wsdl:types."""
    assert not wsdl.all("import") and not wsdl.all("import", XS) and not wsdl.all("include", XS)
    assert not wsdl.all("redefine", XS)
    assert not wsdl.root.xpath("//@schemaLocation")
    (types,) = wsdl.children("types")
    assert [child.tag for child in types] == [f"{{{XS}}}schema"]
    assert types[0].get("targetNamespace") == wsdl.tns


def test_no_soap_encoding_or_arrays(wsdl):
    """R2110, R2111: no soapenc:Array, no wsdl:arrayType; no encoding style anywhere (R2706)."""
    assert SOAP_ENCODING.encode() not in wsdl.raw
    assert b"arrayType" not in wsdl.raw and b"encodingStyle" not in wsdl.raw
    bases = {wsdl.qname(e, "base").localname for e in wsdl.root.xpath("//*[@base]")}
    assert "Array" not in bases


def test_every_message_has_one_part_by_element(wsdl):
    """R2201, R2204, R2205: document/literal messages carry one part, by global element."""
    declared = {etree.QName(wsdl.tns, e.get("name"))
                for e in wsdl.root.findall(f"{{{WSDL}}}types/{{{XS}}}schema/{{{XS}}}element")}
    ios = wsdl.root.xpath("//wsdl:portType/wsdl:operation/*[@message]", namespaces={"wsdl": WSDL})
    used = {wsdl.qname(io, "message").localname for io in ios}
    messages = wsdl.messages()
    assert used == set(messages)
    for name, message in messages.items():
        (part,) = message.findall(f"{{{WSDL}}}part")
        assert part.get("type") is None, name
        assert wsdl.qname(part, "element") in declared, name


def test_operations_unique_in_name_and_wire_signature(wsdl):
    """R2304 no overloading; R2710 each input has its own wrapper element; R2718 the
    binding has the portType's operations; R2305 parameterOrder names only their parts."""
    (port_type,) = wsdl.children("portType")
    operations = port_type.findall(f"{{{WSDL}}}operation")
    names = [op.get("name") for op in operations]
    assert names == ["GetStats", "GetScores", "GetUsersStats"] and len(set(names)) == len(names)
    messages = wsdl.messages()
    wrappers = [messages[wsdl.qname(op.find(f"{{{WSDL}}}input"), "message").localname]
                .find(f"{{{WSDL}}}part").get("element") for op in operations]
    assert len(set(wrappers)) == len(wrappers)
    for op in operations:
        parts = {part.get("name") for io in op.xpath("wsdl:input | wsdl:output", namespaces={"wsdl": WSDL})
                 for part in messages[wsdl.qname(io, "message").localname]}
        assert set((op.get("parameterOrder") or "").split()) <= parts
    (binding,) = wsdl.children("binding")
    assert [op.get("name") for op in binding.findall(f"{{{WSDL}}}operation")] == names
    assert wsdl.qname(binding, "type") == etree.QName(wsdl.tns, port_type.get("name"))


def test_binding_is_document_literal_over_http(wsdl):
    """R2701, R2702 SOAP over HTTP; R2705 document style; R2706, R2707 literal use;
    R2716 no namespace on a document/literal soap:body; R2721, R2754 named literal faults."""
    (binding,) = wsdl.all("binding", wsdl.soap)
    assert binding.get("transport") == SOAP_HTTP
    assert binding.get("style") == "document"
    assert {op.get("style", "document") for op in wsdl.all("operation", wsdl.soap)} == {"document"}
    bodies = wsdl.all("body", wsdl.soap)
    assert len(bodies) == 2 * len(wsdl.all("operation", wsdl.soap))
    assert {body.get("use") for body in bodies} == {"literal"}
    assert all(body.get("namespace") is None and body.get("parts") is None for body in bodies)
    assert not wsdl.all("header", wsdl.soap)
    faults = wsdl.root.xpath("//wsdl:binding/wsdl:operation/wsdl:fault", namespaces={"wsdl": WSDL})
    assert faults
    for fault in faults:
        (soap_fault,) = fault.findall(f"{{{wsdl.soap}}}fault")
        assert (soap_fault.get("name"), soap_fault.get("use")) == (fault.get("name"), "literal")


def test_one_service_one_port_with_an_address(wsdl):
    """The contract's one service with one port (so R2711 holds), on the one binding, its
    soap:address an absolute http(s) URL."""
    (service,) = wsdl.children("service")
    (port,) = service.findall(f"{{{WSDL}}}port")
    (binding,) = wsdl.children("binding")
    assert wsdl.qname(port, "binding") == etree.QName(wsdl.tns, binding.get("name"))
    (address,) = port.findall(f"{{{wsdl.soap}}}address")
    assert address.get("location").startswith(("http://", "https://"))


def test_served_address_is_the_public_url(service):
    root = etree.fromstring(_served(service.wsdl))
    (address,) = root.iter(f"{{{SOAP11}}}address")
    assert address.get("location") == service.url
    root = etree.fromstring(_served(service.wsdl.replace("/soap?wsdl", "/soap12?wsdl")))
    (address,) = root.iter(f"{{{SOAP12}}}address")
    assert address.get("location") == service.url + "12"


def test_types_are_ones_sap_maps(wsdl):
    """Every xs: type used is one an SAP proxy maps; every tns: type used is declared; no xs:any."""
    schema = wsdl.root.find(f"{{{WSDL}}}types/{{{XS}}}schema")
    used = [wsdl.qname(e, "type") for e in schema.iter(f"{{{XS}}}element") if e.get("type")]
    builtins = {q.localname for q in used if q.namespace == XS}
    assert builtins <= SAP_TYPES
    declared = {t.get("name") for t in schema.findall(f"{{{XS}}}complexType")}
    assert {q.localname for q in used if q.namespace == wsdl.tns} <= declared
    assert not list(schema.iter(f"{{{XS}}}any"))


def test_repeated_elements_are_wrapped(wsdl):
    """A repeated element is declared on an element (maxOccurs on a named, typed xs:element,
    never on a group or an xs:any), in the sequence of a wrapper's complex type; never as
    soapenc:Array."""
    schema = wsdl.root.find(f"{{{WSDL}}}types/{{{XS}}}schema")
    assert SOAP_ENCODING.encode() not in wsdl.raw and b"arrayType" not in wsdl.raw
    assert not list(schema.iter(f"{{{XS}}}any"))
    repeated = schema.xpath("//*[@maxOccurs and @maxOccurs != '1']")
    assert repeated
    for element in repeated:
        name = element.get("name")
        assert element.tag == f"{{{XS}}}element" and name and element.get("type"), element.tag
        assert element.get("minOccurs") == "0", name
        sequence = element.getparent()
        assert sequence.tag == f"{{{XS}}}sequence", name
        assert sequence.getparent().tag == f"{{{XS}}}complexType", name
