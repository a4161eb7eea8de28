"""A Spyne no-op operation over SOAP 1.1: what the framework alone costs per call.

``gunicorn benchmarks.noop_app:application``; bench_light.py compares the service with it.
"""

from soap_usestats import spyne_compat  # noqa: F401 - before Spyne: its six on Python 3.12+
from spyne import Application, Service, Unicode, rpc
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication


class NoOp(Service):
    @rpc(Unicode, _returns=Unicode)
    def Echo(ctx, text):
        return text


application = WsgiApplication(Application(
    [NoOp], tns="urn:soap-usestats:noop", in_protocol=Soap11(validator="soft"), out_protocol=Soap11()))
