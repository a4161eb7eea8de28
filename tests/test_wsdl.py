"""The published WSDL: what the service serves, what the repository holds, and its shape."""

from __future__ import annotations

from lxml import etree

from soap_usestats.config import Settings
from soap_usestats.web.app import create_app
from tests.support.examples import WSDL_FILE
from tests.support.wsgi import WsgiClient

WSDL = "{http://schemas.xmlsoap.org/wsdl/}"
SOAP = "{http://schemas.xmlsoap.org/wsdl/soap/}"
#: The address `make wsdl` writes into wsdl/use_stats.wsdl: that of `make run`.
PUBLISHED_URL = "http://127.0.0.1:8000/soap"


def served_wsdl(public_url: str, host: str = "127.0.0.1:8000") -> bytes:
    app = create_app(Settings(database_url="sqlite://", public_url=public_url))
    response = WsgiClient(app).get("/soap", "wsdl", HTTP_HOST=host)
    assert response.status == 200
    return response.body


def test_repository_wsdl_is_what_the_service_serves():
    assert served_wsdl(PUBLISHED_URL) == WSDL_FILE.read_bytes(), (
        "wsdl/use_stats.wsdl is out of date: run `make wsdl`")


def test_address_is_the_configured_public_url():
    root = etree.fromstring(served_wsdl("https://stats.example.com/soap", host="evil.example"))
    (port,) = root.iter(f"{WSDL}port")
    assert port.find(f"{SOAP}address").get("location") == "https://stats.example.com/soap"


def test_sections_in_wsdl_order_with_one_service_and_port():
    root = etree.fromstring(WSDL_FILE.read_bytes())
    sections = [etree.QName(child).localname for child in root]
    order = ["types", "message", "portType", "binding", "service"]
    assert sorted(sections, key=order.index) == sections and set(sections) == set(order)
    assert len(root.findall(f"{WSDL}service")) == 1 and len(list(root.iter(f"{WSDL}port"))) == 1


def test_document_literal_without_soap_encoding():
    root = etree.fromstring(WSDL_FILE.read_bytes())
    (binding,) = root.iter(f"{SOAP}binding")
    assert binding.get("style") == "document"
    assert {body.get("use") for body in root.iter(f"{SOAP}body")} == {"literal"}
    assert all(part.get("element") and not part.get("type") for part in root.iter(f"{WSDL}part"))
    assert b"soap/encoding" not in WSDL_FILE.read_bytes()
    operations = [op.get("name") for op in root.find(f"{WSDL}portType")]
    assert operations == ["GetStats", "GetScores", "GetUsersStats"]
