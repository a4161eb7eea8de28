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

from sqlalchemy import Row
from sqlalchemy.engine import Connection

from ..access import capabilities
from ..exceptions import AuthenticationFailed
from ..moodle.queries import Queries
from ..moodle.siteconfig import SiteConfig
from .addresses import address_in_subnet

logger = logging.getLogger(__name__)

TOKEN_PERMANENT = 0
#: ``external_tokens.token`` is char(128): nothing longer can match.
MAX_TOKEN_LENGTH = 128
#: Moodle's default ``sessiontimeout``, in seconds.
SESSION_TIMEOUT = 8 * 3600


class _Refused(Exception):
    """Why a token is refused: for the operator's log only."""


def check_token(conn: Connection, queries: Queries, config: SiteConfig, token: str,
                client_ip: str, now: int) -> int:
    """The id of the Moodle user a web service token acts for; raises AuthenticationFailed."""
    try:
        return _owner(conn, queries, config, token, client_ip, now)
    except _Refused as refusal:
        logger.info("web service token %s from %s refused: %s",
                    fingerprint(token), client_ip, refusal)
        raise AuthenticationFailed("invalid token") from None


def fingerprint(token: str) -> str:
    """A short digest telling tokens apart in logs without revealing them."""
    return hashlib.sha256(_bytes(token)).hexdigest()[:12]


def _owner(conn: Connection, queries: Queries, config: SiteConfig, token: str, client_ip: str,
           now: int) -> int:
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
        permissions = capabilities.Permissions.load(conn, queries, config, row.userid,
                                                    [row.requiredcapability])
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


def _session_alive(rows: list[Row], config: SiteConfig, now: int) -> bool:
    """Moodle's ``session_exists()``, as far as the sessions table tells."""
    session = next((row for row in rows if _same(row.session_sid, row.sid)), None)
    if session is None:
        return False
    userid = session.session_userid
    if not userid or capabilities.is_guest(userid, config.get("siteguest")):
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
