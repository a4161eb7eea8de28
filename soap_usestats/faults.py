"""SOAP faults as the contract defines them.

Every error a request can end in becomes a :class:`UseStatsFault`: the
contract's ``faultcode``, a message for the client, and the MNET status inside
``<detail>``. Spyne's own faults (malformed XML, schema violations, unknown
operations) and unexpected errors are translated here, in one place.
"""

from __future__ import annotations

import json

from lxml.etree import Element, SubElement, tostring
from spyne import DateTime
from spyne.model.fault import Fault
from spyne.protocol.json import JsonDocument
from spyne.protocol.soap import Soap11, Soap12

from .exceptions import InternalError, InvalidParameter, InvalidXML, UseStatsError
from .messages import TNS, UseStatsFault

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENV_PREFIX = "soap11env"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
SOAP12_ENV_PREFIX = "soap12env"
XML_NS = "http://www.w3.org/XML/1998/namespace"

#: Spyne's client fault codes and what the contract calls them.
_SPYNE_CLIENT_FAULTS = {
    "Client.ValidationError": InvalidParameter,
    "Client.SchemaValidationError": InvalidParameter,
    "Client.XMLSyntaxError": InvalidXML,
    "Client.SoapError": InvalidXML,
    "Client.ResourceNotFound": InvalidXML,
    "Client.RequestTooLong": InvalidXML,
}
_MESSAGES = {
    "Client.XMLSyntaxError": "the request is not well-formed XML",
    "Client.SoapError": "the request is not a SOAP 1.1 envelope",
    "Client.ResourceNotFound": "the request names no operation of this service",
    "Client.RequestTooLong": "the request is over the size limit",
}
MAX_MESSAGE = 300


def from_error(error: UseStatsError) -> UseStatsFault:
    """The fault telling the client about ``error``."""
    return UseStatsFault(error.faultcode, str(error), error.status)


def to_contract(error: BaseException) -> UseStatsFault:
    """The contract's fault for any error, without internals a client must not see."""
    if isinstance(error, UseStatsFault):
        return error
    if isinstance(error, UseStatsError):
        return from_error(error)
    code = error.faultcode if isinstance(error, Fault) else "Server"
    kind = _SPYNE_CLIENT_FAULTS.get(code)
    if kind is None:
        return from_error(InternalError("internal error; the service log has the details"))
    message = _MESSAGES.get(code) or _clean(error.faultstring)
    return from_error(kind(message))


