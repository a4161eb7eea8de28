"""Moodle web service tokens, accepted when Moodle would accept them.

The rules of ``webservice::authenticate_user()`` (``webservice/lib.php``), in
its order, for the permanent tokens (``tokentype`` 0) Moodle's SOAP server
takes. Read only: unlike Moodle, the check neither records the token's last
access nor deletes an expired token.

A refused token gets the client one generic answer; the operator's log says
which rule refused it, naming the token by a fingerprint, never in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Mapping
from ipaddress import IPv4Address, IPv6Address

from sqlalchemy import Row
from sqlalchemy.engine import Connection

from . import access
from .exceptions import AuthenticationFailed
from .queries import Queries

logger = logging.getLogger(__name__)

TOKEN_PERMANENT = 0
#: ``external_tokens.token`` is char(128): nothing longer can match.
MAX_TOKEN_LENGTH = 128
#: The site settings the check reads.
CONFIG = ("enablewebservices", "sessiontimeout", *access.CONFIG)
#: Moodle's default ``sessiontimeout``, in seconds.
SESSION_TIMEOUT = 8 * 3600


class _Refused(Exception):
    """Why a token is refused: for the operator's log only."""


def check_token(conn: Connection, queries: Queries, token: str, client_ip: str, now: int) -> int:
    """The id of the Moodle user a web service token acts for; raises AuthenticationFailed."""
    try:
        return _owner(conn, queries, token, client_ip, now)
    except _Refused as refusal:
        logger.info("web service token %s from %s refused: %s",
                    fingerprint(token), client_ip, refusal)
        raise AuthenticationFailed("invalid token") from None


def fingerprint(token: str) -> str:
    """A short digest telling tokens apart in logs without revealing them."""
    return hashlib.sha256(_bytes(token)).hexdigest()[:12]


def _owner(conn: Connection, queries: Queries, token: str, client_ip: str, now: int) -> int:
    config = queries.config(conn, CONFIG)
    if not _set(config.get("enablewebservices")):
        raise _Refused("web services are disabled")
    rows = []
    if token and len(token) <= MAX_TOKEN_LENGTH:
        rows = [row for row in queries.tokens(conn, token, TOKEN_PERMANENT)
                if _same(row.token, token)]
    if not rows:
        raise _Refused("no such token")
    row = rows[0]
    rows = [other for other in rows if other.id == row.id]
    if row.validuntil and row.validuntil < now:
        raise _Refused(f"token {row.id} has expired")
    if _set(row.iprestriction) and not address_in_subnet(client_ip, row.iprestriction):
        raise _Refused(f"token {row.id} is restricted to other addresses")
    if row.ownerid is None or row.deleted != 0:
        raise _Refused(f"the owner of token {row.id} is deleted or missing")
    if row.sid and not _session_alive(rows, config, now):
        raise _Refused(f"the session of token {row.id} has ended")
    if row.serviceid is None or row.enabled != 1:
        raise _Refused(f"the service of token {row.id} is disabled or missing")
    if _set(row.requiredcapability):
        permissions = access.Permissions.load(conn, queries, row.userid,
                                              [row.requiredcapability], config=config)
        if not permissions.in_system(row.requiredcapability):
            raise _Refused(f"the owner of token {row.id} lacks {row.requiredcapability}")
    if row.restrictedusers:
        _check_authorisation(rows, client_ip, now)
    if not row.confirmed:
        raise _Refused(f"the owner of token {row.id} is not confirmed")
    if row.suspended:
        raise _Refused(f"the owner of token {row.id} is suspended")
    if row.auth == "nologin":
        raise _Refused(f"the owner of token {row.id} may not log in (auth nologin)")
    return row.userid


def _session_alive(rows: list[Row], config: Mapping[str, str], now: int) -> bool:
    """Moodle's ``session_exists()``, as far as the sessions table tells."""
    session = next((row for row in rows if _same(row.session_sid, row.sid)), None)
    if session is None:
        return False
    userid = session.session_userid
    if not userid or access.is_guest(userid, config.get("siteguest")):
        return True   # Moodle does not time out guest and not-logged-in sessions
    try:
        timeout = int(config.get("sessiontimeout") or SESSION_TIMEOUT)
    except ValueError:
        timeout = SESSION_TIMEOUT
    return session.session_timemodified >= now - timeout


def _check_authorisation(rows: list[Row], client_ip: str, now: int) -> None:
    """A restricted service: the owner must be an authorised user of it, still valid, from here."""
    row = next((row for row in rows if row.authorisationid is not None), None)
    if row is None:
        raise _Refused(f"the owner of token {rows[0].id} is not an authorised user of its service")
    if row.authorisation_validuntil and row.authorisation_validuntil < now:
        raise _Refused(f"the authorisation of the owner of token {row.id} has expired")
    if _set(row.authorisation_iprestriction) and not address_in_subnet(
            client_ip, row.authorisation_iprestriction):
        raise _Refused(f"the authorisation of the owner of token {row.id} is for other addresses")


