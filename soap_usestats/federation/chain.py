"""The chain of services a forwarded call went through, carried in an HTTP header.

A service that forwards a call to a peer appends its own public URL to the
chain it received. A service that finds itself in the chain, or a chain longer
than :data:`MAX_HOPS`, refuses the call at once: it would loop.
"""

from __future__ import annotations

from ..exceptions import RemoteFailure
from ..wwwroots import same

#: The HTTP header of the chain: the public URLs of the services passed, comma-separated.
HEADER = "X-UseStats-Via"
#: The WSGI environ key of the header.
ENVIRON_KEY = "HTTP_" + HEADER.upper().replace("-", "_")
MAX_HOPS = 4


def parse(value: str | None) -> tuple[str, ...]:
    """The services of a received header, in order."""
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())


def refuse_loop(chain: tuple[str, ...], me: str) -> None:
    """Refuse a call that has passed through this service already, or too many."""
    if len(chain) > MAX_HOPS or any(same(me, service) for service in chain):
        raise RemoteFailure("forwarding loop: the call has already passed through this service"
                            if len(chain) <= MAX_HOPS else
                            f"forwarding loop: the call has passed through more than {MAX_HOPS} "
                            "services")


def forwarded(chain: tuple[str, ...], me: str) -> str:
    """The header value of a call this service forwards."""
    return ", ".join((*chain, me))
