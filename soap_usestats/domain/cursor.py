"""The cursor of GetUsersStats: where a page ended, bound to the query that gave it.

A cursor is ``base64url(mac || payload)``: ``payload`` is compact JSON of the
digest of the query's parameters (all but ``cursor`` and ``pagesize``, which
may change between pages), the last user id given and the window's end
actually used (so that a query with ``timeto`` absent keeps the ``now`` of its
first page); ``mac`` is its HMAC-SHA256 under the deployment's key. A cursor
from other parameters, or forged or garbled, is ``Client.InvalidParameter``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..exceptions import InvalidParameter

_MAC_BYTES = 32
#: What :func:`encode` writes: base64url without padding (the decoder would drop anything else).
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_REFUSED = "cursor is not a NEXTCURSOR this service gave for these parameters"


def key_of(secret_key: str | None, siteidentifier: str) -> bytes:
    """The key cursors are signed with: the deployment's secret key, else one derived from
    the site's ``siteidentifier``, which every host reading the same Moodle database shares."""
    if secret_key:
        return hashlib.sha256(b"soap_usestats cursor\0" + secret_key.encode()).digest()
    return hashlib.sha256(b"soap_usestats cursor of site\0" + siteidentifier.encode()).digest()


def digest(parameters: Mapping[str, object]) -> str:
    """A digest of the query's parameters, as canonical JSON."""
    text = json.dumps(parameters, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Position:
    """Where the next page starts: after user ``after``, in the window ending at ``end``."""

    after: int
    end: int


def encode(key: bytes, query: str, position: Position) -> str:
    payload = json.dumps({"q": query, "a": position.after, "e": position.end},
                         separators=(",", ":")).encode()
    mac = hmac.new(key, payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac + payload).rstrip(b"=").decode()


def decode(key: bytes, query: str, cursor: str) -> Position:
    """The position a cursor holds; refused unless this key signed it for ``query``."""
    text = cursor.strip()
    if not _BASE64URL.fullmatch(text):
        raise InvalidParameter("cursor holds characters outside base64url (A-Z, a-z, 0-9, - and _)")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error:
        raise InvalidParameter(_REFUSED) from None
    mac, payload = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
    if not hmac.compare_digest(mac, hmac.new(key, payload, hashlib.sha256).digest()):
        raise InvalidParameter(_REFUSED)
    fields = json.loads(payload)
    if fields.get("q") != query:
        raise InvalidParameter(_REFUSED)
    return Position(int(fields["a"]), int(fields["e"]))
