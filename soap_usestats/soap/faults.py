"""Faults as the contract defines them: the one place an error becomes a fault.

:func:`to_contract` turns any error a request ends in into a
:class:`UseStatsFault`: the contract's ``faultcode``, a message for the client,
and the MNET status. Spyne's own faults (malformed XML, schema violations,
unknown operations) are mapped to the contract's codes, and anything else is
``Server.InternalError``, its cause logged for the operator only. The writers
below put a fault into a SOAP 1.1, a SOAP 1.2 or a JSON body.

A header entry marked ``mustUnderstand`` that the service does not understand
is answered with SOAP's own ``MustUnderstand`` fault, not one of the contract's
codes, written as each SOAP version defines it.
"""

from __future__ import annotations

import json
import logging

from lxml.etree import Element, QName, SubElement, _Element, tostring
from spyne.model.fault import Fault

from ..exceptions import (
    InternalError,
    InvalidParameter,
    InvalidXML,
    NotUnderstood,
    UseStatsError,
    root_cause,
)
from ..namespaces import SOAP11_ENV, SOAP12_ENV, TNS, XML
from .messages import UseStatsFault

log = logging.getLogger(__name__)

SOAP11_PREFIX = "soap11env"
SOAP12_PREFIX = "soap12env"

#: Spyne's client fault codes: what the contract calls them, and what the client is told.
#: Parameters are checked before Spyne reads them (``parameters``), with messages that
#: name the parameter; Spyne's validation faults are the safety net, in no words of Spyne's.
_NOT_DECLARED = "the parameters do not match the operation's declaration in the WSDL"
_SPYNE_CLIENT_FAULTS = {
    "Client.ValidationError": (InvalidParameter, _NOT_DECLARED),
    "Client.SchemaValidationError": (InvalidParameter, _NOT_DECLARED),
    "Client.XMLSyntaxError": (InvalidXML, "the request is not well-formed XML"),
    "Client.SoapError": (InvalidXML, "the request is not a SOAP 1.1 envelope"),
    "Client.ResourceNotFound": (InvalidXML, "the request names no operation of this service"),
    "Client.RequestTooLong": (InvalidXML, "the request is over the size limit"),
}


def to_contract(error: BaseException) -> UseStatsFault:
    """The contract's fault for any error, without internals a client must not see.

    Server-side causes go to the operator's log, with the root cause.
    """
    if isinstance(error, UseStatsError):
        fault = _fault(error)
    elif isinstance(error, Fault) and error.faultcode in _SPYNE_CLIENT_FAULTS:
        kind, message = _SPYNE_CLIENT_FAULTS[error.faultcode]
        fault = _fault(kind(message))
    else:
        log.error("internal error", exc_info=error)
        fault = _fault(InternalError("internal error; the service log has the details"))
    if fault.faultcode.startswith("Server") and fault.faultcode != InternalError.faultcode:
        log.warning("%s: %s", fault.faultcode, root_cause(error))
    return fault


def _fault(error: UseStatsError) -> UseStatsFault:
    headers = error.headers if isinstance(error, NotUnderstood) else ()
    return UseStatsFault(error.faultcode, str(error), error.status, headers)


def soap11(fault: UseStatsFault) -> bytes:
    """A SOAP 1.1 envelope holding ``fault``: code, string, and the MNET status in ``detail``.

    A ``MustUnderstand`` fault has no ``detail``: SOAP 1.1 keeps it for errors of the Body.
    """
    envelope, body = _envelope(SOAP11_ENV, SOAP11_PREFIX)
    element = SubElement(body, f"{{{SOAP11_ENV}}}Fault")
    SubElement(element, "faultcode").text = f"{SOAP11_PREFIX}:{fault.faultcode}"
    SubElement(element, "faultstring").text = fault.faultstring
    if not fault.not_understood:
        _status(SubElement(element, "detail"), fault)
    return tostring(envelope, xml_declaration=True, encoding="UTF-8")


def soap12(fault: UseStatsFault) -> bytes:
    """A SOAP 1.2 envelope holding ``fault``.

    The code is ``Sender`` or ``Receiver``, as SOAP 1.2 requires, with the
    contract's code as its subcode (``tns:Client.Forbidden``); the MNET status is
    in ``Detail`` as in SOAP 1.1. A ``MustUnderstand`` fault has that code alone,
    and a ``NotUnderstood`` header block for each entry not understood.
    """
    envelope, body = _envelope(SOAP12_ENV, SOAP12_PREFIX)
    element = SubElement(body, f"{{{SOAP12_ENV}}}Fault")
    code = SubElement(element, f"{{{SOAP12_ENV}}}Code")
    if fault.not_understood:
        SubElement(code, f"{{{SOAP12_ENV}}}Value").text = f"{SOAP12_PREFIX}:{fault.faultcode}"
        body.addprevious(_not_understood(fault.not_understood))
    else:
        side = "Sender" if fault.faultcode.startswith("Client") else "Receiver"
        SubElement(code, f"{{{SOAP12_ENV}}}Value").text = f"{SOAP12_PREFIX}:{side}"
        subcode = SubElement(code, f"{{{SOAP12_ENV}}}Subcode")
        SubElement(subcode, f"{{{SOAP12_ENV}}}Value",
                   nsmap={"tns": TNS}).text = f"tns:{fault.faultcode}"
    reason = SubElement(element, f"{{{SOAP12_ENV}}}Reason")
    SubElement(reason, f"{{{SOAP12_ENV}}}Text", {f"{{{XML}}}lang": "en"}).text = fault.faultstring
    _status(SubElement(element, f"{{{SOAP12_ENV}}}Detail"), fault)
    return tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _not_understood(names: tuple[str, ...]) -> _Element:
    """A SOAP 1.2 Header with a ``NotUnderstood`` block naming each entry (``{ns}local``)."""
    header = Element(f"{{{SOAP12_ENV}}}Header")
    for name in names:
        qname = QName(name)
        nsmap = {"h": qname.namespace} if qname.namespace else None
        SubElement(header, f"{{{SOAP12_ENV}}}NotUnderstood", nsmap=nsmap,
                   qname=f"h:{qname.localname}" if nsmap else qname.localname)
    return header


def _envelope(namespace: str, prefix: str):
    envelope = Element(f"{{{namespace}}}Envelope", nsmap={prefix: namespace, "tns": TNS})
    return envelope, SubElement(envelope, f"{{{namespace}}}Body")


def _status(detail, fault: UseStatsFault) -> None:
    SubElement(SubElement(detail, f"{{{TNS}}}UseStatsFault"), f"{{{TNS}}}status").text = str(fault.status)


def document(fault: UseStatsFault) -> dict:
    """A fault as JSON: the contract's code, the message and the MNET status."""
    return {"faultcode": fault.faultcode, "faultstring": fault.faultstring, "status": fault.status}


def json_body(fault: UseStatsFault) -> bytes:
    return json.dumps(document(fault), ensure_ascii=False).encode()


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
