"""One protocol's operations, driven through Spyne for one request at a time.

The edge hands over a request already read, checked and, for SOAP, parsed.
Spyne matches the operation (:meth:`Endpoint.match`); once the edge has
authenticated the caller, it validates and decodes the parameters
(:meth:`Endpoint.decode`), runs the operation and encodes the answer
(:meth:`Endpoint.run`). Any error is raised to the edge as it was met (an
operation's own error unwrapped), for ``faults.to_contract`` to answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree
from spyne import Application, MethodContext
from spyne.protocol import ProtocolBase
from spyne.server.wsgi import WsgiApplication, WsgiMethodContext

from .service import Call, OperationError


@dataclass(frozen=True)
class Answer:
    """An operation's encoded answer."""

    body: bytes
    content_type: str


class Endpoint:
    """Spyne's server for one protocol, without its HTTP handling: the edge does that."""

    def __init__(self, app: Application) -> None:
        self.app = app
        self._server = WsgiApplication(app)

    def match(self, environ: dict, envelope: etree._Element | None = None) -> MethodContext:
        """The operation a request names: in the parsed SOAP ``envelope``, or else in the
        path of ``environ`` (JSON)."""
        protocol = self.app.in_protocol
        ctx = WsgiMethodContext(self._server, environ, self.app.out_protocol.mime_type)
        if envelope is None:
            protocol.create_in_document(ctx)
        else:
            ctx.in_document = (envelope, {})
        protocol.decompose_incoming_envelope(ctx, ProtocolBase.REQUEST)
        return protocol.generate_method_contexts(ctx)[0]

    def decode(self, ctx: MethodContext) -> None:
        """Validate and decode the operation's parameters (from the envelope or the query)."""
        self._server.get_in_object(ctx)
        _raise(ctx.in_error)

    def run(self, ctx: MethodContext, call: Call) -> Answer:
        """Run a decoded operation for ``call`` and encode its answer."""
        ctx.udc = call
        self._server.get_out_object(ctx)
        _raise(ctx.out_error)
        self._server.get_out_string(ctx)
        return Answer(b"".join(ctx.out_string), self.app.out_protocol.mime_type)


def _raise(error: BaseException | None) -> None:
    if error is not None:
        raise error.error if isinstance(error, OperationError) else error
