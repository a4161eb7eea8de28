"""The three ways in, as Spyne protocols: SOAP 1.1, SOAP 1.2 and JSON over HTTP.

Spyne decodes requests and encodes answers with them; faults are written by
``faults``, never by Spyne.
"""

from __future__ import annotations

from spyne import DateTime
from spyne.protocol.json import JsonDocument
from spyne.protocol.soap import Soap11, Soap12


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
    """SOAP 1.1, document/literal, dateTimes in UTC with ``Z``."""


class ContractSoap12(_UtcDateTimes, Soap12):
    """SOAP 1.2, document/literal, dateTimes in UTC with ``Z``."""


class ContractJson(JsonDocument):
    """JSON out (the ``/json`` endpoint)."""
