"""Whom an answer is for: the Moodle user behind the caller, or the one it asserts.

A token acts for its owner, once the site accepts it; a client credential for
its configured Moodle user, or for the ``callinguser`` it asserts when it is
trusted. From anyone else ``callinguser`` must name the authenticated user or be
absent, whoever else it names: existing or not, the refusal is the same.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from ..auth.caller import Caller, CallingUser
from ..exceptions import Forbidden
from ..moodle.queries import Queries, compared
from ..moodle.siteconfig import SiteConfig
from ..wwwroots import same


def acting_user(conn: Connection, queries: Queries, config: SiteConfig, caller: Caller,
                callinguser: CallingUser | None, token_owner: int | None) -> int:
    """The id of the Moodle user the answer is for; ``token_owner`` is the owner of the
    caller's token, which the site accepted."""
    asserted = ((callinguser.username if callinguser else None) or "").strip()
    if asserted:
        host = _calling_host(conn, queries, config, callinguser.remoteuserhostroot)
        if caller.trusted:
            return _user_id(conn, queries, asserted, host, host != config.localhost)
    if token_owner is not None:
        acting = token_owner
    elif caller.username:
        acting = _user_id(conn, queries, caller.username, config.localhost)
    else:
        raise Forbidden("this credential acts for no Moodle user: configure its user, "
                        "or mark it trusted and send callinguser")
    if asserted and not _names(conn, queries, acting, asserted, host):
        raise Forbidden("callinguser must name the authenticated user; "
                        "only a trusted client may assert another")
    return acting


def _names(conn: Connection, queries: Queries, userid: int, username: str, host: int) -> bool:
    """Whether ``username`` of ``host`` is user ``userid``: compared with that user alone,
    so that an untrusted caller learns nothing of other users."""
    user = queries.users(conn, [userid]).get(userid)
    return (user is not None and user.mnethostid == host
            and user.username == compared("username", username))


def _calling_host(conn: Connection, queries: Queries, config: SiteConfig, root: str | None) -> int:
    """The MNET host of ``callinguser``: this site, or a peer named by its wwwroot."""
    if not (root or "").strip() or same(root, queries.wwwroot(conn, config.localhost)):
        return config.localhost
    hosts = queries.mnet_host_ids(conn, root.strip().rstrip("/"))
    if len(hosts) != 1:
        raise Forbidden(f"callinguser's host {root.strip()!r} is not an MNET peer of this site")
    return hosts[0]


def _user_id(conn: Connection, queries: Queries, username: str, host: int,
             remote: bool = False) -> int:
    """The id of ``username`` of ``host``; a ``remote`` host's user is its MNET twin here."""
    users = queries.find_users(conn, "username", username, host)
    if len(users) != 1:
        raise Forbidden(f"callinguser {username!r} has no MNET account on this site" if remote
                        else f"callinguser {username!r} is not a user of this site")
    return users[0].id
