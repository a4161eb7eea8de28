"""SOAP faults as the contract defines them.

Every error a request can end in becomes a :class:`UseStatsFault`: the
contract's ``faultcode``, a message for the client, and the MNET status inside
``<detail>``. Spyne's own faults (malformed XML, schema violations, unknown
operations) and unexpected errors are translated here, in one place.
"""

from __future__ import annotations

from lxml.etree import Element, SubElement, tostring
from spyne import DateTime
from spyne.model.fault import Fault
from spyne.protocol.soap import Soap11

from .exceptions import InternalError, InvalidParameter, InvalidXML, UseStatsError
from .messages import TNS, UseStatsFault

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENV_PREFIX = "soap11env"

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


def fault_envelope(fault: UseStatsFault) -> bytes:
    """A whole SOAP 1.1 envelope holding ``fault``, for errors met outside Spyne."""
    envelope = Element(f"{{{SOAP_ENV}}}Envelope", nsmap={SOAP_ENV_PREFIX: SOAP_ENV, "tns": TNS})
    write_fault(SubElement(envelope, f"{{{SOAP_ENV}}}Body"), fault)
    return tostring(envelope, xml_declaration=True, encoding="UTF-8")


class ContractSoap11(Soap11):
    """SOAP 1.1 writing faults with :func:`write_fault`, and dateTimes in their declared format.

    Spyne 2.14's Soap11 writes every DateTime with ``isoformat()`` (``+00:00``),
    ignoring the type's ``dt_format``; the contract wants UTC written with ``Z``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._to_unicode_handlers[DateTime] = self.datetime_to_unicode

    def fault_to_parent(self, ctx, cls, inst, parent, ns, *args, **kwargs):
        write_fault(parent, to_contract(inst))