def _set(value: str | int | None) -> bool:
    """PHP's truth of a setting or column: not null, 0, "0" or ""."""
    return value not in (None, 0, "0", "")


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _same(stored: str | None, given: str | None) -> bool:
    """Exact, constant-time equality (databases may compare loosely)."""
    return stored is not None and given is not None and hmac.compare_digest(
        _bytes(stored), _bytes(given))


# Client addresses, as Moodle's address_in_subnet() matches them

Address = IPv4Address | IPv6Address
_PHP_TRIM = " \t\n\r\0\x0b"
_IPV4 = re.compile(r"([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})")
_OCTET = re.compile(r"[0-9]{1,3}")
_GROUP = re.compile(r"[0-9a-fA-F]{1,4}")


def address_in_subnet(address: str, subnets: str) -> bool:
    """Whether ``address`` is in one of the comma-separated ``subnets``, as Moodle reads them.

    An entry is an address (``10.1.2.3``, ``2001:db8::1``), a CIDR block
    (``10.1.2.0/24``, ``2001:db8::/32``), a range of the last group
    (``10.1.2.4-20``, ``2001:db8::1-ff``) or whole leading groups (``10.1``
    or ``10.1.``, ``2001:db8``). Whitespace around entries is ignored, and an
    IPv4-mapped IPv6 address also matches as its IPv4 address.
    """
    parsed = _address(address)
    if parsed is None:
        return False
    candidates = [parsed]
    if isinstance(parsed, IPv6Address) and parsed.ipv4_mapped:
        candidates.append(parsed.ipv4_mapped)
    entries = [entry.strip(_PHP_TRIM) for entry in subnets.split(",")]
    return any(_matches(candidate, entry) for candidate in candidates
               if candidate != IPv4Address(0) for entry in entries if entry)


def _address(text: str) -> Address | None:
    """An address as Moodle's ``cleanremoteaddr()`` reads it (IPv4 octets may be 0-padded)."""
    text = text.strip(_PHP_TRIM)
    if ":" in text:
        if "%" in text:
            return None
        try:
            return IPv6Address(text)
        except ValueError:
            return None
    match = _IPV4.fullmatch(text)
    if match is None or any(int(octet) > 255 for octet in match.groups()):
        return None
    return IPv4Address(bytes(int(octet) for octet in match.groups()))


def _php_int(text: str) -> int | None:
    """The integer ``text`` spells exactly (Moodle's ``is_number()``), or None."""
    try:
        value = int(text)
    except ValueError:
        return None
    return value if str(value) == text else None


def _same_prefix(address: Address, network: Address, bits: int) -> bool:
    shift = network.max_prefixlen - bits
    return int(address) >> shift == int(network) >> shift


def _matches(address: Address, entry: str) -> bool:
    if "/" in entry:
        return _matches_cidr(address, *entry.split("/")[:2])
    if "-" in entry:
        return _matches_range(address, entry)
    if ":" in entry:
        return _matches_ipv6_groups(address, entry)
    return _matches_ipv4_groups(address, entry)


def _matches_cidr(address: Address, network_text: str, mask_text: str) -> bool:
    network, mask = _address(network_text), _php_int(mask_text.strip(_PHP_TRIM))
    if network is None or mask is None or network.version != address.version:
        return False
    return 0 <= mask <= network.max_prefixlen and _same_prefix(address, network, mask)


def _matches_range(address: Address, entry: str) -> bool:
    parts = entry.split("-")
    if len(parts) != 2:
        return False
    start, last = _address(parts[0]), parts[1].strip(_PHP_TRIM)
    if start is None or start.version != address.version:
        return False
    if ":" in entry:
        if not (isinstance(start, IPv6Address) and _GROUP.fullmatch(last)):
            return False
        return (_same_prefix(address, start, 112)
                and int(start) & 0xFFFF <= int(address) & 0xFFFF <= int(last, 16))
    if not _OCTET.fullmatch(last) or int(last) > 255:
        return False
    return int(start) <= int(address) <= (int(start) & ~0xFF | int(last))


def _matches_ipv6_groups(address: Address, entry: str) -> bool:
    if not isinstance(address, IPv6Address) or entry.endswith(":"):
        return False   # Moodle never matches an entry ending with ':'
    exact = _address(entry)
    if exact is not None:
        return exact == address
    groups = entry.split(":")
    if len(groups) > 8 or not all(_GROUP.fullmatch(group) for group in groups):
        return False
    network = int("".join(group.zfill(4) for group in groups), 16) << 16 * (8 - len(groups))
    return _same_prefix(address, IPv6Address(network), 16 * len(groups))


def _matches_ipv4_groups(address: Address, entry: str) -> bool:
    if not isinstance(address, IPv4Address):
        return False
    octets = entry.split(".")
    if octets[-1] == "":
        octets.pop()
    if len(octets) == 4:
        return _address(".".join(octets)) == address
    if len(octets) > 4 or not all(_OCTET.fullmatch(o) and int(o) <= 255 for o in octets):
        return False
    network = IPv4Address(bytes(int(octet) for octet in octets) + bytes(4 - len(octets)))
    return _same_prefix(address, network, 8 * len(octets))
