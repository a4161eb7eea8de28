"""The three ways in, as Spyne protocols: SOAP 1.1, SOAP 1.2 and JSON over HTTP.

Spyne decodes requests and encodes answers with them; faults are written by
``faults``, never by Spyne. A request is first held to its operation's declared
parameters (``parameters``): Spyne's own ("soft") validation, lenient, stays
behind it as a safety net, and Spyne reads the values it lets through as XML
Schema reads them.
"""

from __future__ import annotations

from spyne import DateTime
from spyne.protocol.http import HttpRpc
from spyne.protocol.json import JsonDocument
from spyne.protocol.soap import Soap11, Soap12

from . import parameters

#: Query names of the JSON endpoint that are no parameters: the credential that
#: ``auth.authenticator`` reads.
CREDENTIALS = ("wstoken",)


class _UtcDateTimes:
    """Write dateTimes in their declared format.

    Spyne 2.14's SOAP protocols write every DateTime with ``isoformat()``
    (``+00:00``), ignoring the type's ``dt_format``; the contract wants UTC
    written with ``Z``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._to_unicode_handlers[DateTime] = self.datetime_to_unicode


class _XsdBooleans:
    """Read a boolean as XML Schema does, once ``parameters`` let it through.

    Spyne reads ``" true "`` as false (and over HTTP, ``on`` and ``checked`` as true).
    """

    def boolean_from_bytes(self, cls, string):
        return string.strip(parameters.XML_SPACE) in ("true", "1")


class _CheckedXml(_XsdBooleans):
    """SOAP requests held to the operation's parameters; the Header is not a parameter.

    ``xsi:type`` is not read: no parameter of the service is polymorphic, and Spyne
    would decode a value as any type it names.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, parse_xsi_type=False, **kwargs)

    def deserialize(self, ctx, message):
        if message is self.REQUEST and ctx.descriptor is not None:
            parameters.check_element(ctx.descriptor.in_message, ctx.in_body_doc)
        super().deserialize(ctx, message)


class ContractSoap11(_CheckedXml, _UtcDateTimes, Soap11):
    """SOAP 1.1, document/literal, dateTimes in UTC with ``Z``."""


class ContractSoap12(_CheckedXml, _UtcDateTimes, Soap12):
    """SOAP 1.2, document/literal, dateTimes in UTC with ``Z``."""


class ContractHttp(_XsdBooleans, HttpRpc):
    """Parameters as query parameters (the ``/json`` endpoint), held to the operation's."""

    def deserialize(self, ctx, message):
        if message is self.REQUEST and ctx.descriptor is not None:
            parameters.check_query(ctx.descriptor.in_message, ctx.in_body_doc, CREDENTIALS)
        super().deserialize(ctx, message)


class ContractJson(JsonDocument):
    """JSON out (the ``/json`` endpoint)."""