def _clean(message: object) -> str:
    text = " ".join(str(message or "invalid request").split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def write_fault(parent, fault: UseStatsFault) -> None:
    """Append ``fault`` to a SOAP 1.1 Body: code, string, and the MNET status in ``detail``.

    Spyne 2.14 writes a fault's typed fields as siblings of ``faultcode``; SOAP 1.1
    and the WSDL's fault message want them inside ``detail``, as one element
    named after the fault type.
    """
    element = SubElement(parent, f"{{{SOAP_ENV}}}Fault")
    SubElement(element, "faultcode").text = f"{SOAP_ENV_PREFIX}:{fault.faultcode}"
    SubElement(element, "faultstring").text = fault.faultstring
    detail = SubElement(SubElement(element, "detail"), f"{{{TNS}}}UseStatsFault")
    SubElement(detail, f"{{{TNS}}}status").text = str(fault.status)


def write_fault12(parent, fault: UseStatsFault) -> None:
    """Append ``fault`` to a SOAP 1.2 Body.

    The code is ``Sender`` or ``Receiver``, as SOAP 1.2 requires, with the
    contract's code as its subcode (``tns:Client.Forbidden``); the MNET status is
    in ``Detail`` as in SOAP 1.1.
    """
    element = SubElement(parent, f"{{{SOAP12_ENV}}}Fault")
    code = SubElement(element, f"{{{SOAP12_ENV}}}Code")
    side = "Sender" if fault.faultcode.startswith("Client") else "Receiver"
    SubElement(code, f"{{{SOAP12_ENV}}}Value").text = f"{SOAP12_ENV_PREFIX}:{side}"
    subcode = SubElement(code, f"{{{SOAP12_ENV}}}Subcode")
    SubElement(subcode, f"{{{SOAP12_ENV}}}Value", nsmap={"tns": TNS}).text = f"tns:{fault.faultcode}"
    reason = SubElement(element, f"{{{SOAP12_ENV}}}Reason")
    SubElement(reason, f"{{{SOAP12_ENV}}}Text", {f"{{{XML_NS}}}lang": "en"}).text = fault.faultstring
    detail = SubElement(SubElement(element, f"{{{SOAP12_ENV}}}Detail"), f"{{{TNS}}}UseStatsFault")
    SubElement(detail, f"{{{TNS}}}status").text = str(fault.status)


def fault_envelope(fault: UseStatsFault, soap12: bool = False) -> bytes:
    """A whole SOAP envelope holding ``fault``, for errors met outside Spyne."""
    namespace, prefix = (SOAP12_ENV, SOAP12_ENV_PREFIX) if soap12 else (SOAP_ENV, SOAP_ENV_PREFIX)
    envelope = Element(f"{{{namespace}}}Envelope", nsmap={prefix: namespace, "tns": TNS})
    body = SubElement(envelope, f"{{{namespace}}}Body")
    (write_fault12 if soap12 else write_fault)(body, fault)
    return tostring(envelope, xml_declaration=True, encoding="UTF-8")


def fault_document(fault: UseStatsFault) -> dict:
    """A fault as JSON: the contract's code, the message and the MNET status."""
    return {"faultcode": fault.faultcode, "faultstring": fault.faultstring, "status": fault.status}


def fault_json(fault: UseStatsFault) -> bytes:
    return json.dumps(fault_document(fault), ensure_ascii=False).encode()


def soap11_status(_fault: UseStatsFault) -> str:
    """SOAP 1.1 over HTTP answers every fault with 500."""
    return "500 Internal Server Error"


def soap12_status(fault: UseStatsFault) -> str:
    """SOAP 1.2 over HTTP answers a Sender fault with 400, any other with 500."""
    return "400 Bad Request" if fault.faultcode.startswith("Client") else "500 Internal Server Error"


def http_status(fault: UseStatsFault) -> str:
    """The HTTP status of a fault over plain HTTP (JSON): it tells the kind of error."""
    if fault.faultcode == "Client.AuthenticationFailed":
        return "401 Unauthorized"
    if fault.faultcode == "Client.Forbidden":
        return "403 Forbidden"
    if fault.faultcode.startswith("Client"):
        return "400 Bad Request"
    if fault.faultcode == "Server.DatabaseUnavailable":
        return "503 Service Unavailable"
    return "500 Internal Server Error"


class _UtcDateTimes:
    """Write dateTimes in their declared format.

    Spyne 2.14's SOAP protocols write every DateTime with ``isoformat()``
    (``+00:00``), ignoring the type's ``dt_format``; the contract wants UTC
    written with ``Z``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._to_unicode_handlers[DateTime] = self.datetime_to_unicode


class ContractSoap11(_UtcDateTimes, Soap11):
    """SOAP 1.1 writing faults with :func:`write_fault`."""

    def fault_to_parent(self, ctx, cls, inst, parent, ns, *args, **kwargs):
        write_fault(parent, to_contract(inst))


class ContractSoap12(_UtcDateTimes, Soap12):
    """SOAP 1.2 writing faults with :func:`write_fault12`, Sender faults with HTTP 400."""

    def fault_to_parent(self, ctx, cls, inst, parent, ns, *args, **kwargs):
        write_fault12(parent, to_contract(inst))

    def fault_to_http_response_code(self, fault):
        return soap12_status(to_contract(fault))


class ContractJson(JsonDocument):
    """JSON out, a fault as :func:`fault_document` with an HTTP status that tells its kind."""

    def _fault_to_doc(self, inst, cls=None):
        return [fault_document(to_contract(inst))]

    def fault_to_http_response_code(self, fault):
        return http_status(to_contract(fault))
