"""Client addresses: the one a request comes from, and Moodle's subnet rules.

:func:`client_address` reads the peer, or the ``X-Forwarded-For`` of proxies the
deployment trusts. :func:`address_in_subnet` is Moodle's ``address_in_subnet()``,
which token and service IP restrictions use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

Network = IPv4Network | IPv6Network
#: What an address can be written with: IPv4, IPv6 and a zone; at most this long.
_ADDRESS_TEXT = re.compile(r"[0-9A-Za-z.:%_-]{0,64}")


def client_address(environ: dict, trusted_proxies: Iterable[Network] = ()) -> str:
    """The client's address: the peer, or what trusted proxies say in X-Forwarded-For.

    The forwarded list is read from the right, skipping proxies we trust; the
    first address that is not one of them is the client. What a proxy forwarded
    that no address could be is given quoted, escaped and cut (JSON), fit for a log.
    """
    address = environ.get("REMOTE_ADDR", "")
    hops = [h.strip() for h in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    while hops and _within(address, trusted_proxies):
        address = hops.pop()
    return address if _ADDRESS_TEXT.fullmatch(address) else json.dumps(address[:64])


def _within(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


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
