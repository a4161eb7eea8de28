"""The published WSDL: built once, from the configured public URL.

Spyne 2.14 writes ``service`` before ``portType`` and takes ``soap:address``
from the first request's Host header, then caches it. SAP's importer wants the
WSDL 1.1 order (types, message, portType, binding, service), and an address
must never come from a client, so the document is built here instead, with
its schema types in a stable order so the published file can be compared.
Each documentation is one line: an operation's comes from its docstring, which
Python 3.13 strips of indentation and earlier Pythons do not, and the file must
be the same whichever Python serves it.
"""

from __future__ import annotations

from lxml import etree
from spyne import Application
from spyne.interface.wsdl import Wsdl11

from ..namespaces import XSD

SECTION_ORDER = ("documentation", "import", "types", "message", "portType", "binding", "service")
#: Prefixes used only inside attribute values (type="xs:int"), which lxml cannot see.
_PREFIXES_IN_VALUES = ["xs", "tns", "wsdl"]


def build_wsdl(app: Application, public_url: str) -> bytes:
    """The WSDL of ``app`` with ``soap:address`` set to ``public_url``, sections in order."""
    wsdl = Wsdl11(app.interface)
    wsdl.build_interface_document(public_url)
    root = etree.fromstring(wsdl.get_interface_document())
    _reorder(root, _section_rank)
    for schema in root.iter(f"{{{XSD}}}schema"):
        _reorder(schema, lambda e: (etree.QName(e).localname == "element", e.get("name", "")))
    for documentation in root.iter("{*}documentation"):
        documentation.text = " ".join(documentation.text.split())
    etree.cleanup_namespaces(root, keep_ns_prefixes=_PREFIXES_IN_VALUES)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _reorder(parent, key) -> None:
    """Sort ``parent``'s children by ``key`` (stable), in place."""
    for child in sorted(parent, key=key):
        parent.append(child)


def _section_rank(element) -> int:
    name = etree.QName(element).localname if isinstance(element.tag, str) else "documentation"
    return SECTION_ORDER.index(name) if name in SECTION_ORDER else len(SECTION_ORDER)
